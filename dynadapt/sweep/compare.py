"""``dynadapt compare``: aggregate finished runs over seeds, per method.

A method is a preset with its varied overrides (the label a sweep gives it, e.g. ``pets-pendulum
planner.population=20``); a plain run directory counts as the method of its preset. For every numeric
figure of ``summary.json`` (nested dicts flattened as ``a.b``, short lists of numbers as ``a[i]``) the
comparison gives the mean, the sample standard deviation and the 95% Student-t interval over seeds, and
the interquartile mean (IQM) with its 95% stratified bootstrap interval; for the headline figure of the
methods' kind, the probability of improvement P(row > column) of every pair of methods with its interval
(Agarwal et al. 2021; :mod:`dynadapt.sweep.stats`). A run's *task* is the ``task`` section of its config
(environment, parameters, task sequence): the bootstrap resamples runs within each task, and P(A > B)
compares runs on the same task only.

Outputs: Markdown tables (console and ``compare.md``), ``compare.json`` (with the bootstrap seed), and
plots with the seed spread (learning curves; the headline figure of every method with its seeds and IQM;
for continual runs the mean reward and prediction-error matrices of each method side by side and the
forgetting and retention bars).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynadapt.errors import DynadaptError, UnknownNameError
from dynadapt.io import atomic_write_text, write_json
from dynadapt.runs.rundir import RunDir
from dynadapt.sweep.manifest import Manifest, is_sweep_dir
from dynadapt.sweep.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    Interval,
    Stats,
    bootstrap_settings,
    describe,
    improvement_interval,
    iqm_interval,
)

HEADLINE = {"meta": "final_return_test"}
"""Kinds judged by another figure than the first of their ``RunKind.headline`` (meta: the return on the
held-out tasks, not on the training tasks); see :func:`headline_figure`."""


def headline_figure(kind: str) -> str | None:
    """The figure a run kind is judged by (shown first, plotted per seed, and compared pairwise by the
    probability of improvement): ``get_kind(kind).headline[0]`` unless :data:`HEADLINE` says otherwise;
    None for a kind this version does not know."""
    if kind in HEADLINE:
        return HEADLINE[kind]
    from dynadapt.runs.kinds import get_kind

    try:
        return get_kind(kind).headline[0]
    except UnknownNameError:
        return None


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
    task: str = ""
    """The task label (see :func:`label_tasks`): runs with the same one are comparable draws."""


@dataclass
class Method:
    label: str
    kind: str
    runs: list[Run] = field(default_factory=list)
    stats: dict[str, Stats] = field(default_factory=dict)
    iqm: dict[str, Interval] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)
    """Per figure, the value of every run (NaN where a run lacks it), in the order of ``runs``."""

    def strata(self, figure: str) -> dict[str, list[float]]:
        """The values of ``figure`` by task."""
        out: dict[str, list[float]] = {}
        for r, v in zip(self.runs, self.values.get(figure, [])):
            out.setdefault(r.task, []).append(v)
        return out


@dataclass
class Improvement:
    """The probability of improvement of every pair of methods on one figure."""

    figure: str
    methods: list[Method]
    p: list[list[Interval | None]]
    """``p[a][b]`` = P(methods[a] > methods[b]); None on the diagonal and where they share no task."""


@dataclass
class Comparison:
    out: Path
    methods: list[Method]
    figures: list[str]
    markdown: str
    plots: list[Path]
    improvements: list[Improvement] = field(default_factory=list)


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
    label_tasks(runs)
    return runs


def _task_key(run: Run) -> str:
    return json.dumps(run.config.get("task"), sort_keys=True, default=str)


def label_tasks(runs: list[Run]) -> dict[str, Any]:
    """Set every run's ``task`` to a short label of its config's ``task`` section (its task sequence or
    environment, with a hash of the section where two sections share that name); returns label -> section."""
    keys = list(dict.fromkeys(_task_key(r) for r in runs))
    sections = {k: json.loads(k) for k in keys}

    def short(section: Any) -> str:
        if isinstance(section, dict):
            return str(section.get("sequence") or section.get("env") or "task")
        return "task"

    names = Counter(short(s) for s in sections.values())
    labels = {
        k: short(s) if names[short(s)] == 1 else f"{short(s)} #{hashlib.sha1(k.encode()).hexdigest()[:6]}"
        for k, s in sections.items()
    }
    for r in runs:
        r.task = labels[_task_key(r)]
    return {labels[k]: s for k, s in sections.items()}


def numeric_figures(summary: dict[str, Any]) -> dict[str, float]:
    """Every numeric figure of a summary, flattened (booleans, strings, the seed and long lists left out)."""
    out: dict[str, float] = {}

    def walk(key: str, v: Any) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, int | float):
            huge = isinstance(v, int) and abs(v) > 1e300  # a float() of it would raise OverflowError
            out[key] = math.copysign(math.inf, v) if huge else float(v)
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
    """Fill every method's ``values``, ``stats`` and ``iqm``; returns the figure names (headline figures
    first)."""
    figures: list[str] = []
    for m in methods:
        per_run = [numeric_figures(r.summary) for r in m.runs]
        keys: list[str] = []
        for f in per_run:
            keys.extend(k for k in f if k not in keys)
        m.values = {k: [f.get(k, math.nan) for f in per_run] for k in keys}
        m.stats = {k: describe(v) for k, v in m.values.items()}
        m.iqm = {k: iqm_interval(m.strata(k)) for k in keys}
        figures.extend(k for k in keys if k not in figures)
    heads = [h for m in methods if (h := headline_figure(m.kind))]
    first = [h for h in dict.fromkeys(heads) if h in figures]
    return first + [f for f in figures if f not in first]


def improvements(methods: list[Method]) -> list[Improvement]:
    """P(A > B) with its interval for every pair of methods judged by the same headline figure (methods
    of kinds with different headline figures are not compared); one table per such figure with at least
    two methods that have it."""
    out = []
    by_figure: dict[str, list[Method]] = {}
    for m in methods:
        h = headline_figure(m.kind)
        if h is not None and m.stats.get(h, Stats(0, math.nan, math.nan, math.nan)).n:
            by_figure.setdefault(h, []).append(m)
    for figure, ms in by_figure.items():
        if len(ms) < 2:
            continue
        p: list[list[Interval | None]] = []
        for a in ms:
            row: list[Interval | None] = []
            for b in ms:
                iv = None if a is b else improvement_interval(a.strata(figure), b.strata(figure))
                row.append(iv if iv is not None and math.isfinite(iv.estimate) else None)
            p.append(row)
        out.append(Improvement(figure, ms, p))
    return out


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


def iqm_cell(s: Stats | None, iv: Interval | None) -> str:
    if s is None or s.n == 0 or iv is None or not math.isfinite(iv.estimate):
        return "–"
    if s.n == 1:
        return f"{fmt(iv.estimate)} (n=1)"
    if not iv.has_interval:
        return f"{fmt(iv.estimate)} (1 run per task)"
    if iv.low == iv.high == iv.estimate:
        return f"{fmt(iv.estimate)} (all seeds)"
    return f"{fmt(iv.estimate)} [{fmt(iv.low)}, {fmt(iv.high)}]"


def improvement_cell(iv: Interval | None) -> str:
    if iv is None:
        return "–"
    if not iv.has_interval:
        return f"{iv.estimate:.2f}"
    return f"{iv.estimate:.2f} [{iv.low:.2f}, {iv.high:.2f}]"


def _varies(m: Method, figure: str) -> bool:
    s = m.stats.get(figure)
    return s is not None and s.n >= 2 and s.std > 0


def figure_rows(methods: list[Method], figures: list[str]) -> list[list[str]]:
    """The comparison table: a header, then per figure a row of means (and a row of IQMs where a method's
    runs differ in it); columns: the figure, then one per method."""
    rows = [["figure", *(f"{m.label} (n={len(m.runs)})" for m in methods)]]
    for f in figures:
        rows.append([f, *(cell(m.stats.get(f)) for m in methods)])
        if any(_varies(m, f) for m in methods):
            rows.append([f"{f} IQM", *(iqm_cell(m.stats.get(f), m.iqm.get(f)) for m in methods)])
    return rows


def improvement_rows(imp: Improvement) -> list[list[str]]:
    """The table of P(row > column): a header, then one row per method."""
    rows = [["P(row > column)", *(m.label for m in imp.methods)]]
    for a, p in zip(imp.methods, imp.p):
        rows.append([a.label, *(improvement_cell(iv) for iv in p)])
    return rows


TABLE_NOTE = (
    "Cells: mean ± half-width of the 95% Student-t confidence interval over seeds (sample standard "
    "deviation in brackets). Rows '… IQM': the interquartile mean (the mean of the middle 50% of the runs, "
    "Agarwal et al. 2021) [its 95% stratified percentile bootstrap confidence interval], for the figures in "
    "which some method's runs differ. – where a figure is missing or not finite."
)


def improvement_note(figure: str) -> str:
    return (
        f"Probability of improvement (Agarwal et al. 2021) on {figure}: the chance that a run of the row's "
        "method has a higher value than a run of the column's method on the same task (ties count 1/2), "
        "averaged over the tasks both ran [95% stratified percentile bootstrap confidence interval]; – "
        "where the two share no task. 0.5: no difference; above 0.5: the row's method is ahead when higher "
        "is better."
    )


def bootstrap_note(methods: list[Method]) -> str:
    """How the intervals were drawn (and over which tasks, where a method ran several)."""
    text = (
        f"Bootstrap intervals: {BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED} (reproducible; "
        "compare.json records the settings); runs are resampled within each task (the task section of "
        "their config)."
    )
    multi = [m for m in methods if len({r.task for r in m.runs}) > 1]
    if multi:
        per = "; ".join(
            f"{m.label}: " + ", ".join(f"{t} ×{n}" for t, n in Counter(r.task for r in m.runs).items())
            for m in multi
        )
        text += f" Tasks per method: {per}."
    fewest = min((n for m in methods for n in Counter(r.task for r in m.runs).values()), default=0)
    if 1 < fewest < 5:
        text += (
            f" With as few as {fewest} runs on a task, a bootstrap interval cannot reach beyond the values "
            "the runs had and is too narrow; the Student-t interval of the mean is the more cautious one."
        )
    return text


def _markdown(rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows[1:]]
    return lines


def markdown_table(methods: list[Method], figures: list[str], imps: list[Improvement] | None = None) -> str:
    """The comparison table (rows: figures, columns: methods) and the tables of P(row > column)."""
    parts = ["\n".join(_markdown(figure_rows(methods, figures))), TABLE_NOTE]
    for imp in imps or []:
        parts += [
            f"## P(row > column): {imp.figure}",
            "\n".join(_markdown(improvement_rows(imp))),
            improvement_note(imp.figure),
        ]
    parts.append(bootstrap_note(methods))
    return "\n\n".join(parts) + "\n"


def compare(dirs: list[Path], out: Path | None = None) -> Comparison:
    """Aggregate the runs in ``dirs`` and write ``compare.md``, ``compare.json`` and ``plots/`` to ``out``."""
    if out is None:
        if len(dirs) != 1:
            raise DynadaptError("comparing several directories needs --out (where to write the comparison)")
        out = dirs[0] / "compare"
    runs = collect(dirs)
    tasks = label_tasks(runs)
    methods = group(runs)
    figures = aggregate(methods)
    imps = improvements(methods)
    md = markdown_table(methods, figures, imps)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "compare.md", "# Comparison\n\n" + md)
    write_json(
        out / "compare.json",
        {
            "figures": figures,
            "bootstrap": bootstrap_settings(),
            "tasks": tasks,
            "methods": [
                {
                    "method": m.label,
                    "kind": m.kind,
                    "seeds": [r.seed for r in m.runs],
                    "tasks": [r.task for r in m.runs],
                    "runs": [str(r.path) for r in m.runs],
                    "stats": {k: s.to_dict() for k, s in m.stats.items()},
                    "iqm": {k: iv.to_dict() for k, iv in m.iqm.items()},
                    "values": {
                        k: [v if math.isfinite(v) else None for v in m.values[k]]
                        for k in figures
                        if k in m.values
                    },
                }
                for m in methods
            ],
            "probability_of_improvement": [
                {
                    "figure": imp.figure,
                    "methods": [m.label for m in imp.methods],
                    "p": [[None if iv is None else iv.to_dict() for iv in row] for row in imp.p],
                    "meaning": "p[a][b] = P(methods[a] > methods[b]) with its 95% bootstrap interval",
                }
                for imp in imps
            ],
        },
    )
    from dynadapt.sweep.compare_plots import plot_comparison

    plots = plot_comparison(methods, out / "plots")
    return Comparison(out, methods, figures, md, plots, imps)
