"""The PETS presets carry the settings their descriptions state."""

from __future__ import annotations

from dynadapt.runs.mbrl.loop import MBRLConfig
from dynadapt.runs.presets import get_preset


def _pets(name: str) -> MBRLConfig:
    cfg = get_preset(name).make()
    assert isinstance(cfg, MBRLConfig)
    return cfg


def test_pets_cartpole_paper_has_the_published_settings() -> None:
    cfg = _pets("pets-cartpole-paper")
    assert cfg.task.env == "cartpole" and cfg.episodes == 51 and cfg.random_episodes == 1
    assert cfg.model.ensemble_size == 5 and cfg.model.hidden == (500, 500, 500)
    assert (cfg.model.lr, cfg.model.weight_decay, cfg.model.batch_size) == (1e-3, 2.5e-4, 32)
    assert cfg.model.bootstrap  # each member on its own bootstrap sample, as PETS
    assert (cfg.planner.population, cfg.planner.elites, cfg.planner.iterations) == (400, 40, 5)
    assert (cfg.mpc.horizon, cfg.mpc.particles, cfg.mpc.propagation) == (25, 20, "ts_inf")
    assert (cfg.eval.every, cfg.eval.episodes, cfg.target_return) == (5, 5, 170.0)


def test_pets_pendulum_paper_bootstraps_and_the_cpu_presets_do_not() -> None:
    paper = _pets("pets-pendulum-paper")
    assert paper.model.bootstrap and paper.model.batch_size == 32 and paper.model.hidden == (200, 200, 200)
    assert not _pets("pets-pendulum").model.bootstrap and not _pets("pets-cartpole").model.bootstrap


def test_cpu_presets() -> None:
    cfg = _pets("pets-pendulum")
    assert cfg.model.hidden == (64, 64) and cfg.model.lr == 2e-3 and cfg.mpc.horizon == 25
    assert (cfg.eval.every, cfg.eval.episodes, cfg.target_return) == (1, 2, -200.0)
    door = _pets("pets-door")  # every other family: CEM N/10 elites, 3 iterations, no target
    assert (door.planner.population, door.planner.elites, door.planner.iterations) == (300, 30, 3)
    assert door.target_return is None and (door.eval.every, door.eval.episodes) == (2, 1)
