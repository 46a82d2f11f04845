import numpy as np
import pytest
import torch

from dynadapt.data import ReplayBuffer, holdout_mask
from dynadapt.errors import CorruptFileError, DynadaptError


def fill(buf: ReplayBuffer, episodes: list[int], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for ep, length in enumerate(episodes):
        for t in range(length):
            o = rng.normal(size=buf.obs_dim)
            buf.add(o, rng.normal(size=buf.act_dim), o + 1, float(t), False, t == length - 1, episode=ep, t=t)


def test_ring_drops_oldest_first() -> None:
    buf = ReplayBuffer(10, 2, 1)
    fill(buf, [7, 7])
    assert len(buf) == 10 and buf.total_added == 14
    data = buf.all()
    assert data["id"].tolist() == list(range(4, 14))  # the 4 oldest are gone, order is oldest first
    assert data["episode"].tolist() == [0, 0, 0] + [1] * 7


def test_segments_never_cross_episodes() -> None:
    buf = ReplayBuffer(50, 3, 2)
    fill(buf, [5, 3, 9, 2, 12, 30])  # wraps around the ring
    gen = torch.Generator().manual_seed(0)
    seg = buf.sample_segments(500, 4, gen)
    assert seg["obs"].shape == (500, 4, 3)
    assert (seg["episode"] == seg["episode"][:, :1]).all()
    assert (seg["t"][:, 1:] - seg["t"][:, :-1] == 1).all()
    assert (seg["id"][:, 1:] - seg["id"][:, :-1] == 1).all()
    with pytest.raises(DynadaptError, match="consecutive"):
        buf.sample_segments(1, 31, gen)


def test_uniform_sampling_is_seeded() -> None:
    buf = ReplayBuffer(100, 2, 1)
    fill(buf, [40])
    a = buf.sample(16, torch.Generator().manual_seed(5))
    b = buf.sample(16, torch.Generator().manual_seed(5))
    assert torch.equal(a["id"], b["id"])


def test_save_load_round_trip_and_continues_identically(tmp_path) -> None:
    buf = ReplayBuffer(10, 2, 1)
    fill(buf, [13])
    buf.save(tmp_path / "b.safetensors")
    loaded = ReplayBuffer.load(tmp_path / "b.safetensors")
    for k, v in buf.all().items():
        assert torch.equal(v, loaded.all()[k]), k
    fill(buf, [4], seed=9)
    fill(loaded, [4], seed=9)
    for k, v in buf.all().items():
        assert torch.equal(v, loaded.all()[k]), k


def test_rejects_nan_and_wrong_shapes_and_corrupt_files(tmp_path) -> None:
    buf = ReplayBuffer(5, 2, 1)
    with pytest.raises(DynadaptError, match="NaN"):
        buf.add([np.nan, 0], [0], [0, 0], 0.0, False, False)
    with pytest.raises(DynadaptError, match="shape"):
        buf.add([0, 0, 0], [0], [0, 0, 0], 0.0, False, False)
    assert len(buf) == 0
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a buffer at all")
    with pytest.raises(CorruptFileError):
        ReplayBuffer.load(bad)


def test_holdout_split_is_fixed_and_proportional() -> None:
    ids = torch.arange(10_000)
    mask = holdout_mask(ids, 0.2)
    assert 0.19 < mask.float().mean() < 0.21
    assert torch.equal(holdout_mask(ids[5000:], 0.2), mask[5000:])
