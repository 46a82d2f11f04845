"""``benchmarks/labelfree_replay.py``: a recording replays through the label-free learner with the run
loop's cadence (reset at episode starts, a session every ``train_every`` steps), reproducibly, and the
drift and switch records are the learner's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.bench_modules import REPO

SCRIPT = str(REPO / "benchmarks" / "labelfree_replay.py")
TINY = [
    "stream=pendulum:tiny", "warmup_steps=50", "train_every=50", "planner.population=20",
    "planner.iterations=1", "mpc.horizon=5", "hnet.train_steps=5",
]  # fmt: skip


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replay") / "tiny.npz"
    subprocess.run([sys.executable, SCRIPT, "record", "--out", str(out), *TINY], check=True, cwd=REPO)
    return out


def _replay(recording: Path, out: Path, *overrides: str) -> dict[str, object]:
    cmd = [sys.executable, SCRIPT, "replay", str(recording), "--json", str(out), *overrides]
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
    return json.loads(out.read_text())


def test_a_recording_replays_with_the_loops_cadence(recording: Path, tmp_path: Path) -> None:
    data = np.load(recording)
    assert data["obs"].shape == (500, 3) and list(data["label"][[0, 200, 350, 450]]) == [0, 1, 0, 2]
    assert "stream=pendulum:tiny" in list(data["overrides"])
    first = _replay(recording, tmp_path / "a.json", "hnet.train_steps=5", "hnet.rehearse=4")
    sessions = first["sessions"]
    assert isinstance(sessions, list)
    assert [s["t"] for s in sessions] == list(range(50, 501, 50))  # after the warm-up, then every 50
    for s in sessions:
        assert len(s["drift"]) == s["library"] and s["drift"][s["trained"]] == pytest.approx(1.0, abs=1e-3)
    ident = first["identification"]
    assert isinstance(ident, dict) and 0.0 <= ident["nmi"] <= 1.0 and ident["switches"] == 3
    steps = sum(v["steps"] for v in first["purity"].values())  # type: ignore[union-attr]
    assert steps == 450  # every step after the warm-up is labelled
    again = _replay(recording, tmp_path / "b.json", "hnet.train_steps=5", "hnet.rehearse=4")
    assert again["events"] == first["events"] and again["sessions"] == first["sessions"]


def test_the_accuracy_figures_compare_the_network_in_force_with_a_dedicated_one(
    recording: Path, tmp_path: Path
) -> None:
    """--oracle: a dedicated network per true situation, fitted on the first half of its steps, is scored
    on the later half, the same rows the prequential figure reads; more fitting steps fit better."""
    few = _replay(recording, tmp_path / "few.json", "hnet.train_steps=5", "--oracle", "1")
    many = _replay(recording, tmp_path / "many.json", "hnet.train_steps=5", "--oracle", "300")
    acc_few, acc_many = few["accuracy"], many["accuracy"]
    assert isinstance(acc_few, dict) and isinstance(acc_many, dict)
    assert acc_many["oracle_steps"] == 300
    assert len(acc_many["oracle_sq_median"]) == len(acc_many["prequential_sq_median"]) == 3
    assert acc_many["prequential_sq_median"] == acc_few["prequential_sq_median"]  # the replay itself
    assert all(a < b for a, b in zip(acc_many["oracle_sq_median"], acc_few["oracle_sq_median"]))
    assert all(v > 0 for v in acc_many["prequential_sq_median"])
