"""The declared claims of ``benchmarks/protocol.py`` and how the README renders them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from tests.bench_modules import load

REPO = Path(__file__).resolve().parent.parent


protocol = load("protocol")
readme = load("readme")


def _continual_runs(hyper: list[float], other: list[float], first: list[float]) -> dict[str, Any]:
    def runs(values: list[float], firsts: list[float]) -> list[dict[str, Any]]:
        return [
            {"seed": k, "final_average_return": v, "reward_matrix": [[f, 0.0], [0.0, 0.0]]}
            for k, (v, f) in enumerate(zip(values, firsts))
        ]

    return {
        "hypercrl": runs(hyper, first),
        "finetune": runs(other, [100.0] * len(other)),
        "single": runs(other, [100.0] * len(other)),
    }


def test_a_clear_win_is_met_and_an_overlap_is_not() -> None:
    declared = {"better": [["hypercrl", "finetune", "final_average_return"]]}
    clear = _continual_runs([170, 171, 172, 173, 174], [40, 41, 42, 43, 44], [100] * 5)
    [won] = protocol.claims(declared, clear, {})
    assert won["pass"] and won["wins"] == 5 and won["p"]["estimate"] == 1.0 and won["p"]["low"] > 0.5
    mixed = _continual_runs([50, 60, 70, 80, 90], [55, 65, 75, 85, 45], [100] * 5)
    [lost] = protocol.claims(declared, mixed, {})
    assert not lost["pass"] and lost["wins"] == 1 and lost["seeds"] == 5
    assert lost["p"]["low"] <= 0.5 < lost["p"]["high"]


def test_first_task_claim_needs_every_seed_within_the_margin() -> None:
    runs = _continual_runs([0.0] * 5, [0.0] * 5, [95.0, 105.0, 91.0, 100.0, 110.0])
    [ok] = protocol.claims({"first_task_within": 0.10}, runs, {})
    assert ok["pass"] and ok["within"] == 5
    runs["hypercrl"][2]["reward_matrix"][0][0] = 89.0  # 11% below single's 100
    [missed] = protocol.claims({"first_task_within": 0.10}, runs, {})
    assert not missed["pass"] and missed["within"] == 4
    assert abs(missed["relative_gap"]["2"] - 0.11) < 1e-12


def test_held_out_claims_are_checked_per_declared_set() -> None:
    by_set = {
        "grbal": {"interpolation": {"0": -100.0, "1": -110.0}, "extrapolation": {"0": -300.0, "1": -310.0}},
        "mb": {"interpolation": {"0": -200.0, "1": -210.0}, "extrapolation": {"0": -250.0, "1": -260.0}},
    }
    out = protocol.claims({"better": [["grbal", "mb", "held_out"]]}, {}, by_set)
    assert [(c["set"], c["pass"], c["wins"]) for c in out] == [
        ("interpolation", True, 2),
        ("extrapolation", False, 0),
    ]
    lines = [readme.protocol_claim(c).render() for c in out]
    assert lines[0].startswith("GrBAL above MB in held_out on the interpolation set: **met** (P = 1.00")
    assert "**not met**" in lines[1] and "higher on 0 of 2 seeds" in lines[1]


def test_the_declared_claims_name_methods_the_protocol_runs() -> None:
    declared = protocol.load_protocol()
    for study in ("continual", "meta"):
        section = declared[study]
        methods = set(section["methods"]) | set(section.get("oracles", []))
        for a, b, _ in section["claims"]["better"]:
            assert {a, b} <= methods


def test_a_published_ordering_is_checked_seed_by_seed() -> None:
    runs = {
        m: [{"seed": k, "final_average_return": v} for k, v in enumerate(values)]
        for m, values in {
            "hypercrl": [170, 160, 150],
            "coreset": [165, 161, 140],
            "ewc": [100, 120, 145],
            "multitask": [175, 170, 100],
        }.items()
    }
    order = [["hypercrl", ">=", "coreset"], ["coreset", ">", "ewc"]]
    out = protocol.claims({"order": order, "close": [["hypercrl", "multitask", 0.1]]}, runs, {})
    ordering, close = out
    assert ordering["per_seed"] == {"0": True, "1": False, "2": False} and not ordering["pass"]
    assert ordering["failing"] == {"1": ["hypercrl >= coreset"], "2": ["coreset > ewc"]}
    assert close["per_seed"] == {"0": True, "1": True, "2": False} and close["holds"] == 2
    assert abs(close["gaps"]["2"] - 0.5) < 1e-12
    lines = [readme.protocol_claim(c).render() for c in out]
    assert lines[0].startswith(
        "HyperCRL >= coreset, coreset > EWC on final_average_return, seed by seed: **not met**"
    )
    assert "holds on 1 of 3 seeds; seed 1: not hypercrl >= coreset" in lines[0]
    assert "relative gaps -3%, -6%, +50%" in lines[1]


def test_a_second_protocol_file_keeps_its_results_apart(tmp_path: Path) -> None:
    """Fixed (untuned) hyperparameters, meta families with the presets' own held-out settings and per-family
    overrides; results named after the file."""
    assert protocol.results_prefix(protocol.PROTOCOL) == "protocol_"
    assert protocol.results_prefix(tmp_path / "protocol_papers.toml") == "protocol_papers_"
    declared = {
        "evaluation": {"eval_episodes": 2},
        "meta": {
            "methods": ["grbal", "mb"],
            "families": ["half_cheetah_cripple", "half_cheetah_hfield"],
            "fixed": {"grbal.grbal.inner_lr": 0.01},
            "common": {"half_cheetah_cripple": {"task.switch_at": 250}},
        },
    }
    args = argparse.Namespace(
        study="meta", family="half_cheetah_hfield", protocol=tmp_path / "protocol_papers.toml"
    )
    spec = protocol.study(args, declared)
    assert spec["name"] == "meta_half_cheetah_hfield" and spec["prefix"] == "protocol_papers_"
    assert spec["held_out_sets"] == {"held_out": 4}  # gentle, steep, hill, basin: the family's test split
    assert ("eval.episodes", "8") in spec["report_common"] and spec["tuning"] == {}
    assert protocol.fixed_values(spec, "grbal") == [("grbal.inner_lr", "0.01")]
    assert protocol.fixed_values(spec, "mb") == []
    cripple = protocol.study(argparse.Namespace(**{**vars(args), "family": "half_cheetah_cripple"}), declared)
    assert ("task.switch_at", "250") in cripple["common"]
    with pytest.raises(SystemExit, match="pick one with --family"):
        protocol.study(argparse.Namespace(**{**vars(args), "family": None}), declared)


def test_the_error_around_the_change_is_averaged_per_window_and_rendered() -> None:
    curve = {str(k): (1.0 if k < 0 else 8.0 if k < 4 else 2.0 if k < 8 else 0.5) for k in range(-10, 20)}
    runs = {
        "grbal": [{"seed": 1, "pred_error_by_steps_since_switch": curve}],
        "mb": [{"seed": 1, "pred_error_by_steps_since_switch": {"-1": 3.0, "0": 5.0}}],
    }
    errors = protocol.change_errors(runs, window=4)
    assert errors["grbal"] == {
        "before": {"1": 1.0},  # only steps -4..-1: the window before the change
        "first": {"1": 8.0},
        "second": {"1": 2.0},
        "later": {"1": 0.5},
    }
    assert errors["mb"] == {"before": {"1": 3.0}, "first": {"1": 5.0}}
    table = readme.change_error_table({"window": 4, "by_method": errors}, ["grbal", "mb"])
    header = next(line for line in table if line.startswith("| method"))
    assert "last 4 steps before" in header and "steps 4-7 after" in header
    grbal_row = next(line for line in table if line.startswith("| GrBAL"))
    cells = [c.strip() for c in grbal_row.strip("|").split("|")]
    assert cells[1:] == ["1 (1)", "8 (8)", "2 (2)", "0.5 (0.5)"]
    mb_row = next(line for line in table if line.startswith("| MB |"))
    assert mb_row.count("–") == 2


def test_the_cost_of_the_reporting_runs_is_totalled_and_rendered() -> None:
    costs = {
        "grbal__s1": {"cpu_s": 600.0, "wall_s": 700.0, "cost_source": "run"},
        "mb__s1": {"cpu_s": 1200.0, "wall_s": 1300.0, "cost_source": "run"},
        "mb__s2": {"cpu_s": None, "wall_s": 50.0, "cost_source": "unknown"},
    }
    total = protocol.run_costs(costs)
    assert total["total_cpu_s"] == 1800.0 and total["total_wall_s"] == 2050.0
    assert total["runs_with_cpu_s"] == 2
    line = readme.cost_line(total)
    assert "3 reporting runs (1 without a CPU time), 0.50 CPU-hours" in line
    assert "15.0 CPU-minutes per run" in line


def test_the_protocol_commit_is_found_for_a_path_relative_to_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)
    relative = protocol.protocol_commit(Path("benchmarks/protocol_grbal.toml"))
    absolute = protocol.protocol_commit(REPO / "benchmarks" / "protocol_grbal.toml")
    assert len(relative) == 40 and relative == absolute
