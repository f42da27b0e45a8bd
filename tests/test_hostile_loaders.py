"""Property-based fuzzing of the loaders with hostile input: random bytes, alias bombs, merge
chains and lone surrogates. No exception ever escapes `parse_bytes` or `read_document`, every
finding can be printed in every format, and what the loaders accept means what PyYAML and
the json module say it means."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dpn_action.findings import CODES
from dpn_action.formatters import FORMATS, format_findings
from dpn_action.source import ALIAS_FACTOR, MAX_ALIAS_NODES, Document, parse_bytes, read_document

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def printable_everywhere(doc: Document) -> None:
    """Each finding has a known code, and every format renders and encodes as UTF-8."""
    for f in doc.findings:
        assert f.code in CODES
        assert f.line >= 0 and f.column >= 0
    for fmt in FORMATS:
        format_findings(doc.findings, fmt, tool_version="0").encode("utf-8")


# ------------------------------------------------------------------------ anything at all
@FUZZ
@given(raw=st.binary(max_size=2000), suffix=st.sampled_from([".json", ".yaml", ".yml", ""]))
def test_random_bytes_never_raise(raw: bytes, suffix: str) -> None:
    doc = parse_bytes(raw, f"x{suffix}")
    printable_everywhere(doc)


#: pieces of JSON and YAML, escapes and aliases included, for text that is nearly valid
PIECES = st.sampled_from(
    [
        "{", "}", "[", "]", ",", ":", ": ", "\n", "  ", "- ", '"', "'", "a", "b", "1", "null",
        "&a ", "*a", "&b ", "*b", "<<: ", "? ", "!!str ", "\\ud800", "\\udc00", "\\ud83d\\ude00",
        "\\U0000d800", "\\\\", "\\u", "#", "---\n", "...\n", "|\n", ">\n", "\t", "\u2028",
    ]
)  # fmt: skip


@FUZZ
@given(parts=st.lists(PIECES, max_size=60), suffix=st.sampled_from([".json", ".yaml"]))
def test_text_made_of_json_and_yaml_pieces_never_raises(parts: list[str], suffix: str) -> None:
    doc = parse_bytes("".join(parts).encode("utf-8"), f"x{suffix}")
    printable_everywhere(doc)


@FUZZ
@given(raw=st.binary(max_size=500))
def test_read_document_never_raises(raw: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "bp.yaml"
    path.write_bytes(raw)
    printable_everywhere(read_document(path, "bp.yaml"))


# ------------------------------------------------------------------------------- aliases
@FUZZ
@given(levels=st.integers(1, 12), fan=st.integers(1, 12), scalar=st.booleans())
def test_an_alias_bomb_of_any_shape_is_built_or_refused_never_more(
    levels: int, fan: int, scalar: bool
) -> None:
    first = "lol" if scalar else "[lol, lol]"
    lines = [f"l0: &l0 {first}"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]")
    text = "\n".join(lines) + "\n"

    doc = parse_bytes(text.encode(), "bomb.yaml")

    printable_everywhere(doc)
    node = 1 if scalar else 3
    sizes = [node]
    for _ in range(levels):
        sizes.append(1 + fan * sizes[-1])
    expanded = sum(s - 1 for s in sizes[1:])  # each level's aliases rebuild the level below
    if expanded <= MAX_ALIAS_NODES:
        assert doc.data == yaml.safe_load(text)
    elif expanded > ALIAS_FACTOR * (MAX_ALIAS_NODES + 10 * levels):
        assert [f.code for f in doc.findings] == ["DPN006"]
        assert doc.data is None


@FUZZ
@given(depth=st.integers(1, 40), fan=st.integers(1, 6))
def test_merge_chains_cannot_grow_and_mean_what_yaml_says(depth: int, fan: int) -> None:
    lines = ["m0: &m0 {a: 0, b: 0}"]
    for i in range(1, depth + 1):
        sources = ", ".join([f"*m{i - 1}"] * fan)
        lines.append(f"m{i}: &m{i} {{<<: [{sources}], k{i}: {i}, a: {i}}}")
    text = "\n".join(lines) + "\n"

    doc = parse_bytes(text.encode(), "merge.yaml")

    assert doc.findings == []
    # What YAML's merge means: each level is the one below, then its own keys.
    expected: dict[str, Any] = {"m0": {"a": 0, "b": 0}}
    for i in range(1, depth + 1):
        expected[f"m{i}"] = {**expected[f"m{i - 1}"], f"k{i}": i, "a": i}
    assert doc.data == expected
    if fan**depth <= 5_000:  # PyYAML copies every merged pair: exponential beyond this
        assert doc.data == yaml.safe_load(text)


def test_a_mapping_merged_many_times_is_merged_once() -> None:
    keys = ", ".join(f"k{i}: {i}" for i in range(500))
    text = f"big: &big {{{keys}}}\nm: {{<<: [{', '.join(['*big'] * 2000)}], own: 1}}\n"

    doc = parse_bytes(text.encode(), "merge.yaml")

    assert doc.findings == []
    assert doc.data == yaml.safe_load(text)
    assert len(doc.data["m"]) == 501


SCALARS = st.one_of(st.integers(-5, 5), st.text("abc", max_size=3), st.booleans(), st.none())


@st.composite
def shared_data(draw: st.DrawFn) -> Any:
    """Data whose lists and mappings are shared between places, so dumping it writes anchors
    and aliases."""
    pool: list[Any] = [draw(SCALARS)]
    for _ in range(draw(st.integers(1, 8))):
        picks = draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=4))
        if draw(st.booleans()):
            pool.append([pool[i] for i in picks])
        else:
            pool.append({f"k{n}": pool[i] for n, i in enumerate(picks)})
    return {"root": pool[-1], "all": pool[1:]}


@FUZZ
@given(data=shared_data())
def test_documents_with_anchors_and_aliases_load_as_pyyaml_loads_them(data: Any) -> None:
    text = yaml.safe_dump(data)
    assume(len(text) < 50_000)

    doc = parse_bytes(text.encode(), "shared.yaml")

    assert doc.findings == []
    assert doc.data == yaml.safe_load(text)


# ------------------------------------------------------------------------ lone surrogates
def _escape(cp: int) -> str:
    return f"\\u{cp:04x}"


@FUZZ
@given(
    codepoints=st.lists(
        st.one_of(
            st.integers(0xD800, 0xDFFF), st.integers(0x20, 0x7E), st.integers(0x1F600, 0x1F64F)
        ),
        max_size=8,
    ),
    in_key=st.booleans(),
)
def test_a_json_string_is_accepted_exactly_when_it_is_valid_unicode(
    codepoints: list[int], in_key: bool
) -> None:
    def escaped(cp: int) -> str:
        if cp > 0xFFFF:  # written as its surrogate pair
            v = cp - 0x10000
            return _escape(0xD800 + (v >> 10)) + _escape(0xDC00 + (v & 0x3FF))
        return _escape(cp)

    literal = '"' + "".join(escaped(cp) for cp in codepoints) + '"'
    text = f'{{"k": {{{literal}: 1}}}}' if in_key else f'{{"k": [1, {literal}]}}'

    doc = parse_bytes(text.encode(), "u.json")

    printable_everywhere(doc)
    decoded = json.loads(literal)
    try:
        decoded.encode("utf-8")
    except UnicodeEncodeError:
        assert doc.data is None
        (finding,) = doc.findings
        assert finding.code == "DPN001" and finding.line == 1
        at = finding.column - 1
        assert text[at : at + 2] == "\\u" and 0xD800 <= int(text[at + 2 : at + 6], 16) <= 0xDFFF
    else:
        assert doc.findings == []
        assert doc.data == json.loads(text)


def test_many_lone_surrogates_are_counted_not_listed_one_by_one(tmp_path: Path) -> None:
    text = json.dumps({f"k{i}": "x" for i in range(100)}).replace('"x"', '"\\ud800"')

    doc = parse_bytes(text.encode(), "many.json")

    assert len(doc.findings) == 21
    assert doc.findings[-1].message == "80 more strings have lone surrogate escapes"
