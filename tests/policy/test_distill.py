"""Planner distillation: DAgger relabelling, behaviour cloning, a distill run end to end and after kill -9."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dynadapt.envs import get_family
from dynadapt.models import DynamicsModel, ModelConfig
from dynadapt.planning import MPCConfig, imagine
from dynadapt.planning.cem import CEMConfig
from dynadapt.policy.distill import DistilledPolicy, PolicyConfig, dagger_episode
from dynadapt.runs import launch
from dynadapt.runs.common import action_bounds, make_mpc_agent
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.presets import get_preset
from dynadapt.runs.rundir import RunDir

FAMILY = get_family("pendulum")


def mpc_expert(seed: int):
    """A real MPC agent (CEM on the imagined rollout of a small untrained model), randomness from ``seed``."""
    model = DynamicsModel(
        FAMILY.obs_dim,
        FAMILY.act_dim,
        ModelConfig(ensemble_size=2, hidden=(16,)),
        obs_preproc=FAMILY.obs_preproc,
        feature_dim=FAMILY.feature_dim,
        generator=torch.Generator().manual_seed(0),
    )
    gen = torch.Generator().manual_seed(seed)
    params = {k: v.detach() for k, v in model.params.items()}

    def factory(obs0: torch.Tensor):
        return lambda a: imagine(
            model.predict, params, obs0, a, FAMILY.reward_fn, None, particles=2, generator=gen
        )

    low, high = action_bounds(FAMILY.make())
    agent = make_mpc_agent(
        CEMConfig(population=16, elites=4, iterations=2),
        MPCConfig(horizon=4, particles=2),
        factory,
        low,
        high,
        gen,
    )
    return agent, low, high


def small_policy(low: np.ndarray, high: np.ndarray, seed: int = 0) -> DistilledPolicy:
    return DistilledPolicy(
        FAMILY.obs_dim,
        FAMILY.act_dim,
        low,
        high,
        PolicyConfig(hidden=(16,), train_steps=50),
        obs_preproc=FAMILY.obs_preproc,
        feature_dim=FAMILY.feature_dim,
        family="pendulum",
        generator=torch.Generator().manual_seed(seed),
    )


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_dagger_labels_the_states_the_policy_visited_with_the_planners_action(beta: float) -> None:
    import gymnasium as gym

    env = gym.wrappers.TimeLimit(FAMILY.make(), 25)
    agent, low, high = mpc_expert(seed=3)
    policy = small_policy(low, high)
    ep = dagger_episode(
        env, agent.act, policy.act, beta, np.random.default_rng(0), seed=7, reset_expert=agent.reset
    )
    assert ep.length == 25
    # the executed actions are the policy's except where the expert was drawn (all of them with beta = 0)
    learner = torch.as_tensor(np.stack([policy.act(o.numpy()) for o in ep.obs]))
    mine = ~ep.by_expert
    assert mine.all() if beta == 0 else 0 < int(mine.sum()) < 25
    torch.testing.assert_close(ep.executed[mine], learner[mine])
    torch.testing.assert_close(ep.executed[~mine], ep.labels[~mine])
    assert not torch.allclose(ep.executed, ep.labels)  # the labels are not just the executed actions
    # the recorded states are the ones the executed actions visit
    obs, _ = env.reset(seed=7)
    for t in range(25):
        np.testing.assert_allclose(ep.obs[t].numpy(), obs, rtol=0, atol=1e-6)
        obs, *_ = env.step(ep.executed[t].numpy())
    # each label is the planner's action at that state: a fresh identical agent fed the same states in
    # the same order (its warm start follows the trajectory) plans the same actions
    fresh, _, _ = mpc_expert(seed=3)
    fresh.reset()
    replanned = torch.as_tensor(np.stack([fresh.act(o.numpy()) for o in ep.obs]))
    torch.testing.assert_close(replanned, ep.labels)


def test_behaviour_cloning_recovers_a_known_controller_and_round_trips(tmp_path: Path) -> None:
    low, high = np.array([-2.0], dtype=np.float32), np.array([2.0], dtype=np.float32)
    policy = DistilledPolicy(3, 1, low, high, PolicyConfig(hidden=(32, 32), train_steps=800, lr=3e-3))
    gen = torch.Generator().manual_seed(0)
    obs = torch.rand(2000, 3, generator=gen) * 4 - 2
    act = (-(obs[:, :1] + 0.5 * obs[:, 2:3])).clamp(-2, 2)  # a saturated linear controller
    untrained = policy.mse(obs, act)
    policy.fit(obs, act)
    test = torch.rand(500, 3, generator=gen) * 4 - 2
    assert policy.mse(test, (-(test[:, :1] + 0.5 * test[:, 2:3])).clamp(-2, 2)) < 0.01 < untrained
    assert (policy(test).abs() <= 2).all()
    path = tmp_path / "policy.safetensors"
    policy.save(path)
    back = DistilledPolicy.load(path)
    torch.testing.assert_close(back(test), policy(test))
    assert back.flops_per_step() == 2 * (3 * 32 + 32 * 32 + 32 * 1)


TINY = [
    "pets.episodes=2",
    "episode_steps=20",
    "eval_episodes=2",
    "iterations=3",
    "episodes_per_iteration=1",
    "pets.model.ensemble_size=2",
    "pets.model.hidden=16",
    "pets.model.max_epochs=3",
    "pets.planner.population=20",
    "pets.planner.elites=4",
    "pets.planner.iterations=1",
    "pets.mpc.horizon=4",
    "pets.mpc.particles=2",
    "policy.hidden=16",
    "policy.train_steps=100",
]


def without_timing(rows: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in r.items() if not k.startswith("time/") and "ms_per_step" not in k} for r in rows
    ]


def read_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def ref_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny distill run to the end (shared by the end-to-end and the kill -9 tests)."""
    out = tmp_path_factory.mktemp("distill") / "ref"
    preset = get_preset("distill-pendulum")
    launch.start(preset, apply_overrides(preset.make(), parse_override_args(TINY)), out, progress=False)
    return out


