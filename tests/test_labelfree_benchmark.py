"""benchmarks/labelfree.py: the committed held-out streams are the declared draw, and the declared claims
read the per-seed figures as the protocol says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dynadapt.envs.streams import get_stream
from tests.bench_modules import load

REPO = Path(__file__).resolve().parent.parent


bench = load("labelfree")


def test_the_committed_held_out_streams_are_the_declared_draw() -> None:
    rng = np.random.default_rng(20261130)
    for family in bench.BOXES:  # the declared order: one generator, pendulum then cart-pole
        drawn = bench.draw_stream(family, rng)
        committed = get_stream(str(REPO / "benchmarks" / "streams" / f"{family}_heldout.toml"))
        assert drawn.to_dict() == committed.to_dict()
        named = get_stream(f"{family}:recurring-mid")
        assert len(drawn.situations) == 4 and not set(map(str, drawn.situations)) & set(
            map(str, named.situations)
        )
        assert len(drawn.switch_steps()) == bench.SEGMENTS - 1


def test_the_second_protocols_held_out_streams_are_its_declared_draw() -> None:
    """protocol_labelfree2.toml: a new generator, and every setting apart from the named streams' and
    the first protocol's held-out streams' too."""
    protocol = bench.load_protocol(REPO / "benchmarks" / "protocol_labelfree2.toml")
    assert bench.prefix(protocol) == "labelfree2"
    rng = np.random.default_rng(protocol["study"]["draw_seed"])
    for family in bench.BOXES:
        first = get_stream(str(REPO / "benchmarks" / "streams" / f"{family}_heldout.toml"))
        drawn = bench.draw_stream(family, rng, "heldout2", (first,))
        committed = get_stream(str(bench.held_out_file(family, bench.held_out_name(protocol))))
        assert drawn.to_dict() == committed.to_dict() and committed.name == f"{family}_heldout2"
        box = bench.BOXES[family][0]
        earlier = [*first.situations, *first.held_out]
        for p in (*drawn.situations, *drawn.held_out):
            a = {k: float(p[k]) for k in box}
            assert all(bench._distance(a, {k: float(q[k]) for k in box}) >= bench.SEPARATION for q in earlier)


def test_the_third_protocols_half_cheetah_stream_is_its_declared_categorical_draw(tmp_path: Path) -> None:
    """protocol_labelfree3.toml: six distinct crippled-joint values (four situations, two held-out), the
    family's 500-step episodes; no tuning stage, so ``tune`` refuses it."""
    protocol = bench.load_protocol(REPO / "benchmarks" / "protocol_labelfree3.toml")
    assert protocol["study"]["families"] == ["half_cheetah_cripple"] and "tuning" not in protocol
    rng = np.random.default_rng(protocol["study"]["draw_seed"])
    drawn = bench.draw_stream("half_cheetah_cripple", rng, "heldout3")
    committed = get_stream(str(bench.held_out_file("half_cheetah_cripple", "heldout3")))
    assert drawn.to_dict() == committed.to_dict() and committed.episode_steps == 500
    values = [p["crippled_joint"] for p in (*drawn.situations, *drawn.held_out)]
    assert len(values) == len(set(values)) == 6
    assert len(drawn.switch_steps()) == bench.SEGMENTS - 1
    with pytest.raises(SystemExit, match="no tuning stage"):
        bench.tune(protocol, "half_cheetah_cripple", tmp_path / "tune", tmp_path, 1)


def test_the_matched_cadm_model_has_the_label_free_learners_parameter_count() -> None:
    """The "at matched parameter count" claim: each protocol's cadm-matched settings give the CaDM-style
    model within 4% of the label-free learner's trained parameters on every family it declares."""
    for name in ("protocol_labelfree2.toml", "protocol_labelfree3.toml"):
        protocol = bench.load_protocol(REPO / "benchmarks" / name)
        for family in protocol["study"]["families"]:
            sizes = {m: _learner_size(protocol, m, family) for m in ("hnet", "cadm-matched")}
            assert abs(sizes["cadm-matched"] / sizes["hnet"] - 1) < 0.04, (name, family, sizes)


def _learner_size(protocol: dict[str, Any], method: str, family: str) -> int:
    import torch

    from dynadapt.envs.registry import get_family
    from dynadapt.models.dynamics import DynamicsModel
    from dynadapt.runs.config import apply_overrides, parse_override_args
    from dynadapt.runs.labelfree.loop import learner_size
    from dynadapt.runs.presets import get_preset

    preset, fixed = bench.method_run(protocol, method, family)
    cfg = apply_overrides(get_preset(preset).make(), parse_override_args([f"{k}={v}" for k, v in fixed]))
    gen = torch.Generator().manual_seed(0)
    model = DynamicsModel.for_family(get_family(get_stream(cfg.stream).family), cfg.model, gen)
    return learner_size(cfg.learner_config().build(model, gen))


