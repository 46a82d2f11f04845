"""What ``make demo`` prints, over seeds: the spread a user should expect (issue 13).

``make demo`` runs the presets ``demo-hypercrl`` and ``demo-finetune`` (three cart-pole tasks, pole lengths
0.6, 0.8, 0.4 m) with seed 0. Another CPU rounds floating point differently; the chaotic closed loop then
departs from this machine's run after a few steps and ends like a run with other noise. The spread over
seeds on one CPU is therefore what to expect across machines: it is the same presets with other random
draws (each seed also draws other initial weights, which a change of CPU does not, so it is if anything
wider than the spread across CPUs).

For every seed and both presets (one after the other, one torch thread each, in this process) the script
records the final average return, the floor-normalised retention of the earlier tasks (return level), the
growth of the earlier tasks' multi-step prediction error (model level: 1 = as accurate as when the task
ended, lower is better) and the run's CPU and wall seconds, and checks the demo's story on every seed:
HyperCRL's final average return and its retention above finetune's, and its model error growth below
finetune's.

    python benchmarks/demo.py                  # seeds 0-4, about 25 CPU-minutes
    python benchmarks/demo.py --seeds 0 --quick   # a check that the script works (tiny budgets)

Writes ``benchmarks/results/demo.json`` (``--quick``: a temporary file).
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import harness

PRESETS = ("demo-hypercrl", "demo-finetune")
FIGURES = ("final_average_return", "average_retention_floor_normalised", "average_model_error_growth")
QUICK = ["episodes=1", "random_steps=50", "train_steps=5", "task.episode_steps=20", "eval.episodes=1"]


def finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def story(per_seed: dict[str, dict[str, Any]]) -> dict[str, bool | None]:
    """One seed's story: HyperCRL keeps its tasks better than finetune (return and model level)?"""
    h, f = per_seed["demo-hypercrl"], per_seed["demo-finetune"]

    def above(key: str, sign: float) -> bool | None:
        a, b = finite(h[key]), finite(f[key])
        return None if a is None or b is None else sign * (a - b) > 0

    return {
        "return_above_finetune": above("final_average_return", 1.0),
        "retention_above_finetune": above("average_retention_floor_normalised", 1.0),
        "model_error_growth_below_finetune": above("average_model_error_growth", -1.0),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per preset: every figure's values over seeds with min and max; per seed: the story."""
    seeds = sorted({r["seed"] for r in runs})
    by = {(r["preset"], r["seed"]): r for r in runs}
    presets: dict[str, Any] = {}
    for preset in PRESETS:
        mine = [by[(preset, s)] for s in seeds if (preset, s) in by]
        presets[preset] = {}
        for key in FIGURES:
            values = [finite(r[key]) for r in mine]
            known = [v for v in values if v is not None]
            presets[preset][key] = {
                "values": values,
                "min": min(known) if known else None,
                "max": max(known) if known else None,
            }
    both = [s for s in seeds if all((p, s) in by for p in PRESETS)]
    stories = {s: story({p: by[(p, s)] for p in PRESETS}) for s in both}
    held = [all(v is True for v in st.values()) for st in stories.values()]
    return {
        "seeds": seeds,
        "presets": presets,
        "story_per_seed": {str(s): st for s, st in stories.items()},
        "story_holds_on": sum(held),
        "story_seeds": len(held),
    }


def main() -> None:
    ap = harness.parser(__doc__.split("\n")[0])
    ap.set_defaults(seeds=[0, 1, 2, 3, 4])
    args = ap.parse_args()
    runs_dir = harness.workdir(args, "demo")
    overrides = QUICK if args.quick else []
    runs: list[dict[str, Any]] = []
    for seed in args.seeds:
        for preset in PRESETS:
            out = runs_dir / f"{preset}_s{seed}"
            r = harness.run(preset, overrides, seed, out, args.resume)
            s = r["summary"]
            runs.append({
                "preset": preset, "seed": seed, **{k: s.get(k) for k in FIGURES},
                "reward_matrix": s.get("reward_matrix"),
                "prediction_error_matrix": s.get("prediction_error_matrix"),
                "cpu_s": round(r["cpu_s"], 1), "wall_s": round(r["wall_s"], 1),
            })  # fmt: skip
            print(f"{preset} seed {seed}: final average {s.get('final_average_return'):.1f}, "
                  f"retention {s.get('average_retention_floor_normalised'):.2f}, "
                  f"model error growth {s.get('average_model_error_growth'):.2f} "
                  f"({r['cpu_s']:.0f} CPU-s)", flush=True)  # fmt: skip
            harness.save(args.out, {
                "benchmark": "demo", "command": "python benchmarks/demo.py " + " ".join(sys.argv[1:]),
                "quick": args.quick, "overrides": overrides, "runs": runs,
                **summarise(runs), "cpu_s_total": round(sum(r["cpu_s"] for r in runs), 1),
                "load_average_end": list(os.getloadavg()),
            })  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
