"""The run skeleton every kind shares: ``run()`` is written once here and never overridden.

::

    build the kind's components (model, buffer, planner, learner, ...) from the config and the named seeds
    [resume: restore the components, the random streams and the loop state from the last checkpoint]
    while not done():
        row = step()                      one episode, iteration or task phase of the kind's algorithm
        append row to metrics.jsonl       (and metrics.csv)
        write one checkpoint              (components, random streams, loop state, rows covered)
        row to the live logger; a kept copy of the checkpoint, videos when due      (outputs.py)
    save the final files, write summary.json, draw the plots (and send them to the live logger)

A kind subclasses :class:`Run` and supplies :meth:`build`, :meth:`step`, :meth:`done`, :meth:`components`
(its named stateful parts), ``state_fields`` (the names of its JSON loop-state attributes) and
:meth:`summary`; optionally :meth:`save_outputs` (final model or policy files), :meth:`console` (the
progress line of a row), ``plots`` (its figures, regenerated from the run directory), :meth:`watch` and
:meth:`watch_tasks` (evaluation episodes in filmed envs: videos) and :meth:`keep_checkpoint` (copies of the
checkpoint at chosen steps, e.g. every task's end). Its ``step`` reads
top to bottom like the paper's pseudocode. Because rows are appended before the checkpoint that covers them
and resuming truncates the metrics to the rows the checkpoint covers, a run killed at any moment repeats at
most the interrupted step and ends with the same results as one never stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import torch
from tqdm import tqdm

from dynadapt.device import place, resolve_device
from dynadapt.errors import DynadaptError
from dynadapt.runs.checkpoint import Stateful, check_loop_state, load_checkpoint, save_checkpoint
from dynadapt.runs.config import to_dict
from dynadapt.runs.outputs import Outputs
from dynadapt.runs.plots import plot_learning_curve
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.seeds import Seeds
from dynadapt.runs.settings import RunConfig

if TYPE_CHECKING:
    from dynadapt.video import Camera

C = TypeVar("C", bound=RunConfig)


class Run(Generic[C]):
    """One run of config ``cfg`` in ``rundir`` (created by :func:`dynadapt.runs.launch.start`)."""

    kind: ClassVar[str] = ""
    """The run kind's name (``config.json`` records it)."""
    state_fields: ClassVar[tuple[str, ...]] = ()
    """Attributes holding the JSON-safe loop state (counters, evaluation records) saved in checkpoints."""
    timers: ClassVar[tuple[str, ...]] = ("wall", "cpu")
    """The loop's running times, saved in every checkpoint beside the kind's ``state_fields``."""
    plots: ClassVar[Callable[[RunDir], list[Path]]] = staticmethod(
        lambda rundir: [plot_learning_curve(rundir)]
    )
    """The kind's figures, regenerated from the run directory (``dynadapt plot``)."""

    def __init__(self, cfg: C, rundir: RunDir, preset: str = "", progress: bool = True) -> None:
        self.cfg = cfg
        self.rundir = rundir
        self.preset = preset
        self.progress = progress
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)
        """Where the run's models, data and planners compute (environments step on the CPU)."""
        self.seeds = Seeds(cfg.seed)
        self.rows = 0
        """Metrics rows written so far."""
        self.wall = 0.0
        """Wall seconds spent in steps so far (across resumes)."""
        self.cpu = 0.0
        """Process CPU seconds spent in steps so far (across resumes; NaN when resumed from a checkpoint
        written before this was kept)."""
        self.build()
        place(self, self.device)

    # ------------------------------------------------------------------------------- what a kind supplies
    def build(self) -> None:
        """Create the components and the initial loop state (nothing is written to disk here)."""
        raise NotImplementedError

    def components(self) -> dict[str, Stateful]:
        """The named stateful components saved in every checkpoint."""
        return {}

    def done(self) -> bool:
        raise NotImplementedError

    def step(self) -> dict[str, Any]:
        """One step of the algorithm (an episode, an iteration or a task phase); returns its metrics row."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """The run's results (no timings: a resumed run's summary equals an uninterrupted one's)."""
        raise NotImplementedError

    def save_outputs(self) -> None:
        """Write the final files (model, policy) before the summary."""

    def restored(self) -> None:
        """Called after a checkpoint was loaded (rebuild what derives from the restored state)."""

    def console(self, row: dict[str, Any]) -> str:
        """The progress line of a metrics row."""
        parts = []
        for key, value in row.items():
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                continue
            if isinstance(value, float):
                parts.append(f"{key} {value:.4g}" if not math.isnan(value) else f"{key} -")
            else:
                parts.append(f"{key} {value}")
        return " | ".join(parts)

    def watch_tasks(self) -> list[str]:
        """The tasks :meth:`watch` can play in the current state, by index (empty: nothing to film yet)."""
        return []

    def watch(self, camera: Camera, task: int, episodes: int) -> None:
        """Play evaluation episodes ``0..episodes-1`` of task ``task`` as the kind evaluates them (its
        seeds, start states and controller), in envs ``camera`` films (``dynadapt video``, ``video_every``;
        the caller restores the random streams afterwards)."""
        raise DynadaptError(f"runs of kind {self.kind!r} cannot be filmed")

    def keep_checkpoint(self, row: dict[str, Any]) -> str | None:
        """A name under which to keep a copy of the checkpoint written after the step of ``row``
        (``checkpoints/<name>.safetensors``; the continual kinds: ``task<t>`` at task t's end), or None."""
        return None

    # ------------------------------------------------------------------------------------- written once
    def config_dict(self) -> dict[str, Any]:
        """The resolved config as saved in ``config.json``."""
        return {"kind": self.kind, "preset": self.preset, **to_dict(self.cfg)}

    def run(self) -> dict[str, Any]:
        """Run (or continue) to the end; returns the summary."""
        with Outputs(self) as outputs:  # the live logger, kept checkpoints, videos (video_every)
            while not self.done():
                start, cpu = time.perf_counter(), time.process_time()
                row = self.step()
                self.wall += time.perf_counter() - start
                self.cpu += time.process_time() - cpu
                row["time/wall_s"], row["time/cpu_s"] = self.wall, self.cpu
                self.rundir.append_metrics(row)
                self.rows += 1
                if self.progress:
                    tqdm.write(self.console(row))
                self.save_checkpoint()
                outputs.step(row)
            self.save_outputs()
            summary = self.summary()
            self.rundir.write_summary(summary)
            outputs.finish(type(self).plots(self.rundir))
        return summary

    def save_checkpoint(self, path: Path | None = None) -> None:
        """Write the checkpoint (to ``path``, default the resume point ``checkpoints/last.safetensors``)."""
        state = {name: getattr(self, name) for name in (*self.state_fields, *self.timers)}
        save_checkpoint(
            path or self.rundir.checkpoint_path, self.kind, self.components(), self.seeds, state, self.rows
        )

    def restore(self, path: Path) -> None:
        """Load the checkpoint at ``path`` (components, random streams, loop state, the rows it covers)
        without touching the run directory (``dynadapt video`` of a finished or running run)."""
        state, self.rows = load_checkpoint(path, self.kind, self.components(), self.seeds, self.device)
        state.setdefault("cpu", math.nan)  # a checkpoint from before CPU seconds were kept
        names = (*self.state_fields, *self.timers)
        check_loop_state(path, state, {name: getattr(self, name) for name in names})
        for name in names:
            setattr(self, name, state[name])
        self.restored()
        place(self, self.device)

    def load_checkpoint(self, path: Path) -> None:
        """Continue from the checkpoint at ``path``: components, random streams, loop state, metrics rows."""
        self.restore(path)
        written = len(self.rundir.read_metrics())
        if not self.rows <= written <= self.rows + 1:  # one more: the row of the step a kill interrupted
            raise DynadaptError(
                f"{path}: the checkpoint covers {self.rows} metrics rows but {self.rundir.metrics_path.name} "
                f"has {written}; they are not of the same run"
            )
        self.rundir.truncate_metrics(self.rows)
