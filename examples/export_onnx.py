"""Export a model to ONNX and run it with ONNX Runtime
=====================================================

The exported file takes the same 0-255 pixel rows as ``predict_proba``
(scaling, standardization and softmax are inside) and carries the class
names, pixel range and image shape as metadata. Needs
``pip install "fashionclf[onnx]"``.

Run it::

    python examples/export_onnx.py
"""

import json

import numpy as np
import onnx
import onnxruntime as ort

from fashionclf import FashionCNNClassifier, load_sample
from fashionclf.evaluation.plotting import plot_samples, save

X_test, y_test = load_sample(subset="test", return_X_y=True)  # uint8 rows

model = FashionCNNClassifier.pretrained()
path = model.export("fashion.onnx", input_dtype="uint8")  # takes the rows as they are
meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
names = json.loads(meta["class_names"])
print("metadata:", {k: meta[k] for k in ("pixel_range", "image_shape", "input_dtype")})

# %%
# A process without fashionclf needs only onnxruntime and the file.
session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
(proba,) = session.run(None, {"pixels": X_test})
print(f"ONNX Runtime accuracy: {(proba.argmax(1) == y_test).mean():.4f}")
diff = np.abs(proba - model.predict_proba(X_test)).max()
print(f"max |ONNX Runtime - predict_proba|: {diff:.1e}")

# %%
# The first test images with the class ONNX Runtime gives them:
save(
    plot_samples(X_test, proba.argmax(1), n_rows=2, n_cols=8, class_names=names),
    "onnx_predictions.png",
)
