"""The batched torch reward/termination functions reproduce the envs' own, within 1e-5."""

from __future__ import annotations

import numpy as np
import torch

from dynadapt.envs.family import TaskFamily
from dynadapt.envs.testing import example_settings


def _collect(family: TaskFamily, params: dict, steps: int, seed: int) -> dict[str, np.ndarray]:
    """Random-action transitions, with actions up to 20 % outside the bounds (checks clipping)."""
    env = family.make(**params)
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    span = high - low
    obs, _ = env.reset(seed=seed)
    rows: dict[str, list] = {k: [] for k in ("obs", "act", "next_obs", "reward", "terminated")}
    for _ in range(steps):
        act = rng.uniform(low - 0.2 * span, high + 0.2 * span).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(act)
        for key, value in zip(rows, (obs, act, next_obs, reward, terminated)):
            rows[key].append(value)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return {k: np.asarray(v) for k, v in rows.items()}


def test_reward_and_termination_match_env(family: TaskFamily) -> None:
    for i, params in enumerate(example_settings(family)):
        data = _collect(family, params, steps=1000, seed=i)
        obs, act, next_obs = (
            torch.as_tensor(data[k], dtype=torch.float64) for k in ("obs", "act", "next_obs")
        )
        reward = family.reward_fn_for(**params)(obs, act, next_obs)
        terminated = family.termination_fn_for(**params)(obs, act, next_obs)
        assert reward.shape == (1000,) and terminated.shape == (1000,) and terminated.dtype == torch.bool
        np.testing.assert_allclose(reward.numpy(), data["reward"], atol=1e-5, rtol=0, err_msg=str(params))
        np.testing.assert_array_equal(terminated.numpy(), data["terminated"], err_msg=str(params))


def test_reward_fn_is_batched_over_leading_dims(family: TaskFamily) -> None:
    gen = torch.Generator().manual_seed(0)
    obs = torch.randn(4, 5, family.obs_dim, generator=gen)
    act = torch.randn(4, 5, family.act_dim, generator=gen)
    next_obs = torch.randn(4, 5, family.obs_dim, generator=gen)
    reward = family.reward_fn(obs, act, next_obs)
    assert reward.shape == (4, 5) and reward.dtype == torch.float32
    flat = family.reward_fn(obs.reshape(20, -1), act.reshape(20, -1), next_obs.reshape(20, -1))
    torch.testing.assert_close(flat.reshape(4, 5), reward)
    assert family.termination_fn(obs, act, next_obs).shape == (4, 5)
    features = family.obs_preproc(obs)
    assert features.shape == (4, 5, family.feature_dim)


def test_reward_depends_on_task_parameter() -> None:
    from dynadapt.envs import get_family

    cartpole = get_family("cartpole")
    upright = torch.tensor([[0.0, np.pi, 0.0, 0.0]], dtype=torch.float64)
    act = torch.zeros(1, 1, dtype=torch.float64)
    for length in (0.4, 0.6, 1.2):  # the tip of any pole straight up earns the maximum, 1
        assert cartpole.reward_fn_for(pole_length=length)(upright, act, upright).item() == 1.0
    shifted = torch.tensor([[0.3, np.pi, 0.0, 0.0]], dtype=torch.float64)
    short = cartpole.reward_fn_for(pole_length=0.4)(shifted, act, shifted)
    long = cartpole.reward_fn_for(pole_length=1.2)(shifted, act, shifted)
    assert short < long  # the same offset is worse relative to a short pole's length scale
