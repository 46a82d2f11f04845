"""The sweep's progress display: trials done, running, failed, and an estimate of the time left."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """One status line (rewritten in place on a terminal) plus one line per finished or failed trial.

    The time left is the mean wall time of the trials finished in this session times the trials left,
    divided by the number of trials that run at once (a running trial counts as half done).
    """

    def __init__(self, total: int, slots: int, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total = total
        self.slots = max(1, slots)
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.durations: list[float] = []
        self.start = time.perf_counter()
        self.last_line = ""
        self.last_print = 0.0

    def eta(self, pending: int, running: int) -> float | None:
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        return mean * (pending + 0.5 * running) / self.slots

    def status(self, done: int, running: int, failed: int, pending: int) -> str:
        eta = self.eta(pending, running)
        left = "?" if eta is None else format_duration(eta)
        elapsed = format_duration(time.perf_counter() - self.start)
        return (
            f"sweep: {done}/{self.total} done, {running} running, {failed} failed, {pending} pending"
            f" | elapsed {elapsed}, left ~{left}"
        )

    def event(self, text: str, duration: float | None = None) -> None:
        if duration is not None:
            self.durations.append(duration)
        if not self.enabled:
            return
        if self.tty and self.last_line:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        if self.tty and self.last_line:
            self.stream.write(self.last_line)
        self.stream.flush()

    def update(self, done: int, running: int, failed: int, pending: int, force: bool = False) -> None:
        if not self.enabled:
            return
        line = self.status(done, running, failed, pending)
        now = time.perf_counter()
        if self.tty:
            if line != self.last_line or now - self.last_print > 1:
                self.stream.write("\r\033[K" + line)
                self.stream.flush()
                self.last_print = now
        elif force or (line.split(" | ")[0] != self.last_line.split(" | ")[0]):
            self.stream.write(line + "\n")
            self.stream.flush()
        self.last_line = line

    def close(self) -> None:
        if self.enabled and self.tty and self.last_line:
            self.stream.write("\n")
            self.stream.flush()
