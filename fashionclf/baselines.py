"""Classic scikit-learn baselines on the same flat 784-pixel input as the CNN.

Every baseline is an ordinary estimator (a ``Pipeline`` that starts with
:class:`~fashionclf.preprocessing.PixelScaler`), built by name with
:func:`make_baseline`.

===================  ==========================================================
name                 model
===================  ==========================================================
``dummy``            most-frequent-class predictor (the floor)
``logreg``           multinomial logistic regression, lbfgs, ``max_iter=100``
``random_forest``    100 trees
``hist_gb``          histogram gradient boosting, 100 iterations
``knn``              5 nearest neighbours on a 50-component PCA projection
``svm_rbf``          RBF-kernel SVM approximated by a 2,000-component Nystroem
                     feature map and a linear SVM (exact ``SVC`` on 60,000
                     images takes hours on a small CPU)
===================  ==========================================================

``logreg`` stops at ``max_iter=100`` on purpose: the converged model is no
more accurate on this data and takes about 6x longer (measured, see
:doc:`/user_guide/benchmarks`); its ``ConvergenceWarning`` is expected.
"""

from __future__ import annotations

from collections.abc import Callable

from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from .preprocessing import PixelScaler

__all__ = ["BASELINES", "make_baseline"]


def _dummy(random_state: int | None, n_jobs: int | None) -> BaseEstimator:
    return DummyClassifier(strategy="most_frequent")


def _logreg(random_state: int | None, n_jobs: int | None) -> BaseEstimator:
    return make_pipeline(PixelScaler(), LogisticRegression(max_iter=100))


def _random_forest(random_state: int | None, n_jobs: int | None) -> BaseEstimator:
    return make_pipeline(
        PixelScaler(),
        RandomForestClassifier(
            n_estimators=100, n_jobs=n_jobs, random_state=random_state
        ),
    )


def _hist_gb(random_state: int | None, n_jobs: int | None) -> BaseEstimator:
    return make_pipeline(
        PixelScaler(),
        HistGradientBoostingClassifier(
            max_iter=100, early_stopping=False, random_state=random_state
        ),
    )


def _knn(random_state: int | None, n_jobs: int | None) -> BaseEstimator:
    return make_pipeline(
        PixelScaler(),
        PCA(n_components=50, random_state=random_state),
        KNeighborsClassifier(n_neighbors=5, weights="distance", n_jobs=n_jobs),
    )


def _svm_rbf(random_state: int | None, n_jobs: int | None) -> BaseEstimator:
    return make_pipeline(
        PixelScaler(),
        Nystroem(
            kernel="rbf", gamma=0.01, n_components=2000, random_state=random_state
        ),
        LinearSVC(C=1.0, random_state=random_state),
    )


#: name -> (factory, stochastic?) ; stochastic models are run over several seeds.
BASELINES: dict[str, tuple[Callable[[int | None, int | None], BaseEstimator], bool]] = {
    "dummy": (_dummy, False),
    "logreg": (_logreg, False),
    "random_forest": (_random_forest, True),
    "hist_gb": (_hist_gb, False),
    "knn": (_knn, False),
    "svm_rbf": (_svm_rbf, True),
}


def make_baseline(
    name: str, *, random_state: int | None = None, n_jobs: int | None = None
) -> BaseEstimator:
    """Build a baseline by name.

    Parameters
    ----------
    name : str
        One of ``BASELINES``: 'dummy', 'logreg', 'random_forest', 'hist_gb',
        'knn', 'svm_rbf'.
    random_state : int or None, default=None
        Seed of the stochastic parts.
    n_jobs : int or None, default=None
        Parallel jobs where the model supports them.

    Returns
    -------
    estimator
        An unfitted scikit-learn estimator taking flat 0-255 pixel rows.

    Examples
    --------
    >>> from fashionclf.baselines import make_baseline
    >>> make_baseline("logreg").steps[-1][0]
    'logisticregression'
    """
    if name not in BASELINES:
        raise ValueError(
            f"make_baseline received name={name!r}; "
            f"expected one of {sorted(BASELINES)}."
        )
    return BASELINES[name][0](random_state, n_jobs)
