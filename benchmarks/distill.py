"""Planner distillation: does the DAgger-distilled policy keep the planner's return at a fraction of its cost?

Runs each requested distill preset for each seed (seed-major: every preset at seed 0, then seed 1, ...;
in this process, one after another; the JSON is rewritten after every run) and records, per run, the
planner's, the distilled policy's and a uniform-random policy's mean evaluation return on the same fixed
evaluation seeds, the floor-normalised ratio ``(R_policy - R_random) / (R_planner - R_random)`` (pendulum's
returns are negative, so the raw ratio ``R_policy / R_planner`` is reported beside it but not used for the
claim), the compute per step (planner: dynamics-model rows x FLOPs per row; policy: one MLP) and the wall
milliseconds per step (noisy: shared machine; process CPU time and load average recorded).

    python benchmarks/distill.py                       # distill-pendulum, distill-cartpole, seeds 0 1 2
    python benchmarks/distill.py --presets distill-pendulum --seeds 0 --out /tmp/d.json
    python benchmarks/distill.py --resume              # continue interrupted runs in --workdir

Claim (issue 8): the distilled policy reaches at least 90% of its planner's return (floor-normalised) on
pendulum and cart-pole at under 1% of the planner's compute per step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynadapt.io import write_json
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides
from dynadapt.runs.presets import get_preset
from dynadapt.runs.rundir import RunDir


def run_one(
    name: str, seed: int, workdir: Path, overrides: list[tuple[str, str]], resume: bool, models: Path | None
) -> dict[str, Any]:
    out = workdir / f"{name}-s{seed}"
    start, cpu_start = time.perf_counter(), time.process_time()
    if resume and (out / "config.json").exists():
        summary = launch.resume(out, progress=False)
    else:
        preset = get_preset(name)
        reuse = [] if models is None else [("model_path", str(models / f"{name}-s{seed}" / "pets"))]
        if reuse and not (Path(reuse[0][1]) / "summary.json").exists():
            reuse = []
        cfg = apply_overrides(preset.make(), [("seed", str(seed)), *overrides, *reuse])
        summary = launch.start(preset, cfg, out, progress=False)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rows = RunDir(out).read_metrics()
    planner_ms = next(r["planner/ms_per_step"] for r in rows if r.get("phase") == "planner_eval")
    policy_ms = [r["policy/ms_per_step"] for r in rows if r.get("policy/ms_per_step") is not None][-1]
    return {
        "preset": name,
        "seed": seed,
        "run_dir": str(out),
        "wall_s": wall,
        "cpu_s": cpu,
        "load_average_end": list(os.getloadavg()),
        "planner_return": summary["planner_return"],
        "policy_return": summary["policy_return"],
        "random_return": summary["random_return"],
        "planner_returns": summary["planner_returns"],
        "policy_returns": summary["policy_returns"],
        "return_ratio": summary["return_ratio"],
        "normalized_return_ratio": summary["normalized_return_ratio"],
        "planner_model_rows_per_step": summary["planner_model_rows_per_step"],
        "planner_flops_per_step": summary["planner_flops_per_step"],
        "policy_flops_per_step": summary["policy_flops_per_step"],
        "flops_ratio": summary["flops_ratio"],
        "planner_ms_per_step": planner_ms,
        "policy_ms_per_step": policy_ms,
        "ms_ratio": policy_ms / planner_ms,
        "selected_iteration": summary["selected_iteration"],
        "last_policy_return": summary["last_policy_return"],
        "model": summary["model"],
        "dagger": [
            {k: d[k] for k in ("iteration", "beta", "policy_return", "val_return", "dataset")}
            for d in summary["dagger"]
        ],
    }


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in dict.fromkeys(r["preset"] for r in runs):
        rs = [r for r in runs if r["preset"] == name]
        agg: dict[str, Any] = {"seeds": [r["seed"] for r in rs]}
        for key in (
            "planner_return",
            "policy_return",
            "random_return",
            "normalized_return_ratio",
            "return_ratio",
            "flops_ratio",
            "ms_ratio",
            "planner_ms_per_step",
            "policy_ms_per_step",
        ):
            vals = [float(r[key]) for r in rs]
            agg[key] = {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "per_seed": vals}
        ratio, flops = agg["normalized_return_ratio"]["mean"], agg["flops_ratio"]["mean"]
        agg["claim"] = {
            "text": "policy >= 90% of the planner's floor-normalised return at < 1% of its FLOPs/ms per step",
            "return_met": ratio >= 0.9,
            "return_met_every_seed": all(v >= 0.9 for v in agg["normalized_return_ratio"]["per_seed"]),
            "compute_met": flops < 0.01 and agg["ms_ratio"]["mean"] < 0.01,
        }
        out[name] = agg
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", nargs="+", default=["distill-pendulum", "distill-cartpole"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "distill.json"))
    parser.add_argument("--workdir", default="/tmp/dynadapt-bench-distill")
    parser.add_argument("--resume", action="store_true", help="resume runs already started in --workdir")
    parser.add_argument(
        "--reuse-models",
        default=None,
        help="a former --workdir: plan with the PETS models its runs trained (same preset and seed) "
        "instead of training them again (the model and the planner evaluation are the same: both are seeded)",
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides applied to every preset")
    args = parser.parse_args()
    overrides = [tuple(o.split("=", 1)) for o in args.overrides]
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    runs: list[dict[str, Any]] = []
    if args.resume and out.exists():
        runs = json.loads(out.read_text())["runs"]
    done = {(r["preset"], r["seed"]) for r in runs}
    for seed in args.seeds:
        for name in args.presets:
            if (name, seed) in done:
                continue
            print(f"{name} seed {seed} ...", flush=True)
            models = None if args.reuse_models is None else Path(args.reuse_models)
            r = run_one(name, seed, workdir, overrides, args.resume, models)
            runs.append(r)
            print(
                f"  planner {r['planner_return']:.1f}, policy {r['policy_return']:.1f}, random "
                f"{r['random_return']:.1f}, normalised ratio {r['normalized_return_ratio']:.3f}, "
                f"FLOPs ratio {r['flops_ratio']:.2e}, ms ratio {r['ms_ratio']:.2e}, {r['wall_s']:.0f} s",
                flush=True,
            )
            write_json(
                out,
                {
                    "benchmark": "distill",
                    "machine": {
                        "platform": platform.platform(),
                        "processor": platform.processor(),
                        "cpus": os.cpu_count(),
                        "torch": torch.__version__,
                        "threads_per_run": 1,
                    },
                    "overrides": args.overrides,
                    "runs": runs,
                    "presets": aggregate(runs),
                },
            )


if __name__ == "__main__":
    main()
