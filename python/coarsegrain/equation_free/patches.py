"""1D patch geometry of the gap-tooth / patch-dynamics schemes (arbabi2020 §3): a macro grid of
tooth centres, each tooth (width ``h``) inside a patch (width ``H >= h``: the tooth and its two
buffers) of cell-centred micro cells, with restriction (Eq 7) and polynomial lifting (Eq 10).

Macro grid. ``boundary="dirichlet"`` (arbabi2020 §5.1): ``n_teeth`` teeth at
``x_i = x0 + i * Dx``, ``i = 1..n_teeth``, ``Dx = (x1 - x0) / (n_teeth + 1)``; the two domain ends
are macro points too, carrying the Dirichlet values (the paper: [0, 1], 9 teeth at 0.1..0.9).
``boundary="periodic"``: ``x_i = x0 + i * Dx``, ``i = 0..n_teeth - 1``, ``Dx = (x1 - x0) / n_teeth``.

Micro cells. ``n_tooth = h / dx`` and ``n_patch = H / dx`` must be integers (to a relative 1e-9;
anything else is refused rather than rounded, so the tooth edges are always cell faces), and
``n_patch - n_tooth`` even, so the tooth sits exactly in the middle of its patch, centred on
``x_i``: patch cell ``j`` is centred at ``x_i + (j + 1/2 - n_patch / 2) dx``.

Restriction: the arithmetic mean of the tooth's cells, which is the exact tooth average (Eq 7) of
a cell-centred finite-volume field (the paper's code, on a node-based grid, uses Simpson's rule;
there is no Simpson option here).

Lifting (Eq 10): per tooth a Taylor polynomial ``sum_k D_k (x - x_i)^k / k!`` of degree ``d``.
The derivatives come from the polynomial of degree ``s - 1`` (``s = 2 ceil(d / 2) + 1`` macro
points: 3 for ``d <= 2``, 5 for ``d <= 4``; centred, shifted inwards next to a Dirichlet end) whose
tooth averages equal the stencil's macro values (the Dirichlet end values are point values):
``p_i^k`` of Eq 8. For ``d = 2`` between teeth this is exactly the centred differences
``D1 = (U_{i+1} - U_{i-1}) / (2 Dx)``, ``D2 = (U_{i+1} - 2 U_i + U_{i-1}) / Dx^2`` (a tooth
average shifts a quadratic by a constant). The constant term is then set so that the tooth
average of the degree-``d`` polynomial is ``U_i`` exactly: ``D_0 = U_i - sum_{k even >= 2}
D_k (h / 2)^k / (k + 1)!`` (``h^2 D2 / 24 + h^4 D4 / 1920``). Each micro cell gets the exact cell
average of the polynomial (the Taylor moments of the cell, no cancellation), so
``restrict(lift(U)) == U`` to round-off and the lift of a polynomial's tooth averages reproduces
the polynomial's cell averages for every degree ``<= d``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = ["PatchGeometry", "BOUNDARIES"]

BOUNDARIES = ("dirichlet", "periodic")


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"PatchGeometry: {name} must be a positive finite number, got {value!r}")
    return float(value)


def _cells(name: str, width: float, dx: float) -> int:
    n = round(width / dx)
    if n < 1 or abs(width / dx - n) > 1e-9 * max(n, 1):
        raise ValueError(f"PatchGeometry: {name} = {width!r} must be a whole number of micro cells dx = {dx!r} "
                         f"(got {width / dx:.12g} cells)")
    return n


def _taylor_moment(offset: np.ndarray, half_width: float, k: int) -> np.ndarray:
    """Average of ``(x - x_i)^k / k!`` over ``[c - w, c + w]`` with ``c = offset``, ``w = half_width``:
    ``sum_{j even <= k} c^{k-j} / (k-j)! * w^j / (j+1)!`` (the exact expansion, no cancellation)."""
    out = np.zeros_like(offset, dtype=np.float64)
    for j in range(0, k + 1, 2):
        out = out + offset ** (k - j) / math.factorial(k - j) * half_width ** j / math.factorial(j + 1)
    return out


class PatchGeometry:
    """Macro grid of teeth and the micro cells of their patches (see the module docstring).

    ``n_teeth``: simulated teeth; ``domain``: ``(x0, x1)``; ``tooth_width``: ``h``;
    ``patch_width``: ``H`` (the tooth plus both buffers, ``h <= H < Dx``); ``dx``: micro cell width;
    ``boundary``: ``"dirichlet"`` (the ends are macro points with given values) or ``"periodic"``.

    Attributes: ``centres`` (float64 numpy ``[N]``), ``macro_dx``, ``n_tooth_cells``,
    ``n_patch_cells``, ``n_buffer_cells`` (each side), ``tooth_slice`` (of the patch cells),
    ``space_fraction`` (``N H / (x1 - x0)``).
    """

    def __init__(self, n_teeth: int = 9, *, domain: tuple[float, float] = (0.0, 1.0), tooth_width: float = 1e-4,
                 patch_width: float = 8e-3, dx: float = 1e-7, boundary: str = "dirichlet"):
        if isinstance(n_teeth, bool) or not isinstance(n_teeth, int) or n_teeth < 1:
            raise ValueError(f"PatchGeometry: n_teeth must be a positive int, got {n_teeth!r}")
        if boundary not in BOUNDARIES:
            raise ValueError(f"PatchGeometry: boundary must be one of {BOUNDARIES}, got {boundary!r}")
        try:
            x0, x1 = (float(v) for v in domain)
        except (TypeError, ValueError):
            raise ValueError(f"PatchGeometry: domain must be (x0, x1), two numbers, got {domain!r}") from None
        if not (math.isfinite(x0) and math.isfinite(x1) and x1 > x0):
            raise ValueError(f"PatchGeometry: domain must be (x0, x1) with finite x0 < x1, got {domain!r}")
        h = _positive("tooth_width", tooth_width)
        big_h = _positive("patch_width", patch_width)
        dx = _positive("dx", dx)
        if h > big_h:
            raise ValueError(f"PatchGeometry: tooth_width (h = {h!r}) must not exceed patch_width (H = {big_h!r})")
        self.n_teeth = n_teeth
        self.domain = (x0, x1)
        self.boundary = boundary
        self.tooth_width, self.patch_width, self.dx = h, big_h, dx
        self.macro_dx = (x1 - x0) / (n_teeth + 1 if boundary == "dirichlet" else n_teeth)
        first = 1 if boundary == "dirichlet" else 0
        self.centres = x0 + self.macro_dx * np.arange(first, first + n_teeth, dtype=np.float64)
        if big_h > self.macro_dx * (1 + 1e-12):
            raise ValueError(f"PatchGeometry: patches overlap: patch_width (H = {big_h!r}) must not exceed the "
                             f"tooth spacing Dx = {self.macro_dx!r}")
        self.n_tooth_cells = _cells("tooth_width", h, dx)
        self.n_patch_cells = _cells("patch_width", big_h, dx)
        if (self.n_patch_cells - self.n_tooth_cells) % 2:
            raise ValueError(f"PatchGeometry: patch_width - tooth_width must be an even number of cells dx to centre "
                             f"the tooth, got {self.n_patch_cells} - {self.n_tooth_cells} cells")
        self.n_buffer_cells = (self.n_patch_cells - self.n_tooth_cells) // 2
        self.tooth_slice = slice(self.n_buffer_cells, self.n_buffer_cells + self.n_tooth_cells)
        self.space_fraction = n_teeth * big_h / (x1 - x0)
        # cell-centre offsets from the tooth centre, the same in every patch
        self.cell_offsets = (np.arange(self.n_patch_cells, dtype=np.float64) + 0.5 - self.n_patch_cells / 2) * dx
        self.face_offsets = (np.arange(self.n_patch_cells + 1, dtype=np.float64) - self.n_patch_cells / 2) * dx
        self._weights: dict[int, np.ndarray] = {}
        self._basis: dict[tuple, Tensor] = {}

    def __repr__(self) -> str:
        return (f"PatchGeometry(n_teeth={self.n_teeth}, domain={self.domain}, tooth_width={self.tooth_width}, "
                f"patch_width={self.patch_width}, dx={self.dx}, boundary={self.boundary!r})")

    # --- positions -------------------------------------------------------------------------------

    def cell_centres(self) -> np.ndarray:
        """Micro cell centres ``[N, n_patch]`` (float64)."""
        return self.centres[:, None] + self.cell_offsets[None, :]

    def face_positions(self) -> np.ndarray:
        """Micro cell faces ``[N, n_patch + 1]`` (float64); faces 0 and ``n_patch`` are the buffer edges."""
        return self.centres[:, None] + self.face_offsets[None, :]

    def macro_points(self) -> np.ndarray:
        """Macro grid with the Dirichlet ends: ``[N + 2]`` (``[N]`` when periodic)."""
        if self.boundary == "periodic":
            return self.centres.copy()
        return np.concatenate([[self.domain[0]], self.centres, [self.domain[1]]])

    # --- checks ----------------------------------------------------------------------------------

    def check_macro(self, name: str, U: Tensor) -> None:
        if not isinstance(U, Tensor):
            raise TypeError(f"{name} must be a torch tensor [*batch, n_teeth], got {type(U).__name__}")
        if U.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name} must be float32 or float64, got {U.dtype}")
        if U.dim() < 1 or U.shape[-1] != self.n_teeth:
            raise ValueError(f"{name} must be [*batch, n_teeth = {self.n_teeth}], got shape {tuple(U.shape)}")
        if not bool(torch.isfinite(U).all()):
            raise ValueError(f"{name} must be finite (it has NaN or inf entries)")

    def check_boundary_values(self, boundary_values, U: Tensor) -> Tensor | None:
        """``[*batch, 2]`` (left, right) Dirichlet values in U's dtype/device; None when periodic."""
        if self.boundary == "periodic":
            if boundary_values is not None:
                raise ValueError("boundary_values must be None for a periodic geometry")
            return None
        if boundary_values is None:
            raise ValueError("boundary_values must be given for a Dirichlet geometry: [*batch, 2] (left, right)")
        bv = torch.as_tensor(boundary_values, dtype=U.dtype, device=U.device)
        batch = tuple(U.shape[:-1])
        if bv.dim() < 1 or bv.shape[-1] != 2:
            raise ValueError(f"boundary_values must be [*batch, 2] (left, right), got shape {tuple(bv.shape)}")
        try:
            bv = torch.broadcast_to(bv, (*batch, 2))
        except RuntimeError:
            raise ValueError(f"boundary_values must broadcast to [*batch, 2] = {[*batch, 2]}, got shape "
                             f"{tuple(bv.shape)}") from None
        if not bool(torch.isfinite(bv).all()):
            raise ValueError("boundary_values must be finite (it has NaN or inf entries)")
        return bv

    def check_micro(self, name: str, u: Tensor) -> None:
        if not isinstance(u, Tensor):
            raise TypeError(f"{name} must be a torch tensor [*batch, n_teeth, n_patch_cells], got {type(u).__name__}")
        if u.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name} must be float32 or float64, got {u.dtype}")
        if u.dim() < 2 or tuple(u.shape[-2:]) != (self.n_teeth, self.n_patch_cells):
            raise ValueError(f"{name} must be [*batch, n_teeth = {self.n_teeth}, n_patch_cells = "
                             f"{self.n_patch_cells}], got shape {tuple(u.shape)}")

    # --- restriction and lifting -----------------------------------------------------------------

    def restrict(self, u_micro: Tensor) -> Tensor:
        """Tooth averages ``[*batch, N]`` of micro cells ``[*batch, N, n_patch]`` (Eq 7)."""
        self.check_micro("u_micro", u_micro)
        return u_micro[..., self.tooth_slice].mean(dim=-1)

    def derivative_weights(self, degree: int) -> np.ndarray:
        """``W [N, degree + 1, M]`` with ``D[..., i, k] = sum_m W[i, k, m] V[..., m]``, ``V`` the macro values
        including the Dirichlet ends (``M = N + 2``; ``M = N`` when periodic); ``D[..., 0]`` is the
        tooth-average-corrected constant term."""
        if isinstance(degree, bool) or not isinstance(degree, int) or not 0 <= degree <= 4:
            raise ValueError(f"degree must be an int in 0..4, got {degree!r}")
        if degree in self._weights:
            return self._weights[degree]
        size = 2 * math.ceil(degree / 2) + 1
        n, dxm, h = self.n_teeth, self.macro_dx, self.tooth_width
        periodic = self.boundary == "periodic"
        n_values = n if periodic else n + 2
        if size > n_values:
            raise ValueError(f"lift degree {degree} needs {size} macro points, the grid has {n_values}")
        weights = np.zeros((n, degree + 1, n_values))
        half = size // 2
        for i in range(n):
            node = i if periodic else i + 1  # index of tooth i among the macro values
            if periodic:
                nodes = [node + j for j in range(-half, half + 1)]
            else:
                start = min(max(node - half, 0), n_values - size)
                nodes = list(range(start, start + size))
            offsets = np.array([(m - node) * dxm for m in nodes])
            half_widths = np.array([0.0 if (not periodic and m in (0, n_values - 1)) else h / 2 for m in nodes])
            moments = np.array([[_taylor_moment(np.array([o]), w, k)[0] for k in range(size)]
                                for o, w in zip(offsets, half_widths)])  # [node, k]: average of (x - x_i)^k / k!
            inverse = np.linalg.inv(moments)  # row k: the weights of derivative k
            columns = [m % n if periodic else m for m in nodes]
            for k in range(1, degree + 1):
                np.add.at(weights[i, k], columns, inverse[k])
            # constant term: tooth average of the truncated polynomial equals U_i
            weights[i, 0, node % n if periodic else node] += 1.0
            for k in range(2, degree + 1, 2):
                weights[i, 0] -= _taylor_moment(np.zeros(1), h / 2, k)[0] * weights[i, k]
        self._weights[degree] = weights
        return weights

    def macro_derivatives(self, U: Tensor, degree: int = 2, boundary_values=None) -> Tensor:
        """Taylor coefficients ``D [*batch, N, degree + 1]`` of the lift (``D[..., 0]`` the corrected constant)."""
        self.check_macro("U", U)
        bv = self.check_boundary_values(boundary_values, U)
        values = U if bv is None else torch.cat([bv[..., :1], U, bv[..., 1:]], dim=-1)
        w = torch.as_tensor(self.derivative_weights(degree), dtype=U.dtype, device=U.device)
        return torch.einsum("ikm,...m->...ik", w, values)

    def _cell_basis(self, degree: int, dtype, device) -> Tensor:
        key = (degree, dtype, device)
        if key not in self._basis:
            basis = np.stack([_taylor_moment(self.cell_offsets, self.dx / 2, k) for k in range(degree + 1)], axis=0)
            self._basis[key] = torch.as_tensor(basis, dtype=dtype, device=device)
        return self._basis[key]

    def lift(self, U: Tensor, degree: int = 2, boundary_values=None, *, return_edges: bool = False):
        """Micro cells ``[*batch, N, n_patch]``: each cell the exact average of the tooth's Taylor polynomial
        (Eq 10) of ``degree`` (0..4). With ``return_edges`` also ``(left, right)``, each ``[*batch, N]``: the
        polynomial's point values at the buffer edges ``x_i -+ H / 2`` (the walls of the micro burst)."""
        D = self.macro_derivatives(U, degree, boundary_values)
        u = D @ self._cell_basis(degree, U.dtype, U.device)
        if not return_edges:
            return u
        half = self.patch_width / 2
        powers = torch.as_tensor([half ** k / math.factorial(k) for k in range(degree + 1)], dtype=U.dtype,
                                 device=U.device)
        signs = torch.as_tensor([(-1.0) ** k for k in range(degree + 1)], dtype=U.dtype, device=U.device)
        return u, (D * (powers * signs)).sum(-1), (D * powers).sum(-1)
