"""The label-free baselines: CaDM's bias trick and training, T-MCL's winner-take-all and selection,
GrBAL-in-the-stream's adaptation and forgetting, bit-identical resume, config checks."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dynadapt.errors import DynadaptError
from dynadapt.io import load_tensors, save_tensors
from dynadapt.labelfree.base import StreamLearner
from dynadapt.labelfree.baselines import condition
from dynadapt.labelfree.cadm import CaDMConfig
from dynadapt.labelfree.grbal_stream import GrBALStreamConfig
from dynadapt.labelfree.tmcl import TMCLConfig
from dynadapt.meta.grbal import GrBALConfig
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.nets.mlp import MLPSpec, forward, init_params

O, A = 2, 1
Transition = tuple[np.ndarray, np.ndarray, np.ndarray, int]


def step(s: np.ndarray, a: np.ndarray, k: int) -> np.ndarray:
    """Situation k's linear dynamics Δ = A_k [s, a] + d_k: situation 1 flips the action gain and the drift."""
    sign = 1.0 if k == 0 else -1.0
    return (0.9 * s + sign * (np.array([0.3, -0.2]) * a[0] + np.array([0.2, 0.1]))).astype(np.float32)


def episodes(n: int, steps: int, seed: int, first: int = 0) -> list[list[Transition]]:
    """``n`` episodes alternating between the two situations (starting with ``first``)."""
    rng = np.random.default_rng(seed)
    out = []
    for ep in range(n):
        k = (first + ep) % 2
        s = rng.normal(size=O).astype(np.float32)
        rows = []
        for _ in range(steps):
            a = rng.uniform(-1, 1, size=A).astype(np.float32)
            s2 = step(s, a, k)
            rows.append((s, a, s2, k))
            s = s2
        out.append(rows)
    return out


def tensors(rows: list[Transition]) -> dict[str, torch.Tensor]:
    return {
        key: torch.as_tensor(np.array([r[i] for r in rows]))
        for i, key in enumerate(("obs", "act", "next_obs"))
    }


def make_model(seed: int = 0, hidden: tuple[int, ...] = (32, 32)) -> DynamicsModel:
    cfg = ModelConfig(ensemble_size=1, hidden=hidden, activation="tanh", head="deterministic")
    return DynamicsModel(O, A, cfg, generator=torch.Generator().manual_seed(seed))


def frozen_normalizers(model: DynamicsModel, data: list[list[Transition]]) -> None:
    """What the run loop does after its warm-up: set task 0's statistics, then freeze them."""
    d = tensors([r for ep in data for r in ep])
    model.observe(d["obs"], d["act"], d["next_obs"])
    model.freeze_normalizers(0)


def feed(learner: Any, data: list[list[Transition]], plan: bool = False) -> list[dict[str, torch.Tensor]]:
    """The loop's calls: reset per episode, observe every transition (params() before each when ``plan``)."""
    planned = []
    for ep in data:
        learner.reset()
        for s, a, s2, k in ep:
            if plan:
                planned.append({k_: v.clone() for k_, v in learner.params().items()})
            learner.observe(s, a, s2, k)
    return planned


def cadm_cfg(**kw: Any) -> CaDMConfig:
    base: dict[str, Any] = dict(
        history=5, future=3, context_dim=4, encoder_hidden=(32,), batch_size=32, capacity=1000, lr=3e-3
    )
    return CaDMConfig(**(base | kw))


def tmcl_cfg(**kw: Any) -> TMCLConfig:
    base: dict[str, Any] = dict(
        heads=2, history=5, context_dim=4, encoder_hidden=(32,), segment=5, select_window=5, batch_size=32,
        capacity=1000, lr=3e-3,
    )  # fmt: skip
    return TMCLConfig(**(base | kw))


def grbal_cfg(**kw: Any) -> GrBALStreamConfig:
    meta = GrBALConfig(M=5, K=5, inner_lr=0.05, meta_batch=8, holdout_ratio=0.0)
    base: dict[str, Any] = {"meta": meta, "capacity": 1000}
    return GrBALStreamConfig(**(base | kw))


