"""The eight classes of failures that issue 19 found, each reproduced as it was found (every one of these
tests fails on the code before the fix): deletion outside a sweep, replacing what is not a regular file, no
run lock, crafted checkpoint metadata, a run directory unrecoverable after a kill, tracebacks instead of
one line, resource abuse from small files, and nonsense accepted silently.

Only what the code before the fix also had is imported here, so that these tests run (and fail) on it.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dynadapt.data import ReplayBuffer
from dynadapt.errors import DynadaptError
from dynadapt.planning import CEMConfig, build_planner
from dynadapt.runs.rundir import RunDir
from dynadapt.sweep.grid import parse_seeds
from tests.fuzz import cli_cases
from tests.fuzz import world as W
from tests.fuzz.cli_cases import Case
from tests.fuzz.harness import run_cli


def all_one_line(cases: list[Case], world: Path, work: Path) -> None:
    """Run ``cases`` (in copies of ``world``): each must exit 2 with one line and change no file."""
    outcomes = run_cli(cases, world, work, None)
    assert [(o.name, o.outcome) for o in outcomes] == [(c.name, "ok") for c in cases], outcomes


def test_a_manifest_cannot_make_a_sweep_delete_outside_its_directory(world: Path, tmp_path: Path) -> None:
    sweep = shutil.copytree(world / "sweep", tmp_path / "a" / "sweep")
    victim = tmp_path / "x"
    victim.mkdir()
    (victim / "precious.txt").write_text("mine\n")
    W.edit_json(sweep / "manifest.json", lambda m: {**m, "trials": [{**m["trials"][0], "name": "../../x"}]})
    W.one_error_line(
        W.cli("sweep", "--out", str(sweep), "--quiet"), "'../../x' is not a plain directory name"
    )
    assert (victim / "precious.txt").read_text() == "mine\n"


def test_out_never_replaces_what_is_not_a_regular_file_and_keeps_permissions(
    world: Path, tmp_path: Path
) -> None:
    nodes = ["fifo", "dev"] if os.geteuid() == 0 else ["fifo"]  # dev: a copy of /dev/null (root only)
    cases = [
        Case("paths", f"{command[0]} --out {node}", [*command, f"{{w}}/{node}"], W.special_files)
        for node in nodes
        for command in (["render", "pendulum", "--out"], ["report", "{w}/sweep", "--out"])
    ]
    all_one_line(cases, world, tmp_path / "cases")  # the node is still there, the same node
    shared = tmp_path / "strip.png"
    shared.write_bytes(b"old")
    shared.chmod(0o640)
    assert W.cli("render", "pendulum", "--out", str(shared), "--frames", "2").returncode == 0
    assert shared.read_bytes()[:4] == b"\x89PNG" and stat.S_IMODE(shared.stat().st_mode) == 0o640


def test_a_run_in_progress_cannot_be_run_by_a_second_process(tmp_path: Path) -> None:
    run = tmp_path / "r"
    first = subprocess.Popen(
        [sys.executable, "-m", "dynadapt.cli", "run", W.PRESET, "--out", str(run), "--quiet", *W.TINY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not (run / "config.json").exists():
        assert first.poll() is None and time.monotonic() < deadline, "the run never started"
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGSTOP)  # still running, holding whatever it holds
    try:
        W.one_error_line(W.cli("resume", str(run), "--quiet"), "in progress in another process")
        W.one_error_line(W.cli("run", W.PRESET, "--out", str(run), *W.TINY), "already holds a run")
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert first.wait(timeout=120) == 0
    assert [r["episode"] for r in RunDir(run).read_metrics()] == [1, 2]


def test_crafted_checkpoint_metadata_and_flipped_bytes_are_refused_and_nothing_is_lost(
    world: Path, tmp_path: Path
) -> None:
    crafts = {
        "rows=0, header edited": cli_cases._header(lambda m: {**m, "rows": 0}),
        "rows=-2, header edited": cli_cases._header(lambda m: {**m, "rows": -2}),
        "rows=0, checksum recomputed": cli_cases._resave(lambda t, m: (t, {**m, "rows": 0})),
        "a flipped data byte": lambda w: W.flip_byte(w / W.CHECKPOINT),
    }
    cases = [
        Case("safetensors", name, ["resume", "{w}/part", "--quiet"], craft) for name, craft in crafts.items()
    ]
    all_one_line(cases, world, tmp_path / "cases")  # metrics.jsonl and every other file unchanged


def test_kills_during_creation_checkpoint_writes_and_at_random_moments_leave_a_run_to_go_on(
    world: Path, tmp_path: Path
) -> None:
    """kill -9 right after checkpoints/ was made, with all but the final rename of a new run directory
    done, between a checkpoint's temporary file and its rename, and at random moments of a resumed run:
    each leaves nothing or a resumable run, and the run ends as one never stopped, with no temporary file."""
    home = tmp_path / "runs"
    home.mkdir()
    run = home / "r"
    start = ["run", W.PRESET, "--out", str(run), "--quiet", *W.TINY]
    resume = ["resume", str(run), "--quiet"]

    def siblings() -> list[str]:
        return [p.name for p in home.iterdir() if p != run]

    assert W.killed(home, "os.mkdir:/plots", *start) == -9
    assert not run.exists() and len(siblings()) == 1  # a hidden sibling only
    assert W.killed(home, "os.rename:^.r.", *start) == -9
    assert not run.exists() and len(siblings()) == 1  # this start removed the first one
    assert W.killed(home, "os.rename:^.last.safetensors.", *start) == -9
    assert (run / "config.json").is_file() and siblings() == []
    assert [Path(p).parent.name for p in W.leftovers(home)] == ["checkpoints"]
    assert W.killed(home, "os.rename:^.last.safetensors.", *resume) == -9
    rng = random.Random(19)
    for _ in range(2):  # random moments of a resumed run (which may also finish first)
        if W.killed(home, f"any:{rng.randint(1, 20)}", *resume) == 0:
            break
    assert W.cli(*resume).returncode == 0
    assert W.leftovers(home) == []
    assert W.same_results(run, world / "run")


def test_what_was_a_traceback_is_one_line(world: Path, tmp_path: Path) -> None:
    run = [*cli_cases.RUN, "--out"]
    grid = ["sweep", "--out", "{w}/s", "--grid"]
    cases = [
        Case("paths", "--out at an existing file", [*run, "{w}/file.txt"]),
        Case("paths", "--out under a file", [*run, "{w}/file.txt/run"]),
        Case("full-disk", "a full disk", [*run, "{w}/new"], fsize=4096),
        Case("numbers", "a negative seed", ["render", "pendulum", "--out", "{w}/x.png", "--seed", "-1"]),
        Case(
            "numbers",
            "a seed of 5000 digits",
            ["render", "pendulum", "--out", "{w}/x.png", "--seed", "9" * 5000],
        ),
        Case("nesting", "a deep grid file", [*grid, "{w}/g.json"], cli_cases._write("g.json", W.deep_json())),
        Case(
            "nesting",
            "a deep sequence file",
            ["run", "hypercrl-pendulum", "--out", "{w}/new", "task.sequence={w}/q.toml"],
            cli_cases._write("q.toml", W.deep_toml()),
        ),
        Case(
            "types",
            "config.json model=5",
            ["resume", "{w}/part"],
            cli_cases._json("part/config.json", lambda c: {**c, "model": 5}),
        ),
        Case(
            "truncated",
            "summary.json truncated",
            ["compare", "{w}/run"],
            cli_cases._truncate("run/summary.json"),
        ),
        Case(
            "safetensors",
            "checkpoint JSON a list",
            ["resume", "{w}/part"],
            cli_cases._rewrite(header={"__metadata__": {"dynadapt": "[1]"}}),
        ),
    ]
    all_one_line(cases, world, tmp_path / "cases")
    mathtext = shutil.copytree(world / "run", tmp_path / "math")
    W.edit_json(mathtext / "config.json", lambda c: {**c, "preset": r"$\frac{x$"})
    proc = W.cli("plot", str(mathtext))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-1500:]


def test_small_files_and_arguments_cannot_ask_for_huge_resources(world: Path, tmp_path: Path) -> None:
    # an 800-byte buffer file whose counters claim a capacity of 2*10**7 (1.2 GB): refused before allocating
    buf = ReplayBuffer(10, 3, 1)
    buf.add([0.0, 0.0, 0.0], [0.0], [0.0, 0.0, 0.0], 0.0, False, False)
    buf.save(tmp_path / "b.safetensors")
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    tensors = load_file(tmp_path / "b.safetensors")
    with safe_open(str(tmp_path / "b.safetensors"), "pt") as f:
        meta = f.metadata()
    tensors["_counters"] = torch.tensor([2 * 10**7, 1, 3, 1])
    save_file(tensors, tmp_path / "b.safetensors", metadata=meta)
    assert (tmp_path / "b.safetensors").stat().st_size < 1000
    code = (
        "import resource, sys\nfrom dynadapt.data import ReplayBuffer\n"
        "from dynadapt.errors import DynadaptError\n"
        f"try:\n    ReplayBuffer.load({str(tmp_path / 'b.safetensors')!r})\n    print('loaded')\n"
        "except DynadaptError as e:\n    print('refused:', e)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    ).stdout.split("\n")
    assert out[0].startswith("refused:") and int(out[1]) < 1000, out  # MiB
    # 7000 tasks ask for 37 GiB of task-by-task matrices; on a machine of 4 GiB that is one line
    seq = tmp_path / "seq.json"
    seq.write_text(json.dumps([["pendulum", {"mass": 1.0 + i % 5}] for i in range(7000)]))
    proc = W.cli(
        "run",
        "hypercrl-pendulum",
        "--out",
        str(tmp_path / "r"),
        f"task.sequence={seq}",
        "task.tasks=0",
        timeout=60,
        limits={resource.RLIMIT_DATA: 4 * 2**30},
    )
    W.one_error_line(proc, "7000 tasks", "GiB")
    # a seed range is parsed in linear time and capped
    W.one_error_line(
        W.cli("sweep", W.PRESET, "--out", str(tmp_path / "s"), "--seeds", "0-300000", timeout=60)
    )
    start = time.perf_counter()
    assert len(parse_seeds("0-9999")) == 10000 and time.perf_counter() - start < 0.5


def test_nonsense_numbers_are_refused_not_run(world: Path, tmp_path: Path) -> None:
    overrides = [["model.lr=inf"], ["task.env_params.mass=1e400"], ["planner=mppi", "planner.gamma=inf"]]
    cases = [Case("numbers", " ".join(o), [*cli_cases.RUN, *o, "--out", "{w}/r"]) for o in overrides]
    all_one_line(cases, world, tmp_path / "cases")  # and no half-made run directory
    buf = ReplayBuffer(10, 3, 1)
    with pytest.raises(DynadaptError, match="reward"):
        buf.add([0.0, 0.0, 0.0], [0.0], [0.0, 0.0, 0.0], math.nan, False, False)
    assert len(buf) == 0
    planner = build_planner(
        CEMConfig(population=8, elites=2, iterations=1),
        torch.tensor([-1.0]),
        torch.tensor([1.0]),
        4,
        torch.Generator().manual_seed(0),
    )
    with pytest.raises(DynadaptError, match="NaN"):
        planner.plan(lambda a: -(a**2).sum(dim=(1, 2)), torch.full((4, 1), math.nan))
