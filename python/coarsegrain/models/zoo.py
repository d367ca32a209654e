"""The models of kiyani2022 (§3-4) and arbabi2020 (§4, Fig 3), for periodic fields.

All map a field batch ``u [B, 1, *grid]`` (one channel) to the predicted time derivative
``[B, 1, *grid]``, so the trainer, metrics and rollout treat them alike.

* :class:`DictionaryMLP` -- an MLP applied at every grid point to U and its derivatives
  (kiyani §3.1: hidden 128/64/16/8, ReLU; arbabi Fig 3a: three layers of 32).
* :class:`CNNLSTM` -- per-point model on the 5-point stencil (kiyani §3.2, Eq 8): Conv1D with
  64 filters of width 3, max-pooling, LSTM of 80 units, dense 10 and 5, one output.
* :class:`UNetCNN` -- the encoder-decoder CNN of kiyani §4.1 / Fig 8 with circular padding:
  conv 32, 32 (ReLU, batch norm), max-pool, conv 64, 64 (ReLU, batch norm), max-pool,
  conv 64, up-sample, conv 32, up-sample, linear 3x3 conv to one channel; 121,057 trainable
  parameters at this configuration, as the paper states.
* :class:`StencilConvNet` -- arbabi Fig 3b: a k-point convolution, then two 1x1 convolutions,
  32 filters, ReLU.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..grid import Grid
from ..ops import stencil_neighbours
from .derivatives import DerivativeDictionary

__all__ = ["DictionaryMLP", "CNNLSTM", "UNetCNN", "StencilConvNet", "count_parameters"]


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _check_input(name: str, u: Tensor, ndim: int) -> None:
    if u.dim() != ndim + 2 or u.shape[1] != 1:
        raise ValueError(f"{name}: input must be [batch, 1, *grid] with {ndim} grid axes, got {tuple(u.shape)}")


def _conv(ndim: int):
    return {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim]


class DictionaryMLP(nn.Module):
    """U_t = MLP(U, U_x, U_xx, ...) at every point, the features from a DerivativeDictionary."""

    def __init__(self, grid: Grid, max_order: int = 2, hidden: Sequence[int] = (128, 64, 16, 8), *,
                 mixed: Sequence[Sequence[int]] = (), method: str = "fd"):
        super().__init__()
        self.grid = grid
        self.dictionary = DerivativeDictionary(grid, max_order, mixed=mixed, method=method)
        layers: list[nn.Module] = []
        width = self.dictionary.n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def features(self, u: Tensor) -> Tensor:
        """[B, n_features, *grid] from [B, 1, *grid]."""
        _check_input("DictionaryMLP", u, self.grid.ndim)
        return self.dictionary(u[:, 0])

    def forward(self, u: Tensor) -> Tensor:
        f = self.features(u).movedim(1, -1)
        return self.mlp(f).movedim(-1, 1)


class CNNLSTM(nn.Module):
    """Per-point CNN-LSTM on the (2 ndim + 1)-point stencil (kiyani §3.2)."""

    def __init__(self, ndim: int = 2, filters: int = 64, kernel: int = 3, lstm: int = 80,
                 dense: Sequence[int] = (10, 5)):
        super().__init__()
        self.ndim = ndim
        self.stencil = 2 * ndim + 1
        if kernel > self.stencil:
            raise ValueError(f"CNNLSTM: kernel {kernel} is wider than the {self.stencil}-point stencil")
        self.conv = nn.Conv1d(1, filters, kernel)
        self.pool = nn.MaxPool1d(2, ceil_mode=True)
        self.lstm = nn.LSTM(filters, lstm, batch_first=True)
        layers: list[nn.Module] = []
        width = lstm
        for d in dense:
            layers += [nn.Linear(width, d), nn.ReLU()]
            width = d
        layers.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*layers)

    def predict_points(self, stencils: Tensor) -> Tensor:
        """U_t at points from their stencils ``[P, 2 ndim + 1]`` (see :func:`coarsegrain.ops.stencil_neighbours`)."""
        if stencils.dim() != 2 or stencils.shape[1] != self.stencil:
            raise ValueError(f"CNNLSTM: stencils must be [points, {self.stencil}], got {tuple(stencils.shape)}")
        x = self.pool(torch.relu(self.conv(stencils.unsqueeze(1))))  # [P, filters, L]
        out, _ = self.lstm(x.transpose(1, 2))                        # [P, L, lstm]
        return self.head(out[:, -1])                                 # [P, 1]

    def forward(self, u: Tensor) -> Tensor:
        _check_input("CNNLSTM", u, self.ndim)
        y = self.predict_points(stencil_neighbours(u, self.ndim))
        return y.reshape(u.shape[0], *u.shape[2:]).unsqueeze(1)


class UNetCNN(nn.Module):
    """kiyani2022's encoder-decoder CNN (Fig 8) in 1D, 2D or 3D with circular padding.

    Grid sizes must be divisible by 4 (two 2x poolings).
    """

    def __init__(self, ndim: int = 2, widths: Sequence[int] = (32, 64), kernel: int = 3):
        super().__init__()
        self.ndim = ndim
        Conv = _conv(ndim)
        BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[ndim]
        Pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[ndim]
        c1, c2 = widths
        pad = kernel // 2

        def conv(cin, cout):
            return Conv(cin, cout, kernel, padding=pad, padding_mode="circular")

        self.encoder = nn.Sequential(
            conv(1, c1), nn.ReLU(), BN(c1), conv(c1, c1), nn.ReLU(), BN(c1), Pool(2),
            conv(c1, c2), nn.ReLU(), BN(c2), conv(c2, c2), nn.ReLU(), BN(c2), Pool(2),
        )
        self.decoder = nn.Sequential(
            conv(c2, c2), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
            conv(c2, c1), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
            conv(c1, 1),
        )

    def forward(self, u: Tensor) -> Tensor:
        _check_input("UNetCNN", u, self.ndim)
        if any(n % 4 for n in u.shape[2:]):
            raise ValueError(f"UNetCNN: grid sizes must be divisible by 4, got {tuple(u.shape[2:])}")
        return self.decoder(self.encoder(u))


class StencilConvNet(nn.Module):
    """arbabi Fig 3b: a k-point convolution, then two 1x1 convolutions (ReLU between)."""

    def __init__(self, ndim: int = 1, width: int = 32, kernel: int = 3, padding_mode: str = "circular"):
        super().__init__()
        self.ndim = ndim
        Conv = _conv(ndim)
        self.net = nn.Sequential(
            Conv(1, width, kernel, padding=kernel // 2, padding_mode=padding_mode), nn.ReLU(),
            Conv(width, width, 1), nn.ReLU(),
            Conv(width, 1, 1),
        )

    def forward(self, u: Tensor) -> Tensor:
        _check_input("StencilConvNet", u, self.ndim)
        return self.net(u)
