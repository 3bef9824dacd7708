"""Alias for classifier pickles made before the subpackage layout.

Their fitted state names ``fashionclf._construction.FittedState``; this
module keeps them loading. Pickles made since hold that state as a plain
dict and name no class of fashionclf's internals.
"""

from ._estimator.construction import FittedState

__all__ = ["FittedState"]
