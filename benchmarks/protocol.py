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

**Other protocol files** (``--protocol benchmarks/protocol_<tag>.toml``) have the same schema and keep their
sweeps (``<out>/<tag>_<study>``) and results (``protocol_<tag>_<study>.json``) apart; the README gives each
file a section of its own (its ``description``). What they may add: ``[<study>.fixed]`` (hyperparameters set
by the protocol, for a study that tunes nothing: ``--stage report`` runs without a tuning file), meta
``families = [...]`` (pick one with ``--family``) with ``[meta.common.<family>]`` overrides, held-out
settings from the presets themselves when the file declares no ``[meta.held_out]`` (one set,
``held_out``: the family's test split, the releases' own), and seed-by-seed claims: ``order = [[A, op, B],
...]`` (op ``>`` or ``>=``; a published ordering holds on a seed when every pair does) and ``close = [[A, B,
fraction]]`` on ``order_figure``.

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
from harness import cost, machine

from dynadapt.errors import DynadaptError
from dynadapt.runs.presets import get_preset
from dynadapt.runs.rundir import RunDir
from dynadapt.sweep.compare import compare
from dynadapt.sweep.grid import SweepSpec
from dynadapt.sweep.run import run_sweep
from dynadapt.sweep.stats import improvement_interval

ROOT = Path(__file__).resolve().parent
PROTOCOL = ROOT / "protocol.toml"


def load_protocol(path: Path = PROTOCOL) -> dict[str, Any]:
    with open(path, "rb") as f:
        return tomllib.load(f)


