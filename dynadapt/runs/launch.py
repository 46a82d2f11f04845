"""Starting, resuming, plotting and restoring (for videos) runs of any kind from their run directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dynadapt.checks import need_str
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.runs.config import from_dict, revalidate
from dynadapt.runs.kinds import RunKind, get_kind
from dynadapt.runs.rundir import RunDir

if TYPE_CHECKING:
    from dynadapt.runs.preset import Preset
    from dynadapt.runs.run import Run


def start(preset: Preset, cfg: Any, out: Path, progress: bool = True) -> dict[str, Any]:
    """Create ``out`` as a new run directory for ``cfg`` and run it to the end (holding its lock)."""
    kind = get_kind(preset.kind)
    rundir = RunDir(out)
    cfg = revalidate(cfg)  # every field checked, also of a config built in Python
    runner = kind.runner(cfg, rundir, preset=preset.name, progress=progress)  # validates before writing
    with rundir.create(runner.config_dict()):
        return runner.run()


def resume(path: Path, progress: bool = True) -> dict[str, Any]:
    """Continue the run in ``path`` from its last checkpoint (or from the start if it has none).

    A second process resuming (or still running) the same run gets one error line."""
    rundir = RunDir(path)
    done = rundir.read_summary() if rundir.read_config() else None
    if done is not None:
        return done
    with rundir.lock():
        kind, preset, cfg = _saved_config(rundir)
        done = rundir.read_summary()
        if done is not None:
            return done
        runner = kind.runner(cfg, rundir, preset=preset, progress=progress)
        if rundir.checkpoint_path.exists():
            runner.load_checkpoint(rundir.checkpoint_path)
        else:
            rundir.truncate_metrics(0)
        return runner.run()


def plot(path: Path) -> list[Path]:
    """Regenerate the plots of the run in ``path`` (files that are not what the run wrote: one error)."""
    rundir = RunDir(path)
    rundir.check_layout()
    kind, _, _ = _saved_config(rundir)
    if not rundir.read_metrics():
        raise DynadaptError(f"{path}: the run has no completed step to plot yet")
    try:
        return kind.plots(rundir)
    except DynadaptError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:  # a summary or row edited
        raise CorruptFileError(f"{path}: cannot plot the run, its files are malformed ({e!r})") from None


def restore(path: Path, checkpoint: Path | None = None) -> Run[Any]:
    """The run in ``path`` as of ``checkpoint`` (default: its last), restored in this process without writing
    to the run directory (a run still running included: its checkpoints are replaced atomically)."""
    rundir = RunDir(path)
    kind, preset, cfg = _saved_config(rundir)
    file = checkpoint or rundir.checkpoint_path
    if not file.is_file():
        raise DynadaptError(f"{file}: no such checkpoint (has the run finished a step yet?)")
    runner = kind.runner(cfg, rundir, preset=preset, progress=False)
    runner.restore(file)
    return runner


def _saved_config(rundir: RunDir) -> tuple[RunKind, str, Any]:
    """The kind, preset name and (validated) config that the run directory's ``config.json`` holds."""
    data = rundir.read_config()
    kind = get_kind(data.pop("kind"))
    preset = need_str(data.pop("preset", ""), f"{rundir.config_path}: preset")
    try:
        return kind, preset, from_dict(kind.config, data)
    except DynadaptError as e:
        raise DynadaptError(f"{rundir.config_path}: {e}") from None
