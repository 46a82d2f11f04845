"""Running a sweep: validate every trial, then feed them to a backend and keep the manifest current.

Fault tolerance: a trial that raises (or whose process dies) is recorded as ``failed`` with its error and
the others go on. Running the same sweep again (same grid, same ``--out``) skips the finished trials,
resumes the interrupted ones from their checkpoints (:func:`dynadapt.runs.launch.resume`) and retries the
failed ones; ``dynadapt sweep --out DIR`` alone re-runs the sweep recorded in ``DIR``.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any, TextIO

from dynadapt.errors import DynadaptError
from dynadapt.io import remove_stale_temps
from dynadapt.sweep.backends import Backend, check_backend, make_backend
from dynadapt.sweep.grid import SweepSpec, Trial, validate
from dynadapt.sweep.manifest import Manifest, is_sweep_dir, sweep_lock
from dynadapt.sweep.progress import Progress
from dynadapt.sweep.worker import trial_spec


def grid_record(spec: SweepSpec) -> dict[str, Any]:
    """What the manifest keeps of the grid (for the report; the trials list is what is run)."""
    return {
        "presets": spec.presets,
        "seeds": spec.seeds,
        "set": [list(kv) for kv in spec.common],
        "axes": spec.axes,
        "methods": {
            k: {"preset": p, "overrides": [list(kv) for kv in o]} for k, (p, o) in spec.methods.items()
        },
    }


def prepare(root: Path, spec: SweepSpec | None) -> Manifest:
    """The manifest of the sweep in ``root``: a new one for ``spec``, the recorded one when ``spec`` is None.

    Every trial is validated here, so bad input fails before anything is written; an existing directory
    must hold the same sweep.
    """
    root = Path(root)
    if spec is None:
        if not is_sweep_dir(root):
            raise DynadaptError(
                f"{root} is not a sweep directory; give presets (or --grid FILE) to start a new sweep"
            )
        manifest = Manifest.load(root)
        validate(manifest.trials)
        return manifest
    trials = spec.trials()
    validate(trials)
    if is_sweep_dir(root):
        manifest = Manifest.load(root)
        if [t.to_dict() for t in manifest.trials] != [t.to_dict() for t in trials]:
            raise DynadaptError(
                f"{root} holds a different sweep (other trials); choose another --out, "
                f"or run `dynadapt sweep --out {root}` to continue the recorded one"
            )
        return manifest
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DynadaptError(f"{root} exists and is not a sweep directory; choose another --out")
    return Manifest(root, trials, grid_record(spec))


def run_sweep(
    root: Path,
    spec: SweepSpec | None,
    backend: str = "local",
    workers: int | None = None,
    threads: int | None = None,
    address: str | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
    fork: bool = False,
) -> Manifest:
    """Run every unfinished trial of the sweep in ``root`` on ``backend``; returns the final manifest.

    ``workers`` trials run at once (default: the machine's cores for ``local``, the cluster's CPUs over
    ``threads`` for ``ray``); each trial uses ``threads`` torch threads (default 1, like a single run:
    the CPU-scale models are fastest on one thread, and with at most one worker per core the trials
    together never oversubscribe the cores; a trial's own ``threads=`` override wins). ``fork``: start
    local workers by forking this process (Linux; only where it has run no torch computation, as in
    ``dynadapt sweep``), otherwise they are spawned.
    """
    check_backend(backend, address)
    manifest = prepare(root, spec)
    if workers is not None and workers < 1:
        raise DynadaptError("--workers must be at least 1")
    if threads is None:
        threads = 1
    if threads < 1:
        raise DynadaptError("--threads must be at least 1")
    root = manifest.root
    be = make_backend(backend, workers, threads, address, fork)  # a failure (e.g. no Ray) writes nothing
    try:
        root.mkdir(parents=True, exist_ok=True)
        with sweep_lock(root):
            remove_stale_temps(root)
            _drive(manifest, be, threads, Progress(0, be.slots, enabled=progress, stream=stream))
    finally:
        be.close()
    return manifest


def _drive(manifest: Manifest, be: Backend, threads: int, show: Progress) -> None:
    """Submit the unfinished trials, at most ``be.slots`` at a time, and record every outcome."""
    root = manifest.root
    todo: deque[Trial] = deque()
    for t in manifest.trials:
        if (root / t.name / "summary.json").is_file():
            if manifest.entries[t.name]["status"] != "done":
                manifest.entries[t.name].update(status="done", error=None)
        else:
            manifest.entries[t.name].update(status="pending")
            todo.append(t)
    manifest.save()
    show.total = len(todo)
    skipped = len(manifest.trials) - len(todo)
    if skipped:
        show.event(f"sweep: {skipped} of {len(manifest.trials)} trials already finished, skipped")
    running: dict[str, Trial] = {}
    done = failed = 0
    try:
        while todo or running:
            while todo and len(running) < be.slots:
                t = todo.popleft()
                pid = be.submit(trial_spec(root, t, threads))
                attempts = int(manifest.entries[t.name].get("attempts", 0)) + 1
                manifest.update(
                    t,
                    status="running",
                    attempts=attempts,
                    error=None,
                    started=time.strftime("%H:%M:%S"),
                    pid=pid,
                )
                running[t.name] = t
            show.update(done, len(running), failed, len(todo))
            for outcome in be.wait(1.0):
                t = running.pop(outcome["name"])
                ok = outcome.get("status") == "done"
                fields = {k: outcome.get(k) for k in ("duration_s", "cpu_s", "action", "host", "pid")}
                manifest.update(
                    t,
                    status="done" if ok else "failed",
                    error=None if ok else outcome.get("error", "unknown error"),
                    traceback=None if ok else outcome.get("traceback"),
                    **{k: v for k, v in fields.items() if v is not None},
                )
                if ok:
                    done += 1
                    dur = float(outcome.get("duration_s") or 0.0)
                    show.event(f"  done    {t.name} ({outcome.get('action')}, {dur:.1f} s)", dur)
                else:
                    failed += 1
                    show.event(f"  FAILED  {t.name}: {outcome.get('error')}")
            show.update(done, len(running), failed, len(todo))
    finally:
        for t in running.values():  # interrupted: resumed by the next run of the sweep
            manifest.entries[t.name]["status"] = "pending"
        manifest.save()
        show.close()
