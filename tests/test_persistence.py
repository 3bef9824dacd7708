"""A fitted model travels: pickles, copies, model files, device moves, skops, MLflow.

A fitted model keeps what it learned until the next ``fit``: ``set_params``
after fit never breaks a round trip (the network is rebuilt from what it
was fitted with, kept in its record), and the parameters read at predict
time are checked at once.
"""

import copy
import pickle

import numpy as np
import pytest
import skorch
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline

from fashionclf import (
    SKOPS_TRUSTED_TYPES,
    FashionCNNClassifier,
    ImageReshaper,
    PixelScaler,
)
from fashionclf.classifier import PREDICT_PARAMS
from fashionclf.networks import SmallCNN

from .helpers import tiny_cnn


def _other_values(tmp_path, source):
    """A value other than tiny_cnn's for every parameter."""
    return {
        "architecture": "compact",
        "module": SmallCNN,
        "module_params": {"dropout": 0.5},
        "n_blocks": 1,
        "width": 4,
        "convs_per_block": 1,
        "dense_units": 8,
        "dropout": 0.0,
        "optimizer": "sgd",
        "lr": 0.5,
        "weight_decay": 0.0,
        "lr_schedule": "constant",
        "batch_size": 17,
        "max_epochs": 3,
        "augment": False,
        "label_smoothing": 0.2,
        "validation_fraction": 0.3,
        "early_stopping": True,
        "n_iter_no_change": 2,
        "standardize": False,
        "pixel_range": (0, 510),
        "image_shape": (1, -1, 28),
        "tta": True,
        "precision": "bfloat16",
        "predict_batch_size": 7,
        "quantize": True,
        "device": "cpu",
        "checkpoint_path": str(tmp_path / "ckpt"),
        "num_threads": 2,
        "random_state": 5,
        "verbose": 1,
        "class_weight": "balanced",
        "callbacks": [("timer2", skorch.callbacks.EpochTimer())],
        "init_from": FrozenEstimator(source),
        "freeze": "features",
    }


def _proba_or_error(model, X):
    try:
        return model.predict_proba(X)
    except ValueError as exc:  # quantize=True on a float model: refused alike
        return type(exc).__name__


def _moved(model):
    """The model rebuilt on its device, as a device move rebuilds it."""
    model._fitted = model._fitted.moved(model.get_params(), model.device_)
    return model


def _saved_and_loaded(model, tmp_path):
    model.save(tmp_path / "m.safetensors")
    loaded = FashionCNNClassifier.load(tmp_path / "m.safetensors")
    # a file never chooses the threads of the machine that loads it
    return loaded.set_params(num_threads=model.num_threads)


@pytest.fixture(scope="module")
def fitted_pair(small):
    X, y, _, _ = small
    source = tiny_cnn().fit(X[:200], y[:200])
    return source, pickle.dumps(source)


def test_every_parameter_is_listed(fitted_pair, tmp_path):
    source, _ = fitted_pair
    assert set(_other_values(tmp_path, source)) == set(source.get_params(deep=False))


@pytest.mark.parametrize(
    "param",
    sorted(FashionCNNClassifier().get_params(deep=False)),
)
def test_set_params_after_fit_keeps_every_round_trip(
    param, fitted_pair, small, tmp_path
):
    """fit, set_params(param=other), then pickle, deepcopy, save/load, move."""
    source, data = fitted_pair
    Xt = small[2][:30]
    model = pickle.loads(data)
    before = model.predict_proba(Xt)
    model.set_params(**{param: _other_values(tmp_path, source)[param]})
    expected = _proba_or_error(model, Xt)
    if param not in (*PREDICT_PARAMS, "image_shape"):
        # not read at predict time: the fitted model is as it was
        np.testing.assert_array_equal(expected, before)
    trips = {
        "pickle": lambda m: pickle.loads(pickle.dumps(m)),
        "deepcopy": copy.deepcopy,
        "move": _moved,
    }
    if param != "callbacks":  # callbacks are objects, never stored in files
        trips["save/load"] = lambda m: _saved_and_loaded(m, tmp_path)
    for name, trip in trips.items():
        got = _proba_or_error(trip(copy.deepcopy(model)), Xt)
        np.testing.assert_array_equal(got, expected, err_msg=f"{param}: {name}")


