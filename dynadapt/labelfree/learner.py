"""A library of situation embeddings, identified online and trained continually without labels (issue 16).

:class:`ContextHyperLearner` plans with the dynamics network that a hypernetwork generates from the
embedding of the situation it believes it is in (:mod:`dynadapt.labelfree.context`). At every env step
(:meth:`ContextHyperLearner.observe`) the window of the episode's last ``n ≤ M = identify.window``
transitions (once ``n ≥ min_window``) is split into its first half ``A`` and second half ``B``::

    ê = refine(enc(A), A)               the "new" candidate (re-fitted every candidate_every steps)
    nll[k] = NLL(h(e_k); B)   k < K      every library embedding: cached weights, one batched forward
    nll[K] = NLL(h(ê); B)                the candidate, scored on the same held-out half
    d = Identifier.step(nll, n=|B|)      sticky CRP prior + persistence (dynadapt.labelfree.identify)
    d.created -> e_K = ê, refined once more on the whole window, joins the library
    d.suspect -> the transition is held out of training ("pending")
    otherwise -> the pending transitions go to the committed situation's bounded buffer

MOLe (Nagabandi, Finn, Levine 2019) keeps a mixture of models under a CRP prior; here the mixture is a
library of embeddings of one hypernetwork, and the new component is proposed from the interaction history
(HyperDynamics, Xian et al. 2021). With ``identify.detector = "cusum"`` the library is scored only after an
alarm on the committed situation's one-step NLL.

**Evidence per transition** (``identify.detector = "llr"``). The window race above compares one
half-window of evidence at a time, and a candidate fitted on the neighbouring half absorbs the shared
network's local error, so it "wins" wherever the stored networks are locally poor (measured on
``pendulum:recurring-mid``: in 38% of windows without a switch). The llr detector instead scores only the
newest transition, which no network has seen (prequential, Dawid 1984): the log-likelihood ratio of every
stored situation over the current one, ``(nll_c − nll_j) / T``, accumulates in Page's CUSUM
(:meth:`Identifier.step_llr`), so evidence adds up over a whole segment instead of one window and a locally
bad region must keep favouring the same challenger for ``h`` nats. A new situation is detected either by
the candidate's ratio (``new_test = "candidate"``; the candidate refitted every ``candidate_every`` steps on
the window before the newest transition) or (``new_test = "error"``) by a CUSUM alarm on the current
situation's one-step log error standardised by that situation's own in-control mean and deviation (kept
per situation across visits), confirmed when the error stays high for ``confirm_steps`` more steps and no
stored situation has half of its threshold: a new situation is a failure of the stored ones, which needs
no locally fitted candidate (on pendulum, early in the stream, the hypernetwork cannot yet express an
unseen situation, so no candidate beats the current network there). Its embedding is then the encoder's
proposal for the window, refined on it. A third test (``new_test = "adapt"``) scores a *shadow*: the
current network plus a weight-space offset that takes ``shadow_steps`` Adam steps on the window after every
transition (online adaptation as in GrBAL, which the hypernetwork need not be able to express yet); its
ratio over the current network accumulates like a challenger's. It shares the candidate's weakness: the
shadow also wins where the current network is merely locally poor (on the tuning seed's pendulum replay,
where the situation had not changed for hundreds of steps, its one-step error was 2-40 times below the
network's), so it creates more
situations than there are (docs/methods/labelfree.md, "Model accuracy"). Until the current situation's
first session no recall evidence
accumulates (its untrained network would lose to every trained one, even on its own data). With
``merge_llr > 0`` the merge test uses the same prequential ratios: ``cross[c, j]``, the moving mean of
``log p_j − log p_c`` over c's transitions; ``c`` and ``j`` merge when each network predicted the other's
transitions within ``merge_llr`` nats per transition.

**Young situations.** While the situation in force has had fewer than ``mature_sessions`` training
sessions, the candidate gets zero likelihood (no new situation is created; stored ones can still be
recalled): its embedding is itself a recent candidate, and an under-trained network would lose to every
locally fitted candidate, filling the library with copies. Before the first session (one situation, the
untrained hypernetwork) every transition therefore goes to situation 0.
With ``young_hold`` no recall evidence accumulates either while the situation in force is young: its
network knows the few hundred transitions it was created on and extrapolates outside them, so an older
situation would win the next episode's start and an error alarm would then create a duplicate (measured in
the full loop on ``pendulum:recurring-mid``, seed 100; off by default, see
:mod:`~dynadapt.labelfree.identify`).

**Scores.** Deterministic head: the Gaussian NLL of the normalised Δ with one variance σ² for all
candidates (``score_var``; 0: the median over the library of each situation's MSE on its recent data after
its last session, at least ``min_score_var``; 1 before any session). It changes only at sessions, so the
posterior does not drift with the errors it is meant to judge. Gaussian head: the predicted variance.

**Training** (:meth:`ContextHyperLearner.train`; HyperCRL, Huang et al. 2021, reference §4.3), on the data of
the situation ``c`` in force only. At the session's start a random sample ``S`` of at most ``reg_tasks``
other embeddings is drawn and their generated (raw hnet) outputs ``Θ*_i`` snapshotted. Per minibatch: the
task loss of ``h(e_c; θ)`` steps ``e_c`` (Adam, fresh each session), the look-ahead ``Δθ`` from θ's Adam
moments (:func:`~dynadapt.continual.hypercrl.adam_lookahead`) gives ``β · output_regularizer(S, θ + Δθ)``
(:func:`~dynadapt.continual.hypercrl.output_regularizer`), and θ steps on both gradients. A session's
gradient work is therefore the same however large the library (``train/reg_targets`` = ``|S|``); only the
merge test and the refill of the weight cache afterwards are ``O(K)`` gradient-free forwards. The chunked
hnet has one head for all tensors, so HyperCRL's per-head learning rate (``target_lr / step_gain``, exact
for a full hnet only) is not used: θ trains at ``lr``, and the generated tensors are scaled by
``1/√fan_in`` instead (:mod:`~dynadapt.labelfree.context`).

**Rehearsal and relabelling** (off by default). With ``rehearse = R`` every minibatch also replays R rows
of each sampled ``i ∈ S`` from its own buffer through its own fixed embedding (θ's gradient only): the
output regulariser holds the generated weights, rehearsal holds the predictions on each situation's own
transitions (measured on tuning-seed replays, ``benchmarks/labelfree_replay.py``: a situation not being
trained predicts its recent data 7.5× worse than after its own last session under the pendulum preset's
β = 0.05, 0.95× with R = 16). With ``relabel = L`` (label-free only) every chunk of ``L`` consecutive
steps of ``c``'s buffer that a sampled ``j`` explains better by ``identify.llr_threshold`` tempered nats
moves to ``j``'s buffer after the session (:meth:`ContextHyperLearner._relabel`): hard EM over the stored
data, constant time (only ``S`` is compared), so the transitions routed to ``c`` before a switch was
detected stop training it. ``own_scale`` scores each situation with its own per-dimension variance.

**Encoder** (label-free only), one Adam step per minibatch on ``enc_segments`` segments of ``M``
consecutive transitions (shorter down to ``min_window`` when there are none) of ``c`` and of every
``i ∈ S`` (so it does not forget earlier situations): from the first half of a segment of situation k the
proposal ``ê = enc(first half)`` must predict the second half through ``h(ê; θ)`` (θ detached: only the
encoder learns) plus ``enc_pull · ‖ê − e_k‖²``. So a window of situation k is proposed where ``e_k``
predicts well, and a recurring situation's candidate starts near its own embedding.

**Merging**, a prediction test (``identify.merge_distance`` is not read: embeddings have no natural scale).
After every session, ``c`` is compared with every other trained ``j`` on the last ``merge_rows`` transitions
of each: if one of the two networks predicts both data sets within ``1 + merge_tolerance`` of the MSE each
situation reached after its own last session, ``j`` and ``c`` merge into the lower index with that
network's embedding, buffers combined in time order, and :meth:`Identifier.merge` combines the counts.
The recorded MSE, not the other network's current error, is the reference, so a network that forgetting
has dragged away does not make two situations look alike.

**Task-aware reference** (``labels = "true"``): the true label from ``observe`` selects the embedding (one per
label, ``e ~ N(0, I_D)`` when a label is first seen, as HyperCRL §4.1); no identification, no encoder, no
merging: HyperCRL's task-conditioned hypernetwork and output regulariser on the same network, the issue's
upper reference. Unlike HyperCRL, whose tasks never return, a revisited task's embedding keeps training
(with the regulariser protecting a sample of the others).

Pending transitions are dropped at an episode reset (a challenger pending when the episode ends is never
resolved) and when held out longer than a window (``dropped`` counts both). Every tensor follows the
model's device (:func:`dynadapt.device.place` moves a run's tensors in place); the per-situation buffers
keep CPU rows.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.checks import short
from dynadapt.continual.base import adam, adam_step_
from dynadapt.continual.hypercrl import adam_lookahead, output_regularizer
from dynadapt.data.buffer import ReplayBuffer
from dynadapt.errors import CorruptFileError, DynadaptError, WrongTypeError
from dynadapt.labelfree.context import ContextHnetConfig, ContextHyperDynamics
from dynadapt.labelfree.identify import Decision, Identifier
from dynadapt.meta.base import Window
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.nets.hypernet import HyperNetwork
from dynadapt.types import Params

Item = tuple[Tensor, Tensor, Tensor, int, int]
"""A transition waiting to be routed: ``(obs[O], act[A], next_obs[O], episode, t)``."""


class ContextHyperLearner:
    """The label-free (or, with ``labels="true"``, task-aware) context hypernetwork learner (see the
    module docstring); a :class:`~dynadapt.labelfree.base.StreamLearner`.

    ``dyn`` holds the encoder, hypernetwork and library; ``identifier`` the online decisions;
    ``buffers[k]`` situation k's bounded data; ``pending`` the transitions held out while a switch is
    suspected.
    """

    def __init__(self, cfg: ContextHnetConfig, model: DynamicsModel, generator: torch.Generator) -> None:
        if not isinstance(model, DynamicsModel):
            raise WrongTypeError(f"context_hnet needs a DynamicsModel, got {short(model)}")
        if not isinstance(generator, torch.Generator):
            raise WrongTypeError(f"context_hnet needs a torch.Generator, got {short(generator)}")
        if model.has_heads:
            raise DynadaptError("context_hnet does not train learned reward/termination heads: turn them off")
        ReplayBuffer.check_memory(cfg.capacity, model.obs_dim, model.act_dim, "a situation's buffer")
        self.cfg = cfg
        self.model = model
        self.generator = generator
        self.dyn = ContextHyperDynamics(model, cfg, generator)
        self.identifier = Identifier(cfg.identify)
        self.window = Window(cfg.identify.window)
        self.buffers: list[ReplayBuffer] = []
        self.pending: deque[Item] = deque(maxlen=cfg.identify.window)
        self.train_mse: list[float] = []
        """Each situation's MSE on its recent data (``merge_rows``) at the end of its last session (NaN
        before its first): the automatic σ²'s fallback and the merge test's reference."""
        self.train_var: list[Tensor] = []
        """Each situation's MSE per normalised Δ dimension ``[O]`` on its recent data at the end of its last
        session (NaN before its first): its own scale (``own_scale``)."""
        self.trained: list[int] = []
        """Training sessions each situation has had."""
        self.label_of: list[int] = []
        """Task-aware mode: the true label of each library index."""
        self._current = -1  # task-aware mode: the library index in force
        self.episode, self.t, self.steps, self.sessions = 0, 0, 0, 0
        self.candidate: Tensor | None = None
        """The last new candidate ``[1, D]`` (reused for ``candidate_every`` steps)."""
        self.candidate_age = 0
        self._candidate_params: Params = {}  # llr detector: the candidate's generated params
        self._shadow: Params = {}  # new_test = adapt: the shadow's offset from the current network
        self._shadow_opt: torch.optim.Adam | None = None
        self.cross = torch.zeros(0, 0, dtype=torch.float64)
        """llr detector, ``[K, K]``: entry ``(c, j)`` the moving mean (over ``merge_rows``) of the ratio
        ``log p_j − log p_c`` of situation c's transitions, scored prequentially while c was current,
        clipped to ``±llr_threshold`` (the merge_llr test)."""
        self.cross_n = torch.zeros(0, 0, dtype=torch.int64)
        """How many ratios each entry of ``cross`` has averaged."""
        self.last_llr: Tensor | None = None
        """llr detector: the ratios handed to the identifier at the last step ``[K + 1]`` (a diagnostic)."""
        self.local: Tensor | None = None
        """``refine_library``: every library embedding refined on the first half of the window ``[K, D]``
        (re-fitted with the candidate)."""
        self.dropped = 0
        """Pending transitions dropped (at episode resets, or held out longer than a window)."""
        self.scored = 0
        """Steps at which the library and a new candidate were scored (the cusum detector skips most)."""
        self.ident_ms_total, self.ident_calls = 0.0, 0
        self.last_decision: Decision | None = None
        self.theta_list = list(self.dyn.hnet.theta.values())
        self.opt_theta = adam(self.theta_list + list(self.dyn.bounds.values()), cfg.lr)
        self.opt_enc = adam(list(self.dyn.encoder.values()), cfg.enc_lr)

    # ------------------------------------------------------------------------------------ the contract
    @property
    def task_aware(self) -> bool:
        return self.cfg.labels == "true"

    @property
    def num_situations(self) -> int:
        """K: situations in the library."""
        return self.dyn.num_situations

    @property
    def library_size(self) -> int:
        """K (the run loop records it per episode)."""
        return self.dyn.num_situations

    @property
    def current(self) -> int:
        """The library index in force (-1 before the first)."""
        return self._current if self.task_aware else self.identifier.current

    @property
    def situation(self) -> int:
        """The library index in force (label-free) or the true label (task-aware); -1 before the first."""
        if self.task_aware:
            return self.label_of[self._current] if self._current >= 0 else -1
        return self.identifier.current

    def reset(self) -> None:
        """Episode start: the window empties; pending transitions (an unresolved challenger) are dropped."""
        self.window.clear()
        self.identifier.reset()
        self.dropped += len(self.pending)
        self.pending.clear()
        self.candidate, self.candidate_age, self.local = None, 0, None
        self._candidate_params = {}
        self.episode += 1
        self.t = 0

    def params(self) -> Params:
        """The cached generated params ``[1, ...]`` of the situation in force (of the zero embedding before
        the first)."""
        k = self.current
        return self.dyn.weights(k) if k >= 0 else self.dyn.prior_weights()

    def observe(self, obs: Any, act: Any, next_obs: Any, label: int) -> None:
        """Record a transition and identify the situation (label-free) or follow ``label`` (task-aware)."""
        o, a, o2 = (_vector(v, name) for v, name in ((obs, "obs"), (act, "act"), (next_obs, "next_obs")))
        if (
            o.shape[0] != self.model.obs_dim
            or o2.shape[0] != self.model.obs_dim
            or a.shape[0] != self.model.act_dim
        ):
            raise DynadaptError(
                f"observe got obs/act/next_obs of sizes {o.shape[0]}/{a.shape[0]}/{o2.shape[0]}, the model "
                f"expects {self.model.obs_dim}/{self.model.act_dim}/{self.model.obs_dim}"
            )
        if self.task_aware and (
            isinstance(label, bool) or not isinstance(label, int | np.integer) or label < 0
        ):
            raise DynadaptError(
                f"the task-aware learner needs a non-negative integer label, got {short(label)}"
            )
        start = time.perf_counter()
        item: Item = (o, a, o2, self.episode, self.t)
        dev = self.device
        self.window.add(o.to(dev), a.to(dev), o2.to(dev))
        self.t += 1
        self.steps += 1
        if self.task_aware:
            self._follow_label(item, label)
        else:
            if len(self.pending) == self.pending.maxlen:
                self.dropped += 1  # held out longer than a window: the oldest is dropped
            self.pending.append(item)
            self._identify()
        self.ident_ms_total += (time.perf_counter() - start) * 1e3
        self.ident_calls += 1

    @property
    def device(self) -> torch.device:
        """Where the model's (and so the hypernetwork's) tensors live (the run moves them in place)."""
        return self.model.params["layers.0.weight"].device

    @property
    def mean_ident_ms(self) -> float:
        return self.ident_ms_total / self.ident_calls if self.ident_calls else 0.0

    # --------------------------------------------------------------------------------- identification
    def _follow_label(self, item: Item, label: int) -> None:
        label = int(label)
        if label not in self.label_of:
            self._new_situation(torch.randn(self.cfg.emb_dim, generator=self.generator))
            self.label_of.append(label)
        self._current = self.label_of.index(label)
        self._store(self._current, [item])

    def _new_situation(self, emb: Tensor) -> int:
        k = self.dyn.add(emb)
        self.buffers.append(ReplayBuffer(self.cfg.capacity, self.model.obs_dim, self.model.act_dim))
        self.train_mse.append(math.nan)
        self.train_var.append(torch.full((self.model.obs_dim,), math.nan, dtype=torch.float64))
        self.trained.append(0)
        size = self.cross.shape[0] + 1
        self.cross = torch.nn.functional.pad(self.cross, (0, 1, 0, 1))
        self.cross_n = torch.nn.functional.pad(self.cross_n, (0, 1, 0, 1))
        assert self.cross.shape == (size, size)
        return k

    def _store(self, k: int, items: list[Item]) -> None:
        for o, a, o2, ep, t in items:
            self.buffers[k].add(o.cpu(), a.cpu(), o2.cpu(), 0.0, False, False, episode=ep, t=t)

    def _route(self, k: int) -> None:
        """Send every pending transition to situation ``k``'s buffer."""
        self._store(k, list(self.pending))
        self.pending.clear()

    def score_var(self) -> float:
        """σ² of the deterministic score (see the module docstring)."""
        if self.cfg.score_var > 0:
            return self.cfg.score_var
        seen = [m for m in self.train_mse if not math.isnan(m)]
        return max(self.cfg.min_score_var, statistics.median(seen)) if seen else 1.0

    def own_var(self) -> Tensor:
        """``[K, O]``: each situation's own variance per dimension (``own_scale``; the shared σ² where a
        situation has had no session)."""
        var = torch.stack(self.train_var).nan_to_num(self.score_var())
        return var.clamp(min=self.cfg.min_score_var).to(self.device, torch.float32)

    def _identify(self) -> None:
        ident, cfg = self.identifier, self.cfg
        if cfg.identify.detector == "llr":
            self._identify_llr()
            return
        n = len(self.window)
        if n < cfg.min_window:
            return  # too short to split: the transitions wait in pending
        k, cur = self.num_situations, ident.current
        # no new situation while the one in force is young (module docstring)
        young = k > 0 and self.trained[cur] < cfg.mature_sessions
        if young and k == 1:
            d = ident.step([0.0, math.inf], n=1)  # nothing to compare: stay, count the step
            self.last_decision = d
            self._route(d.situation)
            return
        obs, act, nxt = self.window.tensors()
        with torch.no_grad():
            x, y = self.model.transitions({"obs": obs, "act": act, "next_obs": nxt})
            x, y = x.to(self.device), y.to(self.device)
        var = self.score_var()
        if k > 0 and cfg.identify.detector == "cusum":
            with torch.no_grad():
                err, _ = self.dyn.nll(self.dyn.weights(cur), x[-1:], y[-1:], var)
            ident.observe_error(float(err))
            if not ident.needs_scores():
                self._decide(ident.step(None), x, y)
                return
        self.scored += 1
        h = n // 2
        xa, ya, xb, yb = x[:h], y[:h], x[h:], y[h:]
        refit = self.candidate_age >= cfg.candidate_every or (self.candidate is None and not young)
        if cfg.refine_library and k > 0 and (self.local is None or self.local.shape[0] != k):
            refit = True
        if refit:
            self._refit(xa, ya, k, young)
        self.candidate_age += 1
        new = torch.full((1,), math.inf, device=x.device)
        with torch.no_grad():
            if not young and self.candidate is not None:
                new = self.dyn.nll(self.dyn.generate(self.candidate), xb, yb, var)[0]
            if k == 0:
                self._decide(ident.step(new, n=xb.shape[0]), x, y)
                return
            nll, _ = self.dyn.nll(self.dyn.library_params(), xb, yb, var)
            if cfg.refine_library and self.local is not None and math.isfinite(float(new)):
                # the candidate's local-fit advantage, measured on the stored embeddings
                fitted, _ = self.dyn.nll(self.dyn.generate(self.local), xb, yb, var)
                new = new + (nll.min() - fitted.min()).clamp(min=0.0)
        self._decide(ident.step(torch.cat([nll, new]), n=xb.shape[0]), x, y)

    def _identify_llr(self) -> None:
        """The llr detector (module docstring): one-step log-likelihood ratios of every stored situation
        and of the new candidate (fitted on the window before the newest transition) over the current
        situation, accumulated by :meth:`Identifier.step_llr`."""
        ident, cfg = self.identifier, self.cfg
        k, cur = self.num_situations, ident.current
        obs, act, nxt = self.window.tensors()
        with torch.no_grad():
            x, y = self.model.transitions({"obs": obs, "act": act, "next_obs": nxt})
            x, y = x.to(self.device), y.to(self.device)
        llr = torch.full((k + 1,), math.nan, dtype=torch.float64)
        err: float | None = None
        allow_new = False
        if k > 0:
            temp = cfg.identify.temperature
            var: float | Tensor = self.own_var() if cfg.own_scale else self.score_var()
            young = self.trained[cur] < cfg.mature_sessions
            # an untrained (with young_hold: a young) network loses to trained ones outside its few states
            hold = self.trained[cur] == 0 or (cfg.young_hold and young)
            with torch.no_grad():
                nu = cfg.identify.llr_nu
                nll, sq = self.dyn.nll(self.dyn.library_params(), x[-1:], y[-1:], var, nu)
                if not hold:
                    llr[:k] = ((nll[cur] - nll) / temp).double().cpu()
                err = math.log(float(sq[cur]) / y.shape[-1] + 1e-12)
                allow_new = not young
                by_error = cfg.identify.new_test == "error"
                if not young and cfg.identify.new_test == "adapt":
                    new, _ = self.dyn.nll(self._shadow_params(cur), x[-1:], y[-1:], var, nu)
                    llr[k] = float((nll[cur] - new[0]) / temp) - cfg.identify.new_margin
                    with torch.enable_grad():
                        self._shadow_step(cur, x, y)
                elif not young and not by_error and x.shape[0] - 1 >= cfg.min_window:
                    stale = self.candidate is None or not self._candidate_params
                    if stale or self.candidate_age >= cfg.candidate_every:
                        with torch.enable_grad():
                            self._refit(x[:-1], y[:-1], k, False)
                        self._candidate_params = self.dyn.generate(self.candidate)  # type: ignore[arg-type]
                    self.candidate_age += 1
                    cand_var = var[cur : cur + 1] if isinstance(var, Tensor) else var
                    new, _ = self.dyn.nll(self._candidate_params, x[-1:], y[-1:], cand_var, nu)
                    llr[k] = float((nll[cur] - new[0]) / temp) - cfg.identify.new_margin
            self.scored += 1
        self.last_llr = llr
        if k > 1:
            self._record_cross(cur, llr[:k])
        phase = int(self.t > cfg.identify.transient_steps)
        self._decide(ident.step_llr(llr, err, allow_new, phase), x, y)

    def _shadow_params(self, cur: int) -> Params:
        """new_test = adapt: the shadow, ``cur``'s cached generated params plus the offset (zero again after
        every committed switch and merge)."""
        base = self.dyn.weights(cur)
        if not self._shadow:
            self._set_shadow({n: torch.zeros_like(v) for n, v in base.items()})
        return {n: v + self._shadow[n] for n, v in base.items()}

    def _set_shadow(self, offsets: Params | None) -> None:
        """Start the shadow at ``offsets`` with a fresh Adam (None: no shadow until the next scored step).
        Sorted names: the optimiser's state is saved by position and tensor files sort their keys."""
        if offsets is None:
            self._shadow, self._shadow_opt = {}, None
            return
        self._shadow = {n: offsets[n].to(self.device).clone().requires_grad_(True) for n in sorted(offsets)}
        self._shadow_opt = adam(list(self._shadow.values()), self.cfg.shadow_lr)

    def _shadow_step(self, cur: int, x: Tensor, y: Tensor) -> None:
        """Fit the shadow's offset to the window ``x[n, ·], y[n, O]`` (the newest transition included, after
        it was scored): ``shadow_steps`` Adam steps on the training loss, the generated weights fixed. The
        shadow is a network the hypernetwork need not be able to express yet, adapted online as GrBAL adapts
        (Nagabandi et al. 2019), so its ratio over the current network grows in a situation no embedding
        explains; the offset is kept across sessions (the generated weights under it change)."""
        assert self._shadow_opt is not None
        offsets = list(self._shadow.values())
        base = self.dyn.weights(cur)
        for _ in range(self.cfg.shadow_steps):
            params = {n: v + self._shadow[n] for n, v in base.items()}
            loss = self.dyn.window_loss(params, x[None], y[None]).sum()
            self._shadow_opt.zero_grad(set_to_none=True)
            loss.backward()
            adam_step_(self._shadow_opt, offsets, self.cfg.grad_clip)

    def _record_cross(self, cur: int, llr: Tensor) -> None:
        """Fold the stored situations' ratios ``llr[K]`` on a transition of ``cur`` into ``cross[cur]``."""
        h = self.cfg.identify.llr_threshold
        live = ~torch.isnan(llr)
        live[cur] = False
        n = self.cross_n[cur] + live.long()
        rate = torch.maximum(1.0 / n.clamp(min=1).double(), torch.tensor(1.0 / self.cfg.merge_rows))
        step = rate * (llr.clamp(-h, h).nan_to_num(0.0) - self.cross[cur])
        self.cross[cur] = torch.where(live, self.cross[cur] + step, self.cross[cur])
        self.cross_n[cur] = n

    def _refit(self, xa: Tensor, ya: Tensor, k: int, young: bool) -> None:
        """Fit the new candidate ``refine(enc(A), A)`` (unless ``young``) and, with ``refine_library``, every
        stored embedding the same way, ``refine(e_k, A)``, in one batch: ``xa[h, ·], ya[h, O]``."""
        start: list[Tensor] = []
        if self.cfg.refine_library and k > 0:
            start.append(self.dyn.embeddings())
        if not young:
            with torch.no_grad():
                start.append(self.dyn.encode(xa[None], ya[None]))
        self.candidate_age = 0
        if not start:
            self.candidate = None
            return
        emb = torch.cat(start)
        fitted, _ = self.dyn.refine(
            emb, xa[None].expand(emb.shape[0], -1, -1), ya[None].expand(emb.shape[0], -1, -1)
        )
        if self.cfg.refine_library and k > 0:
            self.local = fitted[:k]
        self.candidate = None if young else fitted[-1:]

    def _decide(self, d: Decision, x: Tensor, y: Tensor) -> None:
        """Act on a decision; ``x[n, ·], y[n, O]`` is the window (a created situation's embedding is the
        candidate refined once more on all of it)."""
        self.last_decision = d
        if d.switched:
            self._set_shadow(None)
        if d.created:
            if self.candidate is None:  # the first situation of the llr detector
                with torch.no_grad():
                    self.candidate = self.dyn.encode(x[None], y[None])
            emb, _ = self.dyn.refine(self.candidate, x[None], y[None])
            self._new_situation(emb[0])
            self.candidate = None
        if not d.suspect:
            self._route(d.situation)

    # ---------------------------------------------------------------------------------------- training
    def _batch(self, k: int, rows: int) -> tuple[Tensor, Tensor]:
        data = self.buffers[k].sample(rows, self.generator)
        x, y = self.model.transitions(data)
        return x.to(self.device), y.to(self.device)

    def _segment_source(self, k: int) -> tuple[dict[str, Tensor], Tensor] | None:
        """Situation ``k``'s rows (oldest first) and the starts of its segments of length ``L``: the window
        M, or shorter (down to ``min_window``) when ``k`` has no run that long; None if it has none. Computed
        once per session (the buffers do not change during one), so an encoder step costs the same however
        full the buffers are."""
        length = self.cfg.identify.window
        while length >= self.cfg.min_window:
            starts = self.buffers[k].segment_starts(length)
            if starts.numel():
                return self.buffers[k].all(), starts[:, None] + torch.arange(length)[None, :]
            length //= 2
        return None

    def _segments(self, source: tuple[dict[str, Tensor], Tensor] | None) -> tuple[Tensor, Tensor] | None:
        """``enc_segments`` segments ``x[B, L, ·], y[B, L, O]`` drawn from a :meth:`_segment_source`."""
        if source is None:
            return None
        rows, spans = source
        pick = spans[torch.randint(0, spans.shape[0], (self.cfg.enc_segments,), generator=self.generator)]
        x, y = self.model.transitions({k: rows[k][pick] for k in ("obs", "act", "next_obs")})
        return x.to(self.device), y.to(self.device)

    def train(self) -> dict[str, float]:
        """One training session on the current situation's data (see the module docstring)."""
        c = self.current
        if c < 0 or len(self.buffers[c]) == 0:
            return {}
        cfg, dyn, hnet = self.cfg, self.dyn, self.dyn.hnet
        self.sessions += 1
        others = [i for i in range(self.num_situations) if i != c]
        sample: list[int] = []
        if cfg.reg_tasks > 0 and others:
            # reg_tasks draws with replacement: the same work whether 1 or 100 others are stored
            pick = torch.randint(0, len(others), (cfg.reg_tasks,), generator=self.generator)
            sample = sorted(others[i] for i in pick.tolist())
        reg = cfg.beta > 0 and bool(sample)
        targets = torch.zeros(0)
        if reg:
            with torch.no_grad():
                targets = HyperNetwork.flatten_params(hnet.generate(sample)).detach()
        e_c = hnet.embeddings[c].requires_grad_(True)
        opt_emb = adam([e_c], cfg.emb_lr)
        train_enc = not self.task_aware
        sits = [c, *sample] if train_enc else []
        sources = {k: self._segment_source(k) for k in set(sits)}
        losses, regs, enc_losses, pulls, rehearsed = [], [], [], [], []
        for _ in range(cfg.train_steps):
            x, y = self._batch(c, cfg.batch_size)
            self.opt_theta.zero_grad(set_to_none=True)
            opt_emb.zero_grad(set_to_none=True)
            loss = dyn.window_loss(dyn.generate(e_c[None]), x[None], y[None]).sum()
            losses.append(float(loss.detach()))
            if cfg.rehearse > 0 and sample:
                # each sampled earlier situation's own rows through its own fixed embedding (θ only)
                rows = [self._batch(i, cfg.rehearse) for i in sample]
                embs = torch.stack([hnet.embeddings[i].detach() for i in sample])
                old = dyn.window_loss(
                    dyn.generate(embs), torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])
                )
                loss = loss + old.mean()
                rehearsed.append(float(old.mean().detach()))
            loss.backward()
            adam_step_(opt_emb, [e_c], cfg.grad_clip)
            if reg:
                theta = hnet.theta
                if cfg.lookahead == "adam":
                    delta = adam_lookahead(self.opt_theta, self.theta_list)
                    theta = dict(zip(hnet.theta, torch._foreach_add(self.theta_list, delta)))
                r = output_regularizer(hnet, sample, targets, theta)
                (cfg.beta * r).backward()
                regs.append(float(r.detach()))
            adam_step_(self.opt_theta, self.theta_list + list(dyn.bounds.values()), cfg.grad_clip)
            if train_enc:
                enc_loss, pull = self._encoder_step(sits, sources)
                enc_losses.append(enc_loss)
                pulls.append(pull)
        e_c.requires_grad_(False)
        e_c.grad = None
        dyn.invalidate()
        self.trained[c] += 1
        with torch.no_grad():
            x, y = self._recent(c)
            mean, _ = self.model.forward_normalized(dyn.generate(e_c[None]), x[None])
            per_dim = ((mean[0] - y) ** 2).mean(0).double().cpu()
            self.train_var[c] = per_dim
            self.train_mse[c] = float(per_dim.mean())
        moved = 0 if self.task_aware else self._relabel(c, sample)
        merged = self._merge_check(c)
        metrics = {
            "train/loss": float(np.mean(losses)),
            "train/reg_targets": float(len(sample) if reg else 0),
            "model/situations": float(self.num_situations),
            "model/score_var": self.score_var(),
            "model/merged": float(merged),
            "model/relabelled": float(moved),
            "model/pending": float(len(self.pending)),
        }
        if regs:
            metrics["train/reg"] = float(np.mean(regs))
        if rehearsed:
            metrics["train/rehearse"] = float(np.mean(rehearsed))
        if enc_losses and not math.isnan(enc_losses[0]):
            metrics["train/enc_loss"] = float(np.nanmean(enc_losses))
            metrics["train/enc_pull"] = float(np.nanmean(pulls))
        return metrics

    def _encoder_step(
        self, sits: list[int], sources: dict[int, tuple[dict[str, Tensor], Tensor] | None]
    ) -> tuple[float, float]:
        """One Adam step of the encoder on segments of the situations ``sits``: prediction of each
        segment's second half through ``h(enc(first half))`` (θ detached) plus the pull toward ``e_k``."""
        dyn = self.dyn
        theta = {k: v.detach() for k, v in dyn.hnet.theta.items()}
        self.opt_enc.zero_grad(set_to_none=True)
        pred_total: Tensor | None = None
        pull_total: Tensor | None = None
        for k in sits:
            seg = self._segments(sources[k])
            if seg is None:
                continue
            x, y = seg
            h = x.shape[1] // 2
            proposal = dyn.encode(x[:, :h], y[:, :h])
            pred = dyn.window_loss(dyn.generate(proposal, theta), x[:, h:], y[:, h:]).mean()
            pull = ((proposal - dyn.hnet.embeddings[k].detach()) ** 2).sum(-1).mean()
            pred_total = pred if pred_total is None else pred_total + pred
            pull_total = pull if pull_total is None else pull_total + pull
        if pred_total is None or pull_total is None:
            return math.nan, math.nan
        ((pred_total + self.cfg.enc_pull * pull_total) / len(sits)).backward()
        adam_step_(self.opt_enc, list(dyn.encoder.values()), self.cfg.grad_clip)
        return float(pred_total.detach()) / len(sits), float(pull_total.detach()) / len(sits)

    # ------------------------------------------------------------------------------------------ merging
    def _merge_check(self, c: int) -> int:
        """Merge ``c`` with every situation that predicts like it (module docstring); returns merges made."""
        by_llr = self.cfg.merge_llr > 0 and self.cfg.identify.detector == "llr"
        if self.task_aware or (self.cfg.merge_tolerance <= 0 and not by_llr):
            return 0
        merged = 0
        j = 0
        while j < self.num_situations:
            if j == c or len(self.buffers[j]) == 0 or len(self.buffers[c]) == 0:
                j += 1
                continue
            who = self._llr_explainer(c, j) if by_llr else self._explainer(c, j)
            if who is not None:
                keep, drop = min(c, j), max(c, j)
                self._merge(keep, drop, self.dyn.hnet.embeddings[who].detach().clone())
                merged += 1
                c, j = keep, 0
                continue
            j += 1
        return merged

    def _recent(self, k: int) -> tuple[Tensor, Tensor]:
        """The last ``merge_rows`` transitions of situation ``k``: ``x[n, ·], y[n, O]``."""
        rows = self.cfg.merge_rows
        data = self.buffers[k].all()
        x, y = self.model.transitions({name: data[name][-rows:] for name in ("obs", "act", "next_obs")})
        x, y = x.to(self.device), y.to(self.device)
        return x, y

    def _explainer(self, a: int, b: int) -> int | None:
        """The one of ``a``, ``b`` whose generated network predicts both situations' recent data within
        ``1 + merge_tolerance`` of the training MSE each situation reached in its last session (None:
        neither does). The reference is the recorded MSE, not the other network's current one: a network
        dragged away by forgetting must not make two different situations look alike."""
        ref_a, ref_b = self.train_mse[a], self.train_mse[b]
        if math.isnan(ref_a) or math.isnan(ref_b):
            return None
        with torch.no_grad():
            xa, ya = self._recent(a)
            xb, yb = self._recent(b)
            lib = self.dyn.library_params()
            pair = {k: v[[a, b]] for k, v in lib.items()}
            on_a = self.model.mse(pair, xa.expand(2, -1, -1), ya.expand(2, -1, -1))
            on_b = self.model.mse(pair, xb.expand(2, -1, -1), yb.expand(2, -1, -1))
        tol = 1.0 + self.cfg.merge_tolerance
        for i, who in enumerate((a, b)):
            if on_a[i] <= tol * ref_a and on_b[i] <= tol * ref_b:
                return who
        return None

    def _llr_explainer(self, a: int, b: int) -> int | None:
        """merge_llr test: when each of ``a``, ``b`` has ``merge_rows`` ratios on the other's transitions
        and each predicted the other's within ``merge_llr`` nats per transition, the one that did so
        better (None otherwise)."""
        rows, tol = self.cfg.merge_rows, self.cfg.merge_llr
        if min(int(self.cross_n[a, b]), int(self.cross_n[b, a])) < rows:
            return None
        b_on_a, a_on_b = float(self.cross[a, b]), float(self.cross[b, a])
        if min(b_on_a, a_on_b) < -tol:
            return None
        return a if a_on_b >= b_on_a else b

    def _merge(self, keep: int, drop: int, emb: Tensor) -> None:
        """Situation ``drop`` joins ``keep`` (buffers merged in time order, ``keep``'s embedding ``emb``)."""
        self.buffers[keep] = self._rebuilt([self.buffers[keep].all(), self.buffers[drop].all()])
        del self.buffers[drop]
        mse = [m for m in (self.train_mse[keep], self.train_mse[drop]) if not math.isnan(m)]
        self.train_mse[keep] = max(mse) if mse else math.nan
        self.trained[keep] = max(self.trained[keep], self.trained[drop])
        self.train_var[keep] = torch.fmax(self.train_var[keep], self.train_var[drop])
        del self.train_mse[drop], self.trained[drop], self.train_var[drop]
        idx = [i for i in range(self.cross.shape[0]) if i != drop]
        self.cross, self.cross_n = self.cross[idx][:, idx], self.cross_n[idx][:, idx]
        self.cross[keep], self.cross_n[keep] = 0.0, 0  # its data changed: measure again
        self.cross[:, keep], self.cross_n[:, keep] = 0.0, 0
        with torch.no_grad():
            self.dyn.hnet.embeddings[keep].copy_(emb)
        self.dyn.remove(drop)
        self.identifier.merge(keep, drop)
        self._set_shadow(None)

    def _rebuilt(self, parts: list[dict[str, Tensor]]) -> ReplayBuffer:
        """A situation buffer holding the rows of ``parts`` in time order (the newest ``capacity``)."""
        rows = {k: torch.cat([p[k] for p in parts]).cpu() for k in ("obs", "act", "next_obs", "episode", "t")}
        order = np.lexsort((rows["t"].numpy(), rows["episode"].numpy()))[-self.cfg.capacity :]
        buf = ReplayBuffer(self.cfg.capacity, self.model.obs_dim, self.model.act_dim)
        for i in order.tolist():
            buf.add(
                rows["obs"][i],
                rows["act"][i],
                rows["next_obs"][i],
                0.0,
                False,
                False,
                episode=int(rows["episode"][i]),
                t=int(rows["t"][i]),
            )
        return buf

    def _relabel(self, c: int, others: list[int]) -> int:
        """Move the chunks of ``c``'s buffer that another situation explains better to that situation
        (``relabel``; hard EM over the stored data, constant time: only the session's sample of others).
        A chunk is ``relabel`` consecutive steps of one episode; it moves to ``j`` when the evidence for
        ``j`` over ``c`` on it, ``Σ (nll_c − nll_j) / T``, reaches ``llr_threshold``: what would have
        committed a switch online (the online detector's likelihood, :meth:`ContextHyperDynamics.row_nll`),
        against ``c``'s in-sample fit. Returns the rows moved."""
        cfg = self.cfg
        others = sorted(set(o for o in others if o != c and self.trained[o] > 0))
        if cfg.relabel <= 0 or not others or len(self.buffers[c]) == 0:
            return 0
        data = self.buffers[c].all()
        ids = [c, *others]
        with torch.no_grad():
            x, y = self.model.transitions(data)
            x, y = x.to(self.device), y.to(self.device)
            lib = self.dyn.library_params()
            params = {name: v[ids] for name, v in lib.items()}
            var: float | Tensor = self.own_var()[ids] if cfg.own_scale else self.score_var()
            nll = self.dyn.row_nll(params, x, y, var, cfg.identify.llr_nu)  # [1 + J, n]
        chunk = data["episode"].long() * (1 << 20) + data["t"].long() // cfg.relabel
        _, inverse = torch.unique(chunk, return_inverse=True)
        n_chunks = int(inverse.max()) + 1
        per = torch.zeros(len(ids), n_chunks, dtype=torch.float64)
        per.index_add_(1, inverse, nll.double().cpu())
        evidence = (per[0:1] - per[1:]) / cfg.identify.temperature  # [J, chunks]
        best, who = evidence.max(0)
        move = best >= cfg.identify.llr_threshold
        if not bool(move.any()):
            return 0
        row_move = move[inverse]
        row_to = who[inverse]
        keep_rows = {k: v[~row_move] for k, v in data.items()}
        for i, j in enumerate(others):
            sel = row_move & (row_to == i)
            if bool(sel.any()):
                self.buffers[j] = self._rebuilt([self.buffers[j].all(), {k: v[sel] for k, v in data.items()}])
        self.buffers[c] = self._rebuilt([keep_rows])
        return int(row_move.sum())

    # -------------------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Tensor]:
        """Hypernetwork, encoder, library, buffers, window, pending transitions, optimisers, generator."""
        out = {f"dyn.{k}": v for k, v in self.dyn.state_dict().items()}
        for k, buf in enumerate(self.buffers):
            out |= {f"buffer.{k}.{name}": v for name, v in buf.state_dict().items()}
        o, a = self.model.obs_dim, self.model.act_dim
        win = (
            self.window.tensors()
            if len(self.window)
            else (torch.zeros(0, o), torch.zeros(0, a), torch.zeros(0, o))
        )
        out |= {"window.obs": win[0], "window.act": win[1], "window.next_obs": win[2]}
        items = list(self.pending)
        for j, (name, dim) in enumerate((("obs", o), ("act", a), ("next_obs", o))):
            rows = [item[j] for item in items]
            out[f"pending.{name}"] = torch.stack(rows).cpu() if rows else torch.zeros(0, dim)  # type: ignore[arg-type]
        out["pending.index"] = torch.tensor([[i[3], i[4]] for i in items], dtype=torch.int64).reshape(-1, 2)
        out["candidate"] = (
            self.candidate.clone() if self.candidate is not None else torch.zeros(0, self.cfg.emb_dim)
        )
        out["local"] = self.local.clone() if self.local is not None else torch.zeros(0, self.cfg.emb_dim)
        out["train_mse"] = torch.tensor(self.train_mse, dtype=torch.float64)
        o_dim = self.model.obs_dim
        out["train_var"] = (
            torch.stack(self.train_var) if self.train_var else torch.zeros(0, o_dim, dtype=torch.float64)
        )
        out["trained"] = torch.tensor(self.trained, dtype=torch.int64)
        out["cross"], out["cross_n"] = self.cross.clone(), self.cross_n.clone()
        out["generator"] = self.generator.get_state().clone()
        for name, norm in (("input", self.model.input_norm), ("target", self.model.target_norm)):
            out |= {f"norm.{name}.{k}": v for k, v in norm.state_dict().items()}
        out |= _optim_state("opt_theta", self.opt_theta)
        out |= _optim_state("opt_enc", self.opt_enc)
        if self._shadow_opt is not None:  # new_test = adapt: the shadow's offset and its Adam moments
            out |= {f"shadow.{n}": v.detach().clone() for n, v in self._shadow.items()}
            out |= _optim_state("opt_shadow", self._shadow_opt)
        return out

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        try:
            self.dyn.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("dyn.")})
            k_lib = self.dyn.num_situations
            self.buffers = []
            for k in range(k_lib):
                buf = ReplayBuffer(self.cfg.capacity, self.model.obs_dim, self.model.act_dim)
                head = f"buffer.{k}."
                buf.load_state_dict({n[len(head) :]: v for n, v in state.items() if n.startswith(head)})
                self.buffers.append(buf)
            self.window.clear()
            for row in zip(state["window.obs"], state["window.act"], state["window.next_obs"]):
                self.window.add(*row)
            self.pending.clear()
            for o, a, o2, idx in zip(
                state["pending.obs"], state["pending.act"], state["pending.next_obs"], state["pending.index"]
            ):
                self.pending.append((o.clone(), a.clone(), o2.clone(), int(idx[0]), int(idx[1])))
            cand = state["candidate"]
            self.candidate = cand.clone() if cand.shape[0] else None
            self._candidate_params = {}
            local = state.get("local")
            self.local = local.clone() if local is not None and local.shape[0] else None
            self.train_mse = [float(v) for v in state["train_mse"]]
            nan_var = torch.full((len(self.train_mse), self.model.obs_dim), math.nan, dtype=torch.float64)
            self.train_var = list(state.get("train_var", nan_var).double().clone().unbind(0))
            self.trained = [int(v) for v in state["trained"]]
            k_lib = self.dyn.num_situations
            self.cross = state.get("cross", torch.zeros(k_lib, k_lib, dtype=torch.float64)).double().clone()
            self.cross_n = state.get("cross_n", torch.zeros(k_lib, k_lib, dtype=torch.int64)).long().clone()
            self.generator.set_state(state["generator"].cpu().clone())
            for name, norm in (("input", self.model.input_norm), ("target", self.model.target_norm)):
                head = f"norm.{name}."
                norm.load_state_dict({n[len(head) :]: v for n, v in state.items() if n.startswith(head)})
        except (KeyError, RuntimeError, ValueError) as err:
            if isinstance(err, DynadaptError):
                raise
            raise CorruptFileError(f"context_hnet state: missing or misshapen entry ({err})") from None
        if (
            not len(self.train_mse) == len(self.trained) == len(self.train_var) == k_lib
            or self.cross.shape != (k_lib, k_lib)
            or any(v.shape != (self.model.obs_dim,) for v in self.train_var)
        ):
            raise CorruptFileError("context_hnet state: library and buffers disagree")
        self.theta_list = list(self.dyn.hnet.theta.values())
        self.opt_theta = adam(self.theta_list + list(self.dyn.bounds.values()), self.cfg.lr)
        _load_optim_state("opt_theta", self.opt_theta, state)
        self.opt_enc = adam(list(self.dyn.encoder.values()), self.cfg.enc_lr)
        _load_optim_state("opt_enc", self.opt_enc, state)
        shadow = {k[len("shadow.") :]: v for k, v in state.items() if k.startswith("shadow.")}
        net = self.dyn.prior_weights()
        if shadow and (set(shadow) != set(net) or any(shadow[n].shape != net[n].shape for n in net)):
            raise CorruptFileError("context_hnet state: the shadow's offsets do not match the network")
        self._set_shadow(shadow or None)
        if self._shadow_opt is not None:
            _load_optim_state("opt_shadow", self._shadow_opt, state)
        if self.candidate is not None and self.cfg.identify.detector == "llr":
            with torch.no_grad():  # the llr detector scores the cached candidate's params
                self._candidate_params = self.dyn.generate(self.candidate.to(self.device))

    def meta(self) -> dict[str, object]:
        """JSON-serialisable counters, the identifier's state and the task-aware label map."""
        return {
            "version": 1,
            "labels": self.cfg.labels,
            "episode": self.episode,
            "t": self.t,
            "window_steps": self.window.steps,
            "steps": self.steps,
            "sessions": self.sessions,
            "candidate_age": self.candidate_age,
            "dropped": self.dropped,
            "scored": self.scored,
            "current": self._current,
            "label_of": list(self.label_of),
            "identifier": self.identifier.state(),
            "ident_ms_total": self.ident_ms_total,
            "ident_calls": self.ident_calls,
        }

    def load_meta(self, meta: dict[str, object], /) -> None:
        names = ("episode", "t", "window_steps", "steps", "sessions", "candidate_age", "dropped", "scored")
        try:
            if meta["version"] != 1 or meta["labels"] != self.cfg.labels:
                raise CorruptFileError(
                    f"context_hnet meta: version {meta['version']!r} / labels {meta['labels']!r} do not match"
                )
            ints = {k: _count(meta[k], k) for k in (*names, "ident_calls")}
            current = int(meta["current"])  # type: ignore[call-overload]
            label_of = [_count(v, "label") for v in meta["label_of"]]  # type: ignore[attr-defined]
            ident = meta["identifier"]
            ms = float(meta["ident_ms_total"])  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, DynadaptError):
                raise
            raise CorruptFileError(f"context_hnet meta: {err}") from None
        if not isinstance(ident, dict):
            raise CorruptFileError("context_hnet meta: identifier state is not an object")
        self.identifier.load_state(ident)
        for name in names:
            if name != "window_steps":
                setattr(self, name, ints[name])
        self.window.steps = ints["window_steps"]
        self._current, self.label_of = current, label_of
        self.ident_calls, self.ident_ms_total = ints["ident_calls"], ms


