"""Exact homogenized coefficients (coarsegrain.equation_free.homogenization) checked against
independent references: closed forms, the full periodic lattice's spectrum (sparse eigensolver and
Bloch reduction), and the §5.2 patch scheme."""

import math

import numpy as np
import pytest
import scipy.linalg

from coarsegrain.equation_free.homogenization import (
    ARBABI2020_EQ27,
    ARBABI2020_KAPPA_X,
    ARBABI2020_KAPPA_Y,
    bloch_macroscale_eigenvalue,
    effective_diffusion_tensor,
    harmonic_mean_continuum,
    harmonic_mean_lattice,
    lattice_cell_corrector,
    lattice_macroscale_eigenvalues,
    periodic_lattice_operator,
)
from coarsegrain.equation_free.patch_scheme import PatchScheme2D

KX, KY = ARBABI2020_KAPPA_X, ARBABI2020_KAPPA_Y


def test_continuum_harmonic_mean_of_arbabi2020_1d():
    # a = 1.1 + sin(2πy): <1/a> = 1/sqrt(1.1^2 - 1), a* = sqrt(0.21)
    a_star = harmonic_mean_continuum(lambda y: 1.1 + math.sin(2 * math.pi * y))
    assert a_star == pytest.approx(math.sqrt(0.21), rel=1e-12)
    # the paper's hard-coded 0.45825686 is 7e-7 off the exact value
    assert abs(a_star - 0.45825686) > 5e-7
    # piecewise constant on a period of length 2: harmonic mean of the two values
    step = harmonic_mean_continuum(lambda y: 1.0 if (y % 2.0) < 1.0 else 4.0, period=2.0)
    assert step == pytest.approx(1.6, rel=1e-9)
    with pytest.raises(ValueError, match="positive"):
        harmonic_mean_continuum(lambda y: math.sin(2 * math.pi * y))


def test_lattice_harmonic_mean_matches_long_lattice_eigenvalue():
    bonds = np.array([0.5, 2.0, 4.0, 0.8, 1.7])
    a_star = harmonic_mean_lattice(bonds)
    assert a_star == pytest.approx(5 / np.sum(1 / bonds), rel=1e-15)
    n = 5 * 40
    h = 2 * math.pi / n
    c = np.tile(bonds, 40)
    operator = (np.diag(c) @ (np.roll(np.eye(n), 1, axis=1) - np.eye(n))
                + np.diag(np.roll(c, 1)) @ (np.roll(np.eye(n), -1, axis=1) - np.eye(n))) / h**2
    values = np.sort(scipy.linalg.eigvalsh(operator))[::-1]
    assert values[1] == pytest.approx(-a_star, rel=1e-3)
    assert values[3] == pytest.approx(-4 * a_star, rel=2e-3)
    with pytest.raises(ValueError, match="positive"):
        harmonic_mean_lattice([1.0, 0.0])


def test_corrector_solves_the_cell_problem():
    for e in ((1.0, 0.0), (0.0, 1.0), (0.6, -0.8)):
        chi = lattice_cell_corrector(KX, KY, e)
        assert abs(chi.mean()) < 1e-14
        i, j = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
        # u = e.x + chi on a 3x3-cell tile; Eq 25's rate must vanish at every point
        big_i, big_j = np.meshgrid(np.arange(9), np.arange(9), indexing="ij")
        u = e[0] * big_i + e[1] * big_j + np.tile(chi, (3, 3))
        kx, ky = np.tile(KX, (3, 3)), np.tile(KY, (3, 3))
        rate = (kx[1:-1, 1:-1] * (u[2:, 1:-1] - u[1:-1, 1:-1]) + kx[:-2, 1:-1] * (u[:-2, 1:-1] - u[1:-1, 1:-1])
                + ky[1:-1, 1:-1] * (u[1:-1, 2:] - u[1:-1, 1:-1]) + ky[1:-1, :-2] * (u[1:-1, :-2] - u[1:-1, 1:-1]))
        assert np.abs(rate).max() < 1e-12


def test_effective_tensor_of_arbabi2020_is_symmetric_positive_definite():
    tensor = effective_diffusion_tensor(KX, KY)
    # symmetry is not imposed by the computation (columns are separate flux averages)
    assert abs(tensor[0, 1] - tensor[1, 0]) < 1e-13
    assert np.all(np.linalg.eigvalsh(tensor) > 0)
    assert tensor == pytest.approx(np.array([[1.334522, 0.042367], [0.042367, 1.248339]]), abs=1e-6)
    # bounded by the harmonic and arithmetic means of the bonds (Voigt-Reuss in each direction)
    assert harmonic_mean_lattice(KX.ravel()) < tensor[0, 0] < KX.mean()
    assert harmonic_mean_lattice(KY.ravel()) < tensor[1, 1] < KY.mean()
    # a shift of the cell origin does not change D*
    shifted = effective_diffusion_tensor(np.roll(KX, (1, 2), axis=(0, 1)), np.roll(KY, (1, 2), axis=(0, 1)))
    assert np.allclose(shifted, tensor, atol=1e-13)


