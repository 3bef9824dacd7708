"""The frozen patch-whitening stem (fashionclf/_estimator/whitening.py)."""

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from fashionclf import FashionCNNClassifier
from fashionclf._estimator.whitening import EPS, stem_conv, whitening_filters

from .conftest import tiny_cnn


def _stem(model) -> torch.Tensor:
    return stem_conv(model.net_.module_, "test").weight.detach().clone()


def _images(X) -> torch.Tensor:
    return torch.as_tensor(np.asarray(X) / 255, dtype=torch.float32).reshape(
        -1, 1, 28, 28
    )


@pytest.fixture(scope="module")
def whitened(small):
    X, y, _, _ = small
    return tiny_cnn(stem="whitened", max_epochs=2).fit(X, y)


def test_filters_whiten_the_patches():
    gen = torch.Generator().manual_seed(0)
    # smooth images: neighbouring pixels strongly correlated
    images = torch.nn.functional.avg_pool2d(
        torch.randn(400, 1, 30, 30, generator=gen), 3, stride=1
    )
    conv = torch.nn.Conv2d(1, 8, 3, bias=False)
    filters = whitening_filters(images, conv)
    assert filters.shape == conv.weight.shape
    assert torch.equal(filters[4:], -filters[:4])  # both signs
    patches = torch.nn.functional.unfold(images, 3).transpose(1, 2).reshape(-1, 9)
    patches = patches - patches.mean(0)
    responses = patches @ filters[:4].reshape(4, 9).T
    cov = responses.T @ responses / len(responses)
    values = torch.linalg.eigvalsh(patches.T @ patches / len(patches)).flip(0)[:4]
    # decorrelated, each of variance lambda / (lambda + eps)
    expected = torch.diag(values / (values + EPS))
    assert torch.allclose(cov, expected, atol=1e-3)
    # the raw patches were far from decorrelated
    raw = patches.T @ patches / len(patches)
    assert (raw - torch.diag(torch.diag(raw))).abs().max() > 0.05


def test_the_fitted_stem_holds_the_whitening_filters_and_never_trains(whitened, small):
    X = small[0]
    conv = stem_conv(whitened.net_.module_, "test")
    assert not conv.weight.requires_grad
    state = whitened._state
    expected = whitening_filters((_images(X) - state.mean) / state.std, conv)
    assert torch.allclose(_stem(whitened), expected, atol=1e-5)
    # the other layers trained, the stem's bias (if any) too
    assert all(
        p.requires_grad
        for name, p in whitened.net_.module_.named_parameters()
        if p is not conv.weight
    )


def test_a_learned_stem_trains(small, whitened):
    X, y, _, _ = small
    learned = tiny_cnn(max_epochs=2).fit(X, y)
    assert stem_conv(learned.net_.module_, "test").weight.requires_grad
    init = tiny_cnn(max_epochs=2, lr=1e-12).fit(X, y)
    assert not torch.allclose(_stem(learned), _stem(init), atol=1e-4)
    assert not torch.allclose(_stem(learned), _stem(whitened), atol=1e-2)


def test_the_compact_network_trains_with_a_whitened_stem(small):
    X, y, Xt, yt = small
    model = FashionCNNClassifier(
        stem="whitened", width=8, max_epochs=3, batch_size=64, random_state=0
    ).fit(X, y)
    assert stem_conv(model.net_.module_, "test").out_channels == 4
    assert model.score(Xt, yt) > 0.5


def test_round_trip_keeps_the_stem_frozen(whitened, small, tmp_path):
    X, y, Xt, _ = small
    path = tmp_path / "model.fcnn"
    whitened.save(path)
    loaded = FashionCNNClassifier.load(path)
    assert loaded.get_params()["stem"] == "whitened"
    np.testing.assert_array_equal(loaded.predict_proba(Xt), whitened.predict_proba(Xt))
    stem = _stem(loaded)
    assert not stem_conv(loaded.net_.module_, "test").weight.requires_grad
    loaded.partial_fit(X, y)
    assert torch.equal(_stem(loaded), stem)


def test_transfer_keeps_the_source_stem_frozen(small):
    X, y, _, _ = small
    source = tiny_cnn().fit(X, y)
    model = tiny_cnn(init_from=source, stem="whitened").fit(X, y)
    assert torch.equal(_stem(model), _stem(source))
    assert not stem_conv(model.net_.module_, "test").weight.requires_grad


def test_bad_stem_values_are_refused(small):
    X, y, _, _ = small
    with pytest.raises(InvalidParameterError, match="stem"):
        tiny_cnn(stem="pca").fit(X, y)
    # 32 filters of 1x3x3 patches: at most 18 whitening filters exist
    with pytest.raises(ValueError, match=r"32 filters of 1x3x3.*at most 18"):
        FashionCNNClassifier(architecture="seed", stem="whitened").fit(X, y)
    with pytest.raises(ValueError, match="an even number of filters"):
        tiny_cnn(width=(7, 14), stem="whitened").fit(X, y)


class _NoConv(torch.nn.Module):
    def __init__(self, input_shape, n_classes):
        super().__init__()
        self.linear = torch.nn.Linear(int(np.prod(input_shape)), n_classes)

    def forward(self, x):
        return self.linear(x.flatten(1))


def test_a_network_without_convolution_is_refused(small):
    X, y, _, _ = small
    with pytest.raises(ValueError, match="without a Conv2d"):
        FashionCNNClassifier(module=_NoConv, stem="whitened").fit(X, y)


def test_files_from_before_the_parameter_load_with_a_learned_stem(whitened, tmp_path):
    import json

    from fashionclf.serialization import read_payload, write_payload

    whitened.save(tmp_path / "new.fcnn")
    payload = read_payload(tmp_path / "new.fcnn")
    params = json.loads(payload["params"])
    del params["stem"]
    payload["params"] = json.dumps(params)
    write_payload(payload, tmp_path / "old.fcnn")
    old = FashionCNNClassifier.load(tmp_path / "old.fcnn")
    assert old.get_params()["stem"] == "learned"
    assert stem_conv(old.net_.module_, "test").weight.requires_grad
