"""The value kinds end to end on tiny budgets: the critic and the cloned policy are trained after every fit,
the planner plans with the terminal value and the proposals, and the cost per planning call is counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dynadapt.errors import DynadaptError
from dynadapt.io import load_tensors
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.presets import get_preset
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.value import ValueMPCRun
from tests.runs.tiny import TINY, tiny


def test_value_mpc_trains_critic_and_policy_and_plans_with_both(tmp_path: Path) -> None:
    preset, cfg = tiny("value-mpc")  # proposals-cartpole: CEM 20 x 1 iteration, H 5, 2 particles, M = 2
    summary = launch.start(preset, cfg, tmp_path / "run", progress=False)
    assert summary["kind"] == "value-mpc" and summary["settings"]["terminal_value"] is True
    rows = RunDir(tmp_path / "run").read_metrics()
    assert [r["phase"] for r in rows] == ["random", "mpc", "mpc"]
    # candidates x particles x H per planning call, plus M x H once the policy has been cloned (after the
    # fit that follows the first MPC episode)
    assert [r["planner/model_evals_per_step"] for r in rows] == [200.0, 200.0, 210.0]
    assert summary["model_evals_per_step"] == pytest.approx(610 / 3)
    assert all("critic/loss" in r for r in rows) and "policy/bc_loss" not in rows[0]
    assert "policy/bc_loss" in rows[1] and "policy/bc_loss" in rows[2]
    tensors, _ = load_tensors(tmp_path / "run" / "checkpoints" / "last.safetensors", "dynadapt.RunCheckpoint")
    assert int(tensors["c.critic.updates"]) == 3 * 5  # value.updates=5 after each of the 3 fits
    assert any(k.startswith("c.rollouts.obs") for k in tensors)


def test_without_the_terminal_value_it_is_plain_mpc(tmp_path: Path) -> None:
    _, cfg = tiny("value-mpc", "value.terminal=false", "value.proposals=0")
    runner = ValueMPCRun(cfg, RunDir(tmp_path / "run"), progress=False)
    assert runner.objective.terminal is None and runner.objective.proposals is None
    assert not runner.cfg.value.needs_policy
    runner.step()
    assert runner.guide.critic.updates == 0 and runner.guide.policy.fit_steps == 0
    valued = ValueMPCRun(tiny("value-mpc")[1], RunDir(tmp_path / "valued"), progress=False)
    assert valued.objective.terminal is not None and valued.objective.terminal.value is valued.guide.critic


def test_value_meta_plans_the_adapted_model_with_the_value(tmp_path: Path) -> None:
    preset, cfg = tiny("value-meta")
    summary = launch.start(preset, cfg, tmp_path / "run", progress=False)
    assert summary["kind"] == "value-meta" and summary["value"]["terminal_value"] is True
    rows = RunDir(tmp_path / "run").read_metrics()
    assert all("critic/loss" in r for r in rows) and "policy/bc_loss" in rows[-1]
    # RS 16 candidates x H 3 (one expectation particle), plus 4 proposals x 3 once the policy is cloned
    assert rows[-1]["planner/model_evals_per_step"] == 16 * 3 + 4 * 3
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["value"]["proposals"] == 0.25
    name, overrides = TINY["value-meta"]
    with pytest.raises(DynadaptError, match="parametric model"):
        apply_overrides(get_preset(name).make(), parse_override_args([*overrides, "method=rebal"]))


def test_a_critic_minibatch_keeps_each_transition_whole(tmp_path: Path) -> None:
    """Every row of a minibatch comes from one transition of one part: its fields must match (an earlier
    version drew each field's rows separately, pairing states with other transitions' rewards)."""
    runner = ValueMPCRun(tiny("value-mpc")[1], RunDir(tmp_path / "run"), progress=False)
    guide, n = runner.guide, 500

    def part(offset: float, rows: int) -> dict[str, torch.Tensor]:
        key = torch.arange(rows, dtype=torch.float32) + offset
        obs = key[:, None].expand(rows, 4).clone()
        return {"obs": obs, "reward": key, "next_obs": obs + 0.5, "discount": key / 1000}

    batch = guide.batch(part(0.0, n), part(10_000.0, n))
    key = batch["reward"]
    assert torch.equal(batch["obs"][:, 0], key) and torch.equal(batch["next_obs"][:, 0], key + 0.5)
    assert torch.equal(batch["discount"], key / 1000)
    real = int((key < 10_000).sum())
    assert real == int(guide.settings.critic.batch_size * guide.settings.real_ratio)
    assert len(set(key.tolist())) > 0.8 * len(key)  # drawn, not one row repeated
