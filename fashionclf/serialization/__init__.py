"""Files of fitted models, in one package: container, model file, checkpoints.

- :mod:`.container`: the safetensors container (a tree of tensors and plain
  data, read without unpickling);
- :mod:`.modelfile`: the weights-only model file that
  :meth:`FashionCNNClassifier.save <fashionclf.FashionCNNClassifier.save>`
  writes and ``load`` reads, and every check of its contents;
- :mod:`.checkpoints`: the per-epoch checkpoints of a fit
  (``checkpoint_path``);
- :mod:`.trusted`: the types a skops file of a model names
  (``SKOPS_TRUSTED_TYPES``).

What they hold is one codec of a trained net
(:mod:`fashionclf._estimator.codec`), which pickles and device moves use too;
pickles and skops files hold it as plain data (:func:`tree_to_plain`).
"""

from .container import tree_from_plain, tree_to_plain
from .modelfile import (
    FILE_BOUNDS,
    check_int8_graph,
    check_int8_numbers,
    check_tensors,
    read_model_file,
    read_payload,
    saved_bytes,
    size_beyond_bounds,
    write_model_file,
    write_payload,
)
from .trusted import SKOPS_TRUSTED_TYPES

__all__ = [
    "FILE_BOUNDS",
    "SKOPS_TRUSTED_TYPES",
    "check_int8_graph",
    "check_int8_numbers",
    "check_tensors",
    "read_model_file",
    "read_payload",
    "saved_bytes",
    "size_beyond_bounds",
    "tree_from_plain",
    "tree_to_plain",
    "write_model_file",
    "write_payload",
]
