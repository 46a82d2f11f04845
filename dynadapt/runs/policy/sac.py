"""Kind ``sac``: soft actor-critic on one task (Haarnoja et al. 2018), the model-free baseline of MBPO.

::

    for each episode:
        for each env step:
            act: uniformly random for the first `random_steps` env steps, then a ~ π(·|s)
            store the transition in the real buffer
            after the random phase: `updates_per_step` (G) SAC updates on real minibatches
        every `eval.every` episodes: `eval.episodes` deterministic episodes (a = tanh(μ), no data kept)
    (with stop_at_target: end at the first evaluation whose mean return reaches target_return)

One step of the run skeleton is one training episode (and its evaluation when due): the episode is
:meth:`~dynadapt.runs.policy.base.PolicyRun.train_episode`, the evaluation
:meth:`~dynadapt.runs.policy.evaluation.EvaluatedPolicyRun.evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.policy.evaluation import EvaluatedPolicyRun
from dynadapt.runs.policy.settings import EvaluatedSettings
from dynadapt.runs.settings import OneTask


@dataclass
class SACRunConfig(EvaluatedSettings):
    """Soft actor-critic on one task (the model-free baseline)."""

    random_steps: int = 1000
    """Initial env steps with uniformly random actions; gradient updates start after them."""
    updates_per_step: int = 1
    """SAC gradient steps per env step (G)."""
    task: OneTask = field(default_factory=OneTask)
    """The task played."""


class SACRun(EvaluatedPolicyRun):
    kind = "sac"
    cfg: SACRunConfig
    state_fields = ("episode", "env_steps", "evals")

    def build(self) -> None:
        task = self.cfg.task
        self.build_policy(task.family, task.make())

    def components(self) -> dict[str, Stateful]:
        return {"sac": self.sac, "buffer": self.buffer}

    def played(self) -> dict[str, Any]:
        return {"env": self.cfg.task.env, "env_params": self.cfg.task.env_params}
