"""Float inference: batch norm folded on a copy, same outputs, bounded batches."""

import numpy as np
import pytest
import torch
from torch import nn

from fashionclf._estimator.inference import folded_copy, forward_batches
from fashionclf.export import PixelsToProba
from fashionclf.networks import BlockCNN, CompactCNN, Standardized

from .helpers import tiny_cnn


def _trained_like(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every batch norm non-trivial statistics and affine parameters."""
    torch.manual_seed(seed)
    module.train()
    with torch.no_grad():
        for _ in range(3):
            module(torch.randn(32, 1, 28, 28))
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
    return module.eval()


def _n_bn(module: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in module.modules())


@pytest.mark.parametrize("network", [CompactCNN, BlockCNN])
def test_every_batch_norm_folded_same_outputs(network):
    module = Standardized(_trained_like(network()), 0.3, 0.35).train()
    folded = folded_copy(module)
    assert _n_bn(module) > 0 and _n_bn(folded) == 0
    x = torch.randn(64, 1, 28, 28)
    assert module.training and _n_bn(module) > 0  # the original is untouched
    with torch.no_grad():
        np.testing.assert_allclose(folded(x), module.eval()(x), rtol=1e-4, atol=1e-4)


def test_pooled_batch_norm_with_a_negative_scale_is_not_folded():
    module = _trained_like(CompactCNN())
    pooled_bn = module.features[5]  # stem conv, bn, relu; block conv, pool, *bn*
    assert isinstance(pooled_bn, nn.BatchNorm2d)
    with torch.no_grad():
        pooled_bn.weight[0] = -1.0  # max-pool does not commute with a negative scale
    folded = folded_copy(module)
    assert _n_bn(folded) == 1
    x = torch.randn(16, 1, 28, 28)
    with torch.no_grad():
        np.testing.assert_allclose(folded(x), module(x), rtol=1e-4, atol=1e-4)


class _Attributes(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))


def test_layers_outside_a_sequential_are_used_unfolded_and_never_traced():
    module = _trained_like(_Attributes()).eval()
    calls = module.calls
    folded = folded_copy(module)
    assert folded.calls == module.calls == calls  # folding ran no forward pass
    assert _n_bn(folded) == 1
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        np.testing.assert_allclose(folded(x), module(x), rtol=1e-5, atol=1e-6)


def test_batches_give_the_same_probabilities():
    network = folded_copy(_trained_like(CompactCNN()))
    module = PixelsToProba(network, (1, 28, 28), (0, 255), False, channels_last=True)
    x = torch.rand(100, 784) * 255
    whole = forward_batches(module, x, batch_size=100)
    pieces = forward_batches(module, x, batch_size=7)
    assert whole.shape == (100, 10) and whole.dtype == np.float32
    np.testing.assert_allclose(pieces, whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(whole.sum(1), 1.0, rtol=1e-5)
    bf16 = forward_batches(module, x, batch_size=32, amp_dtype=torch.bfloat16)
    assert np.mean(bf16.argmax(1) == whole.argmax(1)) > 0.9


def test_classifier_predicts_like_the_unfolded_skorch_net(small):
    X, y, Xt, _ = small
    clf = tiny_cnn(max_epochs=2).fit(X, y)
    folded = clf.predict_proba(Xt)
    unfolded = clf.net_.predict_proba(clf._to_images(Xt, reset=False))
    np.testing.assert_allclose(folded, unfolded, rtol=1e-4, atol=1e-5)


def test_precision_is_live_after_fit(small):
    X, y, Xt, _ = small
    clf = tiny_cnn(max_epochs=2).fit(X, y)
    fp32 = clf.predict_proba(Xt)
    bf16 = clf.set_params(precision="bfloat16").predict_proba(Xt)
    assert not np.array_equal(bf16, fp32)  # bf16 rounding shows
    np.testing.assert_allclose(bf16, fp32, atol=0.05)


@pytest.mark.slow
def test_predict_proba_memory_does_not_grow_with_rows(small):
    import tracemalloc

    from fashionclf.classifier import PREDICT_CHUNK

    X, y, Xt, _ = small
    clf = tiny_cnn().fit(X, y)
    big = np.tile(Xt, (12 * PREDICT_CHUNK // len(Xt) + 1, 1))  # ~100,000 rows, uint8
    tracemalloc.start()
    try:
        proba = clf.predict_proba(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert proba.shape == (len(big), 10)
    np.testing.assert_allclose(proba[: len(Xt)], clf.predict_proba(Xt), rtol=1e-6)
    # all rows at once as float32 would be len(big) * 784 * 4 bytes (~310 MB)
    assert peak < len(big) * 784 * 4 / 3


def test_threads_predicting_at_once_agree_with_serial_calls(small):
    from concurrent.futures import ThreadPoolExecutor

    X, y, Xt, _ = small
    clf = tiny_cnn(max_epochs=2).fit(X, y)
    serial = [clf.predict_proba(Xt[i::4]) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda i: clf.predict_proba(Xt[i % 4 :: 4]), range(8)))
    for i, got in enumerate(parallel):
        np.testing.assert_array_equal(got, serial[i % 4])


def test_predictions_int8_export_and_the_learning_curve_share_one_module(
    small, monkeypatch
):
    # one path from pixels to probabilities: every consumer runs PixelsToProba
    from fashionclf.evaluation import HeldOutAccuracy

    X, y, Xt, yt = small
    seen = []
    forward = PixelsToProba.forward

    def counted(self, pixels):
        seen.append(type(self.network).__name__)
        return forward(self, pixels)

    monkeypatch.setattr(PixelsToProba, "forward", counted)
    curve = HeldOutAccuracy(Xt[:100], yt[:100])
    clf = tiny_cnn(callbacks=[("curve", curve)]).fit(X[:300], y[:300])
    assert seen and "test_acc" in clf.history_[-1]  # the learning curve
    seen.clear()
    proba = clf.predict_proba(Xt[:50])
    assert seen  # predict_proba
    seen.clear()
    module = clf.inference_module()
    with torch.no_grad():
        exported = module(torch.as_tensor(Xt[:50], dtype=torch.float32))
    assert seen  # what export() writes
    np.testing.assert_allclose(exported.numpy(), proba, rtol=1e-4, atol=1e-5)
    seen.clear()
    clf.quantize_int8(X[:300]).predict_proba(Xt[:50])
    assert seen  # the int8 graph inside the same module
