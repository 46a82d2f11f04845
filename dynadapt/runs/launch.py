"""Starting, resuming and plotting runs of any kind from their run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dynadapt.errors import DynadaptError
from dynadapt.runs.config import from_dict
from dynadapt.runs.mbrl import MBRLConfig, MBRLRun, config_dict
from dynadapt.runs.presets import Preset
from dynadapt.runs.rundir import RunDir


def start(preset: Preset, cfg: Any, out: Path, progress: bool = True) -> dict[str, Any]:
    """Create ``out`` as a new run directory for ``cfg`` and run it to the end."""
    if preset.kind != "mbrl":
        raise DynadaptError(f"preset kind {preset.kind!r} is not supported yet")
    rundir = RunDir(out)
    run = MBRLRun(cfg, rundir, preset=preset.name, progress=progress)  # builds everything before writing
    rundir.create(config_dict(cfg, preset.name))
    return run.run()


def resume(path: Path, progress: bool = True) -> dict[str, Any]:
    """Continue the run in ``path`` from its last checkpoint (or from the start if it has none)."""
    rundir = RunDir(path)
    data = rundir.read_config()
    kind = data.pop("kind")
    preset = data.pop("preset", "")
    if kind != "mbrl":
        raise DynadaptError(f"{path}: run kind {kind!r} is not supported")
    cfg = from_dict(MBRLConfig, data)
    run = MBRLRun(cfg, rundir, preset=preset, progress=progress)
    if rundir.checkpoint_path.exists():
        run.load_checkpoint(rundir.checkpoint_path)
    else:
        rundir.truncate_metrics(0)
    if run.episode >= cfg.episodes and rundir.read_summary() is not None:
        summary = rundir.read_summary()
        assert summary is not None
        return summary
    return run.run()


def plot(path: Path) -> list[Path]:
    """Regenerate the plots of the run in ``path``."""
    from dynadapt.runs.plots import plot_run

    rundir = RunDir(path)
    rundir.read_config()
    if not rundir.read_metrics():
        raise DynadaptError(f"{path}: the run has no completed episode to plot yet")
    return plot_run(rundir)
