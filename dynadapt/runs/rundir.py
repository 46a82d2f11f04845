"""The run directory: resolved config, metrics (JSONL + CSV), summary, checkpoints, plots.

Layout::

    RUN_DIR/config.json        resolved config (with "kind", the loop that runs it)
    RUN_DIR/metrics.jsonl      one JSON row per episode (keys: train/, eval/, model/, planner/, time/)
    RUN_DIR/metrics.csv        the same rows as CSV (regenerated from the JSONL)
    RUN_DIR/summary.json       final figures, written when the run completes
    RUN_DIR/checkpoints/       last.safetensors (resume point) and the final model
    RUN_DIR/plots/             PNG figures
    RUN_DIR/.lock              held by the process running the run (two processes never run it at once)

Metrics rows are appended before the checkpoint that covers them is written; the checkpoint records how
many rows it covers, and resuming truncates the JSONL to that count, so a run killed at any moment never
duplicates or loses a completed episode's row.

The directory itself is created atomically: it is built (config, empty metrics, subdirectories, lock) as
a hidden sibling ``.NAME.XXXXXXXX.tmp`` and renamed into place, so a kill at any moment leaves either no
run directory or a complete, resumable one. The next start of the same directory removes a sibling that a
killed start left behind, and resuming removes the temporary files of writes a kill interrupted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dynadapt.checks import check_seed
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.io import (
    TEMP_SUFFIX,
    FileLock,
    atomic_write_text,
    default_mode,
    parse_json,
    read_bytes,
    read_text,
    remove_stale_temps,
    temp_of,
    write_json,
)

CONFIG = "config.json"
METRICS = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
SUMMARY = "summary.json"
CHECKPOINT = "checkpoints/last.safetensors"
LOCK = ".lock"


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
    def create(self, config: dict[str, Any]) -> FileLock:
        """Start a new run here (atomically, see the module docstring); returns the run's lock, held.

        Refuses anything at the path but nothing or an empty directory."""
        path = self.path
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise DynadaptError(f"{path} exists and is not a directory; choose another --out")
        if path.is_dir() and any(path.iterdir()):
            if self.config_path.exists():
                raise DynadaptError(f"{path} already holds a run; use `dynadapt resume {path}`")
            raise DynadaptError(f"{path} exists and is not empty; choose another --out")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned_creations()
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent))
        staged = RunDir(tmp)
        lock = staged._lock()
        try:
            os.chmod(tmp, default_mode(directory=True))
            staged.checkpoints.mkdir()
            staged.plots.mkdir()
            write_json(staged.config_path, config)
            staged.metrics_path.touch()
            os.rename(tmp, path)
        except BaseException as e:
            lock.release()
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(e, OSError) and path.is_dir() and any(path.iterdir()):
                raise DynadaptError(f"{path} was created by another process meanwhile") from None
            raise
        lock.path = self.path / LOCK
        return lock

    def _remove_abandoned_creations(self) -> None:
        """Remove the hidden siblings of this directory that killed starts left (not one being built)."""
        for entry in self.path.parent.iterdir():
            if temp_of(entry.name) == self.path.name and entry.is_dir() and not entry.is_symlink():
                try:
                    with RunDir(entry)._lock():
                        shutil.rmtree(entry)
                except DynadaptError:
                    pass  # another process is creating it right now

    def _lock(self) -> FileLock:
        busy = f"{self.path}: the run is in progress in another process; wait for it or stop it first"
        return FileLock(self.path / LOCK, busy).acquire()

    def check_layout(self) -> None:
        """Raise unless this is a run directory whose subdirectories are its own (not links elsewhere)."""
        self.read_config()
        for d in (self.checkpoints, self.plots):
            if d.is_symlink() or (d.exists() and not d.is_dir()):
                raise DynadaptError(f"{d} is not a directory of this run")

    def lock(self) -> FileLock:
        """Take the run's lock (for resuming) and remove what writes interrupted by a kill left behind."""
        self.check_layout()  # only a run directory gets a lock file
        lock = self._lock()
        for d in (self.path, self.checkpoints, self.plots):
            if d.is_dir():
                remove_stale_temps(d)
        return lock

    def read_config(self) -> dict[str, Any]:
        """The saved config; a directory without a valid one is not a run directory."""
        if not self.path.is_dir():
            raise DynadaptError(f"{self.path}: no such run directory")
        if not self.config_path.is_file():
            raise DynadaptError(f"{self.path} is not a dynadapt run directory (no {CONFIG})")
        data = parse_json(read_text(self.config_path), f"{self.config_path}: corrupted config")
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            raise CorruptFileError(f"{self.config_path}: not a dynadapt run config")
        check_seed(data.get("seed", 0), f"{self.config_path}: seed")
        return data

    # -------------------------------------------------------------------------------------- metrics
    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one row to the JSONL (flushed and fsynced) and regenerate the CSV."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
        fd = os.open(self.metrics_path, flags, default_mode())
        with os.fdopen(fd, "a") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise DynadaptError(f"{self.metrics_path} is not a regular file")
            f.write(json.dumps(_jsonable(row)) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.write_csv()

    def read_metrics(self) -> list[dict[str, Any]]:
        """All complete rows (a torn last line from a killed process, and anything after a line that is
        not a JSON object, is ignored)."""
        if not self.metrics_path.exists():
            return []
        rows = []
        for line in read_bytes(self.metrics_path).decode("utf-8", "replace").splitlines():
            try:
                row = parse_json(line, str(self.metrics_path))
            except DynadaptError:
                break
            if not isinstance(row, dict):
                break
            rows.append(row)
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
        """The summary of a finished run (None while it runs)."""
        if not self.summary_path.exists():
            return None
        data = parse_json(read_text(self.summary_path), f"{self.summary_path}: corrupted summary")
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            raise CorruptFileError(f"{self.summary_path}: not a dynadapt run summary")
        return data


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
