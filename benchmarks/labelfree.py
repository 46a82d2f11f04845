"""The label-free continual study (issue 16) under its protocol, ``benchmarks/protocol_labelfree.toml``.

::

    python benchmarks/labelfree.py draw                          # the held-out streams (done once, committed)
    python benchmarks/labelfree.py tune --family pendulum        # 5 methods x 3 candidates x tuning seed
    python benchmarks/labelfree.py report --family pendulum      # 5 methods x 3 seeds x 2 streams
    python benchmarks/labelfree.py tune --family pendulum --protocol benchmarks/protocol_labelfree2.toml

**Protocol files.** ``--protocol`` (default ``benchmarks/protocol_labelfree.toml``) names the declared
protocol. Besides seeds, candidates and claims, a protocol's ``[study]`` table may set ``prefix`` (the
results files are ``<prefix>_<family>[_tuning].json``; default ``labelfree``), ``held_out`` (the held-out
stream files are ``benchmarks/streams/<family>_<held_out>.toml``; default ``heldout``), ``draw_seed``
(default 20261130), ``exclude`` (the ``held_out`` names of earlier protocols: a new draw's settings stay
apart from theirs too) and ``presets`` (method -> the preset family it runs, ``<preset>-stream-<family>``;
default the method's own name); ``[settings.<method>]`` lists the overrides every run of the method gets,
under ``all`` and per family. A protocol without a ``[tuning]`` table has no tuning stage: ``report`` runs
every method with its declared settings.

Every stage is a resumable ``dynadapt sweep`` under ``--out`` (default ``sweeps/labelfree``). ``tune`` writes
``benchmarks/results/labelfree_<family>_tuning.json`` (each candidate's ``average_return`` on the tuning
seed, on the presets' stream ``<family>:recurring-mid``); ``report`` picks each method's best candidate,
plays the reporting seeds on the presets' stream and on the held-out stream file, and writes
``benchmarks/results/labelfree_<family>.json``: the protocol and its commit, the tuning table and choices,
every run's figures per seed (identification metrics, prediction errors, returns, learner size, cost), and
the declared claims checked per stream.

**Held-out streams** (``draw``; ``numpy.random.default_rng(20261130)``, one generator for the protocol's
families in its order, pendulum then cart-pole in the first two): four situations drawn uniformly from the
box below, redrawn until every pair differs by at least 0.35 in ``Σ |log(p_i / p_j)|`` over the varied
parameters and none equals a situation or held-out setting of the named streams; two more draws under the
same rule are the held-out settings (generalisation); the schedule is 14 segments, each situation uniformly
at random but never the one just played, each of 300-700 steps (uniform integers), so most switches fall
inside episodes; episodes as long as the named streams' (200 steps on the pendulum and the cart-pole).

* pendulum: ``mass ∈ [0.5, 2.0]``, ``length ∈ [0.5, 2.0]`` (gravity 10; the reward depends on neither);
* cart-pole: ``pole_mass ∈ [0.2, 2.0]``, ``cart_damping ∈ [0.5, 12.0]`` (``pole_length`` 0.6: the reward
  depends on it, so it stays fixed, as in the named streams);
* half-cheetah (``half_cheetah_cripple``): one categorical parameter, the crippled joint (``none`` or one of
  six), so six of its seven values are drawn without replacement, the first four the situations and the
  other two the held-out settings; they necessarily overlap the named stream's (its situations, their order
  and durations are what is new), and episodes keep the family's 500 steps.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from dynadapt.envs.half_cheetah import JOINTS
from dynadapt.envs.streams import Segment, Stream, get_stream, save_stream
from dynadapt.errors import DynadaptError
from dynadapt.sweep.grid import SweepSpec
from dynadapt.sweep.run import run_sweep

HERE = Path(__file__).resolve().parent
PROTOCOL = HERE / "protocol_labelfree.toml"
STREAMS = HERE / "streams"

BOXES: dict[str, tuple[dict[str, tuple[float, float]], dict[str, float]]] = {
    "pendulum": ({"mass": (0.5, 2.0), "length": (0.5, 2.0)}, {"gravity": 10.0}),
    "cartpole": ({"pole_mass": (0.2, 2.0), "cart_damping": (0.5, 12.0)}, {"pole_length": 0.6}),
}
CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "half_cheetah_cripple": ("crippled_joint", ("none", *JOINTS)),
}
"""Families whose situations are one categorical parameter: (parameter, its values)."""
SEPARATION = 0.35
SEGMENTS, SEGMENT_STEPS = 14, (300, 700)


def _protocol_module() -> ModuleType:
    """benchmarks/protocol.py (its claim statistics and commit lookup), loaded by path."""
    spec = importlib.util.spec_from_file_location("benchmarks_protocol", HERE / "protocol.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


base = _protocol_module()


def protocol_commit(path: Path = PROTOCOL) -> str:
    """The git commit that last changed the protocol file (what the results were produced under)."""
    import subprocess

    out = subprocess.run(["git", "log", "-n", "1", "--format=%H", "--", str(path)],
                         capture_output=True, text=True, cwd=HERE)  # fmt: skip
    return out.stdout.strip() or "unknown"


def load_protocol(path: Path = PROTOCOL) -> dict[str, Any]:
    """The protocol file's tables, with its path under ``_file``."""
    import tomllib

    with open(path, "rb") as f:
        protocol = tomllib.load(f)
    protocol["_file"] = Path(path).resolve()
    return protocol