# ------------------------------------------------------------------------------------------------ CaDM
def test_context_bias_equals_explicit_concatenation_in_float64() -> None:
    g = torch.Generator().manual_seed(0)
    d, c, b, n = 4, 3, 5, 7
    spec = MLPSpec(d, 2, (6, 5), "tanh")
    params = {k: v.double() for k, v in init_params(spec, g, ensemble_size=1).items()}
    w_ctx = torch.randn(c, 6, generator=g, dtype=torch.float64)
    ctx = torch.randn(b, c, generator=g, dtype=torch.float64)
    x = torch.randn(b, n, d, generator=g, dtype=torch.float64)
    via_bias = forward(spec, condition(params, w_ctx, ctx), x)
    cat_spec = MLPSpec(d + c, 2, (6, 5), "tanh")
    cat = {k: v.expand(b, *v.shape[1:]) for k, v in params.items()}
    cat["layers.0.weight"] = torch.cat([params["layers.0.weight"][0], w_ctx]).expand(b, -1, -1)
    explicit = forward(cat_spec, cat, torch.cat([x, ctx[:, None].expand(b, n, c)], dim=-1))
    # the same float64 products summed in another order: a few ulps of the largest partial sum
    scale = float(explicit.abs().max()) + float(x.abs().max() * params["layers.0.weight"].abs().max() * d)
    assert torch.allclose(via_bias, explicit, rtol=0, atol=64 * torch.finfo(torch.float64).eps * scale)
    assert not torch.allclose(via_bias[:1], forward(spec, params, x[:1]))  # the context changes the network


def test_cadm_params_are_the_model_conditioned_on_the_window_context() -> None:
    data = episodes(2, 12, seed=0)
    model = make_model()
    frozen_normalizers(model, data)
    learner = cadm_cfg().build(model, torch.Generator().manual_seed(1))
    assert isinstance(learner, StreamLearner) and learner.situation == -1
    feed(learner, data)
    params = learner.params()
    assert all(v.shape[0] == 1 and not v.requires_grad for v in params.values())
    assert set(params) == set(model.params)
    w = learner.window.tensors()
    ctx = learner.context(*(v[None] for v in w))
    expected = condition(model.params, learner.w_ctx, ctx)["layers.0.bias"]
    assert torch.equal(params["layers.0.bias"], expected.detach())
    mean, _ = model.predict(params, w[0][None], w[1][None])  # the planner's path, unchanged
    assert mean.shape == (1, 5, O)
    calls = learner.ident_calls
    assert learner.params() is params and learner.ident_calls == calls  # cached until the next transition
    spec = model.spec
    enc = MLPSpec(5 * (spec.in_dim + O + 1), 4, (32,), "tanh").num_params()
    assert learner.num_params() == 2 * spec.num_params() - spec.out_dim * 33 + O * 33 + enc + 2 * 4 * 32
    copy.deepcopy(learner).params()  # the loop evaluates a copy


def test_cadm_session_lowers_forward_loss_and_the_context_tells_situations_apart() -> None:
    data = episodes(12, 30, seed=0)
    model = make_model()
    frozen_normalizers(model, data)
    learner = cadm_cfg(steps_per_session=150).build(model, torch.Generator().manual_seed(0))
    feed(learner, data)
    sampler = learner.memory.sampler(8)
    assert sampler is not None and learner.memory.sampler(31) is None  # episodes are 30 steps long
    seg = sampler.sample(64, torch.Generator().manual_seed(5), torch.device("cpu"))
    assert torch.equal(seg["next_obs"][:, :-1], seg["obs"][:, 1:])  # contiguous steps of one episode
    with torch.no_grad():
        before = [v.mean().item() for v in learner.losses(seg)]
    metrics = learner.train()
    assert metrics["train/steps"] == 150 and metrics["train/skipped"] == 0
    with torch.no_grad():
        after = [v.mean().item() for v in learner.losses(seg)]
    assert after[0] < 0.2 * before[0] and after[1] < 0.2 * before[1]  # forward and backward
    # new episodes of each situation: context from its first K transitions, error on the rest
    test = [tensors(ep) for ep in episodes(2, 30, seed=99)]
    with torch.no_grad():
        ctxs = [learner.context(*(d[k][None, :5] for k in ("obs", "act", "next_obs"))) for d in test]
        errors = np.zeros((2, 2))
        for i, d in enumerate(test):
            x, y = model.transitions({k: v[5:] for k, v in d.items()})
            for j, ctx in enumerate(ctxs):
                errors[i, j] = model.mse(learner.conditioned(ctx), x[None], y[None]).item()
    assert errors[0, 0] < 0.5 * errors[0, 1] and errors[1, 1] < 0.5 * errors[1, 0], errors


