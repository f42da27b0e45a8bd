"""The examples a user copies from: they lint cleanly, use every resource type, and show the
configs at work.

`examples/` is laid out like a user's repository: `.dpn/` holds the two naming configs and
`blueprints/` three environment blueprints in JSON plus the analytics team's YAML one.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import dpn, dpn_process, write

from dpn_action.naming.catalogue import CATALOGUE

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
BLUEPRINTS = EXAMPLES / "blueprints"
CONFIG = [
    "--values-config",
    str(EXAMPLES / ".dpn" / "naming-values.yaml"),
    "--patterns-config",
    str(EXAMPLES / ".dpn" / "naming-patterns.yaml"),
]
ALL_BLUEPRINTS = sorted(BLUEPRINTS.iterdir())


def preview(*args: str) -> dict[str, Any]:
    result = dpn("plan", "preview", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    """All four example blueprints with the example configs."""
    return preview(*CONFIG, *map(str, ALL_BLUEPRINTS))


def by_name(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["full_name"]: r for r in plan["resources"]}


# ----------------------------------------------------------------------------- lint
def test_lint_inside_examples_checks_configs_and_blueprints_cleanly() -> None:
    result = dpn_process(EXAMPLES, "lint", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "no problems found"
    assert "Traceback" not in result.stderr


def test_example_configs_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    result = dpn("config", "validate", "--strict")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "no problems found",
        "values: .dpn/naming-values.yaml",
        "patterns: .dpn/naming-patterns.yaml",
    ]


# ---------------------------------------------------------------------------- coverage
def test_examples_use_every_resource_type(plan: dict[str, Any]) -> None:
    assert {r["type"] for r in plan["resources"]} == set(CATALOGUE)
    assert plan["findings"] == []


def test_examples_are_three_environments_and_one_team_blueprint() -> None:
    assert [p.name for p in ALL_BLUEPRINTS] == [
        "analytics.yaml",
        "dev.json",
        "prd.json",
        "stg.json",
    ]


def test_dev_blueprint_alone_uses_every_resource_type() -> None:
    dev = preview(*CONFIG, str(BLUEPRINTS / "dev.json"))
    assert {r["type"] for r in dev["resources"]} == set(CATALOGUE)


def test_names_are_unique_across_all_example_blueprints(plan: dict[str, Any]) -> None:
    counts = Counter((r["type"], r["full_name"]) for r in plan["resources"])
    assert [k for k, n in counts.items() if n > 1] == []
    buckets = [r["name"] for r in plan["resources"] if r["type"] == "aws_s3_bucket"]
    assert len(buckets) == len(set(buckets)) == 11


def test_unity_catalog_tree_is_named_catalog_schema_table_and_volume(
    plan: dict[str, Any],
) -> None:
    names = by_name(plan)
    table = names["dataplatform_analytics_prd.finance_gold.agg_daily_revenue"]
    assert table["type"] == "dbx_table"
    assert table["depends_on"] == ["dbx_schema:dataplatform_analytics_prd.finance_gold"]
    volume = names["dataplatform_analytics_prd.finance_gold.exports_partner"]
    assert volume["type"] == "dbx_volume"
    assert names["dataplatform_analytics_prd.finance_gold"]["depends_on"] == [
        "dbx_catalog:dataplatform_analytics_prd"
    ]


# -------------------------------------------------------------------------- references
def test_references_by_original_short_key_resolve(plan: dict[str, Any]) -> None:
    names = by_name(plan)
    # database_ref: "sales-bronze" is the {domain}-{layer} of a Glue database
    assert names["dataplatform_sales_bronze_dev.fact_orders"]["depends_on"] == [
        "aws_glue_database:dataplatform_sales_bronze_dev"
    ]
    # cluster_ref: "etl" is the workload of a cluster
    assert names["dataplatform-batch-daily-sales-load-daily-dev"]["depends_on"] == [
        "dbx_cluster:dataplatform-etl-shared-dev"
    ]


def test_references_by_id_resolve(plan: dict[str, Any]) -> None:
    names = by_name(plan)
    assert names["dataplatform-dev-crawler-sales_bronze-s3"]["depends_on"] == [
        "aws_glue_database:dataplatform_sales_bronze_dev",
        "aws_iam_role:dataplatform-dev-glue-crawler-role",
        "aws_s3_bucket:dataplatform-landing-raw-dev-use1",
    ]
    assert names["dataplatform-etl-shared-dev"]["depends_on"] == [
        "dbx_instance_pool:dataplatform-pool-i3-xlarge-general-dev",
        "dbx_policy:dataplatform-jobs-compute-dev",
    ]
    # depends_on by id, next to the cluster reference by short key
    assert names["dataplatform-export-partner-feed-prd"]["depends_on"] == [
        "dbx_cluster:dataplatform-bi-shared-prd",
        "dbx_catalog:dataplatform_analytics_prd",
    ]


def test_dependencies_come_before_their_dependents(plan: dict[str, Any]) -> None:
    order = {r["full_name"]: i for i, r in enumerate(plan["resources"])}
    for r in plan["resources"]:
        for dep in r["depends_on"]:
            assert order[dep.split(":", 1)[1]] < order[r["full_name"]], (r["full_name"], dep)


# ---------------------------------------------------------------------- configs at work
def test_example_configs_shape_the_names(plan: dict[str, Any]) -> None:
    names = by_name(plan)
    # dbx_notebook_path pattern of naming-patterns.yaml
    assert "/Shared/dataplatform/sales/ingest/prd/load_orders" in names
    # region_mapping (eu-west-1 -> euw1) and an entry's own region (us-west-2 -> usw2)
    assert "dataplatform-exports-gold-prd-euw1" in names
    assert "dataplatform-lake-gold-prd-usw2" in names
    # lowercase: domain "Marketing" in the analytics blueprint
    assert "/Shared/dataplatform/marketing/attribution/prd/campaign_touchpoints" in names
    # replace_hyphens: entity "order-items" -> "order_items", with no normalisation warning
    assert "dataplatform_sales_silver_prd.fact_order_items" in names
    # resource_types values: crawler source and secret scope purpose
    assert "dataplatform-prd-crawler-sales_bronze-s3" in names
    assert "dataplatform-platform-prd" in names
    # FIFO queues and topics get the .fifo suffix
    assert "dataplatform-prd-pipeline-failures.fifo" in names


def test_job_without_schedule_drops_the_segment_and_one_separator(plan: dict[str, Any]) -> None:
    jobs = sorted(
        r["name"] for r in plan["resources"] if r["environment"] == "stg" and r["type"] == "dbx_job"
    )
    assert jobs == [
        "dataplatform-batch-daily-sales-load-daily-stg",
        "dataplatform-batch-release-smoke-test-stg",
    ]


def test_scope_keeps_other_teams_types_out_of_the_analytics_plan(tmp_path: Path) -> None:
    data = yaml.safe_load((BLUEPRINTS / "analytics.yaml").read_text(encoding="utf-8"))
    assert data["scope"] == {"mode": "include", "patterns": ["dbx_*", "aws_s3_bucket", "aws_iam_*"]}
    data["resources"]["aws"]["dynamodb_tables"] = [{"entity": "sessions", "purpose": "cache"}]
    path = write(tmp_path / "analytics.yaml", yaml.safe_dump(data, sort_keys=False))
    types = {r["type"] for r in preview(*CONFIG, str(path))["resources"]}
    assert "aws_dynamodb_table" not in types
    assert {"aws_s3_bucket", "aws_iam_role", "dbx_catalog", "dbx_volume"} <= types


# -------------------------------------------------------------- JSON and YAML are equal
def _without_file(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        **doc,
        "resources": [{k: v for k, v in r.items() if k != "file"} for r in doc["resources"]],
    }


@pytest.mark.parametrize(("source", "target"), [("dev.json", ".yaml"), ("analytics.yaml", ".json")])
def test_json_and_yaml_blueprints_are_equal_citizens(
    tmp_path: Path, source: str, target: str
) -> None:
    original = BLUEPRINTS / source
    text = original.read_text(encoding="utf-8")
    data = json.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    converted = write(
        tmp_path / (original.stem + target),
        yaml.safe_dump(data, sort_keys=False) if target == ".yaml" else json.dumps(data, indent=2),
    )
    before = preview(*CONFIG, str(original))
    after = preview(*CONFIG, str(converted))
    assert before["resources"], "the example names something"
    assert _without_file(after) == _without_file(before)
    assert after["plan_hash"] == before["plan_hash"]


# ------------------------------------------------------------- the README's first command
def test_dev_blueprint_previews_from_the_repo_root_with_its_own_configs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A blueprint is named with the nearest .dpn/ at or above its own directory, wherever
    dpn runs: the README's first command, run from the repository root, uses examples/.dpn
    and gives the plan that running it inside examples/ gives."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("COLUMNS", "200")  # the footer on one line, whatever the terminal
    assert not (REPO / ".dpn").exists()
    table = dpn("plan", "preview", "examples/blueprints/dev.json")
    assert table.exit_code == 0, table.output
    assert (
        "(values: examples/.dpn/naming-values.yaml, "
        "patterns: examples/.dpn/naming-patterns.yaml)" in table.stdout
    )
    doc = preview("examples/blueprints/dev.json")
    assert doc["findings"] == []
    assert {r["type"] for r in doc["resources"]} == set(CATALOGUE)
    monkeypatch.chdir(EXAMPLES)
    inside = preview("blueprints/dev.json")
    monkeypatch.chdir(EXAMPLES / "blueprints")
    deeper = preview("dev.json")
    assert doc["plan_hash"] == inside["plan_hash"] == deeper["plan_hash"]
    assert _without_file(doc) == _without_file(inside) == _without_file(deeper)


# ------------------------------------------------------------------------ known gaps
def test_an_over_long_iam_role_is_shortened_with_a_hash_keeping_project_and_environment(
    tmp_path: Path,
) -> None:
    data = yaml.safe_load((BLUEPRINTS / "analytics.yaml").read_text(encoding="utf-8"))
    data["resources"]["aws"]["iam_roles"][0]["purpose"] = "unity-catalog-storage-access"
    path = write(tmp_path / "analytics.yaml", yaml.safe_dump(data, sort_keys=False))
    doc = preview(*CONFIG, str(path))
    full = "dataplatform-prd-databricks-unity-catalog-storage-access-role"
    digest = hashlib.sha256(full.encode()).hexdigest()[:6]
    (role,) = [r["name"] for r in doc["resources"] if r["type"] == "aws_iam_role"]
    assert len(role) <= 56
    assert role.startswith("dataplatform-prd-")
    assert role.endswith(f"-{digest}")
    assert [f["code"] for f in doc["findings"]] == ["DPN042"]
