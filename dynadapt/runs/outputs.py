"""What the run skeleton writes after each step besides the metrics row and the checkpoint: the row to the
live logger (:mod:`.loggers`), a kept copy of the checkpoint when the kind names one (the continual kinds'
task ends), and, with ``video_every``, videos of evaluation episodes (:mod:`.videos`); at the end, the plots
to the logger. The same for every kind: :meth:`dynadapt.runs.run.Run.run` calls :meth:`Outputs.step` and
:meth:`Outputs.finish`.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dynadapt.io import atomic_write_bytes
from dynadapt.runs.loggers import open_logger

if TYPE_CHECKING:
    from dynadapt.runs.run import Run


def evaluated(row: dict[str, Any]) -> bool:
    """Whether a metrics row holds an evaluation (a finite number under ``eval/``)."""
    return any(
        k.startswith("eval/") and isinstance(v, int | float) and math.isfinite(v) for k, v in row.items()
    )


class Outputs:
    """The per-step outputs of ``runner`` (a context manager: the logger is closed at the end)."""

    def __init__(self, runner: Run[Any]) -> None:
        self.runner = runner
        self.logger = open_logger(runner.cfg.logger, runner.rundir, runner.config_dict(), runner.rows > 0)
        self.formats = ("mp4", "gif") if runner.cfg.logger == "tensorboard" else ("mp4",)

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.logger.close()

    def step(self, row: dict[str, Any]) -> None:
        """After the step of ``row`` (appended and covered by the last checkpoint)."""
        r = self.runner
        self.logger.metrics(row, r.rows)
        name = r.keep_checkpoint(row)
        if name is not None:  # a copy of the checkpoint just written after this step
            atomic_write_bytes(
                r.rundir.checkpoints / f"{name}.safetensors", r.rundir.checkpoint_path.read_bytes()
            )
        if self.video_due(row) and r.watch_tasks():  # (not before the agent has learned something)
            from dynadapt.runs.videos import record

            paths = record(r, r.rundir.path / "videos", f"step{r.rows:04d}", formats=self.formats)
            self.logger.videos(paths, r.rows)

    def video_due(self, row: dict[str, Any]) -> bool:
        """Film after every ``video_every``-th step that evaluated, and after the last step (the tasks there
        are to film then)."""
        every = self.runner.cfg.video_every
        if not every:
            return False
        if self.runner.done():
            return True
        return evaluated(row) and sum(map(evaluated, self.runner.rundir.read_metrics())) % every == 0

    def finish(self, plots: list[Path]) -> None:
        """After the summary: the plots to the logger."""
        self.logger.images(plots, self.runner.rows)
