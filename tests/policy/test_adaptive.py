"""MBPO with adaptive models (the library parts): the adaptation windows of GrBAL-adapted rollouts, per-row
rollouts and the task context of a task-conditioned policy (the runs: tests/runs/policy_adaptive)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.meta.base import detached
from dynadapt.meta.grbal import GrBAL, GrBALConfig
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.policy.adaptive import adapted_params, context_obs, window_starts, with_context
from dynadapt.policy.mbpo import branched_rollout


def _buffer(episodes: list[int], capacity: int = 1000) -> ReplayBuffer:
    """A buffer of random transitions: episode e has ``episodes[e]`` steps."""
    g = np.random.default_rng(0)
    buf = ReplayBuffer(capacity, 3, 1)
    for ep, n in enumerate(episodes):
        for t in range(n):
            buf.add(
                g.normal(size=3), g.normal(size=1), g.normal(size=3), 0.0, False, t == n - 1, episode=ep, t=t
            )
    return buf


def _grbal(buf: ReplayBuffer, M: int = 4) -> GrBAL:
    model = DynamicsModel(
        3,
        1,
        ModelConfig(ensemble_size=1, hidden=(8,), head="deterministic"),
        generator=torch.Generator().manual_seed(0),
    )
    learner = GrBAL(model, GrBALConfig(M=M, K=4, inner_lr=0.05), torch.Generator().manual_seed(1))
    model.update_normalizers(buf)
    return learner


def _adapt_on(learner: GrBAL, data: dict[str, torch.Tensor], rows: slice) -> dict[str, torch.Tensor]:
    m = learner.model
    obs, act, nxt = data["obs"][rows], data["act"][rows], data["next_obs"][rows]
    y = m.target_norm.normalize(m.targets(obs, nxt))
    return learner.adapt(detached(m.params), m.features(obs, act), y)


# ------------------------------------------------------------------------------------- library parts
def test_window_starts_need_M_preceding_steps_of_the_same_episode() -> None:
    data = _buffer([10, 7]).all()
    starts = window_starts(data["episode"], data["t"], 4)
    assert starts.tolist() == [4, 5, 6, 7, 8, 9, 14, 15, 16]  # t >= 4 in each episode, none across
    # a ring buffer that dropped episode 0's first 5 steps: its windows start at its oldest kept step
    wrapped = _buffer([10, 10], capacity=15).all()
    starts = window_starts(wrapped["episode"], wrapped["t"], 4)
    assert wrapped["t"][starts].tolist() == [9, 4, 5, 6, 7, 8, 9]
    assert (wrapped["episode"][starts - 4] == wrapped["episode"][starts]).all()


def test_grbal_rollout_params_are_adapted_on_the_window_ending_at_the_start_state() -> None:
    buf = _buffer([10, 10])
    data, learner = buf.all(), _grbal(buf)
    starts = window_starts(data["episode"], data["t"], 4)
    obs0, params = adapted_params(learner, data, starts)
    assert torch.equal(obs0, data["obs"][starts])
    theta = detached(learner.model.params)
    for row, i in enumerate(starts.tolist()):
        own = _adapt_on(learner, data, slice(i - 4, i))  # transitions i-4 .. i-1: the last ends at obs[i]
        for k in params:
            torch.testing.assert_close(params[k][row], own[k][0], atol=1e-6, rtol=1e-5)
        later = _adapt_on(learner, data, slice(i - 3, i + 1))  # one step later: includes s_i -> s_{i+1}
        assert not torch.allclose(params["layers.0.weight"][row], later["layers.0.weight"][0])
        assert not torch.allclose(params["layers.0.weight"][row], theta["layers.0.weight"][0])


def test_per_row_rollout_predicts_each_row_with_its_own_params() -> None:
    buf = _buffer([10, 10])
    data, learner = buf.all(), _grbal(buf)
    starts = window_starts(data["episode"], data["t"], 4)
    obs0, params = adapted_params(learner, data, starts)
    act_of = lambda obs: torch.tanh(obs[:, :1])  # noqa: E731 (a deterministic policy)
    zero = lambda o, a, o2: torch.zeros(o.shape[0])  # noqa: E731
    done = lambda o, a, o2: torch.zeros(o.shape[0], dtype=torch.bool)  # noqa: E731
    out, _ = branched_rollout(
        act_of, learner.model.predict, params, obs0, 2, zero, done, torch.Generator(), per_row=True
    )
    n = obs0.shape[0]
    for step in range(2):
        o, a = out["obs"][step * n : (step + 1) * n], out["act"][step * n : (step + 1) * n]
        for i in range(n):
            own = {k: v[i : i + 1] for k, v in params.items()}
            pred, _ = learner.model.predict(own, o[i].view(1, 1, -1), a[i].view(1, 1, -1))
            torch.testing.assert_close(out["next_obs"][step * n + i], pred.view(-1), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="one parameter set per start state"):
        branched_rollout(
            act_of, learner.model.predict, params, obs0[:3], 1, zero, done, torch.Generator(), per_row=True
        )


def test_context_is_appended_to_observations() -> None:
    obs, ctx = torch.randn(5, 3), torch.tensor([1.0, 2.0])
    assert torch.equal(context_obs(obs, ctx)[:, 3:], ctx.expand(5, 2))
    data = with_context({"obs": obs, "next_obs": obs + 1, "act": torch.zeros(5, 1)}, ctx)
    assert data["obs"].shape == data["next_obs"].shape == (5, 5) and data["act"].shape == (5, 1)
