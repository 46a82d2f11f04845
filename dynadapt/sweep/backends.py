"""Where trials run: a pool of local worker processes, or Ray tasks (a local Ray instance or a cluster).

A backend has ``slots`` (how many trials may run at once), ``submit(spec)`` (start one trial, a dict for
:func:`~dynadapt.sweep.worker.execute_trial`; returns the worker's process id when it is local),
``wait(timeout) -> [outcome, ...]`` (the trials that ended since the last call; each outcome names its
trial) and ``close()``. A trial whose process dies without answering (a segfault, the kernel's OOM
killer, ``kill -9``) comes back as a failed outcome; the sweep goes on.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import signal
import socket
import sys
from typing import Any, Protocol

from dynadapt.errors import DynadaptError
from dynadapt.sweep.worker import execute_trial, limit_threads, warm_up

BACKENDS = ("local", "ray")


class Backend(Protocol):
    slots: int

    def submit(self, spec: dict[str, Any]) -> int | None:
        """Start a trial; returns the id of the local process that runs it, when there is one."""
        ...

    def wait(self, timeout: float) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def default_workers() -> int:
    """Processes for the local backend: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _die_with_parent() -> None:
    """Linux: have the kernel kill this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``), so a
    sweep killed with ``kill -9`` leaves no worker behind still writing a run directory."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
        except OSError:
            pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _worker_main(conn: mpc.Connection, threads: int) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the sweep's to handle
    limit_threads(threads)
    warm_up()
    while True:
        try:
            spec = conn.recv()
        except EOFError:
            return
        if spec is None:
            return
        conn.send(execute_trial(spec))


class LocalBackend:
    """``workers`` long-lived worker processes, one trial each at a time.

    With ``fork`` (what ``dynadapt sweep`` asks for on Linux) the workers are forked from the sweep
    process after it has imported everything a trial needs (:func:`~dynadapt.sweep.worker.warm_up`), which
    saves every worker seconds of imports. That is safe only in a process that has not run torch
    computations (their thread pools do not survive a fork), so library callers get spawned workers.
    """

    def __init__(self, workers: int, threads: int, fork: bool = False) -> None:
        if workers < 1:
            raise DynadaptError("--workers must be at least 1")
        self.slots = workers
        self.threads = threads
        self.fork = fork and sys.platform.startswith("linux")
        self.ctx: Any = mp.get_context("fork" if self.fork else "spawn")
        if self.fork:
            warm_up()
        self.idle: list[tuple[Any, mpc.Connection]] = []
        self.busy: dict[str, tuple[Any, mpc.Connection]] = {}

    def _start_worker(self) -> tuple[Any, mpc.Connection]:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker_main, args=(child, self.threads), daemon=True)
        proc.start()
        child.close()
        return proc, parent

    def submit(self, spec: dict[str, Any]) -> int | None:
        proc, conn = self.idle.pop() if self.idle else self._start_worker()
        conn.send(spec)
        self.busy[spec["name"]] = (proc, conn)
        return int(proc.pid)

    def wait(self, timeout: float) -> list[dict[str, Any]]:
        if not self.busy:
            return []
        by_obj: dict[Any, str] = {}
        for name, (proc, conn) in self.busy.items():
            by_obj[conn] = name
            by_obj[proc.sentinel] = name
        ready = mpc.wait(list(by_obj), timeout=timeout)
        out: list[dict[str, Any]] = []
        for name in dict.fromkeys(by_obj[r] for r in ready):
            proc, conn = self.busy.pop(name)
            outcome: dict[str, Any] | None = None
            try:
                if conn.poll():
                    outcome = conn.recv()
            except (EOFError, OSError):
                outcome = None
            if outcome is not None:
                self.idle.append((proc, conn))
                out.append(outcome)
                continue
            proc.join(timeout=5)
            conn.close()
            code = proc.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            out.append({"name": name, "status": "failed", "error": f"the worker process died ({how})"})
        return out

    def close(self) -> None:
        for _, conn in self.idle:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc, _ in self.busy.values():
            proc.terminate()
        for proc, conn in [*self.idle, *self.busy.values()]:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
            conn.close()
        self.idle, self.busy = [], {}


class RayBackend:
    """Trials as Ray tasks (Ray core API), each reserving ``threads`` CPUs, at most ``slots`` at once.

    Without ``address`` a local Ray instance is started (and shut down at the end); with one, the sweep
    joins that cluster (``ray.init(address=...)``). On a cluster the sweep directory must be on a file
    system every node sees, and dynadapt must be installed on every node.
    """

    def __init__(self, workers: int | None, threads: int, address: str | None) -> None:
        import logging

        ray = _import_ray()

        self.ray = ray
        self.owned = False
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
                else:
                    cpus = (workers or default_workers()) * threads
                    ray.init(
                        num_cpus=cpus,
                        include_dashboard=False,
                        logging_level=logging.WARNING,
                        log_to_driver=False,
                    )
            except (ConnectionError, RuntimeError, ValueError) as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise DynadaptError(
                    f"cannot start or reach Ray{f' at {address}' if address else ''}: {first}"
                ) from None
            self.owned = True
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = workers or max(1, cluster_cpus // threads)
        self.task = ray.remote(num_cpus=threads, max_retries=0)(execute_trial)
        self.refs: dict[Any, str] = {}

    def submit(self, spec: dict[str, Any]) -> int | None:
        self.refs[self.task.remote(spec)] = spec["name"]
        return None

    def wait(self, timeout: float) -> list[dict[str, Any]]:
        if not self.refs:
            return []
        ready, rest = self.ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = self.ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        out: list[dict[str, Any]] = []
        for ref in ready:
            name = self.refs.pop(ref)
            try:
                out.append(self.ray.get(ref))
            except Exception as e:  # the task's worker died, or Ray lost it
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                out.append({"name": name, "status": "failed", "error": f"{type(e).__name__}: {first}"})
        return out

    def close(self) -> None:
        for ref in list(self.refs):
            self.ray.cancel(ref, force=True)
        self.refs = {}
        if self.owned:
            self.ray.shutdown()


def check_backend(name: str, address: str | None) -> None:
    """Bad backend arguments raise here, before the sweep writes anything."""
    if name not in BACKENDS:
        raise DynadaptError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "local" and address:
        raise DynadaptError("--address is for the ray backend (add --backend ray)")
    if name == "ray":
        _import_ray()
        if address:
            _check_reachable(address)


def _check_reachable(address: str) -> None:
    """Fail fast on a cluster address nobody listens at (``ray.init`` would retry for minutes)."""
    if address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise DynadaptError(f"--address expects HOST:PORT, ray://HOST:PORT or auto, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise DynadaptError(f"cannot reach a Ray cluster at {address}: {e.strerror or e}") from None


def _import_ray() -> Any:
    """Ray, imported only when its backend is chosen; a one-line error when it is not installed."""
    try:
        import ray
    except ImportError:
        raise DynadaptError(
            "the ray backend needs Ray, which is not installed: pip install 'dynadapt[ray]'"
        ) from None
    return ray


def make_backend(
    name: str, workers: int | None, threads: int, address: str | None, fork: bool = False
) -> Backend:
    check_backend(name, address)
    if name == "ray":
        return RayBackend(workers, threads, address)
    return LocalBackend(workers or default_workers(), threads, fork)