def test_a_file_says_what_the_network_was_fitted_with(fitted_pair, tmp_path):
    source, data = fitted_pair
    model = pickle.loads(data).set_params(width=64, n_blocks=1, optimizer="sgd")
    loaded = _saved_and_loaded(model, tmp_path)
    assert loaded.get_params()["width"] == source.width == 8
    assert (loaded.n_blocks, loaded.optimizer) == (2, "adamw")


def test_the_next_fit_uses_the_new_parameters(fitted_pair, small):
    _, data = fitted_pair
    X, y, _, _ = small
    model = pickle.loads(data).set_params(width=4)
    model.fit(X[:100], y[:100])
    assert model.net_.module_.net.features[0].out_channels == 4
    back = pickle.loads(pickle.dumps(model))
    assert back.net_.module_.net.features[0].out_channels == 4


@pytest.mark.parametrize(
    "param, value, match",
    [
        ("pixel_range", (1, 0), r"pixel_range=\(1, 0\); expected None or a \(low"),
        ("tta", "yes", r"The 'tta' parameter of FashionCNNClassifier"),
        ("batch_size", 0, r"The 'batch_size' parameter of FashionCNNClassifier"),
        ("precision", "float16", r"precision='float16'.*CUDA"),
        ("precision", "half", r"The 'precision' parameter of FashionCNNClassifier"),
        ("device", "tpu", r"device='tpu'; expected 'auto', 'cpu'"),
    ],
)
def test_predict_time_parameters_are_checked_at_set_params(
    fitted_pair, small, param, value, match
):
    _, data = fitted_pair
    model = pickle.loads(data)
    before = model.get_params()[param]
    with pytest.raises(ValueError, match=match) as info:
        model.set_params(**{"device": "cpu", param: value})
    assert "\n" not in str(info.value)  # one line
    assert model.get_params()[param] == before  # refused: the model is as it was
    assert model.predict(small[2][:3]).shape == (3,)


def test_an_unfitted_model_takes_any_value_until_fit():
    # scikit-learn's convention: validation at fit (clone and searches set freely)
    model = FashionCNNClassifier().set_params(pixel_range=(1, 0), tta="yes")
    assert model.pixel_range == (1, 0)


# ------------------------------------------------------------------- skops
@pytest.fixture
def skops_io():
    return pytest.importorskip(
        "skops.io", reason="skops is not installed (pip install 'fashionclf[skops]')"
    )


def _skops_round_trip(skops_io, model, tmp_path):
    path = tmp_path / "model.skops"
    skops_io.dump(model, path)
    untrusted = skops_io.get_untrusted_types(file=path)
    assert set(untrusted) <= set(SKOPS_TRUSTED_TYPES), untrusted
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException):
        skops_io.load(path)  # nothing of fashionclf is trusted by default
    return untrusted, skops_io.load(path, trusted=SKOPS_TRUSTED_TYPES)


def test_skops_saves_a_fitted_model_as_plain_data(
    skops_io, fitted_pair, small, tmp_path
):
    source, _ = fitted_pair
    Xt = small[2][:50]
    untrusted, back = _skops_round_trip(skops_io, source, tmp_path)
    assert untrusted == ["fashionclf.classifier.FashionCNNClassifier"]
    np.testing.assert_array_equal(back.predict_proba(Xt), source.predict_proba(Xt))


