"""The periodic evaluation of the SAC-based kinds that have one (``sac``, ``mbpo``, ``mbpo-meta``;
``mbpo-continual`` evaluates every seen task at each task's end instead)."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from dynadapt.envs import Task, TaskFamily, get_task
from dynadapt.runs.policy.base import PolicyRun
from dynadapt.runs.policy.settings import EvaluatedSettings
from dynadapt.video import Camera


class EvaluatedPolicyRun(PolicyRun):
    """A SAC-based kind evaluated every ``eval.every`` episodes and after the last; its evaluation record
    ``evals`` holds ``(episode, env_steps, mean, std)`` of every evaluation."""

    cfg: EvaluatedSettings

    def build_policy(self, family: TaskFamily, env: gym.Env, context_dim: int = 0) -> None:
        super().build_policy(family, env, context_dim)
        self.evals: list[tuple[int, int, float, float]] = []

    def done(self) -> bool:
        cfg = self.cfg
        return self.episode >= cfg.episodes or (cfg.stop_at_target and self.reached() is not None)

    def step(self) -> dict[str, Any]:
        """One training episode and its evaluation when due."""
        return self.train_episode() | self.evaluation()

    def evaluation(self) -> dict[str, float]:
        """When due, ``eval.episodes`` deterministic episodes (recorded in ``evals``); their metrics."""
        cfg, episode = self.cfg, self.episode
        if cfg.eval.episodes == 0:
            return {}
        if not (episode == cfg.episodes or (cfg.eval.every > 0 and episode % cfg.eval.every == 0)):
            return {}
        returns = [self.eval_episode(k, self.eval_seed(k)) for k in range(cfg.eval.episodes)]
        mean, std = float(np.mean(returns)), float(np.std(returns))
        self.evals.append((episode, self.env_steps, mean, std))
        return {"eval/return": mean, "eval/return_std": std}

    def eval_seed(self, k: int) -> int:
        """The reset seed of evaluation episode ``k`` of the evaluation after the current episode."""
        return self.env_seed + 1_000_000 + 1000 * self.episode + k

    def eval_episode(self, k: int, seed: int) -> float:
        """The return of evaluation episode ``k`` (reset with ``seed``)."""
        return self.deterministic_return(self.env, seed)

    def watch_tasks(self) -> list[str]:
        """The task played (the kinds with several evaluation tasks override this)."""
        return [Task.create(self.family.name, get_task(self.env)).label] if self.episode else []

    def watch(self, camera: Camera, task: int, episodes: int) -> None:
        n = len(self.watch_tasks())  # evaluation episode k plays task k mod n
        with camera.filming(self):
            for k in (task + n * j for j in range(episodes)):
                self.eval_episode(k, self.eval_seed(k))

    def reached(self) -> int | None:
        """Env steps at the first evaluation whose mean reached ``target_return`` (None: not reached)."""
        target = self.cfg.target_return
        if target is None:
            return None
        return next((steps for _, steps, mean, _ in self.evals if mean >= target), None)

    def results(self) -> dict[str, Any]:
        """The evaluation part of the summary."""
        final = self.evals[-1] if self.evals else (0, 0, math.nan, math.nan)
        return {
            "final_eval_return": final[2],
            "final_eval_return_std": final[3],
            "best_eval_return": max((m for _, _, m, _ in self.evals), default=math.nan),
            "target_return": self.cfg.target_return,
            "env_steps_to_target": self.reached(),
            "eval": [
                {"episode": ep, "env_steps": st, "return": m, "return_std": s} for ep, st, m, s in self.evals
            ],
        }
