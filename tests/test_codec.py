"""The one codec of a trained net's state (files, pickles, checkpoints)."""

import numpy as np
import torch

from fashionclf._estimator.codec import net_state, plain, restore_net_state
from fashionclf._estimator.construction import build_net

from .helpers import tiny_cnn


def test_plain_gives_cpu_tensors_and_python_scalars():
    value = {"a": [np.float32(1.5), (np.int64(2), torch.ones(2, requires_grad=True))]}
    out = plain(value)
    assert type(out["a"][0]) is float and type(out["a"][1][0]) is int
    assert isinstance(out["a"][1], tuple)
    assert not out["a"][1][1].requires_grad


def test_round_trip_into_a_fresh_net_continues_identically(small):
    X, y, Xt, _ = small
    clf = tiny_cnn(max_epochs=3).partial_fit(X[:300], y[:300])
    state = net_state(clf.net_, history=True)
    assert set(state) == {"module", "optimizer", "lr_total_steps", "lr_step", "history"}
    fresh = build_net(clf.get_params(), clf._fitted.record, device="cpu")
    restore_net_state(fresh, state, state["history"])
    for a, b in zip(
        fresh.module_.state_dict().values(),
        clf.net_.module_.state_dict().values(),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert net_state(fresh)["lr_step"] == state["lr_step"] > 0
    assert len(fresh.history) == 1
    np.testing.assert_array_equal(
        fresh.predict_proba(clf._to_images(Xt, reset=False)),
        clf.net_.predict_proba(clf._to_images(Xt, reset=False)),
    )
