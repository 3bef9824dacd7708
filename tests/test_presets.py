import pytest

from fashionclf import FashionCNNClassifier
from fashionclf.presets import PRESETS, make_cnn


def test_default_preset_is_the_default_estimator():
    assert make_cnn("default").get_params() == FashionCNNClassifier().get_params()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_have_valid_params(name):
    clf = make_cnn(name, random_state=1)
    clf._check_params()
    assert clf.random_state == 1


def test_unknown_preset():
    with pytest.raises(
        ValueError,
        match=r"preset='huge'; expected one of \['best', 'default', 'fast', 'seed', 'tiny'\]",
    ):
        make_cnn("huge")
