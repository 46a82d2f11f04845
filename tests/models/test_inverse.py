"""Inverse and action-free models: known linear systems, the chunk mask, segments, least squares, files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import TaskFamily, get_family
from dynadapt.errors import DynadaptError
from dynadapt.models.inverse import SegmentModel, SegmentModelConfig, Segments, least_squares, segments

O, A = 4, 2
LINEAR = TaskFamily(
    name="linear", env_id="none", obs_dim=O, act_dim=A, episode_steps=10, reward_fn=lambda o, a, n: n[..., 0],
    act_low=(-1.0,) * A, act_high=(1.0,) * A,
)  # fmt: skip


def linear_system(n: int, episodes: int = 200, steps: int = 10) -> Segments:
    """Segments of s' = M s + B a (B of full column rank), random actions in [-1, 1]."""
    g = torch.Generator().manual_seed(0)
    m = torch.eye(O) + 0.1 * torch.randn(O, O, generator=g)
    b = torch.randn(A, O, generator=g)
    rows = episodes * steps
    s = torch.randn(rows, O, generator=g)
    act = torch.rand(rows, n, A, generator=g) * 2 - 1
    future, x = [], s
    for j in range(n):
        x = x @ m.T + act[:, j] @ b
        future.append(x)
    return Segments(s, act, torch.stack(future, dim=1), torch.arange(rows) // steps)


def model(family: TaskFamily = LINEAR, **cfg: object) -> SegmentModel:
    config = SegmentModelConfig(**({"hidden": (32, 32), "train_steps": 500, "batch_size": 128} | cfg))  # type: ignore[arg-type]
    return SegmentModel(family, config, torch.Generator().manual_seed(1))


def test_one_step_inverse_model_recovers_the_action_of_a_linear_system() -> None:
    train, test = linear_system(1).split(0.2)
    inv = model()
    inv.fit(train)
    errors = inv.errors(test)
    assert errors["error_least_squares"] < 1e-9  # a = B⁺(s' − M s) is linear in (s, s' − s)
    assert errors["error"] < 0.01  # the network, in the unit box (actions have variance 1/3)
    predicted = inv.actions(test.obs, test.future[:, 0], 1)
    assert (predicted - test.act[:, 0]).abs().max() < 0.3
    exact = inv.actions(test.obs, test.future[:, 0], 1, linear=True)
    torch.testing.assert_close(exact, test.act[:, 0], atol=1e-4, rtol=0)


def test_action_free_least_squares_is_exact_for_an_autonomous_linear_system() -> None:
    seg = linear_system(3)
    m = 0.9 * torch.eye(O) + 0.05 * torch.ones(O, O)  # no actions: s_{t+j} = M^j s_t
    future = torch.stack([seg.obs @ torch.linalg.matrix_power(m, j).T for j in (1, 2, 3)], dim=1)
    seg = Segments(seg.obs, torch.zeros_like(seg.act), future, seg.episode)
    train, test = seg.split(0.2)
    free = model(kind="action_free", n=3)
    free.fit(train)
    assert free.errors(test)["error_least_squares"] < 1e-9
    torch.testing.assert_close(free.future(test.obs, linear=True), test.future, atol=1e-4, rtol=0)
    assert free.future(test.obs).shape == (len(test), 3, O)
    with pytest.raises(DynadaptError, match="only an inverse model"):
        free.actions(test.obs, test.obs, 1)


def test_a_chunks_loss_covers_only_the_actions_before_the_gap() -> None:
    seg = linear_system(3, episodes=2, steps=2)
    chunk = model(n=3, output="chunk")
    x, y, mask = chunk.examples(seg, torch.tensor([1, 2, 3, 2]))
    assert y.shape == mask.shape == (4, 3 * A) and x.shape == (4, 2 * O + 1)
    assert mask.reshape(4, 3, A)[:, :, 0].tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1], [1, 1, 0]]
    torch.testing.assert_close(x[:, -1], torch.tensor([1, 2, 3, 2]) / 3)  # the gap is an input
    torch.testing.assert_close(x[1, O : 2 * O], seg.future[1, 1] - seg.obs[1])  # goal s_{t+2} − s_t
    w = least_squares(torch.randn(6, 2), torch.randn(6, 2), torch.tensor([[1, 1]] * 3 + [[1, 0]] * 3))
    assert w.shape == (3, 2)  # a masked output is fitted on its own rows


def test_segments_never_cross_an_episode_and_split_by_episode() -> None:
    buf = ReplayBuffer(100, 1, 1)
    for ep in range(3):
        for t in range(4):
            x = float(10 * ep + t)
            buf.add([x], [x], [x + 1], 0.0, False, t == 3, episode=ep, t=t)
    seg = segments(buf, 3)
    assert len(seg) == 3 * 2
    assert seg.obs[:, 0].tolist() == [0, 1, 10, 11, 20, 21]
    assert seg.future[1, :, 0].tolist() == [2, 3, 4] and seg.act[1, :, 0].tolist() == [1, 2, 3]
    train, test = seg.split(0.5)
    assert not set(train.episode.tolist()) & set(test.episode.tolist())


def test_save_load_round_trip_predicts_the_same(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(3)
    rows = 200  # random reacher-sized segments (a registered family, so that the file can name it)
    seg = Segments(torch.randn(rows, 11, generator=g), torch.rand(rows, 2, 2, generator=g) * 2 - 1,
                   torch.randn(rows, 2, 11, generator=g), torch.arange(rows) // 10)  # fmt: skip
    train, test = seg.split(0.2)
    inv = model(get_family("reacher"), n=2, output="chunk", train_steps=20)
    inv.fit(train)
    inv.save(tmp_path / "inv.safetensors")
    again = SegmentModel.load(tmp_path / "inv.safetensors")
    goal = test.future[:, 1]
    assert torch.equal(inv.actions(test.obs, goal, 2), again.actions(test.obs, goal, 2))
    assert torch.equal(
        inv.actions(test.obs, goal, 2, linear=True), again.actions(test.obs, goal, 2, linear=True)
    )
    assert again.actions(test.obs, goal, 2).shape == (len(test), 2, 2) and again.family.name == "reacher"


def test_config_is_checked() -> None:
    with pytest.raises(DynadaptError, match=r"model\.kind"):
        SegmentModelConfig(kind="forward")  # type: ignore[arg-type]
    with pytest.raises(DynadaptError, match=r"model\.n"):
        SegmentModelConfig(n=0)
