"""Previews, plan hashes, findings and exports stay byte for byte what they were: the
commands of `tests/golden_cases.py` print exactly what `tests/fixtures/golden/` holds.

Each case is run twice in the same directory, so that whatever a first run leaves behind
(the lint cache of other blueprints' names) cannot change what a second run prints.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from golden_cases import CASES, outputs, read_golden


def _first_difference(want: str, got: str) -> str:
    diff = difflib.unified_diff(
        want.splitlines(), got.splitlines(), "golden", "now", n=2, lineterm=""
    )
    lines = list(diff)
    return "\n".join(lines[:60]) + ("\n..." if len(lines) > 60 else "")


@pytest.mark.parametrize("case", sorted(CASES))
def test_output_is_byte_for_byte_the_golden_one(case: str, tmp_path: Path) -> None:
    want = read_golden(case)
    first = outputs(case, tmp_path / "run")
    assert first == want, _first_difference(want, first)
    again = outputs(case, tmp_path / "run", lay_out=False)
    assert again == want, _first_difference(want, again)


def test_plan_hashes_are_pinned() -> None:
    """The golden outputs carry the plan hashes (a change of hash is a change of the
    operations every approved pull request was checked against)."""
    hashes = [
        line
        for case in CASES
        for line in read_golden(case).splitlines()
        if line.startswith('  "plan_hash": "')
    ]
    assert len(hashes) >= 10
    assert all(len(h.split('"')[3]) == 64 for h in hashes)
