"""Continual model-based RL benchmark: HyperCRL and the baselines on one task sequence (JSON).

For every method and seed it runs the preset ``<method>-<family>`` in this process, one run after another
(plus any ``key=value`` overrides, applied to every run), and writes, per method, the mean and standard
deviation over seeds of:

* the final average return (ACC) mean_i R(i, T) (R[i][j]: return on task i after training through task j)
  and BWT;
* the forgetting of every earlier task (Chaudhry et al. 2018: the drop from its best return before the
  last task, in return units) and its mean;
* the floor-normalised retention of every earlier task, its mean and its minimum (the worst task);
* the forward transfer R̃(i, i) / R̃_single(i) when ``single`` is among the methods;
* the ratio of the mean training-session time of the last task to that of the first (and to that of the
  second task, the first one with a regulariser);
* the wall time per run;

and checks the claims of issue 5 (see ``CLAIMS`` below).

**Normalisation.** Reference §4.8: ratios of returns are undefined or misleading when returns can be
≤ 0 (pendulum returns are all negative: a ratio R(i, T)/R(i, i) > 1 would then mean *worse*). Every run
measures the floor of each task, ``floor_i``, the mean return of uniformly random actions from the task's
evaluation start states (the same for every method with one seed), and its summary holds the metrics of
:func:`dynadapt.continual.metrics.continual_metrics`; the retention read here is the run's
``retention_floor_normalised`` (null where R(i, i) <= floor_i: no gain over random actions to keep), with
no second definition::

    retention_i = (R(i, T) − floor_i) / (R(i, i) − floor_i)          earlier tasks i < T (the run's)
    transfer_i  = (R(i, i) − floor_i) / (R_single(i, i) − floor_i)   (here, with the run's floors)

Retention 0.9 means that 90 % of what the agent had gained over random actions on task i survives the
later tasks. A transfer whose denominator is below ``--min-gain`` is reported as null and left out of the
means.

    python benchmarks/continual.py                                        # cart-pole, 7 methods x 3 seeds
    python benchmarks/continual.py --preset-family pendulum --methods hypercrl finetune --seeds 0
    python benchmarks/continual.py --methods hypercrl finetune --seeds 0 episodes=2 task.tasks=3   # smoke
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
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
from dynadapt.runs.rundir import RunDir

METHODS = ["hypercrl", "finetune", "coreset", "ewc", "si", "multitask", "single"]
CLAIMS = {
    "hypercrl_average_retention": "HyperCRL's mean retention R̃(i,T)/R̃(i,i) over earlier tasks >= 0.9",
    "finetune_forgets": "finetune keeps at most 70 % (loses >= 30 %) on some earlier task",
    "hypercrl_beats_coreset_ewc_si": "HyperCRL's final average return >= coreset's, EWC's and SI's",
    "hypercrl_session_time_bounded": "HyperCRL: last task's training session <= 1.15 x the first's",
    "multitask_session_time_grows": "multitask: last task's training session > 1.15 x the first's",
    "run_within_30_min": "every method-seed run finishes within 30 minutes",
}
RETENTION_MIN = 0.9
FINETUNE_MAX = 0.7
TIME_RATIO = 1.15
RUN_LIMIT_S = 30 * 60.0


def ratio(num: float, den: float, floor: float, min_gain: float) -> float | None:
    """``(num − floor) / (den − floor)``, None when ``den − floor < min_gain`` or a value is missing."""
    if any(v is None or not math.isfinite(v) for v in (num, den, floor)) or den - floor < min_gain:
        return None
    return (num - floor) / (den - floor)


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def mean_std(values: list[float | None]) -> dict[str, Any]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return {
        "mean": float(np.mean(vals)) if vals else None,
        "std": float(np.std(vals)) if vals else None,
        "n": len(vals),
    }


def run_one(
    family: str, method: str, seed: int, overrides: list[tuple[str, str]], workdir: Path, args: Any
) -> dict[str, Any]:
    preset = get_preset(f"{method}-{family}")
    cfg = apply_overrides(preset.make(), [("seed", str(seed)), *overrides])
    out = workdir / f"{method}-s{seed}"
    start, cpu = time.perf_counter(), time.process_time()
    if (out / "config.json").exists():  # a kept run directory (--workdir): reuse or resume it
        summary = launch.resume(out, progress=False)
    else:
        summary = launch.start(preset, cfg, out, progress=False)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    rows = RunDir(out).read_metrics()
    if rows:  # the run's own wall clock (covers earlier invocations of a resumed or reused run)
        wall = float(rows[-1].get("time/wall_s", wall))
    R = [[math.nan if v is None else float(v) for v in row] for row in summary["reward_matrix"]]
    t_n = len(R)
    retention = [_finite(v) for v in summary["retention_floor_normalised"]]  # null: undefined
    kept = [r for r in retention if r is not None]
    ends = {int(r["task"]): r for r in rows if r.get("phase") == "task_end"}  # mean session CPU s per task
    times = [float(ends[i]["time/train_session_s"]) for i in range(t_n)]
    return {
        "method": method,
        "seed": seed,
        "preset": preset.name,
        "sequence": cfg.task.sequence,
        "tasks": summary["tasks"],
        "wall_s": wall,
        "cpu_s_this_invocation": cpu,
        "load_average": list(os.getloadavg()),
        "reward_matrix": R,
        "random_floor": summary["random_returns"],
        "final_average_return": summary["acc"],
        "retention": retention,
        "average_retention": summary["average_retention_floor_normalised"],
        "worst_retention": float(min(kept)) if kept else None,
        "forgetting": summary["forgetting"],
        "average_forgetting": summary["average_forgetting"],
        "bwt": summary["bwt"],
        "train_session_s": times,
        "session_ratio_last_first": times[-1] / times[0] if len(times) > 1 and times[0] else None,
        "session_ratio_last_second": times[-1] / times[1] if len(times) > 2 and times[1] else None,
        "prediction_error_matrix": summary["prediction_error_matrix"],
        "model_error_growth": summary["model_error_growth"],
    }


def aggregate(runs: list[dict[str, Any]], methods: list[str], args: Any) -> dict[str, Any]:
    singles = {r["seed"]: r for r in runs if r["method"] == "single"}
    per: dict[str, Any] = {}
    for m in methods:
        rs = [r for r in runs if r["method"] == m]
        if not rs:
            continue
        t_n = len(rs[0]["reward_matrix"])
        entry: dict[str, Any] = {
            "seeds": [r["seed"] for r in rs],
            "final_average_return": mean_std([r["final_average_return"] for r in rs]),
            "bwt": mean_std([r["bwt"] for r in rs]),
            "average_forgetting": mean_std([r["average_forgetting"] for r in rs]),
            "forgetting_per_task": [mean_std([r["forgetting"][i] for r in rs]) for i in range(t_n - 1)],
            "average_retention": mean_std([r["average_retention"] for r in rs]),
            "worst_retention": mean_std([r["worst_retention"] for r in rs]),
            "retention_per_task": [mean_std([r["retention"][i] for r in rs]) for i in range(t_n - 1)],
            "session_ratio_last_first": mean_std([r["session_ratio_last_first"] for r in rs]),
            "session_ratio_last_second": mean_std([r["session_ratio_last_second"] for r in rs]),
            "wall_s": mean_std([r["wall_s"] for r in rs]),
            "max_wall_s": max(r["wall_s"] for r in rs),
        }
        if singles:
            ft = []
            for r in rs:
                ref = singles.get(r["seed"]) or next(iter(singles.values()))
                R, S = r["reward_matrix"], ref["reward_matrix"]
                ft.append([ratio(R[i][i], S[i][i], r["random_floor"][i], args.min_gain) for i in range(t_n)])
            entry["forward_transfer_per_task"] = [mean_std([f[i] for f in ft]) for i in range(t_n)]
            entry["forward_transfer"] = mean_std(
                [v for f in ft for v in f[1:]]  # tasks 2..T as the reference (§4.8)
            )
        per[m] = entry
    return per


def check_claims(per: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pass/fail (None: a method it needs was not run) of each claim, on the means over seeds."""

    def mean(m: str, key: str) -> float | None:
        return per[m][key]["mean"] if m in per else None

    out: dict[str, Any] = {}
    hc = mean("hypercrl", "average_retention")
    out["hypercrl_average_retention"] = {"value": hc, "pass": None if hc is None else hc >= RETENTION_MIN}
    ft = mean("finetune", "worst_retention")
    out["finetune_forgets"] = {"value": ft, "pass": None if ft is None else ft <= FINETUNE_MAX}
    ret = {m: mean(m, "final_average_return") for m in ("hypercrl", "coreset", "ewc", "si")}
    present = {m: v for m, v in ret.items() if v is not None}
    out["hypercrl_beats_coreset_ewc_si"] = {
        "value": present,
        "pass": None
        if "hypercrl" not in present or len(present) < 2
        else all(present["hypercrl"] >= v for m, v in present.items() if m != "hypercrl"),
        "compared": sorted(m for m in present if m != "hypercrl"),
    }
    for key, m, ok in (
        ("hypercrl_session_time_bounded", "hypercrl", lambda v: v <= TIME_RATIO),
        ("multitask_session_time_grows", "multitask", lambda v: v > TIME_RATIO),
    ):
        first, second = mean(m, "session_ratio_last_first"), mean(m, "session_ratio_last_second")
        out[key] = {
            "value_last_first": first,
            "value_last_second": second,
            "pass": None if first is None else ok(first),
            "pass_from_second_task": None if second is None else ok(second),
        }
    walls = [r["wall_s"] for r in runs]
    out["run_within_30_min"] = {
        "value": max(walls) if walls else None,
        "pass": bool(walls) and max(walls) <= RUN_LIMIT_S,
    }
    for key, text in CLAIMS.items():
        out[key]["claim"] = text
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--preset-family", default="cartpole", help="presets <method>-<family> (cartpole, pendulum)"
    )
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", default="benchmarks/results/continual.json")
    ap.add_argument("--workdir", default=None, help="keep the run directories here (default: a temp dir)")
    ap.add_argument(
        "--min-gain", type=float, default=1.0, help="smallest R_single(i,i) − floor a transfer divides by"
    )
    ap.add_argument("overrides", nargs="*", help="key=value overrides applied to every run")
    args = ap.parse_args()
    overrides = parse_override_args(args.overrides)
    runs: list[dict[str, Any]] = []
    started = time.strftime("%Y-%m-%dT%H:%M:%S")

    def report() -> dict[str, Any]:
        per = aggregate(runs, args.methods, args)
        return {
            "benchmark": "continual",
            "started": started,
            "family": args.preset_family,
            "methods_requested": args.methods,
            "seeds_requested": args.seeds,
            "overrides": args.overrides,
            "normalisation": "ratios of R - floor_i; floor_i: the run's random_returns (random actions)",
            "machine": {
                "threads": torch.get_num_threads(),
                "platform": platform.platform(),
                "torch": torch.__version__,
            },
            "methods": per,
            "claims": check_claims(per, runs),
            "runs": runs,
        }

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        for seed in args.seeds:  # every method of seed 0 first: a cut-short benchmark still compares
            for method in args.methods:
                result = run_one(args.preset_family, method, seed, overrides, workdir, args)
                runs.append(result)
                keys = ("method", "seed", "wall_s", "final_average_return", "retention", "worst_retention")
                print(json.dumps({k: result[k] for k in keys}), flush=True)
                write_json(args.out, report())  # after every run: a long benchmark keeps what it has
    final = report()
    write_json(args.out, final)
    print(json.dumps(final["claims"], indent=2))


if __name__ == "__main__":
    main()
