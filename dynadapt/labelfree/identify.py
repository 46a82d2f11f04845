"""Online identification of the current situation without labels (issue 16).

A label-free learner keeps a library of ``K`` situation embeddings. At every env step it scores, on the
recent window of ``M`` transitions, each stored embedding and one *new* candidate (fitted on the first half
of the window), all on the second (held-out) half, and hands the negative log-likelihoods to
:meth:`Identifier.step`. The identifier turns them into a posterior over "stored situation k" and "a new
situation" and decides, with hysteresis, which situation is *committed*.

**Prior: a sticky Chinese restaurant process.** As in MOLe (Nagabandi, Finn, Levine 2019, "Deep Online
Learning via Meta-Learning", arXiv 1812.07671, Sec. 4; reference §5.6) the prior of stored situation ``k``
is ``n_k / (N + α)`` and that of a new one ``α / (N + α)``, with ``n_k`` the steps spent in ``k`` and
``N = Σ n_k``. As in the sticky HDP-HMM (Fox, Sudderth, Jordan, Willsky 2011, "A sticky HDP-HMM with
application to speaker diarization", Ann. Appl. Stat.), the current situation gets ``κ`` extra pseudo-counts
(``sticky``)::

    log p(k | window) = −nll_k / T + log(n_k + κ·[k = current]) − log(N + α + κ) − log Z      (k < K)
    log p(new | window) = −(nll_K + ε·n) / T + log α − log(N + α + κ) − log Z

normalised with log-sum-exp (``T``: ``temperature``; ``ε``: ``new_margin``; ``n``: scored transitions).

**A fair comparison of recall and creation.** The new candidate is fitted on the first half of the window
and scored on the second, so its fitted degrees of freedom earn nothing on the scored data and no
BIC-style penalty is needed: the held-out NLL already is a predictive likelihood, like the stored
embeddings'. The two halves are neighbouring transitions of one trajectory, though, so the candidate also
absorbs the shared network's local bias in this region of the state space, an advantage no stored embedding
(fitted elsewhere) has even when it is the right situation. ``new_margin`` charges the candidate ``ε`` nats
per scored transition for it; with ``ε > 0`` a tie in NLL always goes to recall, and the CRP prior adds
``log(n_k / α)`` in favour of every stored situation visited more than ``α`` steps. Remaining exact ties go
to the current situation, then to the lowest stored index, never to "new".

**Hysteresis.** A challenger (a stored situation other than the current one, or "new") must lead the
posterior at ``persistence`` consecutive steps before the switch is committed; until then the decision is
*suspect* (the caller holds the recent transitions out of training). One noisy step therefore never switches.

**Cheap path (``detector="cusum"``).** Scoring every embedding at every step costs ``K + 1`` window
evaluations and a fit. With the CUSUM detector the caller reports only the committed situation's one-step
error (:meth:`Identifier.observe_error`); challengers are scored (:meth:`Identifier.needs_scores`) only after
a one-sided CUSUM alarm on that error stream (Page 1954, "Continuous inspection schemes", Biometrika 41),
during the detector's warm-up after a switch, while a challenger is pending, and after an episode reset.

**Evidence per transition (``detector="llr"``, :meth:`Identifier.step_llr`).** The caller reports, for the
newest transition only, the log-likelihood ratio of every stored situation over the current one (each
network predicts a transition it has not been trained on: a prequential score, Dawid 1984, "Present
position and potential developments: the prequential approach", JRSS A 147). Each challenger runs Page's
CUSUM on its ratios and is committed when its statistic exceeds ``llr_threshold`` plus its log CRP prior
odds against the current situation (the CUSUM of log-likelihood ratios is the hazard-limited forward filter
of a two-state HMM; Adams & MacKay 2007, "Bayesian online changepoint detection", arXiv 0710.3742, keep the
full run-length posterior instead). A new situation is either one more challenger (the new candidate's
ratio, ``new_test="candidate"``, or an online-adapted shadow network's, ``new_test="adapt"``: the caller
computes either) or (``new_test="error"``) a confirmed CUSUM alarm on the current
situation's one-step log error, standardised by that situation's own in-control scale (one for an episode's
first ``transient_steps`` and one for the rest, kept per situation across visits), and only when no stored
challenger holds half of its threshold.

Two guards measured in the full planning loop, where the planner's own model decides which states are
visited: ``llr_clip`` censors each transition's ratio (Huber 1965), since in the states a network has not
been trained on (an episode's start, the states a planner with the wrong model drives to) one transition
can carry tens of nats; ``cusum_hold`` keeps the transitions out of training while the error CUSUM is past
half its threshold, since the current situation's network, trained every session on whatever it is given,
otherwise learns a new situation's first transitions and its error falls back before the alarm. Both are
off by default: with the learner's ``young_hold`` and ``hnet.beta = 0.5`` they raised the full loop's NMI
on pendulum:recurring-mid (seed 100, 0.40 -> 0.50, false switches 56 -> 19 per 10k) but lowered it on
cartpole:recurring-mid (0.56 -> 0.42).

Use::

    ident = Identifier(IdentifyConfig())
    every step:  ident.observe_error(err)                          # cusum detector only
                 d = ident.step(nll if ident.needs_scores() else None, n=scored)
                 if d.created: library.append(new_embedding)        # index d.situation == old K
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from dynadapt.checks import check
from dynadapt.errors import CorruptFileError, DynadaptError

STATE_VERSION = 1
"""Version of the dicts :meth:`Identifier.state` writes (checked by :meth:`Identifier.load_state`)."""


@dataclass
class IdentifyConfig:
    """Online identification of situations: sticky-CRP posterior, persistence and the CUSUM cheap path."""

    window: int = 32
    """M: recent transitions scored; the first half fits the new candidate, the second half is scored."""
    alpha: float = 1.0
    """α: CRP concentration, the prior pseudo-count of a new situation (MOLe)."""
    sticky: float = 10.0
    """κ: extra prior pseudo-counts of the current situation (sticky HDP-HMM, Fox et al. 2011)."""
    persistence: int = 3
    """Consecutive steps the same challenger must lead the posterior before a switch is committed."""
    create_persistence: int = 0
    """Consecutive steps "new" must lead before a new situation is created (0: ``persistence``). Longer
    than ``persistence`` asks more evidence to create than to recall: a candidate fitted on neighbouring
    transitions also wins where the stored networks are locally poor; only a lead kept while its fitting
    half moves on to new data shows a new situation."""
    merge_distance: float = 0.5
    """The learner merges two embeddings closer than this (the identifier only combines their counts)."""
    temperature: float = 1.0
    """T: log-likelihood = −NLL / T (T > 1 tempers an over-confident model's NLLs)."""
    new_margin: float = 0.5
    """ε: nats per scored transition charged to the new candidate (its local-fit advantage; > 0 makes a tie
    go to recall)."""
    max_situations: int = 0
    """Most situations in the library: at this size no new one is created (0: no limit)."""
    detector: Literal["score", "cusum", "llr"] = "score"
    """score: score every challenger at every step; cusum: only after a CUSUM alarm on the current
    situation's one-step error (cheap path between alarms); llr: accumulate every challenger's one-step
    log-likelihood ratio over the current situation in a CUSUM (:meth:`Identifier.step_llr`)."""
    new_test: Literal["candidate", "adapt", "error"] = "candidate"
    """llr detector, how a new situation is detected: candidate: the new candidate's ratio accumulates like
    a stored challenger's; adapt: so does the ratio of a *shadow*, the current situation's network
    fine-tuned in weight space on the recent transitions (the learner's ``shadow_*`` settings); error: a
    CUSUM alarm on the current situation's standardised one-step log error (the cusum_* settings),
    confirmed when that error stays high for confirm_steps more steps."""
    transient_steps: int = 0
    """llr detector, new_test = error: an episode's first steps whose errors are judged on a scale of
    their own per situation (the states after a reset are another regime than the rest; 0: one scale)."""
    confirm_steps: int = 16
    """llr detector, new_test = error: steps after an alarm whose mean standardised error must still exceed
    cusum_drift for a new situation to be created (shorter rises, such as an episode's start, are not)."""
    llr_threshold: float = 20.0
    """h (llr detector): nats of accumulated evidence a challenger needs, on top of its log prior odds
    against the current situation, before a switch is committed."""
    cusum_drift: float = 0.5
    """k: CUSUM reference drift, in standard deviations of the in-control error."""
    cusum_threshold: float = 5.0
    """h: CUSUM alarm threshold, in standard deviations of the in-control error."""
    cusum_warmup: int = 20
    """Errors that estimate the in-control mean and deviation after each switch (scoring stays on)."""
    cusum_rate: float = 0.01
    """The in-control mean and variance average all errors since the switch until 1/rate of them, then
    move exponentially with this rate (0: average all)."""
    cusum_hold: bool = False
    """llr detector, new_test = error: transitions are held out of training while the error CUSUM is above
    half its threshold, so the current situation's network does not learn the change it is being tested
    for (a network trained on a new situation's first transitions hides it)."""
    llr_clip: float = 0.0
    """llr detector: most nats of evidence one transition adds to or removes from a challenger's statistic
    (0: no limit). A censored ratio (Huber 1965, "A robust version of the probability ratio test", Ann.
    Math. Stat. 36) keeps a few transitions where a network extrapolates wildly, such as an episode's
    first states, from committing a switch: it then needs at least h / clip transitions."""
    llr_nu: float = 0.0
    """llr detector: ν > 0 scores each transition with a Student-t likelihood of ν degrees of freedom per
    normalised Δ dimension instead of the Gaussian (0): an error k times the scale then costs about
    (ν + 1) log k nats instead of k² / 2, so the transitions no network predicts well (the evidence of
    a wrong model is then systematic, not one outlier) weigh less. With oracle networks on
    pendulum:recurring-mid it cut an HMM filter's false switches 2-5 fold (benchmarks/labelfree_bound.py).
    In the learner it trades detection for quiet (a recorded replay of that stream, seed 100, the hnet
    preset's other settings, development): ν 3 cut false switches from 43 to 9 per 10k steps but NMI fell
    from 0.73 to 0.54 (median delay 4 -> 21, library 5 for 3), because the preset's temperature and
    threshold were set on Gaussian ratios; with temperature 2.5, NMI 0.67 and 13 per 10k. Off by default."""

    def __post_init__(self) -> None:
        floats = ["alpha", "sticky", "merge_distance", "temperature", "new_margin", "cusum_drift"]
        floats += ["cusum_threshold", "cusum_rate", "llr_threshold", "llr_clip", "llr_nu"]
        for name in floats:
            if not math.isfinite(float(getattr(self, name))):
                raise DynadaptError(f"identify.{name} must be finite")
        checks = [
            (self.window >= 2, "identify.window must be >= 2 (half fits the new candidate, half scores)"),
            (self.alpha > 0, "identify.alpha must be > 0"),
            (self.sticky >= 0, "identify.sticky must be >= 0"),
            (self.persistence >= 1, "identify.persistence must be >= 1"),
            (self.create_persistence >= 0, "identify.create_persistence must be >= 0 (0: persistence)"),
            (self.merge_distance >= 0, "identify.merge_distance must be >= 0"),
            (self.temperature > 0, "identify.temperature must be > 0"),
            (self.new_margin >= 0, "identify.new_margin must be >= 0"),
            (self.max_situations >= 0, "identify.max_situations must be >= 0 (0: no limit)"),
            (self.detector in ("score", "cusum", "llr"), "identify.detector must be score, cusum or llr"),
            (self.llr_threshold > 0, "identify.llr_threshold must be > 0"),
            (self.llr_clip >= 0, "identify.llr_clip must be >= 0 (0: no limit)"),
            (self.llr_nu >= 0, "identify.llr_nu must be >= 0 (0: Gaussian)"),
            (
                self.new_test in ("candidate", "adapt", "error"),
                "identify.new_test must be candidate, adapt or error",
            ),
            (self.confirm_steps >= 1, "identify.confirm_steps must be >= 1"),
            (self.transient_steps >= 0, "identify.transient_steps must be >= 0"),
            (self.cusum_drift >= 0, "identify.cusum_drift must be >= 0"),
            (self.cusum_threshold > 0, "identify.cusum_threshold must be > 0"),
            (self.cusum_warmup >= 2, "identify.cusum_warmup must be >= 2"),
            (0 <= self.cusum_rate < 1, "identify.cusum_rate must be in [0, 1)"),
        ]
        check(*checks)

    @property
    def scored(self) -> int:
        """Transitions in the scored (second) half of a full window: ``M − ⌊M/2⌋``."""
        return self.window - self.window // 2


@dataclass(frozen=True)
class Decision:
    """What :meth:`Identifier.step` decided at one step."""

    situation: int
    """The committed situation after this step; == K (the number stored before it) when a new one was
    committed."""
    switched: bool
    """A change was committed at this step (also the very first commit)."""
    created: bool
    """The committed situation is new: the caller adds an embedding at index K."""
    suspect: bool
    """A challenger leads but is not committed yet: the caller holds the recent transitions out of
    training."""
    challenger: int | None
    """The leading challenger (K = new), None when the current situation leads."""
    posterior: tuple[float, ...] = ()
    """Posterior probabilities of the K + 1 candidates at this step (empty when scoring was skipped)."""


def _finite(x: float, what: str) -> float:
    if not math.isfinite(x):
        raise CorruptFileError(f"{what} must be a finite number, got {x!r}")
    return x


class Cusum:
    """One-sided (upper) CUSUM on a stream of errors (Page 1954, "Continuous inspection schemes").

    The first ``warmup`` values estimate the in-control mean ``μ`` and deviation ``σ``; after that, with
    ``z = (x − μ) / σ`` (the estimates before the value)::

        S ← max(0, S + z − k)        alarm when S > h

    ``μ`` and ``σ²`` are running averages of every finite value (rate ``1/n``) until there are ``1/rate``
    of them, exponential moving averages with ``rate`` after that, so a few warm-up values do not fix a
    biased scale for good (a CUSUM run on estimated parameters alarms far sooner than its nominal run
    length) and a slowly improving model does not leave the detector blind. Once raised, the alarm holds
    until :meth:`reset`.
    """

    def __init__(
        self, drift: float = 0.5, threshold: float = 5.0, warmup: int = 20, rate: float = 0.01
    ) -> None:
        """``drift`` k and ``threshold`` h in units of σ; ``warmup`` >= 2 values; ``rate`` in [0, 1)."""
        if not (drift >= 0 and threshold > 0 and warmup >= 2 and 0 <= rate < 1):
            raise DynadaptError("Cusum needs drift >= 0, threshold > 0, warmup >= 2 and rate in [0, 1)")
        self.drift, self.threshold, self.warmup, self.rate = float(drift), float(threshold), int(warmup), rate
        self.reset()

    def reset(self, keep_stats: bool = False) -> None:
        """Clear the statistic ``S`` and the alarm; with ``keep_stats=False`` also re-estimate μ and σ
        from the next ``warmup`` values (a new regime)."""
        self.statistic = 0.0
        self.alarm = False
        if not keep_stats:
            self.seen = 0
            self.mean = 0.0
            self.var = 0.0

    @property
    def warming(self) -> bool:
        """Still estimating μ and σ (no alarm is possible yet)."""
        return self.seen < self.warmup

    def update(self, x: float) -> bool:
        """Feed one error; returns whether the alarm is raised (now or earlier, until :meth:`reset`)."""
        x = float(x)
        if math.isnan(x):
            raise DynadaptError("Cusum.update got NaN")
        if not self.warming:
            std = max(math.sqrt(self.var), 1e-6 * abs(self.mean), 1e-12)
            z = (x - self.mean) / std
            if z == math.inf:  # an infinite error is an infinitely strong signal
                self.statistic = math.inf
            elif self.statistic < math.inf:  # -inf (a log of a zero error) empties S
                self.statistic = max(0.0, self.statistic + z - self.drift)
            self.alarm = self.alarm or self.statistic > self.threshold
        if math.isfinite(x):  # running averages (rate 1/n) until 1/rate values, then exponential ones
            self.seen += 1
            r = max(self.rate, 1.0 / self.seen)
            delta = x - self.mean
            self.mean += r * delta
            self.var = (1 - r) * (self.var + r * delta * delta)
        return self.alarm

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state (the settings are the caller's)."""
        stat = self.statistic if math.isfinite(self.statistic) else None  # None: infinite (JSON has no inf)
        return {"statistic": stat, "alarm": self.alarm, "seen": self.seen, "mean": self.mean, "var": self.var}

    def load_state(self, d: dict[str, Any]) -> None:
        """Restore :meth:`state`'s dict."""
        try:
            stat = math.inf if d["statistic"] is None else _finite(float(d["statistic"]), "cusum statistic")
            alarm, seen = bool(d["alarm"]), int(d["seen"])
            mean, var = _finite(float(d["mean"]), "cusum mean"), _finite(float(d["var"]), "cusum var")
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, DynadaptError):
                raise
            raise CorruptFileError(f"invalid CUSUM state: {err}") from None
        if seen < 0 or var < 0:
            raise CorruptFileError("invalid CUSUM state: negative count or variance")
        self.statistic, self.alarm, self.seen, self.mean, self.var = stat, alarm, seen, mean, var


class Identifier:
    """Commits a situation at every step from the candidates' NLLs (see the module docstring)."""

    def __init__(self, cfg: IdentifyConfig) -> None:
        self.cfg = cfg
        self.current: int = -1
        """The committed situation, -1 before the first decision."""
        self.counts: list[int] = []
        """n_k: steps spent committed to each stored situation (the CRP counts)."""
        self.checking = 0
        """llr detector, new_test = error: steps since an unconfirmed alarm (0: none)."""
        self.check_sum = 0.0
        """The standardised errors summed since that alarm."""
        self.error_stats: list[list[float]] = []
        """llr detector, new_test = error: each situation's in-control ``[seen, mean, var]`` of its one-step
        log error (its prequential error scale), once for the transient after an episode start and once for
        the rest (``transient_steps``): saved when it is left, restored when it is recalled, so a recall
        needs no warm-up and is not judged on the scale of the situation it left."""
        self.phase = 1
        """llr detector: 0 in an episode's first transient_steps, 1 after."""
        self._lead: int | None = None  # the pending challenger (len(counts) = new), None if none
        self._streak = 0  # consecutive steps it has led
        self._quiet = 0  # consecutive scored steps the current situation led while the alarm is raised
        self._alarm = False  # cusum detector: challengers are being scored
        self.cusum = Cusum(cfg.cusum_drift, cfg.cusum_threshold, cfg.cusum_warmup, cfg.cusum_rate)
        self.evidence: list[float] = []
        """llr detector: ``S_j`` of every challenger (``K + 1`` entries, the last one "new"; the current
        situation's stays 0), empty before the first decision."""

    @property
    def num_situations(self) -> int:
        """K: situations stored (the new candidate's index)."""
        return len(self.counts)

    def needs_scores(self) -> bool:
        """Whether :meth:`step` needs the NLLs this step (always with the score detector; with cusum
        before the first decision, during warm-up, after an alarm or a reset, and while a challenger is
        pending)."""
        if self.cfg.detector == "score" or self.current < 0:
            return True
        return self._alarm or self._lead is not None or self.cusum.warming

    def observe_error(self, err: float) -> None:
        """The committed situation's one-step error on the newest transition (used by the cusum detector;
        any stream whose mean rises when the situation changes: a squared error, its log, an NLL)."""
        err = float(err)
        if math.isnan(err):
            raise DynadaptError("observe_error got NaN")
        if self.cfg.detector != "cusum" or self.current < 0 or self._alarm:
            return
        if self.cusum.update(err):
            self._alarm, self._quiet = True, 0

    def reset(self) -> None:
        """Episode start: the window empties, so a pending challenger is dropped; the cusum detector scores
        challengers again until the current situation has led ``persistence`` steps (streams often switch
        at episode boundaries)."""
        self._lead, self._streak = None, 0
        if self.cfg.detector == "cusum" and self.current >= 0:
            self._alarm, self._quiet = True, 0

    def _log_posterior(self, nll: np.ndarray, n: int) -> np.ndarray:
        """Normalised log posterior ``[K + 1]`` of the candidates (module docstring)."""
        cfg, k = self.cfg, len(self.counts)
        best = nll.min()
        if not math.isfinite(best):
            raise DynadaptError("every candidate situation has zero likelihood (all NLLs infinite)")
        loglik = -(nll - best) / cfg.temperature  # shifted first: the prior survives NLLs of any magnitude
        loglik[k] -= cfg.new_margin * n / cfg.temperature
        mass = np.asarray([*self.counts, 0], dtype=np.float64)
        mass[self.current] += cfg.sticky
        full = cfg.max_situations and k >= cfg.max_situations
        mass[k] = 0.0 if full else cfg.alpha
        with np.errstate(divide="ignore"):
            logp = loglik + np.log(mass) - math.log(mass.sum())
        top = logp.max()
        if not math.isfinite(top):
            raise DynadaptError("every candidate situation has zero likelihood (all NLLs infinite)")
        return logp - (top + math.log(np.exp(logp - top).sum()))

    def step(self, nll: Sequence[float] | Tensor | np.ndarray | None, n: int | None = None) -> Decision:
        """Decide the situation after this step.

        ``nll [K + 1]``: ``nll[k]`` the negative log-likelihood of stored situation ``k`` summed over the
        ``n`` scored transitions (default: the held-out half of a full window), ``nll[K]`` the new
        candidate's; +inf is allowed (zero likelihood), NaN and −inf raise. ``None`` only when
        :meth:`needs_scores` is False: the current situation is kept. The very first call (K = 0) commits
        situation 0, a new one. The current situation's count grows by one.
        """
        cfg, k = self.cfg, len(self.counts)
        if nll is None:
            if self.needs_scores():
                raise DynadaptError("Identifier.step needs the NLLs at this step (needs_scores() is True)")
            self.counts[self.current] += 1
            return Decision(self.current, False, False, False, None)
        if isinstance(nll, Tensor):
            x = nll.detach().to("cpu", torch.float64).numpy().reshape(-1)
        else:
            x = np.asarray(nll, dtype=np.float64).reshape(-1)
        x = x.copy()
        if x.shape[0] != k + 1:
            raise DynadaptError(f"Identifier.step expects K + 1 = {k + 1} NLLs, got {x.shape[0]}")
        if np.isnan(x).any() or (x == -np.inf).any():
            raise DynadaptError("Identifier.step got a NaN or -inf NLL")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n)
                              or n != int(n) or n < 1):  # fmt: skip
            raise DynadaptError(f"identify: n (scored transitions) must be an integer n >= 1, got {n!r}")
        n = cfg.scored if n is None else int(n)  # cfg.scored >= 1: window >= 2
        if self.current < 0:  # the first decision: situation 0 is new
            self.counts.append(1)
            self.current = 0
            self.cusum.reset()
            return Decision(0, True, True, False, None, (1.0,))
        logp = self._log_posterior(x, n)
        post = tuple(float(p) for p in np.exp(logp))
        ties = np.flatnonzero(logp == logp.max())
        leader = self.current if self.current in ties else int(ties[0])
        if leader == self.current:
            self._lead, self._streak = None, 0
            if self._alarm:  # a false alarm is over once the current situation has led long enough
                self._quiet += 1
                if self._quiet >= cfg.persistence:
                    self._alarm, self._quiet = False, 0
                    self.cusum.reset(keep_stats=True)
            self.counts[self.current] += 1
            return Decision(self.current, False, False, False, None, post)
        self._quiet = 0
        self._streak = self._streak + 1 if leader == self._lead else 1
        self._lead = leader
        needed = cfg.create_persistence if leader == k and cfg.create_persistence else cfg.persistence
        if self._streak < needed:
            self.counts[self.current] += 1
            return Decision(self.current, False, False, True, leader, post)
        created = leader == k
        if created:
            self.counts.append(0)
        self.current = leader
        self.counts[leader] += 1
        self._lead, self._streak, self._alarm = None, 0, False
        self.cusum.reset()  # a new regime: re-estimate the in-control error
        return Decision(leader, True, created, False, None, post)

    def thresholds(self) -> np.ndarray:
        """llr detector: the evidence ``[K + 1]`` each challenger needs, ``h + log((n_c + κ) / m_j)`` with
        ``m_j = n_j`` (stored) or ``α`` (new), at least ``h / 2``; +inf for the current situation, and for
        "new" when the library is full."""
        cfg, k = self.cfg, len(self.counts)
        mass = np.asarray([*self.counts, cfg.alpha], dtype=np.float64)
        full = cfg.max_situations and k >= cfg.max_situations
        with np.errstate(divide="ignore"):
            odds = math.log(self.counts[self.current] + cfg.sticky) - np.log(mass)
        out = np.maximum(cfg.llr_threshold + odds, cfg.llr_threshold / 2)
        out[self.current] = math.inf
        if full:
            out[k] = math.inf
        return out

    def _error_test(self, err: float, allow_new: bool) -> bool:
        """new_test = error: feed the current situation's one-step log error; True when a new situation is
        confirmed (an alarm whose next ``confirm_steps`` standardised errors, clipped to ``±cusum_threshold``,
        average at least ``cusum_drift``; the in-control mean and deviation are frozen meanwhile)."""
        cfg, cus = self.cfg, self.cusum
        if math.isnan(err):
            raise DynadaptError("Identifier.step_llr got a NaN error")
        if not self.checking:
            if cus.update(err):
                if not allow_new:
                    cus.reset(keep_stats=True)
                    return False
                self.checking, self.check_sum = 1, 0.0
            return False
        std = max(math.sqrt(cus.var), 1e-6 * abs(cus.mean), 1e-12)
        self.check_sum += max(-cfg.cusum_threshold, min(cfg.cusum_threshold, (err - cus.mean) / std))
        self.checking += 1
        if self.checking <= cfg.confirm_steps:
            return False
        confirmed = allow_new and self.check_sum / cfg.confirm_steps >= cfg.cusum_drift
        self.checking, self.check_sum = 0, 0.0
        cus.reset(keep_stats=True)
        return confirmed

    def step_llr(
        self,
        llr: Sequence[float] | Tensor | np.ndarray,
        err: float | None = None,
        allow_new: bool = True,
        phase: int = 1,
    ) -> Decision:
        """Decide the situation after this step from one-step evidence (``detector = "llr"``).

        ``llr [K + 1]``: the log-likelihood ratio of the newest transition under each challenger over the
        current situation (``log p_j − log p_c``; the last entry: the new candidate), NaN where a challenger
        has no evidence this step (its statistic is kept), ±inf allowed; ``llr[current]`` is ignored.
        With ``new_test = "error"``, ``llr[K]`` is not used: ``err`` (the current situation's one-step log
        error; None: none this step) feeds :meth:`_error_test`, and ``allow_new = False`` (a young current
        situation) turns its alarms down; ``phase`` (0: the transient after an episode start, 1: after)
        selects which of the situation's two error scales judges ``err``. Each
        challenger runs Page's CUSUM ``S_j ← max(0, S_j + llr_j)`` (Page 1954; the log-likelihood-ratio
        form is the optimal detector of a change to a known alternative, and the running maximum is the
        hazard-limited forward filter of a two-state HMM). The challenger with the largest ``S_j`` over
        its :meth:`thresholds` is committed as soon as it reaches it (every ``S`` then restarts at 0);
        while it holds half of it the decision is *suspect*. The very first call commits situation 0.
        """
        k = len(self.counts)
        if isinstance(llr, Tensor):
            x = llr.detach().to("cpu", torch.float64).numpy().reshape(-1)
        else:
            x = np.asarray(llr, dtype=np.float64).reshape(-1)
        if x.shape[0] != k + 1:
            raise DynadaptError(f"Identifier.step_llr expects K + 1 = {k + 1} ratios, got {x.shape[0]}")
        if self.current < 0:
            self.counts.append(1)
            self.current = 0
            self.evidence = [0.0, 0.0]
            return Decision(0, True, True, False, None)
        if phase not in (0, 1):
            raise DynadaptError(f"Identifier.step_llr: phase must be 0 or 1, got {phase!r}")
        by_error = self.cfg.new_test == "error"
        if by_error and phase != self.phase:
            self._swap_error_stats(self.current, phase)
        s = np.asarray(self.evidence, dtype=np.float64)
        if by_error:
            x[k] = math.nan
        live = ~np.isnan(x)
        if self.cfg.llr_clip > 0:
            x[live] = np.clip(x[live], -self.cfg.llr_clip, self.cfg.llr_clip)
        s[live] = np.maximum(0.0, s[live] + x[live])
        thr = self.thresholds()
        s[~np.isfinite(thr)] = 0.0  # the current situation, and "new" when the library is full
        if by_error:
            new = err is not None and self._error_test(float(err), allow_new and math.isfinite(thr[k]))
            s[k] = math.inf if new else 0.0
            if new and k > 1:  # data a stored situation already half explains recall it instead
                stored = np.where(np.isfinite(thr[:k]), s[:k] - thr[:k] / 2, -math.inf)
                if stored.max() >= 0:
                    s[k], s[int(stored.argmax())] = 0.0, math.inf
        with np.errstate(invalid="ignore"):
            margin = np.where(np.isfinite(thr), s - thr, -math.inf)
        leader = int(np.argmax(margin))
        if margin[leader] >= 0:
            created = leader == k
            if created:
                self.counts.append(0)
            self._swap_error_stats(leader)
            self.current = leader
            self.counts[leader] += 1
            self.evidence = [0.0] * (len(self.counts) + 1)
            self._lead, self._streak = None, 0
            self.checking, self.check_sum = 0, 0.0
            return Decision(leader, True, created, False, None)
        self.evidence = [float(v) for v in s]
        self.counts[self.current] += 1
        suspect = bool(s[leader] >= thr[leader] / 2) and math.isfinite(thr[leader])
        rising = by_error and self.cfg.cusum_hold and self.cusum.statistic >= self.cfg.cusum_threshold / 2
        if (self.checking or rising) and not suspect:
            leader, suspect = k, True  # an alarm being confirmed (or near): hold the transitions out
        self._lead = leader if suspect else None
        return Decision(self.current, False, False, suspect, leader if suspect else None)

    def _swap_error_stats(self, leader: int, phase: int | None = None) -> None:
        """Save the current (situation, phase)'s error scale and load ``leader``'s in ``phase`` (default:
        the phase in force; a warm-up for one never seen). An unconfirmed alarm is dropped."""
        cus = self.cusum
        phase = self.phase if phase is None else phase
        while len(self.error_stats) < len(self.counts):
            self.error_stats.append([0.0] * 6)
        self.error_stats[self.current][3 * self.phase : 3 * self.phase + 3] = [
            float(cus.seen),
            cus.mean,
            cus.var,
        ]
        seen, mean, var = self.error_stats[leader][3 * phase : 3 * phase + 3]
        cus.reset()
        if seen > 0:  # a scale still warming up goes on warming up
            cus.seen, cus.mean, cus.var = int(seen), mean, var
        self.phase = phase
        self.checking, self.check_sum = 0, 0.0

    def merge(self, keep: int, drop: int) -> None:
        """Situation ``drop`` merges into ``keep``: their counts combine, indices above ``drop`` shift down
        by one, and the current situation and a pending challenger are remapped."""
        k = len(self.counts)
        if not (0 <= keep < k and 0 <= drop < k and keep != drop):
            raise DynadaptError(
                f"merge needs two different stored situations in [0, {k}), got {keep}, {drop}"
            )

        def remap(i: int) -> int:
            i = keep if i == drop else i
            return i - 1 if i > drop else i

        self.counts[keep] += self.counts[drop]
        del self.counts[drop]
        if self.evidence:
            self.evidence = [0.0] * (len(self.counts) + 1)  # the compared pairs changed: restart
        if drop < len(self.error_stats):
            del self.error_stats[drop]
        self.current = remap(self.current)
        if self._lead is not None:
            self._lead = remap(self._lead)  # "new" (index K) shifts to K - 1 like any index above drop
            if self._lead == self.current:
                self._lead, self._streak = None, 0

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state for checkpoints (the config is the caller's)."""
        return {
            "version": STATE_VERSION,
            "current": self.current,
            "counts": list(self.counts),
            "lead": self._lead,
            "streak": self._streak,
            "quiet": self._quiet,
            "alarm": self._alarm,
            "cusum": self.cusum.state(),
            "evidence": list(self.evidence),
            "checking": self.checking,
            "check_sum": self.check_sum,
            "error_stats": [list(v) for v in self.error_stats],
            "phase": self.phase,
        }

    def load_state(self, d: dict[str, Any]) -> None:
        """Restore :meth:`state`'s dict (raises :class:`CorruptFileError` on a malformed one)."""
        try:
            if d["version"] != STATE_VERSION:
                raise CorruptFileError(f"identifier state version {d['version']!r}, expected {STATE_VERSION}")
            counts = [int(c) for c in d["counts"]]
            current, streak, quiet = int(d["current"]), int(d["streak"]), int(d["quiet"])
            lead = None if d["lead"] is None else int(d["lead"])
            alarm = bool(d["alarm"])
            cusum = d["cusum"]
            evidence = [_finite(float(v), "llr evidence") for v in d.get("evidence", [])]
            checking = int(d.get("checking", 0))
            check_sum = _finite(float(d.get("check_sum", 0.0)), "check sum")
            stats = [[_finite(float(v), "error stats") for v in row] for row in d.get("error_stats", [])]
            phase = int(d.get("phase", 1))
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, DynadaptError):
                raise
            raise CorruptFileError(f"invalid identifier state: {err}") from None
        k = len(counts)
        ok = (
            all(c >= 0 for c in counts)
            and (current == -1 if k == 0 else 0 <= current < k)
            and (lead is None or (0 <= lead <= k and lead != current))
            and streak >= 0
            and quiet >= 0
            and (not evidence or (len(evidence) == k + 1 and min(evidence) >= 0))
            and checking >= 0
            and len(stats) <= k
            and all(len(row) == 6 and min(row[0], row[2], row[3], row[5]) >= 0 for row in stats)
            and phase in (0, 1)
        )
        if not ok:
            raise CorruptFileError("invalid identifier state: inconsistent indices or counts")
        self.cusum.load_state(cusum)
        self.counts, self.current, self._lead, self._streak = counts, current, lead, streak
        self._quiet, self._alarm = quiet, alarm
        self.evidence = evidence
        self.checking, self.check_sum = checking, check_sum
        self.error_stats, self.phase = stats, phase
