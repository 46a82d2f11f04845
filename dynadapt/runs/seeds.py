"""Named random streams: one run seed becomes an independent stream per name.

``seeds.torch("plan")`` is the planner's ``torch.Generator``, ``seeds.numpy("act")`` the random actions'
``numpy.random.Generator`` and ``seeds.int("env")`` a plain integer seed (episode resets); each is derived
from the run seed and the stream's *name* (``numpy.random.SeedSequence`` with the name's CRC-32 as spawn
key), so adding a stream never changes another one. Every generator handed out is remembered, so that the
checkpointer saves and restores all of them (:mod:`dynadapt.runs.checkpoint`).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import torch
from torch import Tensor


class Seeds:
    """The named random streams of one run (seed ``seed``)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.torch_streams: dict[str, torch.Generator] = {}
        self.numpy_streams: dict[str, np.random.Generator] = {}

    def int(self, name: str) -> int:
        """The seed of stream ``name`` (a 32-bit integer)."""
        key = zlib.crc32(name.encode())
        return int(np.random.SeedSequence(self.seed, spawn_key=(key,)).generate_state(1)[0])

    def torch(self, name: str, device: torch.device | str = "cpu") -> torch.Generator:
        """The ``torch.Generator`` of stream ``name`` on ``device`` (the same object on every call; a CPU
        stream's numbers do not depend on the run's device: data sampling draws them)."""
        if name not in self.torch_streams:
            self.torch_streams[name] = torch.Generator(device=device).manual_seed(self.int(name))
        return self.torch_streams[name]

    def numpy(self, name: str) -> np.random.Generator:
        """The ``numpy.random.Generator`` of stream ``name`` (the same object on every call)."""
        if name not in self.numpy_streams:
            self.numpy_streams[name] = np.random.default_rng(self.int(name))
        return self.numpy_streams[name]

    # ------------------------------------------------------------------------------ checkpointing
    def torch_states(self) -> dict[str, Tensor]:
        return {name: g.get_state() for name, g in self.torch_streams.items()}

    def numpy_states(self) -> dict[str, Any]:
        return {name: g.bit_generator.state for name, g in self.numpy_streams.items()}

    def restore(self, torch_states: dict[str, Tensor], numpy_states: dict[str, Any]) -> None:
        """Set every stream handed out so far to its saved state (a missing one is an error). A state saved
        on another kind of device (a CPU stream resumed on a GPU or the other way round: the generators
        differ) seeds the stream from its checksum instead: the run goes on, deterministically."""
        for name, g in self.torch_streams.items():
            state = torch_states[name]
            if state.numel() == g.get_state().numel():
                g.set_state(state)
            else:
                g.manual_seed(zlib.crc32(state.cpu().numpy().tobytes()) ^ self.int(name))
        for name, rng in self.numpy_streams.items():
            rng.bit_generator.state = numpy_states[name]
