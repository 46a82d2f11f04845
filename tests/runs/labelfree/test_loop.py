"""Kind labelfree end to end on the tiny pendulum stream: every method runs, records one true and one
inferred label per step, resumes to the same results, and its end-of-stream evaluation leaves the learner
as it was."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dynadapt.envs.streams import get_stream
from dynadapt.errors import DynadaptError
from dynadapt.labelfree import nmi
from dynadapt.runs import launch
from dynadapt.runs.labelfree import LabelFreeRun
from dynadapt.runs.labelfree.loop import METHODS, SITUATED, rle_decode
from dynadapt.runs.rundir import RunDir
from tests.runs.interrupt import start_killed
from tests.runs.tiny import tiny


@pytest.mark.parametrize("method", METHODS)
def test_every_method_plays_the_whole_stream_and_records_every_step(method: str, tmp_path: Path) -> None:
    preset, cfg = tiny("labelfree", f"method={method}")
    summary = launch.start(preset, cfg, tmp_path / "run", progress=False)
    stream = get_stream(cfg.stream)
    assert summary["env_steps"] == stream.total_steps
    assert summary["episodes"] == len(stream.episode_starts())
    true, inferred = rle_decode(summary["true_rle"]), rle_decode(summary["inferred_rle"])
    assert np.array_equal(true, stream.labels())  # the loop records the stream's own labels, step by step
    assert inferred.shape == true.shape
    assert len(summary["one_step_errors"]) == stream.total_steps - cfg.warmup_steps
    assert all(math.isfinite(e) and e >= 0 for e in summary["one_step_errors"])
    labels, n = stream.labels(), stream.episode_steps
    majority = [int(np.bincount(labels[s : s + n]).argmax()) for s in stream.episode_starts()]
    assert summary["episode_situations"] == majority
    assert len(summary["pred_error_by_situation"]) == len(stream.situations)
    assert len(summary["pred_error_by_held_out"]) == len(stream.held_out)
    assert all(math.isfinite(e) for e in summary["pred_error_by_situation"])
    if method == "task-aware":  # told the truth: its situations are a relabelling of the true ones
        assert nmi(true, inferred) == pytest.approx(1.0)
        assert summary["identification"]["false_switches"] == 0
    if method not in SITUATED:  # no notion of situation: no identification metrics
        assert summary["identification"] == {} and set(inferred.tolist()) == {-1}
    else:
        assert 0.0 <= summary["identification"]["nmi"] <= 1.0
    plots = sorted(p.name for p in (tmp_path / "run" / "plots").iterdir())
    assert plots == ["library.png", "returns.png", "situations.png", "switch_error.png"]


@pytest.mark.parametrize("method", [m for m in METHODS if m != "hnet"])  # hnet: tests/runs/test_resume.py
def test_a_killed_run_of_every_baseline_resumes_to_the_same_summary(
    method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preset, cfg = tiny("labelfree", f"method={method}")
    ref = launch.start(preset, cfg, tmp_path / "ref", progress=False)
    start_killed(monkeypatch, preset, cfg, tmp_path / "killed", 3)  # after a training session, mid-stream
    resumed = launch.resume(tmp_path / "killed", progress=False)
    assert json.dumps(resumed, sort_keys=True) == json.dumps(ref, sort_keys=True)


def test_the_end_of_stream_evaluation_leaves_the_learner_untouched(tmp_path: Path) -> None:
    _, cfg = tiny("labelfree")
    run = LabelFreeRun(cfg, RunDir(tmp_path / "run"), progress=False)
    while run.env.t < run.stream.total_steps - run.stream.episode_steps:
        run.step()
    before = copy.deepcopy(run.learner.state_dict()), json.dumps(run.learner.meta(), sort_keys=True)
    first, second = run.evaluate(), run.evaluate()
    assert first == second  # fixed episodes and seeds; the learner's copy, not the learner, observes them
    after = run.learner.state_dict()
    assert json.dumps(run.learner.meta(), sort_keys=True) == before[1]
    assert set(after) == set(before[0]) and all(torch.equal(after[k], before[0][k]) for k in after)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stream=pendulum:nope", "stream"),
        ("method=oracle", "method"),
        ("warmup_steps=0", "warmup_steps"),
        ("model.ensemble_size=2", "ensemble_size"),
        ("eval.window=95", "eval.window"),
    ],
)
def test_bad_settings_are_one_clear_error(override: str, message: str) -> None:
    with pytest.raises(DynadaptError, match=message):
        tiny("labelfree", override)
