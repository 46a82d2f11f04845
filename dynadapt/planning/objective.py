"""The planning objective every loop uses: the imagined return of action sequences under a dynamics model.

:class:`ModelObjective` binds a model's ``predict`` with the propagation settings of an :class:`MPCConfig`
and the planner's generator; the loop sets, *before* it asks the agent to act, the params to plan with
(the model's current ones, a task's generated ones, or parameters adapted online from recent transitions)
and the task's reward and termination. The agent then calls it with the current observation
(``objective(obs0) -> objective(actions[B, H, A]) -> returns[B]``, the ``ObjectiveFactory`` of
:class:`~dynadapt.planning.mpc.MPCAgent`), so that the agent's timed planning call is planning alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from dynadapt.planning.base import Objective, PlannerConfig
from dynadapt.planning.mpc import MPCAgent, MPCConfig
from dynadapt.planning.registry import build_planner
from dynadapt.planning.rollout import imagined_objective
from dynadapt.types import Params, PredictFn, RewardFn, TerminationFn


class ModelObjective:
    """``objective(obs0[O]) -> (actions[B, H, A] -> returns[B])`` under ``predict`` with ``params``."""

    def __init__(
        self,
        predict: PredictFn,
        mpc: MPCConfig,
        generator: torch.Generator,
        reward_fn: RewardFn,
        termination_fn: TerminationFn | None,
        params: Params | None = None,
    ) -> None:
        self.predict = predict
        self.mpc = mpc
        self.generator = generator
        self.reward_fn = reward_fn
        self.termination_fn = termination_fn
        self.params: Params = params if params is not None else {}
        """The parameters planned with (set by the loop before each planning call when they change)."""

    def __call__(self, obs0: Tensor) -> Objective:
        if not self.params:
            raise RuntimeError("ModelObjective: no params set to plan with")
        return imagined_objective(
            self.predict,
            self.params,
            obs0,
            self.reward_fn,
            self.termination_fn,
            propagation=self.mpc.propagation,
            particles=self.mpc.particles,
            generator=self.generator,
        )


def mpc_agent(
    planner: PlannerConfig, objective: ModelObjective, low: np.ndarray, high: np.ndarray
) -> MPCAgent:
    """A receding-horizon agent around the configured planner, planning on ``objective`` (the planner's
    randomness from the objective's generator; horizon and replanning from its MPC settings)."""
    mpc = objective.mpc
    built = build_planner(
        planner, torch.as_tensor(low), torch.as_tensor(high), mpc.horizon, objective.generator
    )
    return MPCAgent(
        built,
        objective,
        horizon=mpc.horizon,
        act_dim=low.shape[0],
        low=low,
        high=high,
        replan_every=mpc.replan_every,
    )
