"""The critic ensemble of value-guided MPC: TD targets by hand, learning a known value, aggregation, state."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.policy.critic import CriticConfig, ValueEnsemble
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
