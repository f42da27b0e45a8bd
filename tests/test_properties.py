"""Properties of the loaders and the name engine, checked on generated input.

(a) no input, however broken, makes a loader raise: problems are findings with positions;
(b) mutated blueprints go through the whole analysis without raising;
(c) a name the engine returns without an error passes its type's cloud rules;
(d) shortening with a hash stays within the limit, is deterministic and keeps kept values;
(e) the JSON position index points every node at its own text.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpn_action.analysis import analyse
from dpn_action.blueprint.expand import load_blueprint
from dpn_action.findings import CODES, Finding, Severity, join_pointer
from dpn_action.naming.catalogue import CATALOGUE, COLLECTIONS
from dpn_action.naming.config import NamingConfig, load_config
from dpn_action.naming.engine import Sourced, make_name, measure
from dpn_action.naming.rules import check
from dpn_action.source import Document, parse_bytes, parse_text

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FEW = settings(SETTINGS, max_examples=40)

TYPE_KEYS = sorted(CATALOGUE)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


def assert_well_formed(findings: list[Finding]) -> None:
    for f in findings:
        assert f.code in CODES, f
        assert f.line >= 0, f
        assert f.column >= 0, f
        assert f.message, f
        assert isinstance(f.severity, Severity)


# --------------------------------------------------------------------------------------------
# generators

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

#: fragments that make broken input interesting: JSON and YAML syntax, BOMs, bad UTF-8
FRAGMENTS = [
    b"{", b"}", b"[", b"]", b":", b",", b'"', b"\\", b"\n", b"  ", b"- ", b"---\n", b"&a ", b"*a",
    b"<<: ", b"!!python/object ", b"? ", b"|\n", b"#", b"\xef\xbb\xbf", b"\xff", b"\xc3",
    b"\x00", b"true", b"1e999", b"NaN", b"version: ", b'"resources"', b"metadata:\n  ",
    b"\t", b"'", b"%YAML 1.2\n", b"!!binary ", b"~",
]  # fmt: skip


@st.composite
def broken_bytes(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes, or a real document cut and spliced with syntax fragments."""
    kind = draw(st.sampled_from(["raw", "json", "yaml", "spliced"]))
    if kind == "raw":
        return draw(st.binary(max_size=200))
    value = draw(json_values)
    if kind == "json":
        text = json.dumps(value, indent=draw(st.sampled_from([None, 1, 2])))
    else:
        text = yaml.safe_dump(value, allow_unicode=draw(st.booleans()))
    raw = text.encode("utf-8")
    if kind == "spliced" or draw(st.booleans()):
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(raw)))
            cut = draw(st.integers(0, 3))
            raw = raw[:at] + draw(st.sampled_from(FRAGMENTS)) + raw[at + cut :]
    return raw


# --------------------------------------------------------------------------------------------
# (a) loaders never raise


@SETTINGS
@given(raw=broken_bytes(), name=st.sampled_from(["bp.json", "bp.yaml", "bp.yml", "bp.txt"]))
def test_parse_bytes_never_raises(raw: bytes, name: str) -> None:
    doc = parse_bytes(raw, name)
    assert_well_formed(doc.findings)
    assert doc.kind in ("json", "yaml")
    if doc.data is not None:
        # any pointer of a parsed document has a position (its own or an ancestor's)
        line, col = doc.position("/resources/aws/s3_buckets/0")
        assert line >= 1
        assert col >= 1


@pytest.mark.parametrize(
    "raw", [b'{"\\x1F": null\n', b"}null\n"], ids=["bad-escape", "stray-brace"]
)
def test_position_in_an_unparseable_json_document_does_not_raise(raw: bytes) -> None:
    doc = parse_bytes(raw, "bp.json")
    assert [f.code for f in doc.findings] == ["DPN001"]
    assert doc.position("/resources") == (1, 1)


@SETTINGS
@given(raw=broken_bytes(), suffix=st.sampled_from([".json", ".yaml"]))
def test_loading_broken_blueprints_and_configs_never_raises(
    workdir: Path, raw: bytes, suffix: str
) -> None:
    path = workdir / f"broken{suffix}"
    path.write_bytes(raw)
    _, findings = load_blueprint(path)
    assert_well_formed(findings)
    cfg, findings = load_config(path, path)
    assert_well_formed(findings)
    assert isinstance(cfg, NamingConfig)


_READ = (
    "import sys\n"
    "from dpn_action.source import read_document\n"
    "print(*[f.code for f in read_document(sys.argv[1]).findings])\n"
)