def prefix(protocol: dict[str, Any]) -> str:
    """The results files' prefix: ``<prefix>_<family>[_tuning].json``."""
    return str(protocol["study"].get("prefix", "labelfree"))


def held_out_name(protocol: dict[str, Any]) -> str:
    """The protocol's held-out stream name: its files are ``benchmarks/streams/<family>_<name>.toml``."""
    return str(protocol["study"].get("held_out", "heldout"))


def held_out_file(family: str, name: str) -> Path:
    return STREAMS / f"{family}_{name}.toml"


def method_run(protocol: dict[str, Any], method: str, family: str) -> tuple[str, list[tuple[str, str]]]:
    """The preset ``method`` runs on ``family`` and the overrides every run of it gets (``[study.presets]``,
    ``[settings.<method>]``)."""
    preset = protocol["study"].get("presets", {}).get(method, method)
    table = protocol.get("settings", {}).get(method, {})
    fixed = [str(o) for o in (*table.get("all", []), *table.get(family, []))]
    pairs = []
    for override in fixed:
        key, eq, value = override.partition("=")
        if not eq:
            raise SystemExit(f"[settings.{method}]: {override!r} is not key=value")
        pairs.append((key, value))
    return f"{preset}-stream-{family}", pairs


# ------------------------------------------------------------------------------------------------ draw
def _distance(a: dict[str, float], b: dict[str, float]) -> float:
    return sum(abs(math.log(a[k] / b[k])) for k in a)


def draw_stream(
    family: str, rng: np.random.Generator, name: str = "heldout", exclude: tuple[Stream, ...] = ()
) -> Stream:
    """The held-out stream of ``family`` (see the module docstring); its settings also stay apart from
    those of the ``exclude`` streams (continuous families only)."""
    drawn: list[dict[str, Any]] = []
    fixed: dict[str, Any] = {}
    if family in CHOICES:  # six of the values without replacement
        key, values = CHOICES[family]
        drawn = [{key: values[i]} for i in rng.permutation(len(values))[:6].tolist()]
    else:
        box, fixed = BOXES[family]
        named = get_stream(f"{family}:recurring-mid")
        earlier = [p for st in (named, *exclude) for p in (*st.situations, *st.held_out)]
        taken = [{k: float(p[k]) for k in box} for p in earlier]
        while len(drawn) < 6:
            p = {k: round(float(rng.uniform(lo, hi)), 2) for k, (lo, hi) in box.items()}
            if all(_distance(p, q) >= SEPARATION for q in (*taken, *drawn)):
                drawn.append(p)
    order: list[int] = []
    while len(order) < SEGMENTS:
        s = int(rng.integers(0, 4))
        if not order or s != order[-1]:
            order.append(s)
    lo, hi = SEGMENT_STEPS
    schedule = tuple(Segment(s, int(rng.integers(lo, hi + 1))) for s in order)
    names = ("P", "Q", "R", "S")
    return Stream(
        name=f"{family}_{name}",
        family=family,
        situations=tuple({**fixed, **p} for p in drawn[:4]),
        names=names,
        schedule=schedule,
        episode_steps=get_stream(f"{family}:recurring-mid").episode_steps,  # the named streams' episodes
        held_out=tuple({**fixed, **p} for p in drawn[4:]),
        held_out_names=("H1", "H2"),
    )


