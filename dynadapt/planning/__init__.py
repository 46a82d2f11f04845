"""Planning: planners that maximise an objective over action sequences, imagined rollouts, MPC.

* :mod:`~dynadapt.planning.base`: the :class:`Planner` interface (``plan``, ``reset``, ``shift``, state I/O);
* :mod:`~dynadapt.planning.rollout`: :func:`imagine`, the batched imagined rollout with PETS propagation;
* :mod:`~dynadapt.planning.mpc`: :class:`MPCAgent`, receding-horizon control around any planner;
* one module per planner; :data:`PLANNER_CONFIGS` and :func:`build_planner` in
  :mod:`~dynadapt.planning.registry`.
"""

from dynadapt.planning.base import Objective, Planner, PlannerConfig, sanitize_returns, shift_plan
from dynadapt.planning.cem import CEMConfig, CEMPlanner
from dynadapt.planning.mpc import MPCAgent, MPCConfig, ObjectiveFactory
from dynadapt.planning.registry import PLANNER_CONFIGS, build_planner, planner_config
from dynadapt.planning.rollout import PROPAGATIONS, PredictFn, Propagation, imagine, imagined_objective

__all__ = [
    "PLANNER_CONFIGS",
    "PROPAGATIONS",
    "CEMConfig",
    "CEMPlanner",
    "MPCAgent",
    "MPCConfig",
    "Objective",
    "ObjectiveFactory",
    "Planner",
    "PlannerConfig",
    "PredictFn",
    "Propagation",
    "build_planner",
    "imagine",
    "imagined_objective",
    "planner_config",
    "sanitize_returns",
    "shift_plan",
]