@pytest.mark.parametrize(
    "suffix",
    [
        ".json",
        ".yaml",
    ],
)
def test_deeply_nested_document_is_a_finding_not_a_crash(tmp_path: Path, suffix: str) -> None:
    depth = 100_000
    if suffix == ".json":
        text = '{"version": "1.0", "metadata": ' + "[" * depth + "]" * depth + "}"
    else:
        text = 'version: "1.0"\nmetadata: ' + "[" * depth + "]" * depth + "\n"
    path = write(tmp_path / f"deep{suffix}", text)
    # in a child process: a crash of the interpreter must not take the test run with it
    proc = subprocess.run(
        [sys.executable, "-c", _READ, str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.split() == ["DPN001"]


@SETTINGS
@given(value=json_values, suffix=st.sampled_from([".json", ".yaml"]))
def test_well_formed_documents_of_any_shape_load_without_raising(
    workdir: Path, value: Any, suffix: str
) -> None:
    text = json.dumps(value) if suffix == ".json" else yaml.safe_dump(value, allow_unicode=True)
    path = write(workdir / f"shape{suffix}", text)
    _, findings = load_blueprint(path)
    assert_well_formed(findings)
    _, findings = load_config(path, path)
    assert_well_formed(findings)


# --------------------------------------------------------------------------------------------
# (b) mutated blueprints through the whole analysis

WORDS = ["sales", "raw", "bronze", "etl", "orders", "daily", "main", "shared", "landing"]


def _entry(key: str, draw: st.DrawFn) -> dict[str, Any]:
    t = CATALOGUE[key]
    entry: dict[str, Any] = {}
    for var in t.placeholders():
        if var not in ("project", "environment", "region_short"):
            entry[var] = draw(st.sampled_from(WORDS))
    if draw(st.booleans()):
        entry["id"] = f"{key}-{draw(st.integers(0, 3))}"
    for ref, target in t.refs.items():
        if ref == t.parent_ref or draw(st.booleans()):
            entry[ref] = f"{target}-{draw(st.integers(0, 3))}"
    return entry


@st.composite
def small_blueprints(draw: st.DrawFn) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for path, t in COLLECTIONS.items():
        if draw(st.integers(0, 3)) != 0:
            continue
        node = resources
        for part in path[:-1]:
            node = node.setdefault(part, {})
        entries = [_entry(t.key, draw) for _ in range(draw(st.integers(1, 2)))]
        if t.key == "dbx_catalog":
            for c in entries:
                c["schemas"] = [
                    {**_entry("dbx_schema", draw), "tables": [_entry("dbx_table", draw)]}
                ]
        node[path[-1]] = entries
    bp: dict[str, Any] = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": "dataplatform", "region": "us-east-1"},
        "resources": resources,
    }
    if draw(st.booleans()):
        bp["scope"] = {
            "mode": draw(st.sampled_from(["include", "exclude"])),
            "patterns": draw(st.lists(st.sampled_from(["aws_*", "dbx_*", "*table*"]), max_size=2)),
        }
    return bp


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*prefix, i)))
    return out


replacements = (
    json_values
    | st.text(st.characters(codec="utf-8"), max_size=80)
    | st.sampled_from(["", " ", "xn--a", "a" * 300, "é" * 200, "Data Platform", "-", "/", "."])
)


@st.composite
def mutated_blueprints(draw: st.DrawFn) -> dict[str, Any]:
    bp = copy.deepcopy(draw(small_blueprints()))
    for _ in range(draw(st.integers(1, 6))):
        paths = _paths(bp)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = bp
        for token in path[:-1]:
            parent = parent[token]
        last = path[-1]
        if draw(st.booleans()):
            del parent[last]
        else:
            parent[last] = draw(replacements)
    return bp


@SETTINGS
@given(bp=small_blueprints())
def test_generated_blueprints_analyse_cleanly_or_with_findings(workdir: Path, bp: Any) -> None:
    path = write(workdir / "generated.json", json.dumps(bp))
    a = analyse(NamingConfig(), [path])
    assert_well_formed(a.findings)
    # the generated blueprint is structurally valid: only naming and reference problems
    assert not [f for f in a.findings if f.code in ("DPN001", "DPN010", "DPN011", "DPN012")]


