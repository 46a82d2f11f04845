"""Running one trial, in whatever process a backend gives it (a local worker process or a Ray worker).

:func:`execute_trial` is the whole contract between the sweep and its backends: it takes a plain dict
(picklable, JSON-safe) and returns one, and never raises: an exception inside the trial is returned as
``{"status": "failed", "error": "Type: message", "traceback": ...}``.
"""

from __future__ import annotations

import os
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

from dynadapt.checks import safe_name
from dynadapt.errors import DynadaptError


def limit_threads(threads: int) -> None:
    """Cap the math libraries' thread pools of this process at ``threads`` (before and after torch import)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def warm_up() -> None:
    """Import what every trial needs once per process: torch (with the compiler modules its optimisers
    import lazily on first use, seconds of a first trial otherwise), the envs, the loops, their presets
    and the plotting modules."""
    import torch

    import dynadapt.runs.launch
    import dynadapt.runs.plots
    import dynadapt.runs.presets  # noqa: F401
    from dynadapt.runs.kinds import all_kinds

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    all_kinds()


def trial_spec(root: Path, trial: Any, threads: int) -> dict[str, Any]:
    """The dict :func:`execute_trial` takes for ``trial`` (a :class:`~dynadapt.sweep.grid.Trial`)."""
    return {
        "name": trial.name,
        "root": str(Path(root).resolve()),
        "preset": trial.preset,
        "overrides": [list(kv) for kv in trial.overrides],
        "seed": trial.seed,
        "threads": threads,
    }


def execute_trial(spec: dict[str, Any]) -> dict[str, Any]:
    """Run (or resume, or skip) one trial; returns its outcome, never raises.

    The run directory decides: with ``summary.json`` the trial is already finished; with ``config.json`` it
    is resumed from its last checkpoint (:func:`dynadapt.runs.launch.resume`); otherwise it starts afresh
    (a directory left without a config by a kill during creation is cleared first). A per-trial file lock
    makes sure that two processes never write the same run, e.g. a worker orphaned by a killed sweep that
    has not yet exited.
    """
    out: dict[str, Any] = {"name": spec["name"], "pid": os.getpid(), "host": os.uname().nodename}
    lock = None
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        threads = int(spec["threads"])
        limit_threads(threads)
        warm_up()
        # The trial's time starts here: a fresh worker's one-off imports are not the trial's.
        wall0, cpu0 = time.perf_counter(), time.process_time()
        from dynadapt.io import FileLock
        from dynadapt.runs import launch
        from dynadapt.runs.config import apply_overrides
        from dynadapt.runs.presets import get_preset

        root = Path(spec["root"])
        name = safe_name(spec["name"], "trial name")  # a directory of the sweep's own, never a path out
        run_dir = root / name
        locks = root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        lock = FileLock(locks / f"{name}.lock", wait=True).acquire()
        if run_dir.is_symlink():
            raise DynadaptError(f"{run_dir} is a symbolic link, not a run directory of this sweep")
        if (run_dir / "summary.json").is_file():
            out["action"] = "skipped"
        elif (run_dir / "config.json").is_file():
            out["action"] = "resumed"
            launch.resume(run_dir, progress=False)
        else:
            out["action"] = "started"
            if run_dir.is_dir():  # left by a kill during its creation by an earlier version
                shutil.rmtree(run_dir)
            overrides = [(str(k), str(v)) for k, v in spec["overrides"]]
            if not any(k == "threads" for k, _ in overrides):
                overrides.append(("threads", str(threads)))
            preset = get_preset(spec["preset"])
            cfg = apply_overrides(preset.make(), [*overrides, ("seed", str(spec["seed"]))])
            launch.start(preset, cfg, run_dir, progress=False)
        out["status"] = "done"
    except Exception as e:
        out["status"] = "failed"
        first = (str(e).strip().splitlines() or [""])[0][:500]
        out["error"] = f"{type(e).__name__}: {first}"  # one line; the traceback has the rest
        out["traceback"] = traceback.format_exc()[-4000:]
    finally:
        if lock is not None:
            lock.release()
    out["duration_s"] = time.perf_counter() - wall0
    out["cpu_s"] = time.process_time() - cpu0
    return out
