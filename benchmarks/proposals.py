"""Policy-proposed candidates (issue 17, "Must show"): return at equal population, and the population needed
for equal return, with and without a tenth of every population proposed by the planner-cloned policy.

Value-guided MPC on cart-pole swing-up (``proposals-cartpole``: CEM over H 5 with the terminal value;
``--preset proposals-half_cheetah_body`` for the half-cheetah) at populations 25, 50, 100 and 200, with
``value.proposals`` 0.1 and 0. Recorded per run: the final evaluation return, the model evaluations per
step (the proposals' M × H included) and the CPU seconds; per population, mean, std and 95% t-interval over
seeds with and without; and the smallest population with proposals whose mean return reaches the mean
return without proposals at the largest population (and the same without).

    python benchmarks/proposals.py                         # populations 25 50 100 200, seeds 1 2 3
    python benchmarks/proposals.py --populations 50 200 --seeds 0
    python benchmarks/proposals.py --quick                 # tiny budgets, seed 0: checks the script (~1 min)
"""

from __future__ import annotations

import json
from typing import Any

from harness import REPORTING_SEEDS, parser, run, save, stats, workdir

PRESETS = ("proposals-cartpole", "proposals-half_cheetah_body")
"""The first is the default (the benchmark as declared with the presets); ``proposals-half_cheetah_body``
runs the same comparison on the half-cheetah."""
FRACTION = 0.1
QUICK = [
    "episodes=3", "task.episode_steps=30", "eval.episodes=1", "model.hidden=16", "model.max_epochs=2",
    "model.ensemble_size=2", "planner.iterations=1", "mpc.particles=2", "value.updates=20",
    "value.rollout_starts=50", "value.critic.hidden=16", "value.policy.train_steps=20",
]  # fmt: skip


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--populations", nargs="+", type=int, default=[25, 50, 100, 200])
    ap.add_argument("--preset", choices=PRESETS, default=PRESETS[0])
    ap.set_defaults(seeds=REPORTING_SEEDS)
    args = ap.parse_args()
    seeds, populations = ([0], [10, 20]) if args.quick else (args.seeds, sorted(args.populations))
    runs_dir = workdir(args, "proposals")
    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "quick": args.quick, "preset": args.preset, "seeds": seeds, "fraction": FRACTION, "runs": runs
    }  # fmt: skip
    for seed in seeds:
        for population in populations:
            for fraction in (FRACTION, 0.0):
                overrides = [f"planner.population={population}", f"planner.elites={max(2, population // 10)}",
                             f"value.proposals={fraction}", *(QUICK if args.quick else [])]  # fmt: skip
                out = runs_dir / args.preset / f"n{population}-p{fraction}-s{seed}"
                r = run(args.preset, overrides, seed, out, args.resume)
                s = r["summary"]
                arm = {"population": population, "proposals": fraction, "seed": seed}
                cost = {
                    "model_evals_per_step": s["model_evals_per_step"],
                    "cpu_s": r["cpu_s"],
                    "wall_s": r["wall_s"],
                    "cost_source": r["cost_source"],
                }
                runs.append({**arm, "return": s["final_eval_return"], **cost})
                print(json.dumps(runs[-1]), flush=True)
                result |= summarise(runs)
                save(args.out, result)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, dict[int, dict[str, Any]]] = {"with": {}, "without": {}}
    for arm, fraction in (("with", FRACTION), ("without", 0.0)):
        for n in sorted({r["population"] for r in runs}):
            mine = [r for r in runs if r["population"] == n and r["proposals"] == fraction]
            by[arm][n] = {k: stats([r[k] for r in mine]) for k in ("return", "model_evals_per_step", "cpu_s")}

    def needed(arm: str, other: str) -> int | None:
        """The smallest population of ``arm`` reaching ``other``'s mean return at its largest population."""
        if not by[other]:
            return None
        target = by[other][max(by[other])]["return"]["mean"]
        if target is None:
            return None
        means = {n: s["return"]["mean"] for n, s in by[arm].items()}
        return next((n for n, m in means.items() if m is not None and m >= target), None)

    return {
        "by_population": by,
        "population_needed_with_proposals": needed("with", "without"),
        "population_needed_without_proposals": needed("without", "with"),
    }


if __name__ == "__main__":
    main()
