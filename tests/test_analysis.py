"""Analysis across blueprints, specified by example: names unique in each type's real scope
(across blueprint files and context blueprints), references by id and short key, a blueprint's
scope, unknown entry fields, and findings located in the file and config they come from.

Small blueprints and configs are written to a temporary directory, as a user would write them,
and go through `analyse()` (`conftest.analysed`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import S3_ENTRY, analysed, blueprint, found, only, write

from dpn_action.analysis import Analysis, analyse
from dpn_action.naming.config import NamingConfig

# --------------------------------------------------------------------------------------------
# uniqueness in each type's real scope, across blueprint files


def test_s3_names_are_unique_across_blueprint_files_and_accounts(tmp_path: Path) -> None:
    first = blueprint({"aws": {"s3_buckets": [S3_ENTRY]}}, metadata={"account": "111"})
    second = blueprint({"aws": {"s3_buckets": [S3_ENTRY]}}, metadata={"account": "222"})
    a, _ = analysed(tmp_path, first, second)
    [f] = a.findings
    assert f.code == "DPN130"
    assert f.file == "blueprints/bp1.json"
    assert "'dataplatform-landing-raw-dev-use1' is also used at blueprints/bp0.json:" in (f.message)
    assert "in every AWS account" in f.message


def test_iam_role_names_are_unique_ignoring_case(tmp_path: Path) -> None:
    roles = [{"service": "glue", "purpose": "Crawler"}, {"service": "glue", "purpose": "crawler"}]
    a, _ = analysed(tmp_path, blueprint({"aws": {"iam_roles": roles}}))
    [f] = a.findings
    assert f.code == "DPN130"
    assert f.pointer == "/resources/aws/iam_roles/1"
    assert "(ignoring case)" in f.message


def test_iam_role_names_may_repeat_in_another_account(tmp_path: Path) -> None:
    role = {"service": "glue", "purpose": "crawler"}
    first = blueprint({"aws": {"iam_roles": [role]}}, metadata={"account": "111"})
    second = blueprint({"aws": {"iam_roles": [role]}}, metadata={"account": "222"})
    a, _ = analysed(tmp_path, first, second)
    assert a.findings == []


def _catalogs(*schemas_per_catalog: list[str]) -> dict[str, Any]:
    catalogs = []
    for i, schemas in enumerate(schemas_per_catalog):
        catalogs.append(
            {
                "catalog_type": f"cat{i}",
                "schemas": [{"domain": d, "layer": "raw"} for d in schemas],
            }
        )
    return {"databricks": {"unity_catalog": {"catalogs": catalogs}}}


def test_uc_schema_name_may_repeat_in_another_catalog(tmp_path: Path) -> None:
    a, _ = analysed(tmp_path, blueprint(_catalogs(["sales"], ["sales"])))
    assert a.findings == []
    names = sorted(r.full_name or "" for r in a.resources if r.type.key == "dbx_schema")
    assert names == ["dataplatform_cat0_dev.sales_raw", "dataplatform_cat1_dev.sales_raw"]


def test_uc_schema_name_twice_in_one_catalog_is_an_error(tmp_path: Path) -> None:
    a, _ = analysed(tmp_path, blueprint(_catalogs(["sales", "sales"])))
    [f] = a.findings
    assert f.code == "DPN130"
    assert f.pointer == "/resources/databricks/unity_catalog/catalogs/0/schemas/1"
    assert "names must be unique in dataplatform_cat0_dev" in f.message


def _glue(tables: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "aws": {
            "glue_databases": [
                {"id": "sales", "domain": "sales", "layer": "raw"},
                {"id": "hr", "domain": "hr", "layer": "raw"},
            ],
            "glue_tables": [{"database_ref": db, "entity": e} for db, e in tables],
        }
    }


def test_glue_table_name_may_repeat_in_another_database(tmp_path: Path) -> None:
    a, _ = analysed(tmp_path, blueprint(_glue([("sales", "people"), ("hr", "people")])))
    assert a.findings == []


def test_glue_table_name_twice_in_one_database_is_an_error(tmp_path: Path) -> None:
    a, _ = analysed(tmp_path, blueprint(_glue([("sales", "people"), ("sales", "people")])))
    [f] = a.findings
    assert f.code == "DPN130"
    assert "'fact_people'" in f.message
    assert "unique in dataplatform_sales_raw_dev" in f.message


def test_clash_with_a_context_blueprint_is_reported_on_the_target(tmp_path: Path) -> None:
    existing = blueprint({"aws": {"s3_buckets": [S3_ENTRY]}})
    staged = blueprint({"aws": {"s3_buckets": [S3_ENTRY]}})
    a, _ = analysed(tmp_path, staged, context=[existing])
    assert [(f.code, f.file) for f in a.findings] == [("DPN130", "blueprints/bp0.json")]


# --------------------------------------------------------------------------------------------
# references


def test_reference_by_id_and_by_short_key(tmp_path: Path) -> None:
    resources = {
        "aws": {
            "glue_databases": [
                {"domain": "sales", "layer": "bronze"},
                {"id": "hr-db", "domain": "hr", "layer": "raw"},
            ],
            "glue_tables": [
                {"database_ref": "sales-bronze", "entity": "orders"},
                {"database_ref": "hr-db", "entity": "people"},
            ],
        },
        "databricks": {
            "clusters": [{"workload": "etl", "cluster_type": "shared"}],
            "jobs": [{"job_type": "batch", "purpose": "load", "cluster_ref": "etl"}],
        },
    }
    a, _ = analysed(tmp_path, blueprint(resources))
    assert a.findings == []
    full = sorted(r.full_name or "" for r in a.resources if r.type.key == "aws_glue_table")
    assert full == [
        "dataplatform_hr_raw_dev.fact_people",
        "dataplatform_sales_bronze_dev.fact_orders",
    ]
    job = only(a, "dbx_job")
    assert [d.name for d in job.deps] == ["dataplatform-etl-shared-dev"]


def test_unknown_reference_lists_the_candidates(tmp_path: Path) -> None:
    resources = {
        "aws": {
            "glue_databases": [
                {"domain": "sales", "layer": "bronze"},
                {"id": "hr-db", "domain": "hr", "layer": "raw"},
            ],
            "glue_tables": [{"database_ref": "sales-bronz", "entity": "orders"}],
        }
    }
    a, _ = analysed(tmp_path, blueprint(resources))
    [f] = found(a, "DPN020")
    assert f.message == "no Glue database 'sales-bronz'"
    assert f.pointer == "/resources/aws/glue_tables/0/database_ref"
    assert "Did you mean 'sales-bronze'?" in f.hint
    assert "candidates: 'hr-db', 'hr-raw', 'sales-bronze'" in f.hint


def test_reference_to_a_type_the_blueprint_lacks(tmp_path: Path) -> None:
    resources = {"aws": {"glue_tables": [{"database_ref": "sales-bronze", "entity": "orders"}]}}
    a, _ = analysed(tmp_path, blueprint(resources))
    [f] = found(a, "DPN020")
    assert f.message == "'sales-bronze' refers to a Glue database, but the blueprint has none"


def test_ambiguous_short_key_is_an_error(tmp_path: Path) -> None:
    resources = {
        "aws": {
            "glue_databases": [
                {"domain": "sales", "layer": "bronze", "location_uri": "s3://a/"},
                {"domain": "sales", "layer": "bronze", "location_uri": "s3://b/"},
            ],
            "glue_tables": [{"database_ref": "sales-bronze", "entity": "orders"}],
        }
    }
    a, _ = analysed(tmp_path, blueprint(resources))
    [f] = found(a, "DPN023")
    assert f.message == "'sales-bronze' matches 2 Glue database entries"
    assert "`id`" in f.hint


def test_depends_on_cycle_is_printed(tmp_path: Path) -> None:
    roles = [
        {"id": "r1", "service": "glue", "purpose": "a", "depends_on": ["r2"]},
        {"id": "r2", "service": "glue", "purpose": "b", "depends_on": ["r3"]},
        {"id": "r3", "service": "glue", "purpose": "c", "depends_on": ["r1"]},
    ]
    a, _ = analysed(tmp_path, blueprint({"aws": {"iam_roles": roles}}))
    [f] = a.findings
    assert f.code == "DPN021"
    assert f.message == "reference cycle: r1 -> r2 -> r3 -> r1"


def test_depends_on_unknown_id_is_an_unknown_reference(tmp_path: Path) -> None:
    roles = [
        {"id": "crawler", "service": "glue", "purpose": "a"},
        {"service": "glue", "purpose": "b", "depends_on": ["crawlr"]},
    ]
    a, _ = analysed(tmp_path, blueprint({"aws": {"iam_roles": roles}}))
    [f] = a.findings
    assert f.code == "DPN020"
    assert f.pointer == "/resources/aws/iam_roles/1/depends_on/0"
    assert f.hint == "Did you mean 'crawler'?"


# --------------------------------------------------------------------------------------------
# scope


def _everything() -> dict[str, Any]:
    return {
        "aws": {
            "s3_buckets": [S3_ENTRY],
            "glue_databases": [{"domain": "sales", "layer": "raw"}],
        },
        "databricks": {
            "clusters": [{"workload": "etl", "cluster_type": "shared"}],
            **_catalogs(["sales"])["databricks"],
        },
    }


def _in_scope(a: Analysis) -> list[str]:
    return sorted(r.type.key for r in a.resources)


def test_scope_include_with_wildcards(tmp_path: Path) -> None:
    bp = blueprint(_everything(), scope={"mode": "include", "patterns": ["aws_*", "dbx_catalog"]})
    a, _ = analysed(tmp_path, bp)
    assert a.findings == []
    assert _in_scope(a) == ["aws_glue_database", "aws_s3_bucket", "dbx_catalog"]


def test_scope_exclude_with_wildcards(tmp_path: Path) -> None:
    bp = blueprint(_everything(), scope={"mode": "exclude", "patterns": ["aws_s3_*", "dbx_*"]})
    a, _ = analysed(tmp_path, bp)
    assert _in_scope(a) == ["aws_glue_database"]


def test_out_of_scope_resources_are_not_named(tmp_path: Path) -> None:
    bp = blueprint(
        {"aws": {"s3_buckets": [{"layer": "raw"}]}},  # no purpose: would be DPN030
        scope={"mode": "exclude", "patterns": ["aws_s3_bucket"]},
    )
    a, _ = analysed(tmp_path, bp)
    assert a.findings == []


def test_scope_pattern_that_matches_nothing_is_reported(tmp_path: Path) -> None:
    bp = blueprint(_everything(), scope={"mode": "include", "patterns": ["aws_s3_buckets"]})
    a, _ = analysed(tmp_path, bp)
    [f] = a.findings
    assert f.code == "DPN202"
    assert f.message == "scope pattern 'aws_s3_buckets' matches no resource type"
    assert f.hint == "Did you mean 'aws_s3_bucket'?"


# --------------------------------------------------------------------------------------------
# entry fields and source positions


def test_unknown_field_suggests_the_close_one(tmp_path: Path) -> None:
    yaml_bp = """
        version: "1.0"
        metadata: {environment: dev, project: dataplatform, region: us-east-1}
        resources:
          aws:
            s3_buckets:
              - purpose: landing
                layer: raw
                purpse: landing
    """
    a, _ = analysed(tmp_path, yaml_bp)
    [f] = a.findings
    assert (f.code, f.line, f.column) == ("DPN014", 8, 9)
    assert f.message == "unknown field 'purpse' in an S3 bucket entry"
    assert f.hint == "Did you mean 'purpose'?"


def test_duplicate_key_in_json_is_located(tmp_path: Path) -> None:
    text = (
        '{"version": "1.0",\n'
        ' "metadata": {"environment": "dev", "project": "dataplatform",\n'
        '              "region": "us-east-1", "project": "other"},\n'
        ' "resources": {}}\n'
    )
    path = write(tmp_path / "bp.json", text)
    a = analyse(NamingConfig(), [path], display_root=tmp_path)
    [f] = a.findings
    assert (f.code, f.file, f.line, f.column) == ("DPN002", "bp.json", 3, 38)
    assert f.pointer == "/metadata/project"
    assert f.message == "duplicate key 'project' (the later value wins)"


def test_duplicate_key_in_yaml_is_located(tmp_path: Path) -> None:
    yaml_bp = """
        version: "1.0"
        metadata:
          environment: dev
          project: dataplatform
          region: us-east-1
        resources:
          aws:
            s3_buckets:
              - purpose: landing
                layer: raw
                layer: bronze
    """
    a, _ = analysed(tmp_path, yaml_bp)
    [f] = a.findings
    assert (f.code, f.file, f.line, f.column) == ("DPN002", "blueprints/bp0.yaml", 11, 9)
    assert f.pointer == "/resources/aws/s3_buckets/0/layer"
    # the later value wins, as in every YAML reader
    assert only(a, "aws_s3_bucket").name == "dataplatform-landing-bronze-dev-use1"


def test_findings_about_config_values_point_into_the_config(tmp_path: Path) -> None:
    values = """
        version: "1.0"
        defaults:
          layer: Raw Data
    """
    a, _ = analysed(
        tmp_path, blueprint({"aws": {"s3_buckets": [{"purpose": "landing"}]}}), values=values
    )
    [f] = a.findings
    assert f.code == "DPN040"
    assert (f.file, f.line, f.column) == (str(tmp_path / ".dpn" / "naming-values.yaml"), 3, 10)
