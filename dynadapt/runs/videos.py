"""Videos of a run's evaluation episodes (``dynadapt video RUN_DIR``, and ``video_every`` during a run).

A run of any kind is filmed by its own evaluation code: the kind's :meth:`~dynadapt.runs.run.Run.watch`
plays evaluation episodes of one task (the seeds, start states and controller of its evaluation: MPC on the
model, the SAC policy, the distilled policy, GrBAL's online adaptation) in envs a
:class:`~dynadapt.video.Camera` films, and :func:`film` restores every random stream of the run afterwards,
so that filming during a run changes none of its results. Each frame prints the task, the step and the
return so far (:mod:`dynadapt.video.frames`); a change of the task in the middle of an episode (the meta
kinds' ``task.switch_at``) is marked. For the continual kinds, whose runs keep the checkpoint of every
task's end (``checkpoints/task<i>.safetensors``), a task that later tasks followed is shown side by side:
the agent right after learning it (left) and now (right), from the same start states.

``dynadapt video`` restores a checkpoint (the last one by default, also of a run still running) without
writing anything but the videos, by default to ``RUN_DIR/videos/<checkpoint>_task<i>.mp4``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from dynadapt.errors import DynadaptError
from dynadapt.runs.run import Run
from dynadapt.video import Camera, Clip, clip_frames, side_by_side, write_video

SIZE = (320, 240)
"""Default width and height of the filmed scene."""


def film(runner: Run[Any], task: int, episodes: int = 1, size: tuple[int, int] = SIZE) -> list[Clip]:
    """Clips of evaluation episodes ``0..episodes-1`` of task ``task`` (an index of the runner's
    ``watch_tasks()``); the runner's random streams are as before afterwards."""
    labels = runner.watch_tasks()
    if not 0 <= task < len(labels):
        known = f"0 to {len(labels) - 1}" if labels else "none yet"
        raise DynadaptError(f"{runner.rundir.path}: no task {task} to film (tasks: {known})")
    if episodes < 1:
        raise DynadaptError("episodes must be at least 1")
    camera = Camera(*size, label=f"task {task}: {labels[task]}")
    torch_states, numpy_states = runner.seeds.torch_states(), runner.seeds.numpy_states()
    try:
        runner.watch(camera, task, episodes)
    finally:
        camera.release()
        runner.seeds.restore(torch_states, numpy_states)
    return camera.clips


def frames_of(clips: list[Clip], size: tuple[int, int] = SIZE, caption: str = "") -> list[np.ndarray]:
    """The annotated frames of ``clips``, one episode after the other."""
    return [frame for clip in clips for frame in clip_frames(clip, *size, caption)]


def earlier(runner: Run[Any], task: int) -> Run[Any] | None:
    """The run restored from the checkpoint kept at the end of ``task``, when later tasks followed it in
    ``runner``'s state (None otherwise)."""
    path = runner.rundir.checkpoints / f"task{task}.safetensors"
    if task >= len(runner.watch_tasks()) - 1 or not path.is_file():
        return None
    from dynadapt.runs.launch import restore

    return restore(runner.rundir.path, path)


def record(
    runner: Run[Any],
    out: Path,
    stem: str,
    tasks: Iterable[int] | None = None,
    episodes: int = 1,
    size: tuple[int, int] = SIZE,
    formats: Iterable[str] = ("mp4",),
) -> list[Path]:
    """Film ``episodes`` evaluation episodes of each of ``tasks`` (default: every task there is to film)
    into ``out/<stem>_task<i>.<format>``; the continual kinds' earlier tasks side by side with the agent
    right after learning them. Returns the files written."""
    labels = runner.watch_tasks()
    if type(runner).watch is Run.watch:
        raise DynadaptError(f"runs of kind {runner.kind!r} cannot be filmed (the kind implements no watch)")
    if not labels:
        raise DynadaptError(f"{runner.rundir.path}: nothing to film yet (no step has trained the agent)")
    written = []
    for i in range(len(labels)) if tasks is None else tasks:
        clips = film(runner, i, episodes, size)
        before = earlier(runner, i)
        if before is None:
            frames = frames_of(clips, size)
        else:
            now = f"now, {len(labels)} tasks seen"
            frames = side_by_side(
                frames_of(film(before, i, episodes, size), size, f"right after learning task {i}"),
                frames_of(clips, size, now),
            )
        written += [write_video(out / f"{stem}_task{i}.{fmt}", frames, clips[0].fps) for fmt in formats]
    return written
