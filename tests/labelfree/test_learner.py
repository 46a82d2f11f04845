"""The label-free context hypernetwork learner on a synthetic stream of two linear situations: creation,
recall, held-out suspect transitions, continual training with and without the regulariser, merging, the
task-aware reference, a session's cost, bit-identical resume, bad input."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field

import pytest
import torch

from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.io import load_tensors, save_tensors
from dynadapt.labelfree.base import StreamLearner
from dynadapt.labelfree.context import ContextHnetConfig
from dynadapt.labelfree.identify import IdentifyConfig
from dynadapt.labelfree.learner import ContextHyperLearner
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.types import Params

# Δ = A_k [obs; act]: two very different linear situations
A = (
    torch.tensor([[0.5, -0.3, 0.2], [0.1, 0.4, -0.5]]),
    torch.tensor([[-0.6, 0.4, 0.5], [0.3, -0.5, 0.4]]),
)


def _model(seed: int = 0) -> DynamicsModel:
    cfg = ModelConfig(ensemble_size=1, hidden=(16, 16), activation="relu", head="deterministic")
    model = DynamicsModel(2, 1, cfg, generator=torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(100)
    o, a = torch.randn(500, 2, generator=g), torch.randn(500, 1, generator=g)
    model.observe(o, a, o + torch.cat([o, a], -1) @ A[0].T)  # the loop's warm-up: task-0 normalisers
    model.freeze_normalizers(0)
    return model


def _cfg(**kw: object) -> ContextHnetConfig:
    base: dict[str, object] = {
        "identify": IdentifyConfig(window=16),
        "train_steps": 20,
        "batch_size": 32,
        "enc_segments": 4,
        "candidate_every": 1,
    }
    return ContextHnetConfig(**(base | kw))  # type: ignore[arg-type]


def _learner(seed: int = 0, **kw: object) -> ContextHyperLearner:
    return _cfg(**kw).build(_model(seed), torch.Generator().manual_seed(seed))


@dataclass
class Player:
    """Feeds a situation schedule through observe(): iid states and actions, episodes of ``ep`` steps, a
    training session every ``every`` steps; records what the learner did at each step."""

    learner: ContextHyperLearner
    ep: int = 50
    every: int = 25
    seed: int = 1
    t: int = 0
    inferred: list[int] = field(default_factory=list)
    suspect: list[bool] = field(default_factory=list)
    stored: list[int] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.g = torch.Generator().manual_seed(self.seed)

    def play(self, situation: int, steps: int) -> None:
        for _ in range(steps):
            if self.t % self.ep == 0 and self.t > 0:
                self.learner.reset()
            o, a = torch.randn(2, generator=self.g), torch.randn(1, generator=self.g)
            self.learner.params()
            self.learner.observe(
                o.numpy(), a.numpy(), (o + A[situation] @ torch.cat([o, a])).numpy(), situation
            )
            self.t += 1
            d = self.learner.last_decision
            self.inferred.append(self.learner.situation)
            self.suspect.append(bool(d is not None and d.suspect))
            self.stored.append(sum(len(b) for b in self.learner.buffers))
            if self.t % self.every == 0:
                self.metrics.append(self.learner.train())


def _errors(learner: ContextHyperLearner, situation: int) -> list[float]:
    """MSE (normalised Δ) of every library situation's generated network on fresh data of ``situation``."""
    g = torch.Generator().manual_seed(7)
    o, a = torch.randn(200, 2, generator=g), torch.randn(200, 1, generator=g)
    data = {"obs": o, "act": a, "next_obs": o + torch.cat([o, a], -1) @ A[situation].T}
    x, y = learner.model.transitions(data)
    lib = learner.dyn.library_params()
    k = lib["layers.0.weight"].shape[0]
    with torch.no_grad():
        return learner.model.mse(lib, x.expand(k, -1, -1), y.expand(k, -1, -1)).tolist()


