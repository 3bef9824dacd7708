"""The PyTorch networks: shapes, parameter counts, any input size."""

import numpy as np
import pytest
import torch

from fashionclf.networks import BlockCNN, SmallCNN, Standardized, build_network


def _n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_seed_architecture_matches_the_users_network():
    m = SmallCNN()
    assert m(torch.zeros(4, 1, 28, 28)).shape == (4, 10)
    assert _n_params(m) == 320 + 5408 * 32 + 32 + 330  # conv, dense 32, dense 10


def test_default_cnn_size():
    m = BlockCNN()
    assert m(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert 460_000 < _n_params(m) < 475_000


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 1, 1), (1, 5, 7), (2, 32, 32)])
@pytest.mark.parametrize("arch", ["cnn", "small"])
def test_any_input_shape(arch, shape):
    m = build_network(arch, shape, 3, n_blocks=3, width=4).eval()
    assert m(torch.zeros(2, *shape)).shape == (2, 3)


def test_size_parameters():
    small = build_network(
        "cnn", (1, 28, 28), 10, n_blocks=1, width=8, convs_per_block=1, dense_units=16
    )
    assert _n_params(small) < _n_params(BlockCNN())


def test_unknown_architecture():
    with pytest.raises(
        ValueError,
        match=r"architecture='resnet'; expected one of \['cnn', 'compact', 'small'\]",
    ):
        build_network("resnet", (1, 28, 28), 10)


def test_standardized_is_in_state_dict():
    m = Standardized(SmallCNN(), mean=0.3, std=0.5)
    sd = m.state_dict()
    assert float(sd["mean"]) == pytest.approx(0.3) and float(
        sd["std"]
    ) == pytest.approx(0.5)


def test_per_block_width_and_convs():
    m = BlockCNN(width=(16, 64), convs_per_block=(1, 2))
    convs = [c for c in m.features if isinstance(c, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (1, 16),
        (16, 64),
        (64, 64),
    ]
    assert m(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"width": (16, 32, 64)}, "width"),
        ({"convs_per_block": (1,)}, "convs_per_block"),
        ({"convs_per_block": (1, 0)}, "convs_per_block"),
    ],
)
def test_per_block_values_must_fit_n_blocks(kwargs, name):
    with pytest.raises(ValueError, match=rf"{name}=.* does not fit n_blocks=2"):
        BlockCNN(**kwargs)


@pytest.mark.parametrize("arch", ["cnn", "compact", "small"])
def test_built_in_networks_script_with_torch_jit(arch):
    net = build_network(arch, (1, 28, 28), 10, n_blocks=2, width=8, dropout=0.3)
    net.eval()
    # torch 2.13 deprecates TorchScript (for torch.export); it still works
    with pytest.warns(DeprecationWarning, match=r"torch.jit.script. is deprecated"):
        scripted = torch.jit.script(net)
    x = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(scripted(x), net(x), rtol=0, atol=0)


def test_register_network_refuses_a_name_that_is_taken():
    from fashionclf.networks import ARCHITECTURES, register_network

    class Other(torch.nn.Module):
        pass

    with pytest.raises(ValueError, match=r"received a network named 'compact'"):
        register_network("compact")(Other)
    assert ARCHITECTURES["compact"] is not Other
    register_network("compact")(ARCHITECTURES["compact"])  # the same class again


class _Linear(torch.nn.Module):
    """A network added from outside networks.py: flatten, one hidden layer."""

    def __init__(self, input_shape=(1, 28, 28), n_classes=10, dense_units=16):
        super().__init__()
        size = input_shape[0] * input_shape[1] * input_shape[2]
        self.layers = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(size, dense_units),
            torch.nn.ReLU(),
            torch.nn.Linear(dense_units, n_classes),
        )

    def forward(self, x):
        return self.layers(x)


def test_a_network_registered_in_one_place_fits_saves_and_loads(small, tmp_path):
    from fashionclf import FashionCNNClassifier
    from fashionclf.networks import ARCHITECTURES, register_network, size_params

    X, y, Xt, _ = small
    register_network("test-linear")(_Linear)
    try:
        assert size_params("test-linear") == ("dense_units",)
        clf = FashionCNNClassifier(
            architecture="test-linear", dense_units=8, max_epochs=1, random_state=0
        ).fit(X[:200], y[:200])
        clf.save(tmp_path / "m.safetensors")
        again = FashionCNNClassifier.load(tmp_path / "m.safetensors")
        np.testing.assert_array_equal(again.predict_proba(Xt), clf.predict_proba(Xt))
    finally:
        del ARCHITECTURES["test-linear"]
    with pytest.raises(ValueError, match="'architecture' parameter"):
        FashionCNNClassifier(architecture="test-linear").fit(X[:200], y[:200])
