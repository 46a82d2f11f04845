"""Planning: planners that maximise an objective over action sequences, imagined rollouts, MPC.

* :mod:`~dynadapt.planning.base`: the :class:`Planner` interface (``plan``, ``reset``, ``shift``, state I/O);
* :mod:`~dynadapt.planning.rollout`: :func:`imagine`, the batched imagined rollout with PETS propagation;
* :mod:`~dynadapt.planning.mpc`: :class:`MPCAgent`, receding-horizon control around any planner;
* :mod:`~dynadapt.planning.objective`: :class:`ModelObjective` (with the terminal-value and policy-proposal
  hooks, :class:`TerminalValue` and :class:`PolicyProposals`) and :func:`mpc_agent`;
* one module per planner: ``rs``, ``cem``, ``icem``, ``mppi``, ``grad`` (``grad`` and ``cem-grad``),
  ``hypercrl_cem``; :data:`PLANNER_CONFIGS` and :func:`build_planner` in :mod:`~dynadapt.planning.registry`.
"""

from dynadapt.planning.base import Objective, Planner, PlannerConfig, sanitize_returns, shift_plan
from dynadapt.planning.cem import CEMConfig, CEMPlanner
from dynadapt.planning.grad import CEMGradConfig, CEMGradPlanner, GradConfig, GradPlanner
from dynadapt.planning.hypercrl_cem import HyperCRLCEMConfig, HyperCRLCEMPlanner
from dynadapt.planning.icem import ICEMConfig, ICEMPlanner
from dynadapt.planning.mpc import MPCAgent, MPCConfig, ObjectiveFactory
from dynadapt.planning.mppi import MPPIConfig, MPPIPlanner
from dynadapt.planning.objective import ModelObjective, mpc_agent
from dynadapt.planning.proposals import PolicyProposals, policy_proposals
from dynadapt.planning.registry import PLANNER_CONFIGS, build_planner, planner_config
from dynadapt.planning.rollout import (
    PROPAGATIONS,
    PredictFn,
    Propagation,
    StepFn,
    TerminalValue,
    imagine,
    imagined_objective,
    true_dynamics_objective,
)
from dynadapt.planning.rs import RSConfig, RSPlanner

__all__ = [
    "PLANNER_CONFIGS",
    "PROPAGATIONS",
    "CEMConfig",
    "CEMGradConfig",
    "CEMGradPlanner",
    "CEMPlanner",
    "GradConfig",
    "GradPlanner",
    "HyperCRLCEMConfig",
    "HyperCRLCEMPlanner",
    "ICEMConfig",
    "ICEMPlanner",
    "MPCAgent",
    "MPCConfig",
    "MPPIConfig",
    "MPPIPlanner",
    "ModelObjective",
    "Objective",
    "ObjectiveFactory",
    "Planner",
    "PlannerConfig",
    "PolicyProposals",
    "PredictFn",
    "Propagation",
    "RSConfig",
    "RSPlanner",
    "StepFn",
    "TerminalValue",
    "build_planner",
    "imagine",
    "imagined_objective",
    "mpc_agent",
    "planner_config",
    "policy_proposals",
    "sanitize_returns",
    "shift_plan",
    "true_dynamics_objective",
]
