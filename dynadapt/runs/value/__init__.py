"""Kinds ``value-mpc`` (value-guided MPC on the PETS loop) and ``value-meta`` (value-guided MPC with GrBAL's
online-adapted models): :mod:`.loop`; the critic, the planner-imitating policy and their training:
:mod:`.guide`; presets: :mod:`.presets`."""

from dynadapt.runs.kinds import RunKind
from dynadapt.runs.value.guide import ValueGuide, ValueSettings
from dynadapt.runs.value.loop import ValueMetaConfig, ValueMetaRun, ValueMPCConfig, ValueMPCRun

KINDS = (
    RunKind(
        "value-mpc",
        ValueMPCConfig,
        ValueMPCRun,
        headline=("final_eval_return", "best_eval_return", "model_evals_per_step", "env_steps"),
    ),
    RunKind(
        "value-meta",
        ValueMetaConfig,
        ValueMetaRun,
        headline=("final_return_test", "final_return_train", "model_evals_per_step", "env_steps"),
    ),
)

__all__ = [
    "KINDS",
    "ValueGuide",
    "ValueMPCConfig",
    "ValueMPCRun",
    "ValueMetaConfig",
    "ValueMetaRun",
    "ValueSettings",
]
