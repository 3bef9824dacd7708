"""Property-based tests: parsers and transformers on random input.

Only documented exceptions ever escape, and valid input round-trips exactly.
"""

import gzip

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fashionclf import (
    DataFormatError,
    ImageFlattener,
    ImageReshaper,
    PixelScaler,
    read_idx,
    read_kaggle_csv,
)
from fashionclf.datasets.formats import KAGGLE_COLUMNS, write_idx
from fashionclf.serialization import read_payload, write_payload

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
images = arrays(np.uint8, st.tuples(st.integers(0, 6), st.just(784)))


@SETTINGS
@given(data=st.binary(max_size=4000), gz=st.booleans())
def test_idx_random_bytes(tmp_path, data, gz):
    path = tmp_path / ("f.gz" if gz else "f")
    path.write_bytes(gzip.compress(data) if gz else data)
    try:
        out = read_idx(path)
    except DataFormatError:
        return
    assert out.dtype == np.uint8 and out.ndim in (1, 2)


@SETTINGS
@given(data=st.binary(min_size=1, max_size=4000))
def test_idx_random_bytes_after_valid_header(tmp_path, data):
    """Valid magic, random rest: exercises the shape/length checks."""
    path = tmp_path / "f"
    path.write_bytes(b"\x00\x00\x08\x03" + data)
    try:
        read_idx(path)
    except DataFormatError:
        pass


@SETTINGS
@given(X=images, labels=st.data())
def test_idx_round_trip(tmp_path, X, labels):
    y = np.asarray(
        labels.draw(st.lists(st.integers(0, 9), min_size=len(X), max_size=len(X))),
        dtype=np.uint8,
    )
    write_idx(tmp_path / "i.gz", X)
    write_idx(tmp_path / "l", y)
    np.testing.assert_array_equal(read_idx(tmp_path / "i.gz"), X)
    np.testing.assert_array_equal(read_idx(tmp_path / "l"), y)


@SETTINGS
@given(
    text=st.text(
        alphabet=st.sampled_from(list('0123456789,-.x\n label pixel"\ufeff')),
        max_size=3000,
    )
)
def test_csv_random_text(tmp_path, text):
    path = tmp_path / "f.csv"
    path.write_text(text)
    try:
        X, y = read_kaggle_csv(path)
    except DataFormatError:
        return
    assert X.dtype == np.uint8 and X.shape[1] == 784 and len(X) == len(y)


@pytest.mark.slow
@SETTINGS
@given(X=images, data=st.data(), gz=st.booleans())
def test_csv_round_trip(tmp_path, X, data, gz):
    y = np.asarray(
        data.draw(st.lists(st.integers(0, 9), min_size=len(X), max_size=len(X)))
    )
    frame = pd.DataFrame(np.column_stack([y, X]).astype(int), columns=KAGGLE_COLUMNS)
    path = tmp_path / ("f.csv.gz" if gz else "f.csv")
    frame.to_csv(path, index=False)
    X2, y2 = read_kaggle_csv(path)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


@SETTINGS
@given(
    X=arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.integers(1, 12)),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    )
)
def test_scaler_random_floats(X):
    try:
        out = PixelScaler().fit_transform(X)
    except ValueError as exc:
        assert (
            "NaN" in str(exc)
            or "infinity" in str(exc)
            or "expected values in [0, 255]" in str(exc)
        )
        return
    assert out.dtype == np.float32 and np.all((out >= 0) & (out <= 1))


@SETTINGS
@given(X=images)
def test_reshape_flatten_round_trip(X):
    if len(X) == 0:
        with pytest.raises(ValueError, match="0 sample"):
            ImageReshaper().fit(X)
        return
    imgs = ImageReshaper().fit_transform(X)
    assert imgs.shape == (len(X), 1, 28, 28)
    np.testing.assert_array_equal(ImageFlattener().fit_transform(imgs), X)
    scaled = PixelScaler().fit_transform(X)
    np.testing.assert_array_equal(np.rint(scaled * 255).astype(np.uint8), X)


@SETTINGS
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 40)))
def test_reshaper_any_feature_count(shape):
    X = np.zeros(shape)
    try:
        out = ImageReshaper().fit_transform(X)
    except ValueError as exc:
        assert "expected 784 pixels" in str(exc)
        return
    assert out.shape[1:] == (1, 28, 28)


# ------------------------------------------------------------- model files
@pytest.fixture(scope="module")
def model_payload(tmp_path_factory, sample):

    from fashionclf import save_model

    from .helpers import tiny_cnn

    X, y, _, _ = sample
    path = tmp_path_factory.mktemp("fuzz") / "m.pt"
    save_model(tiny_cnn(width=4).fit(X[:200], y[:200]), path)
    return read_payload(path)


