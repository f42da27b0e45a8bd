"""The JSON Schemas: generated from the models, committed unchanged, valid Draft 2020-12, and
obeyed by every example file. `dpn lint`'s structural verdict (its fast structural
validator and its check of unknown entry fields) agrees with the `jsonschema` library on
what is valid, including for mutated blueprints.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from dpn_action.analysis import analyse
from dpn_action.models import MODELS, json_schema, render_schema
from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.naming.config import NamingConfig
from dpn_action.naming.fields import builtin_keys, project_schema
from dpn_action.schema_files import SCHEMA_BASE, SCHEMA_FILES
from dpn_action.source import parse_text
from dpn_action.structure import ENTRY_KEY, validate

REPO = Path(__file__).resolve().parent.parent
SCHEMA_DIRS = (REPO / "schemas", REPO / "dpn_action" / "schemas")
EXAMPLES = REPO / "examples"
REGENERATE = "run `dpn plan schema --write schemas && dpn plan schema --write dpn_action/schemas`"


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def _example_files() -> list[tuple[str, Path]]:
    """(schema kind, path) of every example blueprint and naming config."""
    out: list[tuple[str, Path]] = []
    for root in (EXAMPLES, EXAMPLES / "original"):
        out.append(("naming-values", root / ".dpn" / "naming-values.yaml"))
        out.append(("naming-patterns", root / ".dpn" / "naming-patterns.yaml"))
        out.extend(("blueprint", p) for p in sorted((root / "blueprints").iterdir()))
    return out


EXAMPLE_FILES = _example_files()
EXAMPLE_IDS = [str(p.relative_to(EXAMPLES)) for _, p in EXAMPLE_FILES]
#: the files written for dpn (the ones under original/ are as the original tool wrote them)
CURRENT_FILES = [
    (k, p) for k, p in EXAMPLE_FILES if "original" not in p.relative_to(EXAMPLES).parts
]
CURRENT_IDS = [str(p.relative_to(EXAMPLES)) for _, p in CURRENT_FILES]
BLUEPRINTS = [_load(p) for kind, p in EXAMPLE_FILES if kind == "blueprint"]


def _validator(kind: str) -> Draft202012Validator:
    schema = json.loads((REPO / "schemas" / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


VALIDATORS = {kind: _validator(kind) for kind in SCHEMA_FILES}


# ------------------------------------------------------------------------------ drift
@pytest.mark.parametrize("directory", SCHEMA_DIRS, ids=lambda d: str(d.relative_to(REPO)))
@pytest.mark.parametrize("kind", list(SCHEMA_FILES))
def test_committed_schema_is_exactly_what_the_models_generate(directory: Path, kind: str) -> None:
    path = directory / SCHEMA_FILES[kind]
    assert path.is_file(), f"{path.relative_to(REPO)} is missing; {REGENERATE}"
    committed = path.read_text(encoding="utf-8")
    assert committed == render_schema(kind), (
        f"{path.relative_to(REPO)} differs from the schema the models generate; {REGENERATE}"
    )


@pytest.mark.parametrize("kind", list(SCHEMA_FILES))
def test_schema_id_is_the_published_address(kind: str) -> None:
    assert json_schema(kind)["$id"] == f"{SCHEMA_BASE}/{SCHEMA_FILES[kind]}"


# --------------------------------------------------------------------- schema validity
@pytest.mark.parametrize("directory", SCHEMA_DIRS, ids=lambda d: str(d.relative_to(REPO)))
@pytest.mark.parametrize("kind", list(SCHEMA_FILES))
def test_schemas_are_valid_draft_2020_12_schemas(directory: Path, kind: str) -> None:
    schema = json.loads((directory / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_blueprint_schema_has_a_collection_for_every_resource_type() -> None:
    schema = json_schema("blueprint")
    defs = schema["$defs"]
    titles = {d.get("title") for d in defs.values()}
    for key, t in CATALOGUE.items():
        assert f"{t.title} ({key})" in titles, f"no entry schema for {key}"


# ------------------------------------------------------------------------ the examples
def test_examples_cover_both_configs_and_every_blueprint_format() -> None:
    kinds = {kind for kind, _ in EXAMPLE_FILES}
    suffixes = {p.suffix for kind, p in EXAMPLE_FILES if kind == "blueprint"}
    assert kinds == set(SCHEMA_FILES)
    assert suffixes == {".json", ".yaml"}


@pytest.mark.parametrize(("kind", "path"), EXAMPLE_FILES, ids=EXAMPLE_IDS)
def test_example_file_is_valid_against_its_json_schema(kind: str, path: Path) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in VALIDATORS[kind].iter_errors(_load(path))
    ]
    assert errors == []


@pytest.mark.parametrize(("kind", "path"), EXAMPLE_FILES, ids=EXAMPLE_IDS)
def test_example_file_is_valid_for_the_pydantic_model(kind: str, path: Path) -> None:
    model = MODELS[kind].model_validate(_load(path))
    assert model.version == "1.0"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("kind", "path"), EXAMPLE_FILES, ids=EXAMPLE_IDS)
def test_example_file_passes_the_fast_structural_check(kind: str, path: Path) -> None:
    doc = parse_text(path.read_text(encoding="utf-8"), str(path))
    assert doc.findings == []
    assert validate(doc, kind, kind) == []


@pytest.mark.parametrize(("kind", "path"), CURRENT_FILES, ids=CURRENT_IDS)
def test_example_files_name_their_schema_for_editors(kind: str, path: Path) -> None:
    url = f"{SCHEMA_BASE}/{SCHEMA_FILES[kind]}"
    if path.suffix == ".json":
        assert _load(path)["$schema"] == url
    else:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema={url}"


def test_a_wrong_type_is_rejected_by_all_three_validators() -> None:
    data = copy.deepcopy(BLUEPRINTS[0])
    data["resources"]["aws"]["s3_buckets"][0]["versioning"] = {"enabled": True}
    assert not VALIDATORS["blueprint"].is_valid(data)
    with pytest.raises(ValueError, match="versioning"):
        MODELS["blueprint"].model_validate(data)
    findings = validate(parse_text(json.dumps(data), "bp.json"), "blueprint", "blueprint")
    assert [f.code for f in findings] == ["DPN010"]
    assert findings[0].pointer == "/resources/aws/s3_buckets/0/versioning"


# ------------------------------------------ the fast validator agrees with `jsonschema`
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(["", "1.0", "dev", "include", "hash", "x"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["id", "name", "purpose", "k"]), inner, max_size=3)
    ),
    max_leaves=6,
)
#: keys a user might plausibly add: known ones in the wrong place, typos, and nonsense
EXTRA_KEYS = st.sampled_from(
    [
        "versoning",
        "purpose",
        "purpsoe",
        "owner",
        "team",
        "entity",
        "table_type",
        "squad",
        "s3_bucket",
        "catalogs",
        "schemas",
        "tables",
        "volumes",
        "scope",
        "metadata",
        "aws",
        "databricks",
        "unity_catalog",
        "patterns",
        "mode",
        "id",
        "tags",
        "zzz",
    ]
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*path, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*path, i)))
    return out


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _renamed(key: str, how: int) -> str:
    if how == 0:
        return key[:-1] or "x"  # s3_buckets -> s3_bucket
    if how == 1:
        return key + "s"
    if how == 2:
        return key.replace("_", "-")
    return key.upper()


@st.composite
def mutated_blueprints(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(BLUEPRINTS)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        kind = draw(st.sampled_from(["drop", "retype", "add", "rename"]))
        if kind == "drop":
            inner = [p for p in paths if p]
            if not inner:
                continue
            path = draw(st.sampled_from(inner))
            parent = _at(doc, path[:-1])
            del parent[path[-1]]
        elif kind == "retype":
            path = draw(st.sampled_from(paths))
            value = draw(JSON_VALUES)
            if not path:
                doc = value
            else:
                _at(doc, path[:-1])[path[-1]] = value
        else:
            dicts = [p for p in paths if isinstance(_at(doc, p), dict)]
            if not dicts:
                continue
            target = _at(doc, draw(st.sampled_from(dicts)))
            if kind == "add":
                target[draw(EXTRA_KEYS)] = draw(JSON_VALUES)
            elif target:
                key = draw(st.sampled_from(sorted(target)))
                new = _renamed(key, draw(st.integers(min_value=0, max_value=3)))
                target[new] = target.pop(key)
    return doc


#: the codes of `dpn lint`'s structural verdict: what a JSON Schema can say about a blueprint
STRUCTURAL = frozenset({"DPN010", "DPN011", "DPN012", "DPN013", "DPN014", "DPN016"})


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=mutated_blueprints())
def test_lint_and_the_schema_give_the_same_structural_verdict_on_mutated_blueprints(
    tmp_path: Path, data: Any
) -> None:
    """With no naming config, `dpn lint` (the fast structural check and the analysis's check
    of unknown fields) and `jsonschema` with the committed schema agree on every blueprint:
    both accept it or both refuse it."""
    path = tmp_path / "mutated.json"
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    findings = [f for f in analyse(NamingConfig(), [path]).findings if f.code in STRUCTURAL]
    schema_errors = [e.message for e in VALIDATORS["blueprint"].iter_errors(data)]
    assert bool(findings) == bool(schema_errors), (
        f"dpn: {[f.message for f in findings]}; jsonschema: {schema_errors}"
    )
    assert all(f.is_error for f in findings)


def test_a_misspelt_naming_key_is_refused_by_the_schema_and_by_lint(tmp_path: Path) -> None:
    data = copy.deepcopy(BLUEPRINTS[0])
    bucket = data["resources"]["aws"]["s3_buckets"][0]
    bucket["purpsoe"] = bucket.pop("purpose")
    assert [e.validator for e in VALIDATORS["blueprint"].iter_errors(data)] == [
        "additionalProperties"
    ]
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    [f] = [f for f in analyse(NamingConfig(), [path]).findings if f.code == "DPN014"]
    assert f.message == "unknown field 'purpsoe' in an S3 bucket entry"
    assert f.hint == "Did you mean 'purpose'?"


def test_every_entry_schema_lists_its_naming_fields_references_and_settings() -> None:
    defs = json_schema("blueprint")["$defs"]
    entries = {d[ENTRY_KEY]["type"]: d for d in defs.values() if ENTRY_KEY in d}
    assert sorted(entries) == sorted(CATALOGUE)
    for key, t in CATALOGUE.items():
        node = entries[key]
        assert node["additionalProperties"] is False
        props = node["properties"]
        assert set(props) == builtin_keys(key), key
        for var in t.placeholders():
            assert f"[{t.value_chars}]" in props[var]["description"], (key, var)
        for ref in t.refs:
            assert CATALOGUE[t.refs[ref]].title in props[ref]["description"]
        for name in t.properties:
            assert props[name].get("description"), (key, name)
        if t.parent_ref is not None:
            assert node["required"] == [t.parent_ref]


def test_a_project_schema_accepts_the_naming_values_its_configs_declare() -> None:
    data = copy.deepcopy(BLUEPRINTS[0])
    data["resources"]["aws"]["s3_buckets"][0]["squad"] = "payments"
    assert not VALIDATORS["blueprint"].is_valid(data)
    cfg = NamingConfig(patterns={"aws_s3_bucket": "{project}-{squad}-{purpose}"})
    project = project_schema(VALIDATORS["blueprint"].schema, cfg)
    assert Draft202012Validator(project).is_valid(data)
    # only for the type whose pattern names it
    data["resources"]["aws"]["iam_roles"] = [{"service": "glue", "purpose": "x", "squad": "a"}]
    assert not Draft202012Validator(project).is_valid(data)
    cfg = NamingConfig(resource_types={"aws_iam_role": {"squad": "payments"}})
    assert not Draft202012Validator(project_schema(VALIDATORS["blueprint"].schema, cfg)).is_valid(
        data
    )
    cfg = NamingConfig(
        patterns={"aws_s3_bucket": "{project}-{squad}-{purpose}"},
        resource_types={"aws_iam_role": {"squad": "payments"}},
    )
    assert Draft202012Validator(project_schema(VALIDATORS["blueprint"].schema, cfg)).is_valid(data)