def test_a_protocol_maps_methods_to_presets_and_fixed_settings() -> None:
    protocol = bench.load_protocol(REPO / "benchmarks" / "protocol_labelfree2.toml")
    hnet = bench.method_run(protocol, "hnet", "cartpole")
    assert hnet == ("hnet-stream-cartpole", [("hnet.relabel", "25")])
    preset, fixed = bench.method_run(protocol, "cadm-matched", "pendulum")
    assert preset == "cadm-stream-pendulum" and ("model.hidden", "[32,32]") in fixed
    assert bench.method_run(protocol, "grbal", "pendulum") == ("grbal-stream-pendulum", [])
    first = bench.load_protocol()
    assert bench.prefix(first) == "labelfree" and bench.method_run(first, "cadm", "pendulum")[1] == []


def test_the_median_session_growth_reads_five_episodes_at_each_end() -> None:
    times = [1.0, 1.2, 0.8, 1.1, 0.9, 5.0, 1.0, 1.3, 1.4, 1.2, 1.1]
    assert bench._median_growth(times) == 1.2 / 1.0
    assert bench._median_growth(times[:9]) is None


def _runs(**figures: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for method, values in figures.items():
        for seed, v in enumerate(values):
            out.setdefault(method, []).append({"seed": seed, **v})
    return out


def test_claims_hold_only_when_every_seed_meets_them() -> None:
    declared = {
        "at_least": [["hnet", "nmi", 0.9]],
        "at_most": [["hnet", "library_ratio", 1.25]],
        "within": [
            ["hnet", "task-aware", "average_return", 0.95],
            ["hnet", "task-aware", "pred_error_by_situation", 1.1],
        ],
        "better": [["hnet", "grbal", "average_return"]],
    }
    good = {
        "nmi": 0.95,
        "library_ratio": 1.0,
        "average_return": -150.0,
        "pred_error_by_situation": [1.0, 2.0],
    }
    runs = _runs(
        hnet=[good, good, {**good, "nmi": 0.89, "average_return": -160.0}],
        **{"task-aware": [{"average_return": -150.0, "pred_error_by_situation": [1.0, 1.9]}] * 3},
        grbal=[{"average_return": -400.0}] * 3,
    )
    claims = {c["claim"].split(" on every")[0]: c for c in bench.check_claims(declared, runs)}
    nmi = next(c for c in claims.values() if "nmi" in c["claim"])
    assert not nmi["pass"] and nmi["held"] == 2 and nmi["seeds"] == 3  # one seed short fails the claim
    assert next(c for c in claims.values() if "library_ratio" in c["claim"])["pass"]
    ret = next(c for c in claims.values() if "average_return" in c["claim"] and "task-aware" in c["claim"])
    assert ret["held"] == 2 and not ret["pass"]  # -160 < -150 - 0.05 * 150 = -157.5
    err = next(c for c in claims.values() if "pred_error_by_situation" in c["claim"])
    assert err["pass"]  # 2.0 <= 1.1 * 1.9 on the worst situation
    better = next(c for c in claims.values() if "grbal" in c["claim"])
    assert better["pass"] and better["wins"] == 3


def test_a_worse_situation_breaks_the_every_situation_error_claim() -> None:
    runs = _runs(
        hnet=[{"pred_error_by_situation": [1.0, 2.2]}],
        **{"task-aware": [{"pred_error_by_situation": [1.0, 1.9]}]},
    )
    (claim,) = bench.check_claims({"within": [["hnet", "task-aware", "pred_error_by_situation", 1.1]]}, runs)
    assert not claim["pass"]


def test_run_figures_reads_costs_from_the_rows() -> None:
    summary = {
        "seed": 0, "average_return": -1.0, "pred_error": 1.0, "pred_error_held_out": 2.0,
        "pred_error_by_situation": [1.0], "library_sizes": [1, 2], "identification": {"nmi": 0.5},
    }  # fmt: skip
    rows = [
        {
            "planner/ms_per_step": 10.0,
            "ident/ms_per_step": 1.0,
            "library_size": 1,
            "time/train_session_cpu_s": 0.1,
        },
        {
            "planner/ms_per_step": 10.0,
            "ident/ms_per_step": 3.0,
            "library_size": 2,
            "time/train_session_cpu_s": 0.4,
        },
        {
            "planner/ms_per_step": 10.0,
            "ident/ms_per_step": 2.0,
            "library_size": 3,
            "time/train_session_cpu_s": 0.5,
        },
    ]
    figures = bench.run_figures(summary, rows)
    assert figures["ident_over_plan"] == 0.2
    assert figures["session_growth"] == 0.5 / 0.4  # from the first regularised session (library >= 2)
    assert figures["session_growth_median"] is None  # fewer than 2 x 5 episodes with regularised sessions
    assert figures["nmi"] == 0.5 and figures["library_size"] == 2
