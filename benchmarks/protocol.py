"""The comparisons under the declared protocol (``benchmarks/protocol.toml``): tune on the tuning seeds with
the same budget for every method, then report on the reporting seeds with the chosen values.

::

    python benchmarks/protocol.py continual --family cartpole --stage tune    # 4 methods x 4 values x 2 seeds
    python benchmarks/protocol.py continual --family cartpole --stage report  # 7 methods x 5 seeds
    python benchmarks/protocol.py meta --stage tune
    python benchmarks/protocol.py meta --stage report
    python benchmarks/protocol.py continual --family pendulum --stage tune episodes=2   # a size cut, recorded

``benchmarks/protocol_all.sh`` runs every stage in order (skipping those whose results file exists).
Every stage is a ``dynadapt sweep`` in ``--out`` (default ``sweeps/protocol``): re-running the same command
after a crash, a kill or the end of a session skips the finished trials and resumes the others. ``tune``
writes ``benchmarks/results/protocol_<study>_tuning.json`` once all its trials are done (each candidate's
tuning objective on each tuning seed); ``report`` reads that file, picks each method's value with
the best mean tuning objective over the tuning seeds (continual: the final average return ``acc``; meta:
the return on the *training* perturbations, so that the declared held-out sets are never looked at while
tuning), runs the reporting seeds and writes ``benchmarks/results/protocol_<study>.json``: the protocol
file's git commit, the tuning table and the choices, every reporting run's summary figures, and the
aggregates of ``dynadapt compare`` (mean with 95% t-interval, IQM with a stratified bootstrap interval,
P(A > B)). Extra ``key=value`` overrides apply to every trial of the stage and are recorded (size cuts).

Meta reporting plays the two declared held-out sets together (interpolation, then extrapolation, one
``task.test_tasks`` list); held-out episode k plays task k mod 12 and changes into task k + 1 mod 12 at
``switch_at``, and its return is attributed to the set of the task it starts on
(``summary["held_out_returns"]``). Every held-out task starts ``eval_episodes`` episodes.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from dynadapt.errors import DynadaptError
from dynadapt.sweep.compare import compare
from dynadapt.sweep.grid import SweepSpec
from dynadapt.sweep.run import run_sweep
from dynadapt.sweep.stats import improvement_interval

ROOT = Path(__file__).resolve().parent
PROTOCOL = ROOT / "protocol.toml"


def load_protocol() -> dict[str, Any]:
    with open(PROTOCOL, "rb") as f:
        return tomllib.load(f)


def protocol_commit() -> str:
    """The git commit that last changed protocol.toml (what the results were produced under)."""
    out = subprocess.run(
        ["git", "log", "-n", "1", "--format=%H", "--", str(PROTOCOL)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return out.stdout.strip() or "unknown"


def study(args: argparse.Namespace, protocol: dict[str, Any]) -> dict[str, Any]:
    """What the stage runs: presets of each method, the tuning grid, the objective, the common overrides."""
    episodes = str(protocol["evaluation"]["eval_episodes"])
    if args.study == "continual":
        section = protocol["continual"]
        family = args.family
        if family not in section["sequences"]:
            raise SystemExit(f"protocol.toml declares no continual sequence for {family!r}")
        return {
            "name": f"continual_{family}",
            "methods": section["methods"],
            "oracles": section["oracles"],
            "preset": lambda m: f"{m}-{family}",
            "tuning": section["tuning"],
            "objective": "acc",
            "claims": section.get("claims", {}),
            "common": [("task.sequence", section["sequences"][family]), ("eval.episodes", episodes)],
            "report_common": [],
        }
    section = protocol["meta"]
    held_out = section["held_out"]["interpolation"] + section["held_out"]["extrapolation"]
    return {
        "name": f"meta_{section['family']}",
        "methods": section["methods"],
        "oracles": [],
        "preset": lambda m: f"{m}-{section['family']}",
        "tuning": section["tuning"],
        "objective": "final_return_train",
        "claims": section.get("claims", {}),
        # evaluate once, at the end: the training perturbations' return is the tuning objective
        "common": [("eval.every", "0"), ("eval.episodes", episodes)],
        "report_common": [
            ("task.test_tasks", json.dumps(held_out)),
            ("eval.episodes", str(int(episodes) * len(held_out))),
        ],
        "held_out_sets": {
            "interpolation": len(section["held_out"]["interpolation"]),
            "extrapolation": len(section["held_out"]["extrapolation"]),
        },
    }


def candidates(spec: dict[str, Any], method: str) -> list[tuple[str, str]]:
    """``(override key, value)`` of each candidate value of ``method``'s tuned hyperparameter."""
    out = []
    for key, values in spec["tuning"].items():
        name, field = key.split(".", 1)
        if name == method:
            out += [(field, json.dumps(v)) for v in values]
    return out


