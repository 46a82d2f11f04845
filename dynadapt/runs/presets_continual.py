"""Continual presets: ``hypercrl-<family>`` and ``<baseline>-<family>`` (CPU-scale), ``*-paper`` variants.

CPU-scale settings are a few minutes per run on 2 cores; the paper-scale schedule follows reference §4.6
(cart-pole: 400 random steps, 3,000 MPC steps per task, train every 200 steps for 500 gradient steps,
B = 32, CEM N400 K40 I5 H25; pendulum: 400 random, 10,000 MPC steps, every 400 steps 1,000 gradient
steps, B = 20). Importing this module registers them (import it from ``dynadapt.runs.presets``).
"""

from __future__ import annotations

from collections.abc import Callable

from dynadapt.continual import STRATEGIES
from dynadapt.models.dynamics import ModelConfig
from dynadapt.nets.hypernet import HyperNetConfig
from dynadapt.planning.cem import CEMConfig
from dynadapt.planning.mpc import MPCConfig
from dynadapt.runs.continual import ContinualConfig
from dynadapt.runs.presets import preset

_CPU = {
    "pendulum": {"episodes": 6, "random_steps": 200, "train_every": 100, "train_steps": 200, "horizon": 15},
    "cartpole": {"episodes": 6, "random_steps": 400, "train_every": 200, "train_steps": 250, "horizon": 25},
}
_PAPER = {
    "pendulum": {"episodes": 50, "random_steps": 400, "train_every": 400, "train_steps": 1000, "horizon": 15},
    "cartpole": {"episodes": 15, "random_steps": 400, "train_every": 200, "train_steps": 500, "horizon": 25},
}
_HIDDEN = {"pendulum": ((32, 32), (16, 16)), "cartpole": ((256, 256), (128, 128))}
_CPU_HIDDEN = {"pendulum": ((32, 32), (16, 16)), "cartpole": ((64, 64), (32, 32))}


def _make(family: str, strategy: str, paper: bool) -> Callable[[], ContinualConfig]:
    def build() -> ContinualConfig:
        s = (_PAPER if paper else _CPU)[family]
        mnet, trunk = (_HIDDEN if paper else _CPU_HIDDEN)[family]
        kw = {"hnet": HyperNetConfig(hidden=trunk)} if strategy in ("hypercrl", "hnet") else {}
        return ContinualConfig(
            sequence=f"{family}:hypercrl",
            episodes=int(s["episodes"]),
            random_steps=int(s["random_steps"]),
            train_every=int(s["train_every"]),
            train_steps=int(s["train_steps"]),
            batch_size=20 if family == "pendulum" else 32,
            model=ModelConfig(ensemble_size=1, hidden=mnet, activation="relu", head="deterministic"),
            strategy=STRATEGIES[strategy](**kw),
            planner=CEMConfig(
                population=400 if paper else 200, elites=40 if paper else 20, iterations=5 if paper else 3
            ),
            mpc=MPCConfig(horizon=int(s["horizon"]), particles=1),
        )

    return build


for _family in _CPU:
    for _strategy in STRATEGIES:
        _name = "hypercrl" if _strategy == "hypercrl" else _strategy
        preset(
            f"{_name}-{_family}", "continual", f"{_strategy} on the {_family} HyperCRL sequence (CPU-scale)"
        )(_make(_family, _strategy, False))
        preset(
            f"{_name}-{_family}-paper",
            "continual",
            f"{_strategy} on the {_family} sequence, reference §4.6 schedule",
        )(_make(_family, _strategy, True))
