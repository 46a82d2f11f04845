"""``dynadapt report``: one self-contained HTML page of sweeps and run directories.

The page needs nothing but itself: the plots are embedded as base64 PNG ``data:`` URIs and the runs'
evaluation videos as base64 MP4 ``data:`` URIs, the style is inline, there is no script and no external
link. It holds each sweep's grid and trial states (with the errors of failed trials), the comparison tables
of :mod:`dynadapt.sweep.compare` (regenerated: mean with its t-interval and IQM with its bootstrap interval
per figure, probability of improvement per pair of methods), its plots, the latest videos of every run
(``RUN_DIR/videos``: ``video_every`` or ``dynadapt video``), and the resolved config of every method.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from pathlib import Path
from typing import Any

from dynadapt.errors import DynadaptError
from dynadapt.io import atomic_write_text, probe_directory, replaceable
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
.videos { display: flex; flex-wrap: wrap; gap: 0 1.5em; }
.videos video { max-width: 100%; border: 1px solid #ddd; }
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


MAX_VIDEOS = 6
"""Videos embedded per run at most (those of its latest recording)."""


def latest_videos(run: Path) -> list[Path]:
    """The MP4 files of a run's latest recording (``RUN_DIR/videos/<recording>_task<i>.mp4``, the
    recording whose files are newest), in task order."""
    recordings: dict[str, list[Path]] = {}
    for path in sorted((run / "videos").glob("*.mp4")):
        recordings.setdefault(path.stem.rsplit("_task", 1)[0], []).append(path)
    if not recordings:
        return []
    return max(recordings.values(), key=lambda paths: max(p.stat().st_mtime for p in paths))


def _video(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><video controls autoplay muted loop playsinline preload="auto" title="{_e(caption)}" '
        f'src="data:video/mp4;base64,{data}"></video><figcaption>{_e(caption)}</figcaption></figure>'
    )


def _videos(comparison: Comparison) -> str:
    """Every run's latest videos, method by method."""
    parts = []
    for m in comparison.methods:
        for r in m.runs:
            files = latest_videos(r.path)
            parts += [_video(p, f"{m.label}, seed {r.seed}: {p.name}") for p in files[:MAX_VIDEOS]]
            if len(files) > MAX_VIDEOS:
                parts.append(f"<p>{len(files) - MAX_VIDEOS} more in {_e(r.path / 'videos')}</p>")
    if not parts:
        return (
            "<p>No run has videos: record them with <code>video_every=N</code> in a run, or "
            "<code>dynadapt video RUN_DIR</code> afterwards.</p>"
        )
    note = (
        "<p>Evaluation episodes of each run's latest recording (the task, step and return are printed on "
        "the frames; continual runs: an earlier task right after it was learned, left, and later, right).</p>"
    )
    return f'{note}<div class="videos">{"".join(parts)}</div>'


def render(dirs: list[Path], comparison: Comparison, manifests: list[tuple[Path, Manifest]]) -> str:
    """The report page of the sweep and run directories ``dirs`` (with the sweeps' ``manifests``)."""
    title = ", ".join(str(d) for d in dirs)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>dynadapt report: {_e(', '.join(d.name for d in dirs))}</title><style>{STYLE}</style>",
        f"</head><body><h1>dynadapt report: {_e(title)}</h1>",
        f"<p>Written {_e(time.strftime('%Y-%m-%d %H:%M:%S %Z'))} by <code>dynadapt report</code>.</p>",
    ]
    for root, manifest in manifests:
        where = f": {root}" if len(dirs) > 1 else ""
        parts += [f"<h2>Sweep{_e(where)}</h2>", _grid(manifest), "<h2>Trials</h2>", _trials_table(manifest)]
    parts += ["<h2>Comparison over seeds</h2>", _comparison_table(comparison), "<h2>Plots</h2>"]
    for p in comparison.plots:
        parts.append(_img(p, CAPTIONS.get(p.stem, p.stem)))
    parts += ["<h2>Evaluation videos</h2>", _videos(comparison)]
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


def write_report(dirs: list[Path], out: Path | None = None) -> Path:
    """Regenerate the comparison of the sweep or run directories ``dirs`` and write the report (default
    ``DIR/report.html`` for one DIR; the comparison's files go to ``DIR/compare``, or beside ``out``)."""
    if out is None:
        if len(dirs) != 1:
            raise DynadaptError("a report of several directories needs --out (the HTML file to write)")
        out = dirs[0] / "report.html"
    replaceable(out)  # before anything is written
    probe_directory(out.parent)
    where = dirs[0] / "compare" if len(dirs) == 1 else out.with_name(f"{out.stem}_compare")
    comparison = compare(dirs, where)
    manifests = [(d, Manifest.load(d)) for d in dirs if is_sweep_dir(d)]
    atomic_write_text(out, render(dirs, comparison, manifests))
    return out
