"""MBPO with adaptive models: HyperCRL-generated rollouts with a task-conditioned policy (mbpo-continual) and
GrBAL-adapted rollouts (mbpo-meta); the windows, the wiring of the runs, end-to-end runs and resuming."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.meta.base import detached
from dynadapt.meta.grbal import GrBAL, GrBALConfig
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.policy.adaptive import adapted_params, context_obs, window_starts, with_context
from dynadapt.policy.mbpo import branched_rollout
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides
from dynadapt.runs.policy_adaptive import MBPOContinualRun, MBPOMetaRun
from dynadapt.runs.presets import get_preset
from dynadapt.runs.rundir import RunDir

TINY = [
    ("episodes", "2"),
    ("episode_steps", "20"),
    ("random_steps", "10"),
    ("updates_per_step", "1"),
    ("eval_episodes", "1"),
    ("buffer_capacity", "1000"),
    ("sac.hidden", "8"),
    ("sac.batch_size", "8"),
    ("model.hidden", "8"),
    ("mbpo.epoch_length", "10"),
    ("mbpo.model_train_freq", "10"),
    ("mbpo.rollout_batch_size", "12"),
    ("mbpo.rollout_schedule", "0,1,1,3"),
]
TINY_CONTINUAL = [*TINY, ("tasks", "2"), ("train_steps", "5"), ("strategy.hnet.hidden", "8")]
TINY_META = [
    *TINY,
    ("grbal.M", "4"),
    ("grbal.K", "4"),
    ("grbal.max_epochs", "1"),
    ("grbal.steps_per_epoch", "2"),
    ("grbal.meta_batch", "4"),
]


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


# ---------------------------------------------------------------------------------------- the runs
def _continual(tmp_path: Path, extra: list[tuple[str, str]]) -> MBPOContinualRun:
    cfg = apply_overrides(get_preset("mbpo-hypercrl-pendulum").make(), [*TINY_CONTINUAL, *extra])
    return MBPOContinualRun(cfg, RunDir(tmp_path / "run"), progress=False)


def _check_task_rollouts(run: MBPOContinualRun, t: int, pool: dict[str, torch.Tensor]) -> None:
    o = run.family.obs_dim
    assert torch.equal(pool["obs"][:, o:], run.ctx(t).expand(len(pool["obs"]), -1))
    run.model.input_norm, run.model.target_norm = run.norms[t]
    pred, _ = run.model.predict(run.strategy.params_for(t), pool["obs"][None, :, :o], pool["act"][None])
    torch.testing.assert_close(pool["next_obs"][:, :o], pred[0], atol=1e-5, rtol=1e-5)


def test_continual_rollouts_use_each_tasks_generated_params_and_the_policy_sees_e_t(tmp_path: Path) -> None:
    # one episode per task; one model training + one k = 1 rollout phase per task (at its step 10)
    run = _continual(
        tmp_path,
        [
            ("episodes", "1"),
            ("mbpo.model_train_freq", "100"),
            ("mbpo.epoch_length", "100"),
            ("mbpo.rollout_schedule", "0,1,1,1"),
        ],
    )
    o, d = run.family.obs_dim, run.cfg.strategy.hnet.emb_dim
    assert run.agent.obs_dim == o + d
    run.train_episode()
    run.episode += 1
    first = run.pool.all()
    assert len(first["obs"]) == 12
    _check_task_rollouts(run, 0, first)
    run.train_episode()  # task 1
    assert run.task == 1
    second = {k: v[12:] for k, v in run.pool.all().items()}
    assert len(second["obs"]) == 12
    _check_task_rollouts(run, 1, second)
    # the same start states and actions under task 0's generated model give other next states
    pred0, _ = run.model.predict(run.strategy.params_for(0), second["obs"][None, :, :o], second["act"][None])
    assert not torch.allclose(pred0[0], second["next_obs"][:, :o], atol=1e-3)
    # the policy's input is [s, e_t], in the env and in SAC's minibatches
    obs = np.zeros(o, dtype=np.float32)
    assert np.array_equal(run.policy_input(obs)[o:], run.ctx(1).numpy())
    assert not torch.equal(run.ctx(0), run.ctx(1))
    batch = run.batch()
    assert batch["obs"].shape == (run.cfg.sac.batch_size, o + d)


def test_meta_rollouts_use_theta_adapted_on_each_start_states_window(tmp_path: Path) -> None:
    cfg = apply_overrides(
        get_preset("mbpo-grbal-pendulum").make(),
        [
            *TINY_META,
            ("random_steps", "20"),
            ("mbpo.model_train_freq", "1000"),
            ("mbpo.epoch_length", "1000"),
            ("mbpo.rollout_schedule", "0,1,1,1"),
        ],
    )
    run = MBPOMetaRun(cfg, RunDir(tmp_path / "run"), progress=False)
    run.train_episode()  # random episode of 20 steps
    run.episode += 1
    state = run.rollout_gen.get_state()
    run.train_episode()  # the fit and the one rollout phase happen before its first step
    data = {k: v[:20] for k, v in run.buffer.all().items()}  # what the buffer held then
    starts = window_starts(data["episode"], data["t"], cfg.grbal.M)
    pick = starts[torch.randint(0, starts.numel(), (12,), generator=torch.Generator().set_state(state))]
    obs0, params = adapted_params(run.learner, data, pick)
    pool = run.pool.all()
    assert torch.equal(pool["obs"], obs0)
    pred, _ = run.model.predict(params, pool["obs"][:, None], pool["act"][:, None])
    torch.testing.assert_close(pool["next_obs"], pred[:, 0], atol=1e-5, rtol=1e-5)
    plain, _ = run.model.predict(detached(run.model.params), pool["obs"][None], pool["act"][None])
    assert not torch.allclose(pool["next_obs"], plain[0], atol=1e-4)  # not θ*


@pytest.mark.parametrize("name", ["mbpo-hypercrl-pendulum", "mbpo-grbal-pendulum"])
def test_each_preset_runs_end_to_end(name: str, tmp_path: Path) -> None:
    preset = get_preset(name)
    tiny = TINY_CONTINUAL if preset.kind == "mbpo-continual" else TINY_META
    summary = launch.start(preset, apply_overrides(preset.make(), tiny), tmp_path / "run", progress=False)
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert written["kind"] == preset.kind and not any("time" in k for k in written)
    assert (tmp_path / "run" / "plots" / "learning_curve.png").exists()
    if preset.kind == "mbpo-continual":
        R = summary["reward_matrix"]
        assert summary["env_steps"] == 2 * 2 * 20 and len(R) == 2
        assert np.isfinite([R[0][0], R[0][1], R[1][1]]).all() and np.isnan(R[1][0])
        assert (tmp_path / "run" / "plots" / "reward_matrix.png").exists()
    else:
        assert summary["env_steps"] == 40 and np.isfinite(summary["final_eval_return"])
        rows = RunDir(tmp_path / "run").read_metrics()
        assert rows[-1]["mbpo/rollout_length"] >= 1


class _Killed(Exception):
    pass


@pytest.mark.parametrize(("name", "cut_after"), [("mbpo-hypercrl-pendulum", 3), ("mbpo-grbal-pendulum", 1)])
def test_resume_after_a_kill_equals_an_uninterrupted_run(name: str, cut_after: int, tmp_path: Path) -> None:
    preset = get_preset(name)
    tiny = TINY_CONTINUAL if preset.kind == "mbpo-continual" else TINY_META
    cfg = apply_overrides(preset.make(), tiny)
    ref = launch.start(preset, cfg, tmp_path / "ref", progress=False)
    kind = launch.get_kind(preset.kind)
    rundir = RunDir(tmp_path / "cut")
    run: Any = kind.runner(apply_overrides(preset.make(), tiny), rundir, preset=preset.name, progress=False)
    rundir.create(run.config_dict())
    save = run.save_checkpoint

    def save_then_die() -> None:  # the process dies right after the cut_after-th checkpoint
        save()
        if run.episode == cut_after:
            raise _Killed

    run.save_checkpoint = save_then_die
    with pytest.raises(_Killed):
        run.run()
    resumed = launch.resume(tmp_path / "cut", progress=False)
    assert json.dumps(resumed) == json.dumps(ref)
    strip = lambda rows: [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]  # noqa: E731
    assert strip(rundir.read_metrics()) == strip(RunDir(tmp_path / "ref").read_metrics())
