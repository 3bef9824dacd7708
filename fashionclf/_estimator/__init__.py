"""The private machinery of :class:`~fashionclf.FashionCNNClassifier`.

The estimator (``fashionclf/classifier.py``) is one class; the work it
delegates lives here, as objects and functions:

- :mod:`.construction`: builds the skorch net from parameters plus a
  :class:`~.construction.FitRecord` (fit, load and unpickling alike);
- :mod:`.training`: the skorch ``Net``, batches, augmentation, callbacks;
- :mod:`.schedule`: the learning-rate schedule (length, shape, callback);
- :mod:`.fitted`: the fitted network the estimator holds (net, fitted
  state, float and int8 copies, plain data);
- :mod:`.codec`: the one codec of a trained net's state, used by model
  files and checkpoints (:mod:`fashionclf.serialization`), pickles and
  device moves;
- :mod:`.inference`: folded float predictions in batches;
- :mod:`.quantization`: int8 inference;
- :mod:`.devices`: ``device='auto'``;
- :mod:`.transfer`: ``init_from`` and ``freeze``;
- :mod:`.summary`: ``summary()``'s layer table;
- :mod:`.locks`: forward passes in threads against torch's process-wide state.
"""
