"""dynadapt's CEM planner side by side with mbrl-lib 0.2.0's PETS agent on this CPU (issue 14).

Both sides run the same three configurations at the same thread counts, interleaved A B A B in one
session so that the machine's drifting speed hits both alike:

(a) PETS half-cheetah: ensemble 5 x 4x200 SiLU, population 500, 50 elites, 5 iterations, horizon 30,
    20 particles, TS-infinity;
(b) CPU scale: obs 5, act 1, 5 x 3x200, population 400, 40 elites, 5 iterations, horizon 25, 20 particles;
(c) one 2x64 network, population 100, 10 elites, 3 iterations, horizon 15, 1 particle.

mbrl-lib is timed by the shared harness (``../shared/bench/mbrllib/mbrllib_cem.py``, run in the venv that
``setup-mbrllib.sh`` makes; it times ``TrajectoryOptimizerAgent.act``), dynadapt by
``benchmarks/planner.py --planners cem`` (one full MPC plan step, ``epsilon=0`` so that CEM runs every
iteration as mbrl-lib's does). The figure is the ratio of the medians of each side's per-run medians;
each run's own fraction of matmul throughput is kept beside it, because absolute milliseconds do not
carry across CPUs while the interleaved ratio does.

    bash ../shared/bench/mbrllib/setup-mbrllib.sh      # once
    python benchmarks/vs_mbrllib.py                    # threads 1 and 2, settings c b a, 2 rounds
    python benchmarks/vs_mbrllib.py --threads 1 --settings c --rounds 1   # a quick look

Writes ``benchmarks/results/vs_mbrllib.json``. The targets (issue 14): at least 2x on (a) and (b) at
every thread count, at least 3x on (c).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import cpu_model

from dynadapt.io import write_json

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT.parent / "shared" / "bench" / "mbrllib" / "mbrllib_cem.py"
MBRLLIB_PYTHON = (
    Path(os.environ.get("MBRLLIB_VENV", Path.home() / ".cache" / "mbrllib-venv")) / "bin" / "python"
)
PRESETS = {"a": "pets-halfcheetah", "b": "small", "c": "tiny"}
TARGETS = {"a": 2.0, "b": 2.0, "c": 3.0}


def time_mbrllib(python: Path, harness: Path, setting: str, threads: int, reps: int) -> dict[str, Any]:
    """One harness run: its JSON line (plan ms median/min/max, matmul fraction)."""
    cmd = [
        str(python),
        str(harness),
        "--preset",
        PRESETS[setting],
        "--threads",
        str(threads),
        "--reps",
        str(reps),
        "--no-mlp-only",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"mbrl-lib harness failed ({' '.join(cmd)}): {done.stderr.strip()[-500:]}")
    row = json.loads(lines[-1])
    if "error" in row:
        raise RuntimeError(f"mbrl-lib harness: {row['error']}")
    return row


def time_dynadapt(python: str, setting: str, threads: int, steps: int, block_s: float) -> dict[str, Any]:
    """One ``benchmarks/planner.py`` run of the CEM planner: its entry for the setting."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "planner.json"
        cmd = [
            python,
            str(ROOT / "benchmarks" / "planner.py"),
            "--settings",
            setting,
            "--planners",
            "cem",
            "--steps",
            str(steps),
            "--threads",
            str(threads),
            "--min-block-s",
            str(block_s),
            "--out",
            str(out),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"planner.py failed ({' '.join(cmd)}): {done.stderr.strip()[-500:]}")
        (entry,) = json.loads(out.read_text())["entries"]
    return entry


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (setting, threads): both sides' ms per plan step, the speed-up of medians, the target, met."""
    rows = []
    keys = sorted({(r["setting"], r["threads"]) for r in runs})
    for setting, threads in keys:
        mine = [r for r in runs if (r["setting"], r["threads"]) == (setting, threads)]
        theirs = [r["mbrllib_ms"] for r in mine]
        ours = [r["dynadapt_ms"] for r in mine]
        speedup = statistics.median(theirs) / statistics.median(ours)
        rows.append(
            {
                "setting": setting,
                "threads": threads,
                "mbrllib_ms": theirs,
                "dynadapt_ms": ours,
                "mbrllib_matmul_ratio": [r["mbrllib_matmul_ratio"] for r in mine],
                "dynadapt_matmul_ratio": [r["dynadapt_matmul_ratio"] for r in mine],
                "speedup": round(speedup, 3),
                "target": TARGETS[setting],
                "met": speedup >= TARGETS[setting],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--settings", default="cba", help="letters of the configurations, in run order")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved A B rounds per configuration")
    parser.add_argument("--reps", type=int, default=3, help="timed plans per mbrl-lib run")
    parser.add_argument("--steps", type=int, default=3, help="timed plan steps per dynadapt run")
    parser.add_argument(
        "--block-s",
        type=float,
        default=2.0,
        help="dynadapt: each timed step is the median of back-to-back plans lasting this long "
        "(mbrl-lib's harness times at least 5 s of back-to-back repetitions)",
    )
    parser.add_argument("--mbrllib-python", type=Path, default=MBRLLIB_PYTHON)
    parser.add_argument("--harness", type=Path, default=HARNESS)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "vs_mbrllib.json")
    args = parser.parse_args(argv)
    bad = set(args.settings) - set(PRESETS)
    if bad or not args.settings:
        parser.error(f"--settings takes letters of {sorted(PRESETS)}, got {args.settings!r}")
    if not args.mbrllib_python.exists():
        parser.error(
            f"no mbrl-lib venv at {args.mbrllib_python}: run ../shared/bench/mbrllib/setup-mbrllib.sh"
        )
    if not args.harness.exists():
        parser.error(f"no harness at {args.harness}")
    runs: list[dict[str, Any]] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    children0 = os.times()
    for threads in args.threads:
        for setting in args.settings:
            for rnd in range(args.rounds):
                m = time_mbrllib(args.mbrllib_python, args.harness, setting, threads, args.reps)
                d = time_dynadapt(sys.executable, setting, threads, args.steps, args.block_s)
                runs.append(
                    {
                        "setting": setting,
                        "threads": threads,
                        "round": rnd,
                        "mbrllib_ms": m["plan_ms_median"],
                        "mbrllib_matmul_ratio": m.get("model_gflops_frac_of_matmul_during"),
                        "dynadapt_ms": d["ms_per_step"],
                        "dynadapt_matmul_ratio": d["ratio_to_matmul"],
                        "load_average": os.getloadavg()[0],
                    }
                )
                print(
                    f"{threads}t ({setting}) round {rnd}: mbrl-lib {m['plan_ms_median']:.1f} ms, "
                    f"dynadapt {d['ms_per_step']:.1f} ms",
                    flush=True,
                )
    children1 = os.times()
    rows = summarise(runs)
    result = {
        "command": "python benchmarks/vs_mbrllib.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "wall_s": round(time.perf_counter() - wall0, 1),
        "cpu_s": round(
            time.process_time()
            - cpu0
            + (children1.children_user - children0.children_user)
            + (children1.children_system - children0.children_system),
            1,
        ),
        "targets": TARGETS,
        "runs": runs,
        "rows": rows,
        "all_met": all(r["met"] for r in rows),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result)
    for r in rows:
        print(
            f"({r['setting']}) {r['threads']}t: mbrl-lib {r['mbrllib_ms']} ms, "
            f"dynadapt {r['dynadapt_ms']} ms, {r['speedup']:.2f}x "
            f"(target {r['target']}x: {'met' if r['met'] else 'not met'})"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
