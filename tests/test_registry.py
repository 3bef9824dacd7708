"""One vocabulary of model names for the Python API, benchmark and tune."""

import pytest
from sklearn.base import clone

from fashionclf import FashionCNNClassifier
from fashionclf.cli import build_parser
from fashionclf.evaluation import resolve_models
from fashionclf.presets import PRESETS
from fashionclf.registry import MODEL_NAMES, is_cnn, is_stochastic, make_model


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_name_builds_an_unfitted_estimator(name):
    model = make_model(name, random_state=3)
    clone(model)  # a proper scikit-learn estimator
    if is_cnn(name):
        preset = PRESETS[name.removeprefix("cnn-")]
        assert isinstance(model, FashionCNNClassifier)
        assert model.random_state == 3
        assert all(model.get_params()[k] == v for k, v in preset.items())


def test_params_reach_the_model():
    assert make_model("cnn-fast", max_epochs=2).max_epochs == 2
    logreg = make_model("logreg", logisticregression__C=0.25)
    assert logreg.get_params()["logisticregression__C"] == 0.25
    assert make_model("random_forest", n_jobs=2)[-1].n_jobs == 2


def test_stochastic_models():
    assert is_stochastic("cnn-fast") and is_stochastic("random_forest")
    assert not is_stochastic("logreg") and not is_stochastic("dummy")


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"received model name 'cnn'; .*'cnn-fast'"):
        make_model("cnn")


def test_benchmark_and_tune_take_the_same_names():
    assert resolve_models(MODEL_NAMES) == list(MODEL_NAMES)
    tune = build_parser()._subparsers._group_actions[0].choices["tune"]
    (model_action,) = [a for a in tune._actions if a.dest == "model"]
    assert list(model_action.choices) == list(MODEL_NAMES)


def test_old_cli_flag_names_still_parse():
    parser = build_parser()
    args = parser.parse_args(["benchmark", "--seeds", "0", "1", "--one-seed", "knn"])
    assert args.random_state == [0, 1] and args.run_once == ["knn"]
    assert parser.parse_args(["tune", "--seed", "4"]).random_state == 4
