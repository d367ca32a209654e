"""The interpolation-coupled patch scheme (arbabi2020 §3 gap-tooth / §5.2; Roberts' toolbox
``patchSys1``/``patchSys2`` re-derived) as a continuous-time system, in 1D and 2D, and its
macroscale Jacobian.

State: the micro values of every patch, ``u[..., N, n]`` (1D) or ``u[..., Nx, Ny, nx, ny]`` (2D),
edges included. Before each rate evaluation the edges are recomputed by interpolation across
patches (:mod:`coarsegrain.equation_free.coupling`); the micro rate then gives the interior
derivatives, and the edges' rates are zero (they are algebraic, reset by the coupling). The
macroscale variable is the patch-centre average over the interior points (:meth:`restrict`).

Micro models: 1D lattice diffusion ``du_j/dt = [c_j (u_{j+1} - u_j) + c_{j-1} (u_{j-1} - u_j)] / d^2``
with bond diffusivities ``c`` (:func:`lattice_diffusion_rate_1d`), and arbabi2020 Eq 25 in 2D
(:func:`lattice_diffusion_rate_2d`: the compiled ``coarsegrain.ops.lattice_diffusion_rate`` in this
module's layout; :func:`lattice_diffusion_rate_2d_reference` is an independent torch version, kept as
the test oracle). The heterogeneity is tiled from each patch's first point (bond ``j`` gets
``c[j mod P]``); its period ``P`` must divide the ``n - 2`` interior points so the edgy coupling
pairs points of equal phase.

Macroscale Jacobian: for diffusion the scheme is linear in the interior values, so the full
operator is assembled column by column (the rate of each interior unit vector) and its eigenvalues
computed with NumPy; the ``N`` (1D) or ``Nx Ny`` (2D) eigenvalues of smallest magnitude are the
macroscale ones (the rest are fast micro modes, ``~ -1/d^2``).

Time integration: classical RK4 with a fixed step below the stability limit (spectral radius by
power iteration; RK4 is stable on the negative real axis up to ``|λ dt| = 2.785``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse.linalg
import torch
from torch import Tensor

from ..ops.lattice import lattice_diffusion_rate as _compiled_lattice_rate
from ..rollout.learned import rk4_step
from .coupling import _check_mode, _check_order, _pair, couple_patches_1d, couple_patches_2d

__all__ = [
    "lattice_diffusion_rate_1d",
    "lattice_diffusion_rate_2d",
    "lattice_diffusion_rate_2d_reference",
    "tile_heterogeneity",
    "PatchScheme1D",
    "PatchScheme2D",
    "rk4_integrate",
]

_BOUNDARIES = ("patch", "periodic")


def _check_boundary(boundary: str) -> None:
    if boundary not in _BOUNDARIES:
        raise ValueError(f"boundary must be one of {_BOUNDARIES}; got {boundary!r}")


def _check_spacing(spacing) -> float:
    if isinstance(spacing, bool) or not isinstance(spacing, (int, float)) or not (spacing > 0 and math.isfinite(spacing)):
        raise ValueError(f"spacing must be a positive number; got {spacing!r}")
    return float(spacing)


def lattice_diffusion_rate_1d(u: Tensor, bonds: Tensor, spacing: float, boundary: str = "patch") -> Tensor:
    """``du_j/dt = [c_j (u_{j+1} - u_j) + c_{j-1} (u_{j-1} - u_j)] / h^2`` along the last axis.

    ``bonds[..., j]`` (broadcastable to ``u``) is the diffusivity of the bond from point ``j`` to
    ``j + 1``. ``boundary="patch"``: rates at the interior points only, zero at the two edges
    (``bonds[..., n-1]`` unused); ``"periodic"``: the last bond joins point ``n-1`` to point 0.
    """
    _check_boundary(boundary)
    h2 = _check_spacing(spacing) ** 2
    if boundary == "periodic":
        flux = bonds * (torch.roll(u, -1, dims=-1) - u)
        return (flux - torch.roll(flux, 1, dims=-1)) / h2
    flux = bonds[..., :-1] * (u[..., 1:] - u[..., :-1])  # bond j: j -> j+1, j = 0..n-2
    interior = (flux[..., 1:] - flux[..., :-1]) / h2
    zero = torch.zeros_like(u[..., :1])
    return torch.cat([zero, interior, zero], dim=-1)


def lattice_diffusion_rate_2d_reference(u: Tensor, kx: Tensor, ky: Tensor, spacing: float,
                                        boundary: str = "patch") -> Tensor:
    """Torch reference of arbabi2020 Eq 25 on ``u[..., nx, ny]`` (``i`` = x = axis -2, ``j`` = y):

    ``du_ij/dt = [kx_ij (u_{i+1,j} - u_ij) + kx_{i-1,j} (u_{i-1,j} - u_ij)
                 + ky_ij (u_{i,j+1} - u_ij) + ky_{i,j-1} (u_{i,j-1} - u_ij)] / h^2``,

    ``kx[..., i, j]`` the bond (i, j)-(i+1, j), ``ky[..., i, j]`` the bond (i, j)-(i, j+1), both
    broadcastable to ``u``. ``"patch"``: rates at interior points, zero on the edges (the last
    row of ``kx`` and last column of ``ky`` unused); ``"periodic"``: bonds wrap around.
    """
    _check_boundary(boundary)
    h2 = _check_spacing(spacing) ** 2
    if boundary == "periodic":
        fx = kx * (torch.roll(u, -1, dims=-2) - u)
        fy = ky * (torch.roll(u, -1, dims=-1) - u)
        return (fx - torch.roll(fx, 1, dims=-2) + fy - torch.roll(fy, 1, dims=-1)) / h2
    fx = kx[..., :-1, :] * (u[..., 1:, :] - u[..., :-1, :])  # [.., nx-1, ny]
    fy = ky[..., :, :-1] * (u[..., :, 1:] - u[..., :, :-1])  # [.., nx, ny-1]
    interior = (fx[..., 1:, 1:-1] - fx[..., :-1, 1:-1] + fy[..., 1:-1, 1:] - fy[..., 1:-1, :-1]) / h2
    return torch.nn.functional.pad(interior, (1, 1, 1, 1))


def lattice_diffusion_rate_2d(u: Tensor, kx: Tensor, ky: Tensor, spacing: float, boundary: str = "patch") -> Tensor:
    """arbabi2020 Eq 25 on ``u[..., nx, ny]`` with the conventions of
    :func:`lattice_diffusion_rate_2d_reference` (``i`` = x = axis -2, ``kx[..., i, j]`` the bond
    (i, j)-(i+1, j), ``ky[..., i, j]`` the bond (i, j)-(i, j+1), broadcastable to ``u``), computed by
    the compiled ``coarsegrain.ops.lattice_diffusion_rate`` (CPU and CUDA, differentiable).

    That op takes x as the last axis. Eq 25 is symmetric in its two axes, so the op runs on ``u`` as
    it is with the roles swapped: its bonds along the last axis are this layout's y bonds (``ky``),
    its bonds along axis -2 the x bonds (``kx``); no transposed copies. A diffusivity expanded over
    leading axes (stride 0) is read once, not copied per plane. At the paper's 16 x 16 patches of
    5 x 5 points (one CPU thread) it is ~3x faster than the reference for one state and ~7x (float64)
    to ~12x (float32) for a batch of 100."""
    _check_boundary(boundary)
    return _compiled_lattice_rate(u, ky, kx, spacing=_check_spacing(spacing), boundary=boundary)


def tile_heterogeneity(cell, points: Sequence[int]) -> np.ndarray:
    """Tiles a periodic cell of coefficients over a patch of ``points`` micro points per axis
    from the patch's first point; each period must divide the interior count ``points - 2``."""
    cell = np.atleast_1d(np.asarray(cell, dtype=np.float64))
    points = tuple(int(p) for p in points)
    if cell.ndim != len(points):
        raise ValueError(f"heterogeneity cell must have {len(points)} dimension(s); got shape {cell.shape}")
    if not np.all(np.isfinite(cell)) or np.any(cell <= 0):
        raise ValueError("heterogeneity cell (diffusivities) must be finite and positive")
    for axis, (period, n) in enumerate(zip(cell.shape, points)):
        if (n - 2) % period:
            raise ValueError(f"heterogeneity period {period} (axis {axis}) must divide the patch's {n - 2} interior "
                             f"points (points per patch {n}); choose points = 2 + a multiple of {period}")
    index = np.ix_(*[np.arange(n) % period for n, period in zip(points, cell.shape)])
    return cell[index]


