"""Baseline registry: every model fits the flat 0-255 pixel input."""

import pytest

from fashionclf.baselines import BASELINES, make_baseline


@pytest.mark.filterwarnings(
    "ignore:lbfgs failed to converge"
)  # logreg stops early by design
@pytest.mark.parametrize("name", sorted(BASELINES))
def test_each_baseline_fits_pixels(name, small):
    X, y, Xt, yt = small
    est = make_baseline(name, random_state=0, n_jobs=1)
    if name == "svm_rbf":
        est.set_params(nystroem__n_components=100)
    if name == "hist_gb":
        est.set_params(histgradientboostingclassifier__max_iter=5)
    acc = est.fit(X, y).score(Xt, yt)
    assert acc >= (0.09 if name == "dummy" else 0.5)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"name='svm'; expected one of \['dummy', 'hist_gb', 'knn', 'logreg', 'random_forest', 'svm_rbf'\]",
    ):
        make_baseline("svm")