def _run(beta: float, **kw: object) -> tuple[Player, float]:
    """A, B (switching mid-episode), A again; returns the player and B's best error after the B stage."""
    player = Player(_learner(beta=beta, **kw))
    player.play(0, 150)
    player.play(1, 160)
    after_b = min(_errors(player.learner, 1))
    player.play(0, 115)
    return player, after_b


@pytest.fixture(scope="module")
def run_reg() -> tuple[Player, float]:
    return _run(0.05)


@pytest.fixture(scope="module")
def run_noreg() -> tuple[Player, float]:
    return _run(0.0)


def test_creates_two_situations_and_recalls_the_first(run_reg: tuple[Player, float]) -> None:
    player = run_reg[0]
    learner = player.learner
    assert isinstance(learner, StreamLearner)
    inferred = player.inferred
    assert learner.library_size == 2
    first_a, b, second_a = inferred[20:150], inferred[190:310], inferred[330:]
    assert set(first_a) == {0}
    assert set(b) == {1}  # a new situation, committed within 30 steps of the mid-episode switch
    assert set(second_a) == {0}  # recalled, not created again
    switch = next(i for i in range(150, 310) if inferred[i] == 1)
    assert switch - 150 < 30
    # the first transitions wait until the window can be split; -1 until the first decision
    assert inferred[0] == -1 and inferred[10] == 0
    assert learner.ident_calls == player.t and learner.mean_ident_ms > 0


def test_training_lowers_both_situations_errors(run_reg: tuple[Player, float]) -> None:
    learner = run_reg[0].learner
    on_a, on_b = _errors(learner, 0), _errors(learner, 1)
    fresh = _learner(beta=0.05)
    fresh.dyn.add(torch.zeros(fresh.cfg.emb_dim))
    untrained_a, untrained_b = _errors(fresh, 0)[0], _errors(fresh, 1)[0]
    assert on_a[0] < 0.05 * untrained_a and on_b[1] < 0.05 * untrained_b
    assert on_a[0] < 0.05 and on_b[1] < 0.1
    assert on_b[0] > 10 * on_b[1] and on_a[1] > 10 * on_a[0]  # two distinct networks
    losses = [m["train/loss"] for m in run_reg[0].metrics]
    assert losses[-1] < 0.1 * losses[0]


def test_the_regulariser_keeps_the_earlier_situation(
    run_reg: tuple[Player, float], run_noreg: tuple[Player, float]
) -> None:
    """After the return to A, the best network for B is still good with beta > 0; with beta = 0 training
    on A drags the generated weights of B away."""
    (reg, b_reg), (noreg, b_noreg) = run_reg, run_noreg
    kept, lost = min(_errors(reg.learner, 1)), min(_errors(noreg.learner, 1))
    assert b_reg < 0.1 and b_noreg < 0.1  # both had learned B
    assert kept < 3 * b_reg
    assert lost > 5 * kept
    regs = [m["train/reg_targets"] for m in reg.metrics]
    assert regs[0] == 0 and regs[-1] == reg.learner.cfg.reg_tasks  # drawn with replacement from one other
    assert all(m["train/reg_targets"] == 0 for m in noreg.metrics)


def test_rehearsal_keeps_the_earlier_situation(run_noreg: tuple[Player, float]) -> None:
    """With rehearse > 0 and no output regulariser, each session replays the sampled earlier situation's
    own rows through its own embedding: after the return to A, B's network is still good, where without
    either training on A drags it away."""
    rehearsed, b_before = _run(0.0, rehearse=16)
    kept, lost = min(_errors(rehearsed.learner, 1)), min(_errors(run_noreg[0].learner, 1))
    assert b_before < 0.1 and kept < 3 * b_before
    assert lost > 5 * kept
    late = [m for m in rehearsed.metrics if "train/rehearse" in m]
    assert len(late) >= 4 and all(m["train/rehearse"] >= 0 for m in late)
    assert all("train/rehearse" not in m for m in run_noreg[0].metrics)


