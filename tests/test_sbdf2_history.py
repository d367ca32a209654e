"""SBDF2 (SemiImplicitSpectral order 2) keeps its history as explicit state matched by value:
a clone of the last result continues at second order, an unrelated field restarts."""

from __future__ import annotations

import math

import pytest
import torch

from coarsegrain import Grid
from coarsegrain.systems import CahnHilliard, SemiImplicitSpectral, quartic

L = 8 * math.pi


def smooth_field(n: int) -> torch.Tensor:
    k = 2 * math.pi / L
    x = torch.arange(n, dtype=torch.float64) * L / n
    y, x = torch.meshgrid(x, x, indexing="ij")
    return (0.3 * torch.cos(k * x) + 0.2 * torch.sin(k * y + 2 * k * x) + 0.1 * torch.cos(2 * k * y))[None]


def _model():
    return CahnHilliard(Grid((16, 16), L / 16), quartic())


def test_clone_continues_at_second_order():
    model, u0 = _model(), smooth_field(16)
    one = SemiImplicitSpectral(model, 0.05, order=2).advance(u0, 40)
    stepper = SemiImplicitSpectral(model, 0.05, order=2)
    u = stepper.advance(u0, 20)
    two = stepper.advance(u.clone(), 20)
    torch.testing.assert_close(two, one, rtol=1e-12, atol=1e-12)
    # A copy made another way (through NumPy) continues too.
    stepper = SemiImplicitSpectral(model, 0.05, order=2)
    u = stepper.advance(u0, 20)
    torch.testing.assert_close(stepper.advance(torch.from_numpy(u.numpy().copy()), 20), one, rtol=1e-12, atol=1e-12)


def test_unrelated_field_or_in_place_change_restarts_first_order():
    model, u0 = _model(), smooth_field(16)
    fresh = SemiImplicitSpectral(model, 0.05, order=2).advance(0.5 * u0, 10)
    stepper = SemiImplicitSpectral(model, 0.05, order=2)
    stepper.advance(u0, 10)
    assert stepper.history is not None
    torch.testing.assert_close(stepper.advance(0.5 * u0, 10), fresh, rtol=0, atol=0)
    # The last result changed in place: no longer the state the history ends at.
    stepper = SemiImplicitSpectral(model, 0.05, order=2)
    u = stepper.advance(0.5 * u0, 5)
    u.copy_(0.5 * u0)
    torch.testing.assert_close(stepper.advance(u, 10), fresh, rtol=0, atol=0)
    # reset() forgets the history; an order-1 stepper keeps none.
    stepper.reset()
    assert stepper.history is None
    assert SemiImplicitSpectral(model, 0.05, order=1).advance(u0, 3) is not None


def test_history_can_be_saved_and_restored():
    model, u0 = _model(), smooth_field(16)
    one = SemiImplicitSpectral(model, 0.05, order=2).advance(u0, 30)
    a = SemiImplicitSpectral(model, 0.05, order=2)
    mid = a.advance(u0, 10)
    b = SemiImplicitSpectral(model, 0.05, order=2)
    b.history = a.history
    torch.testing.assert_close(b.advance(mid.clone(), 20), one, rtol=1e-12, atol=1e-12)


def test_second_order_in_time_across_calls_with_clones():
    model, u0 = _model(), smooth_field(16)
    t_end = 2.0
    reference = SemiImplicitSpectral(model, 1e-3, order=2).advance(u0, round(t_end / 1e-3))
    errors = []
    for dt in (0.05, 0.025):
        stepper = SemiImplicitSpectral(model, dt, order=2)
        u, chunks = u0, 8
        for _ in range(chunks):
            u = stepper.advance(u.clone(), round(t_end / dt) // chunks)
        errors.append((u - reference).abs().max().item())
    assert math.log2(errors[0] / errors[1]) == pytest.approx(2.0, abs=0.2), errors


def test_inference_mode_tensors():
    model, u0 = _model(), smooth_field(16)
    one = SemiImplicitSpectral(model, 0.05, order=2).advance(u0, 20)
    stepper = SemiImplicitSpectral(model, 0.05, order=2)
    with torch.inference_mode():
        u = stepper.advance(u0.clone(), 10)
        two = stepper.advance(u.clone(), 10)
    torch.testing.assert_close(two, one, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("how", ["copy", "deepcopy"])
def test_a_copied_stepper_continues_like_the_original_and_independently(how):
    """A copy of a stepper mid-run (copy.copy or copy.deepcopy) carries the history: both
    continue at second order like one uninterrupted run, and what one of them does next
    (restarting on another field, reset) leaves the other's history alone."""
    import copy

    model, u0 = _model(), smooth_field(16)
    one = SemiImplicitSpectral(model, 0.05, order=2).advance(u0, 40)
    first_order_restart = SemiImplicitSpectral(model, 0.05, order=2)
    a = SemiImplicitSpectral(model, 0.05, order=2)
    mid = a.advance(u0, 20)
    b = getattr(copy, how)(a)
    a.advance(0.5 * u0, 5)  # a restarts on another field: a new history for a only
    a.reset()
    torch.testing.assert_close(b.advance(mid.clone(), 20), one, rtol=1e-12, atol=1e-12)
    # and a, whose history is gone, restarts with a first-order step: not the continued run
    restarted = a.advance(mid.clone(), 20)
    torch.testing.assert_close(restarted, first_order_restart.advance(mid.clone(), 20), rtol=1e-12, atol=1e-12)
    assert (restarted - one).abs().max() > 1e-8
