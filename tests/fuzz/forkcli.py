"""Run many ``dynadapt`` command lines fast: one warm process imports the command line once, then forks a
fresh child process per command (a real process: its own exit status, stdout, stderr and limits).

``python -m tests.fuzz.forkcli CASES.json RESULTS.json``: CASES is a list of ``{"argv": [...], "cwd": DIR,
"fsize": bytes or null, "memory": bytes or null, "timeout": seconds}``; RESULTS the list of ``{"rc",
"stdout", "stderr", "seconds"}`` in the same order (``rc`` None: killed at its timeout). A child does what
``python -m dynadapt.cli`` does: exits with ``main()``'s return value, and an exception that escapes is
printed as a traceback (exit 1).

The parent only imports (and warms up, as a sweep's worker does) before it forks, so every child starts
from a clean thread pool; ``OMP_NUM_THREADS=1`` keeps each child on one core.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any


def child(case: dict[str, Any], out: str, err: str) -> None:
    """In the forked child: set up the case's process, run the command line, exit with its status."""
    os.chdir(case["cwd"])
    if case.get("fsize") is not None:  # a "full disk": writing past this size fails with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (case["fsize"], case["fsize"]))
    if case.get("memory") is not None:  # a machine with this much memory
        resource.setrlimit(resource.RLIMIT_DATA, (case["memory"], resource.RLIM_INFINITY))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
    from dynadapt.cli import main

    code: Any = 1
    try:
        code = main(case["argv"])
    except SystemExit as e:
        code = e.code
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)


def run_cases(cases: list[dict[str, Any]], scratch: str) -> list[dict[str, Any]]:
    results = []
    for i, case in enumerate(cases):
        out, err = os.path.join(scratch, f"{i}.out"), os.path.join(scratch, f"{i}.err")
        start = time.perf_counter()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                child(case, out, err)
            finally:
                os._exit(99)
        rc: int | None = None
        deadline = start + float(case.get("timeout", 60))
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.002)
        results.append(
            {"rc": rc, "stdout": _read(out), "stderr": _read(err), "seconds": time.perf_counter() - start}
        )
    return results


def _read(path: str) -> str:
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    cases_path, results_path = sys.argv[1], sys.argv[2]
    for module in ("dynadapt.cli", "dynadapt.sweep.compare", "dynadapt.sweep.report"):
        importlib.import_module(module)  # what every child needs, imported once
    from dynadapt.sweep.worker import warm_up

    warm_up()  # torch, the kinds, presets and plots, as a sweep's worker process does
    with open(cases_path) as f:
        cases = json.load(f)
    scratch = os.path.dirname(os.path.abspath(results_path))
    results = run_cases(cases, scratch)
    with open(results_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
