r"""Reproduction of patel2021 ("A physics-informed operator regression framework for extracting
data-driven continuum models"), §4 and §5.

* ``4`` — abstract operator regression (§4, Figs 2-3): ``L = Π⁻¹ g(κ) Π h(u)`` learned from
  random Fourier fields (Eq 17: ``u = Σ_{|κ|≤10} c_κ e^{iκ·x}``, ``|c_κ| = 1``, uniform phases,
  ``c_{−κ} = conj(c_κ)``) for ``∂ₓ(u²)`` on 256 points and ``∇²u`` on 128², with and without
  the isotropy bias; relative test error against the training-set size N (Table 1's one Adam epoch,
  3 weight seeds per N, the paper's Glorot / zero-bias init).
* ``5-brownian`` — 1D Brownian particles binned on 256 cells (§5.2.1-5.2.2, Figs 4-6): the one-step
  update ``u_{m+1} = u_m + L u_m`` learned with the Eq 21 curriculum, no bias / conservation /
  conservation + reflection, several weight seeds; the square-wave validation against Eq 23,
  total mass against time (Fig 5) and the gauge-fixed ``g``, ``h`` against the exact ones
  (Fig 6). The frames are ``Δt`` apart, so the exact one-step symbol is ``e^{−κ²Δt} − 1`` (not
  ``−κ²``) and the exact ``h`` is ``u``.
* ``5-levy`` — 2D isotropic Lévy flights, α = 1.5, 64² bins (§5.2.3-5.2.4, Figs 7-10): with and
  without isotropy, training data of anisotropy β ∈ {0, 0.1, 1}; Eq 25's square wave and a
  held-out histogram evolved by the learned operator (Fig 7), the δ initial condition against
  Eq 26 (with the exponent ``|κ|^1.5``, NOTES.md), the learned ``g`` against
  ``e^{−|κ|^1.5 Δt} − 1`` (Fig 9), the exponent fitted to the isotropic symbol on the band of
  ``|κ|`` the histograms resolve, and the test error against the training-set size (Fig 10).

Choices the paper leaves open (written into results.json as well):

* Eq 17's ``c_0``: the κ = 0 coefficient is 1 (``|c_0| = 1`` and real).
* Gauge: ``g`` and ``h`` are fixed only up to ``(s g, h / s)`` and a constant in ``h`` (which
  only ``g(0)`` sees). We compare ``s·g`` with ``h̃ = (h − h(0)) / s``: §4 takes ``s = h'(0)``
  (∇²) or ``h''(0)/2`` (∂ₓu²) as the paper does; §5 takes ``s`` = the least-squares slope of
  ``h`` over the densities of the data (``[0, u_99]``), since the exact ``h`` is the identity.
* Test error of §5 Lévy (Fig 10): the relative L2 error at the data's final time of the learned
  rollout from a held-out isotropic initial histogram, band-limited to the resolved band, against
  its exact fractional heat evolution (:func:`resolved_band`; the δ of Eq 26 is reported beside it).
* Training-set size in Fig 10: the number of particle sets (trajectories) used.
* Binning: the paper's histograms (nearest grid point) by default; ``--assignment cic`` bins with
  cloud-in-cell weights, whose shot noise does not bias the one-step symbol the data determine
  (:func:`binned_noise_symbol`: histograms put it 4.4-4.9% off the exact one at 8 ≤ κ ≤ 16).
* Stability: every §5 model reports ``max |1 + g h'|`` over the data's densities
  (:meth:`~coarsegrain.models.ModalOperator.max_amplification`); ``--stable-refits N`` fits a model
  whose update amplifies again from the next weight seed (the paper keeps every fit; default 0).

``coarsegrain reproduce patel2021`` runs the small default (all three sections within about 25
minutes on 2 CPU cores); ``--full`` the paper's sizes (Table 1, Table 2, 100 sets of 51,200 /
819,200 particles and 1000 steps, 5 / 10 seeds). Results: ``results.json``, ``results.md`` and
the figures in the output directory.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from .. import threads
from .._progress import progress_bar
from ..training.seeding import seed_everything
from . import _report
from ._report import figure_saver, targets_table

__all__ = ["PatelConfig", "SECTIONS", "least_squares_symbol", "random_fourier_fields", "burgers_operator", "laplacian_operator",
           "square_wave", "square_wave_2d", "square_wave_series", "delta_solution", "one_step_symbol", "wavenumbers",
           "fit_exponent", "binned_noise_symbol", "noise_free_symbol_fit", "lowest_loss", "run", "render"]

SECTIONS = ("4", "5-brownian", "5-levy")
TWO_PI = 2 * math.pi


# --- analytic pieces ---------------------------------------------------------------------------

def wavenumbers(shape: tuple[int, ...], length: float = TWO_PI) -> list[Tensor]:
    """Integer-valued (for ``length = 2π``) FFT wavenumbers per axis, broadcast to ``shape``
    (``torch.fft.fftfreq`` order, full spectrum)."""
    ks = [torch.fft.fftfreq(n, d=length / (TWO_PI * n), dtype=torch.float64) for n in shape]
    return list(torch.meshgrid(*ks, indexing="ij"))


def random_fourier_fields(n: int, shape: tuple[int, ...], *, k_max: float = 10.0,
                          generator: torch.Generator | None = None) -> Tensor:
    """``n`` real fields ``[n, *shape]`` on ``[0, 2π)^d`` of Eq 17: ``Σ_{|κ| ≤ k_max} c_κ e^{iκ·x}``
    with ``|c_κ| = 1``, ``arg c_κ ~ U[0, 2π)``, ``c_{−κ} = conj(c_κ)`` and ``c_0 = 1``.

    The phase of ``κ`` is ``φ(κ) − φ(−κ)`` with ``φ`` i.i.d. uniform, which is again uniform on
    the circle and odd in ``κ`` (so ``c_{−κ} = conj(c_κ)``)."""
    shape = tuple(int(s) for s in shape)
    k = wavenumbers(shape)
    knorm = torch.sqrt(sum(kk * kk for kk in k))
    if any(s <= 2 * k_max for s in shape):
        raise ValueError(f"grid {shape} does not resolve |kappa| <= {k_max:g}")
    phi = torch.rand((n, *shape), generator=generator, dtype=torch.float64) * TWO_PI
    flipped = torch.flip(phi, dims=tuple(range(1, len(shape) + 1)))
    flipped = torch.roll(flipped, shifts=(1,) * len(shape), dims=tuple(range(1, len(shape) + 1)))  # φ(−κ)
    coeff = torch.polar(torch.ones_like(phi), phi - flipped) * (knorm <= k_max)
    # u(x_j) = Σ c_κ e^{iκ x_j} = N_total · ifft(c)
    return torch.fft.ifftn(coeff, dim=tuple(range(1, len(shape) + 1))).real * math.prod(shape)


def burgers_operator(u: Tensor) -> Tensor:
    """``∂ₓ(u²)`` of fields ``[..., n]`` on ``[0, 2π)`` (spectral, exact for Eq 17's fields)."""
    n = u.shape[-1]
    k = torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64)
    return torch.fft.irfft(1j * k * torch.fft.rfft(u * u), n=n)


def laplacian_operator(u: Tensor) -> Tensor:
    """``∇²u`` of fields ``[..., n, n]`` on ``[0, 2π)²`` (spectral)."""
    shape = u.shape[-2:]
    kx = torch.fft.fftfreq(shape[0], d=1.0 / shape[0], dtype=torch.float64)[:, None]
    ky = torch.fft.rfftfreq(shape[1], d=1.0 / shape[1], dtype=torch.float64)[None, :]
    return torch.fft.irfft2(-(kx * kx + ky * ky) * torch.fft.rfft2(u), s=shape)


def square_wave(n: int = 256, t: float = 0.0, exponent: float = 2.0) -> Tensor:
    """Eq 23 on ``n`` points ``x_j = 2πj/n``: ``Π⁻¹ g(κ) e^{−|κ|^exponent t}`` with
    ``g(κ) = −2n i/(πκ)`` for odd κ, 0 for even (``n = 256``: the paper's ``−512i/(πκ)``); the
    truncated Fourier series of the square wave ``sign(sin x)`` (amplitude 1) evolved by the heat
    equation (exponent 2) or the fractional one."""
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    odd = (k.abs() % 2) == 1
    g = torch.where(odd, -2j * n / (math.pi * torch.where(odd, k, torch.ones_like(k))), torch.zeros_like(k) * 0j)
    return torch.fft.ifft(g * torch.exp(-k.abs() ** exponent * t)).real


def square_wave_2d(n: int = 64, t: float = 0.0, alpha: float = 1.5) -> Tensor:
    """Eq 25 on ``n × n`` points: the truncated Fourier series of ``sign(sin x) sign(sin y)``
    (coefficients ``−4n²/(π² κ_x κ_y)`` for odd κ_x and κ_y, 0 otherwise; ``n = 64``: the paper's
    16384/π², whose ``j`` and ``|κ|²`` are misprints, NOTES.md) evolved by the fractional heat
    equation ``u_t = −(−Δ)^(α/2) u`` to ``t``."""
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    odd = (k.abs() % 2) == 1
    inv = torch.where(odd, 1.0 / torch.where(odd, k, torch.ones_like(k)), torch.zeros_like(k))
    kx, ky = wavenumbers((n, n))
    coeff = -4.0 * n * n / math.pi ** 2 * inv[:, None] * inv[None, :]
    return torch.fft.ifft2(coeff * torch.exp(-torch.sqrt(kx * kx + ky * ky) ** alpha * t)).real


