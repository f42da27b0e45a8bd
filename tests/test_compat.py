"""Files written for the original tool work unchanged and give exactly the original names.

`examples/original/` holds two blueprints and both naming configs as the original tool wrote
them (format version "1.0", sorted YAML keys, no `id`s, no `$schema`, references by short
key). Every name below is the one the original conventions give.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import dpn, write

REPO = Path(__file__).resolve().parent.parent
ORIGINAL = REPO / "examples" / "original"
VALUES = ORIGINAL / ".dpn" / "naming-values.yaml"
PATTERNS = ORIGINAL / ".dpn" / "naming-patterns.yaml"
DEV = ORIGINAL / "blueprints" / "dev.json"
PRD = ORIGINAL / "blueprints" / "prd.json"
EXPLICIT = ["--values-config", str(VALUES), "--patterns-config", str(PATTERNS)]


def preview(*args: str) -> dict[str, Any]:
    result = dpn("plan", "preview", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    """The preview of both original blueprints with the original configs."""
    return preview(*EXPLICIT, str(DEV), str(PRD))


def names(plan: dict[str, Any], type_key: str, environment: str) -> list[str]:
    return [
        r["full_name"]
        for r in plan["resources"]
        if r["type"] == type_key and r["environment"] == environment
    ]


def resource(plan: dict[str, Any], full_name: str) -> dict[str, Any]:
    hits = [r for r in plan["resources"] if r["full_name"] == full_name]
    assert len(hits) == 1, f"{full_name} planned {len(hits)} times"
    return hits[0]


# ------------------------------------------------------------- the files are the original's
def test_original_blueprints_use_only_the_original_format() -> None:
    for path in (DEV, PRD):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert list(data) == ["version", "metadata", "resources"]
        assert data["version"] == "1.0"
        assert set(data["resources"]["aws"]) <= {"s3_buckets", "glue_databases", "glue_tables"}
        assert set(data["resources"]["databricks"]) <= {"clusters", "jobs", "unity_catalog"}
        assert '"id"' not in path.read_text(encoding="utf-8")


def test_original_configs_are_plain_sorted_yaml_without_schema_comments() -> None:
    for path in (VALUES, PATTERNS):
        lines = path.read_text(encoding="utf-8").splitlines()
        top = [line.split(":")[0] for line in lines if line and not line.startswith(" ")]
        assert top == sorted(top)
        assert "version: '1.0'" in lines
        assert not any(line.lstrip().startswith("#") for line in lines)


# ------------------------------------------------------------------------------ commands
def test_original_configs_validate() -> None:
    result = dpn("config", "validate", *EXPLICIT)
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output


def test_lint_of_the_original_files_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ORIGINAL)
    result = dpn("lint")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no problems found"


def test_discovered_original_configs_give_the_same_plan(
    monkeypatch: pytest.MonkeyPatch, plan: dict[str, Any]
) -> None:
    monkeypatch.chdir(ORIGINAL)
    discovered = preview("blueprints/dev.json", "blueprints/prd.json")
    assert discovered["plan_hash"] == plan["plan_hash"]


def test_preview_of_the_original_files_has_no_findings(plan: dict[str, Any]) -> None:
    assert plan["findings"] == []
    assert plan["summary"]["total"] == 21


# ------------------------------------------------------------------------------- names
def test_s3_bucket_names_follow_the_original_convention(plan: dict[str, Any]) -> None:
    assert names(plan, "aws_s3_bucket", "dev") == [
        "dataplatform-landing-raw-dev-use1",
        "dataplatform-processed-curated-dev-use1",
    ]
    assert names(plan, "aws_s3_bucket", "prd") == ["dataplatform-landing-raw-prd-use1"]


def test_glue_database_names_use_underscores(plan: dict[str, Any]) -> None:
    assert names(plan, "aws_glue_database", "dev") == ["dataplatform_sales_bronze_dev"]
    assert names(plan, "aws_glue_database", "prd") == [
        "dataplatform_sales_bronze_prd",
        "dataplatform_sales_silver_prd",
    ]


def test_glue_table_without_table_type_is_a_fact_table(plan: dict[str, Any]) -> None:
    orders = resource(plan, "dataplatform_sales_bronze_dev.fact_orders")
    assert orders["name"] == "fact_orders"
    assert resource(plan, "dataplatform_sales_bronze_dev.dim_customers")["name"] == (
        "dim_customers"
    )


def test_glue_table_database_ref_is_the_original_short_key(plan: dict[str, Any]) -> None:
    """`database_ref: "sales-silver"` is `{domain}-{layer}` of a Glue database."""
    orders = resource(plan, "dataplatform_sales_silver_prd.fact_orders")
    assert orders["depends_on"] == ["aws_glue_database:dataplatform_sales_silver_prd"]


def test_cluster_type_comes_from_the_resource_type_values(plan: dict[str, Any]) -> None:
    assert names(plan, "dbx_cluster", "dev") == ["dataplatform-etl-shared-dev"]
    # the prd cluster has no cluster_type: resource_types.dbx_cluster gives "shared"
    assert names(plan, "dbx_cluster", "prd") == ["dataplatform-etl-shared-prd"]


def test_job_with_a_schedule_keeps_every_segment(plan: dict[str, Any]) -> None:
    assert names(plan, "dbx_job", "dev") == ["dataplatform-batch-daily-sales-load-daily-dev"]


def test_job_without_schedule_drops_the_segment_and_one_separator(plan: dict[str, Any]) -> None:
    assert names(plan, "dbx_job", "prd") == [
        "dataplatform-batch-daily-sales-load-daily-prd",
        "dataplatform-batch-transformation-prd",
    ]


def test_job_cluster_ref_is_the_cluster_workload(plan: dict[str, Any]) -> None:
    job = resource(plan, "dataplatform-batch-transformation-prd")
    assert job["depends_on"] == ["dbx_cluster:dataplatform-etl-shared-prd"]


def test_unity_catalog_tree_gives_three_part_names(plan: dict[str, Any]) -> None:
    assert names(plan, "dbx_catalog", "dev") == ["dataplatform_main_dev"]
    assert names(plan, "dbx_schema", "dev") == ["dataplatform_main_dev.sales_bronze"]
    assert names(plan, "dbx_table", "dev") == ["dataplatform_main_dev.sales_bronze.fact_orders"]
    assert names(plan, "dbx_volume", "dev") == ["dataplatform_main_dev.sales_bronze.raw_landing"]


def test_catalog_and_table_defaults_fill_what_the_original_left_out(
    plan: dict[str, Any],
) -> None:
    # prd's catalog has no catalog_type (resource_types.dbx_catalog) and its table no
    # table_type (the built-in default "fact")
    assert names(plan, "dbx_table", "prd") == ["dataplatform_main_prd.sales_silver.fact_orders"]


def test_every_original_name_is_exactly_as_before(plan: dict[str, Any]) -> None:
    assert sorted((r["type"], r["full_name"]) for r in plan["resources"]) == sorted(
        [
            ("aws_s3_bucket", "dataplatform-landing-raw-dev-use1"),
            ("aws_s3_bucket", "dataplatform-processed-curated-dev-use1"),
            ("aws_glue_database", "dataplatform_sales_bronze_dev"),
            ("aws_glue_table", "dataplatform_sales_bronze_dev.fact_orders"),
            ("aws_glue_table", "dataplatform_sales_bronze_dev.dim_customers"),
            ("dbx_cluster", "dataplatform-etl-shared-dev"),
            ("dbx_job", "dataplatform-batch-daily-sales-load-daily-dev"),
            ("dbx_catalog", "dataplatform_main_dev"),
            ("dbx_schema", "dataplatform_main_dev.sales_bronze"),
            ("dbx_table", "dataplatform_main_dev.sales_bronze.fact_orders"),
            ("dbx_volume", "dataplatform_main_dev.sales_bronze.raw_landing"),
            ("aws_s3_bucket", "dataplatform-landing-raw-prd-use1"),
            ("aws_glue_database", "dataplatform_sales_bronze_prd"),
            ("aws_glue_database", "dataplatform_sales_silver_prd"),
            ("aws_glue_table", "dataplatform_sales_silver_prd.fact_orders"),
            ("dbx_cluster", "dataplatform-etl-shared-prd"),
            ("dbx_job", "dataplatform-batch-daily-sales-load-daily-prd"),
            ("dbx_job", "dataplatform-batch-transformation-prd"),
            ("dbx_catalog", "dataplatform_main_prd"),
            ("dbx_schema", "dataplatform_main_prd.sales_silver"),
            ("dbx_table", "dataplatform_main_prd.sales_silver.fact_orders"),
        ]
    )


def test_creation_properties_are_part_of_the_plan_but_not_of_the_names(tmp_path: Path) -> None:
    before = preview(*EXPLICIT, str(DEV))
    edited = json.loads(DEV.read_text(encoding="utf-8"))
    edited["resources"]["aws"]["s3_buckets"][0]["versioning"] = True
    path = write(tmp_path / "dev.json", json.dumps(edited, indent=2))
    after = preview(*EXPLICIT, str(path))
    assert [r["full_name"] for r in after["resources"]] == [
        r["full_name"] for r in before["resources"]
    ]
    assert after["plan_hash"] != before["plan_hash"]


# ------------------------------------------------------------------------ known gaps
def _blueprint(tmp_path: Path, schema: dict[str, Any]) -> Path:
    data = json.loads(DEV.read_text(encoding="utf-8"))
    data["resources"]["databricks"]["unity_catalog"]["catalogs"][0]["schemas"] = [schema]
    return write(tmp_path / "dev.json", json.dumps(data, indent=2))


def test_listing_the_builtin_pattern_keeps_its_required_variables(tmp_path: Path) -> None:
    path = _blueprint(tmp_path, {"domain": "sales", "tables": [{"entity": "orders"}]})
    result = dpn("plan", "preview", "--format", "json", *EXPLICIT, str(path))
    doc = json.loads(result.stdout)
    assert result.exit_code == 1
    assert [f["code"] for f in doc["findings"]] == ["DPN030"]
    assert "{layer}" in doc["findings"][0]["message"]
