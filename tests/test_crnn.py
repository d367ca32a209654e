"""The conservative ConvGRU CRNN of lanzoni2024: model, augmentation, curriculum training,
chunked rollouts and physics metrics."""

import math

import numpy as np
import pytest
import torch

from coarsegrain import ops
from coarsegrain.data import (
    AugmentedSequences,
    apply_symmetry,
    downscale,
    grid_symmetries,
    load,
)
from coarsegrain.grid import Grid
from coarsegrain.metrics import coarsening_exponent, compare_trajectories, interface_displacement
from coarsegrain.models import ConservativeCRNN, count_parameters
from coarsegrain.rollout import BlowUpError, rollout_recurrent, rollout_to_file
from coarsegrain.systems import CahnHilliard, lanzoni
from coarsegrain.systems.steppers import make_stepper
from coarsegrain.training import CheckpointError, Curriculum, SequenceTrainer, TrainConfig, load_model
from coarsegrain.training.checkpoint import load_checkpoint


def small_model(ndim=2, dtype=torch.float64, head="flux", seed=0):
    torch.manual_seed(seed)
    return ConservativeCRNN(ndim=ndim, hidden=4, head_width=4, head=head).to(dtype)


# --- model ---------------------------------------------------------------------------------


def _conv_parameters(cin, cout, kernel, ndim, groups=1):
    return cout * (cin // groups) * kernel ** ndim + cout  # weight + bias


def _crnn_parameters(ndim, channels, hidden, layers, kernel, head_width, head):
    """The architecture, counted by hand: per ConvGRU cell an input (3h), hidden (2h) and
    candidate (h) k^d convolution and three 1x1 gate maps as one grouped convolution; the head
    is two 1x1 layers and a k^d layer to the flux (channels * ndim) or the increment (channels)."""
    total = 0
    for i in range(layers):
        cin = channels if i == 0 else hidden
        total += (_conv_parameters(cin, 3 * hidden, kernel, ndim) + _conv_parameters(hidden, 2 * hidden, kernel, ndim)
                  + _conv_parameters(hidden, hidden, kernel, ndim)
                  + _conv_parameters(3 * hidden, 3 * hidden, 1, ndim, groups=3))
    out = channels * ndim if head == "flux" else channels
    return (total + _conv_parameters(hidden, head_width, 1, ndim) + _conv_parameters(head_width, head_width, 1, ndim)
            + _conv_parameters(head_width, out, kernel, ndim))


def test_paper_configuration_has_28153_parameters():
    # lanzoni2024 quotes "about 29k"; the exact count of this architecture is 28153.
    n = count_parameters(ConservativeCRNN(ndim=3, hidden=10, layers=2, kernel=3))
    assert n == _crnn_parameters(3, 1, 10, 2, 3, 20, "flux") == 28153


@pytest.mark.parametrize("ndim,channels,hidden,layers,kernel,head_width,head", [
    (2, 1, 4, 1, 3, 4, "flux"), (3, 2, 5, 3, 5, 6, "direct"), (2, 3, 6, 2, 1, 3, "flux")])
def test_parameter_count_follows_the_architecture(ndim, channels, hidden, layers, kernel, head_width, head):
    model = ConservativeCRNN(ndim=ndim, channels=channels, hidden=hidden, layers=layers, kernel=kernel,
                             head_width=head_width, head=head)
    assert count_parameters(model) == _crnn_parameters(ndim, channels, hidden, layers, kernel, head_width, head)


@pytest.mark.parametrize("ndim", [2, 3])
def test_flux_head_conserves_mass_to_round_off_float64(ndim):
    model = small_model(ndim)
    phi = torch.rand(2, 1, *([8] * ndim), dtype=torch.float64)
    seq = phi[:, None].expand(2, 6, 1, *([8] * ndim))
    with torch.no_grad():
        pred = model(seq)
    dims = tuple(range(-ndim, 0))
    drift = (pred.mean(dims) - phi[:, None].mean(dims)).abs().max().item()
    assert drift < 1e-14
    # the flux actually moves material: the frames change
    assert (pred[:, -1] - phi).abs().max() > 1e-3


def test_direct_head_does_not_conserve():
    model = small_model(2, head="direct")
    phi = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        nxt, _ = model.step(phi)
    assert (nxt.mean((-1, -2)) - phi.mean((-1, -2))).abs().max() > 1e-6


@pytest.mark.slow
def test_float32_mass_drift_over_many_steps():
    torch.manual_seed(0)
    model = ConservativeCRNN(ndim=2, hidden=2, head_width=2)
    with torch.no_grad():  # keep the random dynamics O(1), like a trained model's (an untrained one
        model.head[-1].weight.mul_(0.05)  # drives the field to |phi| ~ 50, and float32 rounding
        model.head[-1].bias.mul_(0.05)  # scales with |phi|)
    phi = 0.5 + 0.2 * torch.rand(1, 1, 8, 8)
    roll = rollout_recurrent(model, phi, 3000, save_every=3000)
    assert (roll.frames[0, -1] - phi[0]).abs().max() > 1e-2  # the field moved
    assert roll.mass_drift.max().item() < 1e-6


def test_model_is_translation_equivariant_on_the_periodic_grid():
    model = small_model(3)
    phi = torch.rand(1, 1, 6, 6, 6, dtype=torch.float64)
    shifted = torch.roll(phi, (2, -1, 3), (-3, -2, -1))
    with torch.no_grad():
        a, _ = model.step(phi)
        b, _ = model.step(shifted)
    torch.testing.assert_close(torch.roll(a, (2, -1, 3), (-3, -2, -1)), b, rtol=1e-12, atol=1e-12)


def test_float32_fast_path_matches_float64():
    model = small_model(3, torch.float64)
    phi = torch.rand(1, 1, 8, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        ref, _ = model.step(phi)
        got, _ = model.float().step(phi.float())
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-5)


def test_gradients_flow_through_the_divergence_and_checkpointing():
    model = small_model(2)
    seq = torch.rand(2, 4, 1, 6, 6, dtype=torch.float64)
    loss = (model(seq, checkpoint_steps=True) - seq[:, 1:]).square().mean()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    (model(seq) - seq[:, 1:]).square().mean().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(grads[n], p.grad, rtol=1e-10, atol=1e-12)
    assert any(g.abs().max() > 0 for g in grads.values())


def test_model_errors():
    model = small_model(3)
    with pytest.raises(ValueError, match=r"sequence must be \[batch, time, 1, \*grid\] with 3 grid axes"):
        model(torch.rand(2, 4, 1, 8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least two frames"):
        model(torch.rand(2, 1, 1, 4, 4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="head must be"):
        ConservativeCRNN(head="nope")
    with pytest.raises(ValueError, match="phi0 must be"):
        rollout_recurrent(model, torch.rand(1, 2, 4, 4, 4, dtype=torch.float64), 2)
    with pytest.raises(ValueError, match="phi0 is torch.float32"):
        rollout_recurrent(model, torch.rand(1, 1, 4, 4, 4), 2)


# --- augmentation and restriction -----------------------------------------------------------


@pytest.mark.parametrize("ndim,count", [(2, 8), (3, 48)])
def test_symmetry_group_is_complete_and_closed(ndim, count):
    group = grid_symmetries(ndim)
    assert len(group) == count
    x = torch.arange(4 ** ndim, dtype=torch.float64).reshape([4] * ndim)
    images = [apply_symmetry(x, s, ndim) for s in group]
    assert len({tuple(im.flatten().tolist()) for im in images}) == count  # all distinct
    keys = {tuple(im.flatten().tolist()) for im in images}
    for s in group[::5]:
        for t in group[::7]:
            composed = apply_symmetry(apply_symmetry(x, s, ndim), t, ndim)
            assert tuple(composed.flatten().tolist()) in keys


def test_symmetries_and_complement_commute_with_the_simulator():
    model = CahnHilliard(Grid((12, 12, 12), 1.0), lanzoni(3.0), mobility=1.0, kappa=3.0)
    stepper = make_stepper(model, "explicit", 1.25e-3)
    gen = torch.Generator().manual_seed(3)
    u = 0.5 + 0.3 * torch.rand(1, 12, 12, 12, generator=gen, dtype=torch.float64)
    evolved = stepper.advance(u, 50)
    for sym in grid_symmetries(3)[1::7]:
        moved = apply_symmetry(u, sym, 3)
        assert (moved - u).abs().max() > 0.1  # the field is not symmetric itself
        torch.testing.assert_close(stepper.advance(moved, 50), apply_symmetry(evolved, sym, 3),
                                   rtol=0, atol=1e-13)
    torch.testing.assert_close(stepper.advance(1 - u, 50), 1 - evolved, rtol=0, atol=1e-12)


def test_downscale_methods():
    x = torch.rand(2, 1, 8, 8, 8, dtype=torch.float64)
    near = downscale(x, 2, 3, "nearest")
    torch.testing.assert_close(near, x[..., ::2, ::2, ::2])
    avg = downscale(x, 2, 3, "average")
    # block means of 2 x 2 x 2 cells, from NumPy's reshape
    blocks = x.numpy().reshape(2, 1, 4, 2, 4, 2, 4, 2).mean(axis=(3, 5, 7))
    np.testing.assert_allclose(avg.numpy(), blocks, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(avg.mean((-1, -2, -3)), x.mean((-1, -2, -3)), rtol=1e-14, atol=0)
    torch.testing.assert_close(avg[0, 0, 1, 2, 3], x[0, 0, 2:4, 4:6, 6:8].mean())
    with pytest.raises(ValueError, match="not divisible by factor 3"):
        downscale(x, 3, 3)
    with pytest.raises(ValueError, match="method must be"):
        downscale(x, 2, 3, "cubic")


def test_augmented_sequences_apply_one_transform_to_the_whole_sequence():
    base = [torch.rand(3, 1, 4, 4, dtype=torch.float64) for _ in range(4)]
    data = AugmentedSequences(base, 2, reflect_about=0.5)
    torch.manual_seed(0)
    seen_reflection = False
    for i in range(len(data)):
        out = data[i]
        # some symmetry (with or without 1 - phi) maps the base sequence onto the output, frame-wise
        matches = [(s, r) for s in grid_symmetries(2) for r in (False, True)
                   if torch.allclose(apply_symmetry(1 - base[i] if r else base[i], s, 2), out)]
        assert matches
        seen_reflection |= any(r for _, r in matches)
    assert seen_reflection or len(data) < 3


# --- curriculum and training ----------------------------------------------------------------


def test_curriculum_ramps_linearly_to_autoregressive():
    cur = Curriculum(ramp_epochs=4)
    assert [cur.n_forced(e, 8) for e in range(6)] == [8, 6, 4, 2, 1, 1]
    cur = Curriculum(max_forced=5, ramp_epochs=2, hold_epochs=1, min_forced=2)
    assert [cur.n_forced(e, 8) for e in range(5)] == [5, 5, 2, 2, 2]
    with pytest.raises(ValueError, match="min_forced"):
        Curriculum(min_forced=0)


def heat_sequences(n=12, steps=5, size=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(n, size, size, generator=gen, dtype=torch.float64)
    frames = [u]
    for _ in range(steps):
        for _ in range(4):
            u = u + 0.05 * ops.laplacian(u, [1.0, 1.0])
        frames.append(u)
    return list(torch.stack(frames, 1)[:, :, None].float())


@pytest.mark.slow
def test_crnn_learns_a_2d_conserved_system_within_seconds(tmp_path):
    seqs = heat_sequences()
    persistence = torch.stack([(s[1:] - s[:-1]).square().mean() for s in seqs]).mean().item()
    torch.manual_seed(0)
    model = ConservativeCRNN(ndim=2, hidden=6, head_width=8)
    cfg = TrainConfig(epochs=40, batch_size=4, lr=5e-3, seed=0, progress=False)
    trainer = SequenceTrainer(model, seqs[:9], seqs[9:], cfg, tmp_path, curriculum=Curriculum(ramp_epochs=10))
    trainer.fit()
    assert trainer.best_val < 0.05 * persistence, (trainer.best_val, persistence)


def test_sequence_training_resumes_exactly(tmp_path):
    seqs = heat_sequences(n=6, steps=3, size=8)
    data = AugmentedSequences(seqs[:4], 2, reflect_about=0.0)

    def train(epochs, out):
        torch.manual_seed(1)
        model = ConservativeCRNN(ndim=2, hidden=3, head_width=3)
        spec = {"class": "ConservativeCRNN", "kwargs": {"ndim": 2, "hidden": 3, "head_width": 3}}
        cfg = TrainConfig(epochs=epochs, batch_size=2, lr=1e-3, seed=0, progress=False)
        t = SequenceTrainer(model, data, seqs[4:], cfg, out, curriculum=Curriculum(ramp_epochs=2, noise_std=1e-3),
                            model_spec=spec)
        t.fit()
        return t

    straight = train(4, tmp_path / "a")
    train(2, tmp_path / "b")
    resumed = train(4, tmp_path / "b")
    for (n, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), n
    loaded = load_model(tmp_path / "b" / "best.pt")
    assert isinstance(loaded, ConservativeCRNN)
    with pytest.raises(CheckpointError, match="another architecture"):
        from coarsegrain.training.checkpoint import load_checkpoint, save_atomic

        ckpt = load_checkpoint(tmp_path / "b" / "best.pt")
        ckpt["model_spec"] = {"class": "ConservativeCRNN", "kwargs": {"ndim": 2, "hidden": 5}}
        save_atomic(ckpt, tmp_path / "other.pt")
        load_model(tmp_path / "other.pt")


def test_sequence_trainer_rejects_sequences_of_the_wrong_grid(tmp_path):
    seqs = heat_sequences(n=2, steps=2, size=6)
    with pytest.raises(ValueError, match="do not fit a model with ndim = 3"):
        SequenceTrainer(ConservativeCRNN(ndim=3, hidden=2), seqs, None, TrainConfig(epochs=1, progress=False), tmp_path)
    bad = [s.clone() for s in seqs]
    bad[1][0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="training sequence 1 holds non-finite"):
        SequenceTrainer(ConservativeCRNN(ndim=2, hidden=2), bad, None, TrainConfig(epochs=1, progress=False), tmp_path)


@pytest.mark.parametrize("select_last,best_epoch", [(None, 1), (2, 3), (1, 4)])
def test_best_of_last_n_selection(tmp_path, select_last, best_epoch):
    # Scripted validation losses: the overall best is epoch 1, the best of the last two epoch 3.
    seqs = heat_sequences(n=4, steps=2, size=6)
    cfg = TrainConfig(epochs=4, batch_size=2, lr=1e-2, select_last=select_last, seed=0, progress=False)
    t = SequenceTrainer(ConservativeCRNN(ndim=2, hidden=2, head_width=2), seqs[:2], seqs[2:], cfg, tmp_path)
    val_losses = iter([0.1, 0.5, 0.3, 0.4])
    t._evaluate = lambda data: next(val_losses)
    states, train_epoch = [], t._train_epoch

    def train_and_record():
        loss = train_epoch()
        states.append({k: v.detach().clone() for k, v in t.model.state_dict().items()})
        return loss

    t._train_epoch = train_and_record
    t.fit()
    assert [h["val_loss"] for h in t.history] == [0.1, 0.5, 0.3, 0.4]
    assert t.best_val == [0.1, 0.5, 0.3, 0.4][best_epoch - 1]
    chosen = states[best_epoch - 1]
    # the fitted model and best.pt hold that epoch's weights, not the last epoch's (unless it is the last)
    for k, v in t.model.state_dict().items():
        torch.testing.assert_close(v, chosen[k], rtol=0, atol=0)
    saved = load_checkpoint(tmp_path / "best.pt")["model_state"]
    for k, v in chosen.items():
        torch.testing.assert_close(saved[k], v, rtol=0, atol=0)
    if best_epoch != 4:
        assert any(not torch.equal(states[-1][k], v) for k, v in chosen.items())


# --- rollouts -------------------------------------------------------------------------------


@pytest.mark.slow
def test_chunked_and_resumed_rollout_equals_one_rollout(tmp_path):
    model = small_model(2, torch.float32)
    phi = torch.rand(2, 1, 10, 10)
    single = rollout_recurrent(model, phi, 12, save_every=2)

    class Interrupt(Exception):
        pass

    def stop_at_seven(step, frame):
        if step == 7:
            raise Interrupt

    path = tmp_path / "roll.h5"
    with pytest.raises(Interrupt):
        rollout_to_file(model, phi, path, 12, save_every=2, chunk_steps=4, progress=False, callback=stop_at_seven)
    assert not path.exists() and (tmp_path / "roll.h5.partial").exists()
    rollout_to_file(model, phi, path, 12, save_every=2, chunk_steps=4, progress=False)
    data = load(path)
    assert data["fields"].shape == (2, 7, 1, 10, 10)
    assert np.array_equal(data["fields"], single.frames.numpy())
    np.testing.assert_allclose(data["time"], np.arange(7) * 2.0)
    with pytest.raises(FileExistsError):
        rollout_to_file(model, phi, path, 12, save_every=2, chunk_steps=4, progress=False)


def test_rollout_on_a_larger_grid_and_blow_up_report():
    model = small_model(2)
    phi0 = torch.rand(1, 1, 24, 20, dtype=torch.float64)
    big = rollout_recurrent(model, phi0, 3)
    # the same three steps taken by hand with model.step on the 24 x 20 grid
    expected, frame, state = [phi0], phi0, None
    model.eval()
    with torch.no_grad():
        for _ in range(3):
            frame, state = model.step(frame, state)
            expected.append(frame)
    torch.testing.assert_close(big.frames, torch.stack(expected, 1), rtol=0, atol=0)
    # the flux head conserves the mean on the larger grid too
    torch.testing.assert_close(big.mass, phi0.mean().expand(1, 4, 1), rtol=0, atol=1e-15)
    phi = 0.2 + 0.6 * torch.rand(1, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(BlowUpError, match=r"left the valid range at step 1: value .* outside the bounds \[0.3, 0.7\]"):
        rollout_recurrent(model, phi, 5, bounds=(0.3, 0.7))
    phi[0, 0, 3, 4] = float("nan")
    with pytest.raises(ValueError, match="phi0 holds non-finite"):
        rollout_recurrent(model, phi, 5)


# --- physics metrics ------------------------------------------------------------------------


def interface_slab(n, shift):
    x = torch.arange(n, dtype=torch.float64)
    return (0.5 * (torch.tanh((x - n / 4 - shift) / 3) - torch.tanh((x - 3 * n / 4 - shift) / 3)))


@pytest.mark.parametrize("spacing", [1.0, 2.0])
def test_interface_displacement_measures_a_shift(spacing):
    n = 64
    grid = Grid((n, n), spacing)
    for d in (0.2, 1.0):
        u = interface_slab(n, 0)[:, None].expand(n, n)
        v = interface_slab(n, d)[:, None].expand(n, n)
        # shifting by d cells moves the interface d * spacing length units
        got = interface_displacement(u[None], v[None], grid).item()
        assert abs(got - d * spacing) < 0.02 * d * spacing


def test_coarsening_exponent_and_comparison():
    t = np.linspace(1, 100, 50)
    assert abs(coarsening_exponent(t, 3 * t ** (-1 / 3)) + 1 / 3) < 1e-12
    with pytest.raises(ValueError, match="fewer than two"):
        coarsening_exponent(t, -t)
    model = CahnHilliard(Grid((8, 8, 8), 2.0), lanzoni(3.0), mobility=1.0, kappa=3.0)
    truth = 0.5 + 0.3 * torch.rand(5, 8, 8, 8, dtype=torch.float64)
    same = compare_trajectories(truth, truth.clone(), model, np.arange(5) * 0.5)
    assert same["summary"]["rmse_max"] == 0 and same["summary"]["free_energy_relative_error_max"] == 0
    other = compare_trajectories(truth, truth.flip(-1), model, np.arange(5) * 0.5)
    assert other["summary"]["rmse_max"] > 0.05
    assert math.isclose(other["summary"]["free_energy_relative_error_max"], 0, abs_tol=1e-12)  # F is flip-invariant


# --- the shipped model and the rollout command ----------------------------------------------


def test_shipped_model_rolls_out_conservatively_and_bounded():
    from coarsegrain.pretrained import load_pretrained, pretrained_info
    from coarsegrain.systems import initial

    model = load_pretrained("ch3d-crnn")
    info = pretrained_info("ch3d-crnn")
    assert info["training"]["command"].startswith("coarsegrain reproduce lanzoni2024")
    assert isinstance(model, ConservativeCRNN) and count_parameters(model) == 28153
    phi = initial.perlin(Grid((12, 12, 12), 1.0), 1, correlation_length=6.0, mean=0.5, amplitude=0.3,
                         seed=0, dtype=torch.float32)[:, None]
    roll = rollout_recurrent(model, phi, 10, bounds=(-0.5, 1.5))
    assert roll.mass_drift.max().item() < 1e-6
    assert (roll.frames[0, -1] - phi[0]).abs().max() > 1e-3


def test_rollout_command_writes_a_dataset(tmp_path, capsys):
    from coarsegrain.cli import main
    from coarsegrain.data import read_info

    out = tmp_path / "roll.h5"
    assert main(["rollout", "ch3d-crnn", "--grid", "8", "--steps", "4", "--save-every", "2", "--chunk", "2",
                 "--out", str(out), "--no-progress"]) == 0
    info = read_info(out)
    assert info.n_time == 3 and info.grid_shape == (8, 8, 8) and info.spacing == (2.0, 2.0, 2.0)
    assert info.parameters["model"] == "cahn_hilliard" and info.dt_save == 1.0
    capsys.readouterr()
    # A mistake is one line on stderr and exit status 2 (the CLI's contract), not a traceback.
    assert main(["rollout", "no-such-model", "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert "neither a shipped model" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.slow
def test_lanzoni_reproduction_pipeline_end_to_end(tmp_path):
    from coarsegrain.experiments import lanzoni2024

    cfg = lanzoni2024.LanzoniConfig(n_traj=6, fine_grid=16, epochs=1, seq_len=4, stride=8, long_grid=16,
                                    long_tau=6, mass_steps=30, mass_grid=8)
    r = lanzoni2024.run(tmp_path, cfg, progress=False)
    assert r["training"]["epochs_run"] == 1 and r["model"]["parameters"] == 28153
    assert r["test"]["n_trajectories"] >= 1 and r["test"]["mean"]["mass_drift_max"] < 1e-6
    assert len(r["long"]["curves"]["time"]) == 4  # frames at 0, 2, 4, 6 tau
    assert r["long"]["summary"]["mass_drift_max"] < 1e-6 and r["mass"]["relative_drift"] < 1e-6
    assert (tmp_path / "results.json").exists() and (tmp_path / "run" / "best.pt").exists()
    again = lanzoni2024.run(tmp_path, cfg, progress=False)  # resumes: no new data, no new epochs
    assert again["training"]["history"] == r["training"]["history"]


def test_lanzoni_fine_tuning_starts_from_the_given_weights():
    from coarsegrain.experiments import lanzoni2024
    from coarsegrain.pretrained import load_pretrained

    model, spec = lanzoni2024.make_crnn(10)
    lanzoni2024._load_initial_weights(model, spec, "ch3d-crnn")
    shipped = load_pretrained("ch3d-crnn").state_dict()
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, shipped[name], rtol=0, atol=0)
    smaller, spec = lanzoni2024.make_crnn(6)
    with pytest.raises(ValueError, match="does not match"):
        lanzoni2024._load_initial_weights(smaller, spec, "ch3d-crnn")
