"""Continual dynamics without task labels (issue 16): infer the situation, detect a change, recall a known
situation, grow the library, and train continually on bounded data.

* :mod:`.base`: the :class:`StreamLearner` contract every learner of a situation stream fulfils;
* :mod:`.context`, :mod:`.learner`: the context-conditioned hypernetwork and its library of embeddings with
  online identification (``labels="inferred"``), or told the true situation (``labels="true"``: the
  task-aware HyperCRL reference);
* :mod:`.identify`: the sticky-CRP identifier with persistence, and a CUSUM detector;
* :mod:`.cadm`, :mod:`.tmcl`, :mod:`.grbal_stream`: the label-free baselines (CaDM-style context model,
  T-MCL-style multi-head model, GrBAL's online adaptation);
* :mod:`.metrics`: identification metrics (NMI, detection delay, false switches, recall, library size).

The run kind is ``labelfree`` (:mod:`dynadapt.runs.labelfree`); the streams are
:mod:`dynadapt.envs.streams`.
"""

from dynadapt.labelfree.base import StreamLearner
from dynadapt.labelfree.cadm import CaDMConfig, CaDMLearner
from dynadapt.labelfree.context import ContextHnetConfig, ContextHyperDynamics
from dynadapt.labelfree.grbal_stream import GrBALStreamConfig, GrBALStreamLearner
from dynadapt.labelfree.identify import Cusum, Decision, Identifier, IdentifyConfig
from dynadapt.labelfree.learner import ContextHyperLearner
from dynadapt.labelfree.metrics import (
    detection_delays,
    false_switches,
    identification_summary,
    library_ratio,
    nmi,
    recall_rate,
)
from dynadapt.labelfree.tmcl import TMCLConfig, TMCLLearner

__all__ = [
    "CaDMConfig",
    "CaDMLearner",
    "ContextHnetConfig",
    "ContextHyperDynamics",
    "ContextHyperLearner",
    "Cusum",
    "Decision",
    "GrBALStreamConfig",
    "GrBALStreamLearner",
    "Identifier",
    "IdentifyConfig",
    "StreamLearner",
    "TMCLConfig",
    "TMCLLearner",
    "detection_delays",
    "false_switches",
    "identification_summary",
    "library_ratio",
    "nmi",
    "recall_rate",
]
