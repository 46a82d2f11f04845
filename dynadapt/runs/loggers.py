"""Live metrics: the metrics rows, plots and videos of a run sent to TensorBoard or Weights & Biases.

``metrics.jsonl`` and ``metrics.csv`` stay the record of a run (``dynadapt compare`` and ``report`` read
them); a logger is a live view chosen with ``logger=tensorboard`` or ``logger=wandb``, and its package is
imported only then (``pip install 'dynadapt[tensorboard]'`` / ``'dynadapt[wandb]'``). The run skeleton calls
:meth:`Logger.metrics` after every step with the row's number as the step, :meth:`Logger.videos` with the
files ``video_every`` films and :meth:`Logger.images` with the plots at the end.

* TensorBoard (``RUN_DIR/tensorboard``): every numeric entry of a row is a scalar under its own name
  (``train/return``, ``eval/return``), the plots are images (``plots/<name>``), the videos animated GIF
  images (``videos/<name>``) and the resolved config a text. A row is logged once the checkpoint that
  covers it is written, so a resumed run logs no row twice (a resume adds an event file to the folder).
* Weights & Biases (``RUN_DIR/wandb``): offline unless ``WANDB_MODE`` says otherwise (``wandb sync`` uploads
  an offline run later), project ``WANDB_PROJECT`` or ``dynadapt``; the config, rows as ``wandb.log`` steps,
  plots as images, videos as MP4 videos. A resumed run continues the same W&B run (its id is kept in
  ``RUN_DIR/wandb/run-id``).
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dynadapt.extras import require
from dynadapt.io import atomic_write_text
from dynadapt.runs.rundir import RunDir


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a metrics row (not flags, texts, lists or nested curves)."""
    return {
        k: float(v)
        for k, v in row.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


class Logger:
    """The live view of a run (this base class shows nothing: ``logger=none``)."""

    def metrics(self, row: dict[str, Any], step: int) -> None:
        """Log metrics row number ``step`` (1-based)."""

    def images(self, paths: list[Path], step: int) -> None:
        """Log the PNG images ``paths`` (the plots) at ``step``."""

    def videos(self, paths: list[Path], step: int) -> None:
        """Log the video files ``paths`` (MP4 and GIF of the same episodes) at ``step``."""

    def close(self) -> None:
        """Write everything out."""


class TensorBoardLogger(Logger):
    """Event files in ``RUN_DIR/tensorboard``, written with TensorBoard's summary protocol buffers."""

    def __init__(self, rundir: RunDir, config: dict[str, Any], resumed: bool) -> None:
        require("tensorboard", "logger=tensorboard")
        from torch.utils.tensorboard.summary import text
        from torch.utils.tensorboard.writer import FileWriter

        self.writer = FileWriter(str(rundir.path / "tensorboard"), flush_secs=10)
        if not resumed:
            self.writer.add_summary(text("config", f"```\n{json.dumps(config, indent=2)}\n```"), 0)

    def metrics(self, row: dict[str, Any], step: int) -> None:
        from torch.utils.tensorboard.summary import scalar

        for name, value in scalars(row).items():
            self.writer.add_summary(scalar(name, value), step)
        self.writer.flush()

    def images(self, paths: list[Path], step: int) -> None:
        from PIL import Image
        from torch.utils.tensorboard.summary import image

        for path in paths:
            pixels = np.asarray(Image.open(path).convert("RGB"))
            self.writer.add_summary(image(f"plots/{path.stem}", pixels, dataformats="HWC"), step)
        self.writer.flush()

    def videos(self, paths: list[Path], step: int) -> None:
        from PIL import Image
        from tensorboard.compat.proto.summary_pb2 import Summary

        for path in paths:
            if path.suffix != ".gif":  # TensorBoard shows animated GIFs as images
                continue
            with Image.open(path) as gif:
                width, height = gif.size
            shown = Summary.Image(
                height=height, width=width, colorspace=3, encoded_image_string=path.read_bytes()
            )
            self.writer.add_summary(
                Summary(value=[Summary.Value(tag=f"videos/{path.stem}", image=shown)]), step
            )
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbLogger(Logger):
    """A Weights & Biases run in ``RUN_DIR/wandb`` (offline by default)."""

    def __init__(self, rundir: RunDir, config: dict[str, Any], resumed: bool) -> None:
        require("wandb", "logger=wandb")
        import wandb

        self.wandb = wandb
        folder = rundir.path / "wandb"
        folder.mkdir(parents=True, exist_ok=True)
        id_file = folder / "run-id"
        if not id_file.is_file():
            atomic_write_text(id_file, uuid.uuid4().hex[:12])
        self.run = wandb.init(
            dir=str(rundir.path),
            project=os.environ.get("WANDB_PROJECT", "dynadapt"),
            name=rundir.path.name,
            id=id_file.read_text().strip(),
            resume="allow",
            config=config,
            mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type, unused-ignore]
            reinit="create_new",
        )

    def metrics(self, row: dict[str, Any], step: int) -> None:
        self.run.log(scalars(row), step=step)

    def images(self, paths: list[Path], step: int) -> None:
        self.run.log({f"plots/{p.stem}": self.wandb.Image(str(p)) for p in paths}, step=step)

    def videos(self, paths: list[Path], step: int) -> None:
        shown = {
            f"videos/{p.stem}": self.wandb.Video(str(p), format="mp4") for p in paths if p.suffix == ".mp4"
        }
        self.run.log(shown, step=step)

    def close(self) -> None:
        self.run.finish()


LOGGERS: dict[str, Callable[[RunDir, dict[str, Any], bool], Logger]] = {
    "tensorboard": TensorBoardLogger,
    "wandb": WandbLogger,
}


def open_logger(name: str, rundir: RunDir, config: dict[str, Any], resumed: bool = False) -> Logger:
    """The logger ``name`` (``none``, ``tensorboard`` or ``wandb``) of the run in ``rundir`` (``resumed``: a
    run continued from a checkpoint)."""
    if name == "none":
        return Logger()
    return LOGGERS[name](rundir, config, resumed)
