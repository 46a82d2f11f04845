"""Online identification: sticky-CRP posterior, persistence, recall over creation, merge, state, CUSUM."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.labelfree.identify import Cusum, Decision, Identifier, IdentifyConfig

BIG = 1e3  # an NLL that loses clearly against 0 whatever the prior (|log prior ratios| here are < 10)


def library(cfg: IdentifyConfig, stay: int = 20) -> Identifier:
    """An identifier with two stored situations, committed to 0 (counts: [stay + p + 1, p])."""
    p = cfg.persistence
    ident = Identifier(cfg)
    assert ident.step([0.0]) == Decision(0, True, True, False, None, (1.0,))
    for _ in range(p):  # create situation 1
        d = ident.step([BIG, 0.0])
    assert d.created and d.situation == 1
    for _ in range(p):  # back to 0
        d = ident.step([0.0, BIG, BIG])
    assert d.switched and not d.created and d.situation == 0
    for _ in range(stay):
        ident.step([0.0, BIG, BIG])
    assert ident.current == 0 and ident.counts == [stay + p + 1, p]
    return ident


def test_one_step_spikes_never_switch() -> None:
    cfg = IdentifyConfig(persistence=3)
    ident = library(cfg)
    for _ in range(10):  # a spike where situation 1 wins clearly, then a normal step
        d = ident.step([BIG, 0.0, BIG])
        assert (d.situation, d.switched, d.suspect, d.challenger) == (0, False, True, 1)
        d = ident.step([0.0, BIG, BIG])
        assert (d.situation, d.switched, d.suspect, d.challenger) == (0, False, False, None)
    for _ in range(cfg.persistence - 1):  # a run one step shorter than persistence does not switch either
        assert ident.step([BIG, 0.0, BIG]).suspect
    assert ident.step([0.0, BIG, BIG]).situation == 0
    # a small advantage does not even lead: the sticky prior log((n_0 + κ) / n_1) outweighs 0.5 nats
    d = ident.step([1.0, 0.5, BIG])
    assert not d.suspect and d.challenger is None and d.posterior[0] > d.posterior[1]
    # ... but it does without the stickiness and with a fresh current situation
    ident = Identifier(IdentifyConfig(sticky=0.0))
    ident.load_state({**ident.state(), "counts": [1, 1], "current": 0})
    assert ident.step([1.0, 0.5, BIG]).challenger == 1


@pytest.mark.parametrize("persistence", [1, 3, 5])
def test_switches_after_exactly_persistence_steps(persistence: int) -> None:
    ident = library(IdentifyConfig(persistence=persistence))
    before = list(ident.counts)
    for step in range(1, persistence + 1):
        d = ident.step([BIG, 0.0, BIG])
        if step < persistence:
            assert (d.situation, d.switched, d.suspect, d.challenger) == (0, False, True, 1)
    assert (d.situation, d.switched, d.created, d.suspect, d.challenger) == (1, True, False, False, None)
    assert ident.current == 1
    assert ident.counts == [before[0] + persistence - 1, before[1] + 1]  # suspect steps count to the old one
    assert math.isclose(sum(d.posterior), 1.0, rel_tol=1e-12) and d.posterior[1] > 0.999


def test_a_new_challenger_restarts_the_count() -> None:
    ident = library(IdentifyConfig(persistence=3))
    assert ident.step([BIG, 0.0, BIG]).challenger == 1
    assert ident.step([BIG, 0.0, BIG]).challenger == 1
    assert ident.step([BIG, BIG, 0.0]).challenger == 2  # the new candidate leads now: the count restarts
    assert ident.step([BIG, BIG, 0.0]).suspect
    d = ident.step([BIG, BIG, 0.0])
    assert d.switched and d.created and d.situation == 2 and ident.counts[2] == 1


def test_creates_a_new_situation_when_the_candidate_wins() -> None:
    ident = library(IdentifyConfig(persistence=2))
    d = ident.step(torch.tensor([BIG, BIG, 0.0]))  # tensors are accepted
    assert (d.situation, d.switched, d.created, d.suspect, d.challenger) == (0, False, False, True, 2)
    d = ident.step(np.array([BIG, BIG, 0.0]))
    assert (d.situation, d.switched, d.created, d.suspect, d.challenger) == (2, True, True, False, None)
    assert ident.num_situations == 3 and ident.current == 2 and ident.counts[2] == 1
    # the next call scores K + 1 = 4 candidates
    with pytest.raises(DynadaptError, match="K \\+ 1 = 4"):
        ident.step([0.0, 0.0, 0.0])


def test_creation_can_need_more_persistence_than_recall() -> None:
    ident = library(IdentifyConfig(persistence=2))
    ident.cfg.create_persistence = 4
    for _ in range(3):  # "new" leads 3 < 4 steps: still suspect
        d = ident.step([BIG, BIG, 0.0])
        assert d.suspect and d.challenger == 2 and not d.created
    d = ident.step([BIG, BIG, 0.0])
    assert d.created and d.situation == 2
    for _ in range(2):  # recall of situation 1 still needs only persistence = 2
        d = ident.step([BIG, 0.0, BIG, BIG])
    assert d.switched and d.situation == 1 and not d.created


@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_recall_is_preferred_over_creation_on_a_tie(margin: float) -> None:
    """Equal NLLs of stored situation 1 and the new candidate: recall. Situation 1 has n_1 = 1 = α here,
    so with ε = 0 the posterior is an exact tie (broken towards the stored index); ε > 0 breaks it."""
    cfg = IdentifyConfig(persistence=2, alpha=1.0, new_margin=margin)
    ident = Identifier(cfg)
    ident.load_state({**ident.state(), "counts": [30, 1], "current": 0})
    d = ident.step([BIG, 5.0, 5.0])
    assert d.challenger == 1
    if margin == 0.0:
        assert d.posterior[1] == d.posterior[2]
    else:  # the candidate pays ε · n = 0.5 · 16 nats
        assert math.isclose(math.log(d.posterior[1] / d.posterior[2]), margin * cfg.scored, rel_tol=1e-9)
    d = ident.step([BIG, 5.0, 5.0])
    assert d.switched and not d.created and d.situation == 1
    # the margin scales with the scored transitions n
    ident = Identifier(cfg)
    ident.load_state({**ident.state(), "counts": [30, 1], "current": 0})
    d = ident.step([BIG, 5.0, 5.0], n=4)
    assert math.isclose(math.log(d.posterior[1] / d.posterior[2]), margin * 4, rel_tol=1e-9, abs_tol=1e-12)


def test_crp_prior_and_temperature() -> None:
    """With equal NLLs the posterior is the sticky CRP prior; the temperature divides the NLLs."""
    cfg = IdentifyConfig(alpha=2.0, sticky=3.0, new_margin=0.0, temperature=4.0)
    ident = Identifier(cfg)
    ident.load_state({**ident.state(), "counts": [5, 10], "current": 0})
    d = ident.step([7.0, 7.0, 7.0])
    total = 5 + 10 + 3 + 2.0
    np.testing.assert_allclose(d.posterior, [8 / total, 10 / total, 2 / total], rtol=1e-12)
    d = ident.step([0.0, 4.0 * math.log(2.0), 0.0])  # halves situation 1's likelihood (counts now [6, 10])
    w = np.array([6 + 3, 10 / 2, 2])
    np.testing.assert_allclose(d.posterior, w / w.sum(), rtol=1e-12)


def test_max_situations_stops_creation() -> None:
    ident = Identifier(IdentifyConfig(persistence=1, max_situations=2))
    ident.load_state({**ident.state(), "counts": [10, 10], "current": 0})
    d = ident.step([5.0, 6.0, 0.0])  # the candidate would win by far
    assert d.situation == 0 and not d.suspect and d.posterior[2] == 0.0


def test_numerics_and_bad_input() -> None:
    ident = library(IdentifyConfig(persistence=1))
    d = ident.step([1e300, 1e300 + 1e290, 1e300])  # huge but finite: log-sum-exp keeps it finite
    assert all(math.isfinite(p) for p in d.posterior) and math.isclose(sum(d.posterior), 1.0)
    d = ident.step([math.inf, 0.0, math.inf])  # +inf: zero likelihood, allowed
    assert d.situation == 1 and d.posterior == (0.0, 1.0, 0.0)
    for bad in ([math.nan, 0.0, 0.0], [0.0, -math.inf, 0.0], [math.inf] * 3, [0.0, 0.0]):
        with pytest.raises(DynadaptError):
            ident.step(bad)
    with pytest.raises(DynadaptError, match="n >= 1"):
        ident.step([0.0, 0.0, 0.0], n=0)
    with pytest.raises(DynadaptError, match="NaN"):
        ident.observe_error(math.nan)
    with pytest.raises(DynadaptError, match="needs the NLLs"):
        ident.step(None)  # the score detector always needs them


@pytest.mark.parametrize(
    "field",
    [
        {"window": 1},
        {"alpha": 0.0},
        {"sticky": -1.0},
        {"persistence": 0},
        {"create_persistence": -1},
        {"merge_distance": -0.1},
        {"temperature": 0.0},
        {"new_margin": math.nan},
        {"max_situations": -1},
        {"detector": "bocpd"},
        {"llr_threshold": 0.0},
        {"llr_clip": -1.0},
        {"llr_clip": math.nan},
        {"transient_steps": -1},
        {"confirm_steps": 0},
        {"new_test": "bic"},
        {"cusum_threshold": 0.0},
        {"cusum_warmup": 1},
        {"cusum_rate": 1.0},
        {"alpha": math.inf},
    ],
)
def test_config_validation(field: dict[str, object]) -> None:
    with pytest.raises(DynadaptError, match="identify\\."):
        IdentifyConfig(**field)  # type: ignore[arg-type]


def test_merge_remaps_counts_current_and_challenger() -> None:
    ident = Identifier(IdentifyConfig(persistence=3))
    ident.load_state({**ident.state(), "counts": [5, 3, 7], "current": 2})
    ident.merge(keep=0, drop=1)
    assert ident.counts == [8, 7] and ident.current == 1
    ident.merge(keep=1, drop=0)  # the current situation absorbs 0 and moves down to index 0
    assert ident.counts == [15] and ident.current == 0
    ident.load_state({**ident.state(), "counts": [5, 3, 7], "current": 1})
    ident.merge(keep=2, drop=1)  # dropping the current situation: it becomes the kept one
    assert ident.counts == [5, 10] and ident.current == 1
    for keep, drop in [(0, 0), (0, 2), (-1, 0)]:
        with pytest.raises(DynadaptError):
            ident.merge(keep, drop)
    # a pending "new" challenger keeps its streak across a merge (index K shifts to K - 1)
    ident.load_state({**ident.state(), "counts": [5, 3, 7], "current": 0})
    assert ident.step([BIG, BIG, BIG, 0.0]).challenger == 3
    ident.merge(keep=1, drop=2)
    assert ident.step([BIG, BIG, 0.0]).challenger == 2
    d = ident.step([BIG, BIG, 0.0])
    assert d.created and d.situation == 2 and ident.counts == [7, 10, 1]
    # a pending challenger merged into the current situation is no longer pending
    ident.load_state({**ident.state(), "counts": [5, 3, 7], "current": 0})
    assert ident.step([BIG, 0.0, BIG, BIG]).challenger == 1
    ident.merge(keep=0, drop=1)
    assert ident.state()["lead"] is None and ident.state()["streak"] == 0


def _random_run(ident: Identifier, gen: torch.Generator, steps: int) -> list[Decision]:
    """Noisy NLLs where one 'true' situation (changing every 15 steps, sometimes unseen) fits best."""
    out: list[Decision] = []
    for _ in range(steps):
        k = ident.num_situations
        err = float(torch.rand((), generator=gen, dtype=torch.float64))
        ident.observe_error(err + (2.0 if len(out) % 15 > 10 else 0.0))
        if not ident.needs_scores():
            out.append(ident.step(None))
            continue
        nll = 20.0 + 5.0 * torch.rand(k + 1, generator=gen, dtype=torch.float64)
        best = (len(out) // 15) % (k + 1)
        nll[best] -= 20.0
        out.append(ident.step(nll))
    return out


@pytest.mark.parametrize("detector", ["score", "cusum"])
def test_state_round_trip_resumes_identically(detector: str) -> None:
    cfg = IdentifyConfig(persistence=2, detector=detector, cusum_warmup=4)  # type: ignore[arg-type]
    a = Identifier(cfg)
    gen = torch.Generator().manual_seed(3)
    first = _random_run(a, gen, 80)
    assert sum(d.switched for d in first) >= 3 and sum(d.suspect for d in first) >= 1
    saved = json.loads(json.dumps(a.state(), allow_nan=False))
    b = Identifier(cfg)
    b.load_state(saved)
    state = gen.get_state()
    rest_a = _random_run(a, gen, 80)
    gen.set_state(state)
    rest_b = _random_run(b, gen, 80)
    assert rest_a == rest_b and a.state() == b.state()
    if detector == "cusum":
        assert any(d.posterior == () for d in rest_a)  # the cheap path was taken
    for bad in ({}, {**saved, "version": 99}, {**saved, "current": 7}, {**saved, "counts": "x"}):
        with pytest.raises(CorruptFileError):
            b.load_state(bad)


def test_cusum_alarms_after_a_mean_shift_not_on_stationary_noise() -> None:
    for seed in (1, 2, 0):  # stationary noise: no alarm in 1000 steps (h = 8: nominal run length ~1e4)
        rng = np.random.default_rng(seed)
        cusum = Cusum(drift=0.5, threshold=8.0, warmup=20, rate=0.01)
        noise = 3.0 + 0.2 * rng.standard_normal(1000)
        assert not any(cusum.update(x) for x in noise)
        assert 0.0 <= cusum.statistic <= 8.0 and not cusum.warming
        assert abs(cusum.mean - 3.0) < 0.05 and abs(math.sqrt(cusum.var) - 0.2) < 0.05
    shifted = 3.0 + 0.4 + 0.2 * rng.standard_normal(50)  # +2σ: (8 / (2 - 0.5) ≈ 5.3 steps expected)
    alarms = [cusum.update(x) for x in shifted]
    assert 3 <= alarms.index(True) + 1 <= 12 and all(alarms[alarms.index(True) :])
    restored = Cusum(0.5, 8.0, 20, 0.01)
    restored.load_state(json.loads(json.dumps(cusum.state())))
    assert restored.state() == cusum.state()
    cusum.reset(keep_stats=True)
    assert not cusum.warming and not cusum.alarm and cusum.statistic == 0.0
    assert not cusum.update(-math.inf) and cusum.statistic == 0.0  # log of a zero error: no evidence
    assert cusum.update(math.inf) and cusum.state()["statistic"] is None  # JSON has no inf
    restored.load_state(cusum.state())
    assert restored.statistic == math.inf and restored.alarm
    cusum.reset()
    assert cusum.warming and not cusum.alarm and cusum.statistic == 0.0
    with pytest.raises(DynadaptError):
        Cusum(drift=-1.0)


def test_cusum_detector_scores_only_when_needed() -> None:
    cfg = IdentifyConfig(detector="cusum", persistence=2, cusum_warmup=5, cusum_threshold=5.0)
    ident = Identifier(cfg)
    assert ident.needs_scores()  # before the first decision
    ident.step([0.0])
    rng = np.random.default_rng(1)
    for _ in range(5):  # warm-up: the error's scale is being estimated, challengers are scored
        assert ident.needs_scores()
        ident.observe_error(1.0 + 0.1 * rng.standard_normal())
        ident.step([0.0, BIG])
    for _ in range(20):  # in control: the cheap path
        ident.observe_error(1.0 + 0.1 * rng.standard_normal())
        assert not ident.needs_scores()
        assert ident.step(None) == Decision(0, False, False, False, None)
    assert ident.counts == [26]
    for _ in range(5):  # a jump in error raises the alarm within a few steps
        ident.observe_error(3.0)
    assert ident.needs_scores()
    ident.step([0.0, BIG])  # a false alarm: the current situation leads for `persistence` scored steps
    assert ident.needs_scores()
    ident.step([0.0, BIG])
    assert not ident.needs_scores()
    ident.observe_error(1.0)
    assert not ident.needs_scores()
    ident.reset()  # an episode boundary: check the situation again
    assert ident.needs_scores()
    ident.step([BIG, 0.0])
    d = ident.step([BIG, 0.0])
    assert d.created and ident.needs_scores() and ident.cusum.warming  # a new regime: warm-up again


def test_llr_detector_accumulates_evidence_against_its_prior_odds() -> None:
    """Page's CUSUM on one-step log-likelihood ratios: a challenger is committed once its evidence reaches
    h plus its log prior odds; spikes that do not persist never switch; NaN means "no evidence"."""
    cfg = IdentifyConfig(detector="llr", llr_threshold=10.0, alpha=1.0, sticky=0.0)
    ident = Identifier(cfg)
    assert ident.step_llr([math.nan]) == Decision(0, True, True, False, None)
    for _ in range(99):
        ident.step_llr([0.0, -1.0])
    assert ident.counts == [100]
    thr = ident.thresholds()
    assert thr[0] == math.inf and thr[1] == pytest.approx(10.0 + math.log(100.0))  # new: h + log(n_0 / α)
    for _ in range(50):  # +4 nats then -5: the statistic never builds up
        assert not ident.step_llr([0.0, 4.0]).switched
        ident.step_llr([0.0, -5.0])
    assert ident.evidence[1] == 0.0
    assert ident.thresholds()[1] == pytest.approx(10.0 + math.log(200.0))  # ≈ 15.3
    d = ident.step_llr([0.0, 8.0])  # over half of the threshold: suspect, the challenger named
    assert (d.situation, d.suspect, d.challenger) == (0, True, 1)
    assert not ident.step_llr([0.0, math.nan]).switched and ident.evidence[1] == 8.0  # no evidence: kept
    d = ident.step_llr([0.0, 8.0])  # 16 >= 10 + log(202): a new situation
    assert d.created and d.switched and d.situation == 1 and ident.evidence == [0.0, 0.0, 0.0]
    for _ in range(30):
        ident.step_llr([-1.0, 0.0, -1.0])
    # recall of a well-visited situation needs less than h (its prior odds favour it), never under h / 2
    assert ident.counts == [202, 31]
    need = 10.0 + math.log(31 / 202)
    assert ident.thresholds()[0] == pytest.approx(need)
    steps = 1
    while not ident.step_llr([1.0, 0.0, -1.0]).switched:
        steps += 1
    assert ident.current == 0 and steps == math.ceil(10.0 + math.log(31 + steps - 1) - math.log(202))
    full = Identifier(IdentifyConfig(detector="llr", max_situations=1))
    full.step_llr([0.0])
    assert not any(full.step_llr([0.0, math.inf]).switched for _ in range(5))  # the library is full
    with pytest.raises(DynadaptError):
        ident.step_llr([0.0, 0.0])  # K + 1 = 3 expected


def test_llr_evidence_survives_a_state_round_trip_and_merges_restart_it() -> None:
    ident = Identifier(IdentifyConfig(detector="llr", llr_threshold=10.0))
    ident.step_llr([0.0])
    for _ in range(20):
        ident.step_llr([0.0, -1.0])
    ident.step_llr([0.0, 30.0])
    ident.step_llr([0.0, 0.0, 3.0])
    saved = json.loads(json.dumps(ident.state(), allow_nan=False))
    other = Identifier(ident.cfg)
    other.load_state(saved)
    assert other.evidence == ident.evidence == [0.0, 0.0, 3.0]
    with pytest.raises(CorruptFileError):
        other.load_state({**saved, "evidence": [0.0, -1.0, 0.0]})
    ident.merge(0, 1)
    assert ident.evidence == [0.0, 0.0] and ident.counts == [23]


def test_llr_error_test_creates_after_a_confirmed_rise_only() -> None:
    """new_test = error: an alarm on the standardised log error creates a situation only if the error stays
    high for confirm_steps; a short rise (an episode's start) is a false alarm; each situation keeps its
    own in-control scale, restored when it is recalled."""
    cfg = IdentifyConfig(detector="llr", new_test="error", cusum_drift=1.0, cusum_threshold=5.0,
                         cusum_warmup=20, confirm_steps=8, llr_threshold=10.0)  # fmt: skip
    ident = Identifier(cfg)
    rng = np.random.default_rng(0)
    ident.step_llr([math.nan])
    noise = lambda: float(rng.standard_normal())  # noqa: E731
    for _ in range(100):
        assert not ident.step_llr([0.0, 5.0], noise()).switched  # "new" ratios are ignored
    for _ in range(2):  # a short rise: alarm, then the error falls back during the confirmation
        d = ident.step_llr([0.0, math.nan], 6.0)
    assert ident.checking and d.suspect and d.challenger == 1
    outcomes = [ident.step_llr([0.0, math.nan], noise()) for _ in range(cfg.confirm_steps)]
    assert not any(o.switched for o in outcomes) and not ident.checking
    assert not ident.step_llr([0.0, math.nan], 6.0, allow_new=False).switched  # young: no creation
    for _ in range(40):
        ident.step_llr([0.0, math.nan], 0.0, allow_new=False)
    steps = 0
    while not (d := ident.step_llr([0.0, math.nan], 6.0)).switched:
        steps += 1
    assert d.created and d.situation == 1 and steps <= 4 + cfg.confirm_steps
    assert ident.error_stats[0][3] >= 100 and abs(ident.error_stats[0][4]) < 0.5  # 0's late-phase scale
    for _ in range(30):
        ident.step_llr([-1.0, 0.0, math.nan], 6.0 + noise())  # situation 1's own scale: around 6
    assert not ident.checking and abs(ident.cusum.mean - 6.0) < 1.0
    while not (d := ident.step_llr([2.0, 0.0, math.nan], 6.0)).switched:  # recalled by its ratio
        pass
    assert d.situation == 0 and not d.created and abs(ident.cusum.mean) < 0.5  # 0's scale is back
    saved = json.loads(json.dumps(ident.state()))
    other = Identifier(cfg)
    other.load_state(saved)
    assert other.error_stats == ident.error_stats
    ident.merge(0, 1)
    assert len(ident.error_stats) == 1


def test_llr_error_test_judges_an_episode_start_on_its_own_scale() -> None:
    """transient_steps: errors after a reset (phase 0) have their own in-control scale, so a start that is
    always rough does not alarm, while the same error later in the episode (phase 1) does."""
    cfg = IdentifyConfig(detector="llr", new_test="error", cusum_drift=1.0, cusum_threshold=5.0,
                         cusum_warmup=20, confirm_steps=8, transient_steps=10)  # fmt: skip
    ident = Identifier(cfg)
    rng = np.random.default_rng(1)
    ident.step_llr([math.nan])
    for _ in range(10):  # episodes: 10 rough steps (error ~4), then 40 smooth ones (~0)
        for t in range(50):
            phase = int(t >= 10)
            d = ident.step_llr([0.0, math.nan], (4.0 if phase == 0 else 0.0) + float(rng.standard_normal()),
                               phase=phase)  # fmt: skip
            assert not d.switched
    assert ident.error_stats[0][0] >= 20 and abs(ident.error_stats[0][1] - 4.0) < 0.5
    assert ident.phase == 1 and abs(ident.cusum.mean) < 0.5
    d = ident.step_llr([0.0, math.nan], 4.0, phase=0)
    assert not d.switched and abs(ident.cusum.mean - 4.0) < 0.5  # the phase-0 scale is in force
    created = False
    for _ in range(30):  # rough in the smooth phase: a new situation
        created = created or ident.step_llr([0.0, math.nan], 4.0, phase=1).created
    assert created
    with pytest.raises(DynadaptError):
        ident.step_llr([0.0, 0.0, math.nan], 0.0, phase=2)


def test_llr_clip_bounds_what_one_transition_adds() -> None:
    """llr_clip: a single wild ratio (a network extrapolating) adds at most the clip, so a switch needs
    several transitions; without the clip the same ratio switches at once."""
    for clip in (0.0, 2.0):
        ident = Identifier(IdentifyConfig(detector="llr", llr_threshold=10.0, sticky=0.0, llr_clip=clip))
        ident.step_llr([math.nan])
        d = ident.step_llr([0.0, math.inf])
        assert d.switched == (clip == 0.0)
    assert ident.evidence == [0.0, 2.0]
    ident.step_llr([0.0, -math.inf])  # removes at most the clip too
    assert ident.evidence == [0.0, 0.0]
    steps, needed = 0, []
    while True:
        steps += 1
        needed.append(float(ident.thresholds()[1]))  # h + log CRP odds, grows with the current count
        if ident.step_llr([0.0, 1e6]).switched:
            break
    assert 2.0 * steps >= needed[-1] and all(2.0 * i < n for i, n in enumerate(needed[:-1], 1))
    assert steps >= 5  # h / clip


@pytest.mark.parametrize("hold", [False, True])
def test_cusum_hold_holds_transitions_out_while_the_error_rises(hold: bool) -> None:
    """cusum_hold: once the error CUSUM is past half its threshold (no alarm yet) the decision is suspect,
    so the caller keeps the transitions out of the current situation's training."""
    cfg = IdentifyConfig(detector="llr", new_test="error", cusum_drift=1.0, cusum_threshold=5.0,
                         cusum_warmup=20, cusum_hold=hold)  # fmt: skip
    ident = Identifier(cfg)
    rng = np.random.default_rng(3)
    ident.step_llr([math.nan])
    for _ in range(100):
        ident.step_llr([0.0, math.nan], float(rng.standard_normal()))
    for _ in range(8):  # at the mean: S falls to 0
        d = ident.step_llr([0.0, math.nan], ident.cusum.mean)
    assert ident.cusum.statistic == 0.0 and not d.suspect
    d = ident.step_llr([0.0, math.nan], ident.cusum.mean + 4.0 * math.sqrt(ident.cusum.var))
    assert 2.5 < ident.cusum.statistic < 5.0 and not ident.cusum.alarm and not d.switched
    assert d.suspect == hold and d.challenger == (1 if hold else None)
