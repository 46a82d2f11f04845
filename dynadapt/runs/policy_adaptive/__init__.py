"""Kinds ``mbpo-continual`` (MBPO with HyperCRL's generated models over a task sequence, :mod:`.continual`)
and ``mbpo-meta`` (MBPO with GrBAL's adapted models across perturbations, :mod:`.meta`); presets in
:mod:`.presets`, figures in :mod:`.plots`."""

from dynadapt.runs.kinds import RunKind
from dynadapt.runs.policy_adaptive.continual import MBPOContinualConfig, MBPOContinualRun
from dynadapt.runs.policy_adaptive.meta import MBPOMetaConfig, MBPOMetaRun

KINDS = (
    RunKind(
        "mbpo-continual",
        MBPOContinualConfig,
        MBPOContinualRun,
        headline=("final_average_return", "average_retention_floor_normalised", "average_forgetting"),
    ),
    RunKind("mbpo-meta", MBPOMetaConfig, MBPOMetaRun, headline=("final_eval_return", "env_steps")),
)

__all__ = ["KINDS", "MBPOContinualConfig", "MBPOContinualRun", "MBPOMetaConfig", "MBPOMetaRun"]
