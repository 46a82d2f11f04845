"""A real tiny sweep, run once per test session: 2 presets x 2 override values x 2 seeds (8 trials)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY = {
    "episodes": 2,
    "task.episode_steps": 25,
    "eval.episodes": 1,
    "model.hidden": [16],
    "model.ensemble_size": 2,
    "model.max_epochs": 4,
    "planner.population": 16,
    "planner.elites": 4,
    "planner.iterations": 2,
    "mpc.particles": 2,
}
"""Overrides that make a PETS run take about a second."""

GRID_TOML = """\
presets = ["pets-pendulum", "pets-cartpole"]
seeds = [0, 1]

[set]
{set}

[grid]
"mpc.horizon" = [3, 4]
"""


def write_grid(path: Path, presets: list[str] | None = None, horizons: list[int] | None = None) -> Path:
    """The fixture's grid file, or a part of it (fewer presets or horizons: the same trial names)."""
    lines = "\n".join(f'"{k}" = {json.dumps(v)}' for k, v in TINY.items())
    text = GRID_TOML.format(set=lines)
    if presets is not None:
        text = text.replace('["pets-pendulum", "pets-cartpole"]', json.dumps(presets))
    if horizons is not None:
        text = text.replace('"mpc.horizon" = [3, 4]', f'"mpc.horizon" = {json.dumps(horizons)}')
    path.write_text(text)
    return path


def dynadapt(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dynadapt.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def summaries(root: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(root.glob("*/summary.json"))}


@pytest.fixture(scope="session")
def local_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2x2x2 sweep on the local backend with 2 worker processes (run once, shared by xdist workers)."""
    base = tmp_path_factory.getbasetemp()
    # Under pytest-xdist every worker has its own basetemp inside the session's; share the session's.
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "dynadapt-sweep-fixture"
    shared.mkdir(parents=True, exist_ok=True)
    out = shared / "local"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "manifest.json").exists() or len(summaries(out)) != 8:
            grid = write_grid(shared / "grid.toml")
            proc = dynadapt("sweep", "--grid", str(grid), "--out", str(out), "--workers", "2")
            assert proc.returncode == 0, proc.stderr
    return out
