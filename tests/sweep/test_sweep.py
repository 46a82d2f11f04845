"""Sweeps through the real command line: local and Ray backends, kill -9 and re-run, failing trials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dynadapt.cli import main
from dynadapt.sweep.grid import SweepSpec, load_grid_file
from dynadapt.sweep.run import prepare
from tests.sweep.conftest import TINY, dynadapt, summaries, write_grid


def manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def test_local_sweep_runs_every_trial_of_the_grid(local_sweep: Path) -> None:
    m = manifest(local_sweep)
    trials = m["trials"]
    assert len(trials) == 8 and all(t["status"] == "done" and t["error"] is None for t in trials)
    methods = {t["method"] for t in trials}
    assert methods == {f"{p} mpc.horizon={h}" for p in ("pets-pendulum", "pets-cartpole") for h in (3, 4)}
    assert m["grid"]["axes"] == {"mpc.horizon": ["3", "4"]}
    for t in trials:
        run = local_sweep / t["name"]
        summary = json.loads((run / "summary.json").read_text())
        config = json.loads((run / "config.json").read_text())
        assert summary["seed"] == t["seed"] == config["seed"]
        assert summary["preset"] == t["preset"] and summary["episodes"] == TINY["episodes"]
        assert config["mpc"]["horizon"] == int(t["method"].rsplit("=", 1)[1])
        assert config["threads"] == 1  # the default: one torch thread per trial
        assert t["duration_s"] > 0 and t["action"] == "started"
    # Seeds are replicates: the two seeds of a method differ.
    s = summaries(local_sweep)
    assert s["pets-pendulum__mpc.horizon=3__s0"] != s["pets-pendulum__mpc.horizon=3__s1"]


def test_ray_backend_gives_the_same_summaries(local_sweep: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (make test installs the ray extra)")
    grid = write_grid(tmp_path / "grid.toml")
    out = tmp_path / "ray"
    proc = dynadapt("sweep", "--grid", str(grid), "--out", str(out), "--backend", "ray", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert all(t["status"] == "done" for t in manifest(out)["trials"])
    ray_runs, local_runs = summaries(out), summaries(local_sweep)
    assert len(ray_runs) == 8 and ray_runs == local_runs


def test_kill_9_then_rerun_skips_finished_trials_and_resumes_the_rest(
    local_sweep: Path, tmp_path: Path
) -> None:
    # Two trials of the fixture's grid, one at a time, killed once the first has finished and the second
    # has checkpointed its first episode.
    grid = write_grid(tmp_path / "grid.toml", presets=["pets-pendulum"], horizons=[3])
    out = tmp_path / "killed"
    first, second = (out / f"pets-pendulum__mpc.horizon=3__s{s}" for s in (0, 1))
    args = ["sweep", "--grid", str(grid), "--out", str(out), "--workers", "1"]
    cmd = [sys.executable, "-m", "dynadapt.cli", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if (first / "summary.json").exists() and (second / "checkpoints" / "last.safetensors").exists():
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the sweep ended before it could be killed; the test proves nothing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/summary.json")}
    assert list(finished) == [first.name]
    m = manifest(out)
    assert m["trials"][1]["status"] != "done"  # as the killed sweep left it
    time.sleep(0.5)  # its worker dies with it (PR_SET_PDEATHSIG): nothing writes the runs any more
    again = dynadapt(*args)
    assert again.returncode == 0, again.stderr
    assert "1 of 2 trials already finished, skipped" in again.stderr
    for name, mtime in finished.items():  # untouched
        assert (out / name / "summary.json").stat().st_mtime_ns == mtime
    m = manifest(out)
    assert [t["status"] for t in m["trials"]] == ["done", "done"]
    assert m["trials"][0]["attempts"] == 1
    assert m["trials"][1]["action"] == "resumed"  # from the checkpoint the killed sweep left
    # Same results as the uninterrupted sweep, which ran the same trials.
    expected = summaries(local_sweep)
    got = summaries(out)
    assert len(got) == 2 and all(summary == expected[name] for name, summary in got.items())


def test_failing_trials_are_recorded_and_the_others_finish(tmp_path: Path) -> None:
    # Three seeds of one tiny method, one trial at a time: the first raises (its run directory holds a
    # torn config.json), the second's worker process is killed with SIGKILL while it runs (as the OOM
    # killer would), the third must still finish.
    grid = write_grid(tmp_path / "grid.toml", presets=["pets-pendulum"], horizons=[3])
    out = tmp_path / "sweep"
    spec = load_grid_file(grid)
    spec.seeds = [0, 1, 2]
    m = prepare(out, spec)  # the sweep as `dynadapt sweep` would record it, before anything runs
    m.save()
    raises, killed, fine = m.trials
    (out / raises.name).mkdir()
    (out / raises.name / "config.json").write_text("{ not json")
    args = ["sweep", "--grid", str(grid), "--out", str(out), "--seeds", "0-2", "--workers", "1", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "dynadapt.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline, pid = time.monotonic() + 240, None
    while pid is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            entry = {t["name"]: t for t in manifest(out)["trials"]}[killed.name]
        except json.JSONDecodeError:  # never torn (atomic writes); only while the file is replaced
            continue
        if entry["status"] == "running" and entry.get("pid"):
            pid = entry["pid"]
        time.sleep(0.01)
    assert pid is not None, "the second trial was never seen running"
    os.kill(pid, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 1, stderr
    assert f"failed: {raises.name}: CorruptFileError:" in stdout and "corrupted config" in stdout
    assert f"failed: {killed.name}: the worker process died (killed by signal 9)" in stdout
    entries = {t["name"]: t for t in manifest(out)["trials"]}
    assert entries[raises.name]["status"] == entries[killed.name]["status"] == "failed"
    assert "Traceback" in entries[raises.name]["traceback"]
    assert entries[fine.name]["status"] == "done" and (out / fine.name / "summary.json").exists()
    # Clearing the broken run and re-running retries the two failed trials only.
    (out / raises.name / "config.json").unlink()
    proc2 = dynadapt(*args)
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    entries = {t["name"]: t for t in manifest(out)["trials"]}
    assert all(e["status"] == "done" for e in entries.values())
    assert [entries[t.name]["attempts"] for t in (raises, killed, fine)] == [2, 2, 1]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sweep", "no-such-preset", "--out", "{tmp}/s"], "unknown preset 'no-such-preset'"),
        (
            ["sweep", "pets-pendulum", "--out", "{tmp}/s", "model.hiden=3"],
            "unknown config field 'model.hiden'",
        ),
        (
            ["sweep", "pets-pendulum", "--out", "{tmp}/s", "episodes=1", "episodes=-1"],
            "episodes must be >= 1",
        ),
        (["sweep", "pets-pendulum", "--out", "{tmp}/s", "--seeds", "3-1"], "--seeds range '3-1' is empty"),
        (["sweep", "pets-pendulum", "--out", "{tmp}/s", "--backend", "slurm"], "unknown backend 'slurm'"),
        (
            ["sweep", "pets-pendulum", "--out", "{tmp}/s", "--address", "x:1"],
            "--address is for the ray backend",
        ),
        (["sweep", "--out", "{tmp}/s"], "is not a sweep directory"),
        (["sweep", "--grid", "{tmp}/nope.toml", "--out", "{tmp}/s"], "no such grid file"),
        (["compare", "{tmp}"], "is neither a sweep directory (no manifest.json) nor a run directory"),
        (["compare", "{tmp}/missing"], "no such directory"),
        (["compare", "{tmp}", "{tmp}"], "needs --out"),
        (["report", "{tmp}"], "is neither a sweep directory"),
    ],
)
def test_user_errors_are_one_line_and_write_nothing(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    code, err = run_cli([a.replace("{tmp}", str(tmp_path)) for a in args], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dynadapt: error:"), err
    assert message in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_grid_errors_and_a_different_sweep_in_the_same_directory(
    local_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = json.dumps(manifest(local_sweep), sort_keys=True)
    code, err = run_cli(["sweep", "pets-pendulum", "--out", str(local_sweep), "--seeds", "5"], capsys)
    assert code == 2 and "holds a different sweep" in err and len(err.strip().splitlines()) == 1
    assert json.dumps(manifest(local_sweep), sort_keys=True) == before
    bad = tmp_path / "bad.toml"
    bad.write_text('presets = ["pets-pendulum"]\nseed = [1]\n')
    code, err = run_cli(["sweep", "--grid", str(bad), "--out", str(tmp_path / "s")], capsys)
    assert code == 2 and "unknown grid-file key 'seed'" in err
    assert SweepSpec(presets=["a"], axes={"x": ["1", "2"]}, seeds=[0, 1]).trials()[3].name == "a__x=2__s1"


def test_without_ray_the_ray_backend_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    # A Python where `import ray` fails (sys.modules[name] = None makes the import raise ImportError).
    code = (
        "import sys; sys.modules['ray'] = None; from dynadapt.cli import main; "
        f"sys.exit(main(['sweep', 'pets-pendulum', '--out', {str(tmp_path / 's')!r}, '--backend', 'ray']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "dynadapt: error: the ray backend needs Ray, which is not installed: pip install 'dynadapt[ray]'"
    )
    assert not (tmp_path / "s").exists()


def test_overrides_as_options_and_presets_as_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(
        ["sweep", "pets-pendulum", "--out", str(tmp_path / "s"), "--episodes", "0", "pets-cartpole"], capsys
    )
    assert code == 2 and "episodes must be >= 1" in err and not (tmp_path / "s").exists()


def test_an_unreachable_ray_cluster_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (make test installs the ray extra)")
    args = [
        "sweep",
        "pets-pendulum",
        "--out",
        str(tmp_path / "s"),
        "--backend",
        "ray",
        "--address",
        "127.0.0.1:1",
    ]
    code, err = run_cli(args, capsys)
    assert code == 2 and err.startswith("dynadapt: error: cannot reach a Ray cluster at 127.0.0.1:1")
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "s").exists()
