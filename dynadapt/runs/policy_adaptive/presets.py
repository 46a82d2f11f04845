"""Presets of kinds ``mbpo-continual`` and ``mbpo-meta`` (MBPO with adaptive models), CPU-scale, not tuned:

* ``mbpo-hypercrl-pendulum`` (kind ``mbpo-continual``): the first three tasks of
  ``pendulum:hypercrl_pendulum2`` (g = 10, 0, 2); per task 5 episodes of 200 steps, the first one
  uniformly random. The generated network and the hypernetwork are those of the CPU continual preset
  ``hypercrl-pendulum`` (2x32 target, 16-16 trunk, β = 2; :mod:`dynadapt.runs.continual.presets` says
  why β exceeds the reference's 0.05), trained every 50 steps for 200 steps of batch 32; MBPO's rollouts
  as in ``mbpo-pendulum`` (400 start states, k = 1 → 5), G = 10, SAC 2x128.
* ``mbpo-grbal-pendulum`` (kind ``mbpo-meta``): the perturbations of ``grbal-pendulum``
  (:mod:`dynadapt.runs.meta.presets`: mass ~ U(0.3, 3), length ~ U(0.5, 1.3) per episode; held-out
  (3.5, 1.0), (0.2, 0.6), (2.0, 1.4)), no mid-episode change; GrBAL's 2x64 model with M = K = 16 and
  learned ψ, meta-trained every 100 steps (at most 10 epochs of 40 outer steps); 400 start states per
  refit (each with θ' adapted on its own episode's 16 preceding transitions), k = 1 → 5, G = 10.

One seed-0 run of each (``dynadapt run <preset> --seed 0``, one torch thread, load ≈ 4; a smoke check,
not a benchmark): ``mbpo-hypercrl-pendulum``: 3000 env steps, 172 s; reward matrix R(0, ·) = -196, -122,
-123, R(1, ·) = -70, -54, R(2, 2) = -156, final average -111, BWT +45 (the later tasks improved task 0's
policy, nothing forgotten). ``mbpo-grbal-pendulum``: 3000 env steps, 193 s; held-out return -675 after
the last episode (best -571; -1362 after the random episode; the MPC preset ``grbal-pendulum`` reaches
-445 on 3 seeds), GrBAL's held-out one-step loss 0.020 after adaptation vs 0.038 before.
"""

from __future__ import annotations

from typing import Any

from dynadapt.continual import HyperCRLConfig
from dynadapt.meta.grbal import GrBALConfig
from dynadapt.models.dynamics import ModelConfig
from dynadapt.nets.hypernet import HyperNetConfig
from dynadapt.policy.sac import SACConfig
from dynadapt.runs.meta.presets import pendulum_perturbations
from dynadapt.runs.policy.presets import cpu_rollouts
from dynadapt.runs.policy_adaptive.continual import MBPOContinualConfig
from dynadapt.runs.policy_adaptive.meta import MBPOMetaConfig
from dynadapt.runs.preset import preset
from dynadapt.runs.settings import Evaluation, TaskSequence


def _cpu_scale(episodes: int, buffer_capacity: int, train_freq: int) -> dict[str, Any]:
    """What both presets share: a one-episode random warm-up, G = 10, SAC 2x128 and the rollouts of
    ``mbpo-pendulum`` (refit every ``train_freq`` steps)."""
    sac = SACConfig(hidden=(128, 128))
    shared = {"random_steps": 200, "updates_per_step": 10, "sac": sac, "mbpo": cpu_rollouts(train_freq)}
    return shared | {"episodes": episodes, "buffer_capacity": buffer_capacity}


@preset(
    "mbpo-hypercrl-pendulum",
    "mbpo-continual",
    "MBPO on 3 pendulum gravities with HyperCRL's generated models; the policy sees the task embedding",
)
def mbpo_hypercrl_pendulum() -> MBPOContinualConfig:
    model = ModelConfig(
        ensemble_size=1, hidden=(32, 32), activation="relu", head="deterministic", batch_size=32
    )
    return MBPOContinualConfig(
        task=TaskSequence(sequence="pendulum:hypercrl_pendulum2", tasks=3),
        eval_episodes=10,
        train_steps=200,
        model=model,
        strategy=HyperCRLConfig(beta=2.0, hnet=HyperNetConfig(hidden=(16, 16))),
        **_cpu_scale(5, 2000, 50),
    )


@preset(
    "mbpo-grbal-pendulum",
    "mbpo-meta",
    "MBPO across pendulum masses/lengths; rollouts use GrBAL's model adapted on each start's episode window",
)
def mbpo_grbal_pendulum() -> MBPOMetaConfig:
    grbal = GrBALConfig(
        M=16, K=16, inner_lr=0.01, meta_batch=16, steps_per_epoch=40, max_epochs=10, patience=4
    )
    return MBPOMetaConfig(
        task=pendulum_perturbations(),
        eval=Evaluation(every=1, episodes=3),
        model=ModelConfig(ensemble_size=1, hidden=(64, 64), activation="relu", head="deterministic", lr=1e-3),
        grbal=grbal,
        **_cpu_scale(15, 100_000, 100),
    )
