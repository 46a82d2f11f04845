"""Pieces every loop (PETS-style MBRL, continual, meta) builds the same way."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from dynadapt.planning import MPCAgent, MPCConfig, ObjectiveFactory, PlannerConfig, build_planner
from dynadapt.runs.config import to_dict
from dynadapt.runs.rundir import RunDir


def derive_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent seeds from one (``numpy.random.SeedSequence.spawn``): one per random stream."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def action_bounds(env: gym.Env) -> tuple[np.ndarray, np.ndarray]:
    """``(low[A], high[A])`` of an env's Box action space, as float32."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"planning needs a Box action space, got {type(space).__name__}")
    return np.asarray(space.low, dtype=np.float32), np.asarray(space.high, dtype=np.float32)


def make_mpc_agent(
    planner_cfg: PlannerConfig,
    mpc: MPCConfig,
    objective_factory: ObjectiveFactory,
    low: np.ndarray,
    high: np.ndarray,
    generator: torch.Generator,
) -> MPCAgent:
    """A receding-horizon agent around the configured planner (all its randomness from ``generator``)."""
    planner = build_planner(planner_cfg, torch.as_tensor(low), torch.as_tensor(high), mpc.horizon, generator)
    return MPCAgent(
        planner,
        objective_factory,
        horizon=mpc.horizon,
        act_dim=low.shape[0],
        low=low,
        high=high,
        replan_every=mpc.replan_every,
    )


class RunBase:
    """What every loop's runner shares: its config, run directory, preset name and progress flag, the
    per-run torch thread count, and the ``config.json`` content (see :mod:`dynadapt.runs.launch`)."""

    kind: ClassVar[str] = ""
    """The run kind this runner registers as (``"mbrl"``, ``"continual"``, ``"meta"``)."""

    def __init__(self, cfg: Any, rundir: RunDir, preset: str = "", progress: bool = True) -> None:
        self.cfg = cfg
        self.rundir = rundir
        self.preset = preset
        self.progress = progress
        if cfg.threads:
            torch.set_num_threads(cfg.threads)

    def config_dict(self) -> dict[str, Any]:
        """The resolved config as saved in ``config.json``."""
        return {"kind": self.kind, "preset": self.preset, **to_dict(self.cfg)}
