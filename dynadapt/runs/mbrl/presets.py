"""Presets of kind ``mbrl``: ``pets-<family>`` (CPU-scale) and the published settings
(``pets-pendulum-paper``, ``pets-cartpole-paper``)."""

from __future__ import annotations

import functools

from dynadapt.models.dynamics import ModelConfig
from dynadapt.planning.cem import CEMConfig
from dynadapt.planning.mpc import MPCConfig
from dynadapt.runs.mbrl.loop import MBRLConfig
from dynadapt.runs.preset import preset
from dynadapt.runs.settings import Evaluation, OneTask


# ----------------------------------------------------------------------------------------------- PETS
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
    return MBRLConfig(
        task=OneTask(env="pendulum"),
        episodes=10,
        random_episodes=1,
        eval=Evaluation(every=1, episodes=2),
        target_return=-200.0,
        model=ModelConfig(ensemble_size=5, hidden=(64, 64), activation="silu", lr=2e-3, batch_size=64),
        planner=CEMConfig(population=200, elites=20, iterations=3, alpha=0.1),
        mpc=MPCConfig(horizon=25, particles=5, propagation="ts_inf"),
    )


@preset(
    "pets-pendulum-paper",
    "mbrl",
    "Pendulum with PETS-scale settings: ensemble 5 of 3x200, CEM 400x25, 20 particles",
)
def pets_pendulum_paper() -> MBRLConfig:
    return MBRLConfig(
        task=OneTask(env="pendulum"),
        episodes=15,
        random_episodes=1,
        eval=Evaluation(every=1, episodes=5),
        target_return=-200.0,
        model=ModelConfig(ensemble_size=5, hidden=(200, 200, 200), activation="silu", batch_size=32),
        planner=CEMConfig(population=400, elites=40, iterations=5, alpha=0.1),
        mpc=MPCConfig(horizon=25, particles=20, propagation="ts_inf"),
    )


@preset(
    "pets-cartpole",
    "mbrl",
    "PETS-style MPC on cart-pole swing-up (CPU-scale: ensemble 5 of 2x200, CEM 200x20)",
)
def pets_cartpole() -> MBRLConfig:
    return MBRLConfig(
        task=OneTask(env="cartpole"),
        episodes=15,
        random_episodes=1,
        eval=Evaluation(every=2, episodes=2),
        target_return=170.0,
        model=ModelConfig(ensemble_size=5, hidden=(200, 200), activation="silu", batch_size=64),
        planner=CEMConfig(population=200, elites=20, iterations=4, alpha=0.1),
        mpc=MPCConfig(horizon=20, particles=5, propagation="ts_inf"),
    )


@preset(
    "pets-cartpole-paper",
    "mbrl",
    "PETS cart-pole (Chua et al. 2018): PE 5x(3x500), CEM 400/40/5, H 25, 20 particles, 50 trials",
)
def pets_cartpole_paper() -> MBRLConfig:
    return MBRLConfig(
        task=OneTask(env="cartpole"),
        episodes=51,
        random_episodes=1,
        eval=Evaluation(every=5, episodes=5),
        target_return=170.0,
        model=ModelConfig(
            ensemble_size=5,
            hidden=(500, 500, 500),
            activation="silu",
            lr=1e-3,
            weight_decay=2.5e-4,
            batch_size=32,
        ),
        planner=CEMConfig(population=400, elites=40, iterations=5, alpha=0.1),
        mpc=MPCConfig(horizon=25, particles=20, propagation="ts_inf"),
    )


# ------------------------------------------------------------------ PETS on the other task families
def _pets_family(
    env: str, episodes: int, hidden: tuple[int, ...], population: int, horizon: int
) -> MBRLConfig:
    """CPU-scale PETS on any family: ensemble 5, CEM N/10 elites, 3 iterations, TS-inf with 5 particles."""
    return MBRLConfig(
        task=OneTask(env=env),
        episodes=episodes,
        random_episodes=1,
        eval=Evaluation(every=2, episodes=1),
        model=ModelConfig(ensemble_size=5, hidden=hidden, activation="silu", batch_size=64),
        planner=CEMConfig(population=population, elites=population // 10, iterations=3, alpha=0.1),
        mpc=MPCConfig(horizon=horizon, particles=5, propagation="ts_inf"),
    )


_FAMILY_PRESETS: dict[str, tuple[int, tuple[int, ...], int, int, str]] = {
    "reacher": (20, (200, 200), 300, 15, "a two-link reacher (link lengths as task parameters)"),
    "half_cheetah_body": (10, (200, 200, 200), 200, 20, "the half-cheetah with HyperCRL's body variants"),
    "half_cheetah_cripple": (10, (200, 200, 200), 200, 20, "the half-cheetah with a crippled joint (GrBAL)"),
    "ant_cripple": (10, (200, 200, 200), 200, 20, "the ant with a crippled leg (GrBAL)"),
    "pusher": (20, (200, 200), 300, 20, "pushing a block across a two-friction table"),
    "door": (20, (200, 200), 300, 20, "opening a door with a pull bar, knob or lever"),
}

for _env, (_episodes, _hidden, _population, _horizon, _what) in _FAMILY_PRESETS.items():
    preset(
        f"pets-{_env}",
        "mbrl",
        f"PETS-style MPC on {_what} (CPU-scale; task parameters via env_params.*)",
    )(functools.partial(_pets_family, _env, _episodes, _hidden, _population, _horizon))
