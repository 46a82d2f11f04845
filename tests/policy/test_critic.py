"""The critic ensemble of value-guided MPC: TD targets by hand, learning a known value, aggregation, state."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.policy.critic import CriticConfig, ValueEnsemble, n_step_transitions
from dynadapt.types import Params


def hand_values(params: Params, z: Tensor) -> Tensor:
    """Each member's tanh MLP written out: ``z[N, F] -> [K, N]`` (float64)."""
    h = torch.tanh(z @ params["layers.0.weight"] + params["layers.0.bias"][:, None])
    return (h @ params["layers.1.weight"] + params["layers.1.bias"][:, None]).squeeze(-1)


@pytest.mark.parametrize("aggregate", ["min", "mean_std"])
def test_td_target_by_hand_in_float64(aggregate: str) -> None:
    cfg = CriticConfig(
        members=3, hidden=(4,), activation="tanh", gamma=0.9, aggregate=aggregate, std_coef=0.5
    )  # type: ignore[arg-type]
    critic = ValueEnsemble(2, cfg, generator=torch.Generator().manual_seed(0))
    critic.target = {k: v.double() for k, v in critic.target.items()}
    obs = torch.tensor([[0.1, -0.3], [2.0, 0.5], [-1.0, 1.0]], dtype=torch.float64)
    critic.observe(obs)
    reward = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    terminated = torch.tensor([False, True, False])
    next_obs = obs.flip(0)
    y = critic.td_targets(reward, next_obs, terminated)
    mean = torch.tensor([0.1 + 2.0 - 1.0, -0.3 + 0.5 + 1.0], dtype=torch.float64) / 3
    std = ((obs - mean) ** 2).mean(0).sqrt()  # the normaliser's (biased) statistics
    v = hand_values(critic.target, (next_obs - mean) / std)  # [K, N]
    agg = v.min(0).values if aggregate == "min" else v.mean(0) - 0.5 * v.std(0, unbiased=False)
    expected = reward + 0.9 * torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64) * agg
    assert y.dtype == torch.float64
    torch.testing.assert_close(y, expected, rtol=1e-6, atol=1e-6)  # the normaliser keeps float32 statistics
    assert y[1] == reward[1]  # a terminal transition does not bootstrap


def test_the_critics_learn_a_known_value() -> None:
    """Reward 1 forever at γ = 0.9: V = 10 everywhere; reward 1 then termination: V = 1."""
    g = torch.Generator().manual_seed(1)
    critic = ValueEnsemble(3, CriticConfig(members=2, hidden=(16,), lr=1e-2, gamma=0.9, tau=0.1), generator=g)
    obs = torch.randn(256, 3, generator=g)
    critic.observe(obs)
    for terminal, value in ((False, 10.0), (True, 1.0)):
        batch = {"obs": obs, "next_obs": obs.roll(1, 0), "reward": torch.ones(256),
                 "terminated": torch.full((256,), terminal)}  # fmt: skip
        for _ in range(600):
            stats = critic.update(batch)
        assert critic(obs).mean().item() == pytest.approx(value, abs=0.05 * value)
        assert stats["critic/loss"] < 0.05 * value**2
    assert critic.values(obs).shape == (2, 256) and critic(obs.reshape(4, 64, 3)).shape == (4, 64)


def test_aggregate_is_pessimistic() -> None:
    critic = ValueEnsemble(1, CriticConfig(members=2, aggregate="mean_std", std_coef=2.0))
    values = torch.tensor([[1.0, 3.0], [3.0, 3.0]])
    assert critic.aggregate(values).tolist() == [2.0 - 2.0 * 1.0, 3.0]
    critic.cfg.aggregate = "min"
    assert critic.aggregate(values).tolist() == [1.0, 3.0]
    with pytest.raises(DynadaptError, match="aggregate"):
        CriticConfig(aggregate="max")  # type: ignore[arg-type]


