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

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dynadapt.errors import DynadaptError
from dynadapt.io import FileLock, parse_json, read_text, write_json
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
        data = parse_json(read_text(path), f"{path}: corrupted manifest")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DynadaptError(f"{path}: not a dynadapt sweep manifest")
        try:
            trials = [Trial.from_dict(d) for d in data["trials"]]
            m = cls(Path(root), trials, _checked_grid(data.get("grid", {})))
            for d in data["trials"]:
                m.entries[d["name"]] = {k: v for k, v in d.items() if k not in Trial.__dataclass_fields__}
                if m.entries[d["name"]].get("status") not in STATES:
                    raise ValueError(f"trial {d['name']}: unknown status")
        except (KeyError, TypeError, ValueError) as e:
            raise DynadaptError(f"{path}: not a dynadapt sweep manifest (malformed trials: {e})") from None
        if len(m.entries) != len(trials):
            raise DynadaptError(f"{path}: the manifest lists a trial name twice")
        m.created = str(data.get("created", m.created))
        return m


def _strings(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _pairs(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 for p in v)


_GRID_FIELDS: dict[str, Callable[[Any], bool]] = {
    "presets": _strings,
    "seeds": lambda v: isinstance(v, list) and all(isinstance(x, int) for x in v),
    "set": _pairs,
    "axes": lambda v: isinstance(v, dict) and all(_strings(x) for x in v.values()),
    "methods": lambda v: (
        isinstance(v, dict)
        and all(isinstance(b, dict) and _pairs(b.get("overrides", [])) for b in v.values())
    ),
}
"""What each field of the manifest's record of the grid (:func:`dynadapt.sweep.run.grid_record`) holds."""


def _checked_grid(grid: Any) -> dict[str, Any]:
    """The manifest's grid record, checked field by field (a ValueError names a malformed one)."""
    if not isinstance(grid, dict):
        raise ValueError("grid is not an object")
    for key, ok in _GRID_FIELDS.items():
        if key in grid and not ok(grid[key]):
            raise ValueError(f"grid.{key} is malformed")
    return grid


def sweep_lock(root: Path) -> FileLock:
    """The exclusive lock of the sweep directory ``root`` (see :class:`~dynadapt.io.FileLock`)."""
    return FileLock(Path(root) / ".lock", busy=f"{root}: another sweep is running in this directory")
