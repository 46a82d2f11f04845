"""The config fields the SAC-based kinds share; each kind's config inherits the groups it uses and declares
only its own fields (redeclaring a shared one only to change its default).

* :class:`PolicySettings`: every SAC-based kind (episodes, warm-up, G, real buffer, SAC).
* :class:`EvaluatedSettings`: the kinds evaluated every ``eval.every`` episodes (``sac``, ``mbpo``,
  ``mbpo-meta``), with an optional target return.
* :class:`ModelSettings`: the kinds that train SAC on model rollouts (``mbpo``, ``mbpo-continual``,
  ``mbpo-meta``): the dynamics model and the rollout settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dynadapt.models.dynamics import ModelConfig
from dynadapt.policy.mbpo import MBPOConfig
from dynadapt.policy.sac import SACConfig
from dynadapt.runs.settings import Evaluation, RunConfig, check


@dataclass
class PolicySettings(RunConfig):
    """Fields of every SAC-based kind."""

    episodes: int = 50
    """Training episodes in total."""
    random_steps: int = 5000
    """Initial env steps with uniformly random actions (MBPO: 5000); SAC updates and the model start after."""
    updates_per_step: int = 20
    """SAC gradient steps per env step (G; MBPO: 20, HalfCheetah 40)."""
    buffer_capacity: int = 1_000_000
    """Real replay buffer size (mbpo-continual: of each task's buffer)."""
    sac: SACConfig = field(default_factory=SACConfig)
    """Soft actor-critic settings."""

    def __post_init__(self) -> None:
        super().__post_init__()
        least = {"episodes": 1, "random_steps": 0, "updates_per_step": 0, "buffer_capacity": 1}
        check(*((getattr(self, name) >= low, f"{name} must be >= {low}") for name, low in least.items()))


@dataclass
class ModelSettings(PolicySettings):
    """Fields of the kinds that train SAC on branched rollouts of a learned model."""

    model: ModelConfig = field(
        default_factory=lambda: ModelConfig(
            ensemble_size=1, hidden=(64, 64), activation="relu", head="deterministic"
        )
    )
    """Dynamics model (mbpo-continual: the generated network; mbpo-continual and mbpo-meta need
    ensemble_size=1)."""
    mbpo: MBPOConfig = field(default_factory=MBPOConfig)
    """Model rollout settings."""


@dataclass
class EvaluatedSettings(PolicySettings):
    """Fields of the kinds evaluated every ``eval.every`` episodes."""

    eval: Evaluation = field(default_factory=Evaluation)
    """Deterministic evaluation every eval.every episodes and after the last (0: only at the end)."""
    target_return: float | None = None
    """Report the env steps at which the mean evaluation return first reaches this (None: not reported)."""
    stop_at_target: bool = False
    """End the run at the first evaluation that reaches target_return."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            (not self.stop_at_target or self.target_return is not None, "stop_at_target needs target_return")
        )


def mbpo_settings(cfg: ModelSettings) -> dict[str, Any]:
    """The model and rollout settings reported in the summary of every MBPO kind."""
    model, mbpo = cfg.model, cfg.mbpo
    return {
        "ensemble_size": model.ensemble_size,
        "num_elites": model.num_elites or model.ensemble_size,
        "model_hidden": list(model.hidden),
        "rollout_schedule": list(mbpo.rollout_schedule),
        "rollout_batch_size": mbpo.rollout_batch_size,
        "model_train_freq": mbpo.model_train_freq,
        "real_ratio": mbpo.real_ratio,
    }