def tune(
    spec: dict[str, Any],
    protocol: dict[str, Any],
    root: Path,
    extra: list[tuple[str, str]],
    results: Path,
    workers: int | None = None,
) -> None:
    """Run the tuning sweep; once every trial is done, write the tuning table to
    ``results/protocol_<study>_tuning.json`` (committed: the report stage needs only that file). A re-run
    over a finished sweep leaves an existing file with the same table as it is, so that its
    ``protocol_commit`` stays the commit the tuning ran under."""
    methods: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for method in spec["methods"]:
        for key, value in candidates(spec, method) or [("", "")]:
            own = [(key, value)] if key else []
            methods[f"{method} {key}={value}" if key else method] = (spec["preset"](method), own)
    seeds = protocol["seeds"]["tuning"]
    grid = SweepSpec(seeds=seeds, common=[*spec["common"], *extra], methods=methods)
    manifest = run_sweep(root, grid, progress=True, workers=workers)
    out = results / f"protocol_{spec['name']}_tuning.json"
    if manifest.counts()["done"] == len(manifest.trials):
        table = tuning_table(spec, root)
        if out.exists() and json.loads(out.read_text()).get("table") == table:
            print(f"{out} (unchanged: it keeps the commit its tuning ran under)")
            return
        record = {"protocol_commit": protocol_commit(), "extra_overrides": [list(kv) for kv in extra]}
        out.write_text(
            json.dumps({**record, "objective": spec["objective"], "table": table}, indent=1) + "\n"
        )
        print(out)


def tuning_table(spec: dict[str, Any], root: Path) -> dict[str, list[dict[str, Any]]]:
    """Per method, every candidate's tuning objective on each tuning seed (from the tuning sweep)."""
    manifest = json.loads((root / "manifest.json").read_text())
    table: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest["trials"]:
        method, _, candidate = entry["method"].partition(" ")
        summary_path = root / entry["name"] / "summary.json"
        if not summary_path.exists():
            raise SystemExit(f"the tuning sweep is not finished ({entry['name']}): run --stage tune again")
        value = json.loads(summary_path.read_text()).get(spec["objective"])
        rows = table.setdefault(method, [])
        row = next((r for r in rows if r["candidate"] == candidate), None)
        if row is None:
            row = {"candidate": candidate, "objective": {}}
            rows.append(row)
        row["objective"][str(entry["seed"])] = value
    for rows in table.values():
        for row in rows:
            values = [v for v in row["objective"].values() if isinstance(v, int | float) and math.isfinite(v)]
            row["mean"] = float(np.mean(values)) if values else -math.inf
    return table


def report(
    spec: dict[str, Any],
    protocol: dict[str, Any],
    root: Path,
    extra: list[tuple[str, str]],
    results: Path,
    workers: int | None = None,
) -> Path:
    saved = results / f"protocol_{spec['name']}_tuning.json"
    if not saved.exists():
        raise SystemExit(f"{saved} does not exist: finish the tuning stage first (--stage tune)")
    tuned = json.loads(saved.read_text())["table"]
    chosen: dict[str, list[tuple[str, str]]] = {}
    for method in spec["methods"]:
        best = max(tuned.get(method, [{"candidate": "", "mean": 0.0}]), key=lambda r: r["mean"])
        key, _, value = best["candidate"].partition("=")
        chosen[method] = [(key, value)] if key else []
    methods = {m: (spec["preset"](m), chosen.get(m, [])) for m in [*spec["methods"], *spec["oracles"]]}
    grid = SweepSpec(
        seeds=protocol["seeds"]["reporting"],
        common=[*spec["common"], *spec["report_common"], *extra],
        methods=methods,
    )
    manifest = run_sweep(root / "report", grid, progress=True, workers=workers)
    comparison = compare([root / "report"], root / "report" / "compare")
    runs: dict[str, list[dict[str, Any]]] = {}
    for trial in manifest.trials:
        summary = json.loads((root / "report" / trial.name / "summary.json").read_text())
        runs.setdefault(trial.method, []).append(summary)
    out = {
        "benchmark": f"benchmarks/protocol.py {spec['name']}",
        "protocol": {"file": "benchmarks/protocol.toml", "commit": protocol_commit(), **protocol},
        "extra_overrides": [list(kv) for kv in extra],
        "tuning": {"objective": spec["objective"], "table": tuned, "chosen": chosen},
        "compare": json.loads((comparison.out / "compare.json").read_text()),
        "runs": runs,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if "held_out_sets" in spec:
        out["held_out_by_set"] = held_out_by_set(runs, spec["held_out_sets"])
    out["claims"] = claims(spec["claims"], runs, out.get("held_out_by_set", {}))
    path = results / f"protocol_{spec['name']}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    return path


def held_out_by_set(runs: dict[str, list[dict[str, Any]]], sizes: dict[str, int]) -> dict[str, Any]:
    """Per method and seed, the mean held-out return of each declared set (by the episode's first task)."""
    n = sum(sizes.values())
    bounds, start = {}, 0
    for name, size in sizes.items():
        bounds[name] = (start, start + size)
        start += size
    out: dict[str, Any] = {}
    for method, summaries in runs.items():
        for s in summaries:
            returns = s.get("held_out_returns") or []
            for name, (lo, hi) in bounds.items():
                picked = [r for k, r in enumerate(returns) if lo <= k % n < hi]
                out.setdefault(method, {}).setdefault(name, {})[str(s["seed"])] = (
                    float(np.mean(picked)) if picked else None
                )
    return out


def _per_seed(
    runs: dict[str, list[dict[str, Any]]], by_set: dict[str, Any], method: str, figure: str, subset: str
) -> dict[str, float]:
    """``method``'s value of ``figure`` per reporting seed (held_out: its mean on the set ``subset``)."""
    if figure == "held_out":
        values = by_set.get(method, {}).get(subset, {})
        return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}
    out = {}
    for summary in runs.get(method, []):
        v = summary.get(figure)
        if isinstance(v, int | float) and math.isfinite(v):
            out[str(summary["seed"])] = float(v)
    return out


