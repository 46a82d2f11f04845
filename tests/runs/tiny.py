"""Tiny settings of one preset of every run kind (seconds each), shared by the tests that run every kind."""

from __future__ import annotations

from typing import Any

from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.preset import Preset
from dynadapt.runs.presets import get_preset

_PETS = [
    "episodes=3", "task.episode_steps=20", "eval.episodes=1", "model.hidden=16", "model.max_epochs=3",
    "model.ensemble_size=2", "planner.population=20", "planner.elites=4", "planner.iterations=1",
    "mpc.horizon=5", "mpc.particles=2",
]  # fmt: skip
_SAC = [
    "episodes=3", "task.episode_steps=10", "random_steps=6", "updates_per_step=2", "eval.episodes=1",
    "buffer_capacity=1000", "sac.hidden=8", "sac.batch_size=8",
]  # fmt: skip
_MODEL = [
    "model.hidden=8",
    "mbpo.epoch_length=10",
    "mbpo.rollout_batch_size=12",
    "mbpo.rollout_schedule=0,1,1,3",
]

_VALUE = [
    "value.updates=5", "value.rollout_starts=16", "value.critic.hidden=8", "value.critic.batch_size=16",
    "value.policy.hidden=8", "value.policy.train_steps=5",
]  # fmt: skip
_VALUE_META = [
    "iterations=3", "episodes_per_iter=1", "task.episode_steps=12", "eval.episodes=1",
    "planner.population=16", "mpc.horizon=3", "grbal.max_epochs=1", "grbal.M=4", "grbal.K=4",
    "model.hidden=8", "value.proposals=0.25", *_VALUE,
]  # fmt: skip
_SEGMENT = [
    "iterations=2", "episodes_per_iter=2", "task.episode_steps=12", "model.n=3", "model.hidden=8",
    "model.train_steps=10", "model.batch_size=16",
]  # fmt: skip
_GOAL = [
    *_SEGMENT, "goals=2", "controllers=mpc,inverse", "dynamics.hidden=8", "dynamics.ensemble_size=2",
    "dynamics.max_epochs=2", "planner.population=12", "planner.elites=3", "planner.iterations=1",
    "mpc.horizon=3", "mpc.particles=2",
]  # fmt: skip

_STREAM = [
    "stream=pendulum:tiny", "warmup_steps=50", "train_every=50", "model.hidden=8", "planner.population=16",
    "planner.elites=4", "planner.iterations=1", "mpc.horizon=4", "eval.episode_steps=20", "eval.window=8",
    "eval.horizon=3", "hnet.train_steps=10", "cadm.steps_per_session=10", "tmcl.steps_per_session=10",
    "grbal.steps_per_session=10", "cadm.encoder_hidden=16", "tmcl.encoder_hidden=16",
]  # fmt: skip

TINY: dict[str, tuple[str, list[str]]] = {
    "labelfree": ("hnet-stream-pendulum", _STREAM),
    "mbrl": ("pets-pendulum", _PETS),
    "continual": (
        "hypercrl-pendulum",
        [
            "task.tasks=2",
            "task.episode_steps=15",
            "random_steps=30",
            "episodes=1",
            "train_every=20",
            "train_steps=3",
            "buffer_capacity=25",
            "pred_horizon=3",
            "planner.population=16",
            "planner.elites=4",
            "planner.iterations=1",
            "eval.episodes=2",
        ],
    ),
    "meta": (
        "grbal-pendulum",
        [
            "iterations=3",
            "episodes_per_iter=1",
            "task.episode_steps=16",
            "task.switch_at=8",
            "eval.episodes=1",
            "planner.population=16",
            "mpc.horizon=4",
            "grbal.max_epochs=1",
            "grbal.M=4",
            "grbal.K=4",
        ],
    ),
    "sac": ("sac-pendulum", _SAC),
    "mbpo": (
        "mbpo-pendulum",
        [
            *_SAC,
            *_MODEL,
            "model.ensemble_size=2",
            "model.num_elites=1",
            "model.max_epochs=2",
            "mbpo.model_train_freq=5",
        ],
    ),
    "mbpo-continual": (
        "mbpo-hypercrl-pendulum",
        [
            "episodes=2",
            "task.episode_steps=15",
            "random_steps=10",
            "updates_per_step=1",
            "eval_episodes=1",
            "buffer_capacity=1000",
            "sac.hidden=8",
            "sac.batch_size=8",
            *_MODEL,
            "mbpo.model_train_freq=10",
            "task.tasks=2",
            "train_steps=5",
            "strategy.hnet.hidden=8",
        ],
    ),
    "mbpo-meta": (
        "mbpo-grbal-pendulum",
        [
            "episodes=3",
            "task.episode_steps=15",
            "random_steps=10",
            "updates_per_step=1",
            "eval.episodes=1",
            "buffer_capacity=1000",
            "sac.hidden=8",
            "sac.batch_size=8",
            *_MODEL,
            "mbpo.model_train_freq=10",
            "grbal.M=4",
            "grbal.K=4",
            "grbal.max_epochs=1",
            "grbal.steps_per_epoch=2",
            "grbal.meta_batch=4",
        ],
    ),
    "distill": (
        "distill-pendulum",
        [
            "pets.episodes=2",
            "task.episode_steps=15",
            "eval_episodes=1",
            "val_episodes=1",
            "iterations=2",
            "episodes_per_iteration=1",
            "pets.model.ensemble_size=2",
            "pets.model.hidden=8",
            "pets.model.max_epochs=2",
            "pets.planner.population=16",
            "pets.planner.elites=4",
            "pets.planner.iterations=1",
            "pets.mpc.horizon=4",
            "pets.mpc.particles=2",
            "policy.hidden=8",
            "policy.train_steps=20",
        ],
    ),
    "value-mpc": ("proposals-cartpole", [*_PETS, *_VALUE]),
    "value-meta": ("value-grbal-half_cheetah_cripple", _VALUE_META),
    "inverse": ("inverse-chunk-reacher", [*_SEGMENT, "reach=3"]),
    "goal-reach": ("goal-reacher", _GOAL),
}
"""Run kind -> (a preset of that kind, overrides that make it tiny)."""


def tiny(kind: str, *extra: str) -> tuple[Preset, Any]:
    """The tiny preset and config of ``kind`` (with ``extra`` overrides)."""
    name, overrides = TINY[kind]
    preset = get_preset(name)
    return preset, apply_overrides(preset.make(), parse_override_args([*overrides, *extra]))