@SETTINGS
@given(bp=mutated_blueprints(), as_yaml=st.booleans())
def test_mutated_blueprints_never_make_the_analysis_raise(
    workdir: Path, bp: Any, as_yaml: bool
) -> None:
    if as_yaml:
        path = write(workdir / "mutated.yaml", yaml.safe_dump(bp, allow_unicode=True))
    else:
        path = write(workdir / "mutated.json", json.dumps(bp, indent=1))
    # the same blueprint again as context: every name clashes with its twin there
    twin = write(workdir / "twin.json", json.dumps(bp))
    a = analyse(NamingConfig(), [path], context=[twin])
    assert_well_formed(a.findings)
    for r in a.resources:
        if r.name is not None:
            assert isinstance(r.name, str)


# --------------------------------------------------------------------------------------------
# (c) what the engine returns without an error passes the cloud rules

value_text = st.sampled_from(WORDS) | st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20
)


@SETTINGS
@given(data=st.data())
def test_name_without_errors_passes_its_cloud_rules(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(TYPE_KEYS), label="type")
    t = CATALOGUE[key]
    values: dict[str, str] = {}
    for var in sorted({*t.placeholders(), "region"} - {"region_short"}):
        if data.draw(st.integers(0, 9), label=f"has {var}") > 0:
            values[var] = data.draw(value_text, label=var)
    props = {"fifo": data.draw(st.booleans(), label="fifo")} if t.fifo_suffix else {}
    explicit = data.draw(st.none() | value_text, label="explicit")
    user_max = data.draw(st.none() | st.integers(1, min(t.max_length or 200, 200)), label="max")
    cfg = NamingConfig(max_length={key: user_max} if user_max else {})
    res = make_name(
        t,
        {k: Sourced(v, "test") for k, v in values.items()},
        cfg,
        explicit=explicit,
        props=props,
        on_too_long=data.draw(st.sampled_from([None, "error", "hash"]), label="on_too_long"),
    )
    errors = [i for i in res.issues if i.is_error]
    if not errors:
        assert res.name is not None
        assert [v for v in check(t.rules, res.name, props) if v.rule.hard] == []
        if user_max is not None:
            assert measure(res.name, t.length_unit) <= user_max
    if res.name is None:
        assert any(i.code == "DPN030" for i in errors)
    if explicit is not None:
        assert res.name == explicit


@SETTINGS
@given(
    key=st.sampled_from(TYPE_KEYS),
    # 'sthree' as the first S3 value would make the reserved prefix 'sthree-'
    words=st.lists(st.text(ALNUM, min_size=1, max_size=12).filter(lambda w: w != "sthree")),
)
def test_values_in_the_type_alphabet_make_valid_names(key: str, words: list[str]) -> None:
    t = CATALOGUE[key]
    values = {}
    for i, var in enumerate(sorted({*t.placeholders(), "region"} - {"region_short"})):
        values[var] = Sourced(words[i] if i < len(words) else "x", "test")
    values["region_short"] = Sourced("use1", "test")
    res = make_name(t, values, NamingConfig())
    assert res.name is not None
    over = t.max_length is not None and measure(res.name, t.length_unit) > t.max_length
    assert [i.code for i in res.issues] == (["DPN101"] if over else [])


# --------------------------------------------------------------------------------------------
# (d) hash fit

long_words = st.text(ALNUM, min_size=1, max_size=30)


@pytest.mark.parametrize("key", TYPE_KEYS)
@FEW
@given(data=st.data())
def test_hash_fit_is_within_the_limit_deterministic_and_keeps_kept_values(
    key: str, data: st.DataObject
) -> None:
    t = CATALOGUE[key]
    cloud = t.max_length
    limit = data.draw(st.integers(24, min(cloud or 120, 120)), label="limit")
    cfg = NamingConfig(max_length={key: limit})
    names = sorted(set(t.placeholders()) - {"region_short"})
    values = {v: data.draw(long_words, label=v) for v in names}
    values["region_short"] = "use1"
    # one value alone is over the limit, so every example needs shortening
    too_long = data.draw(st.sampled_from(names), label="too_long")
    values[too_long] = data.draw(st.text(ALNUM, min_size=limit, max_size=limit + 50), label="long")
    others = [v for v in names if v != too_long]
    keep = frozenset(
        data.draw(st.lists(st.sampled_from(others), max_size=2), label="keep") if others else ()
    )
    props = {"fifo": data.draw(st.booleans(), label="fifo")} if t.fifo_suffix else {}

    def once() -> Any:
        sourced = {k: Sourced(v, "test") for k, v in values.items()}
        return make_name(t, sourced, cfg, props=props, on_too_long="hash", keep=keep)

    first, second = once(), once()
    assert first.name == second.name
    assert first.name is not None
    issues = [i.code for i in first.issues]
    if any("without cutting a kept component" in i.message for i in first.issues):
        assert "DPN101" in issues
        return
    assert measure(first.name, t.length_unit) <= limit
    assert issues == ["DPN042"]
    for var in keep:
        assert values[var] in first.name
    if props.get("fifo"):
        assert first.name.endswith(".fifo")


