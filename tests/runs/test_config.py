"""Overrides of list-of-object fields (held-out perturbations) from the command line or a grid file."""

from __future__ import annotations

import pytest

from dynadapt.errors import DynadaptError
from dynadapt.runs.config import apply_overrides
from dynadapt.runs.presets import get_preset


def test_a_list_of_perturbations_is_given_as_json_and_validated() -> None:
    cfg = apply_overrides(
        get_preset("grbal-pendulum").make(), [("task.test_tasks", '[{"mass": 2.0}, {"length": 0.7}]')]
    )
    assert [(t["mass"], t["length"]) for t in cfg.task.test_tasks] == [(2.0, 1.0), (1.0, 0.7)]
    for bad in ("mass=2", '{"mass": 2}', "[1, 2]"):
        with pytest.raises(DynadaptError, match="expects a JSON list of objects"):
            apply_overrides(get_preset("grbal-pendulum").make(), [("task.test_tasks", bad)])
    with pytest.raises(DynadaptError, match="mass"):
        apply_overrides(get_preset("grbal-pendulum").make(), [("task.test_tasks", '[{"mass": -1}]')])
