"""``dynadapt compare``: aggregate finished runs over seeds, per method.

A method is a preset with its varied overrides (the label a sweep gives it, e.g. ``pets-pendulum
planner.population=20``); a plain run directory counts as the method of its preset. For every numeric
figure of ``summary.json`` (nested dicts flattened as ``a.b``, short lists of numbers as ``a[i]``) the
comparison gives the mean, the sample standard deviation and the 95% Student-t interval over seeds
(:mod:`dynadapt.sweep.stats`). Outputs: a Markdown table (console and ``compare.md``), ``compare.json``,
and plots with the seed spread shaded (learning curves; for continual runs the mean reward matrix of each
method side by side and the forgetting bars; the headline figure of every method with its seeds).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynadapt.errors import DynadaptError
from dynadapt.io import atomic_write_text, write_json
from dynadapt.runs.rundir import RunDir
from dynadapt.sweep.manifest import Manifest, is_sweep_dir
from dynadapt.sweep.stats import Stats, describe

HEADLINE = {"mbrl": "final_eval_return", "continual": "final_average_return", "meta": "final_return_test"}
"""The figure each run kind is judged by (shown first and plotted per seed)."""

CURVE = {
    "mbrl": ("eval/return", "episode", "evaluation return"),
    "meta": ("eval/return_test", "iteration", "held-out return"),
    "continual": ("train/return", "", "training episode return (all tasks in order)"),
}
"""Per kind: the metrics key of the learning curve, its x key ("" = row order) and the y label."""

MAX_LIST = 12
"""Lists of numbers up to this length are figures ``key[i]``; longer ones (curves) are left to the plots."""


@dataclass
class Run:
    path: Path
    method: str
    seed: int
    kind: str
    summary: dict[str, Any]
    config: dict[str, Any]


@dataclass
class Method:
    label: str
    kind: str
    runs: list[Run] = field(default_factory=list)
    stats: dict[str, Stats] = field(default_factory=dict)


@dataclass
class Comparison:
    out: Path
    methods: list[Method]
    figures: list[str]
    markdown: str
    plots: list[Path]


def collect(dirs: list[Path]) -> list[Run]:
    """The finished runs in ``dirs`` (sweep directories or run directories).

    Runs of the same method and seed from different directories are not replicates of each other; when
    there are such, every method label is prefixed with its directory's name (``sweepA: pets-pendulum``).
    """
    runs: list[Run] = []
    sources: list[Path] = []
    for d in dirs:
        before = len(runs)
        if is_sweep_dir(d):
            manifest = Manifest.load(d)
            found = 0
            for t in manifest.trials:
                rd = RunDir(d / t.name)
                summary = rd.read_summary() if rd.summary_path.is_file() else None
                if summary is None:
                    continue
                cfg = rd.read_config()
                runs.append(Run(rd.path, t.method, t.seed, str(cfg["kind"]), summary, cfg))
                found += 1
            if not found:
                raise DynadaptError(f"{d}: no trial of this sweep has finished yet")
        elif (d / "config.json").is_file():
            rd = RunDir(d)
            cfg = rd.read_config()
            summary = rd.read_summary()
            if summary is None:
                raise DynadaptError(f"{d}: the run has not finished (no summary.json); `dynadapt resume {d}`")
            method = str(cfg.get("preset") or cfg["kind"])
            runs.append(Run(rd.path, method, int(cfg.get("seed", 0)), str(cfg["kind"]), summary, cfg))
        elif d.is_dir():
            raise DynadaptError(
                f"{d} is neither a sweep directory (no manifest.json) nor a run directory (no config.json)"
            )
        else:
            raise DynadaptError(f"{d}: no such directory")
        sources += [d] * (len(runs) - before)
    pairs = Counter((r.method, r.seed) for r in runs)
    if any(n > 1 for n in pairs.values()):
        for r, d in zip(runs, sources):
            r.method = f"{d.resolve().name}: {r.method}"
    return runs


def numeric_figures(summary: dict[str, Any]) -> dict[str, float]:
    """Every numeric figure of a summary, flattened (booleans, strings, the seed and long lists left out)."""
    out: dict[str, float] = {}

    def walk(key: str, v: Any) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, int | float):
            out[key] = float(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(f"{key}.{k}" if key else str(k), x)
        elif (
            isinstance(v, list)
            and 0 < len(v) <= MAX_LIST
            and all(x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in v)
        ):
            for i, x in enumerate(v):
                walk(f"{key}[{i}]", x)

    for k, v in summary.items():
        if k != "seed":
            walk(k, v)
    return out


def group(runs: list[Run]) -> list[Method]:
    methods: dict[str, Method] = {}
    for r in runs:
        m = methods.setdefault(r.method, Method(r.method, r.kind))
        if m.kind != r.kind:
            raise DynadaptError(f"method {r.method!r} mixes run kinds {m.kind} and {r.kind}")
        m.runs.append(r)
    for m in methods.values():
        m.runs.sort(key=lambda r: r.seed)
    return list(methods.values())


def aggregate(methods: list[Method]) -> list[str]:
    """Fill every method's ``stats``; returns the figure names (headline figures first)."""
    figures: list[str] = []
    for m in methods:
        per_run = [numeric_figures(r.summary) for r in m.runs]
        keys: list[str] = []
        for f in per_run:
            keys.extend(k for k in f if k not in keys)
        m.stats = {k: describe([f.get(k, math.nan) for f in per_run]) for k in keys}
        figures.extend(k for k in keys if k not in figures)
    heads = [HEADLINE[m.kind] for m in methods if m.kind in HEADLINE]
    first = [h for h in dict.fromkeys(heads) if h in figures]
    return first + [f for f in figures if f not in first]


