"""The skorch net's machinery (fashionclf._estimator.training): random streams on
the right devices, batches, float16 steps."""

import numpy as np
import torch
from skorch.dataset import Dataset

from fashionclf._estimator import training
from fashionclf._estimator.training import Net, TensorBatches, augment, seeded_generator
from fashionclf.networks import Dropout

from .helpers import tiny_cnn


def test_each_generator_is_made_on_the_device_of_what_it_draws_for(small, monkeypatch):
    # dropout draws for the network's activations, shuffling and augmentation
    # for the data: a CPU generator on CUDA activations crashed every network
    # with dropout > 0 at its first batch
    X, y, _, _ = small
    clf = tiny_cnn(dropout=0.3).fit(X[:100], y[:100])
    made = []

    def recording(seed, *key, device="cpu"):
        made.append((key[-1], str(device)))
        return torch.Generator()

    monkeypatch.setattr(training, "seeded_generator", recording)
    net = clf.net_
    net.device = "cuda:1"  # what a fit on the second GPU sets
    net._batch_generator(torch.device("cuda:1"))
    net._batch_generator(torch.device("cpu"))  # data left on the host
    assert made == [(1, "cuda:1"), (0, "cuda:1"), (1, "cuda:1"), (0, "cpu")]
    assert all(
        m.generator is not None for m in net.module_.modules() if isinstance(m, Dropout)
    )


def test_batches_ask_for_a_generator_on_the_data_s_device():
    X, y = torch.zeros(10, 1, 4, 4), torch.arange(10)
    asked = []

    def factory(device):
        asked.append(device)
        return torch.Generator(device=device).manual_seed(0)

    batches = TensorBatches(
        Dataset(X, y), 4, shuffle=True, flip=True, generator=factory
    )
    assert len(list(batches)) == 3
    assert asked == [X.device]


def test_data_already_on_the_device_is_sliced_without_a_copy():
    X, y = torch.arange(40.0).reshape(10, 1, 2, 2), torch.arange(10)
    batches = TensorBatches(Dataset(X, y), 4, device="cpu")
    first, _ = next(iter(batches))
    assert first.data_ptr() == X.data_ptr()  # a view


def test_augmentation_draws_on_the_generator_s_device_and_is_unchanged_on_cpu():
    X = torch.rand(8, 1, 6, 6)
    a = augment(X, True, 2, seeded_generator(1, 0, 0))
    b = augment(X, True, 2, seeded_generator(1, 0, 0, device="cpu"))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert a.shape == X.shape and not torch.equal(a, X)


def test_a_float16_step_goes_through_a_gradient_scaler():
    # the same code path CUDA takes, on the CPU (which autocasts float16 too)
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(64, 1, 8, 8, generator=gen)
    y = (X.mean(dim=(1, 2, 3)) > X.mean()).long()  # learnable
    net = Net(
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        lr=0.2,
        max_epochs=20,
        batch_size=16,
        iterator_train=TensorBatches,
        train_split=None,
        amp_dtype=torch.float16,
        verbose=0,
    )
    with torch.random.fork_rng():  # seeded initialisation, caller's RNG kept
        torch.manual_seed(0)
        net.fit(X, y)
    assert isinstance(net.grad_scaler_, torch.amp.GradScaler)
    losses = np.array(net.history[:, "train_loss"])
    assert np.isfinite(losses).all() and losses[-3:].mean() < losses[:3].mean()


def test_the_loss_waits_while_another_thread_traces(small):
    # int8 tracing patches nn.Module.__call__ process-wide inside an exclusive
    # section; the criterion is a module, so the loss must wait for it (a fit
    # beside a tracing thread failed with "module is not installed as a
    # submodule" in the criterion call)
    import threading
    import time

    from fashionclf._estimator.locks import exclusive

    X, y, _, _ = small
    net = tiny_cnn().fit(X[:100], y[:100]).net_
    y_pred, y_true = torch.randn(4, 10), torch.tensor([0, 1, 2, 3])
    order, inside, release = [], threading.Event(), threading.Event()

    def trace():
        with exclusive():
            inside.set()
            release.wait(5)
            order.append("traced")

    def loss():
        net.get_loss(y_pred, y_true)
        order.append("loss")

    tracer = threading.Thread(target=trace)
    tracer.start()
    inside.wait(5)
    trainer = threading.Thread(target=loss)
    trainer.start()
    time.sleep(0.3)
    assert order == []  # the loss is waiting
    release.set()
    tracer.join(5)
    trainer.join(5)
    assert order == ["traced", "loss"]
