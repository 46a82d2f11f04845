"""What the benchmarks of issue 17 (``value_mpc.py``, ``proposals.py``, ``inverse.py``) share: one run of a
preset with overrides in this process (resumable), the machine's description and the command line.

Runs use one torch thread (the presets' ``threads=1``), so ``cpu_s`` (the process CPU seconds of the run's
steps, as the run keeps them across resumes) is what the wall time would be on an otherwise idle core;
``wall_s`` is inflated whenever other processes compete.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import torch

from dynadapt.io import write_json
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.presets import get_preset
from dynadapt.runs.rundir import RunDir
from dynadapt.sweep.stats import describe

REPORTING_SEEDS = [1, 2, 3]
"""The seeds ``value_mpc.py`` and ``proposals.py`` report (``inverse.py`` reported them with ``--seeds``):
seed 0 ran while their presets and the critic's n-step targets were developed, so it is never reported."""


def parser(doc: str) -> argparse.ArgumentParser:
    """``--seeds``, ``--out``, ``--workdir``, ``--resume`` and ``--quick`` (tiny budgets, one seed: a check
    that the script works end to end, not a result)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", help="JSON file written after every run (default: benchmarks/results/NAME.json; "
                    "with --quick, a file in the temporary run directory)")  # fmt: skip
    ap.add_argument("--workdir", default="runs/benchmarks", help="run directories (kept, for --resume)")
    ap.add_argument("--resume", action="store_true", help="continue or reuse the runs found in --workdir")
    ap.add_argument("--quick", action="store_true", help="tiny budgets and seed 0 only (checks the script)")
    return ap


def workdir(args: argparse.Namespace, name: str) -> Path:
    """Where the runs go: ``--workdir/name``, or a fresh temporary directory with ``--quick``; sets the
    default ``--out`` (a quick check never overwrites a result in ``benchmarks/results``)."""
    runs = Path(tempfile.mkdtemp(prefix=f"{name}_quick_")) if args.quick else Path(args.workdir) / name
    args.out = args.out or str(
        runs / f"{name}.json" if args.quick else Path("benchmarks/results") / f"{name}.json"
    )
    print(f"runs in {runs}, results in {args.out}", flush=True)
    return runs


def run(preset: str, overrides: list[str], seed: int, out: Path, resume: bool) -> dict[str, Any]:
    """Run ``preset`` with ``overrides`` and ``seed`` in ``out`` (or, with ``resume``, continue the run
    there); its summary, metrics rows and cost (:func:`cost`)."""
    if resume and (out / "config.json").exists():
        summary = launch.resume(out, progress=False)
    else:
        p = get_preset(preset)
        cfg = apply_overrides(p.make(), parse_override_args([*overrides, f"seed={seed}"]))
        summary = launch.start(p, cfg, out, progress=False)
    rows = RunDir(out).read_metrics()
    return {
        "preset": preset,
        "overrides": overrides,
        "seed": seed,
        "summary": summary,
        "rows": rows,
        **cost(out, rows),
        "load_average_end": list(os.getloadavg()),
    }


COST_FILE = "cost.json"
"""Written into a run directory by hand for a run finished before runs kept their CPU seconds: ``cpu_s``
and ``wall_s`` as the benchmark's log printed them when the run ended."""


def cost(out: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's CPU and wall seconds in its steps, summed across resumes (the last row's ``time/cpu_s``
    and ``time/wall_s``), so a run reused by ``--resume`` keeps its cost. A run whose CPU seconds are
    unknown (begun before they were kept) takes them from ``cost.json`` in its directory if there is one,
    else records null with ``cost_source`` saying so."""
    last = rows[-1] if rows else {}
    cpu, wall = last.get("time/cpu_s"), last.get("time/wall_s")
    if cpu is not None and math.isfinite(cpu):
        return {"cpu_s": cpu, "wall_s": wall, "cost_source": "run"}
    if (out / COST_FILE).exists():
        recorded = json.loads((out / COST_FILE).read_text())
        return {"cpu_s": recorded["cpu_s"], "wall_s": recorded["wall_s"], "cost_source": "log"}
    return {"cpu_s": None, "wall_s": wall, "cost_source": "unknown (resumed from an older checkpoint)"}


def stats(values: list[float | None]) -> dict[str, Any]:
    """Mean, sample standard deviation and 95% t-interval half-width of the finite ``values`` (null where
    undefined: none, or one for the spread), their count, and the values (nulls dropped)."""
    finite = [float(v) for v in values if v is not None]
    return {**describe(finite).to_dict(), "values": finite}


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (``platform.processor()`` where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu": cpu_model(),
        "torch": torch.__version__,
    }


def save(path: str, payload: dict[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"machine": machine(), **payload})
