"""Quality and speed of the PETS-style loop: does each preset reach its target, and how fast?

Runs every requested preset for every seed (in this process, one after another), and writes JSON with,
per run, the evaluation curve, the episode at which the mean evaluation return first reached the preset's
target, the final evaluation return and the wall time; plus per-preset aggregates.

    python benchmarks/mbrl.py                                  # pets-pendulum and pets-cartpole, seeds 0 1 2
    python benchmarks/mbrl.py --presets pets-pendulum --seeds 0 --out /tmp/p.json

Runs use one torch thread each, so ``cpu_s`` (process CPU time) is what the wall time would be on an
otherwise idle core; ``wall_s`` is inflated whenever other processes compete for the two cores (the load
average at the end of each run is recorded).

Targets (issue 2): pets-pendulum reaches -200 within 10 episodes in at most 5 minutes per run;
pets-cartpole reaches 170 within 15 episodes in at most 20 minutes per seed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from dynadapt.io import write_json
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides
from dynadapt.runs.presets import get_preset

LIMITS = {
    "pets-pendulum": {"episodes": 10, "minutes": 5.0},
    "pets-cartpole": {"episodes": 15, "minutes": 20.0},
}


def run_one(name: str, seed: int, workdir: Path, overrides: list[tuple[str, str]]) -> dict[str, Any]:
    preset = get_preset(name)
    cfg = apply_overrides(preset.make(), [("seed", str(seed)), *overrides])
    start, cpu_start = time.perf_counter(), time.process_time()
    summary = launch.start(preset, cfg, workdir / f"{name}-s{seed}", progress=False)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "preset": name,
        "seed": seed,
        "wall_s": wall,
        "cpu_s": cpu,
        "load_average_end": list(os.getloadavg()),
        "episodes_to_target": summary["episodes_to_target"],
        "final_eval_return": summary["final_eval_return"],
        "best_eval_return": summary["best_eval_return"],
        "eval": summary["eval"],
        "target_return": summary["target_return"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["pets-pendulum", "pets-cartpole"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", default="benchmarks/results/mbrl.json")
    ap.add_argument("--workdir", default=None, help="keep the run directories here (default: a temp dir)")
    ap.add_argument("overrides", nargs="*", help="key=value overrides applied to every preset")
    args = ap.parse_args()
    overrides = [tuple(o.split("=", 1)) for o in args.overrides]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        for name in args.presets:
            for seed in args.seeds:
                result = run_one(name, seed, workdir, overrides)  # type: ignore[arg-type]
                runs.append(result)
                print(json.dumps({k: v for k, v in result.items() if k != "eval"}))
    per_preset = {}
    for name in args.presets:
        rs = [r for r in runs if r["preset"] == name]
        limit = LIMITS.get(name)
        reached = [r["episodes_to_target"] for r in rs]
        per_preset[name] = {
            "seeds": len(rs),
            "episodes_to_target": reached,
            "all_reached": all(e is not None for e in reached),
            "max_wall_s": max(r["wall_s"] for r in rs),
            "max_cpu_s": max(r["cpu_s"] for r in rs),
            "mean_final_eval_return": sum(r["final_eval_return"] for r in rs) / len(rs),
            **(
                {
                    "episode_limit": limit["episodes"],
                    "minutes_limit": limit["minutes"],
                    "reaches_target_in_time": all(e is not None and e <= limit["episodes"] for e in reached),
                    "within_minutes_wall": max(r["wall_s"] for r in rs) <= 60 * limit["minutes"],
                    "within_minutes_cpu": max(r["cpu_s"] for r in rs) <= 60 * limit["minutes"],
                }
                if limit
                else {}
            ),
        }
    report = {
        "benchmark": "mbrl",
        "machine": {
            "cpus": torch.get_num_threads(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "presets": per_preset,
        "runs": runs,
    }
    write_json(args.out, report)
    print(json.dumps(per_preset, indent=2))


if __name__ == "__main__":
    main()
