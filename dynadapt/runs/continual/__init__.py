"""Kind ``continual``: HyperCRL's continual model-based RL over a task sequence, with every strategy of
:mod:`dynadapt.continual` (:mod:`.loop`, what it measures in :mod:`.evaluation`, :mod:`.presets`,
:mod:`.plots`)."""

from dynadapt.runs.continual.loop import ContinualConfig, ContinualRun
from dynadapt.runs.kinds import RunKind

KINDS = (
    RunKind(
        "continual",
        ContinualConfig,
        ContinualRun,
        headline=("final_average_return", "average_retention_floor_normalised", "average_forgetting"),
    ),
)

__all__ = ["KINDS", "ContinualConfig", "ContinualRun"]
