"""The derivative dictionary: a field and its spatial derivatives as input features.

kiyani2022 §3.1 feeds U, U_x, U_xx, U_y, U_yy, ... (up to order 2, 4 and 6 for Allen-Cahn,
Cahn-Hilliard and the phase-field crystal) to an MLP; arbabi2020 uses second-order finite
differences in 1D and FFT derivatives in 2D (with the mixed U_xy).

Finite differences (``method="fd"``) are built on the compiled stencil ops and are second-order
accurate for every derivative order: d/dx is the central 3-point difference, d^2/dx^2 the
3-point stencil, and order n is (d^2/dx^2)^(n//2) (d/dx)^(n%2), a (2*ceil(n/2)+1)-point stencil.
Spectral derivatives (``method="spectral"``) multiply by (i k)^n, with the Nyquist mode of odd
orders set to zero. Both are differentiable.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import torch
from torch import Tensor, nn

from .. import ops
from ..grid import Grid

__all__ = ["DerivativeDictionary"]

AXIS_NAMES = {1: ("x",), 2: ("y", "x"), 3: ("z", "y", "x")}


def _fd_along(u: Tensor, axis: int, order: int, h: float) -> Tensor:
    """d^order u / dx_axis^order with second-order central differences (compiled ops)."""
    if order == 0:
        return u
    v = u.movedim(axis, -1)
    for _ in range(order // 2):
        v = ops.laplacian(v, [h])
    if order % 2:
        v = ops.gradient(v, [h])[..., 0, :]
    return v.movedim(-1, axis)


class DerivativeDictionary(nn.Module):
    """Maps ``u [*batch, *grid]`` to ``[*batch, n_features, *grid]``.

    Features, in order: ``u`` (if ``include_field``), then for each grid axis the derivatives of
    orders 1..``max_order``, then the ``mixed`` terms, each a tuple of per-axis orders (e.g.
    ``(1, 1)`` is U_xy in 2D). :attr:`names` lists them (``"u_xx"``, ``"u_yyyy"``, ``"u_xy"``).
    """

    def __init__(self, grid: Grid, max_order: int = 2, *, mixed: Sequence[Sequence[int]] = (),
                 method: str = "fd", include_field: bool = True):
        super().__init__()
        if method not in ("fd", "spectral"):
            raise ValueError(f"DerivativeDictionary: method must be 'fd' or 'spectral', got {method!r}")
        if not 0 <= max_order <= 6:
            raise ValueError(f"DerivativeDictionary: max_order must be in 0..6, got {max_order}")
        self.grid, self.method, self.max_order = grid, method, max_order
        terms: list[tuple[int, ...]] = [(0,) * grid.ndim] if include_field else []
        for a, n in itertools.product(range(grid.ndim), range(1, max_order + 1)):
            orders = [0] * grid.ndim
            orders[a] = n
            terms.append(tuple(orders))
        for m in mixed:
            m = tuple(int(o) for o in m)
            if len(m) != grid.ndim or min(m) < 0 or sum(m) == 0 or max(m) > 6:
                raise ValueError(f"DerivativeDictionary: mixed term {m} needs {grid.ndim} orders in 0..6")
            terms.append(m)
        if not terms:
            raise ValueError("DerivativeDictionary: no features (max_order = 0 and include_field = False)")
        self.terms = terms
        letters = AXIS_NAMES[grid.ndim]
        # Letters in x, y, z order, as written by hand: (1, 1) in 2D is "u_xy".
        self.names = ["u" if sum(t) == 0 else "u_" + "".join(ax * o for ax, o in reversed(list(zip(letters, t))))
                      for t in terms]

    @property
    def n_features(self) -> int:
        return len(self.terms)

    def forward(self, u: Tensor) -> Tensor:
        self.grid.check_field(u)
        if self.method == "fd":
            feats = []
            for t in self.terms:
                v = u
                for a, n in enumerate(t):
                    v = _fd_along(v, a - self.grid.ndim, n, self.grid.spacing[a])
                feats.append(v)
            return torch.stack(feats, dim=-self.grid.ndim - 1)
        return self._spectral(u)

    def _spectral(self, u: Tensor) -> Tensor:
        g = self.grid
        dims = tuple(range(-g.ndim, 0))
        u_hat = torch.fft.rfftn(u, dim=dims)
        ks = g.wavenumbers(device=u.device, dtype=u.real.dtype)
        nyquist = []
        for a, (k, n) in enumerate(zip(ks, g.shape)):
            # Zero the Nyquist mode for odd derivatives (its derivative is not real).
            mask = torch.ones_like(k)
            if n % 2 == 0:
                idx = n // 2 if a < g.ndim - 1 else -1
                flat = mask.reshape(-1)
                flat[idx] = 0.0
            nyquist.append(mask)
        feats = []
        for t in self.terms:
            symbol = torch.ones((), dtype=u_hat.dtype, device=u.device)
            for a, n in enumerate(t):
                if n:
                    symbol = symbol * (1j * ks[a]) ** n * (nyquist[a] if n % 2 else 1.0)
            feats.append(torch.fft.irfftn(symbol * u_hat, s=g.shape, dim=dims))
        return torch.stack(feats, dim=-g.ndim - 1)

    def extra_repr(self) -> str:
        return f"method={self.method!r}, features={self.names}"
