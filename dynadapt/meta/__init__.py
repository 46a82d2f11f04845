"""Meta-learned and online adaptation of dynamics models: GrBAL, ReBAL, dynamic evaluation (MB+DE).

* :mod:`~dynadapt.meta.base`: segment batches (M past + K future, one episode, many perturbations), the
  recent-transition :class:`Window`, the shared early-stopped meta-fit loop;
* :mod:`~dynadapt.meta.grbal`: :class:`GrBAL` (MAML with ``torch.func``, learned per-element ψ);
* :mod:`~dynadapt.meta.online`: :class:`GradientAdapter` (GrBAL / MB+DE / continue adapting / MB online);
* :mod:`~dynadapt.meta.rebal`: :class:`ReBAL` (GRU context over the last M transitions) and its adapter.
"""

from dynadapt.meta.base import Adapter, MetaFitResult, Segments, SegmentSource, Window
from dynadapt.meta.grbal import GrBAL, GrBALConfig, inner_update
from dynadapt.meta.online import ADAPT_MODES, AdaptMode, GradientAdapter
from dynadapt.meta.rebal import ReBAL, ReBALConfig, RecurrentAdapter

__all__ = [
    "ADAPT_MODES",
    "AdaptMode",
    "Adapter",
    "GrBAL",
    "GrBALConfig",
    "GradientAdapter",
    "MetaFitResult",
    "ReBAL",
    "ReBALConfig",
    "RecurrentAdapter",
    "SegmentSource",
    "Segments",
    "Window",
    "inner_update",
]
