"""Situation streams: schedules and labels, StreamEnv on the real envs, stream files, the reward rule."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dynadapt.envs import (
    Segment,
    Stream,
    StreamEnv,
    get_family,
    get_stream,
    load_stream,
    save_stream,
    stream_from_data,
    stream_names,
)
from dynadapt.envs.base import TaskEnvMixin
from dynadapt.envs.family import TaskFamily
from dynadapt.envs.streams import MAX_TOTAL_STEPS
from dynadapt.errors import DynadaptError, UnknownNameError

FAMILIES = ("pendulum", "cartpole", "half_cheetah_cripple")


def _actions(env: StreamEnv, n: int, seed: int) -> np.ndarray:
    """``float32[n, A]`` uniform in the action bounds."""
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high  # type: ignore[attr-defined]
    return rng.uniform(low, high, size=(n, *low.shape)).astype(np.float32)


def _play_to(env: StreamEnv, t: int, acts: np.ndarray) -> None:
    """Reset and step ``env`` (with resets at episode ends) until its global step is ``t``."""
    env.reset(seed=0)
    while env.t < t:
        _, _, terminated, truncated, _ = env.step(acts[env.t])
        if terminated or truncated:
            env.reset()


# --------------------------------------------------------------------------------------- named streams
@pytest.mark.parametrize("family", FAMILIES)
def test_named_streams_recur_switch_where_documented_and_fit_a_cpu(family: str) -> None:
    for kind in ("recurring", "recurring-mid", "tiny"):
        assert f"{family}:{kind}" in stream_names()
        stream = get_stream(f"{family}:{kind}")
        assert stream.family == family and stream.held_out and len(stream.situations) >= 3
        played = [seg.situation for seg in stream.schedule]
        assert set(played) == set(range(len(stream.situations)))
        assert stream.recurrence_steps(), "a situation must come back"
        mid = [t for t in stream.switch_steps() if t % stream.episode_steps != 0]
        if kind == "recurring":
            assert not mid and 10 <= len(stream.schedule) <= 20
            assert all(played.count(s) >= 3 for s in set(played))
        else:
            assert mid
        if kind == "tiny":
            assert stream.total_steps <= 1000
    for kind in ("recurring", "recurring-mid"):
        stream = get_stream(f"{family}:{kind}")
        assert stream.total_steps == (9000 if family == "half_cheetah_cripple" else 7200)


def test_labels_and_switch_steps_of_pendulum_recurring_mid() -> None:
    stream = get_stream("pendulum:recurring-mid")
    assert stream.names == ("A", "B", "C")
    assert stream.situations[1] == {"gravity": 10.0, "mass": 1.0, "length": 0.5}
    assert stream.switch_steps() == (900, 1400, 1950, 2600, 3050, 3600, 4300, 4600, 5150, 5600, 6450)
    assert stream.recurrence_steps() == (1400, 2600, 3050, 3600, 4300, 4600, 5150, 5600, 6450)
    assert stream.episode_starts() == tuple(range(0, 7200, 200))
    labels = stream.labels()
    assert labels.dtype == np.int64 and labels.shape == (7200,)
    assert tuple(np.flatnonzero(np.diff(labels)) + 1) == stream.switch_steps()
    assert [stream.label_at(t) for t in (0, 899, 900, 1399, 1400, 1950, 7199)] == [0, 0, 1, 1, 0, 2, 2]
    assert all(stream.label_at(int(t)) == labels[t] for t in range(0, 7200, 37))
    assert [labels[t] for t in stream.segment_starts()] == [s.situation for s in stream.schedule]
    for bad in (-1, 7200):
        with pytest.raises(DynadaptError):
            stream.label_at(bad)


def test_describe_has_one_line_per_segment_and_says_where_switches_fall() -> None:
    stream = get_stream("cartpole:tiny")
    lines = stream.describe().splitlines()
    assert len(lines) == 1 + len(stream.schedule) + 1
    assert "500 steps" in lines[0] and "5 episodes of 100" in lines[0]
    assert "B" in lines[2] and "pole_mass=2" in lines[2] and "mid-episode (step 50 of episode 1)" in lines[2]
    assert "at the start of episode 3" in lines[3]
    assert lines[-1].startswith("  held out: H1 (pole_mass=1, cart_damping=5)")


def test_get_stream_rejects_unknown_names() -> None:
    with pytest.raises(UnknownNameError, match="pendulum:recurring"):
        get_stream("pendulum:recuring")


# --------------------------------------------------------------------------------------- playing a stream
@pytest.mark.parametrize("family", FAMILIES)
def test_stream_env_labels_resets_and_switches_over_a_whole_tiny_stream(family: str) -> None:
    stream = get_stream(f"{family}:tiny")
    env = StreamEnv(stream)
    acts = _actions(env, stream.total_steps, seed=1)
    obs, info = env.reset(seed=0)
    resets, labels, switched, truncs = [0], [], [], []
    assert info["situation"] == 0 and obs.shape == env.observation_space.shape
    while not env.done:
        obs, reward, terminated, truncated, info = env.step(acts[env.t])
        assert np.isfinite(reward) and not terminated
        labels.append(info["situation"])
        switched.append(info["switched"])
        truncs.append(truncated)
        if truncated:
            if env.done:
                break
            _, info = env.reset()
            resets.append(env.t)
            assert info["situation"] == stream.label_at(env.t)
            assert env.get_task() == stream.situations[info["situation"]]
    np.testing.assert_array_equal(np.array(labels), stream.labels())
    assert resets == list(stream.episode_starts())
    assert [t for t, tr in enumerate(truncs) if tr] == [t - 1 for t in (*stream.episode_starts()[1:], 500)]
    mid = [t for t in stream.switch_steps() if t % stream.episode_steps]
    assert [t for t, s in enumerate(switched) if s] == mid == [150]
    assert env.get_task() == stream.situations[2]
    with pytest.raises(DynadaptError, match="exhausted"):
        env.step(acts[0])
    env.close()


@pytest.mark.parametrize("family", ["pendulum", "cartpole", "half_cheetah_cripple"])
def test_mid_episode_switch_applies_set_task_exactly_at_the_scheduled_step(family: str) -> None:
    """At t = 150 (step 50 of episode 1) situation B replaces A without a reset: the step from the same
    physics state then follows B's physics, not A's."""
    stream = get_stream(f"{family}:tiny")
    fam = get_family(family)
    env = StreamEnv(stream)
    acts = _actions(env, 200, seed=2)
    acts[149:151] = env.action_space.high  # type: ignore[attr-defined]  # drive every joint hard
    _play_to(env, 149, acts)
    _, _, _, _, info = env.step(acts[149])
    assert info["situation"] == 0 and not info["switched"] and env.get_task() == stream.situations[0]
    base = env.env.unwrapped
    assert isinstance(base, TaskEnvMixin)
    state = base.get_physics_state()

    def one_step(params: Mapping[str, Any]) -> np.ndarray:
        copy = fam.make(**params).unwrapped
        assert isinstance(copy, TaskEnvMixin)
        copy.reset(seed=0)
        copy.set_physics_state(state)
        return np.asarray(copy.step(acts[150])[0], dtype=np.float64)

    obs, _, _, truncated, info = env.step(acts[150])
    assert info == {**info, "situation": 1, "switched": True, "step": 150} and not truncated
    assert env.get_task() == stream.situations[1] and env.t == 151
    obs = np.asarray(obs, dtype=np.float64)
    as_b, as_a = one_step(stream.situations[1]), one_step(stream.situations[0])
    assert np.abs(as_b - as_a).max() > 1e-3, "the situations must differ in one step"
    if family == "half_cheetah_cripple":  # contacts: the solver's warm start differs after a recompile
        np.testing.assert_allclose(obs, as_b, rtol=0, atol=1e-3 * np.abs(as_b - as_a).max())
    else:
        np.testing.assert_array_equal(obs, as_b)


def test_a_switch_on_an_episode_boundary_takes_effect_at_the_reset() -> None:
    stream = get_stream("pendulum:tiny")  # B until 299, A from 300 (episode 3)
    env = StreamEnv(stream)
    acts = _actions(env, 300, seed=3)
    _play_to(env, 299, acts)
    _, _, _, truncated, info = env.step(acts[299])
    assert truncated and info["situation"] == 1 and env.get_task() == stream.situations[1]
    with pytest.raises(DynadaptError, match="reset"):
        env.step(acts[0])
    _, info = env.reset()
    assert info["situation"] == 0 and env.get_task() == stream.situations[0]
    _, _, _, _, info = env.step(acts[0])
    assert info["situation"] == 0 and not info["switched"]


def test_stepping_before_the_first_reset_raises() -> None:
    env = StreamEnv(get_stream("pendulum:tiny"))
    with pytest.raises(DynadaptError, match="reset"):
        env.step(np.zeros(1, dtype=np.float32))


def test_same_seed_same_stream_run_and_another_seed_differs() -> None:
    stream = get_stream("cartpole:tiny")

    def run(seed: int) -> np.ndarray:
        env = StreamEnv(stream)
        acts = _actions(env, stream.total_steps, seed=4)
        out = [env.reset(seed=seed)[0]]
        while not env.done:
            obs, _, _, truncated, _ = env.step(acts[env.t])
            out.append(obs)
            if truncated and not env.done:
                out.append(env.reset()[0])
        return np.stack(out)

    first = run(7)
    np.testing.assert_array_equal(first, run(7))
    assert not np.array_equal(first, run(8))


def test_stream_env_gives_the_planner_the_familys_reward_function() -> None:
    env = StreamEnv(get_stream("cartpole:tiny"))
    fam = get_family("cartpole")
    x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = torch.ones(5, 1, dtype=torch.float64)
    assert torch.equal(env.reward_fn(x, a, x), fam.reward_fn_for(pole_length=0.6)(x, a, x))
    assert not env.termination_fn(x, a, x).any()


# --------------------------------------------------------------------------------------- files
@pytest.mark.parametrize("suffix", [".json", ".toml"])
@pytest.mark.parametrize("name", ["pendulum:recurring-mid", "half_cheetah_cripple:tiny", "cartpole:tiny"])
def test_save_and_load_round_trip(name: str, suffix: str, tmp_path: Path) -> None:
    stream = get_stream(name)
    path = save_stream(stream, tmp_path / f"stream{suffix}")
    loaded = load_stream(path)
    assert loaded == stream and hash(loaded) == hash(stream)
    assert get_stream(str(path)) == stream


def test_toml_string_schedule_equals_json_table_schedule(tmp_path: Path) -> None:
    toml = tmp_path / "mine.toml"
    toml.write_text(
        'family = "pendulum"\nepisode_steps = 200\nschedule = "A:400 B:300 A:500"\n\n'
        "[situations]\nA = { mass = 1.0 }\nB = { mass = 2.0, length = 0.5 }\nC = { length = 2.0 }\n\n"
        "[held_out]\nH1 = { mass = 1.5 }\n"
    )
    data = {
        "name": "mine",
        "family": "dynadapt/Pendulum-v0",
        "situations": {"A": {"mass": 1.0}, "B": {"mass": 2.0, "length": 0.5}, "C": {"length": 2.0}},
        "schedule": [
            {"situation": "A", "steps": 400},
            {"situation": "B", "steps": 300},
            {"situation": "A", "steps": 500},
        ],
        "held_out": {"H1": {"mass": 1.5}},
    }
    jsn = tmp_path / "other.json"
    jsn.write_text(json.dumps(data))
    stream = load_stream(toml)
    assert stream == load_stream(jsn)
    assert stream.name == "mine" and stream.family == "pendulum" and stream.total_steps == 1200
    assert stream.switch_steps() == (400, 700) and stream.held_out_names == ("H1",)
    assert stream.names == ("A", "B", "C") and 2 not in stream.labels()  # an unplayed situation is fine
    assert stream.held_out[0] == {"gravity": 10.0, "mass": 1.5, "length": 1.0}
    no_name = {k: v for k, v in data.items() if k not in ("name", "held_out")}
    assert stream_from_data(no_name, name="x").name == "x"
    assert stream_from_data(no_name, name="x").episode_steps == 200  # the family's default


_GOOD = {
    "family": "pendulum",
    "episode_steps": 100,
    "situations": {"A": {}, "B": {"mass": 2.0}},
    "schedule": "A:100 B:50",
}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"colour": "red"}, "unknown key"),
        ({"family": "pendulm"}, "pendulum"),
        ({"episode_steps": 0}, "episode_steps"),
        ({"episode_steps": 2.5}, "episode_steps"),
        ({"situations": {}}, "empty"),
        ({"situations": {"A": {}, "B": {"mas": 2.0}}}, "situation 'B'"),
        ({"situations": {"A": {}, "B": {"mass": -1.0}}}, "situation 'B'"),
        ({"situations": {"A": {}, "B": 2.0}}, "situation 'B'"),
        ({"situations": {"A": {}, "B c": {}}}, "invalid"),
        ({"situations": {"A": {}, "B": {"mass": 1.0}}}, "same parameters"),
        ({"schedule": ""}, "empty"),
        ({"schedule": []}, "empty"),
        ({"schedule": "A:100 D:50"}, "schedule entry 2: unknown situation 'D'"),
        ({"schedule": [{"situation": "A", "steps": 10}, {"situation": "Z", "steps": 5}]}, "entry 2"),
        ({"schedule": "A:100 B:0"}, "schedule entry 2"),
        ({"schedule": "A:100 B:-5"}, "schedule entry 2"),
        ({"schedule": "A:100 B:2.5"}, "schedule entry 2"),
        ({"schedule": "A:100 B"}, "schedule entry 2"),
        ({"schedule": [{"situation": "A", "steps": 2.5}]}, "schedule entry 1"),
        ({"schedule": [{"situation": "A", "steps": True}]}, "schedule entry 1"),
        ({"schedule": [{"situation": "A", "steps": 5, "speed": 1}]}, "schedule entry 1: unknown key"),
        ({"schedule": [{"situation": "A"}]}, "missing key"),
        ({"schedule": f"A:{MAX_TOTAL_STEPS} B:1"}, "more than the 10,000,000"),
        ({"schedule": f"A:{MAX_TOTAL_STEPS + 1}"}, "schedule entry 1"),
        ({"held_out": {"H1": {"mass": 2.0}}}, "same parameters"),
        ({"held_out": {"A": {"mass": 3.0}}}, "both"),
        ({"family": "cartpole", "situations": {"A": {}, "B": {"pole_length": 1.0}}}, "pole_length"),
    ],
)
@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_every_bad_file_is_one_error_naming_the_file(
    change: dict[str, object], fragment: str, suffix: str, tmp_path: Path
) -> None:
    data = {**_GOOD, **change}
    path = tmp_path / f"bad{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        path.write_text(_to_toml(data))
    with pytest.raises(DynadaptError) as err:
        load_stream(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def _to_toml(data: dict[str, object]) -> str:
    """A small TOML writer for the test cases (the values above are all JSON-compatible)."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)

    return "\n".join(f"{json.dumps(k)} = {value(v)}" for k, v in data.items()) + "\n"


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("family = \n")
    for path, fragment in ((broken, "not a valid TOML"), (tmp_path / "missing.json", "not found")):
        with pytest.raises(DynadaptError) as err:
            load_stream(path)
        assert str(path) in str(err.value) and fragment in str(err.value)
    with pytest.raises(DynadaptError, match=r"\.toml or \.json"):
        load_stream(tmp_path / "stream.yaml")


