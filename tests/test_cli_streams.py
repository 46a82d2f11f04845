"""``dynadapt streams``: every named stream one line each, one stream (named or a file) segment by segment,
and bad names and files as one error line with exit code 2; the stream file the documentation shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dynadapt.cli import main
from dynadapt.envs.streams import get_stream, load_stream, stream_names

REPO = Path(__file__).resolve().parent.parent
DOC_STREAM = REPO / "docs" / "methods" / "payload_stream.toml"
DOC_PAGE = REPO / "docs" / "methods" / "labelfree.md"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_streams_lists_every_named_stream_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "streams")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["stream", "family"] and set(lines[1]) <= {"-", " "}
    rows = {line.split()[0]: line for line in lines[2:-1]}
    assert sorted(rows) == stream_names()
    assert "dynadapt streams NAME_OR_FILE" in lines[-1]
    # the figures of the module docstring: 7,200 steps in 36 episodes of 200, 11 switches, of them 6
    # inside an episode in the -mid variant and none in the plain one; the order A B A C B A B A B C A C
    mid = rows["pendulum:recurring-mid"].split("  ")
    cells = [c.strip() for c in mid if c.strip()]
    assert cells[1:] == [
        "pendulum",
        "3 + 3 held out",
        "7200",
        "36 x 200",
        "11 (6)",
        "A B A C B A B A B C A C",
    ]
    assert "11 (0)" in rows["cartpole:recurring"] and "18 x 500" in rows["half_cheetah_cripple:recurring"]
    assert re.search(r"\b500\s+5 x 100\s+3 \(1\)\s+A B A C$", rows["pendulum:tiny"])


def test_streams_describes_a_named_stream(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "streams", "pendulum:tiny")
    assert code == 0 and err == ""
    assert out.rstrip("\n") == get_stream("pendulum:tiny").describe()
    lines = out.splitlines()
    assert lines[0].startswith("stream pendulum:tiny: family pendulum, 3 situations, 4 segments, 500 steps")
    assert "mid-episode (step 50 of episode 1)" in lines[2] and lines[2].split()[:2] == ["150-299", "B"]
    assert lines[-1].startswith("  held out: H1 (length=0.7)")


def test_the_documented_stream_file_is_described_and_its_json_twin_is_the_same_stream(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(capsys, "streams", str(DOC_STREAM))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == (
        "stream payload: family pendulum, 3 situations, 5 segments, 1000 steps, 10 episodes of 100"
    )
    where = [line.split("  ")[-1] for line in lines[1:6]]
    assert where == [
        "start",
        "mid-episode (step 50 of episode 2)",
        "at the start of episode 4",
        "at the start of episode 6",
        "mid-episode (step 50 of episode 8)",
    ]
    assert lines[-1] == "  held out: medium (mass=1.5)"
    stream = load_stream(DOC_STREAM)
    assert stream.switch_steps() == (250, 400, 600, 850) and stream.recurrence_steps() == (400, 850)
    # the page's JSON block is the same stream as the file the page includes
    page = DOC_PAGE.read_text()
    assert '--8<-- "docs/methods/payload_stream.toml"' in page
    blocks = re.findall(r"```json\n(.*?)```", page, flags=re.DOTALL)
    assert len(blocks) == 1
    twin = tmp_path / "payload.json"
    twin.write_text(blocks[0])
    assert json.loads(blocks[0])["schedule"][0] == {"situation": "light", "steps": 250}
    assert load_stream(twin) == stream


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["streams", "pendulum:nope"], "unknown stream 'pendulum:nope' (did you mean 'pendulum:tiny'?)"),
        (["streams", "pendulum"], "unknown stream 'pendulum'"),
        (["streams", "{tmp}/missing.toml"], "missing.toml' not found"),
        (["streams", "{tmp}"], "must end in .toml or .json"),
        (["streams", "{tmp}/bad.toml"], "schedule entry 2: unknown situation 'Z'; known: A, B"),
        (["streams", "{tmp}/reward.toml"], "changes the reward function of family 'cartpole'"),
        (["streams", "pendulum:tiny", "extra"], "unrecognised arguments: extra"),
    ],
)
def test_bad_streams_are_one_error_line_with_exit_code_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "bad.toml").write_text(
        'family = "pendulum"\nschedule = "A:100 Z:100"\n[situations]\nA = {}\nB = { mass = 2.0 }\n'
    )
    (tmp_path / "reward.toml").write_text(
        'family = "cartpole"\nschedule = "A:100 B:100"\n[situations]\nA = {}\nB = { pole_length = 1.0 }\n'
    )
    code, out, err = run_cli(capsys, *(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dynadapt: error: "), err
    assert message in lines[0]


def test_the_help_names_the_streams_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "streams" in out and "dynadapt streams pendulum:recurring-mid" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["streams", "--help"])
    assert exit_info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "usage: dynadapt streams [-h] [stream]" in help_text
    assert "a stream name (e.g. pendulum:recurring-mid) or a .toml/.json stream file" in help_text