def protocol_commit(path: Path = PROTOCOL) -> str:
    """The git commit that last changed the protocol file (what the results were produced under); ``path``
    relative to the working directory, as the command line gives it."""
    out = subprocess.run(
        ["git", "log", "-n", "1", "--format=%H", "--", str(path.resolve())],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return out.stdout.strip() or "unknown"


def results_prefix(path: Path) -> str:
    """``protocol_`` for ``protocol.toml``, ``protocol_<tag>_`` for ``protocol_<tag>.toml``: the results
    files of each protocol file keep apart."""
    tag = path.stem.removeprefix("protocol").strip("_")
    return f"protocol_{tag}_" if tag else "protocol_"


def study(args: argparse.Namespace, protocol: dict[str, Any]) -> dict[str, Any]:
    """What the stage runs: presets of each method, the tuning grid (or the fixed values), the objective,
    the common overrides; and the protocol file with the prefix of its results files."""
    spec = _study(args, protocol)
    return spec | {"file": Path(args.protocol), "prefix": results_prefix(Path(args.protocol))}


def _study(args: argparse.Namespace, protocol: dict[str, Any]) -> dict[str, Any]:
    episodes = str(protocol["evaluation"]["eval_episodes"])
    if args.study == "continual":
        section = protocol["continual"]
        family = args.family or "cartpole"
        if family not in section["sequences"]:
            raise SystemExit(f"{args.protocol} declares no continual sequence for {family!r}")
        return {
            "name": f"continual_{family}",
            "methods": section["methods"],
            "oracles": section["oracles"],
            "preset": lambda m: f"{m}-{family}",
            "tuning": section.get("tuning", {}),
            "fixed": section.get("fixed", {}),
            "objective": "acc",
            "claims": section.get("claims", {}),
            "common": [("task.sequence", section["sequences"][family]), ("eval.episodes", episodes)],
            "report_common": [],
        }
    section = protocol["meta"]
    families = section.get("families", [section["family"]] if "family" in section else [])
    family = args.family or (families[0] if len(families) == 1 else None)
    if family not in families:
        raise SystemExit(f"{args.protocol} declares the meta families {families}: pick one with --family")
    spec = {
        "name": f"meta_{family}",
        "methods": section["methods"],
        "oracles": [],
        "preset": lambda m: f"{m}-{family}",
        "tuning": section.get("tuning", {}),
        "fixed": section.get("fixed", {}),
        "objective": "final_return_train",
        "claims": section.get("claims", {}),
        # evaluate once, at the end: the training perturbations' return is the tuning objective
        "common": [
            ("eval.every", "0"),
            ("eval.episodes", episodes),
            *((k, json.dumps(v)) for k, v in section.get("common", {}).get(family, {}).items()),
        ],
    }
    if "held_out" in section:  # sets declared in the protocol file (drawn before any run)
        sets = section["held_out"]
        held_out = [task for tasks in sets.values() for task in tasks]
        spec["report_common"] = [("task.test_tasks", json.dumps(held_out))]
        spec["held_out_sets"] = {name: len(tasks) for name, tasks in sets.items()}
    else:  # the preset's own held-out tasks (the releases' test settings), the same for every method
        held_out = get_preset(spec["preset"](section["methods"][0])).make().task.test_pool()
        spec["report_common"] = []
        spec["held_out_sets"] = {"held_out": len(held_out)}
    spec["report_common"].append(("eval.episodes", str(int(episodes) * len(held_out))))
    return spec


def _of_method(table: dict[str, Any], method: str) -> list[tuple[str, Any]]:
    """``(override key, entry)`` of the ``"<method>.<key>"`` entries of a protocol table for ``method``."""
    return [(key.split(".", 1)[1], entry) for key, entry in table.items() if key.split(".", 1)[0] == method]


def candidates(spec: dict[str, Any], method: str) -> list[tuple[str, str]]:
    """``(override key, value)`` of each candidate value of ``method``'s tuned hyperparameter."""
    return [(field, json.dumps(v)) for field, values in _of_method(spec["tuning"], method) for v in values]


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
    if not spec["tuning"]:
        raise SystemExit(f"{spec['file'].name} tunes nothing for {spec['name']}: run --stage report")
    methods: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for method in spec["methods"]:
        for key, value in candidates(spec, method) or [("", "")]:
            own = [(key, value)] if key else []
            methods[f"{method} {key}={value}" if key else method] = (spec["preset"](method), own)
    seeds = protocol["seeds"]["tuning"]
    grid = SweepSpec(seeds=seeds, common=[*spec["common"], *extra], methods=methods)
    manifest = run_sweep(root, grid, progress=True, workers=workers)
    out = results / f"{spec['prefix']}{spec['name']}_tuning.json"
    if manifest.counts()["done"] == len(manifest.trials):
        table = tuning_table(spec, root)
        if out.exists() and json.loads(out.read_text()).get("table") == table:
            print(f"{out} (unchanged: it keeps the commit its tuning ran under)")
            return
        record = {
            "protocol_commit": protocol_commit(spec["file"]),
            "extra_overrides": [list(kv) for kv in extra],
        }
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
    tuned: dict[str, list[dict[str, Any]]] = {}
    if spec["tuning"]:
        saved = results / f"{spec['prefix']}{spec['name']}_tuning.json"
        if not saved.exists():
            raise SystemExit(f"{saved} does not exist: finish the tuning stage first (--stage tune)")
        tuned = json.loads(saved.read_text())["table"]
    chosen: dict[str, list[tuple[str, str]]] = {}
    for method in spec["methods"]:
        best = max(tuned.get(method, [{"candidate": "", "mean": 0.0}]), key=lambda r: r["mean"])
        key, _, value = best["candidate"].partition("=")
        chosen[method] = [(key, value)] if key else []
        chosen[method] += fixed_values(spec, method)
    methods = {m: (spec["preset"](m), chosen.get(m, [])) for m in [*spec["methods"], *spec["oracles"]]}
    grid = SweepSpec(
        seeds=protocol["seeds"]["reporting"],
        common=[*spec["common"], *spec["report_common"], *extra],
        methods=methods,
    )
    manifest = run_sweep(root / "report", grid, progress=True, workers=workers)
    comparison = compare([root / "report"], root / "report" / "compare")
    runs: dict[str, list[dict[str, Any]]] = {}
    costs: dict[str, dict[str, Any]] = {}
    for trial in manifest.trials:
        rundir = root / "report" / trial.name
        runs.setdefault(trial.method, []).append(json.loads((rundir / "summary.json").read_text()))
        costs[trial.name] = cost(rundir, RunDir(rundir).read_metrics())
    out = {
        "benchmark": f"benchmarks/protocol.py {spec['name']}",
        "protocol": {
            "file": f"benchmarks/{spec['file'].name}",
            "commit": protocol_commit(spec["file"]),
            **protocol,
        },
        "extra_overrides": [list(kv) for kv in extra],
        "tuning": {"objective": spec["objective"], "table": tuned, "chosen": chosen},
        "compare": json.loads((comparison.out / "compare.json").read_text()),
        "runs": runs,
        "cost": run_costs(costs),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if "held_out_sets" in spec:
        out["held_out_by_set"] = held_out_by_set(runs, spec["held_out_sets"])
    if spec["name"].startswith("meta_") and any(
        r.get("switch_at") for summaries in runs.values() for r in summaries
    ):  # the held-out episodes change mid-episode: the one-step error around the change
        window = get_preset(spec["preset"](spec["methods"][0])).make().grbal.M
        out["change_errors"] = {"window": window, "by_method": change_errors(runs, window)}
    out["claims"] = claims(spec["claims"], runs, out.get("held_out_by_set", {}))
    path = results / f"{spec['prefix']}{spec['name']}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    return path


def run_costs(costs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The reporting runs' CPU and wall seconds (each summed across resumes), their totals and the machine."""
    known = [c["cpu_s"] for c in costs.values() if c["cpu_s"] is not None]
    return {
        "machine": machine(),
        "runs": costs,
        "total_cpu_s": float(sum(known)),
        "total_wall_s": float(sum(c["wall_s"] or 0.0 for c in costs.values())),
        "runs_with_cpu_s": len(known),
    }


def fixed_values(spec: dict[str, Any], method: str) -> list[tuple[str, str]]:
    """``(override key, value)`` of the hyperparameters the protocol fixes for ``method`` (no tuning)."""
    return [(field, json.dumps(value)) for field, value in _of_method(spec["fixed"], method)]


CHANGE_WINDOWS = {"before": (-1, 0), "first": (0, 1), "second": (1, 2), "later": (2, None)}
"""Windows around the mid-episode change, in units of the adaptation window M: the last M steps before it,
the first M after it (the window refills), the next M, and the rest of the episode."""


def change_errors(
    runs: dict[str, list[dict[str, Any]]], window: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Per method, window (:data:`CHANGE_WINDOWS`) and seed: the mean one-step prediction error (normalised
    MSE of the parameters planned with) of the final held-out evaluation, relative to the mid-episode
    change (``pred_error_by_steps_since_switch``, negative steps before it)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for method, summaries in runs.items():
        for summary in summaries:
            curve = {int(k): float(v) for k, v in summary.get("pred_error_by_steps_since_switch", {}).items()}
            for name, (lo, hi) in CHANGE_WINDOWS.items():
                upper = math.inf if hi is None else hi * window
                values = [v for k, v in curve.items() if lo * window <= k < upper]
                if values:
                    out.setdefault(method, {}).setdefault(name, {})[str(summary["seed"])] = float(
                        np.mean(values)
                    )
    return out


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
    figure = declared.get("order_figure", "final_average_return")
    if "order" in declared:
        out.append(order_claim(runs, declared["order"], figure))
    for a, b, within in declared.get("close", []):
        out.append(close_claim(runs, a, b, float(within), figure))
    return out


OPERATORS = {">": lambda x, y: x > y, ">=": lambda x, y: x >= y}


def order_claim(runs: dict[str, list[dict[str, Any]]], pairs: list[list[str]], figure: str) -> dict[str, Any]:
    """A published ordering, checked seed by seed: ``pairs`` of ``[A, op, B]`` (op ``>`` or ``>=``) on
    ``figure``; it holds on a seed when every pair does (each seed's runs share their evaluation start
    states). Met when it holds on every reporting seed."""
    values = {m: _per_seed(runs, {}, m, figure, "") for pair in pairs for m in (pair[0], pair[2])}
    seeds = sorted(set.intersection(*(set(v) for v in values.values())), key=int) if values else []
    failing = {
        k: [f"{a} {op} {b}" for a, op, b in pairs if not OPERATORS[op](values[a][k], values[b][k])]
        for k in seeds
    }
    per_seed = {k: not failing[k] for k in seeds}
    return {
        "claim": ", ".join(f"{a} {op} {b}" for a, op, b in pairs) + f" on {figure}, seed by seed",
        "figure": figure,
        "per_seed": per_seed,
        "failing": {k: v for k, v in failing.items() if v},
        "holds": sum(per_seed.values()),
        "seeds": len(seeds),
        "pass": bool(seeds) and all(per_seed.values()),
    }


def close_claim(
    runs: dict[str, list[dict[str, Any]]], a: str, b: str, within: float, figure: str
) -> dict[str, Any]:
    """``a`` close to ``b`` on ``figure``: |a − b| <= ``within`` · |b| on every reporting seed."""
    va, vb = (_per_seed(runs, {}, m, figure, "") for m in (a, b))
    seeds = sorted(set(va) & set(vb), key=int)
    gaps = {k: (va[k] - vb[k]) / max(abs(vb[k]), 1e-12) for k in seeds}
    per_seed = {k: abs(g) <= within for k, g in gaps.items()}
    return {
        "claim": f"{a} within {within:.0%} of {b} on {figure}, seed by seed",
        "figure": figure,
        "relative_to": b,
        "gaps": gaps,
        "per_seed": per_seed,
        "holds": sum(per_seed.values()),
        "seeds": len(seeds),
        "pass": bool(seeds) and all(per_seed.values()),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", choices=["continual", "meta"])
    p.add_argument("--protocol", default=str(PROTOCOL), help="the protocol file (default: protocol.toml)")
    p.add_argument(
        "--family", help="a family of the protocol's continual sequences (default cartpole) or meta families"
    )
    p.add_argument("--stage", choices=["tune", "report"], required=True)
    p.add_argument("--out", default="sweeps/protocol", help="where the sweeps are kept (resumable)")
    p.add_argument("--results", default=str(ROOT / "results"), help="where the stages write their JSON")
    p.add_argument("--workers", type=int, default=None, help="trials at once (default: one per core)")
    p.add_argument("overrides", nargs="*", help="key=value overrides for every trial (size cuts; recorded)")
    args = p.parse_intermixed_args()
    protocol = load_protocol(Path(args.protocol))
    spec = study(args, protocol)
    extra = [(key, value) for key, _, value in (o.partition("=") for o in args.overrides)]
    root = Path(args.out) / (spec["prefix"].removeprefix("protocol_") + spec["name"])
    if args.stage == "tune":
        tune(spec, protocol, root / "tune", extra, Path(args.results), args.workers)
    else:
        print(report(spec, protocol, root, extra, Path(args.results), args.workers))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DynadaptError as e:
        print(f"benchmarks/protocol.py: {e}", file=sys.stderr)
        sys.exit(2)
