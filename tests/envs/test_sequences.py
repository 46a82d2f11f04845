"""Named and user-defined task sequences; the family description text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dynadapt.envs import (
    Task,
    describe_families,
    describe_family,
    family_names,
    get_family,
    load_sequence,
    sequence_names,
    tasks_from_data,
)
from dynadapt.envs.family import TaskFamily
from dynadapt.errors import DynadaptError, UnknownNameError


def test_every_family_has_a_named_sequence_that_loads(family: TaskFamily) -> None:
    names = [n for n in sequence_names() if n.startswith(f"{family.name}:")]
    assert names
    for name in names:
        tasks = load_sequence(name)
        assert tasks and all(t.family == family.name for t in tasks)
        env = tasks[-1].make()
        env.reset(seed=0)
        env.close()


def test_every_family_loads_from_a_user_file(family: TaskFamily, tmp_path: Path) -> None:
    task = dict(next(iter(family.sequences.values()))[-1])
    data = {"tasks": [{"env": family.env_id, "params": task}, {"family": family.name}]}
    path = tmp_path / "seq.json"
    path.write_text(json.dumps(data))
    tasks = load_sequence(path)
    assert tasks == [Task.create(family.name, task), Task.create(family.name)]
    assert tasks[0].params == family.validate(task)
    assert tasks[0].env_id == family.env_id
    assert tasks[0].reward_fn() is not None and tasks[0].termination_fn() is not None


def test_toml_file_with_a_spliced_named_sequence(tmp_path: Path) -> None:
    path = tmp_path / "seq.toml"
    path.write_text(
        '[[tasks]]\nenv = "cartpole"\nparams = { pole_length = 0.7, pole_mass = 0.3 }\n\n'
        '[[tasks]]\nsequence = "pendulum:hypercrl"\n\n'
        '[[tasks]]\nenv = "dynadapt/HalfCheetahCripple-v0"\nparams = { crippled_joint = "fshin" }\n'
    )
    tasks = load_sequence(str(path))
    assert [t.family for t in tasks] == ["cartpole"] + ["pendulum"] * 5 + ["half_cheetah_cripple"]
    assert tasks[0].params == {"pole_length": 0.7, "pole_mass": 0.3, "cart_damping": 1.0}
    assert tasks[0].label == "cartpole(pole_length=0.7, pole_mass=0.3)"
    assert [t.params["gravity"] for t in tasks[1:6]] == [10.0, 12.0, 14.0, 16.0, 18.0]


def test_list_forms_and_round_trip(tmp_path: Path) -> None:
    tasks = tasks_from_data(
        [["door", {"handle": "lever", "direction": 1}], ["ant_cripple", {"crippled_leg": 3}]]
    )
    path = tmp_path / "again.json"
    path.write_text(json.dumps([t.to_dict() for t in tasks]))
    assert load_sequence(path) == tasks
    assert len({*tasks, *load_sequence(path)}) == 2  # hashable, equal by value


@pytest.mark.parametrize(
    ("content", "suffix", "error", "message"),
    [
        ("{not json", ".json", DynadaptError, "not a valid JSON file"),
        ("tasks = [", ".toml", DynadaptError, "not a valid TOML file"),
        ('{"tasks": []}', ".json", DynadaptError, "has no tasks"),
        ('{"taks": []}', ".json", DynadaptError, "unknown top-level key"),
        ('{"tasks": 3}', ".json", DynadaptError, "must be a list"),
        (
            '[{"env": "cartpol"}]',
            ".json",
            UnknownNameError,
            "task 1: unknown task family or env",
        ),
        (
            '[{"env": "cartpole", "params": {"pole_mass": -1}}]',
            ".json",
            DynadaptError,
            "task 1: invalid value",
        ),
        ('[{"env": "cartpole", "params": {"mass": 1}}]', ".json", UnknownNameError, "unknown parameter"),
        (
            '[{"env": "cartpole"}, {"env": "door", "colour": 1}]',
            ".json",
            DynadaptError,
            r"task 2: unknown key",
        ),
        ('[{"env": "cartpole", "family": "cartpole"}]', ".json", DynadaptError, "exactly one of"),
        ('[{"sequence": "cartpole:nope"}]', ".json", UnknownNameError, "unknown task sequence"),
        ('[["cartpole"]]', ".json", DynadaptError, r"\[env_or_family, \{params\}\]"),
        ('[{"env": "ant_cripple", "params": {"crippled_leg": 7}}]', ".json", DynadaptError, "crippled_leg"),
    ],
)
def test_bad_files(tmp_path: Path, content: str, suffix: str, error: type, message: str) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    with pytest.raises(error, match=message) as info:
        load_sequence(path)
    assert str(path) in str(info.value)


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(DynadaptError, match="not found"):
        load_sequence(tmp_path / "missing.toml")
    with pytest.raises(UnknownNameError, match=r"unknown task sequence 'cartpole:hypercrl5'.*hypercrl10"):
        load_sequence("cartpole:hypercrl5")


def test_describe_families_lists_everything() -> None:
    text = describe_families()
    for name in family_names():
        family = get_family(name)
        assert family.name in text and family.env_id in text
        for param in family.params:
            assert param.name in text
        for seq in family.sequences:
            assert seq in text
    detail = describe_family("dynadapt/HalfCheetahCripple-v0")
    assert "split half_cheetah_cripple:split:test" in detail and "crippled_joint=bthigh" in detail
