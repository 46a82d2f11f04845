"""The mbpo-continual and mbpo-meta run kinds: HyperCRL-generated rollouts with a task-conditioned policy,
GrBAL-adapted rollouts, and each preset end to end on a tiny budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dynadapt.meta.base import detached
from dynadapt.policy.adaptive import adapted_params, window_starts
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides
from dynadapt.runs.policy_adaptive.continual import MBPOContinualRun
from dynadapt.runs.policy_adaptive.meta import MBPOMetaRun
from dynadapt.runs.presets import get_preset
from dynadapt.runs.rundir import RunDir

TINY = [
    ("episodes", "2"),
    ("task.episode_steps", "20"),
    ("random_steps", "10"),
    ("updates_per_step", "1"),
    ("buffer_capacity", "1000"),
    ("sac.hidden", "8"),
    ("sac.batch_size", "8"),
    ("model.hidden", "8"),
    ("mbpo.epoch_length", "10"),
    ("mbpo.model_train_freq", "10"),
    ("mbpo.rollout_batch_size", "12"),
    ("mbpo.rollout_schedule", "0,1,1,3"),
]
TINY_CONTINUAL = [
    *TINY,
    ("eval_episodes", "1"),
    ("task.tasks", "2"),
    ("train_steps", "5"),
    ("strategy.hnet.hidden", "8"),
]
TINY_META = [
    *TINY,
    ("eval.episodes", "1"),
    ("grbal.M", "4"),
    ("grbal.K", "4"),
    ("grbal.max_epochs", "1"),
    ("grbal.steps_per_epoch", "2"),
    ("grbal.meta_batch", "4"),
]


def _continual(tmp_path: Path, extra: list[tuple[str, str]]) -> MBPOContinualRun:
    cfg = apply_overrides(get_preset("mbpo-hypercrl-pendulum").make(), [*TINY_CONTINUAL, *extra])
    return MBPOContinualRun(cfg, RunDir(tmp_path / "run"), progress=False)


def _check_task_rollouts(run: MBPOContinualRun, t: int, pool: dict[str, torch.Tensor]) -> None:
    o = run.family.obs_dim
    assert torch.equal(pool["obs"][:, o:], run.ctx(t).expand(len(pool["obs"]), -1))
    predict = run.model.task_predict(t)  # task t's generated params and normalisers
    pred, _ = predict(run.strategy.params_for(t), pool["obs"][None, :, :o], pool["act"][None])
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
    assert run.sac.obs_dim == o + d
    run.step()  # task 0
    first = run.pool.all()
    assert len(first["obs"]) == 12
    _check_task_rollouts(run, 0, first)
    run.step()  # task 1
    assert run.task == 1 and run.model.num_tasks == 2
    second = {k: v[12:] for k, v in run.pool.all().items()}
    assert len(second["obs"]) == 12
    _check_task_rollouts(run, 1, second)
    # the same start states and actions under task 0's generated model give other next states
    pred0, _ = run.model.task_predict(0)(
        run.strategy.params_for(0), second["obs"][None, :, :o], second["act"][None]
    )
    assert not torch.allclose(pred0[0], second["next_obs"][:, :o], atol=1e-3)
    # the policy's input is [s, e_t], in the env and in SAC's minibatches
    obs = np.zeros(o, dtype=np.float32)
    assert np.array_equal(run.policy_input(obs)[o:], run.ctx(1).numpy())
    assert not torch.equal(run.ctx(0), run.ctx(1))
    batch = run.mixed_batch()
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
    run.step()  # random episode of 20 steps
    state = run.rollout_gen.get_state()
    run.step()  # the fit and the one rollout phase happen before its first step
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


def test_adaptive_configs_carry_no_field_their_kind_does_not_use() -> None:
    from dynadapt.runs.policy_adaptive.continual import MBPOContinualConfig

    names = set(MBPOContinualConfig.__dataclass_fields__)
    assert not names & {"env", "env_params", "eval", "eval_every", "target_return", "stop_at_target"}
    with pytest.raises(ValueError, match="switch_at"):
        apply_overrides(get_preset("mbpo-grbal-pendulum").make(), [("task.switch_at", "5")])
