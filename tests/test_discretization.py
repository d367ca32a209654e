"""Polynomial-accuracy constraints for learned finite-volume stencils (barsinai2019)."""

import math

import pytest
import torch

from coarsegrain import ops
from coarsegrain.models import PolynomialAccuracy, face_stencil_offsets, finite_volume_constraints, standard_stencil


@pytest.mark.parametrize("derivative,accuracy", [(0, 1), (1, 1), (0, 3), (1, 2)])
def test_random_network_outputs_satisfy_the_constraints(derivative, accuracy):
    layer = PolynomialAccuracy(derivative, width=6, accuracy=accuracy)
    z = 10 * torch.randn(50, layer.free, dtype=torch.float64)
    alpha = layer(z)
    a, b = finite_volume_constraints(face_stencil_offsets(6), derivative, accuracy)
    torch.testing.assert_close(alpha @ a.T, b.expand(50, -1), rtol=0, atol=1e-10)
    assert layer.free == 6 - derivative - accuracy
    assert (alpha - layer.standard).abs().max() > 1  # the outputs do move the stencil


def test_standard_stencils_are_the_known_ones():
    # 2-point face value of cell averages: (vbar_0 + vbar_1)/2; 2-point derivative: vbar_1 - vbar_0
    torch.testing.assert_close(standard_stencil(face_stencil_offsets(2), 0), torch.tensor([0.5, 0.5], dtype=torch.float64))
    torch.testing.assert_close(standard_stencil(face_stencil_offsets(2), 1), torch.tensor([-1.0, 1.0], dtype=torch.float64))
    # 4-point face value (fourth order): (-1, 7, 7, -1) / 12
    torch.testing.assert_close(standard_stencil(face_stencil_offsets(4), 0),
                               torch.tensor([-1, 7, 7, -1], dtype=torch.float64) / 12)


def test_constrained_stencils_reach_their_order_on_cell_averages():
    # alpha with accuracy m for the first derivative: error O(h^m) for a smooth field.
    torch.manual_seed(0)
    layer_z = torch.randn(1, 4, dtype=torch.float64)
    errors = []
    for n in (32, 64, 128):
        h = 2 * math.pi / n
        layer = PolynomialAccuracy(1, width=6, accuracy=1, spacing=h)
        x = torch.arange(n, dtype=torch.float64) * h
        vbar = (torch.cos(x) - torch.cos(x + h)) / h  # exact cell averages of sin over [x, x + h)
        coeffs = layer(layer_z).expand(n, 6).contiguous()
        dv = ops.stencil_filter(vbar, coeffs, layer.offset)
        errors.append((dv - torch.cos(x + h)).abs().max().item())  # derivative at the right face
    assert errors[0] / errors[1] > 1.7 and errors[1] / errors[2] > 1.8, errors


def test_standard_face_stencils_converge_at_fifth_order_at_the_right_face():
    errors = {0: [], 1: []}
    for n in (16, 32, 64):
        h = 2 * math.pi / n
        x = torch.arange(n, dtype=torch.float64) * h
        vbar = (torch.cos(x) - torch.cos(x + h)) / h  # cell averages of sin over [x, x + h)
        for d, exact in ((0, torch.sin(x + h)), (1, torch.cos(x + h))):
            layer = PolynomialAccuracy(d, width=6, accuracy=1, spacing=h)
            coeffs = layer(torch.zeros(n, layer.free, dtype=torch.float64))
            got = ops.stencil_filter(vbar, coeffs, layer.offset)
            errors[d].append((got - exact).abs().max().item())
    for d, errs in errors.items():
        rate = math.log2(errs[1] / errs[2])
        assert rate > 4.5, (d, errs)


def test_too_small_stencils_and_wrong_widths_raise():
    with pytest.raises(ValueError, match="too small for derivative 1 at accuracy order 6"):
        PolynomialAccuracy(1, width=6, accuracy=6)
    layer = PolynomialAccuracy(1)
    with pytest.raises(ValueError, match="expected 4 free parameters"):
        layer(torch.zeros(3, 5, dtype=torch.float64))
