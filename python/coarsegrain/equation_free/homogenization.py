"""Exact effective (homogenized) coefficients from the cell problem, and the independent lattice
references they are checked against (arbabi2020 §2 Eqs 4-6, §5.2 Eqs 25-27).

1D: the continuum cell problem (Eqs 4-6) gives ``a* = 1 / <1/a>``, the harmonic mean of ``a`` over a
period (:func:`harmonic_mean_continuum`, by ``scipy.integrate.quad``); for the 1D lattice
``du_j/dt = [c_j (u_{j+1}-u_j) - c_{j-1} (u_j-u_{j-1})]/h^2`` the same argument (constant flux
through a period of bonds) gives the harmonic mean of the bond diffusivities
(:func:`harmonic_mean_lattice`).

2D lattice (Eq 25): bond ``kx[i, j]`` joins ``(i, j)``-``(i+1, j)`` and ``ky[i, j]`` joins
``(i, j)``-``(i, j+1)``; the first array index is ``i`` (x), the second ``j`` (y), exactly as the
subscripts of Eq 25, and Eq 26's matrices are read the same way (row = i = x, column = j = y;
:data:`ARBABI2020_KAPPA_X`, :data:`ARBABI2020_KAPPA_Y`). (Eq 25's sentence "``kx_{i-1,j}`` is the
diffusivity at ``(i+1/2, j)``" is a typo for ``kx_{i,j}``; the equation itself is unambiguous.)
For a unit macroscale gradient ``e``, ``u_ij = e . (i, j) + chi_ij`` with ``chi`` periodic on the
cell must be a steady state of Eq 25 (the discrete cell problem ``L chi = -div(kappa e)``, ``L`` the
cell's periodic weighted graph Laplacian; its constant null space is removed by a bordered system
with ``sum chi = 0``); then ``D* e`` = the cell average of the bond fluxes ``(kx (e_x + chi_{i+1,j} -
chi_ij), ky (e_y + chi_{i,j+1} - chi_ij))`` (:func:`effective_diffusion_tensor`). The homogenized
equation is ``u_t = div(D* grad u)`` in the physical coordinates ``x = i h``.

References: :func:`periodic_lattice_operator` (Eq 25 on a ``(Px mx) x (Py my)`` periodic lattice,
scipy sparse) whose smallest eigenvalues, by a shift-invert sparse eigensolver
(:func:`lattice_macroscale_eigenvalues`), approach ``-k^T D* k`` as ``h -> 0``; and the Bloch
reduction (:func:`bloch_macroscale_eigenvalue`): on such a lattice the eigenvalue of a wave vector
``k`` is the smallest-magnitude eigenvalue of a ``PxPy x PxPy`` Hermitian matrix, which extends the
same reference to lattices too large for the sparse solver.

The 1D homogenized reference solution (:func:`solve_homogenized_1d`): ``u_t = a* u_xx`` solved like
the paper's reference, second-order central differences on a uniform grid (``dx = 5e-3``) with
time-independent Dirichlet ends, ``scipy.integrate.solve_ivp(method="LSODA")``;
:func:`sample_at` reads it at grid nodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import scipy.integrate
import scipy.sparse
import scipy.sparse.linalg

__all__ = [
    "solve_homogenized_1d",
    "sample_at",
    "ARBABI2020_KAPPA_X",
    "ARBABI2020_KAPPA_Y",
    "ARBABI2020_EQ27",
    "harmonic_mean_continuum",
    "harmonic_mean_lattice",
    "lattice_cell_corrector",
    "effective_diffusion_tensor",
    "periodic_lattice_operator",
    "lattice_macroscale_eigenvalues",
    "bloch_macroscale_eigenvalue",
    "arbabi2020_report",
]

#: arbabi2020 Eq 26, ``kappa_x[i mod 3, j mod 3]`` (row = i = x, column = j = y), bond (i,j)-(i+1,j).
ARBABI2020_KAPPA_X = np.array([[1.0566, 0.6668, 1.1568],
                               [6.5894, 0.8683, 2.4174],
                               [0.9473, 1.1407, 1.6610]])
#: arbabi2020 Eq 26, ``kappa_y[i mod 3, j mod 3]``, bond (i,j)-(i,j+1).
ARBABI2020_KAPPA_Y = np.array([[3.6355, 0.4470, 2.3896],
                               [0.8628, 4.8558, 0.2833],
                               [4.5025, 1.5865, 0.5679]])
#: arbabi2020 Eq 27's coefficients of u_xx and u_yy (no off-diagonal term).
ARBABI2020_EQ27 = (1.2644, 1.3398)


def harmonic_mean_continuum(a: Callable[[float], float], period: float = 1.0) -> float:
    """``a* = period / int_0^period dy / a(y)``: the 1D continuum cell problem's effective
    diffusivity (``a`` positive and ``period``-periodic), by adaptive quadrature
    (``scipy.integrate.quad``, relative tolerance 1e-13)."""
    name = "harmonic_mean_continuum"
    if isinstance(period, bool) or not isinstance(period, (int, float)) or not (math.isfinite(period) and period > 0):
        raise ValueError(f"{name}: period must be a positive finite number, got {period!r}")
    if not callable(a):
        raise TypeError(f"{name}: a must be callable a(y), got {type(a).__name__}")

    def inverse(y):
        value = float(a(y))
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: a must be positive and finite over the period, got a({y!r}) = {value!r}")
        return 1.0 / value

    integral, _ = scipy.integrate.quad(inverse, 0.0, float(period), epsabs=0.0, epsrel=1e-13, limit=200)
    return float(period) / integral


def harmonic_mean_lattice(bonds: Sequence[float]) -> float:
    """Effective diffusivity of the 1D lattice with periodic bond diffusivities: their harmonic mean."""
    c = np.asarray(bonds, dtype=np.float64).ravel()
    if c.size == 0 or not np.all(np.isfinite(c)) or np.any(c <= 0):
        raise ValueError("bonds must be a non-empty sequence of positive finite diffusivities")
    return float(c.size / np.sum(1.0 / c))


def _check_cells(kx, ky) -> tuple[np.ndarray, np.ndarray]:
    kx = np.atleast_2d(np.asarray(kx, dtype=np.float64))
    ky = np.atleast_2d(np.asarray(ky, dtype=np.float64))
    if kx.ndim != 2 or kx.shape != ky.shape:
        raise ValueError(f"kx and ky must be 2D cells of one shape [Px, Py]; got {kx.shape} and {ky.shape}")
    for name, k in (("kx", kx), ("ky", ky)):
        if not np.all(np.isfinite(k)) or np.any(k <= 0):
            raise ValueError(f"{name} (bond diffusivities) must be finite and positive")
    return kx, ky


def _graph_laplacian(kx: np.ndarray, ky: np.ndarray) -> scipy.sparse.csr_matrix:
    """Eq 25's operator (times h^2) on the periodic lattice of the arrays' shape, row-major (i, j)."""
    nx, ny = kx.shape
    index = np.arange(nx * ny).reshape(nx, ny)
    right = np.roll(index, -1, axis=0)  # (i+1, j)
    up = np.roll(index, -1, axis=1)  # (i, j+1)
    rows = np.concatenate([index.ravel(), right.ravel(), index.ravel(), up.ravel()])
    cols = np.concatenate([right.ravel(), index.ravel(), up.ravel(), index.ravel()])
    vals = np.concatenate([kx.ravel(), kx.ravel(), ky.ravel(), ky.ravel()])
    offdiag = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(nx * ny, nx * ny)).tocsr()
    diagonal = np.asarray(offdiag.sum(axis=1)).ravel()
    return (offdiag - scipy.sparse.diags(diagonal)).tocsr()


def lattice_cell_corrector(kx, ky, gradient: Sequence[float]) -> np.ndarray:
    """The periodic corrector ``chi[Px, Py]`` (zero mean) for the unit macroscale gradient
    ``gradient = (e_x, e_y)``: ``u = e . (i, j) + chi`` is a steady state of Eq 25."""
    kx, ky = _check_cells(kx, ky)
    e = np.asarray(gradient, dtype=np.float64)
    if e.shape != (2,) or not np.all(np.isfinite(e)):
        raise ValueError(f"gradient must be a finite pair (e_x, e_y); got {gradient!r}")
    size = kx.size
    laplacian = _graph_laplacian(kx, ky).toarray()
    divergence = e[0] * (kx - np.roll(kx, 1, axis=0)) + e[1] * (ky - np.roll(ky, 1, axis=1))
    bordered = np.zeros((size + 1, size + 1))
    bordered[:size, :size] = laplacian
    bordered[:size, size] = 1.0
    bordered[size, :size] = 1.0
    rhs = np.concatenate([-divergence.ravel(), [0.0]])
    solution = np.linalg.solve(bordered, rhs)
    return solution[:size].reshape(kx.shape)


def effective_diffusion_tensor(kx, ky) -> np.ndarray:
    """The homogenized diffusion tensor ``D*`` (2x2, ``[[Dxx, Dxy], [Dyx, Dyy]]``) of the Eq 25
    lattice with periodic bond cells ``kx``, ``ky`` (``[Px, Py]``, first index i = x): column ``c``
    is the cell-averaged flux for the unit gradient ``e_c``."""
    kx, ky = _check_cells(kx, ky)
    tensor = np.zeros((2, 2))
    for c, e in enumerate(((1.0, 0.0), (0.0, 1.0))):
        chi = lattice_cell_corrector(kx, ky, e)
        flux_x = kx * (e[0] + np.roll(chi, -1, axis=0) - chi)
        flux_y = ky * (e[1] + np.roll(chi, -1, axis=1) - chi)
        tensor[:, c] = [flux_x.mean(), flux_y.mean()]
    return tensor


def periodic_lattice_operator(kx, ky, cells: int | tuple[int, int], spacing: float) -> scipy.sparse.csr_matrix:
    """Eq 25 (``/ h^2``) on the periodic lattice of ``cells = (mx, my)`` copies of the bond cell,
    ``(Px mx) x (Py my)`` points, row-major over ``(i, j)``; sparse CSR, symmetric."""
    kx, ky = _check_cells(kx, ky)
    mx, my = (cells, cells) if isinstance(cells, int) else tuple(cells)
    if any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in (mx, my)):
        raise ValueError(f"cells must be positive integers (mx, my); got {cells!r}")
    if not (isinstance(spacing, (int, float)) and spacing > 0):
        raise ValueError(f"spacing must be positive; got {spacing!r}")
    return (_graph_laplacian(np.tile(kx, (mx, my)), np.tile(ky, (mx, my))) / float(spacing) ** 2).tocsr()


def _dominant_wave(field: np.ndarray, cell_shape: tuple[int, int]) -> tuple[int, int]:
    px, py = cell_shape
    nx, ny = field.shape
    cell_mean = field.reshape(nx // px, px, ny // py, py).mean(axis=(1, 3))
    spectrum = np.abs(np.fft.fft2(cell_mean)) ** 2
    idx = np.unravel_index(int(np.argmax(spectrum)), spectrum.shape)
    k = [i if i <= n // 2 else i - n for i, n in zip(idx, spectrum.shape)]
    if k[0] < 0 or (k[0] == 0 and k[1] < 0):
        k = [-k[0], -k[1]]
    return int(k[0]), int(k[1])


def lattice_macroscale_eigenvalues(kx, ky, cells: int, length: float = 2 * math.pi, count: int = 13
                                   ) -> dict[tuple[int, int], np.ndarray]:
    """The ``count`` smallest-magnitude eigenvalues of Eq 25 on the periodic square
    ``[0, length)^2`` lattice of ``cells x cells`` bond cells (spacing ``length / (P cells)``), by
    shift-invert ``eigsh``; grouped by the wave vector (integer, in units of ``2π/length``, sign
    fixed with the first nonzero component positive) that dominates each eigenvector's cell
    averages. Returns ``{(kx, ky): eigenvalues}`` (each macroscale pair ``±k`` gives two)."""
    kx, ky = _check_cells(kx, ky)
    if kx.shape[0] != kx.shape[1]:
        raise ValueError("lattice_macroscale_eigenvalues needs a square bond cell (equal spacing on a square)")
    n = kx.shape[0] * cells
    operator = periodic_lattice_operator(kx, ky, cells, length / n)
    shift = 1e-3 * float(np.abs(operator.diagonal()).min())
    values, vectors = scipy.sparse.linalg.eigsh(operator, k=count, sigma=shift, which="LM")
    grouped: dict[tuple[int, int], list[float]] = {}
    for value, vector in zip(values, vectors.T):
        grouped.setdefault(_dominant_wave(vector.reshape(n, n), kx.shape), []).append(float(value))
    return {k: np.sort(np.array(v)) for k, v in sorted(grouped.items(), key=lambda kv: -max(kv[1]))}


def bloch_macroscale_eigenvalue(kx, ky, wave_vector: Sequence[float], spacing: float) -> float:
    """The macroscale (smallest-magnitude) eigenvalue of Eq 25 on the infinite periodic lattice for
    the physical wave vector ``k``: ``u_ij = exp(i k . x_ij) phi_ij`` with ``phi`` cell-periodic
    reduces Eq 25 to a Hermitian ``PxPy x PxPy`` matrix. Equals the eigenvalue of that ``k`` on any
    periodic lattice whose size makes ``k`` admissible; ``-> -k^T D* k`` as ``h -> 0``."""
    kx, ky = _check_cells(kx, ky)
    px, py = kx.shape
    theta_x = float(wave_vector[0]) * spacing
    theta_y = float(wave_vector[1]) * spacing
    index = np.arange(px * py).reshape(px, py)
    matrix = np.zeros((px * py, px * py), dtype=np.complex128)
    for i in range(px):
        for j in range(py):
            p = index[i, j]
            # neighbour (i+1, j) through bond kx[i, j]; wrapping across the cell adds no phase here
            # because phi is cell-periodic and the Bloch phase is per lattice step.
            for q, weight, phase in ((index[(i + 1) % px, j], kx[i, j], theta_x),
                                     (index[(i - 1) % px, j], kx[(i - 1) % px, j], -theta_x),
                                     (index[i, (j + 1) % py], ky[i, j], theta_y),
                                     (index[i, (j - 1) % py], ky[i, (j - 1) % py], -theta_y)):
                matrix[p, q] += weight * np.exp(1j * phase)
                matrix[p, p] -= weight
    values = np.linalg.eigvalsh(matrix) / spacing**2
    return float(values[np.argmin(np.abs(values))])


# --------------------------------------------------------------------------- the report


def _relative(value: float, reference: float) -> float:
    return value / reference - 1.0


def arbabi2020_report(sparse_cells: Sequence[int] = (10, 20, 40), bloch_cells: Sequence[int] = (80, 160),
                      patch_orders: Sequence[int] = (0, 2, 4, 6), out=print) -> dict:
    """Every figure of issue 19, printed with ``out`` and returned: D* vs Eq 27; the full lattice's
    macroscale eigenvalues (sparse eigensolver for ``sparse_cells``, Bloch for ``bloch_cells``)
    against ``-k^T D* k``; the §5.2 patch scheme (16x16 patches of 5x5 points, h = 2π/480) per
    coupling; the 1D patch scheme (harmonic mean 1) against ``-k^2`` per coupling order.
    ``python -m coarsegrain.equation_free.homogenization`` runs it (about a minute)."""
    from .patch_scheme import PatchScheme1D, PatchScheme2D

    kx, ky = ARBABI2020_KAPPA_X, ARBABI2020_KAPPA_Y
    tensor = effective_diffusion_tensor(kx, ky)
    result: dict = {"D*": tensor}
    out("D* (Eq 25 indices, Eq 26 rows = i = x):")
    out(f"  [[{tensor[0, 0]:.6f}, {tensor[0, 1]:.6f}], [{tensor[1, 0]:.6f}, {tensor[1, 1]:.6f}]]"
        f"  principal values {np.linalg.eigvalsh(0.5 * (tensor + tensor.T))}")
    dxx, dyy = ARBABI2020_EQ27
    out(f"Eq 27 (u_xx {dxx}, u_yy {dyy}): vs Dxx {_relative(dxx, tensor[0, 0]):+.2%}, vs Dyy "
        f"{_relative(dyy, tensor[1, 1]):+.2%}; swapped: {dxx} vs Dyy {_relative(dxx, tensor[1, 1]):+.2%}, "
        f"{dyy} vs Dxx {_relative(dyy, tensor[0, 0]):+.2%}; Dxy/Dxx = {tensor[0, 1] / tensor[0, 0]:.2%}")
    waves = [(1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2)]
    exact = {k: -np.array(k) @ tensor @ np.array(k) for k in waves}
    out("full periodic lattice (3m x 3m on [0, 2π)^2): relative error of the macroscale eigenvalue vs -k^T D* k")
    out("  m    h        " + "  ".join(f"{str(k):>9}" for k in waves) + "   method")
    lattice = {}
    for m in sparse_cells:
        found = lattice_macroscale_eigenvalues(kx, ky, m, count=13)
        row = [float(np.mean(found[k])) if k in found else float("nan") for k in waves]
        lattice[m] = row
        out(f"  {m:<4d} {2 * math.pi / (3 * m):.5f}  " + "  ".join(f"{_relative(v, exact[k]):+.2e}" for v, k in zip(row, waves))
            + "   sparse eigsh")
    for m in bloch_cells:
        h = 2 * math.pi / (3 * m)
        row = [bloch_macroscale_eigenvalue(kx, ky, k, h) for k in waves]
        lattice[m] = row
        out(f"  {m:<4d} {h:.5f}  " + "  ".join(f"{_relative(v, exact[k]):+.2e}" for v, k in zip(row, waves)) + "   Bloch")
    result["lattice"] = lattice
    out("§5.2 patch scheme, 16x16 patches of 5x5 points, h = 2π/480 (side 4h = 0.0524): eigenvalue (relative to "
        "-k^T D* k | to the 480^2 lattice)")
    h = 2 * math.pi / 480
    reference_480 = {k: bloch_macroscale_eigenvalue(kx, ky, k, h) for k in waves}
    patch = {}
    for mode in ("edgy", "centre"):
        for order in patch_orders if mode == "edgy" else (0,):
            scheme = PatchScheme2D(16, 5, micro_spacing=h, order=order, mode=mode, kx_cell=kx, ky_cell=ky)
            values, labels = scheme.macroscale_eigen(25)
            cells = []
            row = {}
            for k in waves:
                match = values[[tuple(lab) == k for lab in labels]]
                if match.size == 0:
                    cells.append(f"{str(k)}: missing")
                    continue
                v = complex(match[np.argmin(np.abs(match - exact[k]))])
                row[k] = v
                cells.append(f"{str(k)} {v.real:.5f}{'%+.1ei' % v.imag if abs(v.imag) > 1e-8 else ''} "
                             f"({_relative(v.real, exact[k]):+.1e} | {_relative(v.real, reference_480[k]):+.1e})")
            patch[(mode, order)] = row
            out(f"  {mode:6s} order {order}: " + "; ".join(cells))
    result["patch2d"] = patch
    out("1D patch scheme, bonds (0.5, 2, 4, 0.8) (harmonic mean 1), 16 patches of 6 points, r = 0.1, edgy: "
        "relative error of the k-th macroscale pair vs -k^2")
    table1d = {}
    for order in (0, 2, 4, 6, 8):
        scheme = PatchScheme1D(16, 6, 0.1, order=order, mode="edgy", bond_diffusivity=(0.5, 2.0, 4.0, 0.8))
        values, labels = scheme.macroscale_eigen(7)
        errs = [float(np.abs(values[np.abs(labels[:, 0]) == k].real / -(k * k) - 1).max()) for k in (1, 2, 3)]
        table1d[order] = errs
        out(f"  order {order}: " + "  ".join(f"k={k}: {e:.2e}" for k, e in zip((1, 2, 3), errs)))
    result["patch1d"] = table1d
    return result


if __name__ == "__main__":
    arbabi2020_report()


# --- the homogenized 1D reference solution (arbabi2020 §5.1) ----------------------------------

def solve_homogenized_1d(u0: Callable, t_eval, a_star: float, *, domain: tuple[float, float] = (0.0, 1.0),
                         dx: float = 5e-3, rtol: float = 1e-10, atol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """``u_t = a_star u_xx`` on ``domain`` from point values ``u0(x)``, the end values ``u0(x0)``,
    ``u0(x1)`` held (Eq 21); second-order differences on nodes ``x0 + j dx`` (``(x1 - x0) / dx`` must be
    a whole number), LSODA with the tridiagonal Jacobian. Returns ``(x [M], u [len(t_eval), M])``."""
    t_eval = np.asarray(t_eval, dtype=np.float64).reshape(-1)
    if t_eval.size == 0 or not np.isfinite(t_eval).all() or (t_eval < 0).any() or (np.diff(t_eval) < 0).any():
        raise ValueError("solve_homogenized_1d: t_eval must be non-empty, finite, >= 0 and non-decreasing")
    for name, v in (("a_star", a_star), ("dx", dx)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise ValueError(f"solve_homogenized_1d: {name} must be a positive finite number, got {v!r}")
    x0, x1 = (float(v) for v in domain)
    n = round((x1 - x0) / dx)
    if n < 2 or abs((x1 - x0) / dx - n) > 1e-9 * n:
        raise ValueError(f"solve_homogenized_1d: the domain length {x1 - x0!r} must be a whole number (>= 2) of "
                         f"dx = {dx!r}")
    x = x0 + (x1 - x0) * np.arange(n + 1) / n
    start = np.asarray(u0(x), dtype=np.float64).reshape(-1)
    if start.shape != x.shape or not np.isfinite(start).all():
        raise ValueError(f"solve_homogenized_1d: u0(x) must return {x.size} finite values, got shape {start.shape}")
    left, right = start[0], start[-1]
    h = (x1 - x0) / n
    c = a_star / h ** 2

    def rhs(t, v):
        padded = np.concatenate([[left], v, [right]])
        return c * (padded[2:] - 2 * padded[1:-1] + padded[:-2])

    m = n - 1
    banded = np.zeros((3, m))
    banded[0, 1:], banded[1], banded[2, :-1] = c, -2 * c, c

    def jac(t, v):
        return banded

    sol = scipy.integrate.solve_ivp(rhs, (0.0, float(t_eval[-1])), start[1:-1], method="LSODA", t_eval=t_eval, rtol=rtol, atol=atol,
                    jac=jac, lband=1, uband=1)
    if not sol.success:
        raise RuntimeError(f"solve_homogenized_1d: LSODA failed: {sol.message}")
    u = np.empty((t_eval.size, n + 1))
    u[:, 0], u[:, -1], u[:, 1:-1] = left, right, sol.y.T
    return x, u


def sample_at(x: np.ndarray, u: np.ndarray, points) -> np.ndarray:
    """``u[..., j]`` at the grid nodes equal to ``points`` (to 1e-9 of the spacing); a point off the
    grid raises (no interpolation error is introduced into the reference)."""
    points = np.asarray(points, dtype=np.float64)
    spacing = x[1] - x[0]
    index = np.rint((points - x[0]) / spacing).astype(int)
    if (index < 0).any() or (index >= x.size).any() or (np.abs(x[np.clip(index, 0, x.size - 1)] - points)
                                                        > 1e-9 * spacing).any():
        raise ValueError("sample_at: every point must be a node of the reference grid")
    return u[..., index]
