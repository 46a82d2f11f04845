"""README.md's results block is what ``benchmarks/readme.py`` renders from ``benchmarks/results/*.json``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.bench_modules import load

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"


readme = load("readme")


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A copy of the committed results files to alter."""
    out = tmp_path / "results"
    shutil.copytree(RESULTS, out)
    return out


def test_readme_block_is_rendered_from_the_results() -> None:
    _, block, _ = readme.split((REPO / "README.md").read_text())
    rendered = readme.render()
    assert block == rendered, "README.md is out of date: run `python benchmarks/readme.py` (see --check)"


def test_every_results_file_has_an_extractor_and_a_row() -> None:
    names = {p.name for p in RESULTS.glob("*.json") if not readme.study_file(p.name)}
    assert names == set(readme.EXTRACTORS)
    assert sorted(f for row in readme.ROWS for f in row.files) == sorted(names)


def test_a_results_file_without_an_extractor_fails_loudly(results: Path) -> None:
    (results / "newbench.json").write_text(json.dumps({"benchmark": "new", "claims": {}}))
    with pytest.raises(readme.ReadmeError, match=r"no extractor for newbench\.json"):
        readme.render(results)
    assert readme.main(["--check", "--results", str(results)]) == 2


def test_a_missing_results_file_fails_loudly(results: Path) -> None:
    (results / "sweep_speedup.json").unlink()
    with pytest.raises(readme.ReadmeError, match=r"sweep_speedup\.json not in"):
        readme.render(results)


def test_a_regenerated_file_needs_its_note_reviewed(results: Path) -> None:
    path = results / "meta_pendulum.json"
    data = json.loads(path.read_text())
    data["methods"]["grbal"]["return_test"]["mean"] = -300.0
    path.write_text(json.dumps(data))
    with pytest.raises(readme.ReadmeError, match=r"meta_pendulum\.json changed since its note"):
        readme.render(results)