# --------------------------------------------------------------------------------------------
# (e) positions from the JSON scanner


def _leaves(value: Any, pointer: str = "") -> list[tuple[str, Any]]:
    out = [(pointer, value)]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_leaves(v, join_pointer(pointer, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_leaves(v, join_pointer(pointer, i)))
    return out


def _offset(text: str, line: int, col: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + col - 1


json_docs = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=6) | st.sampled_from(["a/b", "~0", "~1", "", " "]), inner, max_size=4
        )
    ),
    max_leaves=25,
)


@SETTINGS
@given(
    value=json_docs,
    indent=st.sampled_from([None, 0, 1, 2, "\t"]),
    ascii_only=st.booleans(),
    compact=st.booleans(),
)
def test_json_positions_point_at_each_node(
    value: Any, indent: Any, ascii_only: bool, compact: bool
) -> None:
    separators = (",", ":") if compact else None
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only, separators=separators)
    doc = parse_text(text, "doc.json")
    assert doc.findings == []
    for pointer, node in _leaves(value):
        line, col = doc.position(pointer)
        at = text[_offset(text, line, col) :]
        if isinstance(node, dict):
            assert at.startswith("{"), pointer
        elif isinstance(node, list):
            assert at.startswith("["), pointer
        else:
            encoded = json.dumps(node, ensure_ascii=ascii_only)
            assert at.startswith(encoded), (pointer, encoded, at[:40])


@SETTINGS
@given(value=json_docs, indent=st.sampled_from([None, 2]), ascii_only=st.booleans())
def test_json_key_positions_point_at_the_key(value: Any, indent: Any, ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    doc = parse_text(text, "doc.json")
    for pointer, _ in _leaves(value):
        if not pointer:
            continue
        parent_pointer, _, token = pointer.rpartition("/")
        parent = dict(_leaves(value))[parent_pointer]
        if not isinstance(parent, dict):
            continue
        key = token.replace("~1", "/").replace("~0", "~")
        line, col = doc.position(pointer, key=True)
        at = text[_offset(text, line, col) :]
        assert at.startswith(json.dumps(key, ensure_ascii=ascii_only)), (pointer, at[:40])


simple_scalars = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in ("y", "n", "yes", "no", "on", "off", "true", "false", "null")
) | st.integers(min_value=0, max_value=10**6)
yaml_docs = st.recursive(
    simple_scalars,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(
            st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), inner, min_size=1, max_size=3
        )
    ),
    max_leaves=15,
)


@SETTINGS
@given(value=yaml_docs, flow=st.sampled_from([False, None]))
def test_yaml_positions_point_at_each_scalar(value: Any, flow: Any) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow)
    doc = parse_text(text, "doc.yaml")
    assert doc.findings == []
    assert doc.data == value
    for pointer, node in _leaves(value):
        if isinstance(node, (dict, list)):
            continue
        line, col = doc.position(pointer)
        at = text[_offset(text, line, col) :]
        assert at.startswith(str(node)), (pointer, node, at[:40])


def test_position_of_a_missing_pointer_falls_back_to_its_nearest_ancestor() -> None:
    doc = parse_text('{\n  "a": {\n    "b": 1\n  }\n}\n', "doc.json")
    assert doc.position("/a/b") == (3, 10)
    assert doc.position("/a/zzz/0") == doc.position("/a") == (2, 8)
    assert doc.position("/nothing") == (1, 1)
    assert Document(path="empty.json", text="", kind="json").position("/x") == (0, 0)


@pytest.mark.parametrize("brk", ["\u2028", "\u2029", "\x85", "\r"], ids=["LS", "PS", "NEL", "CR"])
def test_yaml_positions_after_a_unicode_line_break_inside_a_string(brk: str) -> None:
    text = f'description: "one{brk}two"\nlayer: raw\nlist: [a, b]\n'
    doc = parse_text(text, "doc.yaml")
    assert doc.findings == []
    assert doc.position("/layer") == (2, 8)
    assert doc.position("/layer", key=True) == (2, 1)
    assert doc.position("/list/1") == (3, 11)


def test_yaml_syntax_error_after_a_unicode_line_break_is_on_its_own_line() -> None:
    doc = parse_text('description: "one\u2028two"\nlayer: a: b\n', "doc.yaml")
    assert [(f.code, f.line, f.column) for f in doc.findings] == [("DPN001", 2, 9)]
