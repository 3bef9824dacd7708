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
        match=r"preset='huge'; expected one of \['best', 'default', 'fast', 'reference', 'small', "
        r"'tiny'\]",
    ):
        make_cnn("huge")


# FashionCNNClassifier() as it was before the time-to-accuracy work: the
# yardstick of every speed ratio. This literal must never change.
_REFERENCE_AS_OF_ISSUE_11 = {
    "architecture": "cnn",
    "augment": True,
    "batch_size": 256,
    "callbacks": None,  # added later; None trains as before
    "init_from": None,  # added later (transfer); None trains as before
    "freeze": None,
    "checkpoint_path": None,
    "class_weight": None,  # added later; None trains as before
    "convs_per_block": 2,
    "dense_units": 128,
    "device": "auto",
    "dropout": 0.25,
    "early_stopping": False,
    "image_shape": (1, 28, 28),
    "label_smoothing": 0.0,
    "lr": 0.003,
    "lr_schedule": "onecycle",
    "max_epochs": 10,
    "module": None,  # added later: the built-in network named by architecture
    "module_params": None,  # added later
    "n_blocks": 2,
    "n_iter_no_change": 5,
    "num_threads": None,
    "optimizer": "adamw",
    "pixel_range": (0, 255),
    "precision": "float32",
    "predict_batch_size": None,
    "quantize": False,
    "random_state": None,
    "standardize": True,
    "tta": False,
    "validation_fraction": 0.0,
    "verbose": 0,
    "weight_decay": 0.01,
    "width": 32,
}


def test_reference_preset_is_frozen():
    assert make_cnn("reference").get_params() == _REFERENCE_AS_OF_ISSUE_11


def test_tiny_keeps_the_reference_network():
    params = make_cnn("tiny").get_params()
    assert params["architecture"] == "cnn" and params["n_blocks"] == 2
    assert params["dropout"] == 0.25


def test_best_is_the_default_network_trained_longer_with_tta():
    params = make_cnn("best").get_params()
    default = make_cnn("default").get_params()
    changed = {k: v for k, v in params.items() if default[k] != v}
    assert changed == {"max_epochs": 40, "lr": 6e-3, "tta": True}


def test_default_is_the_compact_network():
    assert make_cnn("default").architecture == "compact"


def test_fast_is_the_compact_network_cut_down():
    params = make_cnn("fast").get_params()
    default = make_cnn("default").get_params()
    changed = {k: v for k, v in params.items() if default[k] != v}
    assert changed == {
        "convs_per_block": 1,
        "augment": False,
        "max_epochs": 5,
        "lr": 6e-3,
    }
