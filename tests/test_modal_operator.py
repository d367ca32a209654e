"""ModalOperator (patel2021 Eq 11-15, 27) and the multi-step losses (Eq 21, 34).

References are independent of the model's code path: NumPy FFTs, scipy's DCT/DST, analytic
eigenmode decay, loops written out by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
import torch
from torch import nn

from coarsegrain.models import ModalMLP, ModalOperator
from coarsegrain.training import (
    MultistepObjective,
    MultistepTrainer,
    TrainConfig,
    curriculum_loss,
    draw_steps,
    load_model,
    multistep_errors,
    step_weights,
    weighted_multistep_loss,
)
from coarsegrain.training import multistep as multistep_module

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class ExactHeatSymbol(nn.Module):
    """A hand-set g: exp(-|κ|² dt) - 1 (real), from features [..., d] (κ or |κ|)."""

    def __init__(self, dt: float, n_out: int):
        super().__init__()
        self.dt, self.n_out = dt, n_out

    def forward(self, x, params=None):
        g = torch.expm1(-x.square().sum(-1) * self.dt)
        outs = [g] + [torch.zeros_like(g)] * (self.n_out - 1)
        return torch.stack(outs, dim=-1)


def randomize(model: nn.Module, seed: int, scale: float = 0.7) -> nn.Module:
    """Random weights that make every network clearly nonlinear and anisotropic."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)
    return model


# --- the exact operator against NumPy / scipy ---------------------------------------------------


