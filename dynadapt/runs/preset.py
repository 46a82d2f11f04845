"""The preset record and registry: a preset is a named function returning a fully specified config.

Each kind's ``presets`` module registers its presets with :func:`preset`; :mod:`dynadapt.runs.presets`
imports them all. CPU-scale presets are the defaults (minutes on a 2-core laptop); ``*-paper`` presets
reproduce the published settings and belong on bigger machines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str
    """The run kind that runs it (see :mod:`dynadapt.runs.kinds`)."""
    description: str
    make: Callable[[], Any]


PRESETS: dict[str, Preset] = {}
"""Every registered preset by name (complete once :mod:`dynadapt.runs.presets` is imported)."""


def preset(name: str, kind: str, description: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register the decorated function as preset ``name`` of ``kind``."""

    def register(fn: Callable[[], Any]) -> Callable[[], Any]:
        PRESETS[name] = Preset(name, kind, description, fn)
        return fn

    return register
