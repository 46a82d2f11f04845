"""Kind ``distill``: DAgger-distil a PETS planner into a feed-forward policy, then compare the two
(:mod:`.loop`, :mod:`.planner`, :mod:`.presets`, :mod:`.plots`)."""

from dynadapt.runs.distill.loop import DistillConfig, DistillRun
from dynadapt.runs.kinds import RunKind

KINDS = (
    RunKind(
        "distill",
        DistillConfig,
        DistillRun,
        headline=("planner_return", "policy_return", "normalized_return_ratio", "flops_ratio"),
    ),
)

__all__ = ["KINDS", "DistillConfig", "DistillRun"]
