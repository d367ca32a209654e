"""Model zoo: the papers' parameter counts, shapes, periodic translation equivariance, errors."""

from __future__ import annotations

import pytest
import torch

from coarsegrain import Grid
from coarsegrain.models import CNNLSTM, DictionaryMLP, StencilConvNet, UNetCNN, count_parameters


def test_parameter_counts_match_the_papers():
    # kiyani2022 §4.1: "our CNN network consists of 121,057 trainable parameters".
    assert count_parameters(UNetCNN(2)) == 121_057
    # kiyani §3.1 MLP on (U, U_x, U_xx, U_y, U_yy): 5-128-64-16-8-1.
    mlp = DictionaryMLP(Grid((16, 16)), max_order=2)
    assert mlp.dictionary.names == ["u", "u_y", "u_yy", "u_x", "u_xx"]
    assert count_parameters(mlp) == (5 * 128 + 128) + (128 * 64 + 64) + (64 * 16 + 16) + (16 * 8 + 8) + (8 + 1)
    # arbabi Fig 3b in 1D: 3-point conv to 32, two 1x1 convs.
    assert count_parameters(StencilConvNet(1)) == (3 * 32 + 32) + (32 * 32 + 32) + (32 + 1)
    # kiyani §3.2: Conv1D(64, 3) -> LSTM(80) -> 10 -> 5 -> 1.
    lstm = 4 * (80 * 64 + 80 * 80 + 2 * 80)
    assert count_parameters(CNNLSTM(2)) == (3 * 64 + 64) + lstm + (80 * 10 + 10) + (10 * 5 + 5) + (5 + 1)


@pytest.mark.parametrize(
    "make,ndim,shift",
    [
        (lambda: DictionaryMLP(Grid((16, 12)), max_order=4, mixed=[(1, 1)]), 2, (3, 5)),
        (lambda: CNNLSTM(2), 2, (1, 7)),
        (lambda: StencilConvNet(2, kernel=5), 2, (2, 3)),
        (lambda: StencilConvNet(1), 1, (5,)),
        (lambda: UNetCNN(2), 2, (4, 8)),  # pooling twice: shifts by multiples of 4
        (lambda: UNetCNN(3, widths=(4, 8)), 3, (4, 4, 8)),
    ],
    ids=["mlp", "cnnlstm", "stencilconv2d", "stencilconv1d", "unet2d", "unet3d"],
)
def test_models_commute_with_periodic_shifts(make, ndim, shift):
    torch.manual_seed(0)
    model = make().double().eval()
    shape = {1: (16,), 2: (16, 12), 3: (8, 8, 8)}[ndim]
    u = torch.randn(2, 1, *shape, dtype=torch.float64)
    dims = tuple(range(2, 2 + ndim))
    out = model(u)
    assert out.shape == u.shape
    torch.testing.assert_close(model(torch.roll(u, shift, dims)), torch.roll(out, shift, dims))


def test_models_reject_wrong_inputs():
    with pytest.raises(ValueError, match=r"UNetCNN: input must be \[batch, 1, \*grid\] with 2 grid axes"):
        UNetCNN(2)(torch.zeros(2, 16, 16))
    with pytest.raises(ValueError, match=r"grid sizes must be divisible by 4, got \(18, 16\)"):
        UNetCNN(2)(torch.zeros(1, 1, 18, 16))
    with pytest.raises(ValueError, match=r"its last 2 axes must be the grid \(16, 16\)"):
        DictionaryMLP(Grid((16, 16)))(torch.zeros(1, 1, 16, 8))
