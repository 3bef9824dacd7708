"""Transfer learning: init_from and freeze (fashionclf/_estimator/transfer.py)."""

import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import cross_val_score
from sklearn.utils._param_validation import InvalidParameterError

from fashionclf import FashionCNNClassifier
from fashionclf._estimator.transfer import head_name, transfer_weights

from .helpers import tiny_cnn


@pytest.fixture(scope="module")
def halves(sample):
    """Classes 0-4 and 5-9 of the bundled sample."""
    X, y, Xt, yt = (np.asarray(a) for a in sample)
    low, low_t = y < 5, yt < 5
    return (X[low], y[low], Xt[low_t], yt[low_t]), (
        X[~low],
        y[~low],
        Xt[~low_t],
        yt[~low_t],
    )


@pytest.fixture(scope="module")
def source(halves):
    """A model of classes 0-4."""
    X, y, _, _ = halves[0]
    return tiny_cnn(max_epochs=2).fit(X[:600], y[:600])


def _features(model):
    head = head_name(model.net_.module_)
    return {
        k: v.clone()
        for k, v in model.net_.module_.state_dict().items()
        if not k.startswith(head + ".")
    }


def test_frozen_features_keep_weights_and_statistics_the_head_learns(halves, source):
    X, y, Xt, yt = halves[1]
    # the head alone learns fast only at a higher rate
    model = tiny_cnn(max_epochs=3, init_from=source, freeze="features", lr=0.1)
    model.fit(X[:300], y[:300])
    assert model.classes_.tolist() == [5, 6, 7, 8, 9]
    before, after = _features(source), _features(model)
    assert before.keys() == after.keys() and before
    assert all(torch.equal(before[k], after[k]) for k in before)  # incl. BN stats
    head = dict(model.net_.module_.named_modules())[head_name(model.net_.module_)]
    assert isinstance(head, torch.nn.Linear) and head.out_features == 5
    # the head trained: better than chance on 5 new classes
    assert model.score(Xt, yt) > 0.4


def test_unfrozen_transfer_starts_from_the_source(halves, source):
    X, y, _, _ = halves[1]
    model = tiny_cnn(init_from=source, lr=1e-9, augment=False)
    model.fit(X[:200], y[:200])
    before, after = _features(source), _features(model)
    weights = [k for k in before if k.endswith("weight")]
    # lr=1e-9: one epoch leaves the copied weights where they were
    assert all(torch.allclose(before[k], after[k], atol=1e-6) for k in weights)
    scratch = tiny_cnn(lr=1e-9, augment=False).fit(X[:200], y[:200])
    assert not torch.allclose(
        before[weights[0]], _features(scratch)[weights[0]], atol=1e-3
    )


def test_the_head_is_kept_when_the_classes_are_the_same(source):
    target = tiny_cnn().fit(*_some(source))
    transfer_weights(
        target.net_.module_,
        _source_of(source),
        keep_head=True,
        owner="FashionCNNClassifier",
    )
    mine, theirs = target.net_.module_.state_dict(), source.net_.module_.state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)


def _some(model):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 784)).astype(np.uint8)
    return X, np.resize(model.classes_, 40)


def _source_of(model):
    from fashionclf._estimator.transfer import load_source

    return load_source(model, FashionCNNClassifier, None, "FashionCNNClassifier")


def test_a_model_file_is_a_source(halves, source, tmp_path):
    source.save(tmp_path / "src.pt")
    X, y, _, _ = halves[1]
    from_file = tiny_cnn(init_from=tmp_path / "src.pt", freeze="features")
    from_model = tiny_cnn(init_from=source, freeze="features")
    a = from_file.fit(X[:200], y[:200]).predict_proba(X[:50])
    b = from_model.fit(X[:200], y[:200]).predict_proba(X[:50])
    np.testing.assert_array_equal(a, b)
    for clf in (from_file, from_model):
        assert clf.init_from is not None  # a parameter, as given


def test_searches_need_a_frozen_estimator_or_a_path(halves, source):
    X, y, _, _ = halves[1]
    frozen = tiny_cnn(init_from=FrozenEstimator(source), freeze="features")
    assert clone(frozen).init_from is frozen.init_from
    scores = cross_val_score(frozen, X[:300], y[:300], cv=2)
    assert scores.shape == (2,)
    with pytest.raises(ValueError, match=r"not fitted.*FrozenEstimator\(model\)"):
        clone(tiny_cnn(init_from=source)).fit(X[:100], y[:100])


