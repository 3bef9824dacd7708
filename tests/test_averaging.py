"""Lookahead weight averaging (``lookahead=True``) and alternating flips."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset

from fashionclf import FashionCNNClassifier
from fashionclf._estimator.averaging import Lookahead
from fashionclf._estimator.training import TensorBatches

from .conftest import tiny_cnn
from .test_faults import _interrupt_at


def _fake_net(module, epochs_done=0, steps_per_epoch=0):
    batch = {"train_loss": 1.0}
    rows = [{"batches": [batch] * steps_per_epoch} for _ in range(epochs_done)]
    return SimpleNamespace(module_=module, history=[*rows, {"batches": []}])


def test_every_fifth_step_moves_the_weights_to_the_rising_average():
    module = torch.nn.Linear(2, 1)
    start = module.weight.detach().clone()
    net = _fake_net(module, epochs_done=1, steps_per_epoch=5)  # 5 steps done
    cb = Lookahead(total_steps=20, every=5)
    cb.on_epoch_begin(net)
    assert cb.step_ == 5
    with torch.no_grad():
        module.weight.add_(1.0)
    for _ in range(4):
        cb.on_batch_end(net, training=True)
        cb.on_batch_end(net, training=False)  # validation batches do not count
    assert torch.equal(module.weight, start + 1)  # not yet
    cb.on_batch_end(net, training=True)  # step 10 of 20
    decay = 0.95**5 * (10 / 20) ** 3
    torch.testing.assert_close(module.weight, start + (1 - decay))


def test_an_epoch_ends_with_the_average_in_the_network():
    module = torch.nn.Linear(2, 1)
    start = module.weight.detach().clone()
    net = _fake_net(module)
    cb = Lookahead(total_steps=4, every=5)
    cb.on_epoch_begin(net)
    with torch.no_grad():
        module.weight.add_(1.0)
    for _ in range(3):
        cb.on_batch_end(net, training=True)
    cb.on_epoch_end(net)
    decay = 0.95**5 * (3 / 4) ** 3
    torch.testing.assert_close(module.weight, start + (1 - decay))
    assert cb.average_ == []  # no copy of the weights stays behind


def _images(n):
    X = torch.zeros(n, 1, 4, 4)
    X[:, :, :, 0] = 1.0  # a bright left column: flipped, it is on the right
    return X


def test_alternating_flips_show_every_image_both_ways_in_two_epochs():
    n = 64
    net = SimpleNamespace(history=[], seed=5)
    masks = []
    for epoch in (1, 2, 3):
        net.history = [{}] * epoch
        masks.append(_mask(net, n))
    assert masks[0].any() and not masks[0].all()
    assert bool((masks[0] ^ masks[1]).all())  # each image flipped in one of two
    assert torch.equal(masks[0], masks[2])  # a fixed half, not a new draw

    batches = TensorBatches(Dataset(_images(n), torch.zeros(n)), batch_size=16)
    batches.flip, batches.flip_mask = "alternate", lambda n, device: masks[0]
    X = torch.cat([xb for xb, _ in batches])
    assert torch.equal(X[:, 0, 0, -1] == 1, masks[0])


def _mask(net, n):
    from fashionclf._estimator.training import Net

    return Net._alternate_flips(net, n, torch.device("cpu"))


def test_alternate_flips_need_the_net_s_mask():
    batches = TensorBatches(Dataset(_images(4), torch.zeros(4)), 2, flip="alternate")
    with pytest.raises(RuntimeError, match="flip='alternate' needs flip_mask"):
        next(iter(batches))


@pytest.mark.parametrize(
    "params", [{"lookahead": True}, {"augment": "alternate"}], ids=str
)
def test_the_levers_train_otherwise_and_resume_exactly(
    small, monkeypatch, tmp_path, params
):
    X, y, Xt, _ = small
    base = dict(max_epochs=3, random_state=3)
    plain = tiny_cnn(**base).fit(X, y).predict_proba(Xt)
    reference = tiny_cnn(**base, **params).fit(X, y)
    assert not np.array_equal(reference.predict_proba(Xt), plain)
    assert reference.score(Xt, small[3]) > 0.3  # it learns (chance: 0.1)

    ckpt = tmp_path / "run.ckpt"
    _interrupt_at(monkeypatch, epoch=3, batch=2)
    with pytest.warns(UserWarning, match="interrupted during epoch 3"):
        tiny_cnn(checkpoint_path=str(ckpt), **base, **params).fit(X, y)
    monkeypatch.undo()
    resumed = tiny_cnn(checkpoint_path=str(ckpt), **base, **params).fit(X, y)
    np.testing.assert_array_equal(
        resumed.predict_proba(Xt), reference.predict_proba(Xt)
    )

    reference.save(tmp_path / "m.pt")
    loaded = FashionCNNClassifier.load(tmp_path / "m.pt")
    assert {k: loaded.get_params()[k] for k in params} == params
    np.testing.assert_array_equal(loaded.predict_proba(Xt), reference.predict_proba(Xt))


def test_partial_fit_with_lookahead_equals_fit(small):
    X, y, Xt, _ = small
    whole = tiny_cnn(max_epochs=2, lookahead=True, random_state=1).fit(X, y)
    steps = tiny_cnn(max_epochs=2, lookahead=True, random_state=1)
    for _ in range(2):
        steps.partial_fit(X, y, classes=np.arange(10))
    np.testing.assert_array_equal(steps.predict_proba(Xt), whole.predict_proba(Xt))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"lookahead": "yes"},
            r"'lookahead' parameter .* must be an instance of 'bool'",
        ),
        ({"augment": "sometimes"}, r"'augment' parameter .*\{'alternate'\}"),
    ],
)
def test_bad_lever_values_are_refused(small, params, match):
    X, y, _, _ = small
    with pytest.raises(ValueError, match=match):
        tiny_cnn(**params).fit(X[:50], y[:50])
