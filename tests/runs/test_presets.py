"""Every preset builds; every task family is reachable from a preset and runs end to end (tiny budget)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dynadapt.envs import family_names
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides
from dynadapt.runs.kinds import get_kind
from dynadapt.runs.presets import PRESETS, get_preset

TINY = [
    ("episodes", "2"),
    ("task.episode_steps", "8"),
    ("eval.episodes", "1"),
    ("model.hidden", "8"),
    ("model.ensemble_size", "2"),
    ("model.max_epochs", "2"),
    ("planner.population", "10"),
    ("planner.elites", "2"),
    ("planner.iterations", "1"),
    ("mpc.horizon", "3"),
    ("mpc.particles", "2"),
]


def test_every_preset_builds_a_valid_config() -> None:
    for name, p in PRESETS.items():
        cfg = p.make()
        assert get_kind(p.kind).config is type(cfg), name


@pytest.mark.parametrize("family", family_names())
def test_every_family_runs_from_its_preset(family: str, tmp_path: Path) -> None:
    preset = get_preset(f"pets-{family}")
    cfg = apply_overrides(preset.make(), TINY)
    summary = launch.start(preset, cfg, tmp_path / "run", progress=False)
    assert summary["env"] == family and summary["env_steps"] == 16
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["episode"] for r in rows] == [1, 2]


def test_task_parameters_are_overridable_and_validated() -> None:
    cfg = apply_overrides(get_preset("pets-cartpole").make(), [("task.env_params.pole_length", "1.0")])
    assert cfg.task.env_params["pole_length"] == 1.0
    with pytest.raises(ValueError, match="pole_length"):
        apply_overrides(get_preset("pets-cartpole").make(), [("task.env_params.pole_length", "-1")])


CONTINUAL_TINY = [
    ("task.tasks", "2"),
    ("episodes", "1"),
    ("task.episode_steps", "6"),
    ("random_steps", "6"),
    ("train_every", "6"),
    ("train_steps", "2"),
    ("eval.episodes", "1"),
    ("pred_horizon", "2"),
    ("model.hidden", "8"),
    ("strategy.hnet.hidden", "4"),
    ("planner.population", "8"),
    ("planner.elites", "2"),
    ("planner.iterations", "1"),
    ("mpc.horizon", "2"),
]


@pytest.mark.parametrize("family", ["pendulum", "cartpole", "reacher", "half_cheetah_body", "pusher", "door"])
@pytest.mark.parametrize("scale", ["", "-paper"])
def test_every_continual_family_runs_from_its_hypercrl_preset(
    family: str, scale: str, tmp_path: Path
) -> None:
    """The CPU-scale and paper-scale HyperCRL presets of every continual family run end to end (tiny budget:
    only the networks' and schedule's sizes are overridden; sequence, head and planner stay the preset's)."""
    preset = get_preset(f"hypercrl-{family}{scale}")
    cfg = apply_overrides(preset.make(), CONTINUAL_TINY)
    summary = launch.start(preset, cfg, tmp_path / "run", progress=False)
    R = summary["reward_matrix"]
    assert len(R) == 2 and all(isinstance(R[i][1], float) for i in range(2))
    assert cfg.task.sequence.startswith(family)