def fmt(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return f"{x:.4g}"


def cell(s: Stats | None) -> str:
    if s is None or s.n == 0:
        return "–"
    if s.n == 1:
        return f"{fmt(s.mean)} (n=1)"
    if s.std == 0:
        return f"{fmt(s.mean)} (all seeds)"
    return f"{fmt(s.mean)} ± {fmt(s.ci95)} (sd {fmt(s.std)})"


def markdown_table(methods: list[Method], figures: list[str]) -> str:
    """Rows: figures; columns: methods; cells: mean ± 95% CI half-width (sd)."""
    head = ["figure", *(f"{m.label} (n={len(m.runs)})" for m in methods)]
    lines = [
        "| " + " | ".join(h.replace("|", "\\|") for h in head) + " |",
        "|" + "---|" * len(head),
    ]
    for f in figures:
        lines.append("| " + " | ".join([f, *(cell(m.stats.get(f)) for m in methods)]) + " |")
    note = (
        "Cells: mean ± half-width of the 95% Student-t confidence interval over seeds (sample standard "
        "deviation in brackets); – where a figure is missing or not finite."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def compare(dirs: list[Path], out: Path | None = None) -> Comparison:
    """Aggregate the runs in ``dirs`` and write ``compare.md``, ``compare.json`` and ``plots/`` to ``out``."""
    if out is None:
        if len(dirs) != 1:
            raise DynadaptError("comparing several directories needs --out (where to write the comparison)")
        out = dirs[0] / "compare"
    runs = collect(dirs)
    methods = group(runs)
    figures = aggregate(methods)
    md = markdown_table(methods, figures)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "compare.md", "# Comparison\n\n" + md)
    write_json(
        out / "compare.json",
        {
            "figures": figures,
            "methods": [
                {
                    "method": m.label,
                    "kind": m.kind,
                    "seeds": [r.seed for r in m.runs],
                    "runs": [str(r.path) for r in m.runs],
                    "stats": {k: {**s.to_dict()} for k, s in m.stats.items()},
                    "values": {
                        k: [numeric_figures(r.summary).get(k) for r in m.runs]
                        for k in figures
                        if k in m.stats
                    },
                }
                for m in methods
            ],
        },
    )
    from dynadapt.sweep.compare_plots import plot_comparison

    plots = plot_comparison(methods, out / "plots")
    return Comparison(out, methods, figures, md, plots)