def test_suspect_transitions_are_held_out_until_resolved(run_reg: tuple[Player, float]) -> None:
    player = run_reg[0]
    learner = player.learner
    held = [i for i, s in enumerate(player.suspect) if s]
    assert held, "the switch to B should have been suspected before it was committed"
    for i in held:
        assert player.stored[i] == player.stored[i - 1]  # nothing reached a buffer while suspect
    # every observed transition is stored, pending, or dropped at a reset (none twice, none lost)
    assert sum(len(b) for b in learner.buffers) + len(learner.pending) + learner.dropped == player.t
    # the transitions held out at the switch went to B's buffer, not A's
    assert learner.buffers[1].all()["episode"].min() == 3  # the switch at step 150 is inside episode 3
    assert int(learner.buffers[1].all()["t"].min()) <= 10


def test_task_aware_reference_follows_the_labels() -> None:
    learner = _learner(labels="true", beta=0.05)
    encoder = {k: v.clone() for k, v in learner.dyn.encoder.items()}
    player = Player(learner)
    player.play(1, 60)
    assert learner.situation == 1 and learner.library_size == 1
    player.play(0, 60)
    assert learner.situation == 0 and learner.library_size == 2
    player.play(1, 30)
    assert learner.library_size == 2 and learner.label_of == [1, 0]
    assert player.inferred == [1] * 60 + [0] * 60 + [1] * 30
    assert learner.identifier.current == -1  # no identification
    assert all(torch.equal(encoder[k], learner.dyn.encoder[k]) for k in encoder)  # no encoder training
    assert len(learner.buffers[0]) == 90 and len(learner.buffers[1]) == 60 and not learner.pending
    # a revisited task keeps training its own embedding
    before = learner.dyn.embeddings()[0].clone()
    learner.train()
    assert not torch.equal(learner.dyn.embeddings()[0], before)
    with pytest.raises(DynadaptError, match="label"):
        learner.observe([0.0, 0.0], [0.0], [0.0, 0.0], -1)


def test_a_session_costs_the_same_however_large_the_library() -> None:
    """The number of embeddings a session generates (task, regulariser, encoder targets) does not grow
    with the library: the regularised sample is reg_tasks draws with replacement, however many others."""
    counts: dict[int, tuple[int, float]] = {}
    for k_lib in (2, 6, 12):
        learner = _learner(labels="true", reg_tasks=3)
        player = Player(learner, every=10**9)
        for label in range(k_lib):
            for _ in range(20):
                o = torch.randn(2, generator=player.g)
                a = torch.randn(1, generator=player.g)
                learner.observe(o.numpy(), a.numpy(), (o + A[label % 2] @ torch.cat([o, a])).numpy(), label)
        rows = 0
        forward = learner.dyn.hnet.forward

        def counting(emb: torch.Tensor, theta: Params | None = None) -> Params:
            nonlocal rows
            rows += emb.shape[0]
            return forward(emb, theta)  # noqa: B023 (used before the loop moves on)

        learner.dyn.hnet.forward = counting  # type: ignore[method-assign]
        metrics = learner.train()
        counts[k_lib] = (rows, metrics["train/reg_targets"])
    assert counts[2] == counts[6] == counts[12]
    assert counts[6][1] == 3


def test_refine_library_charges_the_candidate_its_local_fit() -> None:
    """With refine_library every stored embedding is refined on the first half like the candidate (kept in
    ``local [K, D]``, saved in the state), and "new" is scored no better than with the plain comparison."""
    plain, fair = Player(_learner()), Player(_learner(refine_library=True))
    for player in (plain, fair):
        player.play(0, 150)
        player.play(1, 40)
    k = fair.learner.num_situations
    assert fair.learner.local is not None and fair.learner.local.shape == (k, fair.learner.cfg.emb_dim)
    assert plain.learner.local is None
    assert torch.equal(fair.learner.state_dict()["local"], fair.learner.local)
    assert fair.learner.num_situations <= plain.learner.num_situations


