"""Parallel speed-up of ``dynadapt sweep`` on the local backend: the sweep's wall time against the sum of
its trials' wall times.

Runs one small real sweep (default: pets-pendulum, 4 seeds, short episodes) through the command line,
in a subprocess, with ``--workers 2`` (one torch thread per trial), and writes JSON with

* ``sweep_wall_s``: the whole ``dynadapt sweep`` command, start-up, validation, worker start and imports
  included;
* ``sum_trial_wall_s`` / ``sum_trial_cpu_s``: each trial's own wall and process CPU time as the worker
  measured it (from the manifest; a worker's one-off imports are not in a trial's time);
* ``speedup = sum_trial_wall_s / sweep_wall_s`` (2.0 would be perfect on 2 cores);
* the load average before and after, since other processes on the machine compete for the cores.

    python benchmarks/sweep.py                       # writes benchmarks/results/sweep_speedup.json
    python benchmarks/sweep.py --seeds 0-1 --out /tmp/s.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from dynadapt.io import write_json

SHORT = [
    "episodes=3",
    "task.episode_steps=100",
    "eval.episodes=1",
    "model.hidden=32,32",
    "model.ensemble_size=3",
    "model.max_epochs=10",
    "planner.population=100",
    "planner.elites=10",
    "planner.iterations=3",
    "mpc.horizon=15",
    "mpc.particles=3",
]
"""Overrides of pets-pendulum for trials of roughly ten seconds each."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="pets-pendulum")
    ap.add_argument("--seeds", default="0-3", help="trials = seeds (default 0-3: 4 trials)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "sweep_speedup.json"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="dynadapt-sweep-bench-") as tmp:
        sweep_dir = Path(tmp) / "sweep"
        cmd = [
            sys.executable,
            "-m",
            "dynadapt.cli",
            "sweep",
            args.preset,
            "--seeds",
            args.seeds,
            "--workers",
            str(args.workers),
            "--out",
            str(sweep_dir),
            "--quiet",
            *SHORT,
        ]
        load_before = list(os.getloadavg())
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_after = list(os.getloadavg())
        if proc.returncode != 0:
            raise SystemExit(f"sweep failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        manifest = json.loads((sweep_dir / "manifest.json").read_text())

    trials: list[dict[str, Any]] = [
        {
            "name": t["name"],
            "seed": t["seed"],
            "wall_s": t["duration_s"],
            "cpu_s": t["cpu_s"],
            "status": t["status"],
        }
        for t in manifest["trials"]
    ]
    sum_wall = sum(t["wall_s"] for t in trials)
    sum_cpu = sum(t["cpu_s"] for t in trials)
    result = {
        "benchmark": "sweep parallel speed-up, local backend",
        "command": " ".join(["dynadapt", *cmd[3:]]).replace(str(sweep_dir), "<tmp>/sweep"),
        "trials": trials,
        "n_trials": len(trials),
        "workers": args.workers,
        "threads_per_trial": 1,
        "sweep_wall_s": wall,
        "sum_trial_wall_s": sum_wall,
        "sum_trial_cpu_s": sum_cpu,
        "speedup": sum_wall / wall,
        "ideal_speedup": min(args.workers, len(trials)),
        "overhead_note": (
            "sweep_wall_s includes Python start-up, validation of every trial, the sweep process's "
            "imports of torch/MuJoCo/dynadapt (the workers are forked from it on Linux) and starting the "
            "workers; the trials' times do not"
        ),
        "children_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(Path(args.out), result)
    print(
        f"{len(trials)} trials, {args.workers} workers: sweep {wall:.1f} s wall, trials sum {sum_wall:.1f} s "
        f"wall ({sum_cpu:.1f} s CPU): speed-up {sum_wall / wall:.2f}x; load {load_before[0]:.1f} -> "
        f"{load_after[0]:.1f}; {args.out}"
    )


if __name__ == "__main__":
    main()
