"""The compiled point-wise network (torch.ops.coarsegrain.pointwise_mlp) beyond the op table:
its activations against NumPy to a few ulp, its values and gradients against torch.nn layers,
and the same bits at every thread count."""

import numpy as np
import pytest
import torch
from torch import nn

from coarsegrain.ops import flatten_layers, pointwise_mlp


def _unit_network(dtype):
    """n_in = width = depth = n_out = 1, W = 1, b = 0: y = act(x)."""
    return torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=dtype)


@pytest.mark.parametrize("dtype,ulps", [(torch.float64, 4), (torch.float32, 4)])
def test_activations_match_numpy_to_a_few_ulp(dtype, ulps):
    x = np.concatenate([-np.logspace(-12, 2, 4001), np.linspace(-3, 3, 2001), np.logspace(-12, 2, 401)])
    xt = torch.from_numpy(x).to(dtype)[:, None]
    xd = xt.double().numpy()[:, 0]  # the values the op sees
    eps = float(torch.finfo(dtype).eps)
    for activation, exact in (("elu", np.where(xd > 0, xd, np.expm1(np.minimum(xd, 0)))), ("tanh", np.tanh(xd))):
        got = pointwise_mlp(xt, _unit_network(dtype), width=1, depth=1, n_out=1, activation=activation)
        got = got.double().numpy()[:, 0]
        # relative where the value is normal; expm1 near 0 is ~x, so this also covers tiny |x|
        err = np.abs(got - exact) / np.maximum(np.abs(exact), np.finfo(np.float64).tiny)
        assert err.max() <= ulps * eps, (activation, float(err.max()), float(xd[err.argmax()]))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("activation", ["elu", "tanh"])
def test_values_and_gradients_match_torch_layers(dtype, activation):
    torch.manual_seed(3)
    n_in, width, depth, n_out = 2, 6, 3, 3
    layers = [nn.Linear(n_in, width)] + [nn.Linear(width, width) for _ in range(depth - 1)] + [nn.Linear(width, n_out)]
    layers = [layer.to(dtype) for layer in layers]
    act = nn.ELU() if activation == "elu" else nn.Tanh()
    x = (3 * torch.randn(4, 77, n_in, dtype=dtype)).requires_grad_()

    def reference(x):
        z = x
        for layer in layers[:-1]:
            z = act(layer(z))
        return layers[-1](z)

    weights = [t for layer in layers for t in (layer.weight, layer.bias)]
    y_ref = reference(x)
    y = pointwise_mlp(x, flatten_layers(layers), width=width, depth=depth, n_out=n_out, activation=activation)
    g = torch.randn_like(y)
    want = torch.autograd.grad(y_ref, [x, *weights], g)
    got = torch.autograd.grad(y, [x, *weights], g)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(y, y_ref, **tol)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, **tol)


def test_same_bits_at_every_thread_count():
    torch.manual_seed(0)
    count = 4 * 1 + 4 + 3 * 20 + 4 + 1
    params = torch.randn(count, dtype=torch.float64)
    x = torch.randn(300_001, 1, dtype=torch.float64)
    g = torch.randn(300_001, 1, dtype=torch.float64)
    before = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            y = torch.ops.coarsegrain.pointwise_mlp(x, params, 4, 4, 1, "elu")
            gx, gp = torch.ops.coarsegrain.pointwise_mlp_backward(g, x, params, 4, 4, "elu")
            results.append((y, gx, gp))
    finally:
        torch.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.equal(a, b)


def test_second_derivative_is_refused_naming_the_op():
    x = torch.randn(5, 1, dtype=torch.float64, requires_grad=True)
    params = torch.randn(4 + 4 + 3 * 20 + 4 + 1, dtype=torch.float64, requires_grad=True)
    y = pointwise_mlp(x, params, width=4, depth=4, n_out=1)
    (gx,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match=r"^pointwise_mlp_backward is not differentiable; "):
        gx.sum().backward()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_module_gives_the_same_values(dtype):
    from coarsegrain import _core

    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 50, 2)).astype(dtype)
    params = rng.standard_normal(2 * 5 + 5 + 30 + 5 * 3 + 3).astype(dtype)
    got = _core.pointwise_mlp(x, params, 5, 2, 3, "tanh")
    want = torch.ops.coarsegrain.pointwise_mlp(torch.from_numpy(x), torch.from_numpy(params), 5, 2, 3, "tanh")
    assert got.dtype == dtype and got.shape == (3, 50, 3)
    np.testing.assert_array_equal(got, want.numpy())
    with pytest.raises(ValueError, match=r"^pointwise_mlp: width must be 1 to 16, got 17"):
        _core.pointwise_mlp(x, params, 17, 2, 3)
    with pytest.raises(ValueError, match=r"^pointwise_mlp: activation must be 'elu' or 'tanh', got 'relu'"):
        _core.pointwise_mlp(x, params, 5, 2, 3, "relu")