def draw(protocol: dict[str, Any]) -> list[Path]:
    rng = np.random.default_rng(int(protocol["study"].get("draw_seed", 20261130)))
    out = []
    for family in protocol["study"]["families"]:
        path = held_out_file(family, held_out_name(protocol))
        earlier = protocol["study"].get("exclude", []) if family not in CHOICES else []
        exclude = tuple(get_stream(str(held_out_file(family, other))) for other in earlier)
        stream = draw_stream(family, rng, held_out_name(protocol), exclude)
        if path.exists():
            raise SystemExit(f"{path} exists: the held-out streams are drawn once (delete it to redraw)")
        out.append(save_stream(stream, path))
    return out


# ------------------------------------------------------------------------------------------ stages
def tune(
    protocol: dict[str, Any], family: str, root: Path, results: Path, workers: int | None
) -> Path | None:
    if "tuning" not in protocol:
        raise SystemExit(f"{protocol['_file'].name} declares no tuning stage: every method runs its "
                         "declared settings (run report)")  # fmt: skip
    methods: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for method in protocol["study"]["methods"]:
        for key, value in base.candidates(protocol, method) or [("", "")]:
            own = [(key, value)] if key else []
            preset, fixed = method_run(protocol, method, family)
            methods[f"{method} {key}={value}" if key else method] = (preset, [*fixed, *own])
    grid = SweepSpec(seeds=protocol["seeds"]["tuning"], methods=methods)
    manifest = run_sweep(root, grid, progress=True, workers=workers)
    if manifest.counts()["done"] != len(manifest.trials):
        return None
    objective = protocol["study"]["tuning_objective"]
    spec = {"objective": objective}
    table = base.tuning_table(spec, root)
    out = results / f"{prefix(protocol)}_{family}_tuning.json"
    if out.exists() and json.loads(out.read_text()).get("table") == table:
        return out  # unchanged: it keeps the commit its tuning ran under
    commit = protocol_commit(protocol["_file"])
    out.write_text(json.dumps({"protocol_commit": commit, "objective": objective, "table": table}, indent=1))
    return out


