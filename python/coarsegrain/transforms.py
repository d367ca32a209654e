"""Modal transforms for fields on uniform cell-centred grids (patel2021 §2.3).

Three bases, each along the last ``ndim`` axes (1 to 3) of a real tensor ``[*batch, *grid]``:

* ``"fourier"``: periodic fields; ``torch.fft.rfftn`` (real field -> complex half spectrum, last
  axis ``n // 2 + 1``) and ``irfftn``; angular wavenumbers ``2 pi fftfreq(n, h)`` (``rfftfreq``
  on the last axis).
* ``"cosine"``: homogeneous Neumann fields; the type-II cosine transform (DCT-II) and its
  inverse (a scaled DCT-III). Mode ``j = 0 .. n-1`` is ``cos(kappa_j x)`` sampled at the cell
  centres ``x_i = (i + 1/2) h``, ``kappa_j = pi j / L``: even about both walls.
* ``"sine"``: homogeneous Dirichlet fields; the type-II sine transform (DST-II) and its inverse.
  Coefficient ``j - 1`` (``j = 1 .. n``) is ``sin(kappa_j x)`` at the cell centres,
  ``kappa_j = pi j / L``: odd about both walls.

The cosine and sine transforms equal ``scipy.fft.dct / dst / idct / idst`` with ``type=2`` and the
same ``norm``: ``"backward"`` (scipy's default, ``None``: ``y_k = 2 sum_i x_i cos(pi k (2i+1) / 2n)``,
the inverse divides by ``2n``), ``"ortho"`` (orthonormal) or ``"forward"`` (the ``1 / 2n`` on the
forward transform). The symbol of the Laplacian is ``-|kappa|^2`` in all three bases.

Algorithm (Makhoul 1980): per axis one real FFT of length ``n``. The forward transform gathers the
even samples followed by the odd samples in reverse order (one ``index_select``), takes ``rfft``,
multiplies by the twiddle ``2 f_k exp(-i pi k / 2n)`` (the normalization ``f_k`` folded in) and
reads the ``n`` outputs from the real and imaginary parts of the ``n // 2 + 1`` coefficients (a
second ``index_select``). The gather is circularly reversed, which conjugates the spectrum, so
that no sign flip is needed; the sine transform negates the odd samples (half a pass) and reads
the outputs in reverse. The inverse runs the same steps backwards with ``irfft``. Multi-axis
transforms apply the 1D transform along each axis, the last one last (the result is contiguous).
The gathers along the last axis are the compiled ``coarsegrain.ops.take_along_last`` (CPU and
CUDA; 1.5x torch.gather, the share of the time torch spent outside the FFT was 40-92%, see
bench/results/transforms_cpu.json); the twiddle multiply is one torch pass (about a tenth of the
time). Differentiable (autograd through ``torch.fft``, the gathers and the twiddle), on any
device, and traceable by ``torch.compile``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from .ops.pointwise import take_along_last

__all__ = ["Basis", "basis", "dct2", "idct2", "dst2", "idst2", "KINDS", "NORMS"]

KINDS = ("fourier", "cosine", "sine")
NORMS = ("backward", "ortho", "forward")
_REAL_DTYPES = (torch.float32, torch.float64)
_COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}


# ---------------------------------------------------------------------------------------------
# argument checks (one-line errors naming the parameter)


def _check_norm(norm) -> str:
    if norm is None:
        return "backward"
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS} (or None for 'backward'), got {norm!r}")
    return norm


def _check_ndim(ndim) -> int:
    if isinstance(ndim, bool) or not isinstance(ndim, int) or not 1 <= ndim <= 3:
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim!r}")
    return ndim


def _check_real(u, name: str, ndim: int) -> None:
    if not isinstance(u, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(u).__name__}")
    if u.dtype not in _REAL_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {u.dtype}")
    if u.dim() < ndim:
        raise ValueError(f"{name} has {u.dim()} dimensions, fewer than ndim={ndim} grid axes")
    if any(n < 1 for n in u.shape[u.dim() - ndim:]):
        raise ValueError(f"{name} has shape {tuple(u.shape)}: every transformed axis needs at least 1 point")


# ---------------------------------------------------------------------------------------------
# the 1D Makhoul transforms along the last axis


def _make_plan(n: int, norm: str, sine: bool, dtype: torch.dtype, device) -> tuple[torch.Tensor, ...]:
    """Index and twiddle tensors for one axis of length n.

    Returns (gather_in, twiddle_fwd, gather_out, gather_inv_in, twiddle_inv, gather_inv_out).
    """
    h, c = n // 2, (n + 1) // 2
    j = torch.arange(n, dtype=torch.int64)
    # Makhoul's reordering: v[j] = x[2j] (j < c), v[n-1-j] = x[2j+1] (j < h), i.e.
    # perm[j] = 2j for j < c and 2(n-1-j)+1 = 2n-1-2j for j >= c ...
    perm = torch.where(j < c, 2 * j, 2 * n - 1 - 2 * j)
    # ... gathered circularly reversed (w[m] = v[-m mod n]) so that rfft(w) = conj(rfft(v)).
    gather_in = perm[(-j) % n]
    k = torch.arange(h + 1, dtype=torch.float64)
    if norm == "backward":
        f = torch.ones(h + 1, dtype=torch.float64)
    elif norm == "forward":
        f = torch.full((h + 1,), 1.0 / (2 * n), dtype=torch.float64)
    else:  # ortho: f_0 = sqrt(1/4n), f_k = sqrt(1/2n); y_k and y_{n-k} share f_k for k >= 1
        f = torch.full((h + 1,), math.sqrt(1.0 / (2 * n)), dtype=torch.float64)
        f[0] = math.sqrt(1.0 / (4 * n))
    theta = math.pi * k / (2 * n)
    # forward: z_k = 2 f_k e^{-i theta_k} V_k, y_k = Re z_k, y_{n-k} = -Im z_k; with conj(V) given,
    # multiply by the conjugate twiddle 2 f_k e^{+i theta_k}: zeta = conj(z), y_k = Re zeta_k,
    # y_{n-k} = Im zeta_k.
    tw_fwd = torch.polar(2 * f, theta)
    # inverse: V_k = e^{i theta_k} (y_k - i y_{n-k}) / (2 f_k); build conj(V) = e^{-i theta}(y_k + i y_{n-k})/2f
    tw_inv = torch.polar(1 / (2 * f), -theta)
    kk = torch.arange(h + 1, dtype=torch.int64)
    # positions in the interleaved (re, im) view of zeta: Re_k at 2k, Im_k at 2k+1
    if not sine:
        # y[k] = Re zeta_k (k = 0..h), y[n-k] = Im zeta_k (k = 1..c-1)
        gather_out = torch.empty(n, dtype=torch.int64)
        gather_out[: h + 1] = 2 * kk
        gather_out[n - kk[1:c]] = 2 * kk[1:c] + 1
        # inverse input: R[k] = (y_k, y_{n-k}); R[0, 1] is zeroed afterwards
        inv_re, inv_im = kk, (n - kk) % n
    else:
        # DST-II(x) = reverse(DCT-II((-1)^i x)): y[j] = Im zeta_{j+1} (j < c-1), y[c-1+m] = Re zeta_{h-m}
        gather_out = torch.cat([2 * kk[1:c] + 1, 2 * kk.flip(0)])
        # IDST(y) = (-1)^i IDCT(reverse(y)): R[k] = (y_{n-1-k}, y_{k-1}); R[0, 1] zeroed afterwards
        inv_re, inv_im = n - 1 - kk, (kk - 1) % n
    gather_inv_in = torch.stack([inv_re, inv_im], dim=-1).reshape(-1)
    # x[2i] = v[i] = w[-i mod n], x[2i+1] = v[n-1-i] = w[i+1] (w = irfft output, circularly reversed v)
    i = torch.arange(n, dtype=torch.int64)
    gather_inv_out = torch.where(i % 2 == 0, (-(i // 2)) % n, i // 2 + 1)
    ctype = _COMPLEX_OF[dtype]
    return tuple(t.to(device=device) for t in (
        gather_in, tw_fwd.to(ctype), gather_out, gather_inv_in, tw_inv.to(ctype), gather_inv_out))


_PLANS: dict = {}


def _plan(n: int, norm: str, sine: bool, dtype: torch.dtype, device: torch.device):
    if torch.compiler.is_compiling():
        return _make_plan(n, norm, sine, dtype, device)
    key = (n, norm, sine, dtype, device)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= 256:
            _PLANS.clear()
        plan = _PLANS[key] = _make_plan(n, norm, sine, dtype, device)
    return plan


def _along(t: torch.Tensor, d: int, nd: int) -> torch.Tensor:
    """A 1D tensor shaped to broadcast along axis d (negative) of an nd-dimensional tensor."""
    return t.reshape((-1,) + (1,) * (-d - 1)) if d != -1 else t


def _take(x: torch.Tensor, d: int, index: torch.Tensor) -> torch.Tensor:
    """x gathered along axis d (negative) by a 1D index: row copies (index_select) for a leading
    axis, the compiled ops.take_along_last along the last one (index_select is slow there on CPU,
    and torch.gather, which needs an index as large as its output, 1.5x slower than it)."""
    if d != -1:
        return x.index_select(d, index)
    return take_along_last(x, index)


def _forward_axis(x: torch.Tensor, d: int, norm: str, sine: bool) -> torch.Tensor:
    n = x.shape[d]
    h, c = n // 2, (n + 1) // 2
    gin, tw, gout, _, _, _ = _plan(n, norm, sine, x.dtype, x.device)
    w = _take(x, d, gin)                        # reordered, circularly reversed
    if sine and h:
        w.narrow(d, 1, h).neg_()                # (-1)^i on the odd samples
    zeta = torch.fft.rfft(w, dim=d)             # = conj(rfft(v))
    zeta.mul_(_along(tw, d, x.dim()))
    if d == -1:                                 # read Re/Im from the interleaved view
        return _take(torch.view_as_real(zeta).flatten(-2), -1, gout)
    re, im = zeta.real, zeta.imag.narrow(d, 1, c - 1)
    if sine:
        return torch.cat([im, re.flip(d)], d)
    return torch.cat([re, im.flip(d)], d)


def _inverse_axis(y: torch.Tensor, d: int, norm: str, sine: bool) -> torch.Tensor:
    n = y.shape[d]
    h = n // 2
    _, _, _, gin, tw, gout = _plan(n, norm, sine, y.dtype, y.device)
    if d == -1:
        r = _take(y, -1, gin).unflatten(-1, (h + 1, 2))
        r.select(-1, 1).select(-1, 0).zero_()   # y_n := 0 (imaginary part of the DC term)
        u = torch.view_as_complex(r)
    else:
        re, im = _take(y, d, gin[0::2]), _take(y, d, gin[1::2])
        im.narrow(d, 0, 1).zero_()
        u = torch.complex(re, im)
    u.mul_(_along(tw, d, y.dim()))
    w = torch.fft.irfft(u, n=n, dim=d)          # circularly reversed v
    if sine and h:
        w.narrow(d, 1, h).neg_()
    return _take(w, d, gout)


def _apply(u: torch.Tensor, ndim: int, fn, norm: str, sine: bool) -> torch.Tensor:
    if u.numel() == 0:                          # an empty batch (the FFT backends refuse it)
        return u.clone()
    for d in range(-ndim, 0):                   # the last axis last
        u = fn(u, d, norm, sine)
    return u


def _transform(x: torch.Tensor, ndim, norm, inverse: bool, sine: bool, arg: str) -> torch.Tensor:
    norm, ndim = _check_norm(norm), _check_ndim(ndim)
    _check_real(x, arg, ndim)
    return _apply(x, ndim, _inverse_axis if inverse else _forward_axis, norm, sine)


def dct2(u: torch.Tensor, ndim: int = 1, norm: str | None = "backward") -> torch.Tensor:
    """Type-II cosine transform along the last ``ndim`` axes; ``scipy.fft.dctn(u, type=2, norm=norm,
    axes=last ndim)``. Real in, real out, same shape; differentiable."""
    return _transform(u, ndim, norm, False, False, "u")


def idct2(c: torch.Tensor, ndim: int = 1, norm: str | None = "backward") -> torch.Tensor:
    """Inverse of :func:`dct2` (a scaled DCT-III); ``scipy.fft.idctn(c, type=2, norm=norm)``."""
    return _transform(c, ndim, norm, True, False, "c")


def dst2(u: torch.Tensor, ndim: int = 1, norm: str | None = "backward") -> torch.Tensor:
    """Type-II sine transform along the last ``ndim`` axes; ``scipy.fft.dstn(u, type=2, norm=norm)``.
    Coefficient ``j`` belongs to ``sin(pi (j+1) x / L)`` at the cell centres."""
    return _transform(u, ndim, norm, False, True, "u")


def idst2(c: torch.Tensor, ndim: int = 1, norm: str | None = "backward") -> torch.Tensor:
    """Inverse of :func:`dst2` (a scaled DST-III); ``scipy.fft.idstn(c, type=2, norm=norm)``."""
    return _transform(c, ndim, norm, True, True, "c")


# ---------------------------------------------------------------------------------------------
# bases


class Basis:
    """A modal basis on a uniform cell-centred grid of ``shape`` points and side ``lengths``.

    ``forward(u)`` transforms the last ``ndim`` axes of a real ``u`` ``[*batch, *shape]`` into
    coefficients ``[*batch, *coefficient_shape]`` (complex for ``"fourier"``, real otherwise);
    ``inverse(c)`` maps them back. Both accept float32 and float64 (complex64/complex128 for
    Fourier coefficients) on any device, whatever ``dtype``/``device`` the basis was made with:
    those only set the wavenumbers' dtype and device. ``wavenumbers()`` gives one tensor per axis,
    broadcastable to the coefficient shape; ``-wavenumber_magnitude()**2`` is the symbol of the
    Laplacian for the basis's boundary condition.
    """

    def __init__(self, kind: str, shape: Sequence[int], length: float | Sequence[float], *,
                 dtype: torch.dtype | None = None, device=None, norm: str | None = "backward"):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if isinstance(shape, (int,)) and not isinstance(shape, bool):
            shape = (shape,)
        try:
            shape_t = tuple(int(n) for n in shape)
        except TypeError:
            raise TypeError(f"shape must be an int or a sequence of ints, got {shape!r}") from None
        if not 1 <= len(shape_t) <= 3 or any(n < 1 for n in shape_t):
            raise ValueError(f"shape must have 1 to 3 axes of at least 1 point each, got {shape_t}")
        if isinstance(length, (int, float)) and not isinstance(length, bool):
            lengths = (float(length),) * len(shape_t)
        else:
            try:
                lengths = tuple(float(v) for v in length)
            except TypeError:
                raise TypeError(f"length must be a number or a sequence of numbers, got {length!r}") from None
        if len(lengths) != len(shape_t):
            raise ValueError(f"length has {len(lengths)} values but shape has {len(shape_t)} axes")
        if any(not math.isfinite(v) or v <= 0 for v in lengths):
            raise ValueError(f"length must be positive and finite, got {lengths}")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in _REAL_DTYPES:
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.kind = kind
        self.shape = shape_t
        self.lengths = lengths
        self.ndim = len(shape_t)
        self.norm = _check_norm(norm)
        self.dtype = dtype
        self.device = torch.device("cpu") if device is None else torch.device(device)

    def __repr__(self) -> str:
        return (f"Basis(kind={self.kind!r}, shape={self.shape}, lengths={self.lengths}, "
                f"norm={self.norm!r}, dtype={self.dtype}, device={self.device})")

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(v / n for v, n in zip(self.lengths, self.shape))

    @property
    def coefficient_shape(self) -> tuple[int, ...]:
        if self.kind == "fourier":
            return self.shape[:-1] + (self.shape[-1] // 2 + 1,)
        return self.shape

    @property
    def _dims(self) -> tuple[int, ...]:
        return tuple(range(-self.ndim, 0))

    def _check_grid(self, t: torch.Tensor, name: str, expected: tuple[int, ...]) -> None:
        if t.dim() < self.ndim or tuple(t.shape[t.dim() - self.ndim:]) != expected:
            raise ValueError(f"{name} has shape {tuple(t.shape)}, but its last {self.ndim} axes must be "
                             f"{expected} for this {self.kind} basis")

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Coefficients of the real field ``u`` ``[*batch, *shape]``."""
        if not isinstance(u, torch.Tensor):
            raise TypeError(f"u must be a torch.Tensor, got {type(u).__name__}")
        if u.dtype not in _REAL_DTYPES:
            raise TypeError(f"u must be float32 or float64, got {u.dtype}")
        self._check_grid(u, "u", self.shape)
        if self.kind == "fourier":
            return torch.fft.rfftn(u, dim=self._dims, norm=self.norm)
        return _apply(u, self.ndim, _forward_axis, self.norm, self.kind == "sine")

    def inverse(self, c: torch.Tensor) -> torch.Tensor:
        """The real field ``[*batch, *shape]`` with coefficients ``c`` ``[*batch, *coefficient_shape]``."""
        if not isinstance(c, torch.Tensor):
            raise TypeError(f"c must be a torch.Tensor, got {type(c).__name__}")
        if self.kind == "fourier":
            if c.dtype not in _COMPLEX_OF.values():
                raise TypeError(f"c must be complex64 or complex128 for the fourier basis, got {c.dtype}")
            self._check_grid(c, "c", self.coefficient_shape)
            return torch.fft.irfftn(c, s=self.shape, dim=self._dims, norm=self.norm)
        if c.dtype not in _REAL_DTYPES:
            raise TypeError(f"c must be float32 or float64 for the {self.kind} basis, got {c.dtype}")
        self._check_grid(c, "c", self.shape)
        return _apply(c, self.ndim, _inverse_axis, self.norm, self.kind == "sine")

    def wavenumbers(self) -> list[torch.Tensor]:
        """Angular wavenumbers per axis, each shaped to broadcast against the coefficient grid.

        fourier: ``2 pi fftfreq(n, h)`` (``rfftfreq`` on the last axis); cosine: ``pi j / L``,
        ``j = 0 .. n-1``; sine: ``pi j / L``, ``j = 1 .. n``.
        """
        ks = []
        for a, (n, length) in enumerate(zip(self.shape, self.lengths)):
            if self.kind == "fourier":
                h = length / n
                freq = torch.fft.rfftfreq if a == self.ndim - 1 else torch.fft.fftfreq
                k = 2 * math.pi * freq(n, d=h, dtype=torch.float64)
            else:
                j = torch.arange(n, dtype=torch.float64) + (1 if self.kind == "sine" else 0)
                k = math.pi * j / length
            view = [1] * self.ndim
            view[a] = -1
            ks.append(k.reshape(view).to(dtype=self.dtype, device=self.device))
        return ks

    def wavenumber_magnitude(self) -> torch.Tensor:
        """``|kappa|`` on the coefficient grid (shape ``coefficient_shape``)."""
        ks = self.wavenumbers()
        k2 = torch.zeros(self.coefficient_shape, dtype=self.dtype, device=self.device)
        for k in ks:
            k2 = k2 + k * k
        return k2.sqrt()


def basis(kind: str, shape: Sequence[int], length: float | Sequence[float], *, dtype=None, device=None,
          norm: str | None = "backward") -> Basis:
    """A :class:`Basis` of ``kind`` ``"fourier"`` (periodic), ``"cosine"`` (homogeneous Neumann) or
    ``"sine"`` (homogeneous Dirichlet) on ``shape`` cells of side ``length`` (one per axis or one
    for all)."""
    return Basis(kind, shape, length, dtype=dtype, device=device, norm=norm)
