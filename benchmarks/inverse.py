"""Inverse and action-free models (issue 17, "Must show"): held-out error against linear least squares, reach
rates in the real env, and goal reaching on the reacher by the n-step inverse model vs forward-model MPC vs
random actions, with the cost per step of each.

* ``models``: ``inverse-reacher`` (one step), ``inverse-nstep-reacher`` (first action, 5 steps),
  ``inverse-chunk-reacher`` (5 actions) and ``action-free-reacher`` (5 future states): the final held-out
  MSE of the network and of least squares on the same inputs, and the reach rates of the network, least
  squares and random actions (success: within 0.1 standard deviations RMS of the target state);
* ``goal``: ``goal-reacher``: success rate (fingertip within 2 cm of the goal's at some step), final success
  rate (within 2 cm at the last step), mean final and closest distance, milliseconds and model predictions
  per action of each controller.

    python benchmarks/inverse.py                       # every preset, seeds 0 1 2
    python benchmarks/inverse.py --quick               # tiny budgets, seed 0: checks the script (~1 min)
"""

from __future__ import annotations

import json
from typing import Any

from harness import parser, run, save, stats, workdir

MODELS = ("inverse-reacher", "inverse-nstep-reacher", "inverse-chunk-reacher", "action-free-reacher")
GOAL = "goal-reacher"
QUICK = ["iterations=2", "episodes_per_iter=4", "model.hidden=32", "model.train_steps=200"]
QUICK_GOAL = [
    *QUICK, "goals=5", "dynamics.hidden=32", "dynamics.ensemble_size=2", "dynamics.max_epochs=5",
    "planner.population=50", "planner.elites=5", "planner.iterations=2", "mpc.particles=2",
]  # fmt: skip
MODEL_KEYS = ("error", "error_least_squares", "reach_model", "reach_least_squares", "reach_random")
GOAL_KEYS = (
    "success_rate",
    "final_success_rate",
    "final_distance",
    "closest_distance",
    "model_rows_per_step",
    "ms_per_step",
)


def main() -> None:
    ap = parser(__doc__ or "")
    args = ap.parse_args()
    seeds = [0] if args.quick else args.seeds
    runs_dir = workdir(args, "inverse")
    models: list[dict[str, Any]] = []
    goals: list[dict[str, Any]] = []
    result: dict[str, Any] = {"quick": args.quick, "seeds": seeds, "models": models, "goals": goals}
    for seed in seeds:
        for name in (*MODELS, GOAL):
            quick = (QUICK_GOAL if name == GOAL else QUICK) if args.quick else []
            r = run(name, quick, seed, runs_dir / f"{name}-s{seed}", args.resume)
            s, cost = r["summary"], {"cpu_s": r["cpu_s"], "wall_s": r["wall_s"]}
            if name == GOAL:
                ms = {row["controller"]: row["goal/ms_per_step"] for row in r["rows"] if "controller" in row}
                for controller, g in s["goals"].items():
                    goals.append({"controller": controller, "seed": seed, **g, "ms_per_step": ms[controller]})
                print(json.dumps(goals[-len(s["goals"]) :]), flush=True)
            else:
                final = {k: s.get(f"final_{k}") for k in MODEL_KEYS}
                models.append({"preset": name, "seed": seed, "kind": s["model_kind"], "n": s["n"],
                               "output": s["output"], **final, **cost})  # fmt: skip
                print(json.dumps(models[-1]), flush=True)
            result["summary"] = summarise(models, goals)
            save(args.out, result)


def summarise(models: list[dict[str, Any]], goals: list[dict[str, Any]]) -> dict[str, Any]:
    per_model = {
        name: {k: stats([m[k] for m in models if m["preset"] == name]) for k in MODEL_KEYS}
        for name in dict.fromkeys(m["preset"] for m in models)
    }
    for s in per_model.values():
        s["claim_beats_least_squares"] = s["error"]["mean"] < s["error_least_squares"]["mean"]
    per_controller = {
        c: {k: stats([g[k] for g in goals if g["controller"] == c]) for k in GOAL_KEYS}
        for c in dict.fromkeys(g["controller"] for g in goals)
    }
    return {"models": per_model, "goal_reaching": per_controller}


if __name__ == "__main__":
    main()
