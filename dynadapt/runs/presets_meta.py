"""Presets of the meta-learning loop: ``grbal-``, ``rebal-``, ``mb-``, ``mbde-<family>``.

Families: ``pendulum`` (CPU-scale: per-episode random mass and length, a mid-episode change at step 50;
held-out heavier/longer pendulums), ``half_cheetah_cripple`` and ``ant_cripple`` (GrBAL's disabled joint /
crippled leg with the release's train/test splits, reference §5.4; short CPU budgets by default, the
release settings are 50 iterations × 5 rollouts × 1000 steps, RS N = 500, H = 10, M = K = 16).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dynadapt.meta.grbal import GrBALConfig
from dynadapt.meta.rebal import ReBALConfig
from dynadapt.models.dynamics import ModelConfig
from dynadapt.planning.mpc import MPCConfig
from dynadapt.planning.rs import RSConfig
from dynadapt.runs.meta import MetaConfig
from dynadapt.runs.presets import preset

PENDULUM_TRAIN_RANGES: dict[str, Any] = {"mass": [0.6, 1.4], "length": [0.7, 1.3]}
"""Training perturbations of the CPU-scale family (uniform per episode and after the switch)."""
PENDULUM_TEST = [{"mass": 2.0, "length": 1.6}, {"mass": 0.35, "length": 0.5}, {"mass": 1.8, "length": 0.6}]
"""Held-out perturbations, outside the training ranges."""


def _pendulum(method: str) -> MetaConfig:
    return MetaConfig(
        env="pendulum",
        method=method,  # type: ignore[arg-type]
        train_tasks=[{}],
        train_ranges=dict(PENDULUM_TRAIN_RANGES),
        test_tasks=[dict(t) for t in PENDULUM_TEST],
        switch_at=100,
        iterations=6,
        random_iterations=1,
        episodes_per_iter=4,
        eval_episodes=2,
        model=ModelConfig(ensemble_size=1, hidden=(64, 64), activation="relu", head="deterministic", lr=1e-3),
        grbal=GrBALConfig(M=8, K=8, inner_lr=0.01, meta_batch=16, max_epochs=30, patience=4),
        rebal=ReBALConfig(M=8, K=8, rnn_hidden=32, meta_batch=16, max_epochs=30, patience=4),
        planner=RSConfig(population=300),
        mpc=MPCConfig(horizon=15, particles=1, propagation="expectation"),
    )


def _mujoco(env: str, method: str) -> MetaConfig:
    return MetaConfig(
        env=env,
        method=method,  # type: ignore[arg-type]
        iterations=3,
        random_iterations=1,
        episodes_per_iter=2,
        episode_steps=200,
        eval_episodes=1,
        model=ModelConfig(ensemble_size=1, hidden=(256, 256), activation="relu", head="deterministic"),
        grbal=GrBALConfig(M=16, K=16, inner_lr=0.001, learn_inner_lr=True, meta_batch=10, max_epochs=20),
        rebal=ReBALConfig(M=16, K=16, rnn_hidden=64, meta_batch=10, max_epochs=20),
        planner=RSConfig(population=500),
        mpc=MPCConfig(horizon=10, particles=1, propagation="expectation"),
    )


_DESCRIPTIONS = {
    "grbal": "GrBAL (one meta-learned gradient step on the last M transitions)",
    "rebal": "ReBAL (GRU context over the last M transitions)",
    "mb": "MB baseline (same model and planner, no adaptation)",
    "mbde": "MB+DE (plain model, online gradient steps on the last M transitions)",
}
_FAMILIES = {
    "pendulum": ("pendulum: random mass/length per episode, change at step 100", _pendulum),
    "half_cheetah_cripple": ("crippled half-cheetah (train joints 1-5, test bthigh), short budget", None),
    "ant_cripple": ("crippled ant (train legs 0-2, test leg 3), short budget", None),
}


def _register(method: str, family: str, text: str, make: Callable[[], MetaConfig]) -> None:
    name = f"{method}-{family}"
    preset(name, "meta", f"{_DESCRIPTIONS[method]} on {text}")(make)


for _method in _DESCRIPTIONS:
    for _family, (_text, _fn) in _FAMILIES.items():
        if _fn is not None:
            _register(_method, _family, _text, lambda m=_method, f=_fn: f(m))  # type: ignore[misc]
        else:
            _register(_method, _family, _text, lambda m=_method, e=_family: _mujoco(e, m))  # type: ignore[misc]
