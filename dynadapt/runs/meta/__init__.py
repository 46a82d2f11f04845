"""Kind ``meta``: meta-training with online adaptation across perturbations (GrBAL, ReBAL, MB, MB+DE,
continue) (:mod:`.loop`, :mod:`.methods`, :mod:`.evaluation`, :mod:`.presets`, :mod:`.plots`)."""

from dynadapt.runs.kinds import RunKind
from dynadapt.runs.meta.loop import MetaConfig, MetaRun

KINDS = (RunKind("meta", MetaConfig, MetaRun, headline=("final_return_train", "final_return_test")),)

__all__ = ["KINDS", "MetaConfig", "MetaRun"]
