"""benchmarks/demo.py: the story of `make demo` per seed and the spread over seeds (its JSON's figures)."""

from __future__ import annotations

import math

from tests.bench_modules import load


def run(preset: str, seed: int, ret: float, retention: float, growth: float) -> dict[str, object]:
    return {
        "preset": preset,
        "seed": seed,
        "final_average_return": ret,
        "average_retention_floor_normalised": retention,
        "average_model_error_growth": growth,
    }


def test_the_story_holds_on_a_seed_only_when_hypercrl_keeps_its_tasks_at_both_levels() -> None:
    demo = load("demo")
    out = demo.summarise([
        run("demo-hypercrl", 0, 170.0, 0.95, 1.1), run("demo-finetune", 0, 60.0, 0.1, 4.0),  # holds
        run("demo-hypercrl", 1, 150.0, 0.9, 5.0), run("demo-finetune", 1, 70.0, 0.2, 3.0),  # model level
        run("demo-hypercrl", 2, 160.0, math.nan, 1.0), run("demo-finetune", 2, 50.0, 0.1, 2.0),  # undefined
        run("demo-hypercrl", 3, 165.0, 0.9, 1.0),  # finetune missing: not counted
    ])  # fmt: skip
    assert out["seeds"] == [0, 1, 2, 3]
    assert out["story_per_seed"]["0"] == {
        "return_above_finetune": True, "retention_above_finetune": True,
        "model_error_growth_below_finetune": True,
    }  # fmt: skip
    assert out["story_per_seed"]["1"]["model_error_growth_below_finetune"] is False
    assert out["story_per_seed"]["2"]["retention_above_finetune"] is None
    assert "3" not in out["story_per_seed"]
    assert (out["story_holds_on"], out["story_seeds"]) == (1, 3)
    ret = out["presets"]["demo-hypercrl"]["final_average_return"]
    assert (ret["min"], ret["max"], ret["values"]) == (150.0, 170.0, [170.0, 150.0, 160.0, 165.0])
    retention = out["presets"]["demo-hypercrl"]["average_retention_floor_normalised"]
    assert retention["values"][2] is None and retention["min"] == 0.9