# ------------------------------------------------------------------------------------------------ T-MCL
def test_tmcl_winner_take_all_gives_each_head_one_situation_and_selection_finds_it() -> None:
    data = episodes(12, 30, seed=0)
    model = make_model()
    frozen_normalizers(model, data)
    learner = tmcl_cfg(steps_per_session=150).build(model, torch.Generator().manual_seed(0))
    assert learner.situation == -1
    feed(learner, data)
    metrics = learner.train()
    assert metrics["train/heads_winning"] == 2
    wins = np.zeros((2, 2))
    test = episodes(6, 30, seed=7)
    for ep in test:
        d = tensors(ep)
        with torch.no_grad():
            for start in range(0, 20, 5):
                seg = {k: v[None, start : start + 10] for k, v in d.items()}
                wins[ep[0][3], int(learner.head_losses(seg).argmin(0))] += 1
    expert = wins.argmax(axis=1)
    assert expert[0] != expert[1], wins  # one distinct head per situation ...
    assert wins[0, expert[0]] >= 0.9 * wins[0].sum() and wins[1, expert[1]] >= 0.9 * wins[1].sum()  # mostly
    for ep in test:  # ... and the head chosen from a window is the situation's expert
        learner.reset()
        for s, a, s2, k in ep[:8]:
            learner.observe(s, a, s2, k)
        assert learner.situation == expert[ep[0][3]]
        params = learner.params()
        assert torch.equal(params[learner.last + "weight"][0], learner.heads_w[learner.situation].detach())
    learner.reset()  # an empty window keeps the last choice
    assert learner.situation == expert[test[-1][0][3]]
    spec = model.spec
    enc = MLPSpec(5 * (spec.in_dim + O + 1), 4, (32,), "tanh").num_params()
    assert learner.num_params() == spec.num_params() + (2 - 1) * (33 * O) + enc + 4 * 32
    assert learner.library_size == 2


# ----------------------------------------------------------------------------------------------- GrBAL
def test_grbal_stream_adapts_on_the_window_and_forgets_at_reset() -> None:
    data = episodes(12, 30, seed=0)
    model = make_model(hidden=(16,))
    frozen_normalizers(model, data)
    learner = grbal_cfg(steps_per_session=60).build(model, torch.Generator().manual_seed(0))
    assert isinstance(learner, StreamLearner) and learner.situation == -1
    feed(learner, data)
    metrics = learner.train()
    assert metrics["train/steps"] == 60 and math.isfinite(metrics["train/loss"])
    theta = {k: v.detach().clone() for k, v in model.params.items()}
    for ep in episodes(2, 30, seed=5):
        learner.reset()
        for s, a, s2, k in ep[:5]:
            learner.observe(s, a, s2, k)
        adapted = learner.params()
        d = tensors(ep)
        with torch.no_grad():
            for part in (slice(0, 5), slice(5, 10)):  # the window itself and the next K transitions
                x, y = model.transitions({k: v[part] for k, v in d.items()})
                pre = model.mse(theta, x[None], y[None]).item()
                post = model.mse(adapted, x[None], y[None]).item()
                assert post < pre, (part, pre, post)
    learner.reset()  # no memory: the next episode starts from θ*
    assert all(torch.equal(v, theta[k]) for k, v in learner.params().items())
    assert learner.ident_calls > 0


# ---------------------------------------------------------------------------------------------- resume
LEARNERS: dict[str, Callable[[], Any]] = {
    "cadm": lambda: cadm_cfg(steps_per_session=4),
    "cadm-one-step": lambda: cadm_cfg(steps_per_session=4, backward=False, multi_step=False),
    "tmcl": lambda: tmcl_cfg(steps_per_session=4),
    "tmcl-no-context": lambda: tmcl_cfg(steps_per_session=4, context=False, relax=0.1),
    "grbal": lambda: grbal_cfg(steps_per_session=4),
}