def test_transfer_files_store_freeze_not_the_source(halves, source, tmp_path):
    X, y, Xt, _ = halves[1]
    model = tiny_cnn(init_from=source, freeze="features").fit(X[:200], y[:200])
    model.save(tmp_path / "m.pt")
    loaded = FashionCNNClassifier.load(tmp_path / "m.pt")
    assert loaded.init_from is None and loaded.freeze == "features"
    np.testing.assert_array_equal(loaded.predict_proba(Xt), model.predict_proba(Xt))
    before = _features(loaded)
    loaded.partial_fit(X[:200], y[:200])  # still frozen
    after = _features(loaded)
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(width=16), r"tensor '.*' is of shape .*; expected of shape"),
        (dict(n_blocks=3), r"tensor '.*' is absent|tensor '.*' is of shape"),
        (dict(architecture="compact"), r"init_from whose tensor"),
    ],
)
def test_a_source_of_another_network_is_refused(halves, source, params, match):
    X, y, _, _ = halves[1]
    with pytest.raises(ValueError, match=match):
        tiny_cnn(init_from=source, **params).fit(X[:100], y[:100])


def test_bad_transfer_parameters_are_refused(halves, source):
    X, y, _, _ = halves[1]
    with pytest.raises(ValueError, match=r"freeze='features' with init_from=None"):
        tiny_cnn(freeze="features").fit(X[:100], y[:100])
    with pytest.raises(InvalidParameterError, match="freeze"):
        tiny_cnn(init_from=source, freeze="all").fit(X[:100], y[:100])
    with pytest.raises(InvalidParameterError, match="init_from"):
        tiny_cnn(init_from=3).fit(X[:100], y[:100])
    with pytest.raises(TypeError, match=r"init_from=.*expected a fitted"):
        from sklearn.linear_model import LogisticRegression

        tiny_cnn(init_from=LogisticRegression()).fit(X[:100], y[:100])
    with pytest.raises(FileNotFoundError, match=r"no-such\.pt"):
        tiny_cnn(init_from="no-such.pt").fit(X[:100], y[:100])
    with pytest.raises(ValueError, match=r"images of shape \(1, 14, 56\)"):
        tiny_cnn(init_from=source, image_shape=(1, 14, 56)).fit(X[:100], y[:100])


def test_partial_fit_with_new_labels_points_to_init_from(halves, source):
    X, y, _, _ = halves[1]
    fitted = clone(source).fit(*halves[0][:2])
    with pytest.raises(ValueError, match=r"label [5-9].*init_from=model"):
        fitted.partial_fit(X[:100], y[:100])


_NETS = """
import torch
from torch import nn

BUILDS = []


class Small(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        BUILDS.append(torch.empty(1).device.type)
        if torch.empty(1).is_meta:  # as a factory that loads weights would fail
            raise RuntimeError("cannot load weights on the meta device")
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU())
        self.out = nn.Linear(32, n_classes)

    def forward(self, x):
        return self.out(self.body(x))
"""


@pytest.fixture
def user_nets(tmp_path, monkeypatch):
    (tmp_path / "fcl_transfer_nets.py").write_text(_NETS)
    monkeypatch.syspath_prepend(str(tmp_path))
    import fcl_transfer_nets

    yield fcl_transfer_nets
    sys.modules.pop("fcl_transfer_nets", None)


def test_user_networks_transfer_and_load_building_once(halves, user_nets, tmp_path):
    (X0, y0, _, _), (X1, y1, Xt1, _) = halves
    src = FashionCNNClassifier(module=user_nets.Small, max_epochs=1, random_state=0)
    src.fit(X0[:200], y0[:200]).save(tmp_path / "src.pt")
    del user_nets.BUILDS[:]
    loaded = FashionCNNClassifier.load(
        tmp_path / "src.pt", trusted_modules=["fcl_transfer_nets"]
    )
    assert user_nets.BUILDS == ["cpu"]  # once, not on the meta device
    target = FashionCNNClassifier(
        module=user_nets.Small,
        max_epochs=1,
        random_state=0,
        init_from=tmp_path / "src.pt",  # trusted: it is this estimator's module
        freeze="features",
    ).fit(X1[:200], y1[:200])
    assert head_name(target.net_.module_) == "net.out"
    a, b = _features(loaded), _features(target)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert target.predict(Xt1[:5]).shape == (5,)


def test_a_user_network_file_with_other_tensors_is_refused(user_nets, halves, tmp_path):
    from fashionclf import ModelFileError

    from .test_serialization import _rewrite

    X, y, _, _ = halves[0]
    src = FashionCNNClassifier(module=user_nets.Small, max_epochs=1, random_state=0)
    src.fit(X[:100], y[:100]).save(tmp_path / "src.pt")

    def shrink(payload):
        payload["state_dict"]["net.out.weight"] = torch.zeros(5, 3)

    _rewrite(tmp_path / "src.pt", shrink)
    with pytest.raises(ModelFileError, match=r"do not match.*'net.out.weight'"):
        FashionCNNClassifier.load(
            tmp_path / "src.pt", trusted_modules=["fcl_transfer_nets"]
        )
