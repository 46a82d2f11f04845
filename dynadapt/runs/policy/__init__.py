"""Kinds ``sac`` (soft actor-critic, :mod:`.sac`) and ``mbpo`` (model-based policy optimisation,
:mod:`.mbpo`); presets in :mod:`.presets`, figures in :mod:`.plots`. What every SAC-based kind (these and
:mod:`dynadapt.runs.policy_adaptive`'s) shares: config fields in :mod:`.settings`, the training episode in
:mod:`.base`, the periodic evaluation in :mod:`.evaluation`, MBPO's model phase in :mod:`.rollouts`."""

from dynadapt.runs.kinds import RunKind
from dynadapt.runs.policy.mbpo import MBPORun, MBPORunConfig
from dynadapt.runs.policy.sac import SACRun, SACRunConfig

HEADLINE = ("final_eval_return", "best_eval_return", "env_steps_to_target", "env_steps")

KINDS = (
    RunKind("sac", SACRunConfig, SACRun, headline=HEADLINE),
    RunKind("mbpo", MBPORunConfig, MBPORun, headline=HEADLINE),
)

__all__ = ["KINDS", "MBPORun", "MBPORunConfig", "SACRun", "SACRunConfig"]