def test_state_round_trip_continues_identically() -> None:
    def make() -> ValueEnsemble:
        return ValueEnsemble(
            2, CriticConfig(members=2, hidden=(8,)), generator=torch.Generator().manual_seed(5)
        )

    g = torch.Generator().manual_seed(6)
    obs, next_obs, reward = torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g), torch.randn(32)
    batch = {
        "obs": obs,
        "next_obs": next_obs,
        "reward": reward,
        "terminated": torch.zeros(32, dtype=torch.bool),
    }
    a = make()
    a.observe(batch["obs"])
    a.update(batch)
    b = make()
    b.load_state_dict(a.state_dict())
    a.update(batch), b.update(batch)
    torch.testing.assert_close(a(batch["obs"]), b(batch["obs"]), rtol=0, atol=0)
    with pytest.raises(CorruptFileError):
        ValueEnsemble(2, CriticConfig(members=3, hidden=(8,))).load_state_dict(a.state_dict())


def _trajectories(capacity: int) -> ReplayBuffer:
    """Episode 0: 4 steps, truncated; episode 1: 3 steps, the last terminal; episode 2: 2 steps (running).
    obs = [global step], reward = 10^(global step) (each sum shows which rewards it holds)."""
    buf = ReplayBuffer(capacity, 1, 1)
    step = 0
    for episode, length, terminal in ((0, 4, False), (1, 3, True), (2, 2, False)):
        for t in range(length):
            last = t == length - 1
            truncated = last and not terminal and episode < 2
            buf.add([step], [0.0], [step + 1], 10.0**step, terminal and last, truncated, episode=episode, t=t)
            step += 1
    return buf


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_n_step_transitions_by_hand(n: int) -> None:
    data = _trajectories(16).all()
    g = 0.5
    out = n_step_transitions(data, n, g)
    episodes = [(0, 4, False), (1, 3, True), (2, 2, False)]
    expected_r, expected_next, expected_disc = [], [], []
    start = 0
    for _, length, terminal in episodes:
        for t in range(length):
            k = min(n, length - t)  # steps to the episode's end (a termination ends the sum there too)
            expected_r.append(sum(g**i * 10.0 ** (start + t + i) for i in range(k)))
            expected_next.append(start + t + k)
            ends_terminal = terminal and t + k == length
            expected_disc.append(0.0 if ends_terminal else g**k)
        start += length
    torch.testing.assert_close(
        out["reward"].double(), torch.tensor(expected_r, dtype=torch.float64), rtol=1e-6, atol=0
    )
    assert out["next_obs"].squeeze(-1).tolist() == expected_next
    assert out["discount"].tolist() == pytest.approx(expected_disc)
    assert torch.equal(out["obs"], data["obs"])


def test_n_step_transitions_after_the_buffer_wrapped() -> None:
    """A full ring buffer drops the oldest steps: the first episode left starts mid-way, and every sum
    stays within its episode."""
    data = _trajectories(4).all()  # steps 5..8: episode 1 from t 1 (terminal at step 6), episode 2 (7-8)
    out = n_step_transitions(data, 3, 1.0)
    assert out["reward"].tolist() == [10.0**5 + 10.0**6, 10.0**6, 10.0**7 + 10.0**8, 10.0**8]
    assert out["discount"].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert out["next_obs"].squeeze(-1).tolist() == [7.0, 7.0, 9.0, 9.0]


def test_n_step_targets_propagate_a_value_faster() -> None:
    """A chain of 40 states with reward 1 each and γ 0.95: after the same number of updates the 10-step
    critics are far closer to the true values (1 − γ^(40 − i)) / (1 − γ) than the 1-step ones."""
    length, g = 40, 0.95
    buf = ReplayBuffer(64, 1, 1)
    for t in range(length):
        buf.add([t / length], [0.0], [(t + 1) / length], 1.0, t == length - 1, False, t=t)
    data = buf.all()
    truth = torch.tensor([(1 - g ** (length - i)) / (1 - g) for i in range(length)])
    errors = {}
    for n in (1, 10):
        critic = ValueEnsemble(1, CriticConfig(members=2, hidden=(32,), lr=3e-3, gamma=g, tau=0.01),
                               generator=torch.Generator().manual_seed(0))  # fmt: skip
        critic.observe(data["obs"])
        batch = n_step_transitions(data, n, g)
        for _ in range(600):
            critic.update(batch)
        errors[n] = float((critic(data["obs"]) - truth).abs().mean())
    assert errors[10] < 0.5 * errors[1], errors
