"""fashionclf._estimator.fitted: the one object that holds a fitted network."""

import numpy as np
import pytest
import torch

from fashionclf._estimator.fitted import FittedNetwork

from .helpers import tiny_cnn


@pytest.fixture(scope="module")
def fitted(small):
    X, y, _, _ = small
    return tiny_cnn(max_epochs=2, quantize=True).fit(X[:300], y[:300])


def test_the_estimator_keeps_one_network_and_its_public_attributes(fitted):
    network = fitted._fitted
    assert isinstance(network, FittedNetwork)
    assert fitted.net_ is network.net and fitted.history_ is network.net.history
    assert fitted.int8_network_ is network.int8 is not None
    private = sorted(k for k in vars(fitted) if k.startswith("_"))
    assert private == ["_fitted"]
    assert not hasattr(tiny_cnn(), "net_")  # unfitted: no attribute, no error


def test_plain_data_rebuilds_the_same_predictions(fitted, small):
    Xt = small[2][:64]
    rows = fitted._rows(Xt)
    data = fitted._fitted.to_data()
    assert set(data) == {"fitted", "net", "history", "int8"}
    rebuilt = FittedNetwork.from_data(data, fitted.get_params(), device="cpu")
    assert rebuilt.placed_for == fitted.device
    for int8 in (False, True):
        kwargs = dict(
            pixel_range=fitted.pixel_range,
            tta=False,
            int8=int8,
            amp_dtype=None,
            batch_size=32,
        )
        np.testing.assert_array_equal(
            rebuilt.predict_proba(rows, **kwargs),
            fitted._fitted.predict_proba(rows, **kwargs),
        )


def test_the_check_sees_the_network_before_its_weights(fitted):
    seen = []

    def check(module):
        seen.append(float(next(module.parameters()).detach().abs().sum()))

    rebuilt = FittedNetwork.from_data(
        fitted._fitted.to_data(), fitted.get_params(), device="cpu", check=check
    )
    trained = float(next(rebuilt.net.module_.parameters()).detach().abs().sum())
    assert len(seen) == 1 and seen[0] != trained  # called on the fresh weights


def test_int8_is_calibrated_on_first_use_and_only_with_images(fitted, small):
    network = FittedNetwork.from_data(
        {**fitted._fitted.to_data(), "int8": None},
        fitted.get_params(),
        device="cpu",
    )
    with pytest.raises(LookupError, match="no calibration images"):
        network.int8_network(32)
    images = torch.from_numpy(small[0][:100].reshape(-1, 1, 28, 28) / 255.0).float()
    network.refresh(images)
    assert network.pending_int8 and network.int8 is None
    int8 = network.int8_network(32)
    assert int8 is network.int8 and not network.pending_int8
    assert network.int8_network(32) is int8  # once


def test_a_move_is_a_rebuilt_copy(fitted):
    moved = fitted._fitted.moved(fitted.get_params(), "cpu")
    assert moved is not fitted._fitted and moved.net is not fitted.net_
    a, b = moved.net.module_.state_dict(), fitted.net_.module_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