# --------------------------------------------------------------------------------------- the reward rule
def test_a_situation_that_changes_the_reward_is_refused_naming_the_parameter() -> None:
    schedule = (Segment(0, 10), Segment(1, 10))
    ok = Stream("ok", "cartpole", ({}, {"pole_mass": 2.0, "cart_damping": 5.0}), ("A", "B"), schedule, 10)
    assert ok.situations[1]["pole_length"] == 0.6
    with pytest.raises(DynadaptError) as err:
        Stream("bad", "cartpole", ({}, {"pole_length": 0.8, "pole_mass": 2.0}), ("A", "B"), schedule, 10)
    message = str(err.value)
    assert "situation 'B'" in message and "pole_length" in message and "reward" in message
    assert "pole_mass" not in message  # the mass does not change the reward
    with pytest.raises(DynadaptError, match=r"held-out setting 'H1'.*pole_length"):
        Stream("bad", "cartpole", ({},), ("A",), (Segment(0, 5),), 5, held_out=({"pole_length": 1.0},))


def test_every_familys_reward_and_termination_are_probed_in_float64(family: TaskFamily) -> None:
    stream = Stream("one", family.name, ({},), ("A",), (Segment(0, 3),), 3)
    assert stream.situations[0] == family.validate({}) and stream.labels().tolist() == [0, 0, 0]


def test_stream_and_segment_validate_their_arguments() -> None:
    one = (Segment(0, 5),)
    with pytest.raises(DynadaptError):
        Segment(0, 0)
    with pytest.raises(DynadaptError):
        Segment(-1, 5)
    cases: list[dict[str, object]] = [
        {"names": ("A", "B")},
        {"names": ("A:1",)},
        {"schedule": ()},
        {"schedule": (Segment(1, 5),)},
        {"schedule": (Segment(0, MAX_TOTAL_STEPS), Segment(0, 1))},
        {"episode_steps": 0},
        {"situations": ()},
        {"situations": ({"mass": float("nan")},)},
        {"family": "nope"},
    ]
    base: dict[str, object] = {
        "name": "s",
        "family": "pendulum",
        "situations": ({},),
        "names": ("A",),
        "schedule": one,
        "episode_steps": 5,
    }
    for case in cases:
        with pytest.raises(DynadaptError):
            Stream(**{**base, **case})  # type: ignore[arg-type]
    with pytest.raises(DynadaptError, match="same parameters"):
        Stream("s", "pendulum", ({}, {"mass": 1.0}), ("A", "B"), one, 5)