def test_skops_saves_an_int8_model(skops_io, fitted_pair, small, tmp_path):
    source, _ = fitted_pair
    X, _, Xt, _ = small
    int8 = source.quantize_int8(X[:200])
    _, back = _skops_round_trip(skops_io, int8, tmp_path)
    assert back.int8_network_ is not None
    np.testing.assert_array_equal(
        back.predict_proba(Xt[:50]), int8.predict_proba(Xt[:50])
    )


def test_skops_saves_a_pipeline(skops_io, small, tmp_path):
    X, y, Xt, _ = small
    pipe = make_pipeline(
        PixelScaler(), ImageReshaper(), tiny_cnn(pixel_range=None)
    ).fit(X[:200], y[:200])
    untrusted, back = _skops_round_trip(skops_io, pipe, tmp_path)
    assert untrusted == [
        "fashionclf.classifier.FashionCNNClassifier",
        "fashionclf.preprocessing.ImageReshaper",
        "fashionclf.preprocessing.PixelScaler",
    ]
    np.testing.assert_array_equal(back.predict_proba(Xt), pipe.predict_proba(Xt))


def test_the_pickled_state_holds_no_torch_object(fitted_pair):
    import torch

    source, _ = fitted_pair
    found = []

    def walk(value, at):
        if isinstance(value, torch.Tensor | torch.nn.Module | torch.dtype):
            found.append(at)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{at}/{k}")
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{at}/{i}")

    walk(source.__getstate__(), "")
    assert found == []


# ------------------------------------------------------------------ MLflow
def MLFLOW_WARNINGS(test):
    """Deprecations inside MLflow 3.18 itself, which this project cannot fix."""
    # its database store uses a loader strategy SQLAlchemy 2.1 deprecates
    test = pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
    )(test)
    # its input-example writer compares a pandas 3 Index with a range
    return pytest.mark.filterwarnings("ignore:Operation with range is deprecated")(test)


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    mlflow = pytest.importorskip(
        "mlflow",
        reason="mlflow-skinny is not installed (pip install 'fashionclf[mlflow]')",
    )
    monkeypatch.chdir(tmp_path)  # the run's artifacts go under ./mlruns
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield mlflow
    mlflow.set_tracking_uri(None)


def _pixel_frame(X):
    import pandas as pd

    return pd.DataFrame(X, columns=[f"pixel{i}" for i in range(1, X.shape[1] + 1)])


@pytest.mark.slow
@MLFLOW_WARNINGS
@pytest.mark.parametrize("serialization", ["skops", "cloudpickle"])
def test_mlflow_logs_and_serves_the_model(
    fitted_pair, small, mlflow_store, serialization
):
    source, _ = fitted_pair
    mlflow = mlflow_store
    frame = _pixel_frame(small[2][:50])
    options = (
        {"skops_trusted_types": SKOPS_TRUSTED_TYPES}
        if serialization == "skops"
        else {"serialization_format": "cloudpickle"}
    )
    with pytest.warns(UserWarning, match="integer column"):  # MLflow's own hint
        info = mlflow.sklearn.log_model(
            source, name="model", input_example=frame.iloc[:5], **options
        )
    assert info.signature.inputs.input_names()[:2] == ["pixel1", "pixel2"]
    served = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(served.predict(frame), source.predict(small[2][:50]))
    back = mlflow.sklearn.load_model(info.model_uri)
    np.testing.assert_array_equal(
        back.predict_proba(frame), source.predict_proba(frame)
    )


@pytest.mark.slow
@MLFLOW_WARNINGS
def test_mlflow_defaults_name_the_type_to_trust(fitted_pair, mlflow_store):
    # MLflow refuses every type outside scikit-learn unless told to trust it;
    # its message names ours (before, skops failed on torch tensors and MLflow
    # blamed "custom functions or classes not defined at the top level")
    source, _ = fitted_pair
    with pytest.raises(Exception, match=r"untrusted types.*FashionCNNClassifier"):
        mlflow_store.sklearn.log_model(source, name="model")
