"""Kind ``labelfree``: continual dynamics without task labels on a stream of recurring situations (issue 16)
(:mod:`.loop`, :mod:`.presets`, :mod:`.plots`)."""

from dynadapt.runs.kinds import RunKind
from dynadapt.runs.labelfree.loop import LabelFreeConfig, LabelFreeRun

KINDS = (RunKind("labelfree", LabelFreeConfig, LabelFreeRun, headline=("average_return", "pred_error")),)

__all__ = ["KINDS", "LabelFreeConfig", "LabelFreeRun"]
