"""Presets of kinds ``value-mpc`` and ``value-meta``.

Each is the PETS or GrBAL preset it names with the value guidance added, so that the plain planner is the
same preset with ``value.terminal=false`` (and the long horizon it needs, ``mpc.horizon=25``):

* ``value-cartpole`` / ``value-half_cheetah_body``: the CPU-scale PETS presets with H = 5 instead of 20
  (TD-MPC2 plans over 3 to 5 steps; reference §11.4); ``-paper``: the PETS-scale ensembles and particles
  (Chua et al. 2018) with TD-MPC2's planner budget (512 samples, 64 elites, 6 iterations, H 5) and policy
  proposals (24 of 512);
* ``proposals-cartpole`` / ``proposals-half_cheetah_body``: ``value-cartpole`` / ``value-half_cheetah_body``
  with a tenth of every population proposed by the policy;
* ``value-grbal-half_cheetah_cripple``: GrBAL on the crippled half-cheetah (``grbal-half_cheetah_cripple``,
  random shooting N 500, H 10) planning on the adapted model's 10-step return plus the terminal value, the
  same horizon as the plain preset; ``-paper``: the GrBAL release's budget (50 iterations x 5 rollouts x
  1000 steps, 3x512 ReLU network, M = K = 16; reference §5.2).

The critic is 5 SiLU networks of 2x128 (2x256 at paper scale), γ 0.99, trained by 500 TD steps (1000) after
every fit on half real transitions and half 3-step model rollouts of the cloned policy from 1000 real
states.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from dynadapt.planning.cem import CEMConfig
from dynadapt.policy.critic import CriticConfig
from dynadapt.runs.mbrl import presets as pets_presets
from dynadapt.runs.mbrl.loop import MBRLConfig
from dynadapt.runs.meta import presets as _meta_presets  # noqa: F401  (registers grbal-*, derived from here)
from dynadapt.runs.meta.loop import MetaConfig
from dynadapt.runs.preset import PRESETS, preset
from dynadapt.runs.value.guide import ValueSettings
from dynadapt.runs.value.loop import ValueMetaConfig, ValueMPCConfig


def tdmpc2_planner() -> CEMConfig:
    """TD-MPC2's planning budget (512 samples, 64 elites, 6 iterations) on the PETS CEM."""
    return CEMConfig(population=512, elites=64, iterations=6, alpha=0.1)


def paper_value() -> ValueSettings:
    """Paper-scale value settings: TD-MPC2's 24 policy samples of 512, bigger critics, more updates."""
    return ValueSettings(
        critic=CriticConfig(hidden=(256, 256)), updates=1000, rollout_starts=2000, proposals=24 / 512
    )


def _copy(base: Any, keys: type) -> dict[str, Any]:
    """The fields of dataclass ``keys`` of ``base`` (a config of that class) as keyword arguments."""
    assert isinstance(base, keys)
    return {f.name: getattr(base, f.name) for f in fields(keys)}


def _value_mpc(base: MBRLConfig, horizon: int, value: ValueSettings, **changes: Any) -> ValueMPCConfig:
    cfg = ValueMPCConfig(**_copy(base, MBRLConfig), value=value)
    cfg.mpc.horizon = horizon
    for key, v in changes.items():
        setattr(cfg, key, v)
    return cfg


@preset(
    "value-cartpole", "value-mpc", "Value-guided MPC on cart-pole swing-up: pets-cartpole with H 5 + critic"
)
def value_cartpole() -> ValueMPCConfig:
    return _value_mpc(pets_presets.pets_cartpole(), 5, ValueSettings())


@preset(
    "value-cartpole-paper",
    "value-mpc",
    "Value-guided MPC on cart-pole at PETS scale (PE 5x(3x500), 20 particles) with TD-MPC2's planner, H 5",
)
def value_cartpole_paper() -> ValueMPCConfig:
    return _value_mpc(pets_presets.pets_cartpole_paper(), 5, paper_value(), planner=tdmpc2_planner())


@preset(
    "proposals-cartpole",
    "value-mpc",
    "value-cartpole with a tenth of every planning population proposed by a planner-cloned policy",
)
def proposals_cartpole() -> ValueMPCConfig:
    return _value_mpc(pets_presets.pets_cartpole(), 5, ValueSettings(proposals=0.1))


@preset(
    "value-half_cheetah_body",
    "value-mpc",
    "Value-guided MPC on the half-cheetah: pets-half_cheetah_body with H 5 + critic (1000-step episodes)",
)
def value_half_cheetah() -> ValueMPCConfig:
    return _value_mpc(PRESETS["pets-half_cheetah_body"].make(), 5, ValueSettings())


@preset(
    "proposals-half_cheetah_body",
    "value-mpc",
    "value-half_cheetah_body with a tenth of every planning population proposed by a planner-cloned policy",
)
def proposals_half_cheetah() -> ValueMPCConfig:
    return _value_mpc(PRESETS["pets-half_cheetah_body"].make(), 5, ValueSettings(proposals=0.1))


@preset(
    "value-half_cheetah_body-paper",
    "value-mpc",
    "Value-guided MPC on the half-cheetah at PETS scale (PE 5x(4x200), 20 particles), TD-MPC2's planner, H 5",
)
def value_half_cheetah_paper() -> ValueMPCConfig:
    base = PRESETS["pets-half_cheetah_body"].make()
    base.model.hidden, base.mpc.particles, base.episodes = (200, 200, 200, 200), 20, 50
    base.model.bootstrap, base.model.batch_size = True, 32
    return _value_mpc(base, 5, paper_value(), planner=tdmpc2_planner())


def _value_meta(base: MetaConfig, value: ValueSettings) -> ValueMetaConfig:
    return ValueMetaConfig(**_copy(base, MetaConfig), value=value)


@preset(
    "value-grbal-half_cheetah_cripple",
    "value-meta",
    "GrBAL on the crippled half-cheetah planning with a terminal value at the same horizon (RS 500, H 10)",
)
def value_grbal_cripple() -> ValueMetaConfig:
    return _value_meta(PRESETS["grbal-half_cheetah_cripple"].make(), ValueSettings())


@preset(
    "value-grbal-half_cheetah_cripple-paper",
    "value-meta",
    "value-grbal-half_cheetah_cripple at the GrBAL release's budget (50 x 5 x 1000 steps, 3x512 network)",
)
def value_grbal_cripple_paper() -> ValueMetaConfig:
    return _value_meta(PRESETS["grbal-half_cheetah_cripple-paper"].make(), paper_value())
