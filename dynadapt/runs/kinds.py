"""The run kinds: one explicit list, and the record each kind registers.

A kind lives in its own package under ``dynadapt/runs/`` (its loop, presets and plots side by side) whose
``__init__`` defines ``KINDS``, a tuple of :class:`RunKind` records. :data:`KIND_PACKAGES` lists those
packages; they are imported on first use, so nothing in ``dynadapt.runs`` imports a kind at module level
and there is no import cycle (``tests/runs/test_layout.py`` checks it).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dynadapt.errors import UnknownNameError

if TYPE_CHECKING:
    from dynadapt.runs.run import Run
    from dynadapt.runs.rundir import RunDir

KIND_PACKAGES: tuple[str, ...] = (
    "dynadapt.runs.mbrl",
    "dynadapt.runs.continual",
    "dynadapt.runs.meta",
    "dynadapt.runs.policy",
    "dynadapt.runs.policy_adaptive",
    "dynadapt.runs.distill",
    "dynadapt.runs.value",
    "dynadapt.runs.inverse",
    "dynadapt.runs.labelfree",
)
"""Every kind's package, in the order ``dynadapt presets`` lists them."""


@dataclass(frozen=True)
class RunKind:
    """What the launcher, ``dynadapt plot`` and the console need to know of a kind."""

    name: str
    config: type
    """The config dataclass (a :class:`~dynadapt.runs.settings.RunConfig`)."""
    runner: type[Run[Any]]
    """The :class:`~dynadapt.runs.run.Run` subclass."""
    headline: tuple[str, ...]
    """The summary figures printed when a run ends."""

    def plots(self, rundir: RunDir) -> list[Path]:
        """Regenerate the kind's figures from the run directory."""
        return self.runner.plots(rundir)


def all_kinds() -> dict[str, RunKind]:
    """Every kind by name (importing the kind packages on first use)."""
    out: dict[str, RunKind] = {}
    for package in KIND_PACKAGES:
        for kind in importlib.import_module(package).KINDS:
            out[kind.name] = kind
    return out


def get_kind(name: str) -> RunKind:
    kinds = all_kinds()
    try:
        return kinds[name]
    except KeyError:
        raise UnknownNameError("run kind", name, kinds) from None
