"""GridSearchCV on a Dask cluster
===============================

A scikit-learn search runs on a Dask cluster through joblib's dask backend.
Run it::

    python examples/dask_grid_search.py   # a LocalCluster on this machine
    DASK_SCHEDULER=tcp://host:8786 python examples/dask_grid_search.py
    FASHIONCLF_SMOKE=1 python examples/dask_grid_search.py
"""

import os

import joblib
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV

from fashionclf import FashionCNNClassifier, load_sample


def main() -> None:
    smoke = os.environ.get("FASHIONCLF_SMOKE") == "1"
    X, y = load_sample(return_X_y=True)
    if smoke:
        X, y = X[:300], y[:300]
    address = os.environ.get("DASK_SCHEDULER")
    # One torch thread per Dask worker thread: workers x threads = cores.
    cluster = (
        None
        if address
        else LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    )
    with Client(address or cluster) as client:
        print("dask workers:", len(client.scheduler_info()["workers"]))
        grid = GridSearchCV(
            FashionCNNClassifier(
                max_epochs=1 if smoke else 5, num_threads=1, random_state=0
            ),
            {"width": [8, 16], "lr": [1e-3, 3e-3]},
            cv=2,
            n_jobs=-1,
        )
        with joblib.parallel_config(backend="dask"):
            grid.fit(X, y)
        print("best:", grid.best_params_, f"cv accuracy {grid.best_score_:.4f}")
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":  # worker processes re-import this file
    main()
