import numpy as np
import pytest
import torch

from fashionclf.evaluation.saliency import integrated_gradients

from .helpers import tiny_cnn


@pytest.fixture(scope="module")
def model(small):
    X, y, _, _ = small
    return tiny_cnn(max_epochs=2).fit(X, y)


def _logits(model, images):
    with torch.no_grad():
        return model.net_.module_.eval()(torch.as_tensor(images)).numpy()


def test_attributions_add_up_to_the_logit_change(model, small):
    """Completeness: sum of attributions = logit(image) - logit(black image)."""
    _, _, Xt, _ = small
    X = Xt[:4]
    attr = integrated_gradients(model, X, steps=256)
    assert attr.shape == (4, 28, 28) and attr.dtype == np.float32
    images = X.reshape(4, 1, 28, 28).astype(np.float32) / 255
    cols = model.predict_proba(X).argmax(axis=1)
    rows = np.arange(4)
    change = _logits(model, images)[rows, cols] - _logits(model, 0 * images)[rows, cols]
    np.testing.assert_allclose(attr.sum(axis=(1, 2)), change, rtol=0.02, atol=0.05)


def test_black_pixels_get_no_attribution(model, small):
    _, _, Xt, _ = small
    attr = integrated_gradients(model, Xt[:3], steps=4)
    assert np.all(attr[Xt[:3].reshape(3, 28, 28) == 0] == 0)


def test_target_chooses_the_class(model, small):
    _, _, Xt, yt = small
    own = integrated_gradients(model, Xt[:2], target=yt[:2], steps=8)
    other = integrated_gradients(model, Xt[:2], target=(yt[:2] + 1) % 10, steps=8)
    assert not np.allclose(own, other)


def test_bad_arguments_say_what_was_expected(model, small):
    _, _, Xt, _ = small
    with pytest.raises(ValueError, match=r"target holds labels \[42\]"):
        integrated_gradients(model, Xt[:1], target=[42])
    with pytest.raises(ValueError, match=r"expected \(2,\), one label per image"):
        integrated_gradients(model, Xt[:2], target=[1])
    with pytest.raises(ValueError, match="steps=0"):
        integrated_gradients(model, Xt[:1], steps=0)


def test_unfitted_model_is_refused():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        integrated_gradients(tiny_cnn(), np.zeros((1, 784)))
