"""Kind ``mbrl``: PETS-style model-based RL with MPC on a learned ensemble (:mod:`.loop`, :mod:`.presets`)."""

from dynadapt.runs.kinds import RunKind
from dynadapt.runs.mbrl.loop import MBRLConfig, MBRLRun, PETSSettings

KINDS = (
    RunKind(
        "mbrl",
        MBRLConfig,
        MBRLRun,
        headline=("final_eval_return", "best_eval_return", "episodes_to_target", "env_steps"),
    ),
)

__all__ = ["KINDS", "MBRLConfig", "MBRLRun", "PETSSettings"]
