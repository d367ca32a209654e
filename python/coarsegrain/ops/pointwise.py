"""Fused pointwise ops for spectral steppers (torch.ops.coarsegrain.polynomial / spectral_combine).

An eager framework evaluates ``sum_k c_k u^k`` or ``sum_i w_i * z_i`` with one pass over
memory per operation; these do it in one. Neither has autograd.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .stencil import _check_tensor

__all__ = ["polynomial", "spectral_combine"]


def polynomial(u: Tensor, coeffs: Sequence[float]) -> Tensor:
    """``sum_k coeffs[k] * u**k`` elementwise (1 to 8 coefficients, constant first).

    A stepper op without autograd: a Python autograd layer would cost more per call than the
    work itself on the grids spectral steppers use. For a differentiable polynomial, write it
    with torch operations (see PolynomialEnergy).
    """
    _check_tensor("polynomial", "u", u)
    if torch.is_grad_enabled() and u.requires_grad:
        raise RuntimeError("polynomial: no autograd; call it under torch.no_grad()")
    return torch.ops.coarsegrain.polynomial(u, [float(c) for c in coeffs])


def spectral_combine(terms: Sequence[Tensor], weights: Sequence[Tensor]) -> Tensor:
    """``sum_i weights[i] * terms[i]`` for complex ``terms`` and real ``weights``.

    The weights (float32 for complex64 terms, float64 for complex128) match the trailing
    dimensions of the terms and broadcast over the leading (batch) ones. No autograd.
    """
    terms, weights = list(terms), list(weights)
    for i, t in enumerate(terms):
        _check_tensor("spectral_combine", f"terms[{i}]", t)
    if torch.is_grad_enabled() and any(t.requires_grad for t in terms + weights):
        raise RuntimeError("spectral_combine: no autograd; call it under torch.no_grad()")
    return torch.ops.coarsegrain.spectral_combine(terms, weights)


@torch.library.register_fake("coarsegrain::polynomial")
def _(u, coeffs):
    if u.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"polynomial: u must be a float32 or float64 tensor, got {u.dtype}")
    return u.new_empty(u.shape)


@torch.library.register_fake("coarsegrain::spectral_combine")
def _(terms, weights):
    if not terms or len(terms) != len(weights):
        raise ValueError("spectral_combine: terms and weights must be non-empty and of equal length")
    return terms[0].new_empty(terms[0].shape)
