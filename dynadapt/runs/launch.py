"""Starting, resuming and plotting runs of any kind from their run directory.

A *run kind* (``"mbrl"``, and the continual and meta-learning loops) pairs a config dataclass with a
runner class. A runner is built as ``Runner(cfg, rundir, preset=..., progress=...)`` without touching the
disk, and provides ``config_dict() -> dict`` (what ``config.json`` holds, including ``"kind"``),
``run() -> summary``, ``load_checkpoint(path)`` and the property ``finished``. Loops register themselves
with :func:`register_kind`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dynadapt.errors import DynadaptError, UnknownNameError
from dynadapt.runs.config import from_dict
from dynadapt.runs.rundir import RunDir

if TYPE_CHECKING:
    from dynadapt.runs.presets import Preset


class Runner(Protocol):
    def config_dict(self) -> dict[str, Any]: ...

    def run(self) -> dict[str, Any]: ...

    def load_checkpoint(self, path: Path) -> None: ...


@dataclass(frozen=True)
class RunKind:
    name: str
    config_cls: type
    runner: Callable[..., Runner]


KINDS: dict[str, RunKind] = {}


def register_kind(name: str, config_cls: type, runner: Callable[..., Runner]) -> None:
    KINDS[name] = RunKind(name, config_cls, runner)


def get_kind(name: str) -> RunKind:
    _load_kinds()
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownNameError("run kind", name, KINDS) from None


def _load_kinds() -> None:
    # Importing the loops registers their kinds.
    import dynadapt.runs.continual
    import dynadapt.runs.distill
    import dynadapt.runs.mbrl
    import dynadapt.runs.meta
    import dynadapt.runs.policy
    import dynadapt.runs.policy_adaptive  # noqa: F401


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
    cfg = from_dict(kind.config_cls, data)
    runner = kind.runner(cfg, rundir, preset=preset, progress=progress)
    if rundir.checkpoint_path.exists():
        runner.load_checkpoint(rundir.checkpoint_path)
    else:
        rundir.truncate_metrics(0)
    return runner.run()


def plot(path: Path) -> list[Path]:
    """Regenerate the plots of the run in ``path``."""
    from dynadapt.runs.plots import plot_run

    rundir = RunDir(path)
    rundir.read_config()
    if not rundir.read_metrics():
        raise DynadaptError(f"{path}: the run has no completed episode to plot yet")
    return plot_run(rundir)
