"""Every run kind, killed at any moment and resumed, ends with the same results as a run never stopped.

A run is interrupted by an exception raised inside its checkpoint write after a metrics row was appended
(the worst moment: the row is on disk, the checkpoint that covers it is not), then continued with
``launch.resume`` in a fresh runner; its ``summary.json`` and untimed metrics rows must equal those of an
uninterrupted run of the same config. The kill -9 of a real process is in ``test_cli.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from dynadapt.runs import launch
from dynadapt.runs.kinds import all_kinds
from dynadapt.runs.rundir import RunDir
from tests.runs.interrupt import start_killed
from tests.runs.tiny import TINY, tiny


def untimed(rundir: Path) -> list[dict[str, Any]]:
    rows = RunDir(rundir).read_metrics()
    return [
        {k: v for k, v in r.items() if not k.startswith("time/") and "ms_per_step" not in k} for r in rows
    ]


def test_every_kind_has_tiny_settings() -> None:
    assert set(TINY) == set(all_kinds())


@pytest.mark.parametrize("kind", sorted(TINY))
def test_killed_and_resumed_equals_uninterrupted(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preset, cfg = tiny(kind, "device=cpu")  # every kind runs with an explicit device
    ref = launch.start(preset, cfg, tmp_path / "ref", progress=False)
    total = len(RunDir(tmp_path / "ref").read_metrics())
    assert total >= 2, "the tiny run must have at least two steps to interrupt one"

    start_killed(monkeypatch, preset, cfg, tmp_path / "killed", 2, kind)  # not distill's nested PETS run
    assert len(RunDir(tmp_path / "killed").read_metrics()) == 2  # the second row is written, not covered
    resumed = launch.resume(tmp_path / "killed", progress=False)

    assert json.dumps(resumed, sort_keys=True) == json.dumps(ref, sort_keys=True)
    saved = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert saved == json.loads((tmp_path / "ref" / "summary.json").read_text())
    assert untimed(tmp_path / "killed") == untimed(tmp_path / "ref")


def test_cpu_seconds_are_kept_across_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each row's ``time/cpu_s`` is the process CPU time of the run's steps so far, carried by the
    checkpoint; a checkpoint written before it was kept resumes with NaN (unknown; null in the metrics
    file), not a wrong count."""
    preset, cfg = tiny("mbrl")
    start_killed(monkeypatch, preset, cfg, tmp_path / "run", 2)
    launch.resume(tmp_path / "run", progress=False)
    cpu = [r["time/cpu_s"] for r in RunDir(tmp_path / "run").read_metrics()]
    assert all(c > 0 for c in cpu) and cpu == sorted(cpu) and len(cpu) >= 2
    assert cpu[-1] < time.process_time()

    import dynadapt.runs.run as run_module

    def without_cpu(path: Path, kind: str, parts: Any, seeds: Any, state: dict[str, Any], rows: int) -> None:
        save(path, kind, parts, seeds, {k: v for k, v in state.items() if k != "cpu"}, rows)

    save = run_module.save_checkpoint
    monkeypatch.setattr(run_module, "save_checkpoint", without_cpu)
    start_killed(monkeypatch, preset, cfg, tmp_path / "old", 2)
    monkeypatch.setattr(run_module, "save_checkpoint", save)
    launch.resume(tmp_path / "old", progress=False)
    rows = RunDir(tmp_path / "old").read_metrics()
    assert rows[0]["time/cpu_s"] > 0 and rows[-1]["time/cpu_s"] is None  # NaN is written as null