def test_effective_tensor_separable_and_layered_cases():
    a = np.array([1.0, 3.0, 0.5])
    b = np.array([2.0, 0.4, 1.5])
    # kx depends on i only, ky on j only: harmonic means, no off-diagonal
    tensor = effective_diffusion_tensor(np.tile(a[:, None], (1, 3)), np.tile(b[None, :], (3, 1)))
    assert np.allclose(tensor, np.diag([harmonic_mean_lattice(a), harmonic_mean_lattice(b)]), atol=1e-14)
    # layered the other way (kx on j, ky on i): arithmetic means (parallel conductors)
    tensor = effective_diffusion_tensor(np.tile(a[None, :], (3, 1)), np.tile(b[:, None], (1, 3)))
    assert np.allclose(tensor, np.diag([a.mean(), b.mean()]), atol=1e-14)
    assert np.allclose(effective_diffusion_tensor([[2.0]], [[3.0]]), np.diag([2.0, 3.0]))
    with pytest.raises(ValueError, match="one shape"):
        effective_diffusion_tensor(KX, KY[:2])


def test_full_lattice_eigenvalues_converge_to_kDk_at_second_order():
    tensor = effective_diffusion_tensor(KX, KY)
    waves = [(1, 0), (0, 1), (1, 1), (1, -1)]
    errors = {}
    for m in (10, 20):
        found = lattice_macroscale_eigenvalues(KX, KY, m, count=9)
        assert set(waves) <= set(found)
        for k in waves:
            pair = found[k]
            assert pair.shape == (2,) and abs(pair[0] - pair[1]) < 1e-9 * abs(pair[0])  # ±k double
            exact = -np.array(k) @ tensor @ np.array(k)
            errors[m, k] = abs(pair[0] / exact - 1)
            # the Bloch reduction gives the same eigenvalue
            assert bloch_macroscale_eigenvalue(KX, KY, k, 2 * math.pi / (3 * m)) == pytest.approx(pair[0], rel=1e-10)
    for k in waves:
        assert errors[20, k] < 3e-3
        assert 3.6 < errors[10, k] / errors[20, k] < 4.4  # O(h^2)
    # on the paper's 480^2 lattice (Bloch) the agreement is 4e-5
    for k in waves:
        exact = -np.array(k) @ tensor @ np.array(k)
        assert bloch_macroscale_eigenvalue(KX, KY, k, 2 * math.pi / 480) == pytest.approx(exact, rel=5e-5)


def test_off_diagonal_term_is_significant_and_eq27_is_not_the_tensor():
    found = lattice_macroscale_eigenvalues(KX, KY, 20, count=9)
    plus, minus = found[(1, 1)][0], found[(1, -1)][0]
    # a diagonal tensor would give equal eigenvalues for (1, 1) and (1, -1)
    assert abs(plus / minus - 1) > 0.05
    tensor = effective_diffusion_tensor(KX, KY)
    dxx, dyy = ARBABI2020_EQ27
    # Eq 27 attaches the values to the wrong axes (reading Eq 26 as kappa[i, j], Eq 25's indices)
    assert abs(dxx / tensor[0, 0] - 1) > 0.05 and abs(dyy / tensor[1, 1] - 1) > 0.05
    # and even swapped they are 1.3% and 0.4% off
    assert 0.012 < dxx / tensor[1, 1] - 1 < 0.014
    assert 0.003 < dyy / tensor[0, 0] - 1 < 0.005


def test_periodic_lattice_operator_is_symmetric_and_conservative():
    op = periodic_lattice_operator(KX, KY, (2, 3), 0.1)
    assert op.shape == (54, 54)
    assert abs(op - op.T).max() < 1e-12
    assert np.abs(op @ np.ones(54)).max() < 1e-10


def test_patch_scheme_2d_reproduces_the_effective_tensor():
    # 8x8 patches of 5x5 points (interior 3x3 = one period), h = 2π/240: spectral edgy coupling
    tensor = effective_diffusion_tensor(KX, KY)
    h = 2 * math.pi / 240
    scheme = PatchScheme2D(8, 5, micro_spacing=h, order=0, mode="edgy", kx_cell=KX, ky_cell=KY)
    values, labels = scheme.macroscale_eigen(9, dense_limit=100)
    assert np.abs(values.imag).max() < 1e-9
    for k in [(1, 0), (0, 1), (1, 1), (1, -1)]:
        match = values[[tuple(lab) == k for lab in labels]].real
        assert match.shape == (2,)
        exact = -np.array(k) @ tensor @ np.array(k)
        assert np.allclose(match, exact, rtol=3e-4)
        # and equal to the full 240^2 lattice (Bloch) far more closely
        assert np.allclose(match, bloch_macroscale_eigenvalue(KX, KY, k, h), rtol=1e-8)


@pytest.mark.slow
def test_patch_scheme_2d_at_the_papers_scale():
    # §5.2: 16x16 patches of 5x5 points, h = 2π/480 (side 4h = 0.0524)
    tensor = effective_diffusion_tensor(KX, KY)
    h = 2 * math.pi / 480
    errors = {}
    for order in (0, 4):
        scheme = PatchScheme2D(16, 5, micro_spacing=h, order=order, mode="edgy", kx_cell=KX, ky_cell=KY)
        values, labels = scheme.macroscale_eigen(9)
        for k in [(1, 0), (0, 1), (1, 1), (1, -1)]:
            match = values[[tuple(lab) == k for lab in labels]].real
            errors[order, k] = np.abs(match / (-np.array(k) @ tensor @ np.array(k)) - 1).max()
    assert max(errors[0, k] for k in [(1, 0), (0, 1), (1, 1), (1, -1)]) < 1e-4
    assert max(errors[4, k] for k in [(1, 0), (0, 1), (1, 1), (1, -1)]) > 1e-3
