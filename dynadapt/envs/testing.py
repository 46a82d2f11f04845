"""Helpers for tests that run over every task family (used by ``tests/envs`` and usable elsewhere)."""

from __future__ import annotations

from typing import Any

from dynadapt.envs.family import Param, TaskFamily


def changed_value(param: Param) -> Any:
    """A valid value of ``param`` different from its default (large enough to matter)."""
    if param.choices is not None:
        return next(c for c in param.choices if c != param.default)
    value = param.default * 1.5 if param.default != 0 else 1.0
    return min(value, param.high)


def example_settings(family: TaskFamily, per_sequence: int = 3) -> list[dict[str, Any]]:
    """Several parameter settings of a family: the defaults, each parameter changed alone, and the first
    ``per_sequence`` tasks of every named sequence and split."""
    settings: list[dict[str, Any]] = [{}]
    settings += [{p.name: changed_value(p)} for p in family.params]
    for tasks in (*family.sequences.values(), *family.splits.values()):
        settings += [dict(t) for t in tasks[:per_sequence]]
    return settings
