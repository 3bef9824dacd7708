"""Models out of the library: ONNX and torch.export (fashionclf/export.py)."""

import itertools
import json

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from fashionclf import FashionCNNClassifier
from fashionclf.export import PixelsToProba, relu_before_max_pool

from .helpers import tiny_cnn

onnx = pytest.importorskip("onnx", reason="the 'onnx' extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the 'onnx' extra is not installed")


@pytest.fixture(scope="module")
def models(small):
    X, y, _, _ = small
    return {
        "cnn": tiny_cnn().fit(X, y),
        # float32, as the exported files are (precision='auto' would predict
        # in bf16 where the CPU has it, equal only to bf16 rounding)
        "compact+tta": FashionCNNClassifier(
            max_epochs=1, width=8, tta=True, random_state=0, precision="float32"
        ).fit(X, y),
    }


@pytest.mark.parametrize("name", ["cnn", "compact+tta"])
def test_onnx_file_gives_the_estimators_probabilities(models, small, tmp_path, name):
    model, Xt = models[name], np.asarray(small[2])
    path = model.export(tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"pixels": Xt.astype(np.float32)})
    expected = model.predict_proba(Xt)
    diff = float(np.abs(got - expected).max())
    print(f"{name}: onnxruntime vs predict_proba, max abs difference {diff:.2e}")
    assert diff < 1e-5
    assert [i.name for i in session.get_inputs()] == ["pixels"]
    assert session.get_inputs()[0].shape[0] != 200  # any batch size
    (one,) = session.run(None, {"pixels": Xt[:1].astype(np.float32)})
    np.testing.assert_allclose(one, expected[:1], atol=1e-5)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["classes"]) == model.classes_.tolist()
    assert json.loads(meta["class_names"])[:2] == ["T-shirt/top", "Trouser"]


def test_string_labels_travel_as_metadata(small, tmp_path):
    X, y, _, _ = small
    names = np.array(["a", "b"])[(np.asarray(y) >= 5).astype(int)]
    model = tiny_cnn().fit(X, names)
    path = model.export(tmp_path / "m.onnx", format="onnx")
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["classes"]) == ["a", "b"]
    assert "class_names" not in meta


def test_program_and_module_take_raw_pixels(models, small, tmp_path):
    model, Xt = models["compact+tta"], np.asarray(small[2])
    expected = model.predict_proba(Xt)
    rows = torch.tensor(Xt, dtype=torch.float32)
    module = model.inference_module()
    assert isinstance(module, PixelsToProba) and not module.training
    with torch.no_grad():
        np.testing.assert_allclose(module(rows).numpy(), expected, atol=1e-5)
    path = model.export(tmp_path / "m.pt2")
    program = torch.export.load(path)
    np.testing.assert_allclose(program.module()(rows).numpy(), expected, atol=1e-5)
    # the state dict holds the preprocessing too
    state = module.state_dict()
    assert float(state["span"]) == 255.0 and "network.mean" in state


def test_scaled_input_models_export_the_identity_scale(small, tmp_path):
    X, y, Xt, _ = small
    model = tiny_cnn(pixel_range=None).fit(np.asarray(X) / 255.0, y)
    scaled = np.asarray(Xt) / 255.0
    with torch.no_grad():
        got = model.inference_module()(torch.tensor(scaled, dtype=torch.float32))
    np.testing.assert_allclose(got.numpy(), model.predict_proba(scaled), atol=1e-5)


def _ops(path):
    return [node.op_type for node in onnx.load(str(path)).graph.node]


def _run(path, rows):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"pixels": np.asarray(rows, dtype=np.float32)})[0]


def test_int8_onnx_file_predicts_as_the_float_model(sample, tmp_path):
    # the shipped model: Conv -> MaxPool -> BN -> ReLU blocks, the order whose
    # ReLUs ONNX Runtime's quantizer dropped (46% accuracy) before the swap
    X, _, Xt, yt = sample
    model = FashionCNNClassifier.pretrained()
    path = model.export(tmp_path / "int8.onnx", int8_calibration=X[:512])
    ops = _ops(path)
    assert "QLinearConv" in ops and "Relu" not in ops  # every ReLU fused
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert "int8" in meta["quantization"] and "512 rows" in meta["quantization"]
    assert json.loads(meta["classes"]) == list(range(10))
    got = _run(path, Xt[:500]).argmax(1)
    expected = model.predict(Xt[:500])
    agree = float((got == expected).mean())
    print(
        f"int8 ONNX vs float predict: {100 * agree:.1f}% agreement, accuracy "
        f"{100 * (got == yt[:500]).mean():.1f}% vs {100 * (expected == yt[:500]).mean():.1f}%"
    )
    assert agree >= 0.97


