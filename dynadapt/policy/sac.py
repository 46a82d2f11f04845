"""Soft actor-critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications", 1812.05905).

The model-free baseline of dynadapt, and the policy optimiser inside MBPO (:mod:`dynadapt.policy.mbpo`).

* **Policy**: a tanh-squashed Gaussian. The actor network maps an observation to ``(μ, log σ)``;
  ``u = μ + σ ε`` with ``ε ~ N(0, I)`` and the unit action is ``ã = tanh(u) ∈ (-1, 1)^A``. Its log-density
  follows from the change of variables (paper, appendix C, eq. 21)::

      log π(ã|s) = Σ_i [ log N(u_i; μ_i, σ_i) − log(1 − tanh(u_i)²) ]

  with the numerically stable form ``log(1 − tanh(u)²) = 2 (log 2 − u − softplus(−2u))``. The env
  receives the unit action rescaled affinely to its bounds: ``a = low + (ã + 1)(high − low)/2``. Every
  density, entropy and target entropy here refers to the unit action ``ã``.
* **Critic**: twin Q functions ``Q_1, Q_2`` (stacked params, one batched forward) with Polyak-averaged
  target copies ``Q̄_j ← τ Q_j + (1 − τ) Q̄_j`` (Fujimoto et al. 2018's clipped double Q).
  Soft Bellman target (eq. 3, 5)::

      y = r + γ (1 − d) [ min_j Q̄_j(s', ã') − α log π(ã'|s') ],   ã' ~ π(·|s')
      J_Q = Σ_j ½ E[(Q_j(s, ã) − y)²]

  ``d`` is ``terminated`` only; a time-limit truncation bootstraps.
* **Actor**: ``J_π = E[α log π(ã|s) − min_j Q_j(s, ã)]``, ``ã ~ π(·|s)`` reparameterised (eq. 7, 12).
* **Temperature**: ``J(α) = −E[log α · (log π(ã|s) + H̄)]`` with target entropy ``H̄ = −|A|`` (eq. 18;
  optimised in ``log α`` as in the authors' softlearning code), so ``∂J/∂ log α = −E[log π + H̄]``.

All randomness (initialisation, policy noise, minibatches drawn by callers through :attr:`generator`) comes
from one explicit ``torch.Generator``. Networks are the functional MLPs of :mod:`dynadapt.nets.mlp`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dynadapt.checks import check
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.io import flatten, load_tensors, save_tensors, unflatten
from dynadapt.nets.config import NetConfig
from dynadapt.nets.mlp import MLPSpec, forward, init_params
from dynadapt.types import Params

FORMAT = "dynadapt.SAC"
LOG_2 = math.log(2.0)


@dataclass
class SACConfig(NetConfig):
    """Soft actor-critic settings (defaults: Haarnoja et al. 2018, Table 1, as used by MBPO)."""

    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor and of each Q network."""
    lr: float = 3e-4
    """Adam learning rate of the actor, the critics and the temperature."""
    gamma: float = 0.99
    """Discount factor γ."""
    tau: float = 0.005
    """Polyak coefficient τ of the target critics."""
    init_alpha: float = 1.0
    """Initial entropy temperature α (softlearning: 1)."""
    learn_alpha: bool = True
    """Tune α towards the target entropy (otherwise α stays at init_alpha)."""
    target_entropy: float | None = None
    """Target entropy H̄ of the unit action (None: −|A|)."""
    log_std_min: float = -20.0
    """Lower clamp of the policy's log σ."""
    log_std_max: float = 2.0
    """Upper clamp of the policy's log σ."""
    target_update_interval: int = 1
    """Update the target critics every this many gradient steps."""

    def __post_init__(self) -> None:
        checks = [
            *self.net_checks("sac"),
            (0 <= self.gamma <= 1, "sac.gamma must be in [0, 1]"),
            (0 < self.tau <= 1, "sac.tau must be in (0, 1]"),
            (self.init_alpha > 0, "sac.init_alpha must be > 0"),
            (self.log_std_min < self.log_std_max, "sac.log_std_min must be < sac.log_std_max"),
            (self.target_update_interval >= 1, "sac.target_update_interval must be >= 1"),
        ]
        check(*checks)


