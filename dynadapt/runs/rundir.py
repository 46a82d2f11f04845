"""The run directory: resolved config, metrics (JSONL + CSV), summary, checkpoints, plots.

Layout::

    RUN_DIR/config.json        resolved config (with "kind", the loop that runs it)
    RUN_DIR/metrics.jsonl      one JSON row per episode (keys: train/, eval/, model/, planner/, time/)
    RUN_DIR/metrics.csv        the same rows as CSV (regenerated from the JSONL)
    RUN_DIR/summary.json       final figures, written when the run completes
    RUN_DIR/checkpoints/       last.safetensors (resume point) and the final model
    RUN_DIR/plots/             PNG figures

Metrics rows are appended before the checkpoint that covers them is written; the checkpoint records how
many rows it covers, and resuming truncates the JSONL to that count, so a run killed at any moment never
duplicates or loses a completed episode's row.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dynadapt.errors import DynadaptError
from dynadapt.io import atomic_write_text, write_json

CONFIG = "config.json"
METRICS = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
SUMMARY = "summary.json"
CHECKPOINT = "checkpoints/last.safetensors"


class RunDir:
    """Paths and files of one run."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.config_path = self.path / CONFIG
        self.metrics_path = self.path / METRICS
        self.summary_path = self.path / SUMMARY
        self.checkpoint_path = self.path / CHECKPOINT
        self.plots = self.path / "plots"
        self.checkpoints = self.path / "checkpoints"

    # ------------------------------------------------------------------------------------- creation
    def create(self, config: dict[str, Any]) -> None:
        """Start a new run here; refuses a directory that already holds a run or other files."""
        if self.path.exists() and any(self.path.iterdir()):
            if self.config_path.exists():
                raise DynadaptError(f"{self.path} already holds a run; use `dynadapt resume {self.path}`")
            raise DynadaptError(f"{self.path} exists and is not empty; choose another --out")
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self.plots.mkdir(parents=True, exist_ok=True)
        write_json(self.config_path, config)
        self.metrics_path.touch()

    def read_config(self) -> dict[str, Any]:
        """The saved config; a directory without a valid one is not a run directory."""
        if not self.path.is_dir():
            raise DynadaptError(f"{self.path}: no such run directory")
        if not self.config_path.is_file():
            raise DynadaptError(f"{self.path} is not a dynadapt run directory (no {CONFIG})")
        try:
            data = json.loads(self.config_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DynadaptError(f"{self.config_path}: corrupted config (not valid JSON)") from None
        if not isinstance(data, dict) or "kind" not in data:
            raise DynadaptError(f"{self.config_path}: not a dynadapt run config")
        return data

    # -------------------------------------------------------------------------------------- metrics
    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one row to the JSONL (flushed and fsynced) and regenerate the CSV."""
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(_jsonable(row)) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.write_csv()

    def read_metrics(self) -> list[dict[str, Any]]:
        """All complete rows (a torn last line from a killed process is ignored)."""
        if not self.metrics_path.exists():
            return []
        rows = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return rows

    def truncate_metrics(self, n_rows: int) -> None:
        """Keep the first ``n_rows`` rows (used when resuming from a checkpoint that covers them)."""
        rows = self.read_metrics()[:n_rows]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))
        self.write_csv()

    def write_csv(self) -> None:
        rows = self.read_metrics()
        atomic_write_text(self.path / METRICS_CSV, rows_to_csv(rows))

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.summary_path, summary)

    def read_summary(self) -> dict[str, Any] | None:
        if not self.summary_path.exists():
            return None
        return json.loads(self.summary_path.read_text())


def rows_to_csv(rows: Iterable[dict[str, Any]]) -> str:
    rows = list(rows)
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(r)
    return buf.getvalue()


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, float) and v != v:
            out[k] = None
        elif hasattr(v, "item"):
            out[k] = v.item()
        else:
            out[k] = v
    return out
