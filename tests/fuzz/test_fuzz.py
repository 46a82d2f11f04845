"""The fuzz suite: generated bad inputs to every command and to the public API, each of which must end in
the promised failure (exit 2 and one line, or a DynadaptError) with every file that was there unchanged.

The summary (counts by outcome and by input class) is printed (``pytest -s``) and, with
``DYNADAPT_FUZZ_SUMMARY=FILE``, saved as JSON; ``python -m tests.fuzz`` runs both parts and prints it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.fuzz import api_cases, cli_cases
from tests.fuzz import world as W
from tests.fuzz.harness import Outcome, report, run_api, run_cli, summary

COMMANDS = {
    "presets",
    "run",
    "resume",
    "plot",
    "envs",
    "streams",
    "render",
    "video",
    "sweep",
    "compare",
    "report",
}


def cli_outcomes(world: Path, work: Path) -> list[Outcome]:
    ro = work / "ro"
    readonly = W.readonly_dir(ro, world / "part")
    try:
        return run_cli(cli_cases.cases(), world, work / "cases", ro if readonly else None)
    finally:
        W.release_readonly(ro)


def api_outcomes(world: Path, work: Path) -> list[Outcome]:
    w = work / "api"
    shutil.copytree(world, w, symlinks=True)
    api_cases.setup_world(w)
    return run_api(api_cases.cases(w), w)


def check(outcomes: list[Outcome], at_least: int) -> None:
    text = report(outcomes)
    print(text)
    counts = summary(outcomes)
    assert counts["total"] >= at_least
    assert set(counts["by_outcome"]) <= {"ok", "skipped"}, text
    assert counts["by_outcome"].get("skipped", 0) <= 12, text  # only what the machine cannot do


def test_every_command_fails_cleanly_on_bad_input(world: Path, tmp_path: Path) -> None:
    cases = cli_cases.cases()
    assert {c.argv[0] for c in cases} >= COMMANDS
    assert {c.cls for c in cases} == set(cli_cases.CLASSES)
    check(cli_outcomes(world, tmp_path), at_least=200)


def test_every_bad_api_call_is_a_dynadapt_error(world: Path, tmp_path: Path) -> None:
    check(api_outcomes(world, tmp_path), at_least=150)
