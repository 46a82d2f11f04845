"""Presets of kind ``mbrl``: ``pets-<family>`` (CPU-scale) and the published settings
(``pets-pendulum-paper``, ``pets-cartpole-paper``).

The PETS-scale ``-paper`` presets train each member on its own bootstrap sample of the data
(``model.bootstrap``, drawn once per fit as in PETS ``BNN.train``); the CPU-scale ones keep the model's
default (``bootstrap=False``: every member sees the whole training split each epoch)."""

from __future__ import annotations

import functools
from typing import Any

from dynadapt.envs import family_names
from dynadapt.models.dynamics import ModelConfig
from dynadapt.planning.cem import CEMConfig
from dynadapt.planning.mpc import MPCConfig
from dynadapt.runs.mbrl.loop import MBRLConfig
from dynadapt.runs.preset import preset
from dynadapt.runs.settings import Evaluation, OneTask


# ----------------------------------------------------------------------------------------------- PETS
def _pets(
    env: str,
    episodes: int,
    evaluation: tuple[int, int],
    hidden: tuple[int, ...],
    cem: tuple[int, int, int],
    mpc: tuple[int, int],
    target_return: float | None = None,
    **model: Any,
) -> MBRLConfig:
    """PETS on ``env`` for ``episodes`` episodes, the first one random; ``evaluation``: (every, episodes);
    an ensemble of 5 SiLU networks of ``hidden`` units (further :class:`ModelConfig` settings in ``model``);
    ``cem``: (population, elites, iterations), momentum 0.1; ``mpc``: (horizon, particles), TS-inf."""
    population, elites, iterations = cem
    horizon, particles = mpc
    return MBRLConfig(
        task=OneTask(env=env),
        episodes=episodes,
        random_episodes=1,
        eval=Evaluation(*evaluation),
        target_return=target_return,
        model=ModelConfig(ensemble_size=5, hidden=hidden, activation="silu", **model),
        planner=CEMConfig(population=population, elites=elites, iterations=iterations, alpha=0.1),
        mpc=MPCConfig(horizon=horizon, particles=particles, propagation="ts_inf"),
    )


@preset(
    "pets-pendulum",
    "mbrl",
    "PETS-style MPC on Pendulum (CPU-scale: ensemble 5 of 2x64, CEM 200x3 over H 25, ~4 min)",
)
def pets_pendulum() -> MBRLConfig:
    """CPU-scale PETS on Pendulum.

    The horizon matters more than the population here: with H = 15 (0.75 s) the planner cannot see the
    pumping a 2 N·m torque needs to swing the pole up from rest and sometimes stays at the bottom (-1000
    episodes after the model was already accurate); H = 25 (1.25 s) with three CEM iterations costs about
    the same per step as H = 15 with four.
    """
    return _pets("pendulum", 10, (1, 2), (64, 64), (200, 20, 3), (25, 5), -200.0, lr=2e-3, batch_size=64)


@preset(
    "pets-pendulum-paper",
    "mbrl",
    "Pendulum with PETS-scale settings: ensemble 5 of 3x200, CEM 400x25, 20 particles",
)
def pets_pendulum_paper() -> MBRLConfig:
    training = {"batch_size": 32, "bootstrap": True}
    return _pets("pendulum", 15, (1, 5), (200, 200, 200), (400, 40, 5), (25, 20), -200.0, **training)


@preset(
    "pets-cartpole",
    "mbrl",
    "PETS-style MPC on cart-pole swing-up (CPU-scale: ensemble 5 of 2x200, CEM 200x20)",
)
def pets_cartpole() -> MBRLConfig:
    return _pets("cartpole", 15, (2, 2), (200, 200), (200, 20, 4), (20, 5), 170.0, batch_size=64)


@preset(
    "pets-cartpole-paper",
    "mbrl",
    "PETS cart-pole (Chua et al. 2018): PE 5x(3x500), CEM 400/40/5, H 25, 20 particles, 50 trials",
)
def pets_cartpole_paper() -> MBRLConfig:
    training = {"lr": 1e-3, "weight_decay": 2.5e-4, "batch_size": 32, "bootstrap": True}  # as in PETS
    return _pets("cartpole", 51, (5, 5), (500, 500, 500), (400, 40, 5), (25, 20), 170.0, **training)


# ------------------------------------------------------------------ PETS on the other task families
def _pets_family(
    env: str, episodes: int, hidden: tuple[int, ...], population: int, horizon: int
) -> MBRLConfig:
    """CPU-scale PETS on any family: ensemble 5, CEM N/10 elites, 3 iterations, TS-inf with 5 particles."""
    return _pets(
        env, episodes, (2, 1), hidden, (population, population // 10, 3), (horizon, 5), batch_size=64
    )


_FAMILY_PRESETS: dict[str, tuple[int, tuple[int, ...], int, int, str]] = {
    "reacher": (20, (200, 200), 300, 15, "a two-link reacher (link lengths as task parameters)"),
    "half_cheetah_body": (10, (200, 200, 200), 200, 20, "the half-cheetah with HyperCRL's body variants"),
    "half_cheetah_cripple": (10, (200, 200, 200), 200, 20, "the half-cheetah with a crippled joint (GrBAL)"),
    "ant_cripple": (10, (200, 200, 200), 200, 20, "the ant with a crippled leg (GrBAL)"),
    "half_cheetah_hfield": (10, (200, 200, 200), 200, 20, "the half-cheetah on sloped terrain (GrBAL)"),
    "half_cheetah_pier": (10, (200, 200, 200), 200, 20, "the half-cheetah on floating blocks (GrBAL)"),
    "pusher": (20, (200, 200), 300, 20, "pushing a block across a two-friction table"),
    "door": (20, (200, 200), 300, 20, "opening a door with a pull bar, knob or lever"),
}
_PANDA_PRESETS: dict[str, tuple[int, tuple[int, ...], int, int, str]] = {
    "panda_pusher": (20, (200, 200), 300, 15, "HyperCRL's Panda pushing a block of two densities"),
    "panda_door": (15, (200, 200, 200), 300, 10, "HyperCRL's Panda opening a door (bar, knob, lever)"),
}
"""The Panda families (robosuite extra): registered only where their families are, as the families
themselves (building them without robosuite would fail). Horizons as HyperCRL's relative to the stand-ins
(door H 10); sized to run, not tuned."""
_FAMILY_PRESETS.update({k: v for k, v in _PANDA_PRESETS.items() if k in family_names()})

for _env, (_episodes, _hidden, _population, _horizon, _what) in _FAMILY_PRESETS.items():
    preset(
        f"pets-{_env}",
        "mbrl",
        f"PETS-style MPC on {_what} (CPU-scale; task parameters via env_params.*)",
    )(functools.partial(_pets_family, _env, _episodes, _hidden, _population, _horizon))
