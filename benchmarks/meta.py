"""Benchmark of the meta-learning loop: GrBAL, ReBAL, MB, MB+DE on the CPU-scale family (JSON).

For each method and seed it runs ``<method>-pendulum`` (plus any ``key=value`` overrides) in a temporary
directory and records the held-out and training returns, the adaptation and planning time per step, and
the one-step prediction error after the mid-episode change (mean over the first M steps and afterwards).

    python benchmarks/meta.py --out bench_meta.json                 # 4 methods x 3 seeds (long)
    python benchmarks/meta.py --seeds 1 iterations=2 episode_steps=40 switch_at=20   # smoke
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.presets import get_preset


def one(method: str, seed: int, overrides: list[str]) -> dict[str, Any]:
    preset = get_preset(f"{method}-pendulum")
    cfg = apply_overrides(preset.make(), parse_override_args([f"seed={seed}", *overrides]))
    with tempfile.TemporaryDirectory() as tmp:
        summary = launch.start(preset, cfg, Path(tmp) / "run", progress=False)
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    m = cfg.rebal.M if method == "rebal" else cfg.grbal.M
    curve = {int(k): v for k, v in summary["pred_error_by_steps_since_change"].items()}
    mpc_rows = [r for r in rows if r["phase"] == "mpc"]
    return {
        "method": method,
        "seed": seed,
        "return_test": summary["final_return_test"],
        "return_train": summary["final_return_train"],
        "adapt_ms_per_step": float(np.mean([r["adapt/ms_per_step"] for r in mpc_rows])) if mpc_rows else None,
        "plan_ms_per_step": float(np.mean([r["planner/ms_per_step"] for r in mpc_rows]))
        if mpc_rows
        else None,
        "pred_error_first_M": float(np.mean([v for k, v in curve.items() if k < m])) if curve else None,
        "pred_error_after_M": float(np.mean([v for k, v in curve.items() if k >= m])) if curve else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="grbal,rebal,mb,mbde")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="bench_meta.json")
    ap.add_argument("overrides", nargs="*", help="key=value overrides applied to every run")
    args = ap.parse_args()
    runs = [one(m, s, args.overrides) for m in args.methods.split(",") for s in range(args.seeds)]
    per_method: dict[str, dict[str, float]] = {}
    for m in args.methods.split(","):
        rs = [r for r in runs if r["method"] == m]
        per_method[m] = {
            k: float(np.mean([r[k] for r in rs if r[k] is not None]))
            for k in ("return_test", "return_train", "adapt_ms_per_step", "plan_ms_per_step")
        }
    report = {
        "benchmark": "meta",
        "machine": {
            "threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "overrides": args.overrides,
        "methods": per_method,
        "runs": runs,
    }
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(per_method, indent=2))


if __name__ == "__main__":
    main()
