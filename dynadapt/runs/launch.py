"""Starting, resuming and plotting runs of any kind from their run directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dynadapt.errors import DynadaptError
from dynadapt.runs.config import from_dict
from dynadapt.runs.kinds import get_kind
from dynadapt.runs.rundir import RunDir

if TYPE_CHECKING:
    from dynadapt.runs.preset import Preset


def start(preset: Preset, cfg: Any, out: Path, progress: bool = True) -> dict[str, Any]:
    """Create ``out`` as a new run directory for ``cfg`` and run it to the end."""
    kind = get_kind(preset.kind)
    rundir = RunDir(out)
    runner = kind.runner(cfg, rundir, preset=preset.name, progress=progress)  # validates before writing
    rundir.create(runner.config_dict())
    return runner.run()


def resume(path: Path, progress: bool = True) -> dict[str, Any]:
    """Continue the run in ``path`` from its last checkpoint (or from the start if it has none)."""
    rundir = RunDir(path)
    data = rundir.read_config()
    kind = get_kind(data.pop("kind"))
    preset = data.pop("preset", "")
    done = rundir.read_summary()
    if done is not None:
        return done
    cfg = from_dict(kind.config, data)
    runner = kind.runner(cfg, rundir, preset=preset, progress=progress)
    if rundir.checkpoint_path.exists():
        runner.load_checkpoint(rundir.checkpoint_path)
    else:
        rundir.truncate_metrics(0)
    return runner.run()


def plot(path: Path) -> list[Path]:
    """Regenerate the plots of the run in ``path``."""
    rundir = RunDir(path)
    kind = get_kind(rundir.read_config()["kind"])
    if not rundir.read_metrics():
        raise DynadaptError(f"{path}: the run has no completed step to plot yet")
    return kind.plots(rundir)