def run_figures(summary: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures the claims read, from one run's summary and metrics rows."""
    ident = summary.get("identification") or {}
    plan = [r["planner/ms_per_step"] for r in rows if _finite(r.get("planner/ms_per_step"))]
    idt = [r["ident/ms_per_step"] for r in rows if _finite(r.get("ident/ms_per_step"))]
    sessions = [(r.get("library_size", -1), r.get("time/train_session_cpu_s")) for r in rows]
    regularised = [
        float(t) for size, t in sessions if isinstance(t, int | float) and math.isfinite(t) and size >= 2
    ]
    return {
        "seed": summary["seed"],
        "average_return": summary["average_return"],
        "pred_error": summary["pred_error"],
        "pred_error_held_out": summary["pred_error_held_out"],
        "pred_error_by_situation": summary["pred_error_by_situation"],
        "learner_params": summary.get("learner_params"),
        "library_size": summary["library_sizes"][-1] if summary["library_sizes"] else None,
        **{k: ident.get(k) for k in IDENT_FIGURES},
        "ident_over_plan": float(np.mean(idt) / np.mean(plan)) if idt and plan else None,
        "session_growth": float(regularised[-1] / regularised[0]) if len(regularised) >= 2 else None,
        "session_growth_median": _median_growth(regularised),
    }


GROWTH_SESSIONS = 5
"""Episodes whose mean session CPU time the median growth compares at each end."""


def _median_growth(times: list[float]) -> float | None:
    """The median session CPU time of the last ``GROWTH_SESSIONS`` episodes with a regularised session over
    that of the first ``GROWTH_SESSIONS``: one session takes about a CPU-second, so a single pair of
    sessions reads the machine's noise (the task-aware learner, whose work is the same every session, read
    0.77-1.70 as last over first)."""
    n = GROWTH_SESSIONS
    if len(times) < 2 * n:
        return None
    return float(np.median(times[-n:]) / np.median(times[:n]))


IDENT_FIGURES = ("nmi", "recall_rate", "library_ratio", "median_delay", "false_switches_per_10k",
                 "detected_fraction")  # fmt: skip


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


STREAMS_REPORTED = ("named", "held_out")
"""The reporting streams: the presets' stream and the protocol's held-out stream file."""


def report(
    protocol: dict[str, Any],
    family: str,
    root: Path,
    results: Path,
    workers: int | None,
    only: tuple[str, ...] = STREAMS_REPORTED,
) -> Path:
    """Run (or resume) the reporting sweeps and write the results file; ``only`` some of the streams: the
    file then lists the others under ``pending`` (a later call with all of them completes it)."""
    tuned: dict[str, Any] = {}  # a protocol without a [tuning] table: every method's declared settings
    if "tuning" in protocol:
        saved = results / f"{prefix(protocol)}_{family}_tuning.json"
        if not saved.exists():
            raise SystemExit(f"{saved} does not exist: finish the tuning stage first")
        tuned = json.loads(saved.read_text())["table"]
    chosen: dict[str, list[tuple[str, str]]] = {}
    for method in protocol["study"]["methods"]:
        best = max(tuned.get(method, [{"candidate": "", "mean": 0.0}]), key=lambda r: r["mean"])
        key, _, value = best["candidate"].partition("=")
        chosen[method] = [(key, value)] if key else []
    # relative to the working directory (the repository root), so the sweep's grid and the JSON are the same
    # wherever the checkout is
    held_out = os.path.relpath(held_out_file(family, held_out_name(protocol)))
    every = {"named": f"{family}:recurring-mid", "held_out": held_out}
    streams = {label: every[label] for label in STREAMS_REPORTED if label in only}
    pending = [label for label in every if label not in streams]
    file = os.path.relpath(protocol["_file"], HERE.parent)
    declared = {k: v for k, v in protocol.items() if k != "_file"}
    option = "" if protocol["_file"] == PROTOCOL.resolve() else f" --protocol {file}"
    out: dict[str, Any] = {
        "benchmark": f"benchmarks/labelfree.py report --family {family}{option}"
        + (f" --streams {' '.join(streams)}" if pending else ""),
        "protocol": {"file": file, "commit": protocol_commit(protocol["_file"]), **declared},
        "tuning": {"table": tuned, "chosen": chosen},
        "streams": streams,
        "runs": {},
        "claims": {},
        **({"pending": pending} if pending else {}),
    }
    costs: dict[str, dict[str, Any]] = {}
    for label, stream in streams.items():
        methods = {}
        for m in chosen:
            preset, fixed = method_run(protocol, m, family)
            methods[m] = (preset, [*fixed, ("stream", stream), *chosen[m]])
        grid = SweepSpec(seeds=protocol["seeds"]["reporting"], methods=methods)
        manifest = run_sweep(root / label, grid, progress=True, workers=workers)
        runs: dict[str, list[dict[str, Any]]] = {}
        for trial in manifest.trials:
            trial_dir = root / label / trial.name
            summary = json.loads((trial_dir / "summary.json").read_text())
            rows = [json.loads(line) for line in (trial_dir / "metrics.jsonl").read_text().splitlines()]
            runs.setdefault(trial.method, []).append(run_figures(summary, rows))
            costs[f"{label}/{trial.name}"] = base.cost(trial_dir, rows)
        out["runs"][label] = runs
        out["claims"][label] = check_claims(protocol["claims"], runs)
    out["cost"] = base.run_costs(costs)
    out["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    path = results / f"{prefix(protocol)}_{family}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    return path


# ------------------------------------------------------------------------------------------ claims
def _values(runs: dict[str, list[dict[str, Any]]], method: str, figure: str) -> dict[str, Any]:
    return {str(r["seed"]): r.get(figure) for r in runs.get(method, [])}


def threshold_claim(
    runs: dict[str, Any], method: str, figure: str, bound: float, upper: bool
) -> dict[str, Any]:
    values = _values(runs, method, figure)
    ok = {k: _finite(v) and (v <= bound if upper else v >= bound) for k, v in values.items()}
    return {
        "claim": f"{method}: {figure} {'<=' if upper else '>='} {bound} on every seed",
        "values": values,
        "held": sum(ok.values()),
        "seeds": len(ok),
        "pass": bool(ok) and all(ok.values()),
    }


def within_claim(runs: dict[str, Any], a: str, b: str, figure: str, factor: float) -> dict[str, Any]:
    va, vb = _values(runs, a, figure), _values(runs, b, figure)
    ok: dict[str, bool] = {}
    for seed in sorted(set(va) & set(vb), key=int):
        x, y = va[seed], vb[seed]
        if figure == "average_return":
            ok[seed] = _finite(x) and _finite(y) and x >= y - (1 - factor) * abs(y)
        elif isinstance(x, list) and isinstance(y, list):  # every situation
            ok[seed] = len(x) == len(y) and all(
                _finite(p) and _finite(q) and p <= factor * q for p, q in zip(x, y)
            )
        else:
            ok[seed] = _finite(x) and _finite(y) and x <= factor * y
    rel = ">= (1 - {0:.2f}) x" if figure == "average_return" else "<= {0:.2f} x"
    return {
        "claim": f"{a} {rel.format(factor if figure != 'average_return' else 1 - factor)} {b} on {figure}, "
        "every seed",
        "a": va,
        "b": vb,
        "held": sum(ok.values()),
        "seeds": len(ok),
        "pass": bool(ok) and all(ok.values()),
    }


def check_claims(declared: dict[str, Any], runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = [threshold_claim(runs, m, f, float(b), upper=False) for m, f, b in declared.get("at_least", [])]
    out += [threshold_claim(runs, m, f, float(b), upper=True) for m, f, b in declared.get("at_most", [])]
    out += [within_claim(runs, a, b, f, float(x)) for a, b, f, x in declared.get("within", [])]
    for a, b, figure in declared.get("better", []):
        va = {k: float(v) for k, v in _values(runs, a, figure).items() if _finite(v)}
        vb = {k: float(v) for k, v in _values(runs, b, figure).items() if _finite(v)}
        out.append(base.better_claim(a, b, figure, va, vb))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=["draw", "tune", "report"])
    p.add_argument("--family", default="pendulum")
    p.add_argument("--out", default="sweeps/labelfree", help="where the sweeps are kept (resumable)")
    p.add_argument("--results", default=str(HERE / "results"))
    p.add_argument("--workers", type=int, default=None, help="trials at once (default: one per core)")
    p.add_argument("--protocol", type=Path, default=PROTOCOL, help="the declared protocol file")
    p.add_argument(
        "--streams", nargs="+", choices=STREAMS_REPORTED, default=list(STREAMS_REPORTED),
        help="report: only these reporting streams (the file lists the others as pending)",
    )  # fmt: skip
    args = p.parse_args()
    if args.stage == "draw":
        for path in draw(load_protocol(args.protocol)):
            print(path)
        return 0
    protocol = load_protocol(args.protocol)
    if args.family not in protocol["study"]["families"]:
        raise SystemExit(f"{args.protocol.name} declares no family {args.family!r}")
    root = Path(args.out) / args.family
    if args.stage == "tune":
        print(tune(protocol, args.family, root / "tune", Path(args.results), args.workers) or "not finished")
    else:
        print(report(protocol, args.family, root, Path(args.results), args.workers, tuple(args.streams)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DynadaptError as e:
        print(f"benchmarks/labelfree.py: {e}", file=sys.stderr)
        sys.exit(2)