def test_near_identical_situations_merge() -> None:
    learner = _learner()
    player = Player(learner)
    player.play(0, 100)
    assert learner.library_size == 1
    # a duplicate of situation 0: the same embedding and a copy of its data
    learner._new_situation(learner.dyn.embeddings()[0])
    data = learner.buffers[0].all()
    for i in range(len(learner.buffers[0])):
        learner.buffers[1].add(data["obs"][i], data["act"][i], data["next_obs"][i], 0.0, False, False,
                               episode=int(data["episode"][i]) + 100, t=int(data["t"][i]))  # fmt: skip
    learner.train_mse[1] = learner.train_mse[0]
    learner.identifier.counts.append(7)
    n0, rows = learner.identifier.counts[0], 2 * len(learner.buffers[0])
    metrics = learner.train()
    assert metrics["model/merged"] == 1
    assert learner.library_size == 1 and learner.identifier.counts == [n0 + 7 + 1 * 0]
    assert len(learner.buffers[0]) == min(rows, learner.cfg.capacity)
    # distinct situations never merge
    player.play(1, 120)
    assert learner.library_size == 2
    assert all(m.get("model/merged", 0) == 0 for m in player.metrics[-3:])


def test_the_cusum_detector_scores_challengers_only_after_an_alarm() -> None:
    learner = _learner(identify=IdentifyConfig(window=16, detector="cusum"))
    player = Player(learner)
    player.play(0, 150)
    scored_a = learner.scored
    player.play(1, 100)
    assert learner.library_size == 2 and player.inferred[-1] == 1
    assert scored_a < 100  # stationary: most steps skip the challengers
    assert learner.scored > scored_a


LLR = {"detector": "llr", "temperature": 1.0, "llr_threshold": 10.0}


@pytest.mark.parametrize("new_test", ["candidate", "error"])
def test_the_llr_detector_creates_and_recalls(new_test: str) -> None:
    """Evidence accumulated per transition: B (mid-episode) is created within 30 steps, A is recalled."""
    identify = IdentifyConfig(window=16, new_test=new_test, **LLR)  # type: ignore[arg-type]
    learner = _learner(identify=identify, candidate_every=4)
    player = Player(learner)
    player.play(0, 150)
    player.play(1, 160)
    player.play(0, 115)
    inferred = player.inferred
    assert learner.library_size == 2
    assert set(inferred[:150]) == {0} and set(inferred[190:310]) == {1} and set(inferred[330:]) == {0}
    assert next(i for i in range(150, 310) if inferred[i] == 1) - 150 < 30
    assert next(i for i in range(310, 425) if inferred[i] == 0) - 310 < 20
    assert inferred[0] == 0  # no window is needed to score stored situations
    assert learner.last_llr is not None and learner.last_llr.shape == (3,)
    # prequential cross ratios: A's network on B's transitions, B's on A's, both clearly worse
    assert learner.cross_n[1, 0] > 50 and learner.cross_n[0, 1] > 50
    assert learner.cross[1, 0] < -1.0 and learner.cross[0, 1] < -1.0
    assert learner._llr_explainer(0, 1) is None
    if new_test == "error":
        stats = learner.identifier.error_stats
        assert len(stats) == 2 and stats[1][3] >= 20  # B's error scale (late phase) kept for its recall


