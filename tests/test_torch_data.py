"""torch Datasets over HDF5: splits without leakage, contents, normalization, errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from coarsegrain.data import (
    DatasetError,
    FieldRHSDataset,
    Normalizer,
    SequenceDataset,
    get_preset,
    load,
    simulate,
    split_indices,
)


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory):
    spec = get_preset("kiyani-cahn-hilliard", n_traj=5, grid=[12], t_end=0.5, save_every=5)
    return simulate(spec, tmp_path_factory.mktemp("data") / "ch.h5", progress=False)


@pytest.mark.parametrize("by", ["sample", "trajectory"])
@pytest.mark.parametrize("fractions", [(0.6, 0.2, 0.2), (0.8, 0.1, 0.1)])
def test_splits_partition_the_samples(by, fractions):
    splits = split_indices(10, 7, fractions, by, seed=3)
    allpairs = np.concatenate(list(splits.values()))
    assert len(allpairs) == 70 and len({tuple(p) for p in allpairs}) == 70
    assert abs(len(splits["train"]) - fractions[0] * 70) <= 7
    if by == "trajectory":
        trajs = [set(splits[s][:, 0].tolist()) for s in ("train", "val", "test")]
        assert not (trajs[0] & trajs[1]) and not (trajs[0] & trajs[2]) and not (trajs[1] & trajs[2])
    assert np.array_equal(split_indices(10, 7, fractions, by, seed=3)["val"], splits["val"])


def test_split_errors():
    with pytest.raises(ValueError, match=r"fractions must be three non-negative numbers summing to 1"):
        split_indices(5, 5, (0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match=r"by must be 'sample' or 'trajectory'"):
        split_indices(5, 5, by="frame")
    with pytest.raises(ValueError, match=r"needs >= 3 trajectories"):
        split_indices(2, 5, by="trajectory")


def test_field_rhs_dataset_items_are_the_file_contents(dataset_path):
    data = load(dataset_path)
    ds = FieldRHSDataset(dataset_path, "val", by="trajectory", seed=1, dtype=torch.float64)
    assert len(ds) == len(ds.index) > 0
    for i in (0, len(ds) - 1):
        t, k = ds.index[i]
        field, rhs = ds[i]
        np.testing.assert_array_equal(field.numpy(), data["fields"][t, k])
        np.testing.assert_array_equal(rhs.numpy(), data["rhs"][t, k])
    sizes = [len(FieldRHSDataset(dataset_path, s)) for s in ("train", "val", "test")]
    assert sum(sizes) == 5 * data["info"].n_time


def test_sequence_windows_stay_inside_one_trajectory(dataset_path):
    data = load(dataset_path)
    train = SequenceDataset(dataset_path, 4, "train", stride=2, seed=0)
    val = SequenceDataset(dataset_path, 4, "val", stride=2, seed=0)
    assert not set(train.trajectories) & set(val.trajectories)
    t, s = train.windows[-1]
    np.testing.assert_array_equal(train[len(train) - 1].numpy(), data["fields"][t, s:s + 4].astype(np.float32))
    with pytest.raises(ValueError, match=r"length must be in 2..11"):
        SequenceDataset(dataset_path, 50)


def test_normalizer_uses_channel_statistics(dataset_path):
    ds = FieldRHSDataset(dataset_path, "train", dtype=torch.float64)
    norm = Normalizer.fit(ds.fields, ndim=2)
    x = ds.fields.numpy()
    assert norm.mean.item() == pytest.approx(x.mean()) and norm.std.item() == pytest.approx(x.std(ddof=1))
    z = norm.normalize(ds.fields, ndim=2)
    assert z.mean().item() == pytest.approx(0.0, abs=1e-12)
    torch.testing.assert_close(norm.denormalize(z, ndim=2), ds.fields)
    again = Normalizer.from_dict(norm.to_dict())
    torch.testing.assert_close(again.mean, norm.mean)


def test_non_finite_and_rhs_less_data_are_refused(dataset_path, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(dataset_path.read_bytes())
    with h5py.File(bad, "r+") as f:
        f["rhs"][1, 2, 0, 3, 4] = np.nan
    with pytest.raises(DatasetError, match=r"/rhs holds non-finite values \(first at index \(1, 2, 0, 3, 4\)\)"):
        FieldRHSDataset(bad)
    with h5py.File(bad, "r+") as f:
        del f["rhs"]
    with pytest.raises(DatasetError, match=r"has no /rhs"):
        FieldRHSDataset(bad)
    SequenceDataset(bad, 3)  # sequences need no rhs


def test_local_stencil_samples_are_the_neighbours_in_the_file(dataset_path):
    from coarsegrain.data import LocalStencilDataset
    from coarsegrain.models import CNNLSTM

    data = load(dataset_path)
    frames = FieldRHSDataset(dataset_path, "test", dtype=torch.float64)
    points = LocalStencilDataset(dataset_path, "test", dtype=torch.float64)
    ny, nx = data["info"].grid_shape
    assert len(points) == len(frames) * ny * nx
    # Sample p of frame f is grid point (p // nx, p % nx) of that frame.
    f, y, x = 1, 3, nx - 1  # a point on the periodic edge
    t, k = frames.index[f]
    u = data["fields"][t, k, 0]
    stencil, rhs = points[f * ny * nx + y * nx + x]
    expected = [u[y - 1, x], u[y, x], u[(y + 1) % ny, x], u[y, x - 1], u[y, (x + 1) % nx]]
    np.testing.assert_array_equal(stencil.numpy(), expected)
    assert rhs.item() == data["rhs"][t, k, 0, y, x]
    # A CNN-LSTM trained on points predicts fields with the same weights.
    net = CNNLSTM(2).double()
    field_pred = net(frames.fields[f:f + 1])[0, 0, y, x]
    torch.testing.assert_close(net.predict_points(stencil[None])[0, 0], field_pred)
    few = LocalStencilDataset(dataset_path, "train", points_per_frame=10, seed=3)
    assert len(few) == 10 * len(FieldRHSDataset(dataset_path, "train"))