_sizes = st.one_of(
    st.integers(-3, 40),
    st.lists(st.integers(-3, 40), min_size=0, max_size=4),
    st.integers(2**20, 2**40),
    st.just("x"),
    st.none(),
)
_params = st.fixed_dictionaries(
    {},
    optional={
        "n_blocks": _sizes,
        "width": _sizes,
        "convs_per_block": _sizes,
        "dense_units": _sizes,
        "image_shape": _sizes,
        "architecture": st.sampled_from(["cnn", "compact", "small", "other", 3]),
        "dropout": st.floats(allow_nan=True),
        "unknown": st.integers(),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    params=_params,
    image_shape=_sizes,
    shapes=st.dictionaries(
        st.sampled_from(["net.head.1.weight", "net.features.0.weight", "mean", "zz"]),
        st.lists(st.integers(0, 9), max_size=4),
        max_size=3,
    ),
)
def test_model_file_fields_never_escape_as_other_errors(
    tmp_path_factory, model_payload, params, image_shape, shapes
):
    import json

    import torch

    from fashionclf import ModelFileError, load_model

    payload = dict(model_payload)
    payload["params"] = json.dumps({**json.loads(payload["params"]), **params})
    payload["image_shape"] = image_shape
    state = dict(payload["state_dict"])
    state.update({k: torch.zeros(v) for k, v in shapes.items()})
    payload["state_dict"] = state
    path = tmp_path_factory.mktemp("f") / "m.pt"
    write_payload(payload, path)
    try:
        model = load_model(path)
    except ModelFileError:
        return
    assert model.predict(np.zeros((1, 784), np.uint8)).shape == (1,)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 12) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    classes=_json,
    module=st.one_of(
        st.none(),
        st.text(max_size=30),
        st.sampled_from(
            ["tests.helpers:tiny_cnn", "tests.helpers:np.save", "os:system"]
        ),
    ),
    poison=st.sampled_from([None, "nan", "inf", "std0"]),
    n_epochs=st.one_of(st.integers(-2, 10), st.integers(10**5, 10**12), st.text()),
)
def test_model_file_labels_networks_and_values_never_escape(
    tmp_path_factory, model_payload, classes, module, poison, n_epochs
):
    import json

    import torch

    from fashionclf import ModelFileError, load_model

    payload = dict(model_payload)
    payload["classes"] = json.dumps(classes)
    payload["n_epochs"] = n_epochs
    params = json.loads(payload["params"])
    payload["params"] = json.dumps({**params, "module": module})
    state = {k: v.clone() for k, v in payload["state_dict"].items()}
    weight = next(k for k in state if k.endswith(".weight"))
    if poison in ("nan", "inf"):
        state[weight].view(-1)[0] = float(poison)
    elif poison == "std0":
        state["std"] = torch.tensor(0.0)
    payload["state_dict"] = state
    path = tmp_path_factory.mktemp("f") / "m.pt"
    write_payload(payload, path)
    try:
        model = load_model(path, trusted_modules=["tests.helpers"])
    except ModelFileError:
        return
    proba = model.predict_proba(np.zeros((2, 784), np.uint8))
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1)


@SETTINGS
@given(data=st.binary(max_size=3000), name=st.sampled_from(["x.png", "x.jpg", "x"]))
def test_random_bytes_as_an_image(tmp_path, data, name):
    from fashionclf.datasets.images import read_images

    path = tmp_path / name
    path.write_bytes(data)
    try:
        out = read_images([path])
    except DataFormatError:
        return
    assert out.shape == (1, 784) and out.dtype == np.uint8


@SETTINGS
@given(
    width=st.integers(1, 64),
    height=st.integers(1, 64),
    mode=st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I", "CMYK"]),
    fmt=st.sampled_from(["PNG", "JPEG"]),
)
def test_any_mode_and_size_of_png_or_jpeg(tmp_path, width, height, mode, fmt):
    from PIL import Image

    from fashionclf.datasets.images import read_images

    path = tmp_path / f"x.{fmt.lower()}"
    try:
        Image.new(mode, (width, height), color=1).save(path, format=fmt)
    except (OSError, KeyError, ValueError):
        return  # a mode this format cannot store
    # one colour everywhere: no article to find, refused by name
    with pytest.raises(DataFormatError, match=r"x\.\w+: the picture is all background"):
        read_images([path])
    out = read_images([path], method="resize")
    assert out.shape == (1, 784) and out.dtype == np.uint8
