"""Every result file in ``benchmarks/results/`` carries the exact command that
made it, and that command runs a script that is still in ``benchmarks/``."""

import json
import re
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
RESULTS = sorted((BENCHMARKS / "results").glob("*.json"))
# `python benchmarks/NAME.py ...`, possibly behind `nice -n N`, and several
# commands joined by `;` or `&&` when one file gathers several runs.
SCRIPT = re.compile(r"^(?:nice -n \d+ )?python benchmarks/(\w+\.py)(?: |$)")


def test_there_are_results_to_check():
    assert len(RESULTS) > 10


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_result_file_names_the_command_that_made_it(path):
    result = json.loads(path.read_text())
    assert isinstance(result, dict) and isinstance(result.get("command"), str), (
        f"{path.name}: no top-level 'command' (the exact command that wrote it)"
    )
    for command in re.split(r"\s*(?:;|&&)\s*", result["command"].strip()):
        match = SCRIPT.match(command)
        assert match, f"{path.name}: {command!r} does not run a benchmarks/ script"
        assert (BENCHMARKS / match[1]).exists(), (
            f"{path.name}: {match[1]} is no longer in benchmarks/"
        )
