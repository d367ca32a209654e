"""Convolutional recurrent network for conserved phase-field dynamics (lanzoni2024 §2.2).

A stack of ConvGRU cells (2D or 3D, circular padding) reads the field frame by frame; a
``toFlux`` head turns the last hidden state into one flux component per grid axis, each with its
spatial mean removed, and the next frame is ``phi + div(u)`` with the staggered (face-centred)
divergence op. The divergence of a periodic face flux sums to zero exactly, so the mean of phi is
kept to round-off whatever the weights are, and unlike the centred divergence of the published
code it has no checkerboard null space (ARCHITECTURE.md, numerical notes).

``head="direct"`` replaces the flux by a plain residual increment (the paper's ablation).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .. import ops

__all__ = ["ConvGRUCell", "ConservativeCRNN"]


def _convolve(x: Tensor, weight: Tensor, bias: Tensor, groups: int = 1) -> Tensor:
    """Unpadded convolution. On CPU in float32 it calls oneDNN directly: torch's own heuristic
    sends batch-1 3D convolutions on small grids to a reference kernel 3-5x slower, and a
    rollout is batch 1."""
    nd = x.dim() - 2
    # (below ~32k values per sample oneDNN's per-call set-up costs more than it saves)
    if (x.device.type == "cpu" and x.dtype == torch.float32 and x[0].numel() >= 32768
            and torch.backends.mkldnn.is_available() and hasattr(torch.ops.aten, "mkldnn_convolution")
            and not torch.compiler.is_compiling()):  # inductor picks its own convolution
        ones, zeros = [1] * nd, [0] * nd
        return torch.ops.aten.mkldnn_convolution(x.contiguous(), weight.contiguous(), bias, zeros, ones,
                                                 ones, groups)
    conv = nn.functional.conv3d if nd == 3 else nn.functional.conv2d
    return conv(x, weight, bias, groups=groups)


class PeriodicConv(nn.Module):
    """A convolution with circular padding (periodic boundaries), 2D or 3D."""

    def __init__(self, ndim: int, cin: int, cout: int, kernel: int, groups: int = 1):
        super().__init__()
        self.ndim, self.pad, self.groups = ndim, kernel // 2, groups
        self.weight = nn.Parameter(torch.empty(cout, cin // groups, *([kernel] * ndim)))
        self.bias = nn.Parameter(torch.empty(cout))
        # nn.ConvNd's default initialization
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        bound = 1 / (cin // groups * kernel ** ndim) ** 0.5
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if self.pad:
            x = nn.functional.pad(x, [self.pad] * (2 * self.ndim), mode="circular")
        return _convolve(x, self.weight, self.bias, self.groups)


class ConvGRUCell(nn.Module):
    """A convolutional GRU with the deeper gate mappings of lanzoni2024.

    One k-wide convolution of the input gives the input-side pre-activations of the reset gate,
    the update gate and the candidate; one of the hidden state gives the hidden-side reset and
    update pre-activations. Each gate path then passes tanh and its own 1x1 convolution before
    its final nonlinearity; the candidate reads ``reset * h`` through a further k-wide
    convolution. ``h' = (1 - z) * candidate + z * h``.
    """

    def __init__(self, in_channels: int, hidden: int, kernel: int = 3, ndim: int = 3):
        super().__init__()
        if ndim not in (2, 3):
            raise ValueError(f"ConvGRUCell: ndim must be 2 or 3, got {ndim}")
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"ConvGRUCell: kernel must be odd and positive, got {kernel}")
        self.hidden, self.ndim = hidden, ndim
        self.input_conv = PeriodicConv(ndim, in_channels, 3 * hidden, kernel)
        self.hidden_conv = PeriodicConv(ndim, hidden, 2 * hidden, kernel)
        self.candidate_conv = PeriodicConv(ndim, hidden, hidden, kernel)
        # three independent 1x1 maps (reset, update, candidate) as one grouped convolution
        self.gate_maps = PeriodicConv(ndim, 3 * hidden, 3 * hidden, 1, groups=3)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        hid = self.hidden
        xr, xz, xc = self.input_conv(x).split(hid, dim=1)
        hr, hz = self.hidden_conv(h).split(hid, dim=1)
        w, b = self.gate_maps.weight, self.gate_maps.bias
        r = torch.sigmoid(_convolve(torch.tanh(xr + hr), w[:hid], b[:hid]))
        z = torch.sigmoid(_convolve(torch.tanh(xz + hz), w[hid:2 * hid], b[hid:2 * hid]))
        c = torch.tanh(_convolve(torch.tanh(xc + self.candidate_conv(r * h)), w[2 * hid:], b[2 * hid:]))
        return torch.lerp(c, h, z)


class ConservativeCRNN(nn.Module):
    """Stacked ConvGRU cells and a conservative flux-divergence output (lanzoni2024 Fig 1a).

    Args:
        ndim: 2 or 3 grid axes.
        channels: fields per frame (1 for phi).
        hidden: hidden channels of every ConvGRU layer (paper: 10).
        layers: stacked ConvGRU layers (paper: 2).
        kernel: convolution width (paper: 3).
        head_width: channels of the two 1x1 layers of the toFlux head.
        head: ``"flux"`` (conservative, the paper) or ``"direct"`` (residual increment).

    Frames are ``[B, channels, *grid]``; any grid size works (fully convolutional). One step
    maps a frame and the hidden states to the next frame and the new hidden states.
    """

    def __init__(self, ndim: int = 3, channels: int = 1, hidden: int = 10, layers: int = 2,
                 kernel: int = 3, head_width: int = 20, head: str = "flux"):
        super().__init__()
        if head not in ("flux", "direct"):
            raise ValueError(f"ConservativeCRNN: head must be 'flux' or 'direct', got {head!r}")
        if layers < 1 or hidden < 1 or channels < 1:
            raise ValueError("ConservativeCRNN: layers, hidden and channels must be >= 1")
        self.ndim, self.channels, self.hidden, self.head_kind = ndim, channels, hidden, head
        self.cells = nn.ModuleList(
            ConvGRUCell(channels if i == 0 else hidden, hidden, kernel, ndim) for i in range(layers))
        out = channels * ndim if head == "flux" else channels
        self.head = nn.Sequential(
            PeriodicConv(ndim, hidden, head_width, 1), nn.Tanh(),
            PeriodicConv(ndim, head_width, head_width, 1), nn.Tanh(),
            PeriodicConv(ndim, head_width, out, kernel))

    def initial_state(self, frame: Tensor) -> list[Tensor]:
        shape = (frame.shape[0], self.hidden, *frame.shape[2:])
        return [frame.new_zeros(shape) for _ in self.cells]

    def check_frame(self, frame: Tensor, name: str = "frame") -> None:
        if not isinstance(frame, Tensor):
            raise TypeError(f"{name} must be a tensor, got {type(frame).__name__}")
        if frame.dim() != self.ndim + 2 or frame.shape[1] != self.channels:
            raise ValueError(f"{name} must be [batch, {self.channels}, *grid] with {self.ndim} grid axes, "
                             f"got {tuple(frame.shape)}")

    def increment(self, hidden_top: Tensor) -> Tensor:
        """The change of the field over one step from the top hidden state."""
        out = self.head(hidden_top)
        if self.head_kind == "direct":
            return out
        grid = out.shape[2:]
        flux = out.view(out.shape[0], self.channels, self.ndim, *grid)
        flux = flux - flux.mean(dim=tuple(range(-self.ndim, 0)), keepdim=True)
        return ops.divergence(flux, [1.0] * self.ndim)

    def step(self, frame: Tensor, state: Sequence[Tensor] | None = None) -> tuple[Tensor, list[Tensor]]:
        """``(phi(t), h(t)) -> (phi(t + tau), h(t + tau))``."""
        if state is None:
            state = self.initial_state(frame)
        new_state, x = [], frame
        for cell, h in zip(self.cells, state):
            x = cell(x, h)
            new_state.append(x)
        return frame + self.increment(x), new_state

    def forward(self, sequence: Tensor, n_forced: int = 1, noise_std: float = 0.0,
                checkpoint_steps: bool = False) -> Tensor:
        """Predicts frames 1..T-1 of ``sequence [B, T, channels, *grid]``.

        The first ``n_forced`` inputs are the true frames (teacher forcing); after that the
        model reads its own predictions, with Gaussian noise of ``noise_std`` added (mean-free
        per sample in the conservative mode, so the fed-back mass is unchanged).
        ``checkpoint_steps`` recomputes each step in the backward pass to bound memory.
        Returns ``[B, T-1, channels, *grid]``.
        """
        if sequence.dim() != self.ndim + 3 or sequence.shape[2] != self.channels:
            raise ValueError(f"sequence must be [batch, time, {self.channels}, *grid] with {self.ndim} "
                             f"grid axes, got {tuple(sequence.shape)}")
        steps = sequence.shape[1] - 1
        if steps < 1:
            raise ValueError("sequence needs at least two frames")
        n_forced = max(1, min(int(n_forced), steps))
        state, prev, preds = None, None, []
        for t in range(steps):
            if t < n_forced:
                inp = sequence[:, t]
            else:
                inp = prev
                if noise_std > 0:
                    noise = noise_std * torch.randn_like(inp)
                    if self.head_kind == "flux":
                        noise = noise - noise.mean(dim=tuple(range(-self.ndim, 0)), keepdim=True)
                    inp = inp + noise
            if checkpoint_steps and torch.is_grad_enabled():
                state = state if state is not None else self.initial_state(inp)
                prev, *state = checkpoint(self._flat_step, inp, *state, use_reentrant=False)
            else:
                prev, state = self.step(inp, state)
            preds.append(prev)
        return torch.stack(preds, dim=1)

    def _flat_step(self, frame: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        nxt, new_state = self.step(frame, list(state))
        return (nxt, *new_state)
