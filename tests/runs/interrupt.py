"""Interrupting a run at the worst moment, for the tests of resuming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dynadapt.runs import launch
from dynadapt.runs.preset import Preset
from dynadapt.runs.run import Run


class Killed(Exception):
    pass


def start_killed(
    monkeypatch: pytest.MonkeyPatch, preset: Preset, cfg: Any, out: Path, rows: int, kind: str | None = None
) -> None:
    """Start ``preset`` with ``cfg`` in ``out`` and kill it inside its checkpoint write once ``rows`` metrics
    rows are written (the row is on disk, the checkpoint that covers it is not), in a run of ``kind`` only
    if given (not a nested run of another kind); ``Run.save_checkpoint`` is restored afterwards."""
    original = Run.save_checkpoint

    def kill(self: Run[Any], path: Path | None = None) -> None:
        if self.rows == rows and (kind is None or self.kind == kind):
            raise Killed
        original(self, path)

    monkeypatch.setattr(Run, "save_checkpoint", kill)
    with pytest.raises(Killed):
        launch.start(preset, cfg, out, progress=False)
    monkeypatch.setattr(Run, "save_checkpoint", original)
