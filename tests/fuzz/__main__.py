"""``python -m tests.fuzz [--json FILE]``: run the fuzz suite's command-line and API parts outside pytest and
print the summary (counts by outcome and by input class)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from tests.fuzz import world as W
from tests.fuzz.harness import report
from tests.fuzz.test_fuzz import api_outcomes, cli_outcomes

parser = argparse.ArgumentParser(prog="python -m tests.fuzz")
parser.add_argument("--json", help="also write the summary to this file")
args = parser.parse_args()
if args.json:
    os.environ["DYNADAPT_FUZZ_SUMMARY"] = args.json
with tempfile.TemporaryDirectory() as tmp:
    world = W.base_world(Path(tmp) / "world")
    outcomes = cli_outcomes(world, Path(tmp) / "cli") + api_outcomes(world, Path(tmp) / "apiw")
print(report(outcomes))
