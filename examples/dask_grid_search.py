"""GridSearchCV on a Dask cluster
===============================

A scikit-learn search runs on a Dask cluster through joblib's dask backend.
Run it::

    python examples/dask_grid_search.py   # a LocalCluster on this machine
    DASK_SCHEDULER=tcp://host:8786 python examples/dask_grid_search.py

On the 2,000 bundled training images, 5 epochs per fit.
"""

import os

import joblib
from distributed import Client, LocalCluster
from matplotlib.figure import Figure
from sklearn.model_selection import GridSearchCV

from fashionclf import FashionCNNClassifier, load_sample
from fashionclf.evaluation.plotting import save


def main() -> None:
    X, y = load_sample(return_X_y=True)
    address = os.environ.get("DASK_SCHEDULER")
    # One torch thread per Dask worker thread: workers x threads = cores; the
    # dashboard on any free port (8787 may be another cluster's)
    cluster = (
        None
        if address
        else LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0")
    )
    with Client(address or cluster) as client:
        print("dask workers:", len(client.scheduler_info()["workers"]))
        grid = GridSearchCV(
            FashionCNNClassifier(max_epochs=5, num_threads=1, random_state=0),
            {"width": [8, 16], "lr": [3e-3, 1e-2]},
            cv=2,
            n_jobs=-1,
        )
        with joblib.parallel_config(backend="dask"):
            grid.fit(X, y)
        print("best:", grid.best_params_, f"cv accuracy {grid.best_score_:.4f}")
    if cluster is not None:
        cluster.close()

    results = grid.cv_results_
    fig = Figure(figsize=(6, 2.4))
    ax = fig.add_subplot()
    labels = [f"width={p['width']}, lr={p['lr']:g}" for p in results["params"]]
    ax.barh(labels, 100 * results["mean_test_score"])
    ax.set_xlim(0, 100)
    ax.set_xlabel("cross-validated accuracy (%), fits run on Dask workers")
    fig.tight_layout()
    save(fig, "dask_grid_search.png")


if __name__ == "__main__":  # worker processes re-import this file
    main()