def test_the_shadow_test_creates_a_new_situation_and_restarts_at_every_switch() -> None:
    """new_test = adapt: the shadow (the current network plus an offset fitted online on the window) beats
    A's network on B's transitions, so B is created within 30 steps of a mid-episode switch and A is recalled
    when it returns; every committed switch restarts the shadow at a zero offset. (It also beats a young
    network on its own data: a duplicate of B appears once B matures and merges back, see the docs.)"""
    identify = IdentifyConfig(window=16, new_test="adapt", **LLR)  # type: ignore[arg-type]
    learner = _learner(identify=identify, candidate_every=4)
    player = Player(learner)
    player.play(0, 150)
    assert learner._shadow and all(float(v.abs().sum()) > 0 for v in learner._shadow.values())
    player.play(1, 40)
    inferred = player.inferred
    assert set(inferred[:150]) == {0}
    assert next(i for i in range(150, 190) if inferred[i] == 1) - 150 < 30
    player.play(1, 120)
    player.play(0, 115)
    inferred = player.inferred
    assert next(i for i in range(310, 425) if inferred[i] == 0) - 310 < 20 and set(inferred[340:]) == {0}
    assert learner.library_size == 2
    switched = learner.last_decision is not None and learner.last_decision.switched
    assert not switched and learner._shadow  # the shadow of A, fitted since A's recall


def test_relabel_moves_misrouted_chunks_to_the_situation_that_explains_them() -> None:
    """relabel: B's transitions stored under A by mistake move to B's buffer (both 10-step chunks of
    their episode); A's own rows stay, so a second pass moves nothing."""
    identify = IdentifyConfig(window=16, new_test="error", **LLR)  # type: ignore[arg-type]
    learner = _learner(identify=identify, relabel=10)
    player = Player(learner)
    player.play(0, 150)
    player.play(1, 160)
    assert learner.library_size == 2 and learner.trained[0] > 0 and learner.trained[1] > 0
    assert all("model/relabelled" in m for m in player.metrics)
    g = torch.Generator().manual_seed(3)
    o, a = torch.randn(20, 2, generator=g), torch.randn(20, 1, generator=g)
    nxt = o + torch.cat([o, a], -1) @ A[1].T
    n0, n1 = len(learner.buffers[0]), len(learner.buffers[1])
    learner._store(0, [(o[i], a[i], nxt[i], 999, i) for i in range(20)])
    moved = learner._relabel(0, [1])
    assert moved >= 20  # and any of B's first transitions routed to A before the switch was detected
    assert len(learner.buffers[0]) == n0 + 20 - moved and len(learner.buffers[1]) == n1 + moved

    def of_b(rows: dict[str, torch.Tensor]) -> torch.Tensor:
        pred = rows["obs"] + torch.cat([rows["obs"], rows["act"]], -1) @ A[1].T
        return (rows["next_obs"] - pred).abs().amax(-1) < 1e-5

    assert bool(of_b(learner.buffers[1].all()).all())  # only B's transitions moved
    assert not bool(of_b(learner.buffers[0].all()).any())
    rows = learner.buffers[1].all()
    assert int((rows["episode"] == 999).sum()) == 20
    assert torch.equal(rows["next_obs"][-20:], nxt)  # in time order, after B's own rows
    assert learner._relabel(0, [1]) == 0
    assert learner._relabel(0, []) == 0 and learner._relabel(0, [0]) == 0


def test_own_scale_scores_each_situation_with_its_own_variance() -> None:
    """own_scale: each situation's per-dimension MSE after its last session is its variance; the nll with
    a [T, O] variance is the Gaussian log-density (checked against torch.distributions); identification
    still creates B and recalls A."""
    identify = IdentifyConfig(window=16, new_test="error", **LLR)  # type: ignore[arg-type]
    learner = _learner(identify=identify, own_scale=True)
    player = Player(learner)
    player.play(0, 150)
    player.play(1, 160)
    player.play(0, 115)
    assert learner.library_size == 2 and set(player.inferred[330:]) == {0}
    var = learner.own_var()
    assert var.shape == (2, 2) and bool((var > 0).all())
    own = torch.stack(learner.train_var).clamp(min=learner.cfg.min_score_var).float()
    assert torch.equal(var, own)
    g = torch.Generator().manual_seed(4)
    o, a = torch.randn(30, 2, generator=g), torch.randn(30, 1, generator=g)
    x, y = learner.model.transitions({"obs": o, "act": a, "next_obs": o + torch.cat([o, a], -1) @ A[0].T})
    params = learner.dyn.library_params()
    nll, _ = learner.dyn.nll(params, x, y, var)
    with torch.no_grad():
        mean, _ = learner.model.forward_normalized(params, x.expand(2, -1, -1))
    exact = -torch.distributions.Normal(mean.double(), var.double().sqrt()[:, None, :]).log_prob(y.double())
    assert torch.allclose(nll.double(), exact.sum((-1, -2)), rtol=1e-5)
    assert float(nll[0]) < float(nll[1])  # A's data: A's network, with its own scale, is likelier


