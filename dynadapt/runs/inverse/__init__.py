"""Kinds ``inverse`` (inverse and action-free models learned from random play and evaluated: held-out error
against least squares, reach trials in the real env; :mod:`.loop`) and ``goal-reach`` (goal reaching by an
n-step inverse model vs forward-model MPC vs random actions; :mod:`.goal`); presets in :mod:`.presets`."""

from dynadapt.runs.inverse.goal import GoalReachConfig, GoalReachRun
from dynadapt.runs.inverse.loop import InverseConfig, InverseRun
from dynadapt.runs.kinds import RunKind

KINDS = (
    RunKind(
        "inverse",
        InverseConfig,
        InverseRun,
        headline=(
            "final_error",
            "final_error_least_squares",
            "final_reach_model",
            "final_reach_least_squares",
        ),
    ),
    RunKind(
        "goal-reach",
        GoalReachConfig,
        GoalReachRun,
        headline=("success_inverse", "success_mpc", "success_random", "final_error"),
    ),
)

__all__ = ["KINDS", "GoalReachConfig", "GoalReachRun", "InverseConfig", "InverseRun"]
