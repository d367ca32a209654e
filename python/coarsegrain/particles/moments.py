"""Coarse moments of particles on a grid (what molecular-dynamics coarse-graining needs): number,
mass and momentum densities, the mean (streaming) velocity and the kinetic temperature per cell,
from one pass of :func:`coarsegrain.ops.bin_particles` over the stacked per-particle quantities
``[1, m, m v, m |v|^2]``.

Per cell of volume ``V`` with particle weights ``w_p`` (1 in the cell for nearest grid point,
the cloud-in-cell weights otherwise), ``N = sum w``, ``M = sum w m``, ``P = sum w m v`` and
``K2 = sum w m |v|^2``:

* number density ``N / V``, mass density ``M / V``, momentum density ``P / V``;
* mean velocity ``u = P / M`` (0 in cells without mass);
* temperature ``T = (K2 - |P|^2 / M) / (k_B d_v N)``: twice the kinetic energy in the frame that
  moves with the cell's mean velocity, per degree of freedom (``d_v`` velocity components). It
  is Galilean invariant. With equal masses and ``unbiased=True`` (nearest grid point only) the
  divisor is ``k_B d_v (N - 1)``: the cell's own mean velocity takes ``d_v`` degrees of freedom,
  so the estimate of a Maxwellian's temperature is then unbiased. ``T`` is 0 where the divisor
  is not positive (empty cells; cells of one particle when unbiased); ``counts`` says which.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..ops import bin_particles

__all__ = ["CoarseMoments", "coarse_moments"]


@dataclass(frozen=True)
class CoarseMoments:
    """Per-cell moments; grid axes last, velocity components first (``[d_v, *bins]``)."""

    counts: Tensor            # [*bins] (weighted for cloud in cell)
    number_density: Tensor    # [*bins]
    mass_density: Tensor      # [*bins]
    momentum_density: Tensor | None  # [d_v, *bins]
    velocity: Tensor | None          # [d_v, *bins]
    temperature: Tensor | None       # [*bins]
    dropped: int                     # particles outside a non-periodic box


def coarse_moments(positions: Tensor, velocities: Tensor | None = None, masses: Tensor | float | None = None, *,
                   bins: int | Sequence[int], box: float | Sequence[float],
                   origin: float | Sequence[float] | None = None, assignment: str = "ngp", periodic: bool = True,
                   boltzmann: float = 1.0, unbiased: bool = False) -> CoarseMoments:
    """Coarse moments of particles at ``positions [n, d]`` with ``velocities [n, d_v]`` (optional)
    and ``masses`` (``[n]``, a number, or None for 1). See the module docstring for the formulas;
    the other arguments are :func:`coarsegrain.ops.bin_particles`'s."""
    if not isinstance(positions, Tensor) or positions.dim() != 2:
        raise ValueError("coarse_moments: positions must be a tensor [n, d]")
    n, d = positions.shape
    dtype, device = positions.dtype, positions.device
    if unbiased and assignment != "ngp":
        raise ValueError("coarse_moments: unbiased=True needs assignment='ngp' (whole particles per cell)")
    if not (math.isfinite(boltzmann) and boltzmann > 0):
        raise ValueError(f"coarse_moments: boltzmann must be a positive finite number, got {boltzmann}")
    if masses is None or isinstance(masses, (int, float)):
        m = torch.full((n,), 1.0 if masses is None else float(masses), dtype=dtype, device=device)
        if masses is not None and not (math.isfinite(float(masses)) and float(masses) > 0):
            raise ValueError(f"coarse_moments: masses must be positive, got {masses}")
    else:
        m = masses
        if m.shape != (n,) or m.dtype != dtype or m.device != device:
            raise ValueError(f"coarse_moments: masses must be [n] = [{n}] of the positions' dtype and device, got "
                             f"{tuple(m.shape)} {m.dtype} on {m.device}")
    columns = [torch.ones_like(m), m]
    dv = 0
    if velocities is not None:
        if velocities.dim() != 2 or velocities.shape[0] != n or velocities.dtype != dtype \
                or velocities.device != device:
            raise ValueError(f"coarse_moments: velocities must be [n, d_v] with n = {n}, of the positions' dtype and "
                             f"device, got {tuple(velocities.shape)} {velocities.dtype} on {velocities.device}")
        dv = velocities.shape[1]
        mv = m[:, None] * velocities
        columns += [*mv.unbind(1), (mv * velocities).sum(1)]
    sums, dropped = bin_particles(positions, torch.stack(columns, 1), bins=bins, box=box, origin=origin,
                                  assignment=assignment, periodic=periodic, return_dropped=True)
    bins_ = [sums.shape[1 + a] for a in range(d)]
    box_ = [float(box)] * d if isinstance(box, (int, float)) else [float(b) for b in box]
    volume = math.prod(box_[a] / bins_[a] for a in range(d))
    counts, mass = sums[0], sums[1]
    momentum = velocity = temperature = None
    if velocities is not None:
        momentum = sums[2:2 + dv]
        k2 = sums[2 + dv]
        has_mass = mass > 0
        safe_mass = torch.where(has_mass, mass, torch.ones_like(mass))
        velocity = torch.where(has_mass, momentum / safe_mass, torch.zeros_like(momentum))
        thermal = torch.where(has_mass, k2 - (momentum * momentum).sum(0) / safe_mass, torch.zeros_like(k2))
        # Round-off can leave a tiny negative value where all particles of a cell move together.
        thermal = thermal.clamp_min(0)
        dof = dv * (counts - 1 if unbiased else counts)
        ok = dof > 0
        temperature = torch.where(ok, thermal / (boltzmann * torch.where(ok, dof, torch.ones_like(dof))),
                                  torch.zeros_like(thermal))
    return CoarseMoments(counts=counts, number_density=counts / volume, mass_density=mass / volume,
                         momentum_density=None if momentum is None else momentum / volume, velocity=velocity,
                         temperature=temperature, dropped=int(dropped))
