"""``dynadapt report``: one self-contained HTML page of a sweep (or of a run directory).

The page needs nothing but itself: the plots are embedded as base64 PNG ``data:`` URIs, the style is
inline, there is no script and no external link. It holds the sweep's grid and trial states (with the
errors of failed trials), the comparison tables of :mod:`dynadapt.sweep.compare` (regenerated: mean with
its t-interval and IQM with its bootstrap interval per figure, probability of improvement per pair of
methods), its plots, and the resolved config of every method.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from pathlib import Path
from typing import Any

from dynadapt.io import atomic_write_text
from dynadapt.sweep.compare import (
    TABLE_NOTE,
    Comparison,
    bootstrap_note,
    compare,
    figure_rows,
    improvement_note,
    improvement_rows,
)
from dynadapt.sweep.manifest import Manifest, is_sweep_dir

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
h3 { font-size: 1em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; font-size: .85em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } tr:nth-child(even) td { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.failed { color: #b00020; font-weight: bold; } .done { color: #2e7d32; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #555; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: .8em; }
details { margin: .4em 0; } summary { cursor: pointer; }
"""


def _e(x: object) -> str:
    return html.escape(str(x))


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


CAPTIONS = {
    "learning_curves": "Learning curves: mean over seeds, shaded ± one standard deviation.",
    "headline": (
        "Headline figure per method: bar = mean, error bar = sd, dots = individual seeds, diamond = "
        "interquartile mean with its 95% stratified bootstrap confidence interval."
    ),
    "reward_matrices": (
        "Continual runs: reward matrix R[i][j] per method (mean over seeds), the return on task i after "
        "training task j, side by side (higher is better)."
    ),
    "prediction_error_matrices": (
        "Continual runs: prediction-error matrix per method (mean over seeds), the multi-step prediction "
        "error of the model on held-out data of task i after training task j: retention at the level of "
        "the model (lower is better; colours reversed so that better is bright, as in the reward matrices)."
    ),
    "forgetting": (
        "Continual runs, per old task i (bar = mean, error bar = sd, dots = seeds): forgetting, the drop "
        "max_l R(i,l) − R(i,T) from the best return before the last task in return units (Chaudhry et al. "
        "2018; lower is better, 0 = nothing lost, below 0 = improved), recomputed from each run's reward "
        "matrix; and, where the runs measured the random-action floor, the floor-normalised retention "
        "(R(i,T) − floor_i)/(R(i,i) − floor_i) (higher is better; 1 = kept, 0 = back to random actions)."
    ),
}


def _table(rows: list[list[str]], cls: str) -> str:
    """An HTML table of the rows of :func:`figure_rows` or :func:`improvement_rows` (first row: header,
    first column: row names)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in rows[0])
    body = "".join(
        f"<tr><th>{_e(row[0])}</th>" + "".join(f'<td class="num">{_e(c)}</td>' for c in row[1:]) + "</tr>"
        for row in rows[1:]
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _comparison_table(c: Comparison) -> str:
    parts = [_table(figure_rows(c.methods, c.figures), "comparison"), f"<p>{_e(TABLE_NOTE)}</p>"]
    for imp in c.improvements:
        parts += [
            f"<h3>P(row &gt; column): {_e(imp.figure)}</h3>",
            _table(improvement_rows(imp), "improvement"),
            f"<p>{_e(improvement_note(imp.figure))}</p>",
        ]
    parts.append(f"<p>{_e(bootstrap_note(c.methods))}</p>")
    return "\n".join(parts)


def _trials_table(manifest: Manifest) -> str:
    rows = []
    for t in manifest.trials:
        e = manifest.entries[t.name]
        status = str(e.get("status"))
        dur = e.get("duration_s")
        dur_text = f"{dur:.1f}" if isinstance(dur, int | float) and math.isfinite(dur) else ""
        err = e.get("error") or ""
        rows.append(
            f"<tr><td>{_e(t.name)}</td><td>{_e(t.method)}</td><td class='num'>{t.seed}</td>"
            f"<td class='{_e(status)}'>{_e(status)}</td><td class='num'>{dur_text}</td>"
            f"<td>{_e(err)}</td></tr>"
        )
    return (
        '<table class="trials"><thead><tr><th>trial</th><th>method</th><th>seed</th><th>status</th>'
        f"<th>wall s</th><th>error</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _grid(manifest: Manifest) -> str:
    g: dict[str, Any] = manifest.grid
    counts = manifest.counts()
    items = [
        f"<li>trials: {len(manifest.trials)} ({counts['done']} done, {counts['failed']} failed, "
        f"{counts['pending'] + counts['running']} not finished)</li>",
        f"<li>presets: {_e(', '.join(g.get('presets', [])) or '-')}</li>",
        f"<li>seeds: {_e(', '.join(map(str, g.get('seeds', []))))}</li>",
    ]
    if g.get("set"):
        items.append(
            f"<li>set for every trial: <code>{_e(' '.join(f'{k}={v}' for k, v in g['set']))}</code></li>"
        )
    for k, vals in g.get("axes", {}).items():
        items.append(f"<li>axis <code>{_e(k)}</code>: {_e(', '.join(vals))}</li>")
    for label, body in g.get("methods", {}).items():
        ov = " ".join(f"{k}={v}" for k, v in body.get("overrides", []))
        items.append(f"<li>method {_e(label)}: preset {_e(body.get('preset'))} <code>{_e(ov)}</code></li>")
    return "<ul>" + "".join(items) + "</ul>"


def render(root: Path, comparison: Comparison, manifest: Manifest | None) -> str:
    """The report page as one HTML string."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>dynadapt report: {_e(root.name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>dynadapt report: {_e(root)}</h1>",
        f"<p>Written {_e(time.strftime('%Y-%m-%d %H:%M:%S %Z'))} by <code>dynadapt report</code>.</p>",
    ]
    if manifest is not None:
        parts += ["<h2>Sweep</h2>", _grid(manifest), "<h2>Trials</h2>", _trials_table(manifest)]
    parts += ["<h2>Comparison over seeds</h2>", _comparison_table(comparison), "<h2>Plots</h2>"]
    for p in comparison.plots:
        parts.append(_img(p, CAPTIONS.get(p.stem, p.stem)))
    parts.append("<h2>Resolved configs</h2>")
    parts.append("<p>One per method (its seeds differ only in <code>seed</code>).</p>")
    for m in comparison.methods:
        r = m.runs[0]
        seeds = ", ".join(str(x.seed) for x in m.runs)
        parts.append(
            f"<details><summary>{_e(m.label)} [{_e(m.kind)}], seeds {_e(seeds)}</summary>"
            f'<pre class="config">{_e(json.dumps(r.config, indent=2))}</pre></details>'
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(root: Path, out: Path | None = None) -> Path:
    """Regenerate the comparison of ``root`` and write the report (default ``root/report.html``)."""
    comparison = compare([root], root / "compare")
    manifest = Manifest.load(root) if is_sweep_dir(root) else None
    out = out or root / "report.html"
    atomic_write_text(out, render(root, comparison, manifest))
    out.chmod(0o644)  # a page to open and share, not a private temporary file
    return out