@pytest.mark.parametrize("cut", [7, 16], ids=["mid-episode", "episode-end"])
@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_resume_is_bit_identical(name: str, cut: int, tmp_path: Path) -> None:
    data = episodes(5, 16, seed=3)
    cfg = LEARNERS[name]()

    def fresh(seed: int) -> Any:
        model = make_model(seed, hidden=(16,))
        frozen_normalizers(model, data)
        return cfg.build(model, torch.Generator().manual_seed(seed))

    def run(learner: Any, part: list[list[Transition]], first_reset: bool = True) -> list[dict[str, Any]]:
        planned = []
        for i, ep in enumerate(part):
            if i or first_reset:
                learner.reset()
            for j, (s, a, s2, k) in enumerate(ep):
                planned.append(dict(learner.params()) | {"situation": torch.tensor(learner.situation)})
                learner.observe(s, a, s2, k)
                if j == 10:
                    learner.train()
        return planned

    head = [*data[:3], data[3][:cut]]
    tail = [data[3][cut:], data[4]]
    a = fresh(0)
    run(a, head)
    save_tensors(tmp_path / "l", a.state_dict(), "test", {"meta": a.meta()})
    saved_meta = a.meta()
    save_tensors(tmp_path / "m", a.model.state_dict(), "test", {})
    straight = run(a, tail, first_reset=False)

    b = fresh(1)  # another seed everywhere: everything must come from the files
    b.model.load_state_dict(load_tensors(tmp_path / "m", "test")[0])
    state, meta = load_tensors(tmp_path / "l", "test")
    b.load_state_dict(state)
    b.load_meta(json.loads(json.dumps(meta["meta"])))
    assert b.meta() == saved_meta
    resumed = run(b, tail, first_reset=False)
    assert len(straight) == len(resumed) == 32 - cut
    for p, q in zip(straight, resumed):
        assert p.keys() == q.keys() and all(torch.equal(p[k], q[k]) for k in p)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert all(torch.equal(v, b.model.params[k]) for k, v in a.model.params.items())


# ------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "make",
    [
        lambda: CaDMConfig(history=0),
        lambda: CaDMConfig(lr=math.nan),
        lambda: CaDMConfig(partial_context=1.5),
        lambda: CaDMConfig(capacity=5),
        lambda: CaDMConfig(encoder_hidden=(0,)),
        lambda: TMCLConfig(heads=0),
        lambda: TMCLConfig(relax=1.0),
        lambda: TMCLConfig(select_window=0),
        lambda: TMCLConfig(batch_size=2.5),  # type: ignore[arg-type]
        lambda: GrBALStreamConfig(steps_per_session=0),
        lambda: GrBALStreamConfig(capacity=10),
        lambda: GrBALStreamConfig(meta=GrBALConfig(M=0)),
    ],
)
def test_bad_configs_raise(make: Any) -> None:
    with pytest.raises(DynadaptError):
        make()


@pytest.mark.parametrize(
    "cfg", [CaDMConfig(), TMCLConfig(), GrBALStreamConfig()], ids=["cadm", "tmcl", "grbal"]
)
def test_bad_models_and_transitions_raise(cfg: Any) -> None:
    ensemble = DynamicsModel(O, A, ModelConfig(ensemble_size=2, hidden=(8,)))
    with pytest.raises(DynadaptError, match="ensemble_size=1"):
        cfg.build(ensemble, torch.Generator())
    with_reward = DynamicsModel(O, A, ModelConfig(ensemble_size=1, hidden=(8,), learn_reward=True))
    with pytest.raises(DynadaptError, match="reward"):
        cfg.build(with_reward, torch.Generator())
    with pytest.raises(DynadaptError, match="Generator"):
        cfg.build(make_model(), 0)
    learner = cfg.build(make_model(), torch.Generator())
    ok = np.zeros(O, dtype=np.float32)
    with pytest.raises(DynadaptError, match="NaN"):
        learner.observe(np.array([0.0, math.nan]), np.zeros(A), ok, 0)
    with pytest.raises(DynadaptError, match="shapes"):
        learner.observe(np.zeros(3), np.zeros(A), ok, 0)
    assert len(learner.memory) == 0
    assert learner.train()["train/skipped"] == 1  # no segment long enough yet: nothing to train on
