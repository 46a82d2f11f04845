"""The sweep directory and its manifest.

Layout::

    SWEEP_DIR/manifest.json      the trials (method, preset, overrides, seed) and each one's state
    SWEEP_DIR/<trial name>/      one run directory per trial (config.json, metrics, summary.json, ...)
    SWEEP_DIR/.lock              held by the sweep process while it runs (two sweeps never share a dir)

Only the sweep process writes the manifest, atomically, after every change of a trial's state. A trial's
state is ``pending``, ``running``, ``done`` or ``failed`` (with the error). The run directories, not the
manifest, decide what is left to do on a re-run: a trial whose run has a ``summary.json`` is finished and
skipped, one with a ``config.json`` is resumed from its checkpoint, any other is started afresh.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from dynadapt.errors import DynadaptError
from dynadapt.io import write_json
from dynadapt.sweep.grid import Trial

MANIFEST = "manifest.json"
FORMAT = "dynadapt-sweep"
STATES = ("pending", "running", "done", "failed")


def is_sweep_dir(path: Path) -> bool:
    return (path / MANIFEST).is_file()


class Manifest:
    """The trials of a sweep and their states, stored in ``SWEEP_DIR/manifest.json``."""

    def __init__(self, root: Path, trials: list[Trial], grid: dict[str, Any]) -> None:
        self.root = Path(root)
        self.trials = list(trials)
        self.grid = grid
        self.entries: dict[str, dict[str, Any]] = {
            t.name: {"status": "pending", "attempts": 0, "error": None} for t in trials
        }
        self.created = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    @property
    def path(self) -> Path:
        return self.root / MANIFEST

    def run_dir(self, trial: Trial) -> Path:
        return self.root / trial.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": 1,
            "created": self.created,
            "grid": self.grid,
            "trials": [{**t.to_dict(), **self.entries[t.name]} for t in self.trials],
        }

    def save(self) -> None:
        write_json(self.path, self.to_dict())

    def update(self, trial: Trial, **fields: Any) -> None:
        self.entries[trial.name].update(fields)
        self.save()

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for e in self.entries.values():
            out[e["status"]] += 1
        return out

    @classmethod
    def load(cls, root: Path) -> Manifest:
        path = Path(root) / MANIFEST
        if not path.is_file():
            raise DynadaptError(f"{root} is not a sweep directory (no {MANIFEST})")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DynadaptError(f"{path}: corrupted manifest (not valid JSON)") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DynadaptError(f"{path}: not a dynadapt sweep manifest")
        try:
            trials = [Trial.from_dict(d) for d in data["trials"]]
            m = cls(Path(root), trials, dict(data.get("grid", {})))
            for d in data["trials"]:
                m.entries[d["name"]] = {k: v for k, v in d.items() if k not in Trial.__dataclass_fields__}
        except (KeyError, TypeError, ValueError):
            raise DynadaptError(f"{path}: not a dynadapt sweep manifest (malformed trials)") from None
        m.created = str(data.get("created", m.created))
        return m


class SweepLock:
    """An exclusive lock on a sweep directory, released by the kernel when the process dies (even kill -9)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> SweepLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DynadaptError(f"{self.path.parent}: another sweep is running in this directory") from None
        self.fd = fd
        os.register_at_fork(after_in_child=self._close_in_child)
        return self

    def _close_in_child(self) -> None:
        # A forked worker must not keep the sweep's lock alive after the sweep process has died.
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