def square_wave_series(x: np.ndarray, t: float, n: int = 256) -> np.ndarray:
    """The same solution summed directly: ``Σ_{odd k < n/2} 4/(πk) sin(kx) e^{−k² t}`` (NumPy)."""
    total = np.zeros_like(np.asarray(x, dtype=np.float64))
    for k in range(1, n // 2, 2):
        total += 4.0 / (math.pi * k) * np.sin(k * x) * math.exp(-k * k * t)
    return total


def delta_solution(n: int = 64, t: float = 0.0, alpha: float = 1.5) -> Tensor:
    """Eq 26 (exponent ``|κ|^α``, NOTES.md): ``n² Π⁻¹ e^{−|κ|^α t}`` on ``n × n`` points, a δ at
    the origin at ``t = 0`` with grid mean 1 (the density normalization of the particle data)."""
    kx, ky = wavenumbers((n, n))
    return torch.fft.ifft2(n * n * torch.exp(-torch.sqrt(kx * kx + ky * ky) ** alpha * t)).real


def one_step_symbol(knorm: Tensor, dt: float, alpha: float = 2.0) -> Tensor:
    """The exact symbol of the one-step update ``u(t + Δt) − u(t)``: ``e^{−|κ|^α Δt} − 1``."""
    return torch.expm1(-knorm.double() ** alpha * dt)


def fit_exponent(knorm: np.ndarray, symbol: np.ndarray, dt: float, k_lo: float = 1.0, k_hi: float = 8.0) -> float:
    """The α of ``−log(1 + g)/Δt ≈ c |κ|^α``: least squares of log against log over
    ``k_lo ≤ |κ| ≤ k_hi`` (NaN where ``1 + g`` is not in (0, 1))."""
    knorm, symbol = np.asarray(knorm, dtype=np.float64).ravel(), np.asarray(symbol, dtype=np.float64).ravel()
    ok = (knorm >= k_lo) & (knorm <= k_hi) & (symbol < 0) & (symbol > -1)
    if ok.sum() < 2:
        return float("nan")
    rate = -np.log1p(symbol[ok]) / dt
    return float(np.polyfit(np.log(knorm[ok]), np.log(rate), 1)[0])


def least_squares_symbol(frames: Tensor) -> Tensor:
    """The per-mode least-squares one-step symbol of trajectories ``[n_traj, n_time, *grid]``:
    ``Σ (û_{j+1} − û_j) conj(û_j) / Σ |û_j|²`` on the ``rfftn`` half spectrum -- what an exact
    regression of each mode on its own gives from these histograms (their noise floor and bias)."""
    dims = tuple(range(2, frames.dim()))
    c = torch.fft.rfftn(frames.double(), dim=dims)
    u0, u1 = c[:, :-1], c[:, 1:]
    return ((u1 - u0) * u0.conj()).sum((0, 1)) / (u0.abs() ** 2).sum((0, 1))


def noise_free_symbol_fit(power: Tensor, dt: float, *, steps: int, seed: int, width: int = 4, depth: int = 4,
                          init: str = "torch", iterations: int = 1000) -> dict[str, Any]:
    """The §5 Brownian symbol network's own floor: a g network as the model builds it (Fourier, conservation)
    fitted by L-BFGS, without any noise, to the exact one-step symbol of a 1D grid, each mode weighted as
    the ``steps``-step loss weighs it: ``Σ_κ P(κ) |(1 + g)^m − (1 + g_exact)^m|²``, ``P`` the data's mean
    power per rfft mode (``power [n // 2 + 1]``, ``n`` even). Returns the fitted symbol, the max relative error over
    1 <= κ <= 16 and the final weighted loss (relative to ``Σ P``)."""
    n = 2 * (power.shape[-1] - 1)
    power = power.double()
    k = torch.arange(n // 2 + 1, dtype=torch.float64)
    exact = one_step_symbol(k, dt).to(torch.complex128)
    with torch.random.fork_rng():  # the weights from ``seed``, the caller's random stream untouched
        torch.manual_seed(seed)
        model = make_model(1, conservation=True, width=width, depth=depth, init=init, pointwise="identity")
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=iterations, tolerance_grad=1e-14,
                            tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

    def loss() -> Tensor:
        g = model.symbol(0, 0, (n,))
        return (power * ((1 + g) ** steps - (1 + exact) ** steps).abs().square())[1:].sum() / power[1:].sum()

    def closure() -> Tensor:
        opt.zero_grad()
        value = loss()
        value.backward()
        return value

    with threads.serial():  # ops of 129 modes and 4-wide layers: threads only lose, and lose most on a busy machine
        opt.step(closure)
    with torch.no_grad():
        g = model.symbol(0, 0, (n,))
        rel = (g - exact).abs()[1:17] / exact.abs()[1:17]
        return {"symbol": g, "max_rel_error_k_1_16": float(rel.max()), "loss": float(loss())}


def binned_noise_symbol(kappa: Tensor, dt: float, n_bins: int, assignment: str, alpha: float = 2.0,
                        length: float = TWO_PI) -> Tensor:
    """What :func:`least_squares_symbol` converges to on modes where the histograms' shot noise
    dominates: ``r(κ) e^{−|κ|^α Δt} − 1`` for wavenumber vectors ``kappa [..., d]`` (``n_bins``
    bins per axis of ``length``).

    Binning a point cloud with the assignment kernel W puts into mode κ every alias κ + (2π/h) m of
    the white shot noise, weighted W(κ + 2π m/h)²; one step later the aliases m ≠ 0 have decayed
    (e^{−(2π/h)^α Δt} ≈ 0), so a regression of the step on the mode keeps only the fraction
    ``r = W(κ)² / Σ_m W(κ + 2π m/h)²``, per axis with x = κh/2:
    nearest grid point (W = sinc x): r = sinc² x (Σ_m sinc²(x + πm) = 1) -- a bias of 4-5% at
    8 ≤ κ ≤ 16 on 256 bins of [0, 2π), as large as the 5% one tests the symbol to;
    cloud in cell (W = sinc² x): r = sinc⁴ x / (1 − ⅔ sin² x) = 1 − O(x⁴) (Σ_m sinc⁴(x + πm) = 1 − ⅔ sin² x).
    Where the signal dominates the regression gives the exact ``e^{−|κ|^α Δt} − 1``."""
    if assignment not in ("ngp", "cic"):
        raise ValueError(f"assignment must be 'ngp' or 'cic', got {assignment!r}")
    kappa = torch.as_tensor(kappa, dtype=torch.float64)
    if kappa.dim() < 1 or not 1 <= kappa.shape[-1] <= 3:
        raise ValueError(f"kappa must be [..., d] wavenumber vectors with d = 1, 2 or 3, got {tuple(kappa.shape)}")
    x = kappa * (length / n_bins) / 2
    sinc = torch.sinc(x / math.pi)  # sin(x) / x
    ratio = sinc**2 if assignment == "ngp" else sinc**4 / (1 - 2 / 3 * torch.sin(x) ** 2)
    return ratio.prod(-1) * torch.exp(-kappa.square().sum(-1).sqrt() ** alpha * dt) - 1


# --- the model -----------------------------------------------------------------------------------

def make_model(ndim: int, *, conservation: bool = False, reflection: bool = False, isotropic: bool = False,
               width: int = 4, depth: int = 4, init: str = "glorot", dt: float = 1.0, pointwise: str = "mlp"):
    """The :class:`coarsegrain.models.ModalOperator` of one field on ``[0, 2π)^ndim`` (float64)."""
    from ..models import ModalOperator

    return ModalOperator(ndim, TWO_PI, width=width, depth=depth, conservation=conservation,
                         reflection=reflection, isotropic=isotropic, init=init, dt=dt, pointwise=pointwise).double()


def _apply(model, u: Tensor) -> Tensor:
    """``L u`` for fields ``[B, *shape]``."""
    return model(u[:, None])[:, 0]


@torch.no_grad()
def _rollout(model, u0: Tensor, n_steps: int, every: int = 1) -> Tensor:
    """``[B, n_steps // every + 1, *shape]``: ``u0`` and every ``every``-th step of ``u + L u``."""
    frames, u = [u0], u0[:, None]
    for s in range(1, n_steps + 1):
        u = model.step(u)
        if s % every == 0:
            frames.append(u[:, 0])
    return torch.stack(frames, 1)


def _gauge(model, shape: tuple[int, ...], *, convention: str = "slope", data_max: float | None = None,
           h_values: Tensor | None = None) -> dict[str, Any]:
    """The model's gauge-fixed ``g`` (rfft half spectrum) and ``h``; with ``data_max`` the scale is
    then refined so that ``h`` has unit least-squares slope over ``[0, data_max]`` (§5: the exact
    ``h`` is the identity on the data's densities)."""
    values = h_values if h_values is not None else torch.linspace(-(data_max or 3.0), data_max or 3.0, 161,
                                                                  dtype=torch.float64)
    gf = model.gauge_fixed(shape, u=values, convention=convention)
    scale, g, h = gf.scale, gf.symbol, gf.h
    if data_max is not None:
        pos = (values >= 0) & (values <= data_max)
        extra = float((values[pos] * h[pos]).sum() / (values[pos] ** 2).sum())
        scale, g, h = scale * extra, g * extra, h / extra
    return {"kappa": gf.kappa, "magnitude": gf.magnitude, "g": g.to(torch.complex128), "u": values, "h": h,
            "scale": scale}


def _half_wavenumbers(n: int) -> list[Tensor]:
    """The wavenumbers of an ``n × n`` ``rfft2`` half spectrum."""
    return list(torch.meshgrid(torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64),
                               torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64), indexing="ij"))


