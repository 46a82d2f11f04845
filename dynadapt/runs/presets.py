"""Every named preset: importing this module imports each kind's ``presets`` module (which registers them)."""

from __future__ import annotations

import importlib

from dynadapt.errors import UnknownNameError
from dynadapt.runs.kinds import KIND_PACKAGES
from dynadapt.runs.preset import PRESETS, Preset

for _package in KIND_PACKAGES:
    importlib.import_module(f"{_package}.presets")


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownNameError("preset", name, PRESETS) from None


__all__ = ["PRESETS", "Preset", "get_preset"]
