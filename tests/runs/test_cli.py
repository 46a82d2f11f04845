"""The command line, through real processes: runs, errors, and resume after kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dynadapt.runs.rundir import RunDir

TINY = [
    "episodes=4",
    "task.episode_steps=30",
    "eval.episodes=1",
    "model.hidden=16",
    "model.ensemble_size=2",
    "model.max_epochs=5",
    "planner.population=20",
    "planner.elites=4",
    "planner.iterations=2",
    "mpc.horizon=5",
    "mpc.particles=2",
    "threads=1",
]


def dynadapt(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dynadapt.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def without_timing(rows: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in r.items() if not k.startswith("time/") and k != "planner/ms_per_step"} for r in rows
    ]


def read_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_run_writes_the_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = dynadapt("run", "pets-pendulum", "--out", str(out), "--quiet", "--seed", "3", *TINY)
    assert proc.returncode == 0, proc.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 3 and config["model"]["hidden"] == [16] and config["planner"]["name"] == "cem"
    rows = read_rows(out)
    assert [r["episode"] for r in rows] == [1, 2, 3, 4]
    assert {
        "train/return",
        "train/length",
        "train/env_steps",
        "model/val_loss",
        "planner/ms_per_step",
    } <= set(rows[-1])
    assert rows[-1]["train/env_steps"] == 120
    csv_lines = (out / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and "train/return" in csv_lines[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 4 and summary["final_eval_return"] is not None
    assert (out / "plots" / "learning_curve.png").stat().st_size > 5000
    assert (out / "checkpoints" / "model_final.safetensors").exists()


def test_kill_9_and_resume_gives_the_same_results(tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    start = time.perf_counter()
    assert dynadapt("run", "pets-pendulum", "--out", str(ref), "--quiet", *TINY).returncode == 0
    duration = time.perf_counter() - start

    run = tmp_path / "killed"
    rng = random.Random(0)
    start_cmd = [
        sys.executable,
        "-m",
        "dynadapt.cli",
        "run",
        "pets-pendulum",
        "--out",
        str(run),
        "--quiet",
        *TINY,
    ]
    resume_cmd = [sys.executable, "-m", "dynadapt.cli", "resume", str(run), "--quiet"]
    kills, stalled, rows = 0, 0, 0
    while not (run / "summary.json").exists():
        # Killed before it wrote its config, the run never started: start it again, as a user would.
        cmd = resume_cmd if (run / "config.json").exists() else start_cmd
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # A random moment of the run; the window widens while kills keep landing before any new episode
        # completes (process start-up is slow on a loaded machine), so the run always gets further.
        try:
            _, err = proc.communicate(timeout=rng.uniform(0.3, 0.8) * duration * (1 + stalled))
            assert proc.returncode == 0, err
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
            kills += 1
        done = len(RunDir(run).read_metrics())  # tolerates a line torn by the kill
        stalled = 0 if done > rows else stalled + 1
        rows = done
        assert kills < 30
    assert kills >= 1, "the run finished before it could be killed; the test proves nothing"
    assert json.loads((run / "summary.json").read_text()) == json.loads((ref / "summary.json").read_text())
    assert without_timing(read_rows(run)) == without_timing(read_rows(ref))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "no-such-preset"], "unknown preset 'no-such-preset'"),
        (["run", "pets-pendulum", "model.hiden=3"], "unknown config field 'model.hiden'"),
        (["run", "pets-pendulum", "planer.population=3"], "did you mean 'planner.population'?"),
        (["run", "pets-pendulum", "env=cartpole"], "did you mean 'task.env'?"),
        (["run", "pets-pendulum", "episodes=-1"], "episodes must be >= 1"),
        (["run", "pets-pendulum", "model.lr=fast"], "model.lr expects a number"),
        (["run", "pets-pendulum", "task.env=atlantis"], "unknown task family 'atlantis'"),
        (["run", "pets-pendulum", "task.env_params.gravity=-3"], "gravity"),
        (["run", "pets-pendulum", "planner=nope"], "unknown choice for planner 'nope'"),
        (["resume", "/nonexistent/dir"], "no such run directory"),
        (["plot", "/"], "not a dynadapt run directory"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(args: list[str], message: str) -> None:
    proc = dynadapt(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dynadapt: error:"), proc.stderr
    assert message in lines[0]


def test_corrupted_checkpoint_is_reported_and_nothing_is_lost(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert (
        dynadapt(
            "run", "pets-pendulum", "--out", str(out), "--quiet", *TINY[:1], "episodes=2", *TINY[1:]
        ).returncode
        == 0
    )
    (out / "summary.json").unlink()
    ckpt = out / "checkpoints" / "last.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    proc = dynadapt("resume", str(out))
    assert proc.returncode == 2 and "last.safetensors" in proc.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # an existing run directory is never overwritten by a new run
    proc = dynadapt("run", "pets-pendulum", "--out", str(out))
    assert proc.returncode == 2 and "already holds a run" in proc.stderr


def test_help_documents_every_override() -> None:
    proc = dynadapt("run", "pets-pendulum", "--help")
    assert proc.returncode == 0
    for field in ("planner.population", "model.hidden", "mpc.horizon", "seed", "task.env_params"):
        assert field in proc.stdout
    assert "Adam learning rate" in proc.stdout
    for sub in ("presets", "resume", "plot"):
        assert dynadapt(sub, "--help").returncode == 0
    presets = dynadapt("presets").stdout
    assert "pets-pendulum" in presets and "pets-cartpole-paper" in presets
