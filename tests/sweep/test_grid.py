"""Grids from the command line and from TOML/JSON files: trials, names, validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dynadapt.errors import DynadaptError
from dynadapt.sweep.grid import SweepSpec, load_grid_file, parse_seeds, split_overrides, validate

TOML = """\
presets = ["pets-pendulum"]
seeds = "0-1"
[set]
episodes = 3
"model.hidden" = [32, 32]
[grid]
"planner.population" = [50, 100]
[methods.icem-short]
preset = "pets-cartpole"
planner = "icem"
"mpc.horizon" = 10
"""


def test_toml_and_json_grid_files_give_the_same_trials(tmp_path: Path) -> None:
    toml = tmp_path / "g.toml"
    toml.write_text(TOML)
    as_json = {
        "presets": ["pets-pendulum"],
        "seeds": [0, 1],
        "set": {"episodes": 3, "model.hidden": [32, 32]},
        "grid": {"planner.population": [50, 100]},
        "methods": {"icem-short": {"preset": "pets-cartpole", "planner": "icem", "mpc.horizon": 10}},
    }
    js = tmp_path / "g.json"
    js.write_text(json.dumps(as_json))
    trials = load_grid_file(toml).trials()
    assert trials == load_grid_file(js).trials()
    assert [(t.method, t.seed) for t in trials] == [
        ("pets-pendulum planner.population=50", 0),
        ("pets-pendulum planner.population=50", 1),
        ("pets-pendulum planner.population=100", 0),
        ("pets-pendulum planner.population=100", 1),
        ("icem-short", 0),
        ("icem-short", 1),
    ]
    assert trials[0].overrides == (("episodes", "3"), ("model.hidden", "32,32"), ("planner.population", "50"))
    assert trials[-1].name == "icem-short__s1" and trials[-1].preset == "pets-cartpole"
    assert trials[-1].overrides[-2:] == (("planner", "icem"), ("mpc.horizon", "10"))
    validate(trials)  # every config builds


def test_a_key_given_twice_is_an_axis() -> None:
    common, axes = split_overrides([("episodes", "2"), ("mpc.horizon", "5"), ("mpc.horizon", "10")])
    assert common == [("episodes", "2")] and axes == {"mpc.horizon": ["5", "10"]}
    spec = SweepSpec(presets=["pets-pendulum"], common=common, axes=axes, seeds=parse_seeds("0-2,7"))
    assert spec.seeds == [0, 1, 2, 7] and len(spec.trials()) == 8
    with pytest.raises(DynadaptError, match="given twice"):
        split_overrides([("a", "1"), ("a", "1")])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('presets = ["pets-pendulum"]\n[grid]\n"mpc.horizon" = []\n', "must list at least one value"),
        ('presets = ["pets-pendulum"]\nseeds = [true]\n', "seeds must be a list of integers"),
        ("presets = [\n", "not a valid TOML file"),
        ('[methods.x]\nplanner = "icem"\n', 'methods.x needs preset = "NAME"'),
    ],
)
def test_bad_grid_files_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "g.toml"
    path.write_text(text)
    with pytest.raises(DynadaptError, match=message.replace("(", r"\(")) as e:
        load_grid_file(path)
    assert "\n" not in str(e.value)


def test_validation_names_the_method_of_a_bad_override(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text(TOML.replace('planner = "icem"', 'planner = "nope"'))
    with pytest.raises(DynadaptError, match=r"unknown choice for planner 'nope'.*in method 'icem-short'"):
        validate(load_grid_file(path).trials())
