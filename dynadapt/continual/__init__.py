"""Continual model-based RL: strategies (HyperCRL and the baselines) as small objects with hooks, and the
metrics of a reward matrix."""

from dynadapt.continual.base import (
    STRATEGIES,
    ContinualContext,
    Strategy,
    StrategyConfig,
    get_strategy,
    register_strategy,
)
from dynadapt.continual.baselines import (
    EWC,
    SI,
    Coreset,
    CoresetConfig,
    EWCConfig,
    FinetuneConfig,
    Multitask,
    MultitaskConfig,
    SharedNet,
    SharedNetConfig,
    SIConfig,
    Single,
    SingleConfig,
    empirical_fisher,
)
from dynadapt.continual.hypercrl import (
    HnetConfig,
    HyperCRL,
    HyperCRLConfig,
    adam_lookahead,
    output_regularizer,
)
from dynadapt.continual.metrics import continual_metrics, prediction_error

__all__ = [
    "EWC",
    "SI",
    "STRATEGIES",
    "ContinualContext",
    "Coreset",
    "CoresetConfig",
    "EWCConfig",
    "FinetuneConfig",
    "HnetConfig",
    "HyperCRL",
    "HyperCRLConfig",
    "Multitask",
    "MultitaskConfig",
    "SIConfig",
    "SharedNet",
    "SharedNetConfig",
    "Single",
    "SingleConfig",
    "Strategy",
    "StrategyConfig",
    "adam_lookahead",
    "continual_metrics",
    "empirical_fisher",
    "get_strategy",
    "output_regularizer",
    "prediction_error",
    "register_strategy",
]
