"""Kinds ``sac`` (soft actor-critic, :mod:`.sac`) and ``mbpo`` (model-based policy optimisation,
:mod:`.mbpo`); their shared parts in :mod:`.base`, presets in :mod:`.presets`, figures in :mod:`.plots`."""

from dynadapt.runs.kinds import RunKind
from dynadapt.runs.policy.mbpo import MBPORun, MBPORunConfig
from dynadapt.runs.policy.sac import SACRun, SACRunConfig

HEADLINE = ("final_eval_return", "best_eval_return", "env_steps_to_target", "env_steps")

KINDS = (
    RunKind("sac", SACRunConfig, SACRun, headline=HEADLINE),
    RunKind("mbpo", MBPORunConfig, MBPORun, headline=HEADLINE),
)

__all__ = ["KINDS", "MBPORun", "MBPORunConfig", "SACRun", "SACRunConfig"]