def _count(value: object, name: str) -> int:
    """A non-negative integer read from a checkpoint."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CorruptFileError(
            f"context_hnet meta: {name} must be a non-negative integer, got {short(value)}"
        )
    return value


def _vector(value: Any, name: str) -> Tensor:
    """``value`` as a finite float32 vector (one error line otherwise)."""
    try:
        t = torch.as_tensor(np.asarray(value, dtype=np.float32)).reshape(-1)
    except (TypeError, ValueError):
        raise WrongTypeError(f"{name} must be numbers, got {short(value, 60)}") from None
    if not torch.isfinite(t).all():
        raise DynadaptError(f"observe got a NaN or infinite {name}")
    return t


def _optim_state(prefix: str, opt: torch.optim.Optimizer) -> dict[str, Tensor]:
    """Adam's moments and step counts of every parameter, by position (``{prefix}.{i}.{key}``)."""
    out: dict[str, Tensor] = {}
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        for key, val in opt.state.get(p, {}).items():
            out[f"{prefix}.{i}.{key}"] = torch.as_tensor(val).detach().clone()
    return out


def _load_optim_state(prefix: str, opt: torch.optim.Optimizer, state: dict[str, Tensor]) -> None:
    """Restore :func:`_optim_state`'s entries; moments whose shape is not their parameter's raise
    :class:`CorruptFileError` (the fused kernel would read past them)."""
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        head = f"{prefix}.{i}."
        entries = {k[len(head) :]: v.clone() for k, v in state.items() if k.startswith(head)}
        for key in ("exp_avg", "exp_avg_sq"):
            if key in entries and entries[key].shape != p.shape:
                raise CorruptFileError(
                    f"context_hnet state: {head}{key} has shape {tuple(entries[key].shape)}, "
                    f"its parameter {tuple(p.shape)}"
                )
        if entries:
            opt.state[p] = entries