def test_int8_export_of_a_tta_model_runs(models, small, tmp_path):
    X, _, Xt, _ = small
    model = models["compact+tta"]
    path = model.export(tmp_path / "int8.onnx", int8_calibration=X)
    got = _run(path, np.asarray(Xt))
    assert got.shape == (len(Xt), len(model.classes_))
    np.testing.assert_allclose(got.sum(1), 1, atol=1e-5)
    diff = float(np.abs(got - model.predict_proba(Xt)).max())
    print(f"compact+tta int8 vs float: max abs probability difference {diff:.3f}")
    assert diff < 0.25


def test_relu_before_max_pool_is_the_same_function(models, small, tmp_path):
    model, Xt = models["compact+tta"], np.asarray(small[2])
    path = model.export(tmp_path / "m.onnx")
    before = _ops(path)
    assert ("MaxPool", "Relu") in set(itertools.pairwise(before))
    swapped = tmp_path / "swapped.onnx"
    onnx.save_model(relu_before_max_pool(onnx.load(str(path))), swapped)
    after = _ops(swapped)
    assert sorted(after) == sorted(before)
    assert ("MaxPool", "Relu") not in set(itertools.pairwise(after))
    np.testing.assert_allclose(_run(swapped, Xt), _run(path, Xt), atol=1e-6)


def test_bad_exports_say_what_is_wrong(models, tmp_path, monkeypatch):
    with pytest.raises(NotFittedError):
        tiny_cnn().export(tmp_path / "m.onnx")
    model = models["cnn"]
    with pytest.raises(ValueError, match=r"suffix of \['.onnx', '.pt2'\]"):
        model.export(tmp_path / "m.bin")
    with pytest.raises(ValueError, match=r"format='tflite'"):
        model.export(tmp_path / "m.onnx", format="tflite")
    X = np.zeros((4, 784), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"int8_calibration with format='program'"):
        model.export(tmp_path / "m.pt2", int8_calibration=X)
    with pytest.raises(ValueError, match="784"):
        model.export(tmp_path / "m.onnx", int8_calibration=X[:, :100])
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxscript" else real(name, *a),
    )
    with pytest.raises(ImportError, match=r"fashionclf\[onnx\]"):
        model.export(tmp_path / "m.onnx")
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real(name, *a),
    )
    model.export(tmp_path / "float.onnx")  # onnxruntime only runs the file
    with pytest.raises(ImportError, match=r"int8 ONNX export needs onnxruntime"):
        model.export(tmp_path / "m.onnx", int8_calibration=X)
    assert not (tmp_path / "m.onnx").exists()


def test_a_uint8_onnx_file_takes_the_loaders_rows(sample, tmp_path):
    """What fetch_fashion_mnist and read_images return goes straight in."""
    X, _, Xt, _ = sample
    model = FashionCNNClassifier.pretrained()
    expected = model.predict_proba(Xt[:300])
    path = model.export(tmp_path / "u8.onnx", input_dtype="uint8")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(uint8)"
    (got,) = session.run(None, {"pixels": Xt[:300]})  # uint8, as loaded
    np.testing.assert_allclose(got, expected, atol=1e-5)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["pixel_range"]) == [0.0, 255.0]
    assert json.loads(meta["image_shape"]) == [1, 28, 28]
    assert meta["input_dtype"] == "uint8"
    int8 = model.export(
        tmp_path / "q.onnx", input_dtype="uint8", int8_calibration=X[:256]
    )
    session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    (q,) = session.run(None, {"pixels": Xt[:300]})
    assert (q.argmax(1) == expected.argmax(1)).mean() >= 0.97
    float_file = model.export(tmp_path / "f.onnx")  # the default stays float32
    meta = {p.key: p.value for p in onnx.load(str(float_file)).metadata_props}
    assert meta["input_dtype"] == "float32" and json.loads(meta["pixel_range"]) == [
        0.0,
        255.0,
    ]


def test_uint8_input_needs_a_pixel_range_uint8_can_hold(small, tmp_path):
    X, y, _, _ = small
    model = tiny_cnn(pixel_range=(0, 1000)).fit(np.asarray(X, float) * 1000 / 255, y)
    with pytest.raises(
        ValueError, match=r"pixel_range is \(0, 1000\); expected a pixel_range within"
    ):
        model.export(tmp_path / "m.onnx", input_dtype="uint8")
    with pytest.raises(ValueError, match=r"input_dtype='int16'"):
        model.export(tmp_path / "m.onnx", input_dtype="int16")
