"""Benchmark of the meta-learning loop: GrBAL, ReBAL, MB, MB+DE on the CPU-scale family (JSON).

For each seed and method it runs ``<method>-<family>`` (plus any ``key=value`` overrides, applied to every
run) in this process, one run after another (seed-major: after each seed every method has a result), and
rewrites the JSON after every run, so an interrupted benchmark keeps what it finished. Per run it records
the final held-out and training returns, the adaptation and planning time per step (MPC collection
episodes), the wall time, and the one-step prediction error of the model the agent planned with on the
held-out evaluation episodes of the last iteration, against steps since the mid-episode change
(``switch_at``), summarised over three windows of that curve: the first M/2 steps after the change (the
adaptation window still holds the old perturbation), steps [M, 2M) (a fully new window) and the rest.

Claims of issue 6 checked (``CLAIMS``; the thresholds are this benchmark's, stated here):

* ``adaptive_beat_baselines_heldout``: GrBAL's and ReBAL's mean held-out return over seeds each exceed
  MB's and MB+DE's;
* ``grbal_recovers_within_M``: after the change GrBAL's error over steps [M, 2M) is at most half its error
  over the first M/2 steps, and at most half MB's error over the same steps [M, 2M);
* ``mb_does_not_recover``: MB's error over steps [M, 2M) is more than half its error over the first M/2;
* ``adapt_plus_plan_within_2x``: for every adapting method, (adaptation + planning) / planning <= 2 per step.

    python benchmarks/meta.py --out benchmarks/results/meta_pendulum.json          # 4 methods x 3 seeds
    python benchmarks/meta.py --seeds 0 iterations=2 task.episode_steps=40 task.switch_at=20   # smoke
    python benchmarks/meta.py --seeds 0,1,2 --resume --out F.json    # add seeds 1, 2 to a seed-0 F.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynadapt.io import write_json
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.presets import get_preset

CLAIMS = {
    "adaptive_beat_baselines_heldout": "GrBAL's and ReBAL's mean held-out return > MB's and MB+DE's",
    "grbal_recovers_within_M": "GrBAL's error over steps [M, 2M) after the change <= 0.5 x its error over "
    "the first M/2 steps and <= 0.5 x MB's over [M, 2M)",
    "mb_does_not_recover": "MB's error over steps [M, 2M) after the change > 0.5 x its error over the "
    "first M/2 steps",
    "adapt_plus_plan_within_2x": "(adaptation + planning) / planning <= 2 per step for every adapting method",
}
RECOVERY_FACTOR = 0.5
TIME_RATIO = 2.0


def window_means(curve: dict[int, float], m: int, length: int) -> dict[str, float | None]:
    """Mean of ``curve`` (steps since the change -> error) over [0, M/2), [M, 2M) and [2M, length)."""

    def mean(lo: int, hi: int) -> float | None:
        vals = [v for k, v in curve.items() if lo <= k < hi]
        return float(np.mean(vals)) if vals else None

    return {
        "first_half_M": mean(0, max(1, m // 2)),
        "M_to_2M": mean(m, 2 * m),
        "after_2M": mean(2 * m, length),
    }


def one(family: str, method: str, seed: int, overrides: list[str]) -> dict[str, Any]:
    preset = get_preset(f"{method}-{family}")
    cfg = apply_overrides(preset.make(), parse_override_args([f"seed={seed}", *overrides]))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        summary = launch.start(preset, cfg, Path(tmp) / "run", progress=False)
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    wall = time.perf_counter() - start
    m = cfg.rebal.M if method == "rebal" else cfg.grbal.M
    curve = {int(k): float(v) for k, v in summary["pred_error_by_steps_since_switch"].items()}
    length = cfg.task.steps - cfg.task.switch_at
    mpc_rows = [r for r in rows if r["phase"] == "mpc"]
    adapt = float(np.mean([r["adapt/ms_per_step"] for r in mpc_rows])) if mpc_rows else math.nan
    plan = float(np.mean([r["planner/ms_per_step"] for r in mpc_rows])) if mpc_rows else math.nan
    return {
        "method": method,
        "seed": seed,
        "M": m,
        "wall_s": wall,
        "return_test": summary["final_return_test"],
        "return_train": summary["final_return_train"],
        "return_test_by_iteration": summary["return_test"],
        "return_train_by_iteration": summary["return_train"],
        "adapt_ms_per_step": adapt,
        "plan_ms_per_step": plan,
        "adapt_plus_plan_over_plan": (adapt + plan) / plan if plan > 0 else math.nan,
        "pred_error_after_switch": window_means(curve, m, length),
        "pred_error_by_steps_since_switch": curve,
    }


def mean_std(vals: list[float]) -> dict[str, float]:
    arr = np.asarray([v for v in vals if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return {"mean": math.nan, "std": math.nan, "n": 0}
    return {"mean": float(arr.mean()), "std": float(arr.std()), "n": int(arr.size)}


def aggregate(runs: list[dict[str, Any]], methods: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        rs = [r for r in runs if r["method"] == m]
        if not rs:
            continue
        entry: dict[str, Any] = {
            k: mean_std([r[k] for r in rs])
            for k in ("return_test", "return_train", "adapt_ms_per_step", "plan_ms_per_step")
        }
        entry["adapt_plus_plan_over_plan"] = mean_std([r["adapt_plus_plan_over_plan"] for r in rs])
        entry["pred_error_after_switch"] = {
            w: mean_std([r["pred_error_after_switch"][w] for r in rs])["mean"]
            for w in ("first_half_M", "M_to_2M", "after_2M")
        }
        entry["seeds"] = [r["seed"] for r in rs]
        out[m] = entry
    return out


def claims(per: dict[str, dict[str, Any]]) -> dict[str, Any]:
    def ret(m: str) -> float:
        return per[m]["return_test"]["mean"] if m in per else math.nan

    def err(m: str, w: str) -> float:
        v = per.get(m, {}).get("pred_error_after_switch", {}).get(w)
        return math.nan if v is None else float(v)

    out: dict[str, Any] = {}
    if all(m in per for m in ("grbal", "rebal", "mb", "mbde")):
        best_baseline = max(ret("mb"), ret("mbde"))
        out["adaptive_beat_baselines_heldout"] = bool(min(ret("grbal"), ret("rebal")) > best_baseline)
    if "grbal" in per and "mb" in per:
        g0, g1, b0, b1 = (
            err("grbal", "first_half_M"),
            err("grbal", "M_to_2M"),
            err("mb", "first_half_M"),
            err("mb", "M_to_2M"),
        )
        out["grbal_recovers_within_M"] = bool(g1 <= RECOVERY_FACTOR * g0 and g1 <= RECOVERY_FACTOR * b1)
        out["mb_does_not_recover"] = bool(b1 > RECOVERY_FACTOR * b0)
    adapting = [m for m in ("grbal", "rebal", "mbde") if m in per]
    if adapting:
        ratios = {m: per[m]["adapt_plus_plan_over_plan"]["mean"] for m in adapting}
        out["adapt_plus_plan_within_2x"] = bool(all(r <= TIME_RATIO for r in ratios.values()))
        out["adapt_plus_plan_over_plan"] = ratios
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="pendulum", help="preset family: <method>-<family>")
    ap.add_argument("--methods", default="grbal,rebal,mb,mbde")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--out", default="bench_meta.json")
    ap.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs already in --out (same family and overrides) and run only the missing ones",
    )
    ap.add_argument("overrides", nargs="*", help="key=value overrides applied to every run")
    args = ap.parse_args()
    methods = args.methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    runs: list[dict[str, Any]] = []
    if args.resume and Path(args.out).exists():
        old = json.loads(Path(args.out).read_text())
        if old.get("family") != args.family or old.get("overrides") != args.overrides:
            raise SystemExit(f"{args.out}: other family or overrides; not resuming")
        runs = [r for r in old["runs"] if r["method"] in methods and r["seed"] in seeds]

    def write_report() -> dict[str, Any]:
        per = aggregate(runs, methods)
        report = {
            "benchmark": "meta",
            "command": " ".join(["python", *sys.argv]),
            "family": args.family,
            "machine": {
                "threads": torch.get_num_threads(),
                "platform": platform.platform(),
                "torch": torch.__version__,
            },
            "overrides": args.overrides,
            "complete": len(runs) == len(seeds) * len(methods),
            "seeds": seeds,
            "claim_text": CLAIMS,
            "claims": claims(per),
            "methods": per,
            "runs": runs,
        }
        write_json(Path(args.out), report)
        return report

    for seed in seeds:
        for method in methods:
            if any(r["method"] == method and r["seed"] == seed for r in runs):
                continue
            runs.append(one(args.family, method, seed, args.overrides))
            r = runs[-1]
            print(
                f"{method} seed {seed}: held-out {r['return_test']:.1f} train {r['return_train']:.1f} "
                f"plan {r['plan_ms_per_step']:.2f} ms adapt {r['adapt_ms_per_step']:.2f} ms "
                f"error after switch {r['pred_error_after_switch']} ({r['wall_s']:.0f} s)",
                flush=True,
            )
            write_report()  # after every run: a long benchmark keeps what it has
    report = write_report()
    print(json.dumps({"methods": report["methods"], "claims": report["claims"]}, indent=2))


if __name__ == "__main__":
    main()
