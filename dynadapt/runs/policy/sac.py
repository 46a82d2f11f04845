"""Kind ``sac``: soft actor-critic on one task (Haarnoja et al. 2018), the model-free baseline of MBPO.

::

    for each episode:
        for each env step:
            act: uniformly random for the first `random_steps` env steps, then a ~ π(·|s)
            store the transition in the real buffer
            after the random phase: `updates_per_step` (G) SAC updates on real minibatches
        every `eval.every` episodes: `eval.episodes` deterministic episodes (a = tanh(μ), no data kept)
    (with stop_at_target: end at the first evaluation whose mean return reaches target_return)

One step of the run skeleton is one training episode (and its evaluation when due).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from dynadapt.policy.sac import SACConfig
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.policy.base import EvaluatedPolicyRun, Means, check_policy_settings
from dynadapt.runs.settings import Evaluation, OneTask, RunConfig, check


@dataclass
class SACRunConfig(RunConfig):
    """Soft actor-critic on one task (the model-free baseline)."""

    task: OneTask = field(default_factory=OneTask)
    """The task played."""
    episodes: int = 50
    """Training episodes in total."""
    random_steps: int = 1000
    """Initial env steps with uniformly random actions; gradient updates start after them."""
    updates_per_step: int = 1
    """SAC gradient steps per env step (G)."""
    eval: Evaluation = field(default_factory=Evaluation)
    """Deterministic evaluation every eval.every episodes and after the last (0: only at the end)."""
    buffer_capacity: int = 1_000_000
    """Real replay buffer size."""
    target_return: float | None = None
    """Report the env steps at which the mean evaluation return first reaches this (None: not reported)."""
    stop_at_target: bool = False
    """End the run at the first evaluation that reaches target_return."""
    sac: SACConfig = field(default_factory=SACConfig)
    """Soft actor-critic settings."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_policy_settings(self)
        check(
            (not self.stop_at_target or self.target_return is not None, "stop_at_target needs target_return")
        )


class SACRun(EvaluatedPolicyRun):
    kind = "sac"
    cfg: SACRunConfig
    state_fields = ("episode", "env_steps", "evals")

    def build(self) -> None:
        task = self.cfg.task
        self.build_policy(task.family, task.make())

    def components(self) -> dict[str, Stateful]:
        return {"sac": self.sac, "buffer": self.buffer}

    # ------------------------------------------------------------------------------------------ one step
    def step(self) -> dict[str, Any]:
        obs, _ = self.env.reset(seed=self.env_seed + self.episode)
        ret, t, done, logged = 0.0, 0, False, Means()
        while not done:
            act = self.random_action() if self.warmup() else self.sac.act(obs).numpy()
            obs, reward, done = self.env_step(obs, act, t)
            ret, t = ret + reward, t + 1
            if not self.warmup():
                logged.add(*self.sac_updates(self.real_batch))
        self.episode += 1
        return self.episode_row(ret, t) | logged.result() | self.evaluation()

    def real_batch(self) -> dict[str, Tensor]:
        return self.buffer.sample(self.cfg.sac.batch_size, self.sac.generator)

    # --------------------------------------------------------------------------------------- outputs
    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "kind": self.kind,
            "preset": self.preset,
            "env": cfg.task.env,
            "env_params": cfg.task.env_params,
            "seed": cfg.seed,
            "episodes": self.episode,
            "env_steps": self.env_steps,
            "gradient_steps": self.sac.updates,
            **self.eval_results(),
            "settings": self.settings(),
        }
