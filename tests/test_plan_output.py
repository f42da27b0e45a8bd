"""The ways a plan is written without being held whole give exactly what the plain ways
give: the plan hash taken a batch at a time is the SHA-256 of `canonical_json`, a preview
line written directly is `json.dumps` of its entry, and the preview written from the
analysed resources is the one written from the planned ones."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from golden_cases import REPO, generated, messy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpn_action import plan as P
from dpn_action.analysis import analyse
from dpn_action.naming.config import Configs, NamingConfig
from dpn_action.plan import PlannedResource

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: any text JSON can hold (a lone surrogate never reaches a plan: the loaders refuse it)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def planned_resources(draw: st.DrawFn) -> PlannedResource:
    return PlannedResource(
        key=draw(TEXT),
        type=draw(TEXT),
        provider=draw(TEXT),
        name=draw(TEXT),
        full_name=draw(TEXT),
        environment=draw(TEXT),
        file=draw(TEXT),
        pointer=draw(TEXT),
        depends_on=tuple(draw(st.lists(TEXT, max_size=3))),
        properties=draw(st.dictionaries(TEXT, JSON_VALUES, max_size=4)),
        refs=draw(st.dictionaries(TEXT, TEXT, max_size=2)),
        scope=draw(st.dictionaries(TEXT, TEXT, max_size=2)),
        tags=draw(st.dictionaries(TEXT, TEXT, max_size=3)),
        region=draw(TEXT),
    )


@SETTINGS
@given(st.lists(planned_resources(), max_size=6), st.integers(1, 3))
def test_the_plan_hash_is_the_digest_of_the_canonical_json(
    items: list[PlannedResource], batch: int
) -> None:
    want = hashlib.sha256(P.canonical_json(items).encode("utf-8")).hexdigest()
    saved = P._BATCH
    P._BATCH = batch  # batches of every size, and a last one part full
    try:
        assert P.plan_hash(items) == want
    finally:
        P._BATCH = saved


@SETTINGS
@given(planned_resources(), st.one_of(st.none(), TEXT, st.just("no status")))
def test_a_preview_line_is_json_dumps_of_its_entry(p: PlannedResource, status: Any) -> None:
    entry = P.preview_entry(p)
    if status == "no status":
        assert P._entry_line(p, None) == json.dumps(entry, ensure_ascii=False)
        return
    cloud = {p.key: status} if status is not None else {}
    entry["cloud"] = status
    assert P._entry_line(p, cloud) == json.dumps(entry, ensure_ascii=False)


def test_a_preview_line_of_values_that_are_no_strings_is_json_dumps_too() -> None:
    p = PlannedResource("k", "t", "aws", "n", "n", 7, "f", "/p", (), {})  # type: ignore[arg-type]
    assert P._entry_line(p, None) == json.dumps(P.preview_entry(p), ensure_ascii=False)


def _written(order: list[Any], findings: list[dict[str, Any]]) -> tuple[str, str]:
    streamed, planned = io.StringIO(), io.StringIO()
    P.write_plan_preview(streamed, order, findings=findings)
    P.write_preview_json(planned, P.planned_in_order(order), findings=findings)
    return streamed.getvalue(), planned.getvalue()


def _analysed(root: Path, files: list[str]) -> list[Any]:
    configs = Configs(display_root=root)
    a = analyse(configs, [root / f for f in files], display_root=root)
    return P.plan_order(a.resources)


@pytest.mark.parametrize("case", ["examples", "messy", "generated", "empty"])
def test_the_preview_written_from_analysed_resources_is_the_planned_one(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    if case == "examples":
        shutil.copytree(REPO / "examples", tmp_path, dirs_exist_ok=True)
        files = [str(p.relative_to(tmp_path)) for p in sorted(tmp_path.glob("**/blueprints/*"))]
    else:
        doc = {"messy": messy(), "generated": generated(300), "empty": {"version": "1.0"}}
        (tmp_path / "b.json").write_text(json.dumps(doc[case]))
        files = ["b.json"]
    order = _analysed(tmp_path, files)
    findings = [{"code": "DPN000", "message": 'é \u2028 "quoted"'}] if case != "empty" else []
    streamed, planned = _written(order, findings)
    assert streamed == planned
    doc = json.loads(streamed)
    assert doc["plan_hash"] == P.plan_hash(P.planned_in_order(order))
    assert doc == {
        **P.preview_json(P.planned_in_order(order)),
        "findings": findings,
    }
    if case == "empty":
        assert '"resources": [],' in streamed


def test_planned_is_plan_order_then_planned_in_order(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text(json.dumps(messy()))
    a = analyse(NamingConfig(), [tmp_path / "b.json"], display_root=tmp_path)
    assert P.planned(a.resources) == P.planned_in_order(P.plan_order(a.resources))
    assert len(P.planned(a.resources)) > 20


#: naming values and settings of any text (the names they make may break rules: what is
#: named is planned all the same)
VALUE = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)


@st.composite
def blueprints(draw: st.DrawFn) -> dict[str, Any]:
    """Blueprints whose names, tags, properties and parents take any text."""
    meta = {"environment": draw(VALUE), "project": draw(VALUE), "region": "us-east-1"}
    for k in ("team", "cost_center"):
        if draw(st.booleans()):
            meta[k] = draw(VALUE)
    buckets = [
        {
            "purpose": draw(VALUE),
            "layer": draw(VALUE),
            **({"versioning": draw(st.booleans())} if draw(st.booleans()) else {}),
            **({"encryption": draw(VALUE)} if draw(st.booleans()) else {}),
            **(
                {"tags": draw(st.dictionaries(VALUE, VALUE, max_size=2))}
                if draw(st.booleans())
                else {}
            ),
            **({"team": draw(VALUE)} if draw(st.booleans()) else {}),
        }
        for _ in range(draw(st.integers(0, 3)))
    ]
    dbs = [{"id": "db", "domain": draw(VALUE), "layer": "bronze"}]
    tables = [
        {"database_ref": "db", "entity": draw(VALUE), "columns": [{"name": draw(VALUE)}]}
        for _ in range(draw(st.integers(0, 2)))
    ]
    schemas = [
        {"domain": draw(VALUE), "layer": "gold", "tables": [{"entity": draw(VALUE)}]}
        for _ in range(draw(st.integers(0, 2)))
    ]
    return {
        "version": "1.0",
        "metadata": meta,
        "resources": {
            "aws": {"s3_buckets": buckets, "glue_databases": dbs, "glue_tables": tables},
            "databricks": {
                "unity_catalog": {"catalogs": [{"catalog_type": draw(VALUE), "schemas": schemas}]}
            },
        },
    }


@settings(SETTINGS, max_examples=60)
@given(blueprints())
def test_any_blueprint_is_previewed_alike_both_ways(
    tmp_path_factory: pytest.TempPathFactory, doc: dict[str, Any]
) -> None:
    root = tmp_path_factory.mktemp("any")
    (root / "b.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    order = _analysed(root, ["b.json"])
    streamed, planned = _written(order, [])
    assert streamed == planned
