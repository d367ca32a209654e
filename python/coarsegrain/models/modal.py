"""Operator regression in modal space (patel2021 §2.3-3, Eq 11-15 and Eq 27).

One step of the learned dynamics is ``u <- u + L(u)`` with, for every output field ``i``,

    L_i(u) = Π_i⁻¹ [ Σ_k g_ik(κ) · Π_i h_ik(u; γ) ]

where Π_i is the modal transform of field ``i``'s boundary condition (periodic: Fourier,
``rfftn`` half spectrum; Neumann: cosine, DCT-II; Dirichlet: sine, DST-II; see
:mod:`coarsegrain.transforms`), ``g_ik`` a network of the wavenumber vector κ (the *symbol*) and
``h_ik`` a point-wise network of all fields at a point (and of the simulation parameters γ when
the model has them). The frame spacing Δt is absorbed into g: :meth:`ModalOperator.step` is the
discrete update the paper trains, :meth:`ModalOperator.rhs` = L(u) / Δt the continuous-time form
for the rollout integrators.

Inductive biases (each selectable on its own):

* ``conservation`` -- g(0) = 0 exactly: the symbol is multiplied by a mask that is 0 at κ = 0
  (Eq 15), so the spatial mean of a conserved field never changes (Fourier and cosine bases;
  a sine series has no mean mode, so a Dirichlet field cannot be conserved this way).
* ``reflection`` -- h(-u) = -h(u) (item 1 of §3). ``"odd"`` (or ``True``) uses
  h(u) = (ĥ(u) - ĥ(-u)) / 2, which is exactly odd in floating point, smooth at u = 0 and works
  for an h of several fields; ``"sign"`` is the paper's h(u) = sign(u) ĥ(|u|) (one field only; it
  jumps at u = 0 unless ĥ(0) = 0). γ is not reflected.
* ``isotropic`` -- g depends on |κ| only (Eq 14).

Real operators need a Hermitian symbol on the Fourier basis, g(-κ) = conj g(κ): the real part
even in κ, the imaginary part odd. The model enforces this by symmetrizing the network's two
outputs over ±κ (an ``rfftn`` half spectrum holds both κ and -κ on its κ_last = 0 plane, where a
non-Hermitian symbol would otherwise be silently projected by ``irfftn``). An isotropic symbol is
even, so Hermitian means real: the isotropic Fourier symbol has no imaginary part (an imaginary
ĝ(|κ|) would act as i·sign(κ_last)·ĝ through ``irfftn``, which is not isotropic). Cosine and
sine symbols are real.

Networks: ``depth`` hidden layers of ``width`` units each (``width`` is the width -- the public
code swaps the two), ``activation`` (ELU as the paper) after every hidden layer, a linear output.
With simulation parameters the first layer is Dense(x) + Dense(γ) (one bias) -> activation.

Gauge: g·Π h is unchanged by g -> c g, h -> h / c, and an offset of h only moves the κ = 0 mode.
:meth:`ModalOperator.gauge_fixed` returns g and h with h(0) = 0 and h'(0) = 1 (or h''(0) = 2,
the paper's convention for Burgers' u²), so learned g and h can be drawn beside exact ones (heat
equation with frame spacing Δt: g(κ) = exp(-|κ|² Δt) - 1, h(u) = u).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from ..ops.pointwise_mlp import MLP_ACTIVATIONS, MLP_LIMITS, flatten_layers, pointwise_mlp

__all__ = ["ModalOperator", "ModalMLP", "GaugeFixed", "BOUNDARY_BASES"]

# Boundary condition of a field -> the kind of modal basis of coarsegrain.transforms.
BOUNDARY_BASES = {"periodic": "fourier", "neumann": "cosine", "dirichlet": "sine"}

_ACTIVATIONS = {"elu": nn.ELU, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU,
                "softplus": nn.Softplus}
INITS = ("glorot", "torch")


def _make_basis(kind: str, shape: tuple[int, ...], length: tuple[float, ...], dtype, device):
    from .. import transforms  # imported at use: the transforms module is optional at import time

    return transforms.basis(kind, shape, length, dtype=dtype, device=device)


class ModalMLP(nn.Module):
    """``n_in -> n_out`` MLP applied along the last axis: ``depth`` hidden layers of ``width``
    units, ``activation`` after each, a linear output layer.

    With ``n_params > 0`` the first layer is ``Dense(x) + Dense(γ)`` (the second without bias)
    followed by the activation; γ ``[..., n_params]`` broadcasts against x ``[..., n_in]``.
    Parameters: n_in·W + W + n_params·W + (depth - 1)(W² + W) + W·n_out + n_out.

    ``init="glorot"`` (default) draws every weight matrix Glorot-uniform and zeroes the biases:
    the defaults of the Keras ``Dense`` layers the paper's networks are built from. ``"torch"``
    keeps PyTorch's ``nn.Linear`` default (weights and biases uniform in ±1/sqrt(fan_in)). The two
    differ in practice: with a one-sided input such as |κ| ∈ [0, 10], PyTorch's random biases put
    some units in ELU's saturated branch over the whole input range (patel2021 §4's isotropic
    Laplacian at N = 12,800, one Adam epoch: relative error 1.6-2.9e-2 with "torch", 0.50-1.26e-2
    with "glorot", over seeds and rates 1e-2 to 3e-2).

    ``compiled=True`` (default) evaluates an ELU or tanh network within the limits of
    :func:`coarsegrain.ops.pointwise_mlp` (width <= 16, depth <= 8, up to 8 inputs and outputs) with
    that op: a point's whole network at once, forward and backward, instead of one pass over memory
    per layer and activation (the width-4 h of patel2021 over a training batch: ~5x faster on the
    CPU). The op has first derivatives only; ``compiled=False`` evaluates with torch operations,
    for second derivatives.
    """

    def __init__(self, n_in: int, n_out: int, *, width: int, depth: int, n_params: int = 0,
                 activation: str = "elu", init: str = "glorot", compiled: bool = True):
        super().__init__()
        if width < 1 or depth < 1:
            raise ValueError(f"width and depth must be >= 1, got width={width}, depth={depth}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(_ACTIVATIONS)}, got {activation!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
        self.n_in, self.n_out, self.width, self.depth, self.n_params = n_in, n_out, width, depth, n_params
        self.activation = activation
        self.compiled = compiled
        self.first = nn.Linear(n_in, width)
        self.params_in = nn.Linear(n_params, width, bias=False) if n_params > 0 else None
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.out = nn.Linear(width, n_out)
        self.act = _ACTIVATIONS[activation]()
        if init == "glorot":
            for layer in self.modules():
                if isinstance(layer, nn.Linear):
                    nn.init.xavier_uniform_(layer.weight)
                    if layer.bias is not None:
                        nn.init.zeros_(layer.bias)

    def uses_compiled_op(self, x: Tensor) -> bool:
        """Whether :meth:`forward` on ``x`` runs :func:`coarsegrain.ops.pointwise_mlp`: with
        ``compiled`` (the default), an ELU or tanh network within the op's limits, float32/float64
        on the CPU (or on CUDA in a build with CUDA ops)."""
        if not self.compiled or self.activation not in MLP_ACTIVATIONS:
            return False
        if (self.n_in + self.n_params > MLP_LIMITS["n_in"] or self.width > MLP_LIMITS["width"]
                or self.depth > MLP_LIMITS["depth"] or self.n_out > MLP_LIMITS["n_out"]):
            return False
        if x.dtype not in (torch.float32, torch.float64) or x.dtype != self.first.weight.dtype:
            return False
        if x.device.type == "cuda":
            from .._build_info import cuda_ops_compiled

            return cuda_ops_compiled()
        return x.device.type == "cpu"

    def flat_parameters(self) -> Tensor:
        """The network as :func:`coarsegrain.ops.pointwise_mlp` takes it (γ's weights appended to
        the first layer's as extra input columns); differentiable, so gradients reach the layers."""
        first_w = self.first.weight if self.params_in is None else torch.cat([self.first.weight,
                                                                              self.params_in.weight], dim=1)
        return torch.cat([first_w.reshape(-1), self.first.bias, flatten_layers([*self.hidden, self.out])])

    def forward(self, x: Tensor, params: Tensor | None = None) -> Tensor:
        lead = x.shape[:-1]
        if self.params_in is not None:
            if params is None:
                raise ValueError(f"this network takes {self.n_params} simulation parameters; none were given")
            lead = torch.broadcast_shapes(lead, params.shape[:-1])  # x and γ broadcast against each other
            x = x.expand(*lead, self.n_in)
        if self.uses_compiled_op(x):
            if self.params_in is not None:
                x = torch.cat([x, params.to(x.dtype).expand(*lead, self.n_params)], dim=-1)
            return pointwise_mlp(x.reshape(-1, x.shape[-1]), self.flat_parameters(), width=self.width,
                                 depth=self.depth, n_out=self.n_out,
                                 activation=self.activation).reshape(*lead, self.n_out)
        # Points as columns: every layer is one [W, W] x [W, points] product. The row layout that
        # nn.Linear uses ([points, W] x [W, W]) is a tall, 4-wide product that BLAS runs about 4x
        # slower, and it is most of the cost of h over a whole data set (same weights, same result).
        cols = x.reshape(-1, self.n_in).T
        z = torch.addmm(self.first.bias[:, None], self.first.weight, cols)
        if self.params_in is not None:
            z = z + self.params_in.weight @ params.expand(*lead, self.n_params).reshape(-1, self.n_params).T
        z = self.act(z)
        for layer in self.hidden:
            z = self.act(torch.addmm(layer.bias[:, None], layer.weight, z))
        out = torch.addmm(self.out.bias[:, None], self.out.weight, z)
        return out.T.reshape(*lead, self.n_out)


@dataclass
class GaugeFixed:
    """A term's symbol and point-wise function in a fixed gauge (see :meth:`ModalOperator.gauge_fixed`).

    ``kappa`` [*coef, ndim] wavenumbers, ``magnitude`` [*coef] |κ|, ``symbol`` [*coef] g·c
    (complex on the Fourier basis), ``u`` [n] sample values of the field, ``h`` [n] (h(u) - h(0)) / c,
    ``scale`` c (h'(0), or h''(0)/2), ``offset`` h(0).
    """

    kappa: Tensor
    magnitude: Tensor
    symbol: Tensor
    u: Tensor
    h: Tensor
    scale: float
    offset: float


def _per_field(value, n_fields: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n_fields:
            raise ValueError(f"{name} has {len(value)} entries for {n_fields} fields")
        return list(value)
    return [value] * n_fields


class ModalOperator(nn.Module):
    """L(u) = Π⁻¹ g(κ) Π h(u), summed over ``terms`` per output field (patel2021 Eq 11-12, 27).

    Args:
        ndim: spatial dimensions; fields are ``[batch, n_fields, *grid]`` with ``ndim`` grid axes.
        length: domain length per axis (one number for all). Wavenumbers are 2πj/L (Fourier) and
            πj/L (cosine/sine) as :mod:`coarsegrain.transforms` defines them; the grid shape comes
            from the input, so one model runs on any resolution of the same domain.
        n_fields: number of fields.
        boundary: ``"periodic"``, ``"neumann"`` or ``"dirichlet"``, or one per field.
        terms: K, the number of terms g_k Π h_k summed for each output field (Eq 27).
        width, depth: hidden units per layer and number of hidden layers of every g and h network.
        n_params: number of simulation parameters γ (``forward(u, params)`` with params ``[batch, n_params]``).
        conservation: bool, or one bool per field: mask g at κ = 0.
        reflection: False, True/``"odd"`` or ``"sign"``: h odd in u (see the module docstring).
        isotropic: g a function of |κ| only.
        symbol_params: g also sees γ (Eq 27's g(κ; γ)); by default only h does, as the public code.
        pointwise: ``"mlp"`` or ``"identity"`` (h_ik(u) = u_i: a linear model).
        activation: hidden activation of the networks (ELU as the paper).
        init: ``"glorot"`` (the paper's Keras defaults) or ``"torch"``: see :class:`ModalMLP`.
        dt: frame spacing Δt of the data; :meth:`rhs` = L(u) / dt.
        compiled: evaluate the networks with the compiled point-wise op where it applies (see
            :class:`ModalMLP`; False for second derivatives).

    ``g[i][k]`` and ``h[i][k]`` are the raw networks of field ``i``, term ``k`` (modules that can be
    replaced, e.g. by a known function): ``g`` maps features ``[..., ndim]`` (κ) or ``[..., 1]``
    (|κ| when isotropic) to ``[..., 2]`` (real and imaginary parts; Fourier, not isotropic) or
    ``[..., 1]``; ``h`` maps ``[..., n_fields]`` to ``[..., 1]``. Both take ``params`` as a second
    argument when the model has simulation parameters. The biases are applied around them.
    """

    def __init__(self, ndim: int, length: float | Sequence[float], *, n_fields: int = 1,
                 boundary: str | Sequence[str] = "periodic", terms: int = 1, width: int = 4, depth: int = 4,
                 n_params: int = 0, conservation: bool | Sequence[bool] = False,
                 reflection: bool | str = False, isotropic: bool = False, symbol_params: bool = False,
                 pointwise: str = "mlp", activation: str = "elu", init: str = "glorot", dt: float = 1.0,
                 compiled: bool = True):
        super().__init__()
        if ndim < 1:
            raise ValueError(f"ndim must be >= 1, got {ndim}")
        if n_fields < 1 or terms < 1:
            raise ValueError(f"n_fields and terms must be >= 1, got {n_fields} and {terms}")
        lengths = tuple(float(x) for x in (length if isinstance(length, (list, tuple)) else [length] * ndim))
        if len(lengths) != ndim or not all(x > 0 for x in lengths):
            raise ValueError(f"length must be one positive number or {ndim} of them, got {length!r}")
        boundaries = [str(b).lower() for b in _per_field(boundary, n_fields, "boundary")]
        for b in boundaries:
            if b not in BOUNDARY_BASES:
                raise ValueError(f"boundary must be one of {', '.join(BOUNDARY_BASES)}, got {b!r}")
        conserved = [bool(c) for c in _per_field(conservation, n_fields, "conservation")]
        for i, (b, c) in enumerate(zip(boundaries, conserved)):
            if c and b == "dirichlet":
                raise ValueError(f"field {i} has a Dirichlet boundary: a sine series has no κ = 0 mode, so "
                                 "conservation cannot be imposed through the symbol")
        if reflection is True:
            reflection = "odd"
        if reflection not in (False, None, "odd", "sign"):
            raise ValueError(f"reflection must be False, True, 'odd' or 'sign', got {reflection!r}")
        if reflection == "sign" and n_fields != 1:
            raise ValueError("reflection='sign' (h = sign(u) ĥ(|u|)) needs one field; use reflection='odd'")
        if pointwise not in ("mlp", "identity"):
            raise ValueError(f"pointwise must be 'mlp' or 'identity', got {pointwise!r}")
        if not dt > 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        if symbol_params and n_params < 1:
            raise ValueError("symbol_params needs n_params >= 1")
        self.ndim, self.lengths, self.n_fields, self.terms = ndim, lengths, n_fields, terms
        self.boundaries, self.conserved = boundaries, conserved
        self.reflection = reflection or None
        self.isotropic, self.symbol_params, self.pointwise = bool(isotropic), bool(symbol_params), pointwise
        self.width, self.depth, self.n_params, self.dt = width, depth, n_params, float(dt)
        self.channels = n_fields  # what the trainers check against the data
        n_in_g = 1 if self.isotropic else ndim
        self.g = nn.ModuleList()
        self.h = nn.ModuleList()
        for b in boundaries:
            n_out_g = 2 if BOUNDARY_BASES[b] == "fourier" and not self.isotropic else 1
            self.g.append(nn.ModuleList(
                ModalMLP(n_in_g, n_out_g, width=width, depth=depth, n_params=n_params if symbol_params else 0,
                         activation=activation, init=init, compiled=compiled) for _ in range(terms)))
            self.h.append(nn.ModuleList(
                ModalMLP(n_fields, 1, width=width, depth=depth, n_params=n_params, activation=activation, init=init,
                         compiled=compiled)
                for _ in range(terms)) if pointwise == "mlp" else nn.ModuleList())
        self._bases: dict = {}

    # --- pieces --------------------------------------------------------------------------------

    def basis(self, field: int, shape: Sequence[int], *, dtype=torch.float64, device=None):
        """The modal basis of ``field`` on a grid of ``shape`` (cached)."""
        kind = BOUNDARY_BASES[self.boundaries[field]]
        key = (kind, tuple(int(s) for s in shape), dtype, str(device))
        if key not in self._bases:
            self._bases[key] = _make_basis(kind, key[1], self.lengths, dtype, device)
        return self._bases[key]

    def wavenumbers(self, field: int, shape: Sequence[int], *, dtype=torch.float64, device=None) -> Tensor:
        """κ ``[*coef, ndim]`` on the coefficient grid of ``field`` for a grid of ``shape``."""
        b = self.basis(field, shape, dtype=dtype, device=device)
        ks = torch.broadcast_tensors(*[k.to(dtype) for k in b.wavenumbers()])
        return torch.stack(ks, dim=-1)

    def _nyquist(self, shape: Sequence[int], device) -> Tensor:
        """``[*coef, ndim]`` bools: the Nyquist index of each even-length axis (rfftn layout)."""
        coef = [*shape[:-1], shape[-1] // 2 + 1]
        masks = []
        for a, n in enumerate(shape):
            m = torch.zeros(coef[a], dtype=torch.bool, device=device)
            if n % 2 == 0:
                m[n // 2] = True
            view = [1] * self.ndim
            view[a] = -1
            masks.append(m.reshape(view).expand(coef))
        return torch.stack(masks, dim=-1)

    def _check_params(self, u: Tensor, params: Tensor | None) -> Tensor | None:
        if self.n_params == 0:
            if params is not None:
                raise ValueError("this model takes no simulation parameters (n_params = 0)")
            return None
        if params is None:
            raise ValueError(f"this model takes {self.n_params} simulation parameters: forward(u, params)")
        params = torch.as_tensor(params, dtype=u.dtype, device=u.device)
        if params.dim() == 1:
            params = params.expand(u.shape[0], -1)
        if params.shape != (u.shape[0], self.n_params):
            raise ValueError(f"params must be [batch={u.shape[0]}, n_params={self.n_params}], got {tuple(params.shape)}")
        return params

    def symbol(self, field: int, term: int, shape: Sequence[int], params: Tensor | None = None, *,
               dtype=torch.float64, device=None) -> Tensor:
        """g of ``field``, ``term`` on the coefficient grid of ``shape``, biases applied:
        ``[*coef]`` (``[batch, *coef]`` when g sees γ); complex on the Fourier basis."""
        kappa = self.wavenumbers(field, shape, dtype=dtype, device=device)
        fourier = BOUNDARY_BASES[self.boundaries[field]] == "fourier"
        net = self.g[field][term]
        p = None
        if self.symbol_params:
            if params is None:
                raise ValueError("this model's symbols take simulation parameters")
            p = params.to(dtype).reshape(params.shape[0], *([1] * self.ndim), params.shape[-1])
        args = (p,) if p is not None else ()
        mag = kappa.square().sum(-1, keepdim=True).sqrt()
        feats = kappa if p is None else kappa[None]  # a batch axis to meet γ's
        if self.isotropic:
            g = net(mag if p is None else mag[None], *args)[..., 0]
        elif fourier:
            # The grid partner of mode κ is -κ, except on a Nyquist line (even n, index n/2), where
            # it is the mode itself: that component keeps one sign in both evaluations, so that
            # g(partner) = conj g(κ) holds exactly on the grid.
            nyq = self._nyquist(shape, kappa.device)
            pos = torch.where(nyq, feats.abs(), feats)
            neg = torch.where(nyq, feats.abs(), -feats)
            both = net(torch.stack([pos, neg]), *((p[None],) if p is not None else ()))
            re = 0.5 * (both[0, ..., 0] + both[1, ..., 0])  # even in κ
            im = 0.5 * (both[0, ..., 1] - both[1, ..., 1])  # odd in κ
            g = torch.complex(re, im)
        else:
            g = net(feats, *args)[..., 0]
        if fourier and g.is_floating_point():
            g = torch.complex(g, torch.zeros_like(g))
        if self.conserved[field]:
            g = g * (mag[..., 0] != 0).to(mag.dtype)
        return g

    def pointwise_values(self, field: int, term: int, u: Tensor, params: Tensor | None = None) -> Tensor:
        """h of ``field``, ``term`` at every point: ``[batch, *grid]`` from u ``[batch, n_fields, *grid]``."""
        if self.pointwise == "identity":
            return u[:, field]
        net = self.h[field][term]
        x = u.movedim(1, -1)  # [batch, *grid, n_fields]
        args = ()
        if params is not None:
            args = (params.reshape(params.shape[0], *([1] * self.ndim), params.shape[-1]),)
        if self.reflection == "odd":
            # One pass over [x, -x]: exactly odd, since a - b == -(b - a) in floating point.
            both = net(torch.stack([x, -x]), *((args[0][None],) if args else ()))[..., 0]
            return 0.5 * (both[0] - both[1])
        if self.reflection == "sign":
            return torch.sign(x[..., 0]) * net(x.abs(), *args)[..., 0]
        return net(x, *args)[..., 0]

    # --- the operator --------------------------------------------------------------------------

    def forward(self, u: Tensor, params: Tensor | None = None) -> Tensor:
        """L(u): the increment of one frame, ``[batch, n_fields, *grid]`` (Δt absorbed into g)."""
        if u.dim() != self.ndim + 2 or u.shape[1] != self.n_fields:
            raise ValueError(f"expected fields [batch, n_fields={self.n_fields}, {self.ndim} grid axes], "
                             f"got {tuple(u.shape)}")
        params = self._check_params(u, params)
        shape = tuple(u.shape[2:])
        outs = []
        for i in range(self.n_fields):
            b = self.basis(i, shape, dtype=u.dtype, device=u.device)
            hs = torch.stack([self.pointwise_values(i, k, u, params) for k in range(self.terms)], dim=1)
            coef = b.forward(hs)  # [batch, K, *coef]
            gs = torch.stack([self.symbol(i, k, shape, params, dtype=u.dtype, device=u.device)
                              for k in range(self.terms)], dim=-self.ndim - 1)  # [(batch,) K, *coef]
            outs.append(b.inverse((gs * coef).sum(1)))
        return torch.stack(outs, dim=1).to(u.dtype)

    def step(self, u: Tensor, params: Tensor | None = None) -> Tensor:
        """One frame of the discrete dynamics: u + L(u)."""
        return u + self(u, params)

    def rollout(self, u0: Tensor, steps: int, params: Tensor | None = None) -> Tensor:
        """``[batch, steps + 1, n_fields, *grid]``: u0 and ``steps`` applications of :meth:`step`."""
        frames = [u0]
        for _ in range(steps):
            frames.append(self.step(frames[-1], params))
        return torch.stack(frames, dim=1)

    def rhs(self, u: Tensor, t: float | None = None, params: Tensor | None = None) -> Tensor:
        """L(u) / Δt: a time derivative for :func:`coarsegrain.rollout.rollout` and
        :func:`~coarsegrain.rollout.solve_ivp_rollout`, which call ``rhs(u)`` (the dynamics are
        autonomous; ``t`` is accepted and ignored)."""
        return self(u, params) / self.dt

    @torch.no_grad()
    def max_amplification(self, shape: Sequence[int], u: Tensor, params: Tensor | None = None) -> float:
        """``max |1 + Σ_k g_k(κ) h_k'(u)|`` over the modes of a grid of ``shape`` and the values ``u``
        of a one-field model: the growth per :meth:`step` of the update linearized about the uniform
        state u. Above 1 a small perturbation of that mode grows at that state; a dissipative update
        (heat equation: h' = 1, g = e^{−κ²Δt} − 1) stays at or below 1. Gauge-free (g·h' is what the
        update applies); h' by central differences of 1e-6·max(|u|, 1), all in float64. ``params``: one
        parameter vector ``[n_params]``."""
        if self.n_fields != 1:
            raise ValueError(f"max_amplification needs a one-field model (this one has {self.n_fields}): "
                             "the linearization of several fields is a matrix per mode")
        first = next(self.parameters(), None)
        model = self if first is None or first.dtype == torch.float64 else _float64_copy(self)
        device = first.device if first is not None else None
        u = torch.as_tensor(u, dtype=torch.float64, device=device).reshape(-1)
        p = None
        if self.n_params:
            if params is None:
                raise ValueError("this model takes simulation parameters: max_amplification(..., params=[...])")
            p = torch.as_tensor(params, dtype=torch.float64, device=device).reshape(1, self.n_params)
        eps = 1e-6 * max(float(u.abs().max()), 1.0)
        probe = torch.cat([u - eps, u + eps]).reshape(-1, 1, *([1] * self.ndim))
        pp = p.expand(probe.shape[0], -1) if p is not None else None
        total = 0
        for k in range(self.terms):
            h = model.pointwise_values(0, k, probe, pp).reshape(2, -1)
            g = model.symbol(0, k, shape, p, dtype=torch.float64, device=device).reshape(-1)
            total = total + g[:, None] * ((h[1] - h[0]) / (2 * eps))[None, :]
        return float((1 + total).abs().max())

    # --- reporting -----------------------------------------------------------------------------

    @torch.no_grad()
    def gauge_fixed(self, shape: Sequence[int], *, field: int = 0, term: int = 0, u: Tensor | None = None,
                    params: Tensor | None = None, convention: str = "slope") -> GaugeFixed:
        """g and h of one term in a fixed gauge, for plots against exact ones.

        h is evaluated along field ``field``'s own axis (the other fields held at 0) at the values
        ``u`` (default 101 points in [-1, 1]). ``convention="slope"`` scales so that h'(0) = 1,
        ``"curvature"`` so that h''(0) = 2 (for a quadratic nonlinearity, the paper's Burgers
        convention); derivatives by central differences of step 1e-3 in float64. Returned:
        h̃(u) = (h(u) - h(0)) / c and g̃ = c·g, so g̃ Π h̃ = g Π h except at κ = 0 where the offset
        h(0) contributes g(0)·h(0) times the κ = 0 basis function (nothing when g(0) = 0).
        ``params`` is one parameter vector ``[n_params]``.
        """
        if convention not in ("slope", "curvature"):
            raise ValueError(f"convention must be 'slope' or 'curvature', got {convention!r}")
        dtype = torch.float64
        device = next(self.parameters(), torch.empty(0)).device
        p = None
        if self.n_params:
            if params is None:
                raise ValueError("this model takes simulation parameters: gauge_fixed(..., params=[...])")
            p = torch.as_tensor(params, dtype=dtype, device=device).reshape(1, self.n_params)
        uu = (torch.linspace(-1, 1, 101, dtype=dtype, device=device) if u is None
              else torch.as_tensor(u, dtype=dtype, device=device).reshape(-1))
        eps = 1e-3
        probe = torch.cat([uu, torch.tensor([-eps, 0.0, eps], dtype=dtype, device=device)])
        fields = torch.zeros(probe.numel(), self.n_fields, dtype=dtype, device=device)
        fields[:, field] = probe
        first = next(self.parameters(), None)
        net_self = self if first is None or first.dtype == dtype else _float64_copy(self)
        pp = p.expand(probe.numel(), -1) if p is not None else None
        # The probe values as a batch of one-point grids: h is point-wise.
        vals = net_self.pointwise_values(field, term, fields.reshape(probe.numel(), self.n_fields,
                                                                    *([1] * self.ndim)), pp).reshape(-1)
        hm, h0, hp = vals[-3], vals[-2], vals[-1]
        c = (hp - hm) / (2 * eps) if convention == "slope" else (hp - 2 * h0 + hm) / (2 * eps**2)
        c = float(c)
        if c == 0.0:
            raise ValueError(f"h has zero {'slope' if convention == 'slope' else 'curvature'} at u = 0; "
                             "choose the other convention")
        g = net_self.symbol(field, term, shape, p, dtype=dtype, device=device)
        if p is not None and g.dim() > self.ndim:
            g = g[0]
        kappa = self.wavenumbers(field, shape, dtype=dtype, device=device)
        return GaugeFixed(kappa=kappa, magnitude=kappa.square().sum(-1).sqrt(), symbol=g * c, u=uu,
                          h=(vals[:-3] - h0) / c, scale=c, offset=float(h0))


def _float64_copy(model: ModalOperator) -> ModalOperator:
    import copy

    return copy.deepcopy(model).double()
