"""The learned reward and termination heads of DynamicsModel, and the PETS loop planning with them."""

import json
import math

import numpy as np
import torch

from dynadapt.data import ReplayBuffer
from dynadapt.models import DynamicsModel, ModelConfig
from dynadapt.planning.rollout import imagine


def toy_buffer(n: int, seed: int) -> ReplayBuffer:
    """next = obs + 0.1 act (+ small noise); r = -(x0^2 + 0.1 a^2); terminated iff next x0 > 1."""
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(n, 2, 1)
    for t in range(n):
        obs = rng.uniform(-1.5, 1.5, size=2)
        act = rng.uniform(-1, 1, size=1)
        nxt = obs + np.array([0.1 * act[0], 0.05 * obs[0]]) + rng.normal(scale=0.01, size=2)
        reward = -(obs[0] ** 2 + 0.1 * act[0] ** 2)
        buf.add(obs, act, nxt, reward, bool(nxt[0] > 1.0), False, episode=t // 50, t=t % 50)
    return buf


def head_model(**kw: object) -> DynamicsModel:
    cfg = ModelConfig(ensemble_size=2, hidden=(32, 32), head_hidden=(32, 32), lr=3e-3, max_epochs=60, **kw)  # type: ignore[arg-type]
    return DynamicsModel(2, 1, cfg, generator=torch.Generator().manual_seed(0))


def reward_rel_error(model: DynamicsModel, data: dict[str, torch.Tensor]) -> float:
    with torch.no_grad():
        pred = model.learned_reward_fn()(data["obs"], data["act"], data["next_obs"])
    r = data["reward"]
    return float((pred - r).pow(2).mean().sqrt() / r.std())


def test_reward_head_recovers_a_known_reward() -> None:
    model = head_model(learn_reward=True)
    test = toy_buffer(400, seed=1).all()
    model.update_normalizers(toy_buffer(800, seed=0))  # the untrained head, on normalised rewards
    untrained = reward_rel_error(model, test)
    model = head_model(learn_reward=True)
    result = model.fit(toy_buffer(800, seed=0))
    trained = reward_rel_error(model, test)
    assert untrained > 0.5
    assert trained < 0.1, trained
    assert result.reward_val_loss < 0.02 and math.isnan(result.termination_val_loss)
    assert "model/reward_val_loss" in result.metrics()
    # the dynamics are still learned as before
    mean, _ = model.predict(model.params, test["obs"].expand(2, -1, -1), test["act"].expand(2, -1, -1))
    assert (mean - test["next_obs"]).pow(2).mean() < 1e-3


def test_termination_head_learns_a_threshold_rule() -> None:
    model = head_model(learn_termination=True)
    test = toy_buffer(400, seed=1).all()
    untrained = model.learned_termination_fn()(test["obs"], test["act"], test["next_obs"])
    model.fit(toy_buffer(800, seed=0))
    pred = model.learned_termination_fn()(test["obs"], test["act"], test["next_obs"])
    truth = test["next_obs"][:, 0] > 1.0
    assert pred.dtype == torch.bool and pred.shape == truth.shape
    assert 0.05 < truth.float().mean() < 0.5  # both classes present
    assert (untrained == truth).float().mean() < 0.9
    assert (pred == truth).float().mean() > 0.97


def test_member_major_rows_use_their_own_member_and_heads_save_and_load(tmp_path) -> None:
    model = head_model(learn_reward=True, learn_termination=True)
    model.fit(toy_buffer(300, seed=0), steps=20)
    data = toy_buffer(10, seed=3).all()
    # the layouts compared in float64: the same sums in another order agree to a few hundred ulps
    p64 = {k: v.detach().double() for k, v in model.params.items()}
    d64 = {k: data[k].double() for k in ("obs", "act", "next_obs")}
    tol = 1e3 * torch.finfo(torch.float64).eps
    fn64 = model.learned_reward_fn(p64)
    per_member64 = fn64(*(d64[k].expand(2, -1, -1) for k in ("obs", "act", "next_obs")))  # [E, N]
    assert per_member64.shape == (2, 10)
    for e in range(2):
        single = {k: v[e : e + 1] for k, v in p64.items()}
        torch.testing.assert_close(
            per_member64[e],
            model.learned_reward_fn(single)(d64["obs"], d64["act"], d64["next_obs"]),
            rtol=tol,
            atol=tol,
        )
    torch.testing.assert_close(
        fn64(d64["obs"], d64["act"], d64["next_obs"]), per_member64.mean(0), rtol=tol, atol=tol
    )
    fn = model.learned_reward_fn()
    obs, act, nxt = (data[k].expand(2, -1, -1) for k in ("obs", "act", "next_obs"))
    per_member = fn(obs, act, nxt)  # [E, N]: block e scored by member e
    path = tmp_path / "m.safetensors"
    model.save(path)
    back = DynamicsModel.load(path)
    assert back.cfg.learn_reward and back.cfg.learn_termination
    torch.testing.assert_close(back.learned_reward_fn()(obs, act, nxt), per_member)
    # an imagined rollout with the learned reward is the sum of the head's rewards along the model's path
    acts = torch.zeros(3, 4, 1)
    ret = imagine(model.predict, model.params, data["obs"][0], acts, fn, None, propagation="expectation")
    assert ret.shape == (3,) and torch.isfinite(ret).all()


def test_model_files_without_heads_still_load(tmp_path) -> None:
    """A file written before the heads existed (no head fields in its config) loads as a headless model."""
    from dynadapt.io import load_tensors, save_tensors

    model = head_model()
    model.fit(toy_buffer(200, seed=0), steps=5)
    path = tmp_path / "old.safetensors"
    model.save(path)
    tensors, meta = load_tensors(path, "dynadapt.DynamicsModel")
    for key in ("learn_reward", "learn_termination", "head_hidden"):
        del meta["config"][key]
    save_tensors(path, tensors, "dynadapt.DynamicsModel", meta)
    back = DynamicsModel.load(path)
    assert back.reward_spec is None and not back.has_heads
    torch.testing.assert_close(back.params["layers.0.weight"], model.params["layers.0.weight"])


def test_pets_pendulum_runs_end_to_end_with_the_learned_reward(tmp_path) -> None:
    from dynadapt.runs.config import apply_overrides, parse_override_args
    from dynadapt.runs.launch import start
    from dynadapt.runs.presets import get_preset

    preset = get_preset("pets-pendulum")
    cfg = apply_overrides(
        preset.make(),
        parse_override_args(
            [
                "episodes=2",
                "task.episode_steps=15",
                "eval.episodes=1",
                "model.learn_reward=true",
                "model.ensemble_size=2",
                "model.hidden=16,16",
                "model.head_hidden=16",
                "model.max_epochs=3",
                "planner.population=20",
                "planner.elites=4",
                "planner.iterations=1",
                "mpc.horizon=5",
                "mpc.particles=2",
            ]
        ),
    )
    summary = start(preset, cfg, tmp_path / "run", progress=False)
    assert summary["settings"]["learn_reward"] is True
    assert math.isfinite(summary["final_eval_return"])
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all("model/reward_val_loss" in r for r in rows)
    assert DynamicsModel.load(tmp_path / "run" / "checkpoints" / "model_final.safetensors").cfg.learn_reward
