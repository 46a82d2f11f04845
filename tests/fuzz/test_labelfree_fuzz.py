"""The fuzz cases of what issue 16 added, on their own (``pytest tests/fuzz -k labelfree``): bad stream files
and names given to ``dynadapt streams`` and to label-free runs, bad settings of those runs, and bad calls of
the streams, the learners' configs, the identifier and the identification metrics. ``test_fuzz.py`` runs
them too, with every other case.

The last tests are the gaps these cases found first (each a strict xfail until it was fixed).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from dynadapt.envs.streams import get_stream, load_stream, save_stream, stream_from_data
from dynadapt.errors import DynadaptError
from dynadapt.labelfree import Identifier, IdentifyConfig, false_switches
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.presets import get_preset
from tests.fuzz import api_cases, cli_cases
from tests.fuzz import world as W
from tests.fuzz.cli_cases import STREAM_RUN, STREAM_TINY, Case, Setup
from tests.fuzz.harness import run_api, run_cli
from tests.fuzz.test_fuzz import check


def test_the_labelfree_case_templates_are_valid(tmp_path: Path) -> None:
    """Each case changes one thing of a valid template, so the templates themselves must be accepted (else
    every case would fail for the template's fault, not its own)."""
    (tmp_path / "s.toml").write_text(cli_cases.stream_toml(tail="[held_out]\nH1 = { mass = 1.5 }\n"))
    (tmp_path / "s.json").write_text(cli_cases.stream_json())
    toml, js = load_stream(tmp_path / "s.toml"), load_stream(tmp_path / "s.json")
    assert toml.total_steps == js.total_steps == 200 and toml.switch_steps() == (100,)
    assert stream_from_data(api_cases.STREAM_DATA).total_steps == 200
    assert api_cases.make_stream().switch_steps() == (10,)
    cfg = apply_overrides(get_preset(STREAM_RUN[1]).make(), parse_override_args(STREAM_TINY))
    assert cfg.stream == "pendulum:tiny" and cfg.eval.episode_steps - cfg.eval.horizon == 17  # window 18: bad
    cases = cli_cases.stream_cases()
    assert {c.cls for c in cases} <= set(cli_cases.CLASSES) and len({c.name for c in cases}) == len(cases)


def test_labelfree_command_lines_fail_cleanly(world: Path, tmp_path: Path) -> None:
    cases = cli_cases.stream_cases()
    assert {c.argv[0] for c in cases} == {"streams", "run"}
    check(run_cli(cases, world, tmp_path / "cases", None), at_least=150)


def test_labelfree_api_calls_raise_dynadapt_errors(world: Path, tmp_path: Path) -> None:
    w = tmp_path / "api"
    shutil.copytree(world, w, symlinks=True)
    api_cases.setup_world(w)
    check(run_api(api_cases.labelfree_cases(w), w), at_least=150)


# ------------------------------------------------------------------- crafted label-free checkpoints
CHECKPOINT = "lf/checkpoints/last.safetensors"


@pytest.fixture(scope="module")
def lf_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A world holding ``lf``: a tiny label-free run (hnet, pendulum:tiny) whose summary was removed, so that
    ``dynadapt resume`` restores its last checkpoint and finishes it."""
    root = tmp_path_factory.mktemp("labelfree") / "world"
    root.mkdir()
    preset = get_preset(STREAM_RUN[1])
    cfg = apply_overrides(preset.make(), parse_override_args(STREAM_TINY))
    launch.start(preset, cfg, root / "lf", progress=False)
    (root / "lf" / "summary.json").unlink()
    return root


def _state(key: str, value: object) -> Setup:
    """Set the loop state's ``key`` of the label-free checkpoint to ``value`` (checksum recomputed)."""
    return lambda w: W.resave(w / CHECKPOINT, lambda t, m: (t, {**m, "state": {**m["state"], key: value}}))


def _learner_meta(key: str, value: object) -> Setup:
    """Set the learner's meta entry ``key`` in the label-free checkpoint (checksum recomputed)."""

    def change(t: dict[str, object], m: dict[str, object]) -> tuple[dict[str, object], dict[str, object]]:
        state = dict(m["state"])  # type: ignore[call-overload]
        state["learner_meta"] = {**state["learner_meta"], key: value}
        return t, {**m, "state": state}

    return lambda w: W.resave(w / CHECKPOINT, change)


def _tensors(change: object) -> Setup:
    return lambda w: W.resave(w / CHECKPOINT, lambda t, m: (change(t), m))  # type: ignore[operator]


def test_a_crafted_labelfree_checkpoint_is_one_error_line_and_nothing_is_lost(
    lf_world: Path, tmp_path: Path
) -> None:
    resume = ["resume", "{w}/lf", "--quiet"]
    crafts: dict[str, Setup] = {
        "a flipped data byte": lambda w: W.flip_byte(w / CHECKPOINT),
        "learner_meta=5": _state("learner_meta", 5),
        "learner_meta=None": _state("learner_meta", None),
        "learner_meta={}": _state("learner_meta", {}),
        "inferred_rle='x'": _state("inferred_rle", "x"),
        "true_rle=5": _state("true_rle", 5),
        "returns=5": _state("returns", 5),
        "final=5": _state("final", 5),
        "errors={}": _state("errors", {}),
        "learner version 99": _learner_meta("version", 99),
        "learner labels 'maybe'": _learner_meta("labels", "maybe"),
        "identifier state 5": _learner_meta("identifier", 5),
        "the hypernetwork's tensors missing": _tensors(
            lambda t: {k: v for k, v in t.items() if "trunk" not in k}
        ),
        "every learner tensor a scalar": _tensors(
            lambda t: {k: (v.reshape(-1)[:1] if ".dyn." in k else v) for k, v in t.items()}
        ),
    }
    cases = [Case("safetensors", name, resume, craft) for name, craft in crafts.items()]
    outcomes = run_cli(cases, lf_world, tmp_path / "cases", None)
    assert [(o.name, o.outcome) for o in outcomes] == [(c.name, "ok") for c in cases], outcomes


def test_crafted_run_records_are_one_error_line(lf_world: Path, tmp_path: Path) -> None:
    resume = ["resume", "{w}/lf", "--quiet"]
    crafts = {
        "true_rle=[[0, -5]]": _state("true_rle", [[0, -5]]),
        "errors=[None]": _state("errors", [None]),
        "t=10**12": _state("t", 10**12),
        "episode=-1": _state("episode", -1),
        "library_sizes=['a']": _state("library_sizes", ["a"]),
        "episode_situations=[99]": _state("episode_situations", [99]),
    }
    cases = [Case("safetensors", name, resume, craft) for name, craft in crafts.items()]
    outcomes = run_cli(cases, lf_world, tmp_path / "cases", None)
    assert [(o.name, o.outcome) for o in outcomes] == [(c.name, "ok") for c in cases], outcomes


def test_a_situation_buffer_beyond_the_machine_is_one_error_line(lf_world: Path, tmp_path: Path) -> None:
    big = [*STREAM_RUN, *STREAM_TINY, "hnet.capacity=10000000000000"]
    cases = [Case("resources", "hnet.capacity=10**13", big, memory=4 * 2**30)]
    outcomes = run_cli(cases, lf_world, tmp_path / "cases", None)
    assert [o.outcome for o in outcomes] == ["ok"] * len(cases), outcomes


def test_a_stream_name_longer_than_a_file_name_is_a_dynadapt_error() -> None:
    with pytest.raises(DynadaptError):
        get_stream("x" * 5000)


def test_save_stream_of_what_is_not_a_stream_is_a_dynadapt_error(tmp_path: Path) -> None:
    with pytest.raises(DynadaptError):
        save_stream(5, tmp_path / "s.json")  # type: ignore[arg-type]
    assert not (tmp_path / "s.json").exists()


def test_identifier_step_with_a_nan_count_is_a_dynadapt_error() -> None:
    ident = Identifier(IdentifyConfig())
    ident.step([0.0])
    with pytest.raises(DynadaptError):
        ident.step([0.0, 0.0], n=math.nan)  # type: ignore[arg-type]


def test_false_switches_with_a_nan_tolerance_is_a_dynadapt_error() -> None:
    with pytest.raises(DynadaptError):
        false_switches([0, 0, 1, 1], [0, 0, 1, 1], [2], math.nan)  # type: ignore[arg-type]