def rk4_integrate(rate: Callable[[Tensor], Tensor], u0: Tensor, times: Sequence[float], max_step: float) -> Tensor:
    """Classical RK4 (:func:`~coarsegrain.rollout.rk4_step`) from ``times[0]`` through increasing
    ``times``, steps of at most ``max_step`` (evenly split between consecutive output times).
    Returns ``[len(times), *u0.shape]``."""
    times = [float(t) for t in times]
    if len(times) < 1 or any(b < a for a, b in zip(times, times[1:])):
        raise ValueError("times must be a non-empty non-decreasing sequence")
    if not (max_step > 0 and math.isfinite(max_step)):
        raise ValueError(f"max_step must be a positive number; got {max_step!r}")
    out = [u0]
    u = u0
    for a, b in zip(times, times[1:]):
        steps = max(1, math.ceil((b - a) / max_step - 1e-9)) if b > a else 0
        dt = (b - a) / steps if steps else 0.0
        for _ in range(steps):
            u = rk4_step(rate, u, dt)
        out.append(u)
    return torch.stack(out)


class _PatchSchemeBase(ABC):
    """Shared machinery; subclasses set ``_dims`` (1 or 2), shapes and the coupling/rate."""

    _dims: int

    # -- provided by each subclass ----------------------------------------------------------
    @abstractmethod
    def couple(self, u: Tensor) -> Tensor:
        """``u`` with its patch-edge values set by interpolation across patches."""

    @abstractmethod
    def _micro(self, u: Tensor) -> Tensor:
        """The micro-scale rate of every patch (edges coupled already)."""

    # -- common -----------------------------------------------------------------------------
    @property
    def state_shape(self) -> tuple[int, ...]:
        return tuple(self.num_patches) + tuple(self.points)

    @property
    def interior_shape(self) -> tuple[int, ...]:
        return tuple(self.num_patches) + tuple(p - 2 for p in self.points)

    def _check_state(self, u: Tensor) -> None:
        if not isinstance(u, Tensor) or u.dtype not in (torch.float32, torch.float64):
            raise TypeError("u must be a float32 or float64 torch.Tensor")
        k = 2 * self._dims
        if u.dim() < k or tuple(u.shape[-k:]) != self.state_shape:
            raise ValueError(f"u must be [..., {', '.join(map(str, self.state_shape))}]; got shape {tuple(u.shape)}")

    def rate(self, u: Tensor) -> Tensor:
        """Time derivative of the patch state: edges from the coupling, interior from the micro
        rate; the edges' own rates are zero."""
        self._check_state(u)
        du = self._micro(self.couple(u))
        return self._zero_edges(du)

    def _zero_edges(self, du: Tensor) -> Tensor:
        k = self._dims
        pad = []
        interior = du
        for axis in range(-k, 0):
            interior = interior.narrow(axis, 1, du.shape[axis] - 2)
        for _ in range(k):
            pad += [1, 1]
        return torch.nn.functional.pad(interior, pad)

    def restrict(self, u: Tensor) -> Tensor:
        """Patch-centre average: the mean over each patch's interior points."""
        self._check_state(u)
        interior = u
        for axis in range(-self._dims, 0):
            interior = interior.narrow(axis, 1, u.shape[axis] - 2)
        return interior.mean(dim=tuple(range(-self._dims, 0)))

    def _embed_interior(self, interior: Tensor) -> Tensor:
        pad = [1, 1] * self._dims
        return self.couple(torch.nn.functional.pad(interior, pad))

    def jacobian(self, chunk: int = 1024) -> np.ndarray:
        """The linear operator on the interior values (float64 numpy, ``D x D`` with ``D`` =
        number of interior points, ordered as ``interior_shape`` flattened): column ``c`` is the
        interior rate of the ``c``-th interior unit vector, its edges set by the coupling.
        Exact for linear micro rates (diffusion)."""
        size = int(np.prod(self.interior_shape))
        columns = []
        for start in range(0, size, chunk):
            stop = min(size, start + chunk)
            basis = torch.zeros(stop - start, size, dtype=torch.float64, device=self.device)
            basis[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
            full = self._embed_interior(basis.reshape(-1, *self.interior_shape))
            du = self._micro(full)
            for axis in range(-self._dims, 0):
                du = du.narrow(axis, 1, du.shape[axis] - 2)
            columns.append(du.reshape(stop - start, size).cpu().numpy())
        return np.concatenate(columns, axis=0).T

    def macroscale_eigen(self, count: int | None = None, dense_limit: int = 600):
        """``(eigenvalues, wave_vectors)`` of the ``count`` (default: number of patches)
        eigenvalues of the Jacobian of smallest magnitude, sorted by magnitude; wave_vectors
        ``[count, dims]`` the integer wave numbers (in units of ``2π/length``) that dominate each
        eigenvector's restriction (the sign fixed so the first nonzero component is positive).
        Dense ``numpy.linalg.eig`` up to ``dense_limit`` interior points, shift-invert ARPACK above.
        Within a degenerate eigenspace shared by different wave vectors the label is arbitrary."""
        matrix = self.jacobian()
        size = matrix.shape[0]
        count = int(np.prod(self.num_patches)) if count is None else int(count)
        if not 1 <= count <= size:
            raise ValueError(f"count must be between 1 and the {size} interior points; got {count}")
        if size <= dense_limit or count >= size - 1:
            values, vectors = np.linalg.eig(matrix)
        else:
            # Shift-invert about a small positive shift (not an eigenvalue of a dissipative
            # system; the conserved mode sits at exactly 0): the eigenvalues nearest it are the
            # macroscale ones. Dense eig of a few thousand points costs ~50x more.
            shift = 1e-6 * float(np.abs(matrix).max())
            values, vectors = scipy.sparse.linalg.eigs(matrix, k=count, sigma=shift)
        order = np.argsort(np.abs(values), kind="stable")[:count]
        waves = []
        for c in order:
            field = vectors[:, c].reshape(self.interior_shape)
            macro = field.mean(axis=tuple(range(-self._dims, 0)))
            spectrum = np.abs(np.fft.fftn(macro)) ** 2
            idx = np.unravel_index(int(np.argmax(spectrum)), spectrum.shape)
            k = np.array([i if i <= n // 2 else i - n for i, n in zip(idx, spectrum.shape)])
            nz = np.flatnonzero(k)
            if nz.size and k[nz[0]] < 0:
                k = -k
            waves.append(k)
        return values[order], np.array(waves, dtype=int).reshape(count, self._dims)

    def macroscale_eigenvalues(self, count: int | None = None) -> np.ndarray:
        """The ``count`` Jacobian eigenvalues of smallest magnitude (the macroscale ones)."""
        return self.macroscale_eigen(count)[0]

    def spectral_radius(self, iterations: int = 60, seed: int = 0) -> float:
        """Power-iteration estimate of the largest |eigenvalue| of the (linearized at zero) rate."""
        gen = torch.Generator(device="cpu").manual_seed(seed)
        v = torch.randn(self.interior_shape, generator=gen, dtype=torch.float64).to(self.device)
        radius = 0.0
        for _ in range(iterations):
            v = v / v.norm()
            w = self._micro(self._embed_interior(v))
            for axis in range(-self._dims, 0):
                w = w.narrow(axis, 1, w.shape[axis] - 2)
            radius = float(w.norm())
            v = w
        return radius

    def stable_time_step(self, safety: float = 0.7) -> float:
        """RK4 step ``safety * 2.785 / rho`` (``rho`` by power iteration, which approaches the
        spectral radius from below, hence the margin)."""
        return safety * 2.785 / self.spectral_radius()

    def integrate(self, u0: Tensor, times: Sequence[float], dt: float | None = None) -> Tensor:
        """RK4 from ``times[0]``; returns ``[len(times), ...]`` states with coupled edges."""
        self._check_state(u0)
        step = self.stable_time_step() if dt is None else float(dt)
        states = rk4_integrate(self.rate, self.couple(u0), times, step)
        return self.couple(states)


class PatchScheme1D(_PatchSchemeBase):
    """``num_patches`` periodic patches on ``[0, length)`` (centres ``(I + 1/2) Δ``), ``points``
    micro points each over ``[X_I - rΔ, X_I + rΔ]``; lattice diffusion with the periodic bond
    diffusivities ``bond_diffusivity`` tiled from each patch's first point (or any
    ``micro_rate(u[..., N, n], bonds[n], spacing) -> rate``)."""

    _dims = 1

    def __init__(self, num_patches: int, points: int, ratio: float, *, length: float = 2 * math.pi,
                 order: int = 0, mode: str = "edgy", bond_diffusivity: Sequence[float] = (1.0,),
                 micro_rate: Callable | None = None, dtype: torch.dtype = torch.float64, device="cpu"):
        if isinstance(num_patches, bool) or not isinstance(num_patches, int) or num_patches < 1:
            raise ValueError(f"num_patches must be a positive integer; got {num_patches!r}")
        if isinstance(points, bool) or not isinstance(points, int) or points < 3:
            raise ValueError(f"points must be an integer >= 3; got {points!r}")
        if not (isinstance(ratio, (int, float)) and 0 < ratio and math.isfinite(ratio)):
            raise ValueError(f"ratio (patch half-width / macro spacing) must be positive; got {ratio!r}")
        if not (isinstance(length, (int, float)) and length > 0):
            raise ValueError(f"length must be positive; got {length!r}")
        self.num_patches = (num_patches,)
        self.points = (points,)
        self.ratio = float(ratio)
        self.length = float(length)
        self.order = _check_order(order)
        self.mode = _check_mode(mode)
        self.dtype, self.device = dtype, torch.device(device)
        self.macro_spacing = self.length / num_patches
        self.micro_spacing = 2.0 * self.ratio * self.macro_spacing / (points - 1)
        bonds = tile_heterogeneity(bond_diffusivity, (points,))
        self.bonds = torch.as_tensor(bonds, dtype=dtype, device=self.device)
        self.micro_rate = lattice_diffusion_rate_1d if micro_rate is None else micro_rate

    @property
    def x(self) -> Tensor:
        """Micro-point positions ``[N, n]``."""
        centres = (torch.arange(self.num_patches[0], dtype=torch.float64) + 0.5) * self.macro_spacing
        offsets = (torch.arange(self.points[0], dtype=torch.float64) - (self.points[0] - 1) / 2) * self.micro_spacing
        return (centres[:, None] + offsets[None, :]).to(self.dtype)

    def lift(self, field: Callable[[Tensor], Tensor]) -> Tensor:
        """Micro state from a function of position (evaluated at every micro point)."""
        return field(self.x.to(self.device))

    def couple(self, u: Tensor) -> Tensor:
        return couple_patches_1d(u, self.ratio, self.order, self.mode, periodic=True)

    def _micro(self, u: Tensor) -> Tensor:
        return self.micro_rate(u, self.bonds.to(u.dtype), self.micro_spacing)


class PatchScheme2D(_PatchSchemeBase):
    """``Nx x Ny`` periodic patches on ``[0, Lx) x [0, Ly)``, ``nx x ny`` micro points each, equal
    micro spacing ``h`` in x and y (give ``micro_spacing`` or ``ratio``; ``r = (n - 1) h / (2Δ)``).
    Micro model Eq 25 with the bond cells ``kx_cell``, ``ky_cell`` (``[Px, Py]``, first index = i = x)
    tiled from each patch's first point. ``micro_rate(u[B, nx, ny], kx[B, nx, ny], ky[B, nx, ny],
    spacing=h, boundary="patch")`` (x = axis -2), default :func:`lattice_diffusion_rate_2d` (the
    compiled op); :func:`lattice_diffusion_rate_2d_reference` is the torch version."""

    _dims = 2

    def __init__(self, num_patches: int | tuple[int, int], points: int | tuple[int, int], *,
                 micro_spacing: float | None = None, ratio: float | tuple[float, float] | None = None,
                 length: float | tuple[float, float] = 2 * math.pi, order: int = 0, mode: str = "edgy",
                 kx_cell=((1.0,),), ky_cell=((1.0,),), micro_rate: Callable | None = None,
                 dtype: torch.dtype = torch.float64, device="cpu"):
        nxp, nyp = (num_patches, num_patches) if isinstance(num_patches, int) else tuple(num_patches)
        px, py = (points, points) if isinstance(points, int) else tuple(points)
        for name, v, low in (("num_patches", nxp, 1), ("num_patches", nyp, 1), ("points", px, 3), ("points", py, 3)):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be integers >= {low}; got {v!r}")
        self.num_patches = (nxp, nyp)
        self.points = (px, py)
        lx, ly = _pair(length, "length")
        self.length = (lx, ly)
        self.macro_spacing = (lx / nxp, ly / nyp)
        if (micro_spacing is None) == (ratio is None):
            raise ValueError("give exactly one of micro_spacing (h) and ratio (patch half-width / macro spacing)")
        if micro_spacing is not None:
            h = _check_spacing(micro_spacing)
            self.ratio = ((px - 1) * h / (2 * self.macro_spacing[0]), (py - 1) * h / (2 * self.macro_spacing[1]))
        else:
            rx, ry = _pair(ratio, "ratio")
            if not (rx > 0 and ry > 0):
                raise ValueError(f"ratio must be positive; got {ratio!r}")
            self.ratio = (rx, ry)
        hx = 2 * self.ratio[0] * self.macro_spacing[0] / (px - 1)
        hy = 2 * self.ratio[1] * self.macro_spacing[1] / (py - 1)
        if not math.isclose(hx, hy, rel_tol=1e-12):
            raise ValueError(f"the micro spacing must be equal in x and y (Eq 25 has one h); got {hx} and {hy}")
        self.micro_spacing = hx
        self.order = _check_order(order)
        self.mode = _check_mode(mode)
        self.dtype, self.device = dtype, torch.device(device)
        self.kx = torch.as_tensor(tile_heterogeneity(kx_cell, (px, py)), dtype=dtype, device=self.device)
        self.ky = torch.as_tensor(tile_heterogeneity(ky_cell, (px, py)), dtype=dtype, device=self.device)
        self.micro_rate = lattice_diffusion_rate_2d if micro_rate is None else micro_rate

    @property
    def xy(self) -> tuple[Tensor, Tensor]:
        """Micro-point coordinates broadcastable to the state: x ``[Nx, 1, nx, 1]``, y ``[1, Ny, 1, ny]``."""
        def axis(n_patch, n_pts, big):
            centres = (torch.arange(n_patch, dtype=torch.float64) + 0.5) * big
            offsets = (torch.arange(n_pts, dtype=torch.float64) - (n_pts - 1) / 2) * self.micro_spacing
            return centres[:, None] + offsets[None, :]
        x = axis(self.num_patches[0], self.points[0], self.macro_spacing[0])
        y = axis(self.num_patches[1], self.points[1], self.macro_spacing[1])
        return x[:, None, :, None].to(self.dtype), y[None, :, None, :].to(self.dtype)

    def lift(self, field: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
        x, y = self.xy
        return torch.broadcast_to(field(x.to(self.device), y.to(self.device)), self.state_shape).clone()

    def couple(self, u: Tensor) -> Tensor:
        return couple_patches_2d(u, self.ratio, self.order, self.mode, periodic=True)

    def _micro(self, u: Tensor) -> Tensor:
        batch = u.shape[:-2]
        flat = u.reshape(-1, *u.shape[-2:])
        kx = self.kx.to(u.dtype).expand_as(flat)
        ky = self.ky.to(u.dtype).expand_as(flat)
        du = self.micro_rate(flat, kx, ky, spacing=self.micro_spacing, boundary="patch")
        return du.reshape(*batch, *u.shape[-2:])