@pytest.mark.parametrize("young_hold", [False, True])
def test_young_hold_keeps_a_young_situation_until_it_matures(young_hold: bool) -> None:
    """young_hold: while B has had fewer than mature_sessions sessions no recall evidence accumulates, so
    A's return right after B's creation is not recalled (without the hold it is within 30 steps)."""
    identify = IdentifyConfig(window=16, new_test="error", **LLR)  # type: ignore[arg-type]
    learner = _learner(identify=identify, young_hold=young_hold)
    player = Player(learner)
    player.play(0, 150)
    player.play(1, 40)
    assert learner.library_size == 2 and player.inferred[-1] == 1
    assert learner.trained[1] < learner.cfg.mature_sessions
    player.play(0, 30)
    assert (0 in player.inferred[190:]) != young_hold
    assert learner.library_size == 2  # young: no creation either


@pytest.mark.parametrize(
    ("identify", "extra"),
    [
        ({}, {}),
        (LLR, {}),
        ({**LLR, "new_test": "error"}, {"own_scale": True, "relabel": 10, "rehearse": 8}),
        ({**LLR, "new_test": "adapt"}, {"mature_sessions": 1}),
    ],
)
def test_resume_is_bit_identical(
    tmp_path: object, identify: dict[str, object], extra: dict[str, object]
) -> None:
    def fresh(seed: int) -> ContextHyperLearner:
        cfg = IdentifyConfig(window=16, **identify)  # type: ignore[arg-type]
        return _learner(seed=seed, candidate_every=3, identify=cfg, **extra)

    straight = Player(fresh(0))
    straight.play(0, 80)
    straight.play(1, 37)  # stop mid-episode, with a window, pending transitions and a candidate
    path = f"{tmp_path}/learner{len(identify)}.safetensors"
    saved = straight.learner.state_dict()
    if identify.get("new_test") == "adapt":  # the shadow's offset and its Adam moments are part of the state
        assert any(k.startswith("shadow.") for k in saved) and any(k.startswith("opt_shadow.") for k in saved)
    save_tensors(path, saved, "test", {})
    meta = json.loads(json.dumps(straight.learner.meta()))
    state = straight.g.get_state()

    resumed = Player(fresh(5), t=straight.t)
    tensors, _ = load_tensors(path, "test")
    resumed.learner.load_state_dict(tensors)
    resumed.learner.load_meta(meta)
    resumed.g.set_state(state)
    for p in (straight, resumed):
        p.play(1, 60)
        p.play(0, 40)
    a, b = straight.learner, resumed.learner
    assert a.library_size == b.library_size >= 2
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sa) == set(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa), [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert all(torch.equal(a.params()[k], b.params()[k]) for k in a.params())
    assert straight.inferred[-40:] == resumed.inferred[-40:]
    assert {k: v for k, v in a.meta().items() if k != "ident_ms_total"} == {
        k: v for k, v in b.meta().items() if k != "ident_ms_total"
    }


def test_a_deep_copy_is_independent() -> None:
    learner = _learner()
    Player(learner).play(0, 60)
    twin = copy.deepcopy(learner)
    Player(twin, seed=9).play(1, 60)
    assert learner.library_size == 1 and twin.library_size >= 1
    assert learner.ident_calls == 60


def test_bad_input_raises() -> None:
    learner = _learner()
    with pytest.raises(DynadaptError, match="NaN"):
        learner.observe([math.nan, 0.0], [0.0], [0.0, 0.0], 0)
    with pytest.raises(DynadaptError, match="sizes"):
        learner.observe([0.0, 0.0, 0.0], [0.0], [0.0, 0.0], 0)
    with pytest.raises(DynadaptError, match="numbers"):
        learner.observe("state", [0.0], [0.0, 0.0], 0)
    assert learner.train() == {}  # nothing observed yet: no session
    assert learner.situation == -1 and learner.params()["layers.0.weight"].shape[0] == 1
    Player(learner).play(0, 30)
    state = learner.state_dict()
    with pytest.raises(CorruptFileError):
        _learner().load_state_dict({k: v for k, v in state.items() if k != "generator"})
    with pytest.raises(CorruptFileError):
        _learner().load_meta({**learner.meta(), "labels": "true"})
    with pytest.raises(CorruptFileError):
        _learner().load_meta({k: v for k, v in learner.meta().items() if k != "steps"})
    model = DynamicsModel(2, 1, ModelConfig(ensemble_size=1, hidden=(8,), learn_reward=True))
    with pytest.raises(DynadaptError, match="reward"):
        ContextHnetConfig().build(model, torch.Generator())


def test_a_state_whose_shadow_or_moments_do_not_fit_the_network_is_refused() -> None:
    """Misshapen shadow offsets or Adam moments raise CorruptFileError (the fused Adam kernel would read
    past them), and the learner that refused them still works."""
    cfg = IdentifyConfig(window=16, new_test="adapt", **LLR)  # type: ignore[arg-type]
    player = Player(_learner(identify=cfg, mature_sessions=1))
    player.play(0, 80)
    state = player.learner.state_dict()
    assert "shadow.layers.0.weight" in state and "opt_shadow.0.exp_avg" in state
    bad_offset = {**state, "shadow.layers.0.weight": torch.zeros(1, 3, 3)}
    bad_moment = {**state, "opt_shadow.0.exp_avg": torch.zeros(7)}
    bad_theta = {**state, "opt_theta.0.exp_avg_sq": torch.zeros(2, 2)}
    for bad in (bad_offset, bad_moment, bad_theta):
        fresh = _learner(identify=cfg, mature_sessions=1)
        with pytest.raises(CorruptFileError, match=r"shadow|shape"):
            fresh.load_state_dict(bad)
    fresh.load_state_dict(state)
    fresh.load_meta(json.loads(json.dumps(player.learner.meta())))
    Player(fresh, t=player.t).play(0, 20)
    assert fresh.library_size >= 1 and fresh._shadow


def test_the_llr_merge_test_asks_each_network_to_predict_the_other() -> None:
    learner = _learner(identify=IdentifyConfig(window=16, **LLR), merge_llr=0.2, merge_rows=10)  # type: ignore[arg-type]
    for _ in range(3):
        learner._new_situation(torch.zeros(learner.cfg.emb_dim))
    learner.cross = torch.tensor(
        [[0.0, -0.1, -3.0], [-0.15, 0.0, -0.1], [-0.1, -0.1, 0.0]], dtype=torch.float64
    )
    learner.cross_n = torch.full((3, 3), 10, dtype=torch.int64)
    assert learner._llr_explainer(0, 1) == 1  # 1 predicts 0's data (-0.1) better than 0 does 1's
    assert learner._llr_explainer(0, 2) is None  # 2's network is poor on 0's data
    learner.cross_n[2, 1] = 9
    assert learner._llr_explainer(1, 2) is None  # not enough ratios yet
    learner.identifier.step_llr([math.nan])
    learner.identifier.counts = [5, 5, 5]
    learner._merge(0, 1, learner.dyn.hnet.embeddings[0].detach().clone())
    assert learner.cross.shape == (2, 2) and int(learner.cross_n[0].sum() + learner.cross_n[:, 0].sum()) == 0
    assert float(learner.cross[1, 0]) == 0.0 and int(learner.cross_n[1, 1]) == 10
