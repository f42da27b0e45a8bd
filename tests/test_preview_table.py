"""`dpn plan preview` as a table: fits the width it is given (`COLUMNS`, or the terminal's),
wraps on word boundaries and never inside a name, falls back to a list when too narrow, pads
nothing at the end of a line, and prints nothing before the error of a file it cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import dpn

from dpn_action.cli.table import Column, render

REPO = Path(__file__).resolve().parent.parent
BLUEPRINT = "examples/blueprints/dev.json"


@pytest.fixture(autouse=True)
def _at_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("COLUMNS", raising=False)


def names() -> list[str]:
    doc = json.loads(dpn("plan", "preview", "--format", "json", BLUEPRINT).stdout)
    return [r["full_name"] for r in doc["resources"]]


def table(monkeypatch: pytest.MonkeyPatch, width: int | None) -> list[str]:
    if width is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", str(width))
    result = dpn("plan", "preview", BLUEPRINT)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.mark.parametrize("width", [40, 80, 200, None])
def test_every_name_is_shown_whole_and_nothing_pads_a_line(
    monkeypatch: pytest.MonkeyPatch, width: int | None
) -> None:
    lines = table(monkeypatch, width)
    words = {w.rstrip(",") for line in lines for w in line.split()}
    assert set(names()) <= words
    assert [line for line in lines if line != line.rstrip()] == []


@pytest.mark.parametrize("width", [40, 80, 200])
def test_lines_fit_the_width_but_for_a_word_that_cannot_be_cut(
    monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    lines = table(monkeypatch, width)
    for line in lines:
        if len(line) > width:
            # only one unbreakable word (a name) reaches past the edge
            before_it = line.rstrip().rsplit(" ", 1)
            assert len(before_it) == 1 or len(before_it[0]) <= width, line


def test_at_80_columns_it_is_a_table_with_dependencies_below_their_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = table(monkeypatch, 80)
    assert lines[0].split() == ["type", "name", "env"]
    row = next(
        i for i, line in enumerate(lines) if "dataplatform-dev-crawler-sales_bronze-s3" in line
    )
    assert lines[row].startswith("Glue crawler ")
    assert lines[row + 1].strip().startswith("depends on: dataplatform_sales_bronze_dev,")
    assert max(len(line) for line in lines[:-1]) <= 80


def test_at_40_columns_each_resource_is_a_short_list(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = table(monkeypatch, 40)
    assert lines[0] == "dataplatform-landing-raw-dev-use1"
    assert lines[1:3] == ["  type        S3 bucket", "  env         dev"]
    assert lines[3] == ""


def test_at_200_columns_each_resource_is_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = table(monkeypatch, 200)
    assert lines[0].split() == ["type", "name", "env", "depends", "on"]
    assert all(len(line) <= 200 for line in lines)
    assert lines[1].split() == ["S3", "bucket", "dataplatform-landing-raw-dev-use1", "dev"]


def test_piped_without_columns_one_line_per_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = table(monkeypatch, None)
    assert len(lines) == len(names()) + 2  # the header, each resource, the summary
    assert lines[-1].startswith(f"{len(names())} resources, plan ")
    assert max(len(line) for line in lines) < 240  # no padding to a made-up width


def test_columns_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    assert table(monkeypatch, 80) != table(monkeypatch, 200)
    assert table(monkeypatch, 200) != table(monkeypatch, None)


def test_a_missing_file_prints_nothing_before_its_error() -> None:
    result = dpn("plan", "preview", "missing.json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("missing.json: DPN003 cannot read file")


# ------------------------------------------------------------------------------ the layout
COLUMNS = [Column("kind", wrap=True), Column("name"), Column("notes", wrap=True, below=True)]
ROWS = [["a long kind", "name-one", "first note, second note"], ["k", "n2", ""]]


def test_wrapping_columns_wrap_on_spaces_only() -> None:
    assert render(COLUMNS, ROWS, 30) == [
        "kind    name      notes",
        "a long  name-one  first note,",
        "kind              second note",
        "k       n2",
    ]


def test_a_column_marked_below_moves_under_its_row_then_a_list() -> None:
    assert render(COLUMNS, ROWS, 20) == [
        "kind        name",
        "a long      name-one",
        "kind",
        "            notes: first",
        "                   note,",
        "                   second",
        "                   note",
        "k           n2",
    ]
    assert render(COLUMNS, ROWS, 10) == [
        "name-one",
        "  kind   a",
        "         long",
        "         kind",
        "  notes  first",
        "         note,",
        "         second",
        "         note",
        "",
        "n2",
        "  kind   k",
    ]


def test_with_no_width_nothing_wraps() -> None:
    assert render(COLUMNS, ROWS, None) == [
        "kind         name      notes",
        "a long kind  name-one  first note, second note",
        "k            n2",
    ]
