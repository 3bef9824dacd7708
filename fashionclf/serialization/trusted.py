"""The types of fashionclf that a skops file of its models names.

``skops.io.load`` builds only the types it is told to trust. A skops file of
a fitted :class:`~fashionclf.FashionCNNClassifier`, or of a ``Pipeline`` of
it and the pixel transformers, names these and, beside them, only types
that skops trusts by default (scikit-learn estimators, numpy arrays, Python
containers and scalars): the fitted network is held as numpy arrays and
plain data, never as torch objects. Trusting them lets skops create these
classes and set their state; the only code that runs is fashionclf's own
``__setstate__``, which rebuilds the network from those arrays with the
same checks as a model file (:func:`~fashionclf.serialization.tree_from_plain`).
A user network (``module``) or callbacks are named by the file too, and are
not in this list: trust them only if you trust their code.
"""

__all__ = ["SKOPS_TRUSTED_TYPES"]

#: Pass as ``skops.io.load(path, trusted=SKOPS_TRUSTED_TYPES)`` or
#: ``mlflow.sklearn.log_model(..., skops_trusted_types=SKOPS_TRUSTED_TYPES)``.
SKOPS_TRUSTED_TYPES = [
    "fashionclf.classifier.FashionCNNClassifier",
    "fashionclf.preprocessing.ImageFileReader",
    "fashionclf.preprocessing.ImageFlattener",
    "fashionclf.preprocessing.ImageReshaper",
    "fashionclf.preprocessing.PixelScaler",
]
