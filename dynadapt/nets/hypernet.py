"""Task-conditioned hypernetworks that *output* the params dict of a functional target network.

A hypernetwork ``h(e; θ)`` maps a learned task embedding ``e ∈ R^D`` to every tensor of a target network
(the "mnet"), for instance the dynamics MLP of :class:`dynadapt.models.dynamics.DynamicsModel` including
the Gaussian head's ``max_logvar``/``min_logvar``. The target holds no weights of its own: its forward is
the unchanged pure function (``mlp.forward`` / ``DynamicsModel.predict``) evaluated on the generated dict
(design principle 1; HyperCRL, Huang et al. 2021, reference §4.2).

Two architectures:

* **full** (``chunk_size = 0``): ``e -> MLP trunk -> h ∈ R^{d_k}``, then one linear head per target tensor,
  ``vec(W) = h H_W + β_W`` with ``H_W ∈ R^{d_k × numel(W)}`` (HyperCRL's per-tensor heads; equivalent to
  hypnettorch's single output layer, reference §6.5). Size ≈ ``(d_k + 1) ×`` the target's size plus the
  trunk: with the reference's cart-pole target (6 inputs, [256, 256], 4 outputs: 68,612 params) and trunk
  [128, 128] it is 8.87 M params, ≈ 129× the target (the reference's full hnets are 51-258× their
  targets, §4.2).
* **chunked** (``chunk_size = c > 0``): the flattened target is cut into ``C = ⌈n / c⌉`` chunks; chunk
  ``j`` is ``head(trunk([e; c_j]))`` with a learned chunk embedding ``c_j ∈ R^{D_c}`` (N(0, 1) init), and the
  chunks are concatenated and cut back to ``n``. Size ≈ ``(d_k + 1)·c + C·D_c`` + trunk, independent of the
  number of tensors; with a [5, 5] trunk, ``c = 12000`` and ``D_c = 40`` the cart-pole target above gets a
  72,525-param hnet, ≈ 1.06× the target (reference §4.2's chunked settings give 0.9-1×).
  :meth:`HyperNetwork.num_params` / :meth:`HyperNetwork.size_ratio` report the actual figures.

Task embeddings live in growable storage (:meth:`HyperNetwork.add_task`; hypnettorch fixes their number
at construction, §6.5), are drawn from N(0, I_D) (HyperCRL, D = 10), and earlier ones are frozen when a
new one is added unless ``plastic=True``.

Initialisations (reference §6.1; notation: the head reads ``h ∈ R^{d_k}``, a target layer ``y = xW + b``
has fan-in ``d_j`` and fan-out ``d_i``; ``c_act = 2`` for a ReLU-family target activation, 1 otherwise;
uniform sampling with half-width ``a = √(3·Var)``; ``E[h²]`` is estimated by Monte Carlo over 4096
N(0, I) embeddings pushed through the initialised trunk, because ``W = Σ_k H_k h_k`` has
``E[W²] = d_k Var(H) E[h²]`` for zero-mean heads):

==================  =============================================================================
``naive``           PyTorch's default ``nn.Linear`` init on trunk and heads, H, β ~ U(±1/√d_k). The
                    generated weights' scale ignores the target's fan-in (§6.2: std 0.41 instead of
                    0.088 for a 256×256 layer).
``xavier``          HyperCRL's choice: Xavier-uniform heads (Glorot & Bengio 2010,
                    U(±√(6/(d_k + numel)))), zero head biases. The generated network's output is 3-5
                    times as large as a standard init's (measured on the CPU presets' targets).
``hyperfan_in``     Chang, Sarcar, Ghorbani 2020 (Principled weight initialization for hypernetworks,
                    ICLR), weights and biases generated: Var(H) = c_act / (2 d_j d_k E[h²]),
                    Var(G) = c_act / (2 d_k E[h²]), β = γ = 0, so Var(W) = c_act / (2 d_j) and
                    Var(b) = c_act / 2 (the output variance is split equally between xW and b).
``hyperfan_out``    Chang et al. 2020: Var(H) = c_act / (d_i d_k E[h²]),
                    Var(G) = c_act · max(0, 1 − d_j/d_i) / (d_k E[h²]) (clipped at 0 when d_j ≥ d_i, where
                    hypnettorch divides by zero), β = γ = 0.
``bias_hyperinit``  Beck, Jackson, Vuorio, Whiteson 2022 (Hypernetworks in meta-RL, CoRL): H = G = 0 and
                    the head biases are a standard init of the target (``base``), so the generated
                    weights at step 0 *are* that standard init, identical for every embedding. The
                    default: the first task starts from the init of a plain target network (issue 13).
``weight_hyperinit`` Beck et al. 2022: every row ``H[k, :]`` is an independent standard init of the
                    target tensor, β = 0 (with a one-hot ``h`` each task gets its own standard init).
==================  =============================================================================

The trunk is Kaiming-fan-in initialised (Var = c_trunk/fan_in, zero bias) for the hyperfan schemes, as
they require, and PyTorch-default otherwise. Tensors with role ``"const"`` (the log-variance bounds) get
H = 0 and β = their constant under every scheme. hypnettorch's ``apply_hyperfan_init(method='harmonic')``
computes ``2(1/a + 1/b)`` instead of the harmonic mean ``2/(1/a + 1/b)`` (§6.5); there is no harmonic
variant here. The chunked hnet supports ``naive`` and ``xavier`` only (one head serves tensors with
different fan-ins, so the per-tensor schemes do not apply): set ``init="xavier"`` with ``chunk_size``.

Why Bias-HyperInit is the default (issue 13: HyperCRL learned its first task more slowly than a plain
network): with Xavier heads the generated network at step 0 has an output scale 3-5 times a standard
init's (std of the normalised prediction 0.36-0.67 against 0.09-0.13 for the cart-pole and pendulum CPU
presets' targets), so the first task starts from a worse model; with Bias-HyperInit it starts from the
init ``single``'s network has. Together with heads trained at ``target_lr / step_gain`` (see
:mod:`dynadapt.continual.hypercrl`), HyperCRL's first-task loss curve is then no worse than the plain
network's for every trunk tried ((8,) to (64, 64); with Xavier heads it was up to 1.5 times worse for a
(8,) trunk at the same learning rates; ``tests/continual``).

Generated weights for planning are computed once per task and cached (:meth:`HyperNetwork.weights`);
every training round must call :meth:`HyperNetwork.invalidate_cache` (pitfall H3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from dynadapt.checks import check_memory
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.nets.mlp import ACTIVATIONS, TRAINING_COPIES, MLPSpec
from dynadapt.types import Params

HnetInit = Literal["naive", "xavier", "hyperfan_in", "hyperfan_out", "bias_hyperinit", "weight_hyperinit"]
INITS: tuple[str, ...] = (
    "naive",
    "xavier",
    "hyperfan_in",
    "hyperfan_out",
    "bias_hyperinit",
    "weight_hyperinit",
)
_RELU_FAMILY = ("relu", "elu", "silu")


@dataclass(frozen=True)
class TargetTensor:
    """One tensor the hypernetwork generates.

    ``role`` is ``"weight"`` (a layer's ``[d_j, d_i]`` matrix), ``"bias"`` (its ``[d_i]`` bias) or
    ``"const"`` (a tensor with a constant base value, such as the log-variance bounds). ``fan_in``/``fan_out``
    are ``d_j``/``d_i`` of the layer the tensor belongs to.
    """

    shape: tuple[int, ...]
    role: Literal["weight", "bias", "const"]
    fan_in: int = 1
    fan_out: int = 1
    value: float = 0.0

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def mlp_targets(spec: MLPSpec, logvar_dim: int | None = None) -> dict[str, TargetTensor]:
    """The tensors of a functional MLP (``mlp.MLPSpec.param_shapes`` layout), plus the Gaussian head's
    ``max_logvar`` (0.5) and ``min_logvar`` (−10) ``[logvar_dim]`` when ``logvar_dim`` is given (the
    values ``DynamicsModel.init_params`` uses, PETS)."""
    out: dict[str, TargetTensor] = {}
    for name, shape in spec.param_shapes().items():
        i = int(name.split(".")[1])
        d_j, d_i = spec.sizes[i], spec.sizes[i + 1]
        role: Literal["weight", "bias"] = "weight" if name.endswith("weight") else "bias"
        out[name] = TargetTensor(tuple(shape), role, d_j, d_i)
    if logvar_dim is not None:
        out["max_logvar"] = TargetTensor((logvar_dim,), "const", value=0.5)
        out["min_logvar"] = TargetTensor((logvar_dim,), "const", value=-10.0)
    return out


def base_init(targets: dict[str, TargetTensor], generator: torch.Generator | None = None) -> Params:
    """A standard initialisation of the target: weights and biases U(±1/√d_j) (PyTorch's ``nn.Linear``
    default, as ``mlp.init_params``), constants filled with their value. Used by the HyperInit schemes."""
    out: Params = {}
    for name, t in targets.items():
        if t.role == "const":
            out[name] = torch.full(t.shape, t.value)
        else:
            bound = 1.0 / math.sqrt(t.fan_in)
            out[name] = torch.empty(t.shape).uniform_(-bound, bound, generator=generator)
    return out


@dataclass
class HyperNetConfig:
    """Hypernetwork architecture and initialisation."""

    emb_dim: int = 10
    """Task embedding size D (HyperCRL: 10); embeddings are drawn from N(0, I)."""
    hidden: tuple[int, ...] = (64, 64)
    """Trunk hidden widths (HyperCRL: [50, 50] to [256, 256]; empty: the heads read the embedding)."""
    activation: Literal["relu", "silu", "elu", "tanh"] = "relu"
    """Trunk activation (applied after every trunk layer)."""
    init: HnetInit = "bias_hyperinit"
    """Init: naive, xavier (HyperCRL), hyperfan_in/_out (Chang 2020), bias/weight_hyperinit (Beck 2022);
    bias_hyperinit: the generated network starts as a plain target network (issue 13)."""
    chunk_size: int = 0
    """0: full hypernetwork (one head per target tensor); c > 0: chunked, c outputs per chunk."""
    chunk_emb_dim: int = 20
    """Chunk embedding size D_c (chunked only)."""
    plastic: bool = False
    """Keep earlier task embeddings trainable (HyperCRL: frozen; its chunked variant: plastic)."""

    def __post_init__(self) -> None:
        self.hidden = tuple(self.hidden)
        if self.init not in INITS:
            raise DynadaptError(f"hnet.init must be one of {', '.join(INITS)}, got {self.init!r}")
        if self.emb_dim < 1 or any(h < 1 for h in self.hidden):
            raise DynadaptError("hnet.emb_dim and hnet.hidden must be positive")
        if self.chunk_size < 0 or self.chunk_emb_dim < 1:
            raise DynadaptError("hnet.chunk_size must be >= 0 and hnet.chunk_emb_dim >= 1")
        if self.chunk_size and self.init not in ("naive", "xavier"):
            raise DynadaptError(
                "a chunked hypernetwork supports hnet.init=naive or xavier only (set hnet.init)"
            )


def _uniform_(t: Tensor, var: float, generator: torch.Generator | None) -> Tensor:
    a = math.sqrt(3.0 * max(var, 0.0))
    return t.uniform_(-a, a, generator=generator) if a > 0 else t.zero_()


class HyperNetwork:
    """``h(e; θ)``: task embeddings -> params dict of a target network (see the module docstring).

    Args:
        targets: the tensors to generate (e.g. :func:`mlp_targets`).
        cfg: architecture and initialisation.
        target_activation: the target's hidden activation (sets ``c_act`` of the hyperfan schemes).
        generator: source of every random number (θ, embeddings, Monte-Carlo estimate of E[h²]).
        base: the standard target init for the HyperInit schemes (default: :func:`base_init`).

    θ is ``self.theta`` (a plain dict of leaf tensors requiring grad): trunk ``trunk.{i}.weight [in, out]``,
    ``trunk.{i}.bias``; full: ``head.{name}.weight [d_k, numel]``, ``head.{name}.bias [numel]``; chunked:
    ``chunk_embs [C, D_c]``, ``head.weight [d_k, c]``, ``head.bias [c]``. The embeddings ``self.embeddings``
    are kept apart from θ (HyperCRL trains them with their own optimiser, §4.3).
    """

    def __init__(
        self,
        targets: dict[str, TargetTensor],
        cfg: HyperNetConfig,
        *,
        target_activation: str = "relu",
        generator: torch.Generator | None = None,
        base: Params | None = None,
    ) -> None:
        self.targets = dict(targets)
        self.cfg = cfg
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.c_act = 2.0 if target_activation in _RELU_FAMILY else 1.0
        self.total = sum(t.numel for t in self.targets.values())
        trunk_in = cfg.emb_dim + (cfg.chunk_emb_dim if cfg.chunk_size else 0)
        self.trunk_sizes = (trunk_in, *cfg.hidden)
        self.d_k = self.trunk_sizes[-1]
        self.num_chunks = math.ceil(self.total / cfg.chunk_size) if cfg.chunk_size else 0
        trunk = sum(a * b + b for a, b in zip(self.trunk_sizes[:-1], self.trunk_sizes[1:]))
        chunked = self.num_chunks * cfg.chunk_emb_dim + (self.d_k + 1) * cfg.chunk_size
        n = trunk + (chunked if cfg.chunk_size else (self.d_k + 1) * self.total)  # the size of θ
        check_memory(TRAINING_COPIES * 4 * n, f"a hypernetwork of {n} parameters (while it trains)")
        self.embeddings: list[Tensor] = []
        self._cache: dict[int, Params] = {}
        self.theta: Params = self._init_theta(base)
        for p in self.theta.values():
            p.requires_grad_(True)

    # ------------------------------------------------------------------------------------------ init
    def _init_theta(self, base: Params | None) -> Params:
        cfg, g = self.cfg, self.generator
        theta: Params = {}
        hyperfan = cfg.init in ("hyperfan_in", "hyperfan_out")
        c_trunk = 2.0 if cfg.activation in _RELU_FAMILY else 1.0
        for i, (a, b) in enumerate(zip(self.trunk_sizes[:-1], self.trunk_sizes[1:])):
            w, bias = torch.empty(a, b), torch.empty(b)
            if hyperfan:  # Kaiming fan-in (He et al. 2015), as the hyperfan derivation requires
                _uniform_(w, c_trunk / a, g)
                bias.zero_()
            elif cfg.init == "xavier":
                _uniform_(w, 2.0 / (a + b), g)
                bias.zero_()
            else:  # PyTorch default nn.Linear: U(±1/√fan_in)
                _uniform_(w, 1.0 / (3.0 * a), g)
                _uniform_(bias, 1.0 / (3.0 * a), g)
            theta[f"trunk.{i}.weight"], theta[f"trunk.{i}.bias"] = w, bias
        d_k = self.d_k
        if cfg.chunk_size:
            c = cfg.chunk_size
            theta["chunk_embs"] = torch.randn(self.num_chunks, cfg.chunk_emb_dim, generator=g)
            w, bias = torch.empty(d_k, c), torch.empty(c)
            if cfg.init == "xavier":
                _uniform_(w, 2.0 / (d_k + c), g)
                bias.zero_()
            else:
                _uniform_(w, 1.0 / (3.0 * d_k), g)
                _uniform_(bias, 1.0 / (3.0 * d_k), g)
            theta["head.weight"], theta["head.bias"] = w, bias
            return theta
        m2 = self._h_second_moment(theta) if hyperfan else 1.0
        if cfg.init in ("bias_hyperinit", "weight_hyperinit") and base is None:
            base = base_init(self.targets, g)
        for name, t in self.targets.items():
            n = t.numel
            w, bias = torch.zeros(d_k, n), torch.zeros(n)
            if t.role == "const":
                bias.fill_(t.value)
            elif cfg.init == "naive":
                _uniform_(w, 1.0 / (3.0 * d_k), g)
                _uniform_(bias, 1.0 / (3.0 * d_k), g)
            elif cfg.init == "xavier":
                _uniform_(w, 2.0 / (d_k + n), g)
            elif cfg.init == "hyperfan_in":
                var = (
                    self.c_act / (2.0 * t.fan_in * d_k * m2)
                    if t.role == "weight"
                    else self.c_act / (2.0 * d_k * m2)
                )
                _uniform_(w, var, g)
            elif cfg.init == "hyperfan_out":
                if t.role == "weight":
                    var = self.c_act / (t.fan_out * d_k * m2)
                else:
                    var = self.c_act * max(0.0, 1.0 - t.fan_in / t.fan_out) / (d_k * m2)
                _uniform_(w, var, g)
            elif cfg.init == "bias_hyperinit":
                assert base is not None
                bias.copy_(base[name].reshape(n))
            else:  # weight_hyperinit: every row an independent standard init of the tensor
                one = {name: t}
                for k in range(d_k):
                    w[k] = base_init(one, g)[name].reshape(n)
            theta[f"head.{name}.weight"], theta[f"head.{name}.bias"] = w, bias
        return theta

    def _h_second_moment(self, theta: Params, samples: int = 4096) -> float:
        """Monte-Carlo ``E[h_k²]`` over N(0, I) embeddings through the initialised trunk."""
        with torch.no_grad():
            e = torch.randn(samples, self.cfg.emb_dim, generator=self.generator)
            return float((self._trunk(theta, e) ** 2).mean())

    def step_gain(self, task_id: int) -> float:
        """``1 + ‖h(e_t)‖₁``: the factor by which an Adam step of the heads moves task ``task_id``'s
        generated weights.

        A head computes ``W_m = Σ_k H_km h_k + β_m`` from the trunk output ``h = h(e_t)``, which is the same
        for every sample of task t, so ``∂L/∂H_km = h_k ∂L/∂W_m`` and ``∂L/∂β_m = ∂L/∂W_m``. Adam divides
        each moment by its own scale, so (up to ε, while h stays fixed) ``ΔH_km = sign(h_k) · u_m`` and
        ``Δβ_m = u_m``, with ``u_m`` the step Adam would take on ``W_m`` itself: ``ΔW_m = u_m (1 + ‖h‖₁)``.
        Heads trained with lr ``η / step_gain(t)`` therefore take Adam steps of lr ``η`` on the generated
        weights, whatever the trunk's width, its init and the embedding's draw. For the chunked hnet the head
        reads a different ``h_j`` per chunk; the mean of ``1 + ‖h_j‖₁`` over chunks is an approximation.
        """
        with torch.no_grad():
            emb = self.embedding_matrix([task_id])
            if self.cfg.chunk_size:
                c = self.theta["chunk_embs"]
                emb = torch.cat([emb.expand(c.shape[0], -1), c], dim=-1)
            return 1.0 + float(self._trunk(self.theta, emb).abs().sum(-1).mean())

    # -------------------------------------------------------------------------------------- embeddings
    @property
    def num_tasks(self) -> int:
        return len(self.embeddings)

    def add_task(self) -> int:
        """Append a new embedding e_t ~ N(0, I_D); freeze the earlier ones unless ``plastic``. Returns t."""
        if not self.cfg.plastic:
            for e in self.embeddings:
                e.requires_grad_(False)
        device = next(iter(self.theta.values())).device  # drawn on the CPU stream, kept where θ is
        e = torch.randn(self.cfg.emb_dim, generator=self.generator).to(device)
        self.embeddings.append(e.requires_grad_(True))
        self._cache.clear()
        return self.num_tasks - 1

    def trainable_embeddings(self) -> list[Tensor]:
        """The embeddings an optimiser should hold: the newest, or all of them when ``plastic``."""
        return [e for e in self.embeddings if e.requires_grad]

    def embedding_matrix(self, task_ids: Sequence[int]) -> Tensor:
        """``[T, D]`` embeddings of the given tasks (differentiable)."""
        for t in task_ids:
            if not 0 <= t < self.num_tasks:
                raise DynadaptError(f"task {t} has no embedding (the hypernetwork knows {self.num_tasks})")
        return torch.stack([self.embeddings[t] for t in task_ids])

    # ----------------------------------------------------------------------------------------- forward
    def _trunk(self, theta: Params, z: Tensor) -> Tensor:
        act = ACTIVATIONS[self.cfg.activation]
        h = z
        for i in range(len(self.trunk_sizes) - 1):
            h = act(h @ theta[f"trunk.{i}.weight"] + theta[f"trunk.{i}.bias"])
        return h

    def forward(self, emb: Tensor, theta: Params | None = None) -> Params:
        """Generate target params for a batch of embeddings: ``emb[T, D] -> {name: [T, *shape]}``.

        A pure function of ``theta`` (default ``self.theta``), so the look-ahead regulariser can evaluate
        ``h(e; θ + Δθ)`` and ``torch.func.vmap`` over embeddings or θ works. The task batch is one batched
        matmul per head.
        """
        theta = self.theta if theta is None else theta
        tb = emb.shape[0]
        if self.cfg.chunk_size:
            c = theta["chunk_embs"]
            z = torch.cat([emb[:, None, :].expand(tb, c.shape[0], -1), c[None].expand(tb, -1, -1)], dim=-1)
            flat = (self._trunk(theta, z) @ theta["head.weight"] + theta["head.bias"]).reshape(tb, -1)
            flat = flat[:, : self.total]
            out: Params = {}
            start = 0
            for name, t in self.targets.items():
                out[name] = flat[:, start : start + t.numel].reshape(tb, *t.shape)
                start += t.numel
            return out
        h = self._trunk(theta, emb)
        return {
            name: torch.addmm(theta[f"head.{name}.bias"], h, theta[f"head.{name}.weight"]).reshape(
                tb, *t.shape
            )
            for name, t in self.targets.items()
        }

    def generate(self, task_ids: Sequence[int], theta: Params | None = None) -> Params:
        """Params ``{name: [T, *shape]}`` of the given tasks (differentiable; a stacked "ensemble" of T)."""
        return self.forward(self.embedding_matrix(task_ids), theta)

    def weights(self, task_id: int) -> Params:
        """Detached params ``{name: [1, *shape]}`` of one task for planning, computed once and cached until
        :meth:`invalidate_cache` (pitfall H3: the reference regenerated them at every env step)."""
        if task_id not in self._cache:
            with torch.no_grad():
                self._cache[task_id] = {k: v.detach() for k, v in self.generate([task_id]).items()}
        return self._cache[task_id]

    def invalidate_cache(self) -> None:
        """Forget cached generated weights (call after every change of θ or of an embedding)."""
        self._cache.clear()

    @staticmethod
    def flatten_params(params: Params) -> Tensor:
        """``{name: [T, *shape]} -> [T, n]``: the flattened generated weight vector Θ of each task."""
        return torch.cat([v.reshape(v.shape[0], -1) for v in params.values()], dim=1)

    # ------------------------------------------------------------------------------------------- sizes
    def num_params(self) -> int:
        """Size of θ (trunk, heads, chunk embeddings), task embeddings excluded."""
        return sum(v.numel() for v in self.theta.values())

    def target_num_params(self) -> int:
        return self.total

    def size_ratio(self) -> float:
        """``num_params() / target_num_params()``."""
        return self.num_params() / self.total

    # ------------------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Tensor]:
        """θ (``theta.*``) and the embeddings (``emb [T, D]``) as a flat tensor dict."""
        out = {f"theta.{k}": v.detach().clone() for k, v in self.theta.items()}
        out["emb"] = (
            torch.stack([e.detach() for e in self.embeddings])
            if self.embeddings
            else torch.zeros(0, self.cfg.emb_dim)
        )
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        with torch.no_grad():
            for k, v in self.theta.items():
                src = state.get(f"theta.{k}")
                if src is None or src.shape != v.shape:
                    raise CorruptFileError(f"hypernetwork tensor {k} is missing or has the wrong shape")
                v.copy_(src)
        emb = state["emb"]
        self.embeddings = []
        for i in range(emb.shape[0]):
            last = i == emb.shape[0] - 1
            self.embeddings.append(emb[i].clone().requires_grad_(last or self.cfg.plastic))
        self._cache.clear()
