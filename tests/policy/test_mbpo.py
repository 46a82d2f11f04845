"""MBPO's pieces: the rollout-length schedule, branched rollouts (start states, terminations, members),
the model buffer and the real/model minibatch mix."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.errors import DynadaptError
from dynadapt.nets.mlp import Params
from dynadapt.policy.mbpo import (
    MBPOConfig,
    ModelPool,
    branched_rollout,
    mixed_batch,
    rollout_length,
    start_states,
)


def test_rollout_length_schedule_matches_hand_values() -> None:
    sched = (20, 100, 1, 15)  # MBPO's Hopper-style schedule
    assert [rollout_length(e, sched) for e in (0, 20)] == [1, 1]
    # k = floor(1 + (e - 20)/80 * 14)
    assert rollout_length(21, sched) == 1  # 1.175
    assert rollout_length(60, sched) == 8  # 1 + 7 = 8
    assert rollout_length(99, sched) == 14  # 14.825
    assert rollout_length(100, sched) == 15
    assert rollout_length(500, sched) == 15
    assert rollout_length(3, (0, 0, 1, 4)) == 4


def test_model_buffer_capacity_follows_mbpo() -> None:
    cfg = MBPOConfig()  # 1 epoch · k · 100k · 1000/250
    assert cfg.pool_capacity(1) == 400_000
    assert cfg.pool_capacity(15) == 6_000_000
    with pytest.raises(DynadaptError, match="rollout_schedule"):
        MBPOConfig(rollout_schedule=(1, 2, 3))


def _counting_predict(params: Params, obs: Tensor, act: Tensor) -> tuple[Tensor, Tensor | None]:
    """Deterministic toy model: x_0 grows by 1 per step; x_1 records the member that predicted."""
    e = obs.shape[0]
    nxt = obs.clone()
    nxt[..., 0] += 1.0
    nxt[..., 1] = torch.arange(e, dtype=obs.dtype)[:, None].expand(e, obs.shape[1])
    return nxt, None


def _zero_policy(obs: Tensor) -> Tensor:
    return torch.zeros(obs.shape[0], 1)


def _terminates_at_3(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    return next_obs[..., 0] >= 3.0


def _reward_x(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    return next_obs[..., 0]


def test_branched_rollouts_stop_at_predicted_terminations() -> None:
    params = {"w": torch.zeros(3, 1)}  # three members
    obs0 = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [-5.0, 0.0], [2.5, 0.0]])
    data, stats = branched_rollout(
        _zero_policy, _counting_predict, params, obs0, 4, _reward_x, _terminates_at_3, torch.Generator()
    )
    # every stored transition starts from a non-terminal state (x_0 < 3) ...
    assert (data["obs"][:, 0] < 3.0).all()
    # ... and the rows ran min(horizon, steps to x_0 >= 3) steps: 3, 2, 1, 4, 1
    assert len(data["obs"]) == 3 + 2 + 1 + 4 + 1
    assert stats["mean_length"] == pytest.approx((3 + 2 + 1 + 4 + 1) / 5)
    assert torch.equal(data["terminated"], data["next_obs"][:, 0] >= 3.0)
    assert int(data["terminated"].sum()) == 4  # the row from -5 is cut by the horizon, not terminated
    assert torch.equal(data["reward"], data["next_obs"][:, 0])
    # no transition continues from a terminal next state
    starts = {round(float(x), 3) for x in data["obs"][:, 0]}
    assert not any(s >= 3.0 for s in starts)


def test_rollouts_never_start_from_terminal_states() -> None:
    buf = ReplayBuffer(100, 2, 1)
    for i in range(60):
        terminal = i % 6 == 5
        nxt = [999.0, 999.0] if terminal else [float(i + 1), 0.0]
        buf.add([float(i), 0.0], [0.0], nxt, 0.0, terminal, False, episode=i // 6, t=i % 6)
    obs0 = start_states(buf, 5000, torch.Generator().manual_seed(0))
    assert (obs0[:, 0] < 999.0).all()
    # and a rollout from them never stores a transition from a terminal state
    term = lambda o, a, n: n[..., 0] >= 999.0  # noqa: E731
    data, _ = branched_rollout(
        _zero_policy, _counting_predict, {"w": torch.zeros(2, 1)}, obs0, 3, _reward_x, term, torch.Generator()
    )
    assert (data["obs"][:, 0] < 999.0).all()


def test_each_row_is_predicted_by_a_random_balanced_member() -> None:
    obs0 = torch.zeros(10, 2)
    data, _ = branched_rollout(
        _zero_policy,
        _counting_predict,
        {"w": torch.zeros(3, 1)},
        obs0,
        1,
        _reward_x,
        _terminates_at_3,
        torch.Generator().manual_seed(1),
    )
    members = data["next_obs"][:, 1].long()
    assert torch.bincount(members, minlength=3).tolist() in ([4, 3, 3], [3, 4, 3], [3, 3, 4], [4, 4, 2])
    other, _ = branched_rollout(
        _zero_policy,
        _counting_predict,
        {"w": torch.zeros(3, 1)},
        obs0,
        1,
        _reward_x,
        _terminates_at_3,
        torch.Generator().manual_seed(2),
    )
    assert not torch.equal(members, other["next_obs"][:, 1].long())  # the assignment is random


def test_gaussian_members_are_sampled_and_nonfinite_rows_dropped() -> None:
    def predict(params: Params, obs: Tensor, act: Tensor) -> tuple[Tensor, Tensor | None]:
        mean = obs.clone()
        mean[..., 0] = torch.where(obs[..., 1] > 0, torch.tensor(float("nan")), obs[..., 0])
        std = torch.zeros_like(obs)
        std[..., 0] = 1.0  # x_1 (the NaN switch) stays put
        return mean, std

    obs0 = torch.tensor([[0.0, 0.0]] * 50 + [[0.0, 1.0]] * 2)
    never = lambda o, a, n: torch.zeros(n.shape[0], dtype=torch.bool)  # noqa: E731
    data, stats = branched_rollout(
        _zero_policy, predict, {"w": torch.zeros(2, 1)}, obs0, 2, _reward_x, never, torch.Generator()
    )
    assert stats["nonfinite"] == 2 and torch.isfinite(data["next_obs"]).all()
    assert data["next_obs"][:, 0].std() > 0.5  # sampled from N(mean, 1)


def _batch(n: int, value: float) -> dict[str, Tensor]:
    return {
        "obs": torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2),
        "act": torch.zeros(n, 1),
        "reward": torch.full((n,), value),
        "next_obs": torch.zeros(n, 2),
        "terminated": torch.zeros(n, dtype=torch.bool),
    }


def test_model_pool_keeps_the_newest_and_round_trips() -> None:
    pool = ModelPool(5, 2, 1)
    pool.add(_batch(3, 0.0))
    pool.add(_batch(4, 1.0))  # 7 added, the oldest 2 dropped
    assert len(pool) == 5
    assert pool.all()["obs"][:, 0].tolist() == [2.0, 0.0, 1.0, 2.0, 3.0]
    pool.resize(3)
    assert pool.all()["obs"][:, 0].tolist() == [1.0, 2.0, 3.0]
    pool.resize(10)
    pool.add(_batch(12, 2.0))  # larger than the capacity: only its last 10 rows
    assert pool.all()["obs"][:, 0].tolist() == [float(i) for i in range(2, 12)]
    other = ModelPool(1, 2, 1)
    other.load_state_dict(pool.state_dict())
    assert other.capacity == 10
    for k, v in pool.all().items():
        assert torch.equal(v, other.all()[k])


def test_mixed_batch_takes_real_ratio_real_transitions() -> None:
    real = ReplayBuffer(50, 2, 1)
    for _ in range(20):
        real.add([0.0, 0.0], [0.0], [0.0, 0.0], 1.0, False, False)
    pool = ModelPool(100, 2, 1)
    g = torch.Generator().manual_seed(0)
    assert (mixed_batch(real, pool, 64, 0.05, g)["reward"] == 1.0).all()  # empty pool: all real
    pool.add(_batch(30, -1.0))
    batch = mixed_batch(real, pool, 256, 0.05, g)
    assert int((batch["reward"] == 1.0).sum()) == 12  # floor(256 · 0.05)
    assert int((batch["reward"] == -1.0).sum()) == 244
    assert batch["terminated"].dtype == torch.bool