def test_a_figure_edited_by_hand_is_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (REPO / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `benchmarks/continual.py` |"))
    result = row.rsplit(" | ", 1)[1]
    figure = re.search(r"\d+", result)
    assert figure is not None
    edited_row = row.replace(result, result.replace(figure[0], str(int(figure[0]) + 1), 1))
    edited = tmp_path / "README.md"
    edited.write_text(text.replace(row, edited_row))
    assert readme.main(["--check", "--readme", str(edited)]) == 1
    out = capsys.readouterr().out
    assert f"-{edited_row}" in out and f"+{row}" in out
    # without --check the block is rewritten and nothing outside it changes
    assert readme.main(["--readme", str(edited)]) == 0
    assert edited.read_text() == text


def test_the_block_needs_both_markers(tmp_path: Path) -> None:
    broken = tmp_path / "README.md"
    broken.write_text((REPO / "README.md").read_text().replace(readme.END, ""))
    assert readme.main(["--check", "--readme", str(broken)]) == 2


def test_claims_are_marked_as_the_file_records_them() -> None:
    data = json.loads((RESULTS / "continual_cartpole.json").read_text())
    claims = {c.text: c.passed for c in readme.continual_study(data).claims}
    assert claims == {c["claim"]: c["pass"] for c in data["claims"].values()}
    data["claims"]["hypercrl_beats_coreset_ewc_si"]["pass"] = False
    rendered = [c.render() for c in readme.continual_study(data).claims]
    assert any(r.startswith("HyperCRL's final average return") and "**not met**" in r for r in rendered)


def test_every_seed_is_counted() -> None:
    data = json.loads((RESULTS / "mbrl_pendulum.json").read_text())
    data["presets"]["pets-pendulum"]["episodes_to_target"] = [6, None, 4]
    assert "episodes 6, –, 4 (2 of 3 seeds)" in readme._mbrl(data).text
    mbpo = json.loads((RESULTS / "mbpo_pendulum_seeds34.json").read_text())
    extract = readme._mbpo(mbpo)
    assert "seeds 3, 4" in extract.text
    assert extract.claims[0].passed is False and extract.claims[0].detail == "holds on 1 of 2 seeds"


def _protocol_file() -> dict[str, Any]:
    def method(label: str, values: list[float]) -> dict[str, Any]:
        mean = sum(values) / len(values)
        return {
            "method": label,
            "kind": "continual",
            "seeds": list(range(len(values))),
            "stats": {"final_average_return": {"n": len(values), "mean": mean, "std": 1.0, "ci95": 1.5}},
            "iqm": {"final_average_return": {"estimate": mean, "low": mean - 2, "high": mean + 2}},
            "values": {"final_average_return": values},
        }

    return {
        "benchmark": "benchmarks/protocol.py continual_cartpole",
        "protocol": {"file": "benchmarks/protocol.toml", "commit": "0123456789abcdef", **_protocol()},
        "extra_overrides": [],
        "tuning": {"objective": "acc", "table": {}, "chosen": {"hypercrl": [["strategy.beta", "0.5"]]}},
        "compare": {
            "figures": ["final_average_return"],
            "methods": [
                method("hypercrl", [170.0, 171.0, 172.0, 173.0, 174.0]),
                method("finetune", [40.0, 50.0]),
            ],
        },
        "runs": {},
        "finished": "2026-12-01 10:00:00",
    }


def _protocol() -> dict[str, Any]:
    import tomllib

    with open(readme.PROTOCOL, "rb") as f:
        return tomllib.load(f)


def test_results_under_the_protocol_are_tabled(results: Path) -> None:
    for reported in results.glob("protocol_*.json"):
        if not reported.name.endswith("_tuning.json"):
            reported.unlink()
    assert "No reporting run under the protocol has been made yet." in readme.render(results)
    (results / "protocol_continual_cartpole.json").write_text(json.dumps(_protocol_file()))
    block = readme.render(results)
    assert "No reporting run under the protocol has been made yet." not in block
    assert "`protocol_continual_cartpole.json` (protocol commit 0123456789ab" in block
    rows = [line for line in block.splitlines() if line.startswith("| HyperCRL |")]
    assert rows == [
        "| HyperCRL | strategy.beta=0.5 | 5 of 5 seeds | 172 ± 1.5 (170, 171, 172, 173, 174) "
        "| 172 [170, 174] | – | – | – | – | – | – |"  # no BWT, retention or error growth in this file
    ]
    assert "| finetune | – | 2 of 5 seeds | 45 ± 1.5 (40, 50) |" in block


def test_wrapped_lines_never_start_a_markdown_block() -> None:
    long = "a" * (readme.WIDTH - 3)
    assert readme.wrap(f"{long} b >= c", "- ", "  ") == [f"- {long}", "  b >= c"]
    assert readme.wrap(f"{long} b - c") == [long, "b - c"]
    _, block, _ = readme.split((REPO / "README.md").read_text())
    paragraph_lines = [line for line in block.splitlines() if line.startswith("  ")]
    assert paragraph_lines and not any(readme.BLOCK_START.match(line) for line in paragraph_lines)


def test_the_first_task_claim_shows_signed_gaps_and_no_markdown_reference_link() -> None:
    claim = readme.protocol_claim({
        "claim": "hypercrl's R[0][0] within 10% of single's on every seed",
        "hypercrl": {"0": 90.0, "1": 120.0}, "single": {"0": 100.0, "1": 100.0},
        "relative_gap": {"0": 0.1, "1": 0.2}, "within": 1, "seeds": 2, "pass": False,
    })  # fmt: skip
    text = claim.render()
    # [0][0] outside a code span is a Markdown reference link (mkdocs --strict fails on it)
    assert "`R[0][0]`" in text and "R[0][0] " not in text.replace("`R[0][0]`", "")
    assert "HyperCRL relative to single -10%, +20%" in text and "**not met**" in text


def test_results_of_another_protocol_file_get_their_own_section(results: Path) -> None:
    data = json.loads((results / "protocol_meta_pendulum.json").read_text())
    data["protocol"] |= {
        "file": "benchmarks/protocol_papers.toml",
        "description": "The papers' tasks, declared.",
    }
    data["benchmark"] = "benchmarks/protocol.py meta_half_cheetah_cripple"
    (results / "protocol_papers_meta_half_cheetah_cripple.json").write_text(json.dumps(data))
    text = readme.render(results)
    own = text.index("### Under `benchmarks/protocol_papers.toml`")
    assert (
        text.index("`protocol_meta_pendulum.json`")
        < own
        < text.index("`protocol_papers_meta_half_cheetah_cripple.json`")
    )
    assert "The papers' tasks, declared." in text[own:]
    assert "Declared claims (protocol_papers.toml;" in text[own:]


labelfree = load("labelfree")


def _labelfree_run(seed: int, ret: float, nmi: float | None) -> dict[str, Any]:
    ident = {} if nmi is None else {"nmi": nmi, "library_ratio": 1.0, "median_delay": 20, "recall_rate": 1.0}
    return {"seed": seed, "average_return": ret, "pred_error": 0.5, "pred_error_held_out": 1.0,
            "pred_error_by_situation": [0.5], "false_switches_per_10k": None if nmi is None else 3.0,
            **ident}  # fmt: skip


def test_the_label_free_study_is_shown_stage_by_stage(results: Path) -> None:
    for stale in results.glob("labelfree*.json"):
        if readme.LABELFREE_STUDY.match(stale.name):
            stale.unlink()
    assert (
        "pendulum: not run yet (`python benchmarks/labelfree.py tune --family pendulum`)."
        in readme.render(results)
    )
    table = {"hnet": [{"candidate": "hnet.identify.llr_threshold=10", "mean": -300.0},
                      {"candidate": "hnet.identify.llr_threshold=20", "mean": -250.0}],
             "grbal": [{"candidate": "grbal.meta.inner_lr=0.01", "mean": -400.0}]}  # fmt: skip
    (results / "labelfree_pendulum_tuning.json").write_text(json.dumps({"table": table}))
    text = " ".join(readme.render(results).split())  # wrapped paragraphs joined
    assert "chosen: hnet hnet.identify.llr_threshold=20; GrBAL grbal.meta.inner_lr=0.01" in text
    assert "reporting runs pending" in text
    runs = {
        "hnet": [_labelfree_run(0, -200.0, 0.8), _labelfree_run(1, -220.0, float("nan"))],
        "grbal": [_labelfree_run(0, -400.0, None), _labelfree_run(1, -380.0, None)],
    }
    claims = labelfree.check_claims(
        {"at_least": [["hnet", "nmi", 0.9]], "better": [["hnet", "grbal", "average_return"]]}, runs
    )
    report = {
        "protocol": {"commit": "0123456789abcdef"},
        "tuning": {"table": table, "chosen": {"hnet": [["hnet.identify.llr_threshold", "20"]], "grbal": []}},
        "streams": {"named": "pendulum:recurring-mid"},
        "runs": {"named": runs},
        "claims": {"named": claims},
        "finished": "2026-12-01 04:00:00",
    }
    (results / "labelfree_pendulum.json").write_text(json.dumps(report))
    text = readme.render(results)
    flat = " ".join(text.split())
    assert "tuning finished" not in flat.split("pendulum.json")[-1].split("cart-pole")[0]
    assert "On the presets' stream (`pendulum:recurring-mid`)" in flat
    own = text[text.index("`labelfree_pendulum.json`") :]
    rows = [line for line in own.splitlines() if line.startswith(("| hnet |", "| GrBAL |"))]
    assert rows[0].startswith(
        "| hnet | hnet.identify.llr_threshold=20 | -210 (-200, -220) | 0.80 (0.80, –) |"
    )
    assert rows[1].startswith("| GrBAL | – | -390 (-400, -380) | – | – |")  # no identification figures
    assert "hnet: nmi >= 0.9 on every seed: **not met** (held on 0 of 2 seeds)" in flat
    assert "higher on 2 of 2 seeds" in flat
    # the second protocol's files go to its own section
    (results / "labelfree2_cartpole_tuning.json").write_text(json.dumps({"table": table}))
    text = " ".join(readme.render(results).split())
    second = text[text.index("### Under `benchmarks/protocol_labelfree2.toml`") :]
    assert "cart-pole: tuning finished (`labelfree2_cartpole_tuning.json`" in second
    command = "python benchmarks/labelfree.py tune --family pendulum --protocol"
    assert f"pendulum: not run yet (`{command}" in second
    assert "labelfree2_cartpole_tuning.json" not in text[: text.index("protocol_labelfree2.toml")]
    # a protocol without a tuning stage starts at report; a file with a stream still running says so
    third = text[text.index("### Under `benchmarks/protocol_labelfree3.toml`") :]
    assert "(`python benchmarks/labelfree.py report --family half_cheetah_cripple --protocol" in third
    partial = {**report, "pending": ["held_out"]}
    (results / "labelfree3_half_cheetah_cripple.json").write_text(json.dumps(partial))
    third = " ".join(readme.render(results).split())
    third = third[third.index("### Under `benchmarks/protocol_labelfree3.toml`") :]
    assert "On the presets' stream (`pendulum:recurring-mid`)" in third
    assert "Not reported yet: the held-out stream (its runs had not finished" in third
    (results / "labelfree3_half_cheetah_cripple.json").unlink()
    for stray in ("labelfree_walker.json", "labelfree7_pendulum.json"):
        (results / stray).write_text(json.dumps(report))
        with pytest.raises(readme.ReadmeError, match="declares this prefix and family"):
            readme.render(results)
        (results / stray).unlink()
