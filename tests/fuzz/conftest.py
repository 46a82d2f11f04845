"""The fuzz suite's shared files: one world (a finished run, a resumable run, a sweep, ...) per process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz import world as W


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return W.base_world(tmp_path_factory.mktemp("fuzz") / "world")