def better_claim(
    a: str, b: str, figure: str, values_a: dict[str, float], values_b: dict[str, float], subset: str = ""
) -> dict[str, Any]:
    """ "A beats B": met when P(A > B) over every pair of runs has its 95% bootstrap interval above 0.5;
    the per-seed wins (a seed's runs share their evaluation start states) are reported beside it."""
    p = improvement_interval({"": list(values_a.values())}, {"": list(values_b.values())})
    shared = sorted(set(values_a) & set(values_b), key=int)
    where = f" ({subset})" if subset else ""
    return {
        "claim": f"{a} > {b} on {figure}{where}",
        "a": a,
        "b": b,
        "figure": figure,
        "set": subset,
        "mean_a": float(np.mean(list(values_a.values()))) if values_a else None,
        "mean_b": float(np.mean(list(values_b.values()))) if values_b else None,
        "p": p.to_dict(),
        "wins": sum(values_a[k] > values_b[k] for k in shared),
        "seeds": len(shared),
        "pass": bool(math.isfinite(p.low) and p.low > 0.5),
    }


def first_task_claim(runs: dict[str, list[dict[str, Any]]], within: float) -> dict[str, Any]:
    """HyperCRL's return on its first task after training on it, R[0][0], within ``within`` of single's
    (relative to |single's|), on every reporting seed."""
    first = {
        m: {str(s["seed"]): float(s["reward_matrix"][0][0]) for s in runs.get(m, [])}
        for m in ("hypercrl", "single")
    }
    shared = sorted(set(first["hypercrl"]) & set(first["single"]), key=int)
    gaps = {
        k: abs(first["hypercrl"][k] - first["single"][k]) / max(abs(first["single"][k]), 1e-12)
        for k in shared
    }
    return {
        "claim": f"hypercrl's R[0][0] within {within:.0%} of single's on every seed",
        "hypercrl": first["hypercrl"],
        "single": first["single"],
        "relative_gap": gaps,
        "within": sum(g <= within for g in gaps.values()),
        "seeds": len(shared),
        "pass": bool(shared) and all(g <= within for g in gaps.values()),
    }


def claims(
    declared: dict[str, Any], runs: dict[str, list[dict[str, Any]]], by_set: dict[str, Any]
) -> list[dict[str, Any]]:
    """The declared claims (protocol.toml ``[<study>.claims]``) checked on the reporting runs."""
    out = []
    for a, b, figure in declared.get("better", []):
        subsets = list(dict.fromkeys(s for v in by_set.values() for s in v)) if figure == "held_out" else [""]
        for subset in subsets:
            va, vb = (_per_seed(runs, by_set, m, figure, subset) for m in (a, b))
            out.append(better_claim(a, b, figure, va, vb, subset))
    if "first_task_within" in declared:
        out.append(first_task_claim(runs, float(declared["first_task_within"])))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", choices=["continual", "meta"])
    p.add_argument("--family", default="cartpole", help="continual: a family of protocol.toml's sequences")
    p.add_argument("--stage", choices=["tune", "report"], required=True)
    p.add_argument("--out", default="sweeps/protocol", help="where the sweeps are kept (resumable)")
    p.add_argument("--results", default=str(ROOT / "results"), help="where the stages write their JSON")
    p.add_argument("--workers", type=int, default=None, help="trials at once (default: one per core)")
    p.add_argument("overrides", nargs="*", help="key=value overrides for every trial (size cuts; recorded)")
    args = p.parse_intermixed_args()
    protocol = load_protocol()
    spec = study(args, protocol)
    extra = [tuple(o.split("=", 1)) for o in args.overrides]
    root = Path(args.out) / spec["name"]
    if args.stage == "tune":
        tune(spec, protocol, root / "tune", extra, Path(args.results), args.workers)  # type: ignore[arg-type]
    else:
        print(report(spec, protocol, root, extra, Path(args.results), args.workers))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DynadaptError as e:
        print(f"benchmarks/protocol.py: {e}", file=sys.stderr)
        sys.exit(2)
