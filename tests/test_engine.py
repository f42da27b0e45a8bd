"""The name engine, specified by example.

Most tests call `make_name` directly with a handful of values; the ones about where values
come from go through `analyse()` with small blueprints and configs written to a temporary
directory, as a user would write them (`conftest.analysed`). Uniqueness, references, scope
and positions across blueprints: test_analysis.py.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import S3_ENTRY, analysed, blueprint, dedented, found, only, write

from dpn_action.findings import Severity
from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.naming.config import NamingConfig, load_config, parse_overrides
from dpn_action.naming.engine import NameResult, Sourced, make_name


def name_of(
    key: str,
    cfg: NamingConfig | None = None,
    *,
    explicit: str | None = None,
    props: dict[str, Any] | None = None,
    on_too_long: str | None = None,
    keep: frozenset[str] = frozenset(),
    **values: str,
) -> NameResult:
    sourced = {k: Sourced(v, "test") for k, v in values.items()}
    return make_name(
        CATALOGUE[key],
        sourced,
        cfg or NamingConfig(),
        explicit=explicit,
        props=props,
        on_too_long=on_too_long,
        keep=keep,
    )


#: the values of a plain S3 bucket, 'dp-p-raw-dev-use1'
BUCKET = {
    "project": "dp",
    "purpose": "p",
    "layer": "raw",
    "environment": "dev",
    "region": "us-east-1",
}


def bucket(
    cfg: NamingConfig | None = None, *, explicit: str | None = None, **changes: Any
) -> NameResult:
    """The S3 bucket of `BUCKET` with some values changed (None: left out)."""
    values = {k: v for k, v in {**BUCKET, **changes}.items() if v is not None}
    return name_of("aws_s3_bucket", cfg, explicit=explicit, **values)


def codes(res: NameResult) -> list[str]:
    return [i.code for i in res.issues]


# --------------------------------------------------------------------------------------------
# precedence: defaults < environments[env] < resource_types[type] < metadata < entry < override


def _layer(tmp_path: Path, values: str, entry: dict[str, Any] | None = None, **kw: Any) -> str:
    bp = blueprint({"aws": {"s3_buckets": [entry or {"purpose": "landing"}]}}, **kw.pop("bp", {}))
    a, config_findings = analysed(tmp_path, bp, values=values, **kw)
    assert config_findings == []
    r = only(a, "aws_s3_bucket")
    assert r.name is not None
    assert r.result is not None
    layer = r.result.values["layer"]
    return f"{r.name} <- {layer.source}"


def test_environment_values_beat_defaults(tmp_path: Path) -> None:
    values = """
        version: "1.0"
        defaults: {layer: fromdefaults}
        environments:
          dev: {layer: fromdev}
          prd: {layer: fromprd}
    """
    assert _layer(tmp_path, values).startswith("dataplatform-landing-fromdev-dev-use1 <- ")
    assert "environments.dev" in _layer(tmp_path, values)


def test_resource_type_values_beat_environment_values(tmp_path: Path) -> None:
    values = """
        version: "1.0"
        environments:
          dev: {layer: fromdev}
        resource_types:
          aws_s3_bucket: {layer: fromtype}
          aws_glue_database: {layer: fromothertype}
    """
    result = _layer(tmp_path, values)
    assert result.startswith("dataplatform-landing-fromtype-dev-use1 <- ")
    assert "resource_types.aws_s3_bucket" in result


def test_blueprint_metadata_beats_resource_type_values(tmp_path: Path) -> None:
    values = """
        version: "1.0"
        resource_types:
          aws_s3_bucket: {layer: fromtype}
    """
    result = _layer(tmp_path, values, bp={"metadata": {"layer": "frommetadata"}})
    assert result.startswith("dataplatform-landing-frommetadata-dev-use1 <- ")
    assert result.endswith("metadata")


def test_entry_fields_beat_blueprint_metadata(tmp_path: Path) -> None:
    values = 'version: "1.0"\n'
    entry = {"purpose": "landing", "layer": "fromentry"}
    result = _layer(tmp_path, values, entry, bp={"metadata": {"layer": "frommetadata"}})
    assert result.startswith("dataplatform-landing-fromentry-dev-use1 <- ")
    assert result.endswith("entry")


def test_malformed_override_is_a_finding() -> None:
    overrides, findings = parse_overrides(["layer=raw", "layer", "bad key=x", "purpose=a=b"])
    assert overrides == {"layer": "raw", "purpose": "a=b"}
    assert [(f.code, f.file) for f in findings] == [("DPN205", "<command line>")] * 2
    assert findings[0].message == "--override 'layer' is not key=value"


def test_override_beats_entry_fields(tmp_path: Path) -> None:
    values = 'version: "1.0"\n'
    entry = {"purpose": "landing", "layer": "fromentry"}
    result = _layer(tmp_path, values, entry, overrides={"layer": "fromoverride"})
    assert result == "dataplatform-landing-fromoverride-dev-use1 <- --override"


def test_environment_layer_follows_the_blueprint_environment(tmp_path: Path) -> None:
    values = """
        version: "1.0"
        environments:
          dev: {layer: fromdev}
          prd: {layer: fromprd}
    """
    result = _layer(tmp_path, values, bp={"metadata": {"environment": "prd"}})
    assert result.startswith("dataplatform-landing-fromprd-prd-use1 <- ")


# --------------------------------------------------------------------------------------------
# region_short and transformations


@pytest.mark.parametrize(
    ("region", "short"),
    [
        ("us-east-1", "use1"),
        ("eu-central-1", "euc1"),
        ("ap-southeast-2", "apse2"),
        ("eu-west-3", "euw3"),
        ("us-gov-west-1", "usgw1"),
    ],
)
def test_region_short_is_derived_from_built_in_codes(region: str, short: str) -> None:
    res = bucket(region=region)
    assert res.issues == []
    assert res.name == f"dp-p-raw-dev-{short}"
    assert res.values["region_short"].value == short
    assert "built-in region codes" in res.values["region_short"].source


def test_region_mapping_comes_before_built_in_codes() -> None:
    cfg = NamingConfig(region_mapping={"us-east-1": "ue1", "on-prem": "op"})
    res = bucket(cfg)
    assert res.name == "dp-p-raw-dev-ue1"
    assert "region_mapping" in res.values["region_short"].source
    # a region the built-in codes do not know is still mapped
    res = bucket(cfg, region="on-prem")
    assert res.name == "dp-p-raw-dev-op"


def test_region_mapping_falls_back_to_built_in_codes_for_other_regions() -> None:
    cfg = NamingConfig(region_mapping={"us-east-1": "ue1"})
    assert bucket(cfg, region="eu-central-1").name == "dp-p-raw-dev-euc1"


def test_region_short_given_as_a_value_is_not_derived() -> None:
    res = bucket(region_short="virginia")
    assert res.name == "dp-p-raw-dev-virginia"


def test_unknown_region_without_mapping_leaves_region_short_missing() -> None:
    res = bucket(region="moon-base")
    assert res.name is None
    assert codes(res) == ["DPN030"]
    assert "{region_short}" in res.issues[0].message


def test_transformations_from_the_patterns_file(tmp_path: Path) -> None:
    patterns = """
        version: "1.0"
        transformations:
          region_mapping: {us-east-1: ue1}
          lowercase: [project]
          uppercase: [environment]
          replace_hyphens: {domain: "_"}
    """
    bp = blueprint(
        {"aws": {"lambda_functions": [{"domain": "sales-eu", "trigger": "s3", "action": "load"}]}},
        metadata={"project": "DataPlatform"},
    )
    a, config_findings = analysed(tmp_path, bp, patterns=patterns)
    assert config_findings == []
    assert only(a, "aws_lambda_function").name == "dataplatform-DEV-sales_eu-s3-load"
    # transformations are configured, so they are not reported as normalisation
    assert a.findings == []


def test_uppercase_transformation_is_undone_by_a_lower_case_type_with_a_warning() -> None:
    cfg = NamingConfig(uppercase=frozenset({"environment"}))
    res = bucket(cfg)
    assert res.name == "dp-p-raw-dev-use1"
    assert codes(res) == ["DPN040"]
    assert "environment 'DEV' was normalised to 'dev'" in res.issues[0].message


# --------------------------------------------------------------------------------------------
# rendering: required and optional variables


def test_missing_required_variable_names_the_variable_and_the_pattern() -> None:
    res = bucket(purpose=None)
    assert res.name is None
    [issue] = res.issues
    assert issue.code == "DPN030"
    assert issue.var == "purpose"
    assert issue.message == (
        "aws_s3_bucket needs a value for {purpose} in pattern "
        "'{project}-{purpose}-{layer}-{environment}-{region_short}'"
    )
    # ... and says where the value could come from
    for place in ("entry", "metadata", "naming-values.yaml", "resource_types.aws_s3_bucket"):
        assert place in issue.hint


def test_every_missing_required_variable_is_reported() -> None:
    res = bucket(purpose=None, layer=None)
    assert [(i.code, i.var) for i in res.issues] == [("DPN030", "purpose"), ("DPN030", "layer")]


def test_empty_value_counts_as_missing() -> None:
    res = bucket(purpose="")
    assert codes(res) == ["DPN030"]


def test_missing_optional_variable_drops_its_segment_and_one_separator() -> None:
    values = {
        "project": "dataplatform",
        "job_type": "batch",
        "purpose": "transformation",
        "environment": "prd",
    }
    res = name_of("dbx_job", **values)
    assert res.issues == []
    assert res.name == "dataplatform-batch-transformation-prd"
    res = name_of("dbx_job", schedule="daily", **values)
    assert res.name == "dataplatform-batch-transformation-daily-prd"


def test_built_in_default_values_fill_table_type(tmp_path: Path) -> None:
    resources = {
        "aws": {
            "glue_databases": [{"id": "db", "domain": "sales", "layer": "raw"}],
            "glue_tables": [{"database_ref": "db", "entity": "orders"}],
        },
        "databricks": {
            "unity_catalog": {
                "catalogs": [
                    {
                        "catalog_type": "main",
                        "schemas": [
                            {
                                "domain": "sales",
                                "layer": "raw",
                                "tables": [
                                    {"entity": "orders"},
                                    {"entity": "customers", "table_type": "dim"},
                                ],
                            }
                        ],
                    }
                ]
            }
        },
    }
    a, _ = analysed(tmp_path, blueprint(resources))
    assert a.findings == []
    assert only(a, "aws_glue_table").name == "fact_orders"
    tables = [r.full_name for r in a.resources if r.type.key == "dbx_table"]
    assert tables == [
        "dataplatform_main_dev.sales_raw.fact_orders",
        "dataplatform_main_dev.sales_raw.dim_customers",
    ]
    glue_table = only(a, "aws_glue_table").result
    assert glue_table is not None
    assert glue_table.values["table_type"].source == "built-in default for aws_glue_table"


def test_user_pattern_keeps_the_built_in_required_variables(tmp_path: Path) -> None:
    patterns = """
        version: "1.0"
        patterns:
          aws_s3_bucket: "{project}-{purpose}-{team}"
    """
    bp = blueprint({"aws": {"s3_buckets": [{"layer": "raw"}]}})
    a, config_findings = analysed(tmp_path, bp, patterns=patterns)
    assert config_findings == []
    # purpose is required for every S3 bucket; team (not a built-in placeholder) is not
    [f] = a.findings
    assert f.code == "DPN030"
    assert f.message == (
        "aws_s3_bucket needs a value for {purpose} in pattern '{project}-{purpose}-{team}'"
    )
    a, _ = analysed(
        tmp_path, blueprint({"aws": {"s3_buckets": [{"purpose": "landing"}]}}), patterns=patterns
    )
    # the name loses {team}'s segment, and says so at the pattern
    assert [f.code for f in a.findings] == ["DPN206"]
    assert only(a, "aws_s3_bucket").name == "dataplatform-landing"


def test_user_pattern_placeholders_are_optional_unless_required(tmp_path: Path) -> None:
    patterns = """
        version: "1.0"
        patterns:
          dbx_job: "{schedule}_{project}-{team}-{environment}"
    """
    bp = blueprint({"databricks": {"jobs": [{"job_type": "batch", "purpose": "load"}]}})
    a, config_findings = analysed(tmp_path, bp, patterns=patterns)
    assert config_findings == []
    # the first placeholder takes the separator after it, the inner one the one before it
    assert only(a, "dbx_job").name == "dataplatform-dev"

    required = (
        textwrap.dedent(patterns) + "validation:\n  required_variables:\n    dbx_job: [schedule]\n"
    )
    a, _ = analysed(tmp_path, bp, patterns=required)
    [f] = found(a, "DPN030")
    assert "{schedule}" in f.message
    assert "'{schedule}_{project}-{team}-{environment}'" in f.message


# --------------------------------------------------------------------------------------------
# normalisation and explicit names


def test_values_are_normalised_to_the_type_alphabet_with_a_warning() -> None:
    res = bucket(project="Data Platform", purpose="landing")
    assert res.name == "data-platform-landing-raw-dev-use1"
    [issue] = res.issues
    assert issue.code == "DPN040"
    assert issue.var == "project"
    assert issue.message == (
        "project 'Data Platform' was normalised to 'data-platform' for aws_s3_bucket"
    )


def test_normalisation_uses_the_type_separator() -> None:
    res = name_of(
        "aws_glue_database",
        project="Data Platform",
        domain="Sales-EU",
        layer="raw",
        environment="dev",
    )
    assert res.name == "data_platform_sales_eu_raw_dev"
    assert codes(res) == ["DPN040", "DPN040"]


def test_forbidden_characters_at_either_end_of_a_value_are_dropped_not_doubled() -> None:
    res = bucket(project="Data Platform ", purpose=" landing zone")
    assert res.name == "data-platform-landing-zone-raw-dev-use1"
    assert codes(res) == ["DPN040", "DPN040"]


def test_a_required_value_with_no_allowed_character_is_missing() -> None:
    res = bucket(purpose=" !! ")
    assert res.name is None
    assert codes(res) == ["DPN040", "DPN030"]
    assert res.issues[1].message.endswith("' !! ' has no character S3 bucket names allow")


def test_an_optional_value_with_no_allowed_character_drops_its_segment() -> None:
    res = name_of(
        "dbx_job",
        project="dataplatform",
        job_type="batch",
        purpose="transformation",
        schedule="???",
        environment="prd",
    )
    assert res.name == "dataplatform-batch-transformation-prd"


def test_normalisation_warning_points_at_the_value(tmp_path: Path) -> None:
    yaml_bp = """
        version: "1.0"
        metadata:
          environment: dev
          project: Data Platform
          region: us-east-1
        resources:
          aws:
            s3_buckets:
              - purpose: landing
                layer: raw
    """
    a, _ = analysed(tmp_path, yaml_bp)
    [f] = a.findings
    assert (f.code, f.severity, f.line, f.column) == ("DPN040", Severity.WARNING, 4, 12)
    assert f.pointer == "/metadata/project"
    assert f.file == "blueprints/bp0.yaml"


def test_reserved_prefix_is_not_rewritten_but_rejected() -> None:
    res = bucket(project="xn--sales", purpose="landing")
    assert res.name == "xn--sales-landing-raw-dev-use1"
    assert codes(res) == ["DPN103"]
    assert "starts with 'xn--', which is reserved" in res.issues[0].message


def test_explicit_name_is_validated_as_written_not_normalised() -> None:
    res = bucket(explicit="Data_Platform")
    assert res.name == "Data_Platform"
    assert "DPN102" in codes(res)
    assert "DPN040" not in codes(res)


def test_explicit_name_that_differs_from_the_convention_is_a_warning() -> None:
    res = bucket(explicit="legacy-landing-bucket")
    assert res.name == "legacy-landing-bucket"
    assert res.convention == "dp-p-raw-dev-use1"
    [issue] = res.issues
    assert issue.code == "DPN041"
    assert issue.message == (
        "explicit name 'legacy-landing-bucket' differs from the convention 'dp-p-raw-dev-use1'"
    )


def test_explicit_name_equal_to_the_convention_gives_nothing() -> None:
    res = bucket(explicit="dp-p-raw-dev-use1")
    assert res.issues == []


def test_explicit_name_is_never_shortened() -> None:
    res = name_of("aws_s3_bucket", explicit="b" * 70, on_too_long="hash", **BUCKET)
    assert res.name == "b" * 70
    assert codes(res) == ["DPN041", "DPN101"]


def test_explicit_name_needs_no_naming_values() -> None:
    res = name_of("aws_s3_bucket", explicit="legacy-landing-bucket")
    assert res.name == "legacy-landing-bucket"
    assert res.issues == []


def test_explicit_fifo_name_must_carry_the_suffix() -> None:
    res = name_of("aws_sqs_queue", explicit="orders", props={"fifo": True})
    assert codes(res) == ["DPN105"]


def test_generated_fifo_name_gets_the_suffix() -> None:
    values = {"project": "dp", "environment": "dev", "purpose": "orders", "queue_type": "events"}
    assert name_of("aws_sqs_queue", props={"fifo": True}, **values).name == (
        "dp-dev-orders-events.fifo"
    )
    assert name_of("aws_sqs_queue", props={"fifo": False}, **values).name == (
        "dp-dev-orders-events"
    )
    assert (
        name_of(
            "aws_sns_topic",
            props={"fifo": True},
            project="dp",
            environment="dev",
            event_type="order",
            purpose="created",
        ).name
        == "dp-dev-order-created.fifo"
    )


def test_explicit_name_warning_points_at_the_name_field(tmp_path: Path) -> None:
    yaml_bp = """
        version: "1.0"
        metadata: {environment: dev, project: dataplatform, region: us-east-1}
        resources:
          aws:
            s3_buckets:
              - purpose: landing
                layer: raw
                name: legacy-bucket
    """
    a, _ = analysed(tmp_path, yaml_bp)
    [f] = a.findings
    assert (f.code, f.severity, f.line, f.column) == ("DPN041", Severity.WARNING, 8, 15)


# --------------------------------------------------------------------------------------------
# length: error by default, hash on request

LONG_GLUE = {
    "project": "dataplatform",
    "domain": "customer_relationship_management",
    "layer": "bronze",
    "environment": "dev",
}
LONG_GLUE_FULL = "dataplatform_customer_relationship_management_bronze_dev"


def test_over_long_name_is_an_error_that_shows_the_name_and_limit() -> None:
    res = bucket(project="a" * 60, purpose="landing")
    assert res.name == "a" * 60 + "-landing-raw-dev-use1"
    [issue] = res.issues
    assert issue.code == "DPN101"
    assert issue.message == f"'{res.name}' is 81 characters; the limit is 63"
    assert "on_too_long: hash" in issue.hint


def test_hash_fit_has_a_known_stable_value() -> None:
    cfg = NamingConfig(max_length={"aws_glue_database": 40})
    res = name_of("aws_glue_database", cfg, on_too_long="hash", **LONG_GLUE)
    digest = hashlib.sha256(LONG_GLUE_FULL.encode()).hexdigest()[:8]
    assert digest == "b839ac00"
    assert res.name == "dataplatfo_customer_bronze_dev_b839ac00"
    [issue] = res.issues
    assert issue.code == "DPN042"
    assert issue.message == (
        f"'{LONG_GLUE_FULL}' is over the limit of 40; shortened to "
        "'dataplatfo_customer_bronze_dev_b839ac00'"
    )


def test_hash_fit_is_deterministic() -> None:
    cfg = NamingConfig(max_length={"aws_glue_database": 30})
    first = name_of("aws_glue_database", cfg, on_too_long="hash", **LONG_GLUE)
    second = name_of("aws_glue_database", cfg, on_too_long="hash", **LONG_GLUE)
    assert first.name == second.name
    assert first.name is not None
    assert len(first.name) <= 30


def test_hash_fit_follows_the_hash_settings() -> None:
    from dpn_action.naming.config import HashSettings

    cfg = NamingConfig(
        max_length={"aws_glue_database": 40},
        hash=HashSettings(algorithm="md5", length=6, prefix="h", separator="_"),
    )
    res = name_of("aws_glue_database", cfg, on_too_long="hash", **LONG_GLUE)
    digest = hashlib.md5(LONG_GLUE_FULL.encode()).hexdigest()[:6]
    assert res.name is not None
    assert res.name.endswith(f"_h{digest}")
    assert len(res.name) <= 40


def test_hash_fit_never_cuts_a_kept_component() -> None:
    cfg = NamingConfig(max_length={"aws_glue_database": 50})
    res = name_of(
        "aws_glue_database", cfg, on_too_long="hash", keep=frozenset({"domain"}), **LONG_GLUE
    )
    assert res.name is not None
    assert len(res.name) <= 50
    assert "_customer_relationship_management_" in res.name
    assert codes(res) == ["DPN042"]


def test_hash_fit_that_would_cut_a_kept_component_is_an_error() -> None:
    cfg = NamingConfig(max_length={"aws_glue_database": 40})
    res = name_of(
        "aws_glue_database", cfg, on_too_long="hash", keep=frozenset({"domain"}), **LONG_GLUE
    )
    assert res.name == LONG_GLUE_FULL
    assert codes(res) == ["DPN101", "DPN120"]
    assert "without cutting a kept component (keep: domain)" in res.issues[0].message


def test_hash_fit_measures_bytes_where_the_cloud_does() -> None:
    res = name_of(
        "aws_glue_database",
        on_too_long="hash",
        project="dataplatform",
        domain="d" * 300,
        layer="raw",
        environment="dev",
    )
    assert res.name is not None
    assert len(res.name.encode()) <= 255
    assert codes(res) == ["DPN042"]


def test_on_too_long_and_keep_from_the_patterns_file(tmp_path: Path) -> None:
    patterns = """
        version: "1.0"
        validation:
          max_length: {aws_glue_database: 50}
          on_too_long: {aws_glue_database: hash}
          keep: {aws_glue_database: [domain]}
    """
    entry = {"domain": LONG_GLUE["domain"], "layer": "bronze"}
    bp = blueprint({"aws": {"glue_databases": [entry]}})
    a, config_findings = analysed(tmp_path, bp, patterns=patterns)
    assert config_findings == []
    r = only(a, "aws_glue_database")
    assert r.name is not None
    assert len(r.name) <= 50
    assert "_customer_relationship_management_" in r.name
    assert [(f.code, f.severity) for f in a.findings] == [("DPN042", Severity.NOTE)]


def test_hash_fit_works_for_hyphen_separated_types() -> None:
    res = name_of(
        "aws_s3_bucket",
        on_too_long="hash",
        keep=frozenset({"environment"}),
        project="a" * 60,
        purpose="landing",
        layer="raw",
        environment="dev",
        region="us-east-1",
    )
    assert res.name is not None
    assert len(res.name) <= 63
    assert "-dev-" in res.name
    assert codes(res) == ["DPN042"]


def test_hash_fit_keeps_the_fifo_suffix() -> None:
    res = name_of(
        "aws_sqs_queue",
        on_too_long="hash",
        props={"fifo": True},
        project="p" * 100,
        environment="dev",
        purpose="orders",
        queue_type="events",
    )
    assert res.name is not None
    assert res.name.endswith(".fifo")
    assert len(res.name) <= 80
    assert codes(res) == ["DPN042"]


# --------------------------------------------------------------------------------------------
# user validation: only stricter


def test_user_max_length_above_the_cloud_limit_is_an_error_naming_that_limit(
    tmp_path: Path,
) -> None:
    patterns = """
        version: "1.0"
        validation:
          max_length:
            aws_s3_bucket: 80
            aws_glue_table: 300
    """
    ppath = write(tmp_path / "naming-patterns.yaml", dedented(patterns))
    cfg, findings = load_config(None, ppath)
    assert [(f.code, f.line, f.column) for f in findings] == [("DPN200", 4, 20), ("DPN200", 5, 21)]
    assert findings[0].message == (
        "max_length 80 for aws_s3_bucket is above the cloud's limit of 63 characters"
    )
    assert findings[1].message == (
        "max_length 300 for aws_glue_table is above the cloud's limit of 255 UTF-8 bytes"
    )
    assert "63" in findings[0].hint
    # the loosening is ignored: the cloud's limit stays in force
    assert "aws_s3_bucket" not in cfg.max_length


def test_stricter_user_max_length_is_enforced(tmp_path: Path) -> None:
    patterns = """
        version: "1.0"
        validation:
          max_length: {aws_s3_bucket: 20}
    """
    a, config_findings = analysed(
        tmp_path, blueprint({"aws": {"s3_buckets": [S3_ENTRY]}}), patterns=patterns
    )
    assert config_findings == []
    [f] = a.findings
    assert f.code == "DPN120"
    assert f.message == (
        "'dataplatform-landing-raw-dev-use1' is longer than max_length 20 set for aws_s3_bucket"
    )


def test_stricter_user_allowed_chars_is_enforced() -> None:
    cfg = NamingConfig(allowed_chars={"aws_sqs_queue": re.compile(r"[a-z-]+")})
    values = {"project": "dp", "environment": "dev", "queue_type": "events"}
    assert name_of("aws_sqs_queue", cfg, purpose="orders", **values).issues == []
    res = name_of("aws_sqs_queue", cfg, purpose="orders2", **values)
    assert codes(res) == ["DPN120"]
    assert "does not match allowed_chars '[a-z-]+' set for aws_sqs_queue" in res.issues[0].message


def test_invalid_allowed_chars_regex_is_a_config_error(tmp_path: Path) -> None:
    ppath = write(
        tmp_path / "naming-patterns.yaml",
        'version: "1.0"\nvalidation:\n  allowed_chars:\n    aws_sqs_queue: "[a-z"\n',
    )
    _, findings = load_config(None, ppath)
    assert [(f.code, f.line) for f in findings] == [("DPN201", 4)]


# --------------------------------------------------------------------------------------------
# derived values follow the layer that set them


def test_region_from_a_higher_layer_derives_its_own_region_short(tmp_path: Path) -> None:
    values = "version: '1.0'\ndefaults:\n  region: us-east-1\n  region_short: use1\n"
    bp = blueprint({"aws": {"s3_buckets": [S3_ENTRY]}})
    bp["metadata"]["region"] = "eu-central-1"
    a, _ = analysed(tmp_path, bp, values=values)
    assert [r.name for r in a.resources] == ["dataplatform-landing-raw-dev-euc1"]


def test_override_of_environment_also_selects_that_environments_values(tmp_path: Path) -> None:
    values = (
        "version: '1.0'\nenvironments:\n  dev:\n    purpose: devonly\n"
        "  prd:\n    purpose: prdonly\n"
    )
    a, _ = analysed(
        tmp_path,
        blueprint({"aws": {"s3_buckets": [{"layer": "raw"}]}}),
        values=values,
        overrides={"environment": "prd"},
    )
    assert [r.name for r in a.resources] == ["dataplatform-prdonly-raw-prd-use1"]