def test_distill_run_end_to_end_and_from_a_model_file(ref_run: Path, tmp_path: Path) -> None:
    on_disk = json.loads((ref_run / "summary.json").read_text())
    assert on_disk["kind"] == "distill" and on_disk["iterations"] == 4
    assert on_disk["dataset"] == 4 * 20 and len(on_disk["dagger"]) == 4
    for key in ("planner_return", "policy_return", "random_return", "normalized_return_ratio", "flops_ratio"):
        assert math.isfinite(on_disk[key]), key
    # planner cost: CEM 20 candidates x 4 steps x 2 particles (one per member) per plan
    assert on_disk["planner_model_rows_per_step"] == pytest.approx(20 * 4 * 2)
    assert 0 < on_disk["flops_ratio"] < 1
    # the distilled policy is the iteration's best on validation episodes, reported on the evaluation seeds
    best = on_disk["selected_iteration"]
    vals = [d["val_return"] for d in on_disk["dagger"]]
    assert (
        vals[best - 1] == max(vals)
        and on_disk["policy_return"] == on_disk["dagger"][best - 1]["policy_return"]
    )
    assert on_disk["last_policy_return"] == on_disk["dagger"][-1]["policy_return"]
    assert (ref_run / "plots" / "distill.png").is_file()
    rows = read_rows(ref_run)
    assert [r["phase"] for r in rows] == ["planner_eval", "bc", "dagger", "dagger", "dagger"]
    assert [r["dagger/beta"] for r in rows[1:]] == [1.0, 0.5, 0.25, 0.125]
    # the same planner from the finished pets run directory gives the same planner evaluation
    preset = get_preset("distill-pendulum")
    cfg = apply_overrides(
        preset.make(),
        [*parse_override_args(TINY), ("model_path", str(ref_run / "pets")), ("iterations", "0")],
    )
    again = launch.start(preset, cfg, tmp_path / "from_file", progress=False)
    assert again["planner_returns"] == on_disk["planner_returns"]
    assert not (tmp_path / "from_file" / "pets").exists()


def test_kill_9_and_resume_gives_the_same_results(ref_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "dynadapt.cli",
        "run",
        "distill-pendulum",
        "--out",
        str(run),
        "--quiet",
        *TINY,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    # kill once the planner evaluation and DAgger iteration 0 are checkpointed (three iterations to go)
    while not (run / "metrics.jsonl").exists() or len(RunDir(run).read_metrics()) < 2:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert not (run / "summary.json").exists(), (
        "the run finished before it was killed; the test proves nothing"
    )
    launch.resume(run, progress=False)
    assert json.loads((run / "summary.json").read_text()) == json.loads(
        (ref_run / "summary.json").read_text()
    )
    assert without_timing(read_rows(run)) == without_timing(read_rows(ref_run))