def _full_real(g_half: Tensor, n: int) -> Tensor:
    """``Re g`` on the full ``n × n`` FFT grid from an ``rfft2`` half spectrum ``[n, n//2 + 1]``
    (Hermitian: Re g(−κ) = Re g(κ))."""
    full = torch.empty(n, n, dtype=torch.float64)
    full[:, : n // 2 + 1] = g_half.real
    rows = (-torch.arange(n)) % n
    for j in range(n // 2 + 1, n):
        full[:, j] = g_half.real[rows, n - j]
    return full


def _window(full: Tensor, half_width: int = 16) -> Tensor:
    """The centred ``(2w + 1)²`` window ``κ ∈ [−w, w]²`` of a full FFT grid."""
    n = full.shape[0]
    c = torch.fft.fftshift(full)
    return c[n // 2 - half_width: n // 2 + half_width + 1, n // 2 - half_width: n // 2 + half_width + 1]


class _Windows(torch.utils.data.Dataset):
    """Windows ``[length, 1, *grid]`` of trajectories ``[n_traj, n_time, *grid]``, ``stride`` apart."""

    def __init__(self, frames: Tensor, length: int, stride: int):
        self.frames = frames
        self.length = length
        self.index = [(t, s) for t in range(frames.shape[0]) for s in range(0, frames.shape[1] - length + 1, stride)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> Tensor:
        t, s = self.index[i]
        return self.frames[t, s: s + self.length, None]


# --- training loops ------------------------------------------------------------------------------

def _fit_pairs(model, batches: Callable[[int], tuple[Tensor, Tensor]], n_batches: int, epochs: int,
               lr: float, seed: int, progress: bool, desc: str, cosine: bool = False) -> list[float]:
    """§4: Adam (``cosine``: its rate decayed to 0 along a cosine) on the mean square of ``L u`` against the exact action (Eq 7), mini-batches
    ``batches(b)`` for ``b < n_batches`` in a fresh order every epoch. (The shared trainer's
    normalization wrapper and in-memory statistics do not fit fields generated batch by batch;
    the 2D set at N = 12,800 would be 1.7 GB.)"""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * n_batches) if cosine else None
    g = torch.Generator().manual_seed(seed)
    losses = []
    bar = progress_bar(progress, total=epochs * n_batches, desc=desc, unit="batch")
    for _ in range(epochs):
        total = 0.0
        for b in torch.randperm(n_batches, generator=g).tolist():
            u, target = batches(b)
            opt.zero_grad(set_to_none=True)
            loss = (_apply(model, u) - target).square().mean()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += loss.item()
            bar.update(1)
            threads.tick()  # fewer torch threads while other processes hold cores (--threads N fixes it)
        losses.append(total / n_batches)
    bar.close()
    return losses


def _fit_curriculum(model, frames: Tensor, *, stages: int, epochs: int, batch_size: int, lr: float, seed: int,
                    progress: bool, out_dir: Path, scheduler: str | None = "cosine",
                    optimizer: str = "adam", lbfgs_iterations: int = 30) -> list[dict[str, float]]:
    """The Eq 21 curriculum (:class:`coarsegrain.training.MultistepTrainer`) on trajectories
    ``frames [n_traj, n_time, *grid]``: windows of ``M + 1`` frames, ``M`` apart; stage ``m = 1..M``
    for ``epochs`` epochs each, one Adam optimizer (``scheduler="cosine"``: its rate decays to 0 over
    the whole curriculum); the final model is kept. ``optimizer="lbfgs"``: full-batch L-BFGS (``lbfgs_iterations``
    iterations with line search per epoch, 2 epochs per stage) instead. Checkpoints in
    ``out_dir`` (a rerun resumes). Returns the trainer's rows, one per epoch (``train_loss``, ``seconds``:
    kept across resumes, so a re-evaluation still reports how long the fit took)."""
    from ..training import MultistepObjective, MultistepTrainer, TrainConfig

    data = _Windows(frames, stages + 1, stages)
    if optimizer == "lbfgs":
        epochs = 2
        config = TrainConfig(epochs=stages * epochs, batch_size=len(data), lr=1.0, optimizer="lbfgs",
                             lbfgs_iterations=lbfgs_iterations, seed=seed, progress=progress, select_last=1)
    else:
        config = TrainConfig(epochs=stages * epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress,
                             select_last=1, scheduler=scheduler)
    trainer = MultistepTrainer(model, data, None, config, out_dir,
                               objective=MultistepObjective(kind="curriculum", max_steps=stages, stage_epochs=epochs))
    return trainer.fit()


# --- configuration -------------------------------------------------------------------------------

# §5 Brownian variants: the biases of each model.
B_VARIANTS = {"none": {}, "conservation": {"conservation": True},
              "conservation+reflection": {"conservation": True, "reflection": True}}


@dataclass
class PatelConfig:
    """Sizes of the reproduction; ``None`` takes the small default or, with ``full``, the paper's."""

    full: bool = False
    sections: tuple[str, ...] = SECTIONS
    seed: int = 0
    device: str = "cpu"
    width: int = 4                       # Tables 1-2
    depth: int = 4
    init: str | None = None              # weight init of every section's networks: "glorot" (the paper's Keras
    #                                      defaults) or "torch" (nn.Linear's); default: glorot in sec. 4, torch in sec. 5
    lr: float = 1e-2                     # Adam rate of sec. 5 (Table 2: 1e-3), cosine-decayed
    optimizer: str = "adam"              # sec. 5: "adam" (Table 2) or "lbfgs" (full batch; slower, more accurate)
    assignment: str = "ngp"              # sec. 5 particle binning: "ngp" (the paper's histograms) or "cic"
    lbfgs_iterations: int = 30           # sec. 5 with optimizer "lbfgs": iterations per epoch (2 epochs per stage)
    stable_refits: int = 0               # sec. 5: refits from a new weight seed of a fit whose update amplifies
    # §4
    sizes: tuple[int, ...] | None = None       # training-set sizes N (default 800, 3200, 12800)
    s4_epochs: int | None = None               # epochs (default 1 as Table 1; toy runs use more)
    s4_seeds: int | None = None                # weight seeds per point (default and full 3: one seed is a lottery)
    s4_batch: int = 10
    s4_test: int = 100
    s4_lr: float = 3e-2                        # Adam rate of sec. 4 (Table 1: 1e-3), cosine-decayed
    # §5 Brownian
    b_traj: int | None = None                  # particle sets (default 32; full 100), last one held out
    b_particles: int | None = None             # per set (default 51,200 = full)
    b_steps: int | None = None                 # time steps of 1e-3 (default 200; full 1000)
    b_seeds: int | None = None                 # weight seeds per variant (default 2; full 5)
    b_epochs: int | None = None                # epochs per curriculum stage (default 5; full 1)
    b_stages: int = 4                          # M of Table 2
    b_batch: int = 25                          # windows of M + 1 frames (100 one-step pairs, Table 2)
    b_variants: tuple[str, ...] = tuple(B_VARIANTS)  # biases to train: none, conservation, conservation+reflection
    # §5 Lévy
    l_traj: int | None = None                  # particle sets per beta (default 8; full 100)
    l_particles: int | None = None             # per set (default 262,144; full 819,200)
    l_steps: int | None = None                 # (default 100; full 1000)
    l_seeds: int | None = None                 # (default 1; full 10)
    l_epochs: int | None = None                # (default 5; full 1)
    l_stages: int = 4
    l_batch: int = 25
    l_sizes: tuple[int, ...] | None = None     # training-set sizes in sets (default 1, 3, 7)
    betas: tuple[float, ...] = (0.0, 0.1, 1.0)

    def resolved(self) -> dict[str, Any]:
        if self.optimizer not in ("adam", "lbfgs"):
            raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {self.optimizer!r}")
        if self.assignment not in ("ngp", "cic"):
            raise ValueError(f"assignment must be 'ngp' or 'cic', got {self.assignment!r}")
        if self.init not in (None, "glorot", "torch"):
            raise ValueError(f"init must be 'glorot' or 'torch', got {self.init!r}")
        bad_variant = [v for v in self.b_variants if v not in B_VARIANTS]
        if bad_variant or not self.b_variants:
            raise ValueError(f"b_variants (--brownian-variants) must be some of {', '.join(B_VARIANTS)}, "
                             f"got {list(self.b_variants)}")
        bad = [s for s in self.sections if s not in SECTIONS]
        if bad or not self.sections:
            raise ValueError(f"unknown section {bad[0]!r}; choose from {', '.join(SECTIONS)}" if bad
                             else f"no section chosen; choose from {', '.join(SECTIONS)}")
        f = self.full
        out = asdict(self)
        pick = lambda v, small, full: v if v is not None else (full if f else small)  # noqa: E731
        out.update(
            sections=[s for s in SECTIONS if s in self.sections],
            b_variants=[v for v in B_VARIANTS if v in self.b_variants],
            sizes=list(pick(self.sizes, (800, 3200, 12800), (800, 1600, 3200, 6400, 12800))),
            s4_epochs=pick(self.s4_epochs, 1, 1), s4_seeds=pick(self.s4_seeds, 3, 3),
            b_traj=pick(self.b_traj, 32, 100), b_particles=pick(self.b_particles, 51_200, 51_200),
            b_steps=pick(self.b_steps, 200, 1000), b_seeds=pick(self.b_seeds, 2, 5),
            b_epochs=pick(self.b_epochs, 5, 1),
            l_traj=pick(self.l_traj, 8, 100), l_particles=pick(self.l_particles, 262_144, 819_200),
            l_steps=pick(self.l_steps, 100, 1000), l_seeds=pick(self.l_seeds, 1, 10),
            l_epochs=pick(self.l_epochs, 5, 1), betas=list(self.betas),
            s4_init=self.init or "glorot", s5_init=self.init or "torch")
        out["l_sizes"] = list(pick(self.l_sizes, None, None) or
                              sorted({max(1, (out["l_traj"] - 1) // 4), max(1, (out["l_traj"] - 1) // 2),
                                      out["l_traj"] - 1}))
        for key in ("lbfgs_iterations", "s4_seeds", "s4_epochs", "s4_test", "s4_batch", "b_particles", "b_steps", "b_seeds", "b_epochs",
                    "b_stages", "b_batch", "l_particles", "l_steps", "l_seeds", "l_epochs", "l_stages", "l_batch"):
            if int(out[key]) < 1:
                raise ValueError(f"{key} must be >= 1, got {out[key]}")
        if isinstance(self.stable_refits, bool) or not isinstance(self.stable_refits, int) or self.stable_refits < 0:
            raise ValueError(f"stable_refits (--stable-refits) must be an int >= 0, got {self.stable_refits!r}")
        if not out["betas"]:
            raise ValueError("betas must hold at least one anisotropy in [0, 1]")
        if min(out["l_sizes"]) < 1:
            raise ValueError(f"l_sizes (--levy-sets) must be >= 1, got {out['l_sizes']}")
        for key, flag in (("b_traj", " (--brownian-sets)"), ("l_traj", "")):
            if out[key] < 2:
                raise ValueError(f"{key}{flag} must be >= 2 (one set is held out for testing), got {out[key]}")
        if max(out["l_sizes"]) > out["l_traj"] - 1:
            raise ValueError(f"l_sizes {out['l_sizes']} exceed the {out['l_traj'] - 1} training sets")
        if any(n % self.s4_batch or n < self.s4_batch for n in out["sizes"]):
            raise ValueError(f"sizes (--sizes) must be positive multiples of the batch size {self.s4_batch}, "
                             f"got {out['sizes']}")
        return out


# --- §4 ------------------------------------------------------------------------------------------

S4_PROBLEMS = {"burgers": ((256,), burgers_operator), "laplacian": ((128, 128), laplacian_operator)}


def _section4(cfg: dict, out: Path, log, progress: bool) -> dict:
    res: dict[str, Any] = {"problems": {}}
    test_gen = torch.Generator().manual_seed(cfg["seed"] * 7919 + 4)
    for name, (shape, exact) in S4_PROBLEMS.items():
        test_u = random_fourier_fields(cfg["s4_test"], shape, generator=test_gen)
        test_y = exact(test_u)
        variants = ["unrestricted"] if name == "burgers" else ["unrestricted", "isotropic"]
        table: dict[str, dict] = {v: {} for v in variants}
        keep: dict[str, Any] = {}
        data_seed = cfg["seed"] * 104729 + 17

        def batches(b, shape=shape, exact=exact):
            gen = torch.Generator().manual_seed(data_seed + b)
            u = random_fourier_fields(cfg["s4_batch"], shape, generator=gen)
            return u, exact(u)

        for variant in variants:
            for n in cfg["sizes"]:
                errs = []
                for s in range(cfg["s4_seeds"]):
                    seed = cfg["seed"] + 1000 * s
                    seed_everything(seed)
                    model = make_model(len(shape), isotropic=variant == "isotropic", width=cfg["width"], init=cfg["s4_init"],
                                       depth=cfg["depth"])
                    t0 = time.perf_counter()
                    losses = _fit_pairs(model, batches, n // cfg["s4_batch"], cfg["s4_epochs"], cfg["s4_lr"], seed,
                                        progress, f"sec. 4 {name} {variant} N={n}", cosine=True)
                    with torch.no_grad():
                        pred = torch.cat([_apply(model, test_u[i:i + 20]) for i in range(0, len(test_u), 20)])
                    rel = ((pred - test_y).flatten(1).norm(dim=1) / test_y.flatten(1).norm(dim=1)).numpy()
                    errs.append(float(rel.mean()))
                    log(f"  4 {name} {variant} N={n} seed {s}: relative error {rel.mean():.3e} "
                        f"({time.perf_counter() - t0:.0f} s, last epoch loss {losses[-1]:.3e})")
                    if n == cfg["sizes"][-1] and s == 0:
                        keep[variant] = model
                logs = np.log10(errs)
                table[variant][str(n)] = {"relative_error": errs, "mean": float(np.mean(errs)),
                                          "log10_mean": float(logs.mean()), "log10_std": float(logs.std())}
        r: dict[str, Any] = {"grid": list(shape), "error": table, "curves": {}}
        # gauge-fixed g and h of the largest-N models (the lower panels of Figs 2-3)
        for variant, model in keep.items():
            gf = _gauge(model, shape, convention="curvature" if name == "burgers" else "slope",
                        h_values=torch.linspace(-3, 3, 61, dtype=torch.float64))
            c = {"h_u": gf["u"].tolist(), "h": gf["h"].tolist(), "gauge_scale": gf["scale"]}
            g, kn = gf["g"], gf["magnitude"]
            if name == "burgers":
                k = gf["kappa"][..., 0]
                sel = k <= 24
                c.update(k=k[sel].tolist(), g_im=g.imag[sel].tolist(), g_re=g.real[sel].tolist())
                lo = (k >= 1) & (k <= 20)   # the modes of u^2
                c["g_max_rel_error"] = float(((g - 1j * k)[lo].abs() / k[lo]).max())
                c["g_error_range"] = "1 <= kappa <= 20 (the modes of u^2)"
            else:
                c["g_re_window"] = _window(_full_real(g, shape[0])).tolist()
                c["k_window"] = list(range(-16, 17))
                lo = (kn > 0) & (kn <= 10)  # the modes of u
                c["g_max_rel_error"] = float(((g + kn * kn)[lo].abs() / (kn * kn)[lo]).max())
                c["g_error_range"] = "0 < |kappa| <= 10 (the modes of u)"
            r["curves"][variant] = c
        model = keep.get("isotropic", keep["unrestricted"])
        with torch.no_grad():
            learned = _apply(model, test_u[:1])[0]
        r["sample"] = {"exact": test_y[0].tolist(), "learned": learned.tolist()}
        res["problems"][name] = r
    lap = res["problems"]["laplacian"]["error"]
    n_max = str(cfg["sizes"][-1])
    iso = lap["isotropic"]
    # Over seeds, the geometric mean: the paper plots the mean of the log error (Figs 2-3).
    typical = {v: {n: 10 ** rows[n]["log10_mean"] for n in rows} for v, rows in lap.items()}
    res["targets"] = {
        "laplacian_isotropic_error_at_largest_N": {
            "value": typical["isotropic"][n_max], "threshold": 1e-2, "N": int(n_max),
            "statistic": f"geometric mean over {cfg['s4_seeds']} weight seed(s)",
            "met": bool(typical["isotropic"][n_max] <= 1e-2)},
        "isotropic_below_unrestricted_at_every_N": {
            "value": {n: [typical["isotropic"][n], typical["unrestricted"][n]] for n in iso},
            "statistic": "[isotropic, unrestricted], geometric means over the seeds",
            "met": bool(all(typical["isotropic"][n] < typical["unrestricted"][n] for n in iso))},
    }
    return res


# --- particle data -------------------------------------------------------------------------------

def _particle_frames(preset: str, path: Path, *, n_traj: int, n_particles: int, steps: int, seed: int,
                     anisotropy: float | None, assignment: str, progress: bool) -> tuple[Tensor, float]:
    """Simulates (or reuses) a ``patel-*`` ensemble binned with ``assignment`` (``"ngp"`` or ``"cic"``)
    and returns its densities ``[n_traj, n_time, *bins]`` (float64) and the frame spacing."""
    from ..data.dataset import open_dataset, parameter_differences, read_info
    from ..data.presets import get_preset
    from ..particles import simulate_particles

    kw = {"anisotropy": anisotropy} if anisotropy is not None else {}
    spec = get_preset(preset, n_traj=n_traj, n_particles=n_particles, t_end=steps * 1e-3, seed=seed,
                      dtype="float64", **kw).replace(assignment=assignment)
    if not path.exists():
        simulate_particles(spec, path, progress=progress)
    else:  # reused: it must be the ensemble asked for (a file of another run's settings is refused)
        differ = parameter_differences(read_info(path).parameters, spec.metadata())
        if differ:
            raise ValueError(f"{path} holds another ensemble ({', '.join(f'{k} {o!r} -> {n!r}' for k, o, n in differ)});"
                             " remove it or choose another --out")
    with open_dataset(path) as reader:
        frames = np.stack([reader.frames(i)[:, 0] for i in range(n_traj)])
    return torch.from_numpy(frames).double(), spec.save_every * spec.dt


def _model_suffix(cfg: dict) -> str:
    """The training settings in a §5 model's directory name, so that a rerun with other settings
    trains anew instead of resuming (the init; L-BFGS iterations other than the first default, 30)."""
    iters = cfg["lbfgs_iterations"]
    return f"_{cfg['s5_init']}" + (f"_lbfgs{iters}" if cfg["optimizer"] == "lbfgs" and iters != 30 else "")


STABLE_TOLERANCE = 1e-3  # max |1 + g h'| above 1 + this: an update that amplifies (see max_amplification)
VISIBLE_FAILURE = 0.25  # a square-wave error (t = 1) that misses the 5% bar fivefold: a visible failure in Fig 4
FAILURE_SIGNIFICANCE = 0.05  # the p-value below which more failures without reflection than with it count


def _train_seconds(rows: list[dict[str, float]]) -> float:
    """Seconds the fit trained, summed over its epochs (a resumed fit counts its earlier runs)."""
    return float(sum(r["seconds"] for r in rows))


def _fit_stable(fit: Callable, seed: int, refits: int, shape: tuple[int, ...], u_top: float, log):
    """``fit(seed) -> (model, rows)`` (:func:`_fit_curriculum`'s rows); while the fitted update amplifies some mode at the data's
    densities (``model.max_amplification`` over [0, u_top] > 1 + STABLE_TOLERANCE) and refits are
    left, fits again from the next weight seed (seed + 1, ...). The heat and fractional heat updates damp
    every mode, so an amplifying fit is a failed one (a dead h whose slope changes sign next to the
    data; the β = 1 isotropic Lévy fit of seed 1000). Returns the model, its rows, its seed, its
    max |1 + g h'| and the rejected fits ``[{"seed", "max_amplification", "final_loss"}]``; the last fit
    is kept when every one amplifies."""
    rejected = []
    for attempt in range(refits + 1):
        model, rows = fit(seed + attempt)
        amp = model.max_amplification(shape, torch.linspace(0, u_top, 201))
        if amp <= 1 + STABLE_TOLERANCE or attempt == refits:
            return model, rows, seed + attempt, amp, rejected
        log(f"  seed {seed + attempt}: the fitted update amplifies (max |1 + g h'| = {amp:.4g}); refitting from seed "
            f"{seed + attempt + 1}")
        rejected.append({"seed": seed + attempt, "max_amplification": amp, "final_loss": rows[-1]["train_loss"],
                         "train_seconds": _train_seconds(rows)})
    raise AssertionError("unreachable")


def _assignment_tag(cfg: dict) -> str:
    """File-name suffix of the particle binning (none for the paper's nearest-grid-point histograms)."""
    return "" if cfg["assignment"] == "ngp" else f"_{cfg['assignment']}"


# --- §5 Brownian ---------------------------------------------------------------------------------

def _section5_brownian(cfg: dict, out: Path, log, progress: bool) -> dict:
    n_traj, steps = cfg["b_traj"], cfg["b_steps"]
    tag = f"brownian_{n_traj}x{cfg['b_particles']}x{steps}_seed{cfg['seed']}{_assignment_tag(cfg)}"
    t0 = time.perf_counter()
    frames, dt = _particle_frames("patel-brownian-1d", out / "data" / f"{tag}.h5", n_traj=n_traj,
                                  n_particles=cfg["b_particles"], steps=steps, seed=cfg["seed"], anisotropy=None,
                                  assignment=cfg["assignment"], progress=progress)
    log(f"  5-brownian data: {tuple(frames.shape)} frames, dt = {dt:g} ({time.perf_counter() - t0:.0f} s)")
    train, test = frames[:-1], frames[-1:]
    n = frames.shape[-1]
    u_max = float(torch.quantile(frames[:, ::max(1, steps // 20)].flatten(), 0.99))
    u_top = float(frames.max())  # the densities the stability check covers: [0, the largest of the data]
    t_val = 1.0
    n_val = round(t_val / dt)
    every = max(1, n_val // 100)
    sq0 = square_wave(n)[None]
    sq_exact = square_wave(n, t_val)
    x = np.arange(n) * TWO_PI / n
    res: dict[str, Any] = {"dt": dt, "frames": list(frames.shape), "u_99": u_max, "variants": {},
                           "validation_time": t_val, "validation_steps": n_val}
    for variant in cfg["b_variants"]:
        bias = B_VARIANTS[variant]
        runs = []
        for s in range(cfg["b_seeds"]):
            seed = cfg["seed"] + 1000 * s
            t1 = time.perf_counter()

            def fit(seed, variant=variant, bias=bias):
                seed_everything(seed)
                model = make_model(1, width=cfg["width"], depth=cfg["depth"], init=cfg["s5_init"], dt=dt, **bias)
                hist = _fit_curriculum(model, train, stages=cfg["b_stages"], epochs=cfg["b_epochs"],
                                       batch_size=cfg["b_batch"], lr=cfg["lr"], seed=seed, progress=progress,
                                       optimizer=cfg["optimizer"], lbfgs_iterations=cfg["lbfgs_iterations"],
                                       out_dir=out / "models" / tag / f"{variant}_seed{seed}{_model_suffix(cfg)}")
                return model, hist

            model, hist, seed, amplification, refits = _fit_stable(fit, seed, cfg["stable_refits"], (n,), u_top, log)
            gf = _gauge(model, (n,), data_max=u_max)
            k, g = gf["kappa"][..., 0], gf["g"]
            exact_g = one_step_symbol(k, dt)
            low = (k >= 1) & (k <= 16)
            rel_sym = (g - exact_g).abs()[low] / exact_g.abs()[low]
            # h below u = 0, where no density of the data is: the square wave's lower half
            below = (gf["u"] >= -1) & (gf["u"] <= 0)
            h_below = float((gf["h"] - gf["u"])[below].abs().max())
            sq = _rollout(model, sq0, n_val, every)
            sq_t = sq[0, -1]
            val_err = float((sq_t - sq_exact).norm() / sq_exact.norm())
            train_roll = _rollout(model, train[:1, 0], n_val, every)
            test_roll = _rollout(model, test[:, 0], test.shape[1] - 1)
            test_err = float((test_roll[0, -1] - test[0, -1]).norm() / test[0, -1].norm())
            from ..metrics import mass_drift

            mass_train = mass_drift(train_roll[0], 1)
            mass_sq = mass_drift(sq[0], 1)  # the square wave's mean is 0: the absolute change
            run = {"seed": seed, "loss_history": [r["train_loss"] for r in hist], "final_loss": hist[-1]["train_loss"],
                   "train_seconds": _train_seconds(hist), "gauge_scale": gf["scale"],
                   "symbol_max_rel_error_k_1_16": float(rel_sym.max()),
                   "max_amplification": amplification,
                   "refits": refits, "h_error_below_zero": h_below,
                   "symbol_rms_rel_error_k_1_16": float(rel_sym.square().mean().sqrt()),
                   "square_wave_rel_l2_t1": val_err, "test_rel_l2_final_frame": test_err,
                   "square_wave_finite": bool(torch.isfinite(sq).all()),
                   "mass_drift_train_max": float(mass_train.abs().max()),
                   "mass_change_square_wave_max": float(mass_sq.abs().max()),
                   "mass_train": mass_train.tolist(), "mass_square_wave": mass_sq.tolist(),
                   "k": k.tolist(), "g_re": g.real.tolist(), "g_im": g.imag.tolist(),
                   "h_u": gf["u"].tolist(), "h": gf["h"].tolist(), "square_wave_t1": sq_t.tolist(),
                   "seconds": time.perf_counter() - t1}
            log(f"  5-brownian {variant} seed {s}: symbol max rel err (1<=k<=16) "
                f"{run['symbol_max_rel_error_k_1_16']:.3f}, square wave rel L2 {val_err:.3f}, "
                f"mass drift {run['mass_drift_train_max']:.2e} ({run['seconds']:.0f} s)")
            runs.append(run)
        res["variants"][variant] = runs
    k_all = torch.arange(n // 2 + 1, dtype=torch.float64)
    ls = least_squares_symbol(train)
    ex_all = one_step_symbol(k_all, dt)
    sel = (k_all >= 1) & (k_all <= 16)
    binned = binned_noise_symbol(k_all[:, None], dt, n, cfg["assignment"])
    noisy = (k_all >= 16) & (k_all <= 64)  # modes of shot noise alone (von Mises signals are gone there)
    res["data_least_squares"] = {
        "symbol_max_rel_error_k_1_16": float(((ls - ex_all).abs()[sel] / ex_all.abs()[sel]).max()),
        "binned_noise_bias_max_rel_k_1_16": float(((binned - ex_all).abs()[sel] / ex_all.abs()[sel]).max()),
        "least_squares_vs_binned_noise_max_rel_k_16_64": float(
            ((ls.real - binned).abs()[noisy] / binned.abs()[noisy]).max()),
        "assignment": cfg["assignment"], "g_re": ls.real.tolist(), "binned_noise_g": binned.tolist(),
        "note": "per-mode least squares on the training histograms: the noise floor of any model; where shot noise "
                "dominates it converges to binned_noise_g, the exact symbol times the binning's alias ratio"}
    power = torch.fft.rfft(train.double(), dim=-1).abs().square().mean((0, 1))
    seeds = [cfg["seed"] + 1000 * s for s in range(cfg["b_seeds"])]
    res["network_floor"] = {
        "note": "noise-free L-BFGS fits of the g network to the exact symbol, each mode weighted as the m-step "
                "loss weighs it on these data (noise_free_symbol_fit): max rel err over 1 <= k <= 16 per seed",
        "seeds": seeds, **{f"steps_{m}": [noise_free_symbol_fit(power, dt, steps=m, seed=seed, width=cfg["width"],
                                                                depth=cfg["depth"], init=cfg["s5_init"])
                                          ["max_rel_error_k_1_16"] for seed in seeds]
                           for m in sorted({1, cfg["b_stages"]})}}
    res["exact"] = {"k": k_all.tolist(), "g": ex_all.tolist(), "x": x.tolist(),
                    "square_wave_t0": sq0[0].tolist(), "square_wave_t1": sq_exact.tolist()}
    res["targets"] = _brownian_targets(res["variants"])
    return res


def lowest_loss(runs: list[dict]) -> int:
    """Index of the fit with the lowest final training loss: of several weight seeds, the model one keeps
    without knowing the exact operator (fits of one data set end within ~1e-5 relative of one loss yet
    several percent apart in their symbols; the loss is the only fair judge among them)."""
    return min(range(len(runs)), key=lambda i: _final_loss(runs[i]))


def _final_loss(run: dict) -> float:
    return run["final_loss"] if "final_loss" in run else run["loss_history"][-1]


def _kept(runs: list[dict], key: str) -> dict[str, Any]:
    """``key`` of the kept fit (:func:`lowest_loss`), its seed, and every seed's value."""
    best = runs[lowest_loss(runs)]
    return {"kept": best[key], "kept_seed": best["seed"], "every_seed": [r[key] for r in runs]}


def _brownian_targets(variants: dict[str, list]) -> dict[str, Any]:
    """The §5 Brownian targets, each from the variants it needs (a target whose variants were not trained
    is left out). The symbol and square-wave targets are judged on the kept fit of conservation +
    reflection (:func:`lowest_loss`), every seed's value listed beside it; mass drift on every conserving
    fit. The failure without reflection is a claim about the models without the bias, judged on every fit as
    Fig 4 shows them: a fit fails visibly when its square-wave error misses the 5% bar fivefold (> 0.25); the
    target is met when each variant without reflection has such fits and the fits without reflection (both
    variants pooled) fail more often than those with it, significantly (one-sided Fisher exact test,
    p < 0.05: a count of failures among a few seeds proves nothing by itself). Without reflection the data do
    not determine h below 0 (§5.2.2), so whether one fit extrapolates it well is chance that its training loss
    cannot tell: the lowest-loss fit need not fail (its value is listed)."""
    runs = {v: variants.get(v, []) for v in B_VARIANTS}
    cr = runs["conservation+reflection"]
    conserved = runs["conservation"] + cr
    targets: dict[str, Any] = {}

    if cr:
        for name, key in (("symbol_within_5pct_for_k_le_16", "symbol_max_rel_error_k_1_16"),
                          ("square_wave_rel_l2_at_t1_le_5pct", "square_wave_rel_l2_t1")):
            value = _kept(cr, key)
            targets[name] = {"value": value, "threshold": "<= 0.05 for the kept fit (lowest final training loss)",
                             "met": bool(value["kept"] <= 0.05),
                             "every_seed_met": bool(all(v <= 0.05 for v in value["every_seed"]))}
    if conserved:
        targets["mass_drift_le_1e-6_with_conservation"] = {
            "value": [r["mass_drift_train_max"] for r in conserved], "threshold": 1e-6,
            "met": bool(all(r["mass_drift_train_max"] <= 1e-6 for r in conserved))}
    if cr and runs["none"] and runs["conservation"]:
        key = "square_wave_rel_l2_t1"
        from scipy.stats import fisher_exact  # here: scipy.stats takes a second to import

        failing = {v: _visible_failures(runs[v]) for v in B_VARIANTS}
        without = failing["none"] + failing["conservation"]
        n_without = len(runs["none"]) + len(runs["conservation"])
        p_value = float(fisher_exact([[without, n_without - without],
                                      [failing["conservation+reflection"], len(cr) - failing["conservation+reflection"]]],
                                     alternative="greater").pvalue)
        targets["validation_fails_without_reflection"] = {
            "value": {**{f"{v}_failing_fits": f"{failing[v]} of {len(runs[v])}" for v in B_VARIANTS},
                      "fisher_p_without_vs_with": p_value,
                      **{f"{v}_kept": _kept(runs[v], key)["kept"] for v in B_VARIANTS}},
            "threshold": f"fits with square-wave error > {VISIBLE_FAILURE:g} (5x the 5% bar) in each variant without "
                         f"reflection, and more of them without reflection than with it at p < {FAILURE_SIGNIFICANCE:g} "
                         "(one-sided Fisher exact test; fig4 shows every fit)",
            "met": bool(failing["none"] > 0 and failing["conservation"] > 0 and p_value < FAILURE_SIGNIFICANCE)}
    return targets


def _visible_failures(runs: list[dict]) -> int:
    """How many of ``runs`` fail the square-wave validation visibly (error at t = 1 above ``VISIBLE_FAILURE``)."""
    return sum(_nan_big(r["square_wave_rel_l2_t1"]) > VISIBLE_FAILURE for r in runs)


def _nan_big(v: float) -> float:
    return v if math.isfinite(v) else math.inf


# --- §5 Lévy -------------------------------------------------------------------------------------

def resolved_band(frames: Tensor, dt: float, alpha: float, tol: float = 0.1, k_max: int = 32) -> int:
    """The largest integer ``K`` such that the per-mode least-squares symbol of ``frames``
    (:func:`least_squares_symbol`) is within ``tol`` (relative RMS) of the exact one-step symbol on every
    shell ``k - 1 < |κ| ≤ k``, ``k = 1..K``: the band of wavenumbers these particle histograms determine
    (beyond it the histograms' noise overtakes the signal, §5.2.4). 0 when not even ``|κ| ≤ 1`` is."""
    n = frames.shape[-1]
    ls = least_squares_symbol(frames)
    kn = torch.sqrt(sum(kk * kk for kk in _half_wavenumbers(n)))
    exact = one_step_symbol(kn, dt, alpha)
    band = 0
    for k in range(1, min(k_max, n // 2) + 1):
        shell = (kn > k - 1) & (kn <= k)
        if shell.any():
            err = ((ls - exact).abs()[shell].square().mean().sqrt() / exact.abs()[shell].square().mean().sqrt())
            if not float(err) <= tol:
                break
        band = k
    return band


def delta_band_solution(n: int, t: float, band: float, alpha: float = 1.5) -> Tensor:
    """Eq 26's δ solution truncated to the modes ``|κ| ≤ band`` (the test field of the band the data resolve)."""
    kx, ky = wavenumbers((n, n))
    kn = torch.sqrt(kx * kx + ky * ky)
    return torch.fft.ifft2(n * n * torch.exp(-kn ** alpha * t) * (kn <= band)).real


def band_limited(u: Tensor, band: float) -> Tensor:
    """``u [..., n, n]`` with its Fourier modes ``|κ| > band`` removed."""
    n = u.shape[-1]
    kx, ky = wavenumbers((n, n))
    return torch.fft.ifft2(torch.fft.fft2(u) * (torch.sqrt(kx * kx + ky * ky) <= band)).real


def fractional_heat(u0: Tensor, t: float, alpha: float = 1.5) -> Tensor:
    """The exact solution at ``t`` of ``u_t = -(-Δ)^(α/2) u`` on ``[0, 2π)²`` from ``u0 [..., n, n]``."""
    n = u0.shape[-1]
    kx, ky = wavenumbers((n, n))
    return torch.fft.ifft2(torch.fft.fft2(u0) * torch.exp(-torch.sqrt(kx * kx + ky * ky) ** alpha * t)).real


def _square_wave_validation(model, n: int, steps: int, dt: float, band: float) -> dict[str, float]:
    """Eq 25's validation (Fig 7, rows 3-4): the model's rollout of the 2D square wave over ``steps``
    frames against the exact fractional heat solution on ``n × n`` points, relative L2: the field as
    printed (values ±1, all modes), band-limited to ``|κ| ≤ band``, and as a density ``1 + square wave`` (values in
    [0, 2], the range of densities h was trained on)."""
    u0, exact = square_wave_2d(n, 0.0), square_wave_2d(n, steps * dt)

    def rel(start, target):
        end = _rollout(model, start[None], steps, steps)[0, -1]
        return float((end - target).norm() / target.norm())

    return {"square_wave_rel_l2": rel(u0, exact),
            "square_wave_band_rel_l2": rel(band_limited(u0, band), band_limited(exact, band)),
            "square_wave_density_rel_l2": rel(1.0 + u0, 1.0 + exact)}


def _fig7_fields(model, histograms: Tensor, steps: int, dt: float) -> dict[str, Any]:
    """Fig 7's four rows at t = 0, t_end / 2, t_end: a held-out set's histograms, the model's rollout
    of its first histogram, Eq 25's exact square wave and the model's rollout of it (rounded to 5
    decimals for the JSON)."""
    n, half = histograms.shape[-1], steps // 2
    times = [0, half, steps]

    def pick(frames):
        return [np.round(frames[i].numpy(), 5).tolist() for i in range(len(times))]

    from_hist = _rollout(model, histograms[0][None], steps)[0][times]
    square = _rollout(model, square_wave_2d(n, 0.0)[None], steps)[0][times]
    return {"times": [t * dt for t in times],
            "histogram": pick(histograms[times]), "learned_from_histogram": pick(from_hist),
            "square_wave": pick(torch.stack([square_wave_2d(n, t * dt) for t in times])),
            "learned_square_wave": pick(square)}


def _section5_levy(cfg: dict, out: Path, log, progress: bool) -> dict:
    n_traj, steps = cfg["l_traj"], cfg["l_steps"]
    res: dict[str, Any] = {"alpha": 1.5, "betas": {}, "sizes": cfg["l_sizes"]}
    n = 64
    delta0 = delta_solution(n, 0.0)[None]
    data: dict[float, Tensor] = {}
    dt = 1e-3
    for beta in cfg["betas"]:
        tag = f"levy_beta{beta:g}_{n_traj}x{cfg['l_particles']}x{steps}_seed{cfg['seed']}{_assignment_tag(cfg)}"
        t0 = time.perf_counter()
        data[beta], dt = _particle_frames("patel-levy-2d", out / "data" / f"{tag}.h5", n_traj=n_traj,
                                          n_particles=cfg["l_particles"], steps=steps, seed=cfg["seed"] + 500,
                                          anisotropy=beta, assignment=cfg["assignment"], progress=progress)
        log(f"  5-levy data beta={beta:g}: {tuple(data[beta].shape)} ({time.perf_counter() - t0:.0f} s)")
    # The band the histograms resolve, from the most isotropic data set of the run at the largest size.
    reference_beta = min(cfg["betas"], key=abs)
    resolved = resolved_band(data[reference_beta][: cfg["l_sizes"][-1]], dt, 1.5)
    band = max(resolved, 2)  # at least the shells 1 and 2 (an exponent needs two |k| values); toy data resolve none
    res["resolved_band"] = {"k_max": band, "resolved": resolved, "from_beta": reference_beta, "tolerance": 0.1}
    log(f"  5-levy: the beta={reference_beta:g} histograms resolve the symbol to 10% for |k| <= {resolved}")
    t_end = steps * dt
    delta_exact = delta_solution(n, t_end)
    band0, band_exact = delta_band_solution(n, 0.0, band)[None], delta_band_solution(n, t_end, band)
    # The test field: the initial histogram of the last (held-out) isotropic particle set, band-limited;
    # its exact evolution is the fractional heat equation's. The same field for every beta. Its fluctuation
    # is shrunk about its mean (the equation is linear: the exact evolution shrinks alike) until it lies
    # within [0, the 99th percentile of every beta's densities]: the β = 1 data, uniform along x, peak far
    # lower than an isotropic field, and the test is of g (what isotropy constrains), not of h extrapolated.
    u_99 = {beta: float(torch.quantile(data[beta][:, ::max(1, steps // 10)].flatten()[::7], 0.99))
            for beta in cfg["betas"]}
    held_out = cfg["l_sizes"][-1] < n_traj
    raw = band_limited(data[reference_beta][-1, 0], band)
    mean = raw.mean()
    shrink = min(1.0, float((min(u_99.values()) - mean) / (raw.max() - mean)), float(mean / (mean - raw.min())))
    test0 = (mean + shrink * (raw - mean))[None]
    test_exact = fractional_heat(test0[0], t_end)
    res["test_field"] = {"set": n_traj - 1, "beta": reference_beta, "held_out": held_out, "band": band,
                         "fluctuation_scale": shrink, "range": [float(test0.min()), float(test0.max())],
                         "u_99": {f"{beta:g}": v for beta, v in u_99.items()}}
    for beta in cfg["betas"]:
        tag = f"levy_beta{beta:g}_{n_traj}x{cfg['l_particles']}x{steps}_seed{cfg['seed']}{_assignment_tag(cfg)}"
        frames = data[beta]
        u_max = u_99[beta]
        u_top = float(frames.max())
        table: dict[str, Any] = {}
        for variant in ("unrestricted", "isotropic"):
            rows = {}
            for size in cfg["l_sizes"]:
                runs = []
                for s in range(cfg["l_seeds"]):
                    seed = cfg["seed"] + 1000 * s
                    t1 = time.perf_counter()

                    def fit(seed, variant=variant, size=size, frames=frames, tag=tag):
                        seed_everything(seed)
                        model = make_model(2, conservation=True, isotropic=variant == "isotropic", width=cfg["width"],
                                           init=cfg["s5_init"], depth=cfg["depth"], dt=dt)
                        hist = _fit_curriculum(
                            model, frames[:size], stages=cfg["l_stages"], epochs=cfg["l_epochs"],
                            batch_size=cfg["l_batch"], lr=cfg["lr"], seed=seed, progress=progress,
                            out_dir=out / "models" / tag / f"{variant}_sets{size}_seed{seed}{_model_suffix(cfg)}",
                            optimizer=cfg["optimizer"], lbfgs_iterations=cfg["lbfgs_iterations"])
                        return model, hist

                    model, hist, seed, amplification, refits = _fit_stable(fit, seed, cfg["stable_refits"], (n, n),
                                                                           u_top, log)
                    gf = _gauge(model, (n, n), data_max=u_max)
                    g, kn = gf["g"], gf["magnitude"]
                    exact_g = one_step_symbol(kn, dt, 1.5)

                    def rel_rms(sel, g=g, exact_g=exact_g):
                        return float((g - exact_g).abs()[sel].square().mean().sqrt()
                                     / exact_g.abs()[sel].square().mean().sqrt())

                    roll = _rollout(model, delta0, steps, steps)[0, -1]
                    roll_band = _rollout(model, band0, steps, steps)[0, -1]
                    roll_test = _rollout(model, test0, steps, steps)[0, -1]
                    run = {"seed": seed,
                           "test_rel_l2": float((roll_test - test_exact).norm() / test_exact.norm()),
                           "delta_band_rel_l2": float((roll_band - band_exact).norm() / band_exact.norm()),
                           "delta_rel_l2": float((roll - delta_exact).norm() / delta_exact.norm()),
                           "symbol_rel_rms_band": rel_rms((kn > 0) & (kn <= band)),
                           "symbol_rel_rms_k_le_16": rel_rms((kn > 0) & (kn <= 16)),
                           "exponent_band": fit_exponent(kn.numpy(), g.real.numpy(), dt, 1.0, float(band)),
                           "exponent": fit_exponent(kn.numpy(), g.real.numpy(), dt),
                           "max_amplification": amplification,
                           "refits": refits, "final_loss": hist[-1]["train_loss"],
                           "train_seconds": _train_seconds(hist),
                           "seconds": time.perf_counter() - t1}
                    if size == cfg["l_sizes"][-1] and s == 0:
                        run["g_re_window"] = _window(_full_real(g, n)).tolist()
                        run["delta_rollout"] = roll.tolist()
                        run.update(_square_wave_validation(model, n, steps, dt, band))
                        if beta == reference_beta and variant == "isotropic":
                            res["fig7"] = {"beta": beta, **_fig7_fields(model, data[beta][-1], steps, dt)}
                    log(f"  5-levy beta={beta:g} {variant} sets={size} seed {s}: test rel L2 {run['test_rel_l2']:.3e}, "
                        f"band-limited delta rel L2 {run['delta_band_rel_l2']:.3e}, symbol rel RMS (|k| <= {band}) {run['symbol_rel_rms_band']:.3e}, "
                        f"exponent (1 <= |k| <= {band}) {run['exponent_band']:.3f} ({run['seconds']:.0f} s)")
                    runs.append(run)
                rows[str(size)] = {"runs": runs, **{f"{key}_mean": float(np.mean([r[key] for r in runs])) for key in (
                    "test_rel_l2", "delta_band_rel_l2", "delta_rel_l2", "symbol_rel_rms_band", "symbol_rel_rms_k_le_16",
                    "exponent_band", "exponent")},
                                   "max_amplification_max": max(r["max_amplification"] for r in runs)}
            table[variant] = rows
        res["betas"][f"{beta:g}"] = table
        ls = least_squares_symbol(frames[: cfg["l_sizes"][-1]])
        kn_half = torch.sqrt(sum(kk * kk for kk in _half_wavenumbers(n)))
        res.setdefault("data_least_squares", {})[f"{beta:g}"] = {
            "exponent": fit_exponent(kn_half.numpy(), ls.real.numpy(), dt),
            "exponent_band": fit_exponent(kn_half.numpy(), ls.real.numpy(), dt, 1.0, float(band))}
    kx, ky = wavenumbers((n, n))
    kn_full = torch.sqrt(kx * kx + ky * ky)
    res["dt"], res["t_end"] = dt, t_end
    res["exact"] = {"g_re_window": _window(one_step_symbol(kn_full, dt, 1.5)).tolist(),
                    "delta_t_end": delta_exact.tolist()}
    largest = str(cfg["l_sizes"][-1])
    targets: dict[str, Any] = {}
    if "0" in res["betas"]:
        iso = res["betas"]["0"]["isotropic"][largest]
        value = _kept(iso["runs"], "exponent_band")
        targets["isotropic_exponent_1.5_pm_0.1"] = {
            "value": {**value, "mean": iso["exponent_band_mean"]},
            "threshold": f"1.4 <= alpha <= 1.6 for the kept fit (lowest final training loss; fit over 1 <= |k| <= "
                         f"{band}, the resolved band)",
            "met": bool(abs(value["kept"] - 1.5) <= 0.1),
            "every_seed_met": bool(all(abs(e - 1.5) <= 0.1 for e in value["every_seed"]))}
    if "1" in res["betas"]:
        b1 = {v: res["betas"]["1"][v][largest] for v in ("unrestricted", "isotropic")}
        kept = {v: rows["runs"][lowest_loss(rows["runs"])] for v, rows in b1.items()}

        def ratio(key):
            num, den = b1["unrestricted"][f"{key}_mean"], b1["isotropic"][f"{key}_mean"]
            return num / den if den > 0 else math.inf

        r_kept = kept["unrestricted"]["test_rel_l2"] / kept["isotropic"]["test_rel_l2"]
        worst_pair = (min(r["test_rel_l2"] for r in b1["unrestricted"]["runs"])
                      / max(r["test_rel_l2"] for r in b1["isotropic"]["runs"]))
        targets["isotropic_10x_lower_test_error_at_beta_1"] = {
            "value": {"kept_test_error_ratio": r_kept,
                      "kept_seeds": [kept["unrestricted"]["seed"], kept["isotropic"]["seed"]],
                      "mean_test_error_ratio": ratio("test_rel_l2"), "worst_pair_ratio": worst_pair,
                      "symbol_band_error_ratio": ratio("symbol_rel_rms_band"),
                      "delta_band_error_ratio": ratio("delta_band_rel_l2"), "delta_full_error_ratio": ratio("delta_rel_l2")},
            "threshold": ">= 10 for the kept fits (lowest final training loss of each variant): ratio of the test "
                         "errors (rollout of a held-out isotropic initial histogram, band-limited to "
                         f"|k| <= {band}, against its exact fractional heat evolution)",
            "met": bool(r_kept >= 10), "every_seed_met": bool(worst_pair >= 10)}
    res["targets"] = targets
    return res


# --- figures and markdown ------------------------------------------------------------------------

def _figures(results: dict, out: Path) -> list[str]:
    saver = figure_saver(out)
    if saver is None:
        return []
    plt, save, written = saver

    s4 = results["sections"].get("4")
    if s4:
        for name, title in (("burgers", "fig2_burgers"), ("laplacian", "fig3_laplacian")):
            r = s4["problems"][name]
            fig, axes = plt.subplots(2, 2, figsize=(9, 7))
            ex, le = np.asarray(r["sample"]["exact"]), np.asarray(r["sample"]["learned"])
            if ex.ndim == 1:
                axes[0, 0].plot(ex, label="exact")
                axes[0, 0].plot(le, "--", label="learned")
                axes[0, 0].legend()
                axes[0, 0].set_title(r"$\partial_x u^2$ on a test field")
            else:
                axes[0, 0].imshow(ex - le, cmap="RdBu_r")
                axes[0, 0].set_title(r"$\nabla^2 u$ − learned (isotropic)")
            for variant, rows in r["error"].items():
                ns = sorted(int(k) for k in rows)
                axes[0, 1].errorbar(ns, [10 ** rows[str(k)]["log10_mean"] for k in ns],
                                    yerr=None, fmt="o-", label=variant)
            axes[0, 1].set_xscale("log")
            axes[0, 1].set_yscale("log")
            axes[0, 1].set_xlabel("training set size N")
            axes[0, 1].set_ylabel("relative test error")
            axes[0, 1].legend()
            for variant, c in r["curves"].items():
                if name == "burgers":
                    axes[1, 0].plot(c["k"], c["g_im"], ".", label=f"learned ({variant})")
                    kk = np.asarray(c["k"])
                    axes[1, 0].plot(np.sort(kk), np.sort(kk), "k-", lw=0.8, label="exact iκ")
                    axes[1, 0].set_ylabel("Im g(κ)")
                    axes[1, 0].set_xlabel("κ")
                else:
                    w = np.asarray(c["g_re_window"])
                    kw = np.asarray(c["k_window"])
                    axes[1, 0].contour(kw, kw, w, levels=[-200, -100, -50, -25], linestyles="solid",
                                       colors="C0" if variant == "unrestricted" else "C1")
                    KX, KY = np.meshgrid(kw, kw, indexing="ij")
                    axes[1, 0].contour(kw, kw, -(KX ** 2 + KY ** 2), levels=[-200, -100, -50, -25], colors="k",
                                       linestyles="dotted")
                    axes[1, 0].set_title("Re g: exact (dotted), unrestricted (C0), isotropic (C1)", fontsize=8)
                axes[1, 1].plot(c["h_u"], c["h"], label=f"learned ({variant})")
            hu = np.asarray(next(iter(r["curves"].values()))["h_u"])
            axes[1, 1].plot(hu, hu ** 2 if name == "burgers" else hu, "k:", label="exact")
            axes[1, 1].set_xlabel("u")
            axes[1, 1].set_ylabel("h(u) (gauge-fixed)")
            axes[1, 1].legend(fontsize=7)
            save(fig, f"{title}.png")

    b = results["sections"].get("5-brownian")
    if b:
        ex = b["exact"]
        variants = list(b["variants"])
        fig, axes = plt.subplots(1, len(variants), figsize=(4 * len(variants), 3.4), squeeze=False)
        for ax, v in zip(axes[0], variants):
            ax.plot(ex["x"], ex["square_wave_t0"], "k-", lw=0.6, label="t = 0")
            ax.plot(ex["x"], ex["square_wave_t1"], "C0-", lw=2, label="Eq 23, t = 1")
            runs = b["variants"][v]
            for i, r in enumerate(runs):
                ax.plot(ex["x"], r["square_wave_t1"], "C1--", lw=1, label="learned" if i == 0 else None)
            ax.set_ylim(-1.6, 1.6)
            ax.set_title(f"{v}\n{_visible_failures(runs)} of {len(runs)} fits off by > {VISIBLE_FAILURE:g} (rel. L2)", fontsize=9)
            ax.legend(fontsize=7)
        save(fig, "fig4_square_wave.png")
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
        for v, style in (("none", "-"), ("conservation", "--"), ("conservation+reflection", ":")):
            for i, r in enumerate(b["variants"].get(v, [])):
                tt = np.linspace(0, b["validation_time"], len(r["mass_train"]))
                axes[0].plot(tt, r["mass_train"], style, color=f"C{list(B_VARIANTS).index(v)}", label=v if i == 0 else None)
                axes[1].plot(tt, r["mass_square_wave"], style, color=f"C{list(B_VARIANTS).index(v)}",
                             label=v if i == 0 else None)
        axes[0].set_title("training IC: mass / initial mass − 1")
        axes[1].set_title("square wave: mass − initial mass")
        for ax in axes:
            ax.set_xlabel("t")
            ax.legend(fontsize=7)
        save(fig, "fig5_mass.png")
        fig, axes = plt.subplots(2, len(variants), figsize=(4 * len(variants), 6.4), squeeze=False)
        for j, v in enumerate(variants):
            for i, r in enumerate(b["variants"][v]):
                axes[0, j].plot(r["h_u"], r["h"], "C1--", label="learned" if i == 0 else None)
                axes[1, j].plot(r["k"], r["g_re"], "C1--", label="learned Re g" if i == 0 else None)
            hu = np.asarray(b["variants"][v][0]["h_u"])
            axes[0, j].plot(hu, hu, "k-", lw=0.8, label="exact h = u")
            axes[1, j].plot(ex["k"], ex["g"], "k-", lw=0.8, label=r"exact $e^{-\kappa^2\Delta t}-1$")
            data_ls = b.get("data_least_squares", {})
            if "binned_noise_g" in data_ls:  # what the histograms' shot noise makes of it (results since session 12)
                axes[1, j].plot(ex["k"], data_ls["g_re"], ".", color="0.6", ms=2, label="per-mode least squares")
                axes[1, j].plot(ex["k"], data_ls["binned_noise_g"], "k:", lw=0.8,
                                label=f"shot noise, {data_ls['assignment']} bins")
            axes[0, j].set_title(v)
            axes[1, j].set_xlabel("κ")
            axes[0, j].legend(fontsize=7)
            axes[1, j].legend(fontsize=7)
        save(fig, "fig6_g_h.png")

    lv = results["sections"].get("5-levy")
    if lv:
        largest = str(lv["sizes"][-1])
        kw = np.arange(-16, 17)
        exact = np.asarray(lv["exact"]["g_re_window"])
        levels = sorted(set(np.quantile(exact, [0.1, 0.3, 0.6, 0.85]).round(4)))
        betas = list(lv["betas"])
        fig, axes = plt.subplots(1, len(betas), figsize=(4 * len(betas), 3.8), squeeze=False)
        for ax, beta in zip(axes[0], betas):
            ax.contour(kw, kw, exact, levels=levels, colors="k", linestyles="dashed")
            for variant, color in (("unrestricted", "C0"), ("isotropic", "C1")):
                w = np.asarray(lv["betas"][beta][variant][largest]["runs"][0]["g_re_window"])
                ax.contour(kw, kw, w, levels=levels, colors=color, linestyles="solid")
            ax.set_title(f"Re g, β = {beta}: exact (dashed), unrestr. (C0), iso (C1)", fontsize=8)
            ax.set_xlabel("κ_x")
            ax.set_ylabel("κ_y")
            ax.set_aspect("equal")
        save(fig, "fig9_levy_symbol.png")
        fig, ax = plt.subplots(figsize=(5, 3.8))
        marks = ["o", "s", "^", "v"]
        for i, beta in enumerate(betas):
            for variant, style in (("unrestricted", "-"), ("isotropic", ":")):
                rows = lv["betas"][beta][variant]
                ns = sorted(int(k) for k in rows)
                ax.plot(ns, [rows[str(k)]["test_rel_l2_mean"] for k in ns], style, marker=marks[i % 4],
                        color="C0" if variant == "unrestricted" else "C1", label=f"{variant}, β = {beta}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training sets (particle trajectories)")
        ax.set_ylabel("test error (held-out isotropic IC, rel. L2)")
        ax.legend(fontsize=6)
        save(fig, "fig10_levy_error.png")
        if "0" in lv["betas"]:
            fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
            ex = np.fft.fftshift(np.asarray(lv["exact"]["delta_t_end"]))
            vmax = ex.max()
            for ax, (label, img) in zip(axes, [("Eq 26", ex)] + [
                    (v, np.fft.fftshift(np.asarray(lv["betas"]["0"][v][largest]["runs"][0]["delta_rollout"])))
                    for v in ("unrestricted", "isotropic")]):
                ax.imshow(img, vmin=0, vmax=vmax, cmap="viridis")
                ax.set_title(f"{label}, t = {lv['t_end']:g}")
                ax.axis("off")
            save(fig, "fig8_levy_delta.png")
        f7 = lv.get("fig7")
        if f7:
            # (row label, its fields, the fields that set its colour range: the data or the exact solution)
            rows = [("histograms (held-out set)", "histogram", "histogram"),
                    ("learned, from its t = 0", "learned_from_histogram", "histogram"),
                    ("Eq 25, exact", "square_wave", "square_wave"),
                    ("learned, from Eq 25's t = 0", "learned_square_wave", "square_wave")]
            fig, axes = plt.subplots(len(rows), len(f7["times"]), figsize=(2.6 * len(f7["times"]), 2.5 * len(rows)))
            fig.suptitle(f"Fig 7: isotropic model, β = {f7.get('beta', 0):g}, {largest} sets, seed 0", fontsize=9)
            for i, (label, key, ref_key) in enumerate(rows):
                fields = [np.asarray(f) for f in f7[key]]
                ref = [np.asarray(f) for f in f7[ref_key]]
                lo, hi = min(float(f.min()) for f in ref), max(float(f.max()) for f in ref)
                for j, (t, img) in enumerate(zip(f7["times"], fields)):
                    axes[i, j].imshow(img, vmin=lo, vmax=hi, cmap="viridis")
                    axes[i, j].set_title(f"{label}, t = {t:g}" if j == 0 else f"t = {t:g}", fontsize=7)
                    axes[i, j].axis("off")
            save(fig, "fig7_levy_square_wave.png")
    return written


def _refit_lines(runs: list[tuple[str, dict]]) -> list[str]:
    """Markdown lines naming the fits --stable-refits rejected (none: no lines)."""
    rejected = [f"{label}: seed {x['seed']} (max |1 + g h'| = {x['max_amplification']:.4g}, final loss "
                f"{x['final_loss']:.7g}) refitted as seed {r['seed']}"
                for label, r in runs for x in r.get("refits", [])]
    if not rejected:
        return []
    return ["", "Fits rejected because their update amplifies (--stable-refits): " + "; ".join(rejected) + "."]


_AMPLIFICATION_NOTE = ("max |1 + g h'|: the growth per step of the learned update linearized about a uniform "
                       "density u, over the modes and 0 ≤ u ≤ the largest density of the data (`ModalOperator.max_amplification`); "
                       "above 1 the model amplifies some perturbation (the exact updates: 1).")


def _training_time_note(results: dict) -> str:
    """``; the fits trained N s ...``: the §5 fits' own training time, kept across resumes (a rerun that
    only re-evaluates saved fits has a short wall time); empty for results without it."""
    runs = [r for v in results["sections"].get("5-brownian", {}).get("variants", {}).values() for r in v]
    runs += [r for table in results["sections"].get("5-levy", {}).get("betas", {}).values()
             for rows in table.values() for row in rows.values() for r in row["runs"]]
    fits = runs + [x for r in runs for x in r.get("refits", [])]
    if not fits or not all("train_seconds" in r for r in fits):
        return ""
    return (f"; the {len(fits)} §5 fits trained {sum(r['train_seconds'] for r in fits):.0f} s in all "
            f"({min(r['train_seconds'] for r in runs):.0f}-{max(r['train_seconds'] for r in runs):.0f} s each, "
            "counted across resumed runs)")


def _markdown(results: dict) -> str:
    lines = ["# patel2021 reproduction", "", f"command: `{results['command']}`", "",
             f"wall time: {results.get('seconds', float('nan')):.0f} s; sections: {', '.join(results['sections'])}"
             + _training_time_note(results), ""]
    cfg = results["config"]
    lines += targets_table(results)
    s4 = results["sections"].get("4")
    if s4:
        lines += ["", "## §4 operator regression (Figs 2-3)", "",
                  # results written before the per-section init keys: "init", or before any init option: torch
                  f"Eq 17 fields, width {cfg['width']}, depth {cfg['depth']}, {cfg.get('s4_init') or cfg.get('init') or 'torch'} init, Adam lr "
                  f"{cfg['s4_lr']:g} (cosine-decayed), batch {cfg['s4_batch']}, {cfg['s4_epochs']} epoch(s), "
                  f"{cfg['s4_seeds']} weight seed(s); relative error ‖Lu − L̂u‖/‖L̂u‖, mean over {cfg['s4_test']} test "
                  "fields; over seeds the geometric mean (the paper plots the mean log error), the range in brackets.",
                  "", "| operator | variant | " + " | ".join(f"N = {n}" for n in cfg["sizes"]) + " |",
                  "|---|---|" + "---|" * len(cfg["sizes"])]

        def cell(row):
            errs = row["relative_error"]
            text = f"{10 ** row['log10_mean']:.3e}"
            return text + (f" ({min(errs):.2e} – {max(errs):.2e})" if len(errs) > 1 else "")

        for name, r in s4["problems"].items():
            for variant, rows in r["error"].items():
                lines.append(f"| {name} | {variant} | " + " | ".join(cell(rows[str(n)]) for n in cfg["sizes"]) + " |")
        for name, r in s4["problems"].items():
            for variant, c in r["curves"].items():
                lines.append(f"\n{name} {variant} (N = {cfg['sizes'][-1]}): gauge-fixed g, max relative error over "
                             f"{c['g_error_range']}: {c['g_max_rel_error']:.3g}")
    # results written before the per-section init keys: "init", or before any init option: torch
    s5_init = cfg.get("s5_init") or cfg.get("init") or "torch"
    b = results["sections"].get("5-brownian")
    if b:
        lines += ["", "## §5 Brownian 1D (Figs 4-6)", "",
                  f"{b['frames'][0]} particle sets ({cfg['b_particles']} particles, the last held out), "
                  f"{b['frames'][1]} frames Δt = {b['dt']:g}; {s5_init} init; Eq 21 curriculum M = {cfg['b_stages']}, "
                  + (f"{cfg['b_epochs']} epoch(s) per stage, batch {cfg['b_batch']}, Adam"
                     if cfg.get("optimizer", "adam") == "adam" else
                     f"full-batch L-BFGS, 2 epochs of {cfg.get('lbfgs_iterations', 30)} iterations per stage")
                  + ". Symbol error: max over "
                  "1 ≤ |κ| ≤ 16 of |s·g − (e^{−κ²Δt} − 1)| / |e^{−κ²Δt} − 1|. " + _AMPLIFICATION_NOTE, "",
                  "| variant | seed | symbol max rel err | square wave rel L2 (t = 1) | mass drift (train IC, t = 1) "
                  "| test rel L2 (last frame) | final training loss | max \\|1 + g h'\\| | max \\|h − u\\|, −1 ≤ u ≤ 0 | kept |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for v, runs in b["variants"].items():
            best = lowest_loss(runs)
            for i, r in enumerate(runs):
                amp = r.get("max_amplification")  # results since session 12
                lines.append(f"| {v} | {r['seed']} | {r['symbol_max_rel_error_k_1_16']:.3g} | "
                             f"{r['square_wave_rel_l2_t1']:.3g} | {r['mass_drift_train_max']:.2e} | "
                             f"{r['test_rel_l2_final_frame']:.3g} | {_final_loss(r):.7g} | "
                             + ("–" if amp is None else f"{amp:.4g}") + " | "
                             + (f"{r['h_error_below_zero']:.3g}" if "h_error_below_zero" in r else "–") + " | "
                             + ("yes" if i == best else "") + " |")
        lines.append("\nKept: of each variant's seeds, the fit with the lowest final training loss (`lowest_loss`), "
                     "the model one keeps without knowing the exact operator; the symbol and square-wave targets are judged "
                     "on it, every seed's value listed beside it. The failure without reflection is judged on every fit, "
                     "as Fig 4 shows them: a fit fails visibly when its square-wave error misses the 5% bar fivefold "
                     f"(> {VISIBLE_FAILURE:g}), and the fits without reflection must fail more often than those with it "
                     f"(one-sided Fisher exact test, p < {FAILURE_SIGNIFICANCE:g}). max |h − u| for −1 ≤ u ≤ 0 (gauge-fixed h against the exact "
                     "identity): h where the data have no density and the square wave's lower half is (§5.2.2: "
                     "without reflection the data do not determine it).")
        lines += _refit_lines([(v, r) for v, runs in b["variants"].items() for r in runs])
        if "data_least_squares" in b:
            d = b["data_least_squares"]
            lines.append(f"\nPer-mode least squares on the training histograms (the data's own noise floor): symbol max "
                         f"rel err for 1 ≤ |κ| ≤ 16 = {d['symbol_max_rel_error_k_1_16']:.3g}.")
            if "binned_noise_bias_max_rel_k_1_16" in d:
                lines.append(
                    f"Binning ({d['assignment']}): on modes of shot noise alone the regression converges to "
                    "r(κ) e^{−κ²Δt} − 1, r the binning's alias ratio (sinc² x for nearest-grid-point histograms, "
                    "sinc⁴ x / (1 − ⅔ sin² x) for cloud in cell, x = κh/2; `binned_noise_symbol`): a bias of "
                    f"{d['binned_noise_bias_max_rel_k_1_16']:.3g} at most for 1 ≤ |κ| ≤ 16 that no amount of data "
                    "removes; the data's least squares agree with that prediction to "
                    f"{d['least_squares_vs_binned_noise_max_rel_k_16_64']:.3g} on 16 ≤ κ ≤ 64.")
        if "network_floor" in b:
            f = b["network_floor"]
            lines.append("The g network's own floor: fitted without noise to the exact symbol, each mode weighted as "
                         "the m-step loss weighs it on these data (`noise_free_symbol_fit`), max rel err for "
                         "1 ≤ |κ| ≤ 16 over the seeds " + ", ".join(map(str, f["seeds"])) + ": "
                         + "; ".join(f"m = {key.split('_')[1]}: " + " / ".join(f"{v:.3g}" for v in f[key])
                                     for key in f if key.startswith("steps_"))
                         + " (the seed spread of a fit is the network's as much as the data's).")
    lv = results["sections"].get("5-levy")
    if lv:
        band = lv.get("resolved_band", {}).get("k_max")
        lines += ["", "## §5 Lévy 2D, α = 1.5 (Figs 7-10)", "",
                  f"{cfg['l_traj']} particle sets per β ({cfg['l_particles']} particles), {cfg['l_steps']} frames "
                  f"Δt = {lv['dt']:g}; {s5_init} init; conservation in every model. Resolved band: the per-mode least-squares symbol "
                  f"of the β = {lv['resolved_band']['from_beta']:g} histograms is within 10% (relative RMS) of the exact "
                  f"one on every shell up to |κ| = {lv['resolved_band'].get('resolved', band)} (metrics below on |κ| ≤ {band}); "
                  "beyond it the particle noise overtakes the signal (§5.2.4). "
                  f"Test error: relative L2 at t = {lv['t_end']:g} of the rollout from the initial histogram of the "
                  f"held-out isotropic set (β = {lv['test_field']['beta']:g}, set {lv['test_field']['set']}), band-limited "
                  f"to |κ| ≤ {band}"
                  + (f", its fluctuation about the mean scaled by {lv['test_field']['fluctuation_scale']:.3g} (values "
                     f"{lv['test_field']['range'][0]:.3g}-{lv['test_field']['range'][1]:.3g}: within the 99th percentile "
                     "of every β's densities, so that h is not extrapolated)" if "range" in lv["test_field"] else "")
                  + ", against its exact fractional heat evolution; the same for the δ truncated to "
                  f"|κ| ≤ {band} and for the full δ of Eq 26 (all 64² modes, far outside the densities h was trained "
                  "on). Symbol error: relative RMS. " + _AMPLIFICATION_NOTE, "",
                  # (\\| : a literal bar inside a markdown table cell)
                  f"| β | variant | sets | test error | δ (\\|κ\\| ≤ {band}) | δ (all modes) | symbol (\\|κ\\| ≤ {band}) | "
                  f"symbol (\\|κ\\| ≤ 16) | exponent (1 ≤ \\|κ\\| ≤ {band}) | exponent (1 ≤ \\|κ\\| ≤ 8) | "
                  "max \\|1 + g h'\\| (worst seed) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for beta, table in lv["betas"].items():
            for variant, rows in table.items():
                for size, row in rows.items():
                    lines.append(f"| {beta} | {variant} | {size} | {row['test_rel_l2_mean']:.3g} | "
                                 f"{row['delta_band_rel_l2_mean']:.3g} | "
                                 f"{row['delta_rel_l2_mean']:.3g} | {row['symbol_rel_rms_band_mean']:.3g} | "
                                 f"{row['symbol_rel_rms_k_le_16_mean']:.3g} | {row['exponent_band_mean']:.3f} | "
                                 f"{row['exponent_mean']:.3f} | "
                                 + (f"{row['max_amplification_max']:.4g}" if "max_amplification_max" in row else "–")
                                 + " |")
    if lv:
        largest = str(cfg["l_sizes"][-1])
        lines += ["", f"Every fit at {largest} sets (kept: the lowest final training loss of the variant's seeds):", "",
                  f"| β | variant | seed | test error | symbol (\\|κ\\| ≤ {band}) | exponent (1 ≤ \\|κ\\| ≤ {band}) | "
                  "final training loss | kept |", "|---|---|---|---|---|---|---|---|"]
        for beta, table in lv["betas"].items():
            for variant, rows in table.items():
                runs = rows[largest]["runs"]
                best = lowest_loss(runs) if all("final_loss" in r for r in runs) else None
                for i, r in enumerate(runs):
                    lines.append(f"| {beta} | {variant} | {r['seed']} | {r['test_rel_l2']:.3g} | "
                                 f"{r['symbol_rel_rms_band']:.3g} | {r['exponent_band']:.3f} | "
                                 f"{r.get('final_loss', float('nan')):.7g} | {'yes' if i == best else ''} |")
        lines += _refit_lines([(f"β = {beta}, {variant}, {size} sets", r) for beta, table in lv["betas"].items()
                               for variant, rows in table.items() for size, row in rows.items() for r in row["runs"]])
    if lv and any("square_wave_rel_l2" in table[v][str(cfg["l_sizes"][-1])]["runs"][0]
                  for table in lv["betas"].values() for v in table):
        largest = str(cfg["l_sizes"][-1])
        lines += ["", f"Eq 25's square wave (Fig 7): relative L2 at t = {lv['t_end']:g} of the rollout against the exact "
                  f"fractional heat solution, model of {largest} sets (seed 0): the field as printed (values ±1, all "
                  f"64² modes; h never saw a negative density), band-limited to |κ| ≤ {band}, and the density "
                  "1 + square wave (values in [0, 2]).", "",
                  "| β | variant | as printed | band-limited | density 1 + square wave |", "|---|---|---|---|---|"]
        for beta, table in lv["betas"].items():
            for variant, rows in table.items():
                r = rows[largest]["runs"][0]
                if "square_wave_rel_l2" in r:
                    lines.append(f"| {beta} | {variant} | {r['square_wave_rel_l2']:.3g} | "
                                 f"{r['square_wave_band_rel_l2']:.3g} | {r['square_wave_density_rel_l2']:.3g} |")
    if lv and "data_least_squares" in lv:
        lines.append("\nExponent of the per-mode least-squares symbol of the training histograms (largest set): " + ", ".join(
            f"β = {beta}: {v['exponent_band']:.3f} (1 ≤ |κ| ≤ {band}), {v['exponent']:.3f} (1 ≤ |κ| ≤ 8)"
            for beta, v in lv["data_least_squares"].items()))
    lines += ["", "## Figures", ""] + [f"- `{f}`" for f in results.get("figures", [])]
    lines += ["", "## Choices", "", *[f"- {c}" for c in results.get("choices", [])]]
    return "\n".join(lines) + "\n"


CHOICES = [
    "Eq 17: c_0 = 1; phases of c_κ uniform with c_{-κ} = conj(c_κ); grid points x_j = 2πj/n.",
    "Gauge: §4 as the paper (h(0) = 0; h'(0) = 1 for ∇², h''(0) = 2 for ∂ₓu²); §5: h(0) = 0 and unit "
    "least-squares slope of h over the data's densities [0, u_99].",
    "§5 symbols are one-step symbols e^{-|κ|^α Δt} − 1 for the frame spacing Δt (dt absorbed into L).",
    "Eq 21 curriculum: one optimizer through all stages m = 1..M (the public code's last stage and "
    "optimizer reset are defects, NOTES.md), the shared MultistepTrainer's mean square error; the final model is "
    "kept. --optimizer lbfgs: full-batch L-BFGS (strong Wolfe line search, --lbfgs-iterations per epoch, 2 epochs per "
    "stage) instead of Adam for sec. 5.",
    "Eq 26 with exponent |κ|^1.5 (NOTES.md); 5 mixture components (NOTES.md); densities of mean 1.",
    "§5 Lévy models all have the conservation bias. Their metrics are taken on the band of |κ| the histograms "
    "resolve (the per-mode least-squares symbol of the most isotropic data within 10% on every shell; |κ| ≤ 5 at "
    "the default size): the paper notes that noise overtakes the signal at short wavelengths. The test error "
    "(Fig 10) is the rollout of a held-out isotropic initial histogram, band-limited, against its exact fractional "
    "heat evolution, its fluctuation scaled down to the range of densities every β's model was trained on (the β = 1 "
    "data, uniform along x, peak near 4 where an isotropic histogram reaches 7.5): a test of g, the network the "
    "isotropy bias constrains, not of h extrapolated. Eq 26's δ (peak 4096, far outside that "
    "range, where h is extrapolated) is reported beside it, whole and band-limited.",
    "Weight init (--init sets both): sec. 4 the paper's Keras Dense defaults, Glorot-uniform weights and zero "
    "biases; with nn.Linear's random biases the isotropic symbol network starts with units saturated over "
    "|κ| ∈ [0, 10] and the isotropic Laplacian stalls near 3e-2. Sec. 5 keeps nn.Linear's init, which trained "
    "every sec. 5 model so far: with the Glorot init the full-batch L-BFGS fit diverged (NaN) on the β = 0 "
    "unrestricted Lévy model; its Brownian fit (one seed: symbol 7.5%) lies within nn.Linear's seed spread "
    "(4.6-22%).",
    "Optimizer, sec. 4: Table 1's one epoch of batches of 10, Adam at a cosine-decayed rate of 3e-2 (Table 1: "
    "1e-3 moves the networks little in 80-1,280 steps; of 5e-3, 1e-2, 2e-2 and 3e-2 tried on 3 seeds, 3e-2 is the "
    "one that puts the isotropic model below the unrestricted one at every N, seed by seed at N = 800). At N = 800 "
    "both are still far off: h keeps most of the kink at u = 0 that ELU units with zero biases start with.",
    "Optimizer, sec. 5: Adam with a cosine-decayed rate of 1e-2 (Table 2: 1e-3): at 1e-3 the small default's few "
    "thousand steps do not converge; 3e-2 stalls the unrestricted 2D symbol network. Sec. 5 batches are 25 "
    "windows of M + 1 frames (100 one-step pairs, Table 2); the default trains 5 epochs per curriculum stage.",
    "Binning (--assignment): by default the paper's histograms (nearest grid point). Where shot noise dominates a "
    "mode (κ ≳ 8 for the 1D data, most of the 64² grid for the 2D data) a histogram holds aliases of fast modes "
    "that are gone one step later, so the data's own one-step symbol there is sinc²(κh/2) e^{−|κ|^α Δt} − 1 per "
    "axis (`binned_noise_symbol`), 4.4-4.9% off the exact one at 8 ≤ κ ≤ 16 on 256 bins: more data do not remove "
    "it. Cloud-in-cell binning (--assignment cic) shrinks that factor to 1 − O((κh)⁴) (1 − 3e-5 at κ = 16).",
]


def render(out_dir: str | Path) -> None:
    """Rewrites ``results.md`` and the figures from ``results.json``."""
    _report.render(out_dir, _figures, _markdown)


def run(out_dir: str | Path = "results/patel2021", config: PatelConfig | None = None, progress: bool = True) -> dict:
    """Runs the chosen sections into ``out_dir`` (particle data are kept in ``out_dir/data`` and reused)."""
    config = config or PatelConfig()
    cfg = config.resolved()
    if cfg["device"] != "cpu":
        raise ValueError("patel2021 runs on the CPU only (its models are tiny)")
    runners = {"4": _section4, "5-brownian": _section5_brownian, "5-levy": _section5_levy}
    return _report.run_sections("patel2021", out_dir, config, cfg, runners, choices=CHOICES, figures=_figures,
                                markdown=_markdown, progress=progress)