def test_heat_step_with_exact_symbol_matches_numpy_fft():
    n, lengths, dt = (12, 10), (2 * math.pi, 3.0), 0.02
    model = ModalOperator(2, lengths, pointwise="identity").double()
    model.g[0][0] = ExactHeatSymbol(dt, 2)
    rng = np.random.default_rng(0)
    u = rng.standard_normal((3, 1, *n))
    kx = 2 * np.pi * np.fft.fftfreq(n[0], lengths[0] / n[0])
    ky = 2 * np.pi * np.fft.fftfreq(n[1], lengths[1] / n[1])
    k2 = kx[:, None] ** 2 + ky[None, :] ** 2
    expected = np.fft.ifft2(np.exp(-k2 * dt) * np.fft.fft2(u), axes=(-2, -1)).real
    got = model.step(torch.from_numpy(u)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # the continuous-time form: L(u) / Δt
    model.dt = dt
    np.testing.assert_allclose(model.rhs(torch.from_numpy(u)).detach().numpy(), (expected - u) / dt, atol=1e-9)


@pytest.mark.parametrize("boundary, transform, itransform, shift", [
    ("neumann", scipy.fft.dct, scipy.fft.idct, 0),
    ("dirichlet", scipy.fft.dst, scipy.fft.idst, 1),
])
def test_cosine_sine_bases_decay_like_the_analytic_eigenmodes(boundary, transform, itransform, shift):
    n, length, dt = 16, 2.5, 0.03
    model = ModalOperator(1, length, boundary=boundary, pointwise="identity").double()
    model.g[0][0] = ExactHeatSymbol(dt, 1)
    x = (np.arange(n) + 0.5) * length / n  # cell centres
    for j in (0 + shift, 3, 7):
        kappa = np.pi * j / length
        mode = np.cos(kappa * x) if boundary == "neumann" else np.sin(kappa * x)
        got = model.step(torch.from_numpy(mode)[None, None]).detach().numpy()[0, 0]
        np.testing.assert_allclose(got, np.exp(-kappa**2 * dt) * mode, atol=1e-12)
    # a random field: scipy's type-II transform, the analytic decay per coefficient, the inverse
    u = np.random.default_rng(1).standard_normal((2, 1, n))
    kappa = np.pi * (np.arange(n) + shift) / length
    expected = itransform(np.exp(-kappa**2 * dt) * transform(u, type=2), type=2)
    got = model.step(torch.from_numpy(u)).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_cosine_basis_2d_with_a_symbol_of_minus_kappa_squared():
    n, lengths, dt = (6, 8), (1.0, 2.0), 0.004
    model = ModalOperator(2, lengths, boundary="neumann", pointwise="identity").double()

    class MinusK2(nn.Module):
        def forward(self, x, params=None):
            return -x.square().sum(-1, keepdim=True) * dt

    model.g[0][0] = MinusK2()
    u = np.random.default_rng(2).standard_normal((2, 1, *n))
    k2 = (np.pi * np.arange(n[0]) / lengths[0])[:, None] ** 2 + (np.pi * np.arange(n[1]) / lengths[1])[None] ** 2
    expected = scipy.fft.idctn((1 - k2 * dt) * scipy.fft.dctn(u, type=2, axes=(-2, -1)), type=2, axes=(-2, -1))
    np.testing.assert_allclose(model.step(torch.from_numpy(u)).detach().numpy(), expected, atol=1e-12)


# --- biases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", ["periodic", "neumann"])
def test_conservation_keeps_the_mean_for_random_weights(boundary):
    u = torch.randn(4, 2, 10, 8, dtype=F64, generator=torch.Generator().manual_seed(3)) + 0.3
    for seed in range(3):
        model = randomize(ModalOperator(2, (1.0, 1.3), n_fields=2, boundary=boundary, terms=2, width=6, depth=2,
                                        conservation=[True, False]).double(), seed)
        out = model.step(u)
        assert torch.allclose(out[:, 0].mean((-2, -1)), u[:, 0].mean((-2, -1)), rtol=0, atol=1e-13)
        # power: the unconstrained field's mean moves
        assert (out[:, 1].mean((-2, -1)) - u[:, 1].mean((-2, -1))).abs().max() > 1e-3
        assert model.symbol(0, 0, (10, 8))[0, 0] == 0


def test_conservation_refused_on_a_dirichlet_field():
    with pytest.raises(ValueError, match="Dirichlet"):
        ModalOperator(1, 1.0, boundary="dirichlet", conservation=True)


@pytest.mark.parametrize("reflection", ["odd", "sign"])
def test_reflection_makes_the_operator_odd(reflection):
    u = torch.randn(3, 1, 12, dtype=F64, generator=torch.Generator().manual_seed(4))
    for seed in range(3):
        model = randomize(ModalOperator(1, 2.0, width=5, depth=3, reflection=reflection).double(), seed)
        assert torch.allclose(model(-u), -model(u), rtol=0, atol=1e-13)
    plain = randomize(ModalOperator(1, 2.0, width=5, depth=3).double(), 0)
    assert (plain(-u) + plain(u)).abs().max() > 1e-2  # power


def test_reflection_with_several_fields_and_parameters():
    model = randomize(ModalOperator(1, 2.0, n_fields=3, boundary=["periodic", "neumann", "dirichlet"], terms=2,
                                    n_params=2, width=4, depth=2, reflection=True).double(), 1)
    u = torch.randn(2, 3, 9, dtype=F64, generator=torch.Generator().manual_seed(5))
    gamma = torch.tensor([[0.3, -1.0], [2.0, 0.5]], dtype=F64)
    assert torch.allclose(model(-u, gamma), -model(u, gamma), rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="one field"):
        ModalOperator(1, 2.0, n_fields=2, reflection="sign")


@torch.no_grad()
def _rotation_and_swap_errors(model, u):
    out = model(u)
    rot = (model(torch.rot90(u, 1, (-2, -1))) - torch.rot90(out, 1, (-2, -1))).abs().max()
    swap = (model(u.transpose(-2, -1)) - out.transpose(-2, -1)).abs().max()
    return float(rot), float(swap), float(out.abs().max())


@pytest.mark.parametrize("boundary, n", [("periodic", 12), ("periodic", 9), ("neumann", 10)])
def test_isotropy_commutes_with_rotation_and_axis_swap(boundary, n):
    u = torch.randn(2, 1, n, n, dtype=F64, generator=torch.Generator().manual_seed(6))
    for seed in range(3):
        model = randomize(ModalOperator(2, 2 * math.pi, boundary=boundary, width=6, depth=2,
                                        isotropic=True).double(), seed)
        rot, swap, scale = _rotation_and_swap_errors(model, u)
        if boundary == "periodic":  # a 90° rotation of a cosine grid does not keep its walls' conditions
            assert rot <= 1e-12 * scale
        assert swap <= 1e-12 * scale
    model = randomize(ModalOperator(2, 2 * math.pi, boundary=boundary, width=6, depth=2).double(), 0)
    rot, swap, scale = _rotation_and_swap_errors(model, u)
    assert swap > 1e-3 * scale and (boundary != "periodic" or rot > 1e-3 * scale)  # power


def test_fourier_symbol_is_hermitian_so_the_output_is_real_linear():
    """Without isotropy, g(-κ) = conj g(κ) on the grid (Nyquist lines included): the model equals
    the same symbol applied through a full complex FFT, whose imaginary output vanishes."""
    n = (8, 6)
    model = randomize(ModalOperator(2, (1.0, 2.0), width=5, depth=2, pointwise="identity").double(), 2)
    g_half = model.symbol(0, 0, n).detach().numpy()
    u = np.random.default_rng(7).standard_normal(n)
    full = np.zeros(n, dtype=complex)
    full[:, : n[1] // 2 + 1] = g_half
    for i in range(n[0]):  # fill the other half by Hermitian symmetry
        for j in range(n[1] // 2 + 1, n[1]):
            full[i, j] = np.conj(g_half[(-i) % n[0], (-j) % n[1]])
    for i in range(n[0]):
        for j in range(n[1] // 2 + 1):
            assert np.isclose(full[i, j], np.conj(full[(-i) % n[0], (-j) % n[1]]), atol=1e-13)
    direct = np.fft.ifft2(full * np.fft.fft2(u))
    assert np.abs(direct.imag).max() < 1e-12
    got = model(torch.from_numpy(u)[None, None]).detach().numpy()[0, 0]
    np.testing.assert_allclose(got, direct.real, atol=1e-12)


# --- fields, parameters, sizes -----------------------------------------------------------------


def test_multi_field_shapes_and_terms():
    model = ModalOperator(1, 1.0, n_fields=3, boundary=["neumann", "neumann", "dirichlet"], terms=3, width=4,
                          depth=2, conservation=[True, True, False]).double()
    u = torch.randn(5, 3, 11, dtype=F64)
    out = model(u)
    assert out.shape == u.shape and out.dtype == F64
    assert len(model.g) == 3 and all(len(row) == 3 for row in model.g)
    assert torch.allclose(out[:, :2].mean(-1), torch.zeros(5, 2, dtype=F64), atol=1e-14)
    # the output of field 0 is the sum of its three terms
    terms = []
    for k in range(3):
        single = ModalOperator(1, 1.0, n_fields=3, boundary=["neumann", "neumann", "dirichlet"], width=4, depth=2,
                               conservation=[True, True, False]).double()
        single.g[0][0], single.h[0][0] = model.g[0][k], model.h[0][k]
        terms.append(single(u)[:, 0])
    assert torch.allclose(out[:, 0], sum(terms), atol=1e-13)
    traj = model.rollout(u, 4)
    assert traj.shape == (5, 5, 3, 11) and torch.equal(traj[:, 0], u)
    with pytest.raises(ValueError, match="n_fields=3"):
        model(torch.randn(5, 2, 11, dtype=F64))


@pytest.mark.parametrize("symbol_params", [False, True])
def test_parameters_condition_the_output(symbol_params):
    model = randomize(ModalOperator(2, 1.0, n_params=2, width=4, depth=2, symbol_params=symbol_params).double(), 3)
    u = torch.randn(2, 1, 6, 8, dtype=F64)
    a = model(u, torch.tensor([[0.1, 0.2], [0.1, 0.2]], dtype=F64))
    b = model(u, torch.tensor([[0.1, 0.2], [1.5, -0.7]], dtype=F64))
    assert torch.allclose(a[0], b[0], atol=1e-14)  # each sample sees its own parameters
    assert (a[1] - b[1]).abs().max() > 1e-3
    # one vector for the whole batch
    assert torch.allclose(model(u, torch.tensor([0.1, 0.2], dtype=F64)), a, atol=1e-14)
    with pytest.raises(ValueError, match="simulation parameters"):
        model(u)
    with pytest.raises(ValueError, match="no simulation parameters"):
        ModalOperator(2, 1.0).double()(u, torch.zeros(2, 2, dtype=F64))
    assert model.h[0][0].params_in.weight.shape == (4, 2)  # Dense(γ) in h's first layer
    assert (model.g[0][0].params_in is not None) == symbol_params


def _mlp_parameter_count(n_in, n_out, width, depth, n_params=0):
    sizes = [n_in] + [width] * depth + [n_out]
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    return count + n_params * width  # Dense(γ) has no bias of its own


@pytest.mark.parametrize("width, depth", [(7, 2), (3, 5)])
def test_width_is_the_width_and_depth_the_depth(width, depth):
    model = ModalOperator(2, 1.0, n_fields=2, boundary=["periodic", "neumann"], terms=2, width=width, depth=depth,
                          n_params=3)
    g_fourier = _mlp_parameter_count(2, 2, width, depth)  # κ -> (Re, Im)
    g_cosine = _mlp_parameter_count(2, 1, width, depth)
    h = _mlp_parameter_count(2, 1, width, depth, n_params=3)
    expected = 2 * (g_fourier + g_cosine) + 4 * h
    assert sum(p.numel() for p in model.parameters()) == expected
    for net in (model.g[0][0], model.h[1][1]):
        linears = [m for m in net.modules() if isinstance(m, nn.Linear) and m is not net.params_in]
        assert len(linears) == depth + 1
        assert all(m.out_features == width for m in linears[:-1])
    iso = ModalOperator(2, 1.0, width=width, depth=depth, isotropic=True)
    assert sum(p.numel() for p in iso.g[0][0].parameters()) == _mlp_parameter_count(1, 1, width, depth)
    assert isinstance(model.g[0][0], ModalMLP)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_params", [0, 3])
@pytest.mark.parametrize("compiled", [True, False])
def test_mlp_equals_its_layers_applied_row_by_row(n_params, dtype, compiled):
    """Both evaluations (the compiled point-wise op, and torch with points as columns) are the plain
    MLP: nn.Linear layers applied along the last axis, with γ broadcast against x either way (and its
    gradients the same)."""
    torch.manual_seed(0)
    net = ModalMLP(2, 3, width=5, depth=3, n_params=n_params, init="torch", compiled=compiled).to(dtype)
    assert net.uses_compiled_op(torch.zeros(1, 2, dtype=dtype)) == compiled
    x = torch.randn(4, 1, 7, 2, dtype=dtype, requires_grad=True)
    p = torch.randn(1, 6, 1, n_params, dtype=dtype) if n_params else None

    def reference(x, p):
        z = net.first(x) + (net.params_in(p) if p is not None else 0)
        z = net.act(z)
        for layer in net.hidden:
            z = net.act(layer(z))
        return net.out(z)

    got, want = net(x, p), reference(x, p)
    assert got.shape == want.shape == ((4, 6, 7, 3) if n_params else (4, 1, 7, 3))
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    weights = torch.randn_like(want)
    grads = torch.autograd.grad((got * weights).sum(), [x, net.first.weight, net.out.bias])
    grads_ref = torch.autograd.grad((want * weights).sum(), [x, net.first.weight, net.out.bias])
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("n_params", [0, 2])
def test_glorot_init_is_the_keras_default(n_params):
    """The default init is the paper's (Keras Dense): Glorot-uniform weights, zero biases; "torch"
    keeps nn.Linear's; anything else is refused."""
    torch.manual_seed(0)
    net = ModalMLP(1, 2, width=64, depth=3, n_params=n_params)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 4 + (n_params > 0)
    for m in linears:
        limit = math.sqrt(6.0 / (m.in_features + m.out_features))
        w = m.weight.detach()
        assert float(w.abs().max()) <= limit
        # uniform on [-limit, limit]: variance limit^2 / 3 (64 x 64 draws: within 15%)
        if w.numel() >= 4096:
            assert abs(float(w.var()) / (limit * limit / 3) - 1) < 0.15
        if m.bias is not None:
            assert torch.count_nonzero(m.bias) == 0
    torch_init = ModalMLP(1, 2, width=64, depth=3, init="torch")
    assert torch.count_nonzero(torch_init.first.bias) == 64  # nn.Linear's uniform biases
    assert float(torch_init.hidden[0].weight.detach().abs().max()) <= 1 / 8  # ±1/sqrt(fan_in)
    op = ModalOperator(2, 1.0, isotropic=True, init="torch")
    assert torch.count_nonzero(op.g[0][0].first.bias) > 0 and torch.count_nonzero(op.h[0][0].out.bias) > 0
    assert torch.count_nonzero(ModalOperator(2, 1.0).h[0][0].first.bias) == 0
    with pytest.raises(ValueError, match="init must be one of glorot, torch"):
        ModalOperator(1, 1.0, init="xavier")


def test_max_amplification_is_the_growth_of_the_linearized_update():
    """g = the exact heat symbol, h(u) = u − u³/3 (h' = 1 − u²): stable (max 1, at κ = 0) while the
    densities stay in [0, 1]; beyond u = 1 h' < 0 turns diffusion into anti-diffusion, and the growth is
    max |1 + g(κ)(1 − u²)| over the grid's modes and the densities (NumPy)."""
    dt = 0.01

    class HeatSymbol(nn.Module):
        def forward(self, k):
            return torch.stack([torch.expm1(-k[..., 0] ** 2 * dt), torch.zeros_like(k[..., 0])], -1)

    class Cubic(nn.Module):
        def forward(self, u):
            return u - u**3 / 3

    model = ModalOperator(1, 2 * math.pi).double()
    model.g[0][0], model.h[0][0] = HeatSymbol(), Cubic()
    assert model.max_amplification((32,), torch.linspace(0, 1, 11)) == pytest.approx(1.0, abs=1e-9)
    u = np.linspace(0, 2, 21)
    g = np.expm1(-np.arange(17.0) ** 2 * dt)
    expected = np.abs(1 + g[:, None] * (1 - u[None] ** 2)).max()
    assert expected > 3
    assert model.max_amplification((32,), torch.from_numpy(u)) == pytest.approx(expected, rel=1e-8)
    torch.manual_seed(0)
    net64 = ModalOperator(1, 2 * math.pi, conservation=True, reflection=True).double()  # random weights
    net32 = ModalOperator(1, 2 * math.pi, conservation=True, reflection=True)
    net32.load_state_dict({k: v.float() for k, v in net64.state_dict().items()})
    a64 = net64.max_amplification((32,), torch.from_numpy(u))
    assert net32.max_amplification((32,), torch.from_numpy(u)) == pytest.approx(a64, rel=1e-5)
    assert next(net32.parameters()).dtype == torch.float32  # evaluated on a float64 copy, left as it was
    # two terms of half the symbol each: the same update
    two = ModalOperator(1, 2 * math.pi, terms=2).double()

    class HalfHeat(HeatSymbol):
        def forward(self, k):
            return 0.5 * super().forward(k)

    two.g[0][0], two.g[0][1], two.h[0][0], two.h[0][1] = HalfHeat(), HalfHeat(), Cubic(), Cubic()
    assert two.max_amplification((32,), torch.from_numpy(u)) == pytest.approx(expected, rel=1e-8)
    with pytest.raises(ValueError, match="needs a one-field model"):
        ModalOperator(1, 1.0, n_fields=2).max_amplification((8,), torch.ones(3))


def test_gradcheck_through_a_tiny_model():
    model = randomize(ModalOperator(1, 1.5, n_fields=2, boundary=["periodic", "neumann"], n_params=1, width=3,
                                    depth=2, conservation=True, reflection=True).double(), 4, scale=0.5)
    u = torch.randn(2, 2, 6, dtype=F64, requires_grad=True)
    gamma = torch.randn(2, 1, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: model.step(a, b), (u, gamma))
    weight = model.g[0][0].first.weight.detach().clone().requires_grad_(True)

    def by_weight(w):
        return torch.func.functional_call(model, {"g.0.0.first.weight": w}, (u.detach(), gamma.detach()))

    assert torch.autograd.gradcheck(by_weight, (weight,))


def test_gauge_fixed_recovers_a_known_scaling():
    dt = 0.05
    model = ModalOperator(1, 2 * math.pi, width=4, depth=1).double()
    model.g[0][0] = ExactHeatSymbol(dt, 2)
    with torch.no_grad():  # h(u) = 3 u + 0.5 -- a one-unit "MLP" in its linear (positive) range
        h = model.h[0][0]
        for p in (h.first.weight, h.first.bias, h.out.weight):
            p.zero_()
        h.first.weight[0, 0] = 1.0
        h.first.bias[0] = 10.0
        h.out.weight[0, 0] = 3.0
        h.out.bias.fill_(0.5 - 30.0)
    u = torch.linspace(-2, 2, 9, dtype=F64)
    gf = model.gauge_fixed((16,), u=u)
    assert gf.scale == pytest.approx(3.0, rel=1e-9) and gf.offset == pytest.approx(0.5, rel=1e-9)
    torch.testing.assert_close(gf.h, u, rtol=0, atol=1e-9)
    exact = 3 * torch.expm1(-gf.magnitude.square() * dt)
    torch.testing.assert_close(gf.symbol.real, exact, rtol=0, atol=1e-9)


# --- losses ------------------------------------------------------------------------------------


def _linear_step(u):
    return 0.9 * u + 0.05 * torch.roll(u, 1, -1)


def test_weighted_loss_matches_a_hand_computed_value():
    traj = torch.randn(4, 5, 1, 3, dtype=F64, generator=torch.Generator().manual_seed(8))
    M, beta = 3, 1.5
    loss = weighted_multistep_loss(_linear_step, traj, M, beta, generator=torch.Generator().manual_seed(9))
    ms = torch.randint(1, M + 1, (4,), generator=torch.Generator().manual_seed(9)).tolist()
    x = traj.numpy()
    A = 0.9 * np.eye(3) + 0.05 * np.roll(np.eye(3), 1, axis=0)  # (A v)_i = 0.9 v_i + 0.05 v_{i-1}
    total = 0.0
    for b, m in enumerate(ms):
        errs = []
        for j in range(5 - m):
            pred = np.linalg.matrix_power(A, m) @ x[b, j, 0]
            errs.append(np.mean((x[b, j + m, 0] - pred) ** 2))
        total += np.mean(errs) / m**beta
    assert loss.item() == pytest.approx(total / 4, rel=1e-12)
    # the draws fixed by the generator, and the weights 1/m^β
    assert draw_steps(4, M, generator=torch.Generator().manual_seed(9)).tolist() == ms
    torch.testing.assert_close(step_weights(4, 2.0), torch.tensor([1, 1 / 4, 1 / 9, 1 / 16], dtype=F64))
    # given m: same value; first starts only
    assert weighted_multistep_loss(_linear_step, traj, M, beta, m=torch.tensor(ms)).item() == pytest.approx(loss.item())
    first = weighted_multistep_loss(_linear_step, traj, M, 0.0, m=torch.tensor([3, 3, 3, 3]), starts="first")
    pred = np.einsum("ij,bj->bi", np.linalg.matrix_power(A, 3), x[:, 0, 0])
    assert first.item() == pytest.approx(np.mean((x[:, 3, 0] - pred) ** 2), rel=1e-12)


def test_drawn_steps_cover_one_to_M_and_never_zero():
    ms = draw_steps(4000, 4, generator=torch.Generator().manual_seed(0))
    assert set(ms.tolist()) == {1, 2, 3, 4}
    assert abs(ms.double().mean().item() - 2.5) < 0.1
    with pytest.raises(ValueError, match="step counts"):
        weighted_multistep_loss(_linear_step, torch.zeros(2, 5, 1, 3), 3, m=torch.tensor([0, 1]))


def test_errors_and_curriculum_loss():
    traj = torch.randn(2, 4, 1, 3, dtype=F64)
    errors = multistep_errors(_linear_step, traj, 3)
    assert errors.shape == (3, 2)
    assert curriculum_loss(_linear_step, traj, 2).item() == pytest.approx(errors[1].mean().item())
    with pytest.raises(ValueError, match="at least 5 frames"):
        multistep_errors(_linear_step, traj, 4)


def _heat_windows(n_traj, n, length, dt, frames, seed, dtype=F64):
    k = 2 * math.pi * torch.fft.rfftfreq(n, length / n, dtype=F64)
    c = torch.randn(n_traj, n // 2 + 1, dtype=torch.complex128, generator=torch.Generator().manual_seed(seed))
    c = c * torch.exp(-(k / 4) ** 2)
    c[:, 0] = 0
    traj = torch.stack([torch.fft.irfft(c * torch.exp(-k**2 * dt * t), n=n) for t in range(frames)], 1)[:, :, None]
    return (traj / traj.std()).to(dtype)


def test_training_on_heat_data_recovers_the_symbol():
    """Eq 21's curriculum (m = 1, then m = 2) on exact heat-equation frames; L-BFGS, ~300 steps."""
    n, length, dt = 16, 2 * math.pi, 0.05
    traj = _heat_windows(32, n, length, dt, 3, seed=1)
    torch.manual_seed(0)
    model = ModalOperator(1, length, width=8, depth=2, conservation=True, dt=dt).double()
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=150, history_size=50, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-14, tolerance_change=1e-16)
    for m in (1, 2):
        def closure():
            opt.zero_grad()
            loss = curriculum_loss(model.step, traj, m)
            loss.backward()
            return loss
        opt.step(closure)
    gf = model.gauge_fixed((n,), u=torch.linspace(-1, 1, 11, dtype=F64))
    exact = torch.expm1(-gf.magnitude.square() * dt)
    low = (gf.magnitude > 0) & (gf.magnitude <= 5)
    rel = (gf.symbol.real[low] - exact[low]).abs() / exact[low].abs()
    assert rel.max() < 0.03, rel
    assert gf.symbol.imag.abs().max() < 0.03 * exact.abs().max()
    torch.testing.assert_close(gf.h, torch.linspace(-1, 1, 11, dtype=F64), rtol=0, atol=0.03)


def test_multistep_trainer_curriculum_visits_every_stage(tmp_path, monkeypatch):
    traj = _heat_windows(6, 8, 2 * math.pi, 0.05, 4, seed=2, dtype=torch.float32)
    spec = {"class": "ModalOperator", "kwargs": {"ndim": 1, "length": 2 * math.pi, "width": 4, "depth": 2,
                                                 "conservation": True, "dt": 0.05}}
    seen = []
    real = multistep_module.curriculum_loss

    def spy(step, seq, m, **kw):
        seen.append(m)
        return real(step, seq, m, **kw)

    monkeypatch.setattr(multistep_module, "curriculum_loss", spy)
    config = TrainConfig(epochs=4, batch_size=3, lr=1e-3, progress=False)
    objective = MultistepObjective(kind="curriculum", max_steps=3)
    trainer = MultistepTrainer(spec, list(traj), list(traj[:2]), config, tmp_path, objective=objective)
    optimizer = trainer.optimizer
    trainer.fit()
    # per epoch: two training batches at the stage's m, then one validation batch at m = M
    assert seen == [1, 1, 3, 2, 2, 3, 3, 3, 3, 3, 3, 3]
    assert trainer.optimizer is optimizer
    loaded = load_model(tmp_path / "best.pt")
    assert isinstance(loaded, ModalOperator)
    torch.testing.assert_close(loaded(traj[:, 0]), trainer.model(traj[:, 0]))
    with pytest.raises(ValueError, match="never reach m = 3"):
        MultistepTrainer(spec, list(traj), None, TrainConfig(epochs=2, progress=False), tmp_path / "b",
                         objective=objective)


@pytest.mark.parametrize("reset", [False, True])
def test_curriculum_optimizer_state_carries_over_unless_reset(tmp_path, reset):
    traj = _heat_windows(4, 8, 2 * math.pi, 0.05, 3, seed=3, dtype=torch.float32)
    torch.manual_seed(0)
    model = ModalOperator(1, 2 * math.pi, width=3, depth=1, dt=0.05)
    fresh = []

    class Recording(MultistepTrainer):
        def _batch_loss(self, batch, training):
            if training:
                fresh.append(len(self.optimizer.state) == 0)
            return super()._batch_loss(batch, training)

    objective = MultistepObjective(kind="curriculum", max_steps=2, stage_epochs=2, reset_optimizer=reset)
    Recording(model, list(traj), None, TrainConfig(epochs=5, batch_size=4, progress=False), tmp_path,
              objective=objective).fit()
    # epochs 0-1: m = 1, 2-3: m = 2, 4: m = 2 (after the last stage)
    assert fresh == [True, False, reset, False, False]


def test_weighted_trainer_reduces_the_loss(tmp_path):
    traj = _heat_windows(8, 8, 2 * math.pi, 0.05, 5, seed=4, dtype=torch.float32)
    torch.manual_seed(0)
    model = ModalOperator(1, 2 * math.pi, width=4, depth=2, conservation=True, dt=0.05)
    history = MultistepTrainer(model, list(traj), list(traj[:4]), TrainConfig(epochs=6, batch_size=4, lr=1e-2,
                                                                              progress=False), tmp_path,
                               objective=MultistepObjective(max_steps=4, beta=1.0)).fit()
    assert history[-1]["val_loss"] < 0.5 * history[0]["val_loss"]


def test_errors_pass_each_trajectory_its_parameters():
    traj = torch.randn(3, 4, 1, 2, dtype=F64)
    params = torch.tensor([[0.5], [1.0], [2.0]], dtype=F64)
    errors = multistep_errors(lambda u, p: u * p[:, :, None], traj, 2, params=params)
    x, a = traj.numpy(), params.numpy()[:, 0]
    for b in range(3):
        for m in (1, 2):
            hand = np.mean([np.mean((x[b, j + m] - a[b] ** m * x[b, j]) ** 2) for j in range(4 - m)])
            assert errors[m - 1, b].item() == pytest.approx(hand, rel=1e-12)


def test_trainer_lbfgs_option_recovers_the_heat_symbol(tmp_path):
    """TrainConfig(optimizer="lbfgs") through the shared trainer: Eq 34's weighted loss (random m per
    trajectory, the same draws at every line-search evaluation) on exact heat frames; the symbol
    comes out within 3% at low |kappa|, where 40 epochs of Adam at the same cost stay far off."""
    n, length, dt = 16, 2 * math.pi, 0.05
    traj = _heat_windows(32, n, length, dt, 4, seed=3)

    def train(optimizer, lr):
        torch.manual_seed(0)
        model = ModalOperator(1, length, width=8, depth=2, conservation=True, dt=dt).double()
        config = TrainConfig(epochs=40 if optimizer == "adam" else 4, batch_size=32, lr=lr, optimizer=optimizer,
                             lbfgs_iterations=60, progress=False)
        objective = MultistepObjective(kind="weighted", max_steps=3, beta=1.0)
        MultistepTrainer(model, list(traj), None, config, tmp_path / optimizer, objective=objective).fit()
        gf = model.gauge_fixed((n,), u=torch.linspace(-1, 1, 11, dtype=F64))
        exact = torch.expm1(-gf.magnitude.square() * dt)
        low = (gf.magnitude > 0) & (gf.magnitude <= 5)
        return ((gf.symbol.real[low] - exact[low]).abs() / exact[low].abs()).max().item()

    assert train("lbfgs", 1.0) < 0.03
    assert train("adam", 1e-2) > 0.1
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'lbfgs'"):
        TrainConfig(optimizer="sgd")
