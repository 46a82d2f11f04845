"""Shared fixtures of the env tests."""

from __future__ import annotations

import pytest

import dynadapt.envs
from dynadapt.envs import get_family
from dynadapt.envs.family import TaskFamily


@pytest.fixture(params=sorted(dynadapt.envs.family_names()))
def family(request: pytest.FixtureRequest) -> TaskFamily:
    """Every registered task family."""
    return get_family(request.param)