def log1m_tanh_sq(u: Tensor) -> Tensor:
    """``log(1 − tanh(u)²)`` computed stably as ``2 (log 2 − u − softplus(−2u))`` (elementwise)."""
    return 2.0 * (LOG_2 - u - F.softplus(-2.0 * u))


def squashed_log_prob(u: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """Log-density of ``tanh(u)`` for ``u ~ N(mean, exp(log_std)²)``: ``[..., A] -> [...]``."""
    normal = -0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    return (normal - log1m_tanh_sq(u)).sum(-1)


def polyak_update(target: Params, online: Params, tau: float) -> None:
    """In place: ``target ← τ online + (1 − τ) target`` for every tensor."""
    with torch.no_grad():
        for k, t in target.items():
            t.lerp_(online[k], tau)


def _optim_state(opt: torch.optim.Optimizer, params: Params) -> dict[str, Tensor]:
    index = {id(v): k for k, v in params.items()}
    out: dict[str, Tensor] = {}
    for p, st in opt.state.items():
        for key, val in st.items():
            out[f"{index[id(p)]}.{key}"] = torch.as_tensor(val).detach().clone()
    return out


def _load_optim_state(opt: torch.optim.Optimizer, params: Params, state: dict[str, Tensor]) -> None:
    opt.state.clear()
    for name, p in params.items():
        entries = {k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(name + ".")}
        if entries:
            opt.state[p] = {k: v.clone() for k, v in entries.items()}


class SAC:
    """A soft actor-critic agent.

    Args:
        obs_dim: O, size of an observation.
        act_dim: A, size of an action.
        low, high: ``[A]`` action bounds of the env (unit actions are rescaled to them).
        cfg: settings.
        obs_preproc: ``obs[..., O] -> features[..., F]`` applied before every network (default: identity),
            e.g. a family's angle-to-(sin, cos) preprocessing.
        feature_dim: F (default ``obs_dim``).
        generator: the source of every random number (initialisation, policy noise, minibatches).
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        low: Any,
        high: Any,
        cfg: SACConfig | None = None,
        *,
        obs_preproc: Callable[[Tensor], Tensor] | None = None,
        feature_dim: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.cfg = cfg = cfg if cfg is not None else SACConfig()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.low = torch.as_tensor(low, dtype=torch.float32).reshape(act_dim)
        self.high = torch.as_tensor(high, dtype=torch.float32).reshape(act_dim)
        if not (torch.isfinite(self.low).all() and torch.isfinite(self.high).all()):
            raise DynadaptError("SAC needs finite action bounds")
        if not (self.high > self.low).all():
            raise DynadaptError("SAC needs high > low in every action dimension")
        self.obs_preproc = obs_preproc
        self.feature_dim = obs_dim if feature_dim is None else feature_dim
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.actor_spec = MLPSpec(self.feature_dim, 2 * act_dim, cfg.hidden, cfg.activation)
        self.critic_spec = MLPSpec(self.feature_dim + act_dim, 1, cfg.hidden, cfg.activation)
        self.actor: Params = init_params(self.actor_spec, self.generator)
        self.critic: Params = init_params(self.critic_spec, self.generator, ensemble_size=2)
        self.critic_target: Params = {k: v.clone() for k, v in self.critic.items()}
        self.log_alpha = torch.tensor(math.log(cfg.init_alpha))
        for p in [*self.actor.values(), *self.critic.values(), self.log_alpha]:
            p.requires_grad_(True)
        self.target_entropy = float(-act_dim if cfg.target_entropy is None else cfg.target_entropy)
        self.actor_opt = torch.optim.Adam(list(self.actor.values()), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(list(self.critic.values()), lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.lr)
        self.updates = 0
        """Gradient steps taken so far."""

    # ------------------------------------------------------------------------------------ actions
    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    def to_env(self, unit: Tensor) -> Tensor:
        """Unit action ``ã ∈ [-1, 1]`` -> env action ``low + (ã + 1)(high − low)/2``."""
        return self.low + (unit + 1.0) * (0.5 * (self.high - self.low))

    def to_unit(self, act: Tensor) -> Tensor:
        """Env action -> unit action (the inverse of :meth:`to_env`), clamped to [-1, 1]."""
        return ((act - self.low) / (0.5 * (self.high - self.low)) - 1.0).clamp(-1.0, 1.0)

    def features(self, obs: Tensor) -> Tensor:
        return obs if self.obs_preproc is None else self.obs_preproc(obs)

    def dist_params(self, obs: Tensor, actor: Params | None = None) -> tuple[Tensor, Tensor]:
        """``obs[..., O] -> (μ[..., A], log σ[..., A])`` (log σ clamped)."""
        out = forward(self.actor_spec, self.actor if actor is None else actor, self.features(obs))
        mean, log_std = out.chunk(2, dim=-1)
        return mean, log_std.clamp(self.cfg.log_std_min, self.cfg.log_std_max)

    def sample(self, obs: Tensor, actor: Params | None = None) -> tuple[Tensor, Tensor]:
        """Reparameterised sample: ``obs[..., O] -> (unit action[..., A], log π[...])``."""
        mean, log_std = self.dist_params(obs, actor)
        eps = torch.randn(mean.shape, generator=self.generator, dtype=mean.dtype).to(mean.device)
        u = mean + log_std.exp() * eps
        return torch.tanh(u), squashed_log_prob(u, mean, log_std)

    @torch.no_grad()
    def act(self, obs: Any, deterministic: bool = False) -> Tensor:
        """Env action(s) for ``obs[..., O]``: a sample of π, or ``tanh(μ)`` when ``deterministic``."""
        o = torch.as_tensor(obs, dtype=torch.float32)
        if deterministic:
            unit = torch.tanh(self.dist_params(o)[0])
        else:
            unit = self.sample(o)[0]
        return self.to_env(unit)

    # ------------------------------------------------------------------------------------- values
    def q_values(self, critic: Params, obs: Tensor, unit_act: Tensor) -> Tensor:
        """Both critics: ``obs[N, O], unit_act[N, A] -> Q[2, N]``."""
        x = torch.cat([self.features(obs), unit_act], dim=-1)
        return forward(self.critic_spec, critic, x.unsqueeze(0).expand(2, -1, -1)).squeeze(-1)

    @torch.no_grad()
    def target_values(self, reward: Tensor, next_obs: Tensor, done: Tensor) -> Tensor:
        """Soft Bellman target ``y[N]`` (see the module docstring); ``done`` is 1 for terminated rows."""
        next_act, next_logp = self.sample(next_obs)
        q_next = self.q_values(self.critic_target, next_obs, next_act).min(0).values
        return reward + self.cfg.gamma * (1.0 - done) * (q_next - self.alpha * next_logp)

    def alpha_loss(self, logp: Tensor) -> Tensor:
        """``J(α) = −mean(log α · (log π + H̄))`` with ``log π`` treated as a constant."""
        return -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()

    # ------------------------------------------------------------------------------------- update
    def update(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """One gradient step of the critics, the actor and the temperature, then the target update.

        ``batch`` holds ``obs[N, O]``, ``act[N, A]`` (env units), ``reward[N]``, ``next_obs[N, O]`` and
        ``terminated[N]``. Returns the step's losses and statistics.
        """
        obs, next_obs = batch["obs"], batch["next_obs"]
        unit_act = self.to_unit(batch["act"])
        reward = batch["reward"].reshape(-1).float()
        done = batch["terminated"].reshape(-1).float()
        # critics
        y = self.target_values(reward, next_obs, done)
        q = self.q_values(self.critic, obs, unit_act)
        critic_loss = 0.5 * ((q - y.unsqueeze(0)) ** 2).mean(-1).sum()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        # actor (the critics are constants here)
        alpha = self.log_alpha.detach().exp()
        new_act, logp = self.sample(obs)
        frozen = {k: v.detach() for k, v in self.critic.items()}
        q_new = self.q_values(frozen, obs, new_act).min(0).values
        actor_loss = (alpha * logp - q_new).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        # temperature
        a_loss = self.alpha_loss(logp)
        if self.cfg.learn_alpha:
            self.alpha_opt.zero_grad(set_to_none=True)
            a_loss.backward()
            self.alpha_opt.step()
        self.updates += 1
        if self.updates % self.cfg.target_update_interval == 0:
            polyak_update(self.critic_target, self.critic, self.cfg.tau)
        return {
            "sac/critic_loss": float(critic_loss.detach()),
            "sac/actor_loss": float(actor_loss.detach()),
            "sac/alpha_loss": float(a_loss.detach()),
            "sac/alpha": float(alpha),
            "sac/entropy": float(-logp.detach().mean()),
            "sac/q": float(q.detach().mean()),
        }

    # -------------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Tensor]:
        """Networks, temperature, optimiser states, counters and the generator state (flat tensors)."""
        out = flatten("actor", {k: v.detach() for k, v in self.actor.items()})
        out |= flatten("critic", {k: v.detach() for k, v in self.critic.items()})
        out |= flatten("critic_target", self.critic_target)
        out["log_alpha"] = self.log_alpha.detach().clone()
        out |= flatten("optim_actor", _optim_state(self.actor_opt, self.actor))
        out |= flatten("optim_critic", _optim_state(self.critic_opt, self.critic))
        out |= flatten("optim_alpha", _optim_state(self.alpha_opt, {"log_alpha": self.log_alpha}))
        out["updates"] = torch.tensor([self.updates], dtype=torch.int64)
        out["generator"] = self.generator.get_state()
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        try:
            with torch.no_grad():
                for prefix, params in (
                    ("actor", self.actor),
                    ("critic", self.critic),
                    ("critic_target", self.critic_target),
                ):
                    loaded = unflatten(prefix, state)
                    if set(loaded) != set(params):
                        raise CorruptFileError(f"SAC {prefix} parameters do not match the architecture")
                    for k, v in params.items():
                        if loaded[k].shape != v.shape:
                            raise CorruptFileError(
                                f"SAC {prefix}.{k} has shape {tuple(loaded[k].shape)}, "
                                f"expected {tuple(v.shape)}"
                            )
                        v.copy_(loaded[k])
                self.log_alpha.copy_(state["log_alpha"])
            _load_optim_state(self.actor_opt, self.actor, unflatten("optim_actor", state))
            _load_optim_state(self.critic_opt, self.critic, unflatten("optim_critic", state))
            _load_optim_state(self.alpha_opt, {"log_alpha": self.log_alpha}, unflatten("optim_alpha", state))
            self.updates = int(state["updates"].item())
            self.generator.set_state(state["generator"])
        except KeyError as e:
            raise CorruptFileError(f"incomplete SAC state (missing {e})") from None

    def meta(self) -> dict[str, Any]:
        """JSON-safe description sufficient to rebuild the agent."""
        return {
            "version": 1,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "feature_dim": self.feature_dim,
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "config": asdict(self.cfg),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomically write the agent (safetensors + JSON header)."""
        save_tensors(path, self.state_dict(), FORMAT, self.meta())

    @classmethod
    def load(cls, path: str | os.PathLike[str], obs_preproc: Callable[[Tensor], Tensor] | None = None) -> SAC:
        """Rebuild an agent saved with :meth:`save` (pass the same ``obs_preproc`` it was built with)."""
        tensors, meta = load_tensors(path, FORMAT)
        try:
            agent = cls(
                meta["obs_dim"],
                meta["act_dim"],
                meta["low"],
                meta["high"],
                SACConfig(**meta["config"]),
                obs_preproc=obs_preproc,
                feature_dim=meta["feature_dim"],
            )
        except (KeyError, TypeError) as e:
            raise CorruptFileError(f"{path}: incomplete SAC file ({e})") from None
        agent.load_state_dict(tensors)
        return agent
