"""Export a model to ONNX and run it with onnxruntime
====================================================

The exported file takes the same 0-255 pixel rows as ``predict_proba``
(scaling, standardization and softmax are inside) and carries the class
names as metadata. Needs ``pip install "fashionclf[onnx]"``.

Run it::

    python examples/export_onnx.py
    FASHIONCLF_SMOKE=1 python examples/export_onnx.py
"""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort

from fashionclf import FashionCNNClassifier, fetch_fashion_mnist, load_sample

SMOKE = os.environ.get("FASHIONCLF_SMOKE") == "1"
if SMOKE:
    X_test, y_test = load_sample(subset="test", return_X_y=True)
else:
    X_test, y_test = fetch_fashion_mnist(subset="test", return_X_y=True)

model = FashionCNNClassifier.pretrained()
path = model.export("fashion.onnx")
names = json.loads(
    {p.key: p.value for p in onnx.load(str(path)).metadata_props}["class_names"]
)

session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
(proba,) = session.run(None, {"pixels": np.asarray(X_test, dtype=np.float32)})
print(f"onnxruntime accuracy: {(proba.argmax(1) == np.asarray(y_test)).mean():.4f}")
diff = np.abs(proba - model.predict_proba(X_test)).max()
print(f"max |onnxruntime - predict_proba|: {diff:.1e}")
print("first three:", [names[k] for k in proba[:3].argmax(1)])
