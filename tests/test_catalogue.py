"""The resource-type catalogue, checked as a whole and then type by type.

The first half walks every entry of the catalogue (its pattern, its rules and their sources,
its character classes). The second half is a table of example names per type, valid and
invalid, each invalid one with the exact finding code(s) the cloud rules give it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from dpn_action.findings import CODES, Severity
from dpn_action.naming.catalogue import CATALOGUE, CHILDREN, COLLECTIONS, PLACEHOLDER
from dpn_action.naming.config import NamingConfig, pattern_problem
from dpn_action.naming.engine import Sourced, make_name
from dpn_action.naming.rules import CHECKS, LEVELS, check

TYPES = list(CATALOGUE.values())
TYPE_IDS = [t.key for t in TYPES]

# --------------------------------------------------------------------------------------------
# the catalogue as a whole


def test_catalogue_has_27_types_13_aws_and_14_databricks() -> None:
    assert len(CATALOGUE) == 27
    providers = [t.provider for t in TYPES]
    assert providers.count("aws") == 13
    assert providers.count("databricks") == 14


def test_type_keys_are_prefixed_by_their_provider() -> None:
    for t in TYPES:
        prefix = "aws_" if t.provider == "aws" else "dbx_"
        assert t.key.startswith(prefix), t.key


def test_every_type_has_one_place_in_a_blueprint() -> None:
    top = {t.key for t in COLLECTIONS.values()}
    nested = {c.key for kids in CHILDREN.values() for c in kids}
    assert top | nested == set(CATALOGUE)
    assert not top & nested
    for t in TYPES:
        if t.parent is not None:
            assert t.parent in CATALOGUE
            assert t in CHILDREN[t.parent]


def test_unity_catalog_tree_is_catalog_schema_table_and_volume() -> None:
    assert CATALOGUE["dbx_catalog"].collection == ("databricks", "unity_catalog", "catalogs")
    assert [c.key for c in CHILDREN["dbx_catalog"]] == ["dbx_schema"]
    assert sorted(c.key for c in CHILDREN["dbx_schema"]) == ["dbx_table", "dbx_volume"]


@pytest.mark.parametrize("t", TYPES, ids=TYPE_IDS)
def test_pattern_placeholders_parse(t: Any) -> None:
    assert pattern_problem(t.pattern) is None
    names = t.placeholders()
    assert names, f"{t.key} has a pattern without placeholders"
    # Nothing that looks like a brace is left once the placeholders are taken out.
    assert "{" not in PLACEHOLDER.sub("", t.pattern)
    assert "}" not in PLACEHOLDER.sub("", t.pattern)
    for extra in (*t.optional, *t.defaults):
        assert extra in names, f"{t.key}: {extra} is not a placeholder of its pattern"


@pytest.mark.parametrize("t", TYPES, ids=TYPE_IDS)
def test_every_rule_kind_exists_and_has_an_https_source(t: Any) -> None:
    assert t.rules, f"{t.key} has no rules"
    for rule in t.rules:
        assert rule.kind in CHECKS, rule.kind
        assert rule.source.startswith("https://"), (t.key, rule.kind, rule.source)
        assert rule.code in CODES
        assert CODES[rule.code].severity is Severity.ERROR
        assert rule.describe()


@pytest.mark.parametrize("t", TYPES, ids=TYPE_IDS)
def test_every_type_has_exactly_one_hard_length_rule(t: Any) -> None:
    lengths = [r for r in t.rules if r.kind == "length" and r.hard]
    assert len(lengths) == 1
    for rule in (r for r in t.rules if r.kind == "length"):
        lo, hi = rule.arg
        assert lo >= 1
        assert hi is None or hi >= lo
        assert rule.opts.get("unit", "chars") in ("chars", "bytes")


@pytest.mark.parametrize("t", TYPES, ids=TYPE_IDS)
def test_every_rule_says_whose_it_is(t: Any) -> None:
    for rule in t.rules:
        assert rule.level in LEVELS, (t.key, rule.kind)
        assert rule.severity in (Severity.ERROR, Severity.WARNING)
        assert rule.hard == (rule.severity is Severity.ERROR)


@pytest.mark.parametrize("t", TYPES, ids=TYPE_IDS)
def test_character_classes_compile_as_regex_classes(t: Any) -> None:
    classes = [t.value_chars]
    classes += [r.arg for r in t.rules if r.kind in ("charset", "edges")]
    sample = [chr(c) for c in range(0x20, 0x7F)] + ["\u00e9", "\u2028"]
    for body in classes:
        inside, outside = re.compile(f"[{body}]"), re.compile(f"[^{body}]")
        # each is one class of one character: every character is in exactly one of the two
        assert all(bool(inside.fullmatch(c)) != bool(outside.fullmatch(c)) for c in sample), body
        assert any(inside.fullmatch(c) for c in sample), body


@pytest.mark.parametrize("t", TYPES, ids=TYPE_IDS)
def test_value_alphabet_holds_the_separator(t: Any) -> None:
    assert re.fullmatch(f"[{t.value_chars}]", t.separator), t.key


@pytest.mark.parametrize("t", TYPES, ids=TYPE_IDS)
def test_lowercase_types_have_a_lowercase_value_alphabet(t: Any) -> None:
    if t.lowercase:
        assert not re.search(f"[{t.value_chars}]", "ABCXYZ"), t.key


@pytest.mark.parametrize("t", TYPES, ids=TYPE_IDS)
def test_references_point_at_catalogue_types(t: Any) -> None:
    for ref_field, target in t.refs.items():
        assert ref_field.endswith("_ref")
        assert target in CATALOGUE
    if t.parent_ref is not None:
        assert t.parent_ref in t.refs


#: plausible values for every placeholder of the default patterns
PLAUSIBLE = {
    "project": "dataplatform",
    "purpose": "landing",
    "layer": "raw",
    "environment": "dev",
    "region": "us-east-1",
    "domain": "sales",
    "entity": "orders",
    "table_type": "fact",
    "database": "sales",
    "source": "kafka",
    "trigger": "s3",
    "action": "ingest",
    "service": "glue",
    "destination": "s3",
    "event_type": "order",
    "queue_type": "events",
    "workflow": "daily",
    "workload": "etl",
    "cluster_type": "shared",
    "job_type": "batch",
    "schedule": "daily",
    "notebook_name": "load_orders",
    "repo_purpose": "pipelines",
    "pipeline_type": "cdc",
    "target": "bronze",
    "size": "small",
    "catalog_type": "main",
    "data_type": "raw",
    "node_type": "i3",
    "policy_type": "shared",
}


@pytest.mark.parametrize("t", TYPES, ids=TYPE_IDS)
def test_default_pattern_with_plausible_values_passes_its_own_rules(t: Any) -> None:
    values = {k: Sourced(v, "test") for k, v in PLAUSIBLE.items()}
    res = make_name(t, values, NamingConfig())
    assert res.issues == []
    assert res.name is not None
    assert check(t.rules, res.name, {}) == []
    for var in t.placeholders():
        if var == "region_short":
            assert "use1" in res.name
        else:
            assert PLAUSIBLE[var] in res.name


def test_the_original_examples_render_as_documented() -> None:
    values = {k: Sourced(v, "test") for k, v in PLAUSIBLE.items()}
    s3 = make_name(CATALOGUE["aws_s3_bucket"], dict(values), NamingConfig())
    assert s3.name == "dataplatform-landing-raw-dev-use1"
    notebook = make_name(CATALOGUE["dbx_notebook_path"], dict(values), NamingConfig())
    assert notebook.name == "/dataplatform/sales/landing/dev/load_orders"


# --------------------------------------------------------------------------------------------
# example names, type by type

FIFO = {"fifo": True}

#: (type, id, name, creation properties)
VALID: list[tuple[str, str, str, dict[str, Any]]] = [
    # S3
    ("aws_s3_bucket", "convention", "dataplatform-landing-raw-dev-use1", {}),
    ("aws_s3_bucket", "three-chars", "abc", {}),
    ("aws_s3_bucket", "63-chars", "a" * 63, {}),
    ("aws_s3_bucket", "xn-not-at-start", "my-xn--bucket", {}),
    # Glue
    ("aws_glue_database", "convention", "dataplatform_sales_bronze_dev", {}),
    ("aws_glue_database", "one-char", "a", {}),
    ("aws_glue_database", "255-bytes", "a" * 255, {}),
    ("aws_glue_table", "convention", "fact_orders", {}),
    ("aws_glue_table", "255-bytes", "t" * 255, {}),
    ("aws_glue_crawler", "convention", "dataplatform-dev-crawler-sales-s3", {}),
    ("aws_glue_crawler", "spaces-and-unicode", "Crawler für Données", {}),
    ("aws_glue_crawler", "255-bytes", "c" * 255, {}),
    # Lambda
    ("aws_lambda_function", "convention", "dataplatform-dev-sales-s3-ingest", {}),
    ("aws_lambda_function", "mixed-case", "Ingest_Orders-v2", {}),
    ("aws_lambda_function", "64-chars", "f" * 64, {}),
    # IAM
    ("aws_iam_role", "convention", "dataplatform-dev-glue-crawler-role", {}),
    ("aws_iam_role", "all-punctuation", "Role+=,.@_-1", {}),
    ("aws_iam_role", "64-chars", "r" * 64, {}),
    ("aws_iam_policy", "convention", "dataplatform-dev-s3-read-policy", {}),
    ("aws_iam_policy", "128-chars", "p" * 128, {}),
    # Kinesis, Firehose, DynamoDB
    ("aws_kinesis_stream", "convention", "dataplatform-dev-sales-kafka-stream", {}),
    ("aws_kinesis_stream", "128-chars", "s" * 128, {}),
    ("aws_kinesis_stream", "dots-and-underscores", "Sales.orders_v1", {}),
    ("aws_kinesis_firehose", "convention", "dataplatform-dev-sales-to-s3", {}),
    ("aws_kinesis_firehose", "64-chars", "h" * 64, {}),
    ("aws_dynamodb_table", "convention", "dataplatform-dev-orders-state", {}),
    ("aws_dynamodb_table", "three-chars", "abc", {}),
    ("aws_dynamodb_table", "255-chars", "d" * 255, {}),
    ("aws_dynamodb_table", "dots", "Orders.v1_table-x", {}),
    # SNS
    ("aws_sns_topic", "convention", "dataplatform-dev-order-created", {}),
    ("aws_sns_topic", "256-chars", "n" * 256, {}),
    ("aws_sns_topic", "fifo-251-plus-suffix", "n" * 251 + ".fifo", FIFO),
    ("aws_sns_topic", "fifo-short", "orders.fifo", FIFO),
    # SQS
    ("aws_sqs_queue", "convention", "dataplatform-dev-orders-events", {}),
    ("aws_sqs_queue", "80-chars", "q" * 80, {}),
    ("aws_sqs_queue", "fifo-75-plus-suffix", "q" * 75 + ".fifo", FIFO),
    # Step Functions
    ("aws_step_function", "convention", "dataplatform-dev-daily-load", {}),
    ("aws_step_function", "80-chars", "w" * 80, {}),
    # Databricks workspace: a DNS label
    ("dbx_workspace", "convention", "dbx-dataplatform-analytics-dev-use1", {}),
    ("dbx_workspace", "one-char", "a", {}),
    ("dbx_workspace", "63-chars", "w" * 63, {}),
    # free-text names
    ("dbx_cluster", "convention", "dataplatform-etl-shared-dev", {}),
    ("dbx_cluster", "free-text", "Shared cluster (ETL) — nightly", {}),
    ("dbx_job", "convention", "dataplatform-batch-transformation-prd", {}),
    ("dbx_job", "4096-bytes", "j" * 4096, {}),
    ("dbx_job", "free-text", "Nightly load: sales & returns", {}),
    ("dbx_pipeline", "convention", "dataplatform-cdc-kafka-bronze-dev", {}),
    ("dbx_pipeline", "free-text", "Pipeline: sales (bronze)", {}),
    ("dbx_sql_warehouse", "convention", "dataplatform-sql-bi-small-dev", {}),
    ("dbx_sql_warehouse", "99-chars", "h" * 99, {}),
    ("dbx_instance_pool", "convention", "dataplatform-pool-i3-etl-dev", {}),
    ("dbx_instance_pool", "100-chars", "p" * 100, {}),
    ("dbx_instance_pool", "free-text", "Pool for ETL (i3.xlarge)", {}),
    ("dbx_policy", "convention", "dataplatform-etl-shared-dev", {}),
    ("dbx_policy", "100-chars", "p" * 100, {}),
    # workspace paths
    ("dbx_notebook_path", "convention", "/dataplatform/sales/etl/dev/load_orders", {}),
    ("dbx_notebook_path", "user-folder", "/Users/someone@example.com/Load Orders", {}),
    ("dbx_notebook_path", "dotted-name", "/Shared/etl/v1.2/load", {}),
    ("dbx_repo", "convention", "dataplatform-pipelines-dev", {}),
    ("dbx_repo", "repos-folder-repo", "/Repos/team/dataplatform-pipelines", {}),
    ("dbx_repo", "workspace-path", "/Workspace/Shared/a/b/c", {}),
    # Unity Catalog
    ("dbx_catalog", "convention", "dataplatform_main_dev", {}),
    ("dbx_catalog", "255-chars", "c" * 255, {}),
    ("dbx_catalog", "hyphen", "main-dev", {}),
    ("dbx_schema", "convention", "sales_raw", {}),
    ("dbx_schema", "unicode-lower", "données", {}),
    ("dbx_table", "convention", "fact_orders", {}),
    ("dbx_table", "255-chars", "t" * 255, {}),
    ("dbx_volume", "convention", "raw_landing", {}),
    ("dbx_volume", "digits-first", "2024_files", {}),
    # secret scope
    ("dbx_secret_scope", "convention", "dataplatform-keyvault-dev", {}),
    ("dbx_secret_scope", "128-chars", "k" * 128, {}),
    ("dbx_secret_scope", "dots-underscores", "kv.prod_1", {}),
]

#: (type, id, name, creation properties, the exact finding codes in rule order)
INVALID: list[tuple[str, str, str, dict[str, Any], tuple[str, ...]]] = [
    # S3: length, characters, shape, reserved prefixes and suffixes
    ("aws_s3_bucket", "two-chars", "ab", {}, ("DPN101",)),
    ("aws_s3_bucket", "64-chars", "a" * 64, {}, ("DPN101",)),
    ("aws_s3_bucket", "upper-case", "data-Bucket", {}, ("DPN102",)),
    ("aws_s3_bucket", "underscore", "data_bucket", {}, ("DPN102",)),
    ("aws_s3_bucket", "space", "data bucket", {}, ("DPN102",)),
    ("aws_s3_bucket", "starts-with-hyphen", "-bucket", {}, ("DPN105",)),
    ("aws_s3_bucket", "ends-with-hyphen", "bucket-", {}, ("DPN105",)),
    ("aws_s3_bucket", "ends-with-dot", "bucket.", {}, ("DPN105",)),
    ("aws_s3_bucket", "double-dot", "data..bucket", {}, ("DPN105",)),
    ("aws_s3_bucket", "ip-shaped", "192.168.5.4", {}, ("DPN105",)),
    ("aws_s3_bucket", "xn--prefix", "xn--bucket", {}, ("DPN103",)),
    ("aws_s3_bucket", "sthree-prefix", "sthree-bucket", {}, ("DPN103",)),
    ("aws_s3_bucket", "amzn-s3-demo-prefix", "amzn-s3-demo-bucket", {}, ("DPN103",)),
    ("aws_s3_bucket", "s3alias-suffix", "bucket-s3alias", {}, ("DPN104",)),
    ("aws_s3_bucket", "ol-s3-suffix", "bucket--ol-s3", {}, ("DPN104",)),
    ("aws_s3_bucket", "mrap-suffix", "bucket.mrap", {}, ("DPN104",)),
    ("aws_s3_bucket", "x-s3-suffix", "bucket--x-s3", {}, ("DPN104",)),
    ("aws_s3_bucket", "table-s3-suffix", "bucket--table-s3", {}, ("DPN104",)),
    # Glue database and table: 255 UTF-8 bytes, lower-case [a-z0-9_]
    ("aws_glue_database", "empty", "", {}, ("DPN101",)),
    ("aws_glue_database", "256-bytes", "a" * 256, {}, ("DPN101",)),
    ("aws_glue_database", "200-e-acute-is-400-bytes", "é" * 200, {}, ("DPN101", "DPN102")),
    ("aws_glue_database", "hyphen", "sales-db", {}, ("DPN102",)),
    ("aws_glue_database", "upper-case", "Sales_db", {}, ("DPN102", "DPN106")),
    ("aws_glue_table", "empty", "", {}, ("DPN101",)),
    ("aws_glue_table", "256-bytes", "t" * 256, {}, ("DPN101",)),
    ("aws_glue_table", "128-e-acute-is-256-bytes", "é" * 128, {}, ("DPN101", "DPN102")),
    ("aws_glue_table", "dot", "fact.orders", {}, ("DPN102",)),
    ("aws_glue_table", "space", "fact orders", {}, ("DPN102",)),
    # Glue crawler: 1-255 bytes, single line
    ("aws_glue_crawler", "empty", "", {}, ("DPN101",)),
    ("aws_glue_crawler", "256-bytes", "c" * 256, {}, ("DPN101",)),
    ("aws_glue_crawler", "128-e-acute-is-256-bytes", "é" * 128, {}, ("DPN101",)),
    ("aws_glue_crawler", "newline", "crawler\nname", {}, ("DPN102",)),
    ("aws_glue_crawler", "nul", "crawler\x00", {}, ("DPN102",)),
    ("aws_glue_crawler", "non-character", "crawler\uffff", {}, ("DPN102",)),
    # Lambda
    ("aws_lambda_function", "empty", "", {}, ("DPN101",)),
    ("aws_lambda_function", "65-chars", "f" * 65, {}, ("DPN101",)),
    ("aws_lambda_function", "dot", "ingest.orders", {}, ("DPN102",)),
    ("aws_lambda_function", "space", "ingest orders", {}, ("DPN102",)),
    ("aws_lambda_function", "umlaut", "fünf", {}, ("DPN102",)),
    # IAM: ASCII [\w+=,.@-]
    ("aws_iam_role", "empty", "", {}, ("DPN101",)),
    ("aws_iam_role", "65-chars", "r" * 65, {}, ("DPN101",)),
    ("aws_iam_role", "e-acute", "rolé", {}, ("DPN102",)),
    ("aws_iam_role", "slash", "service/role", {}, ("DPN102",)),
    ("aws_iam_role", "space", "my role", {}, ("DPN102",)),
    ("aws_iam_policy", "empty", "", {}, ("DPN101",)),
    ("aws_iam_policy", "129-chars", "p" * 129, {}, ("DPN101",)),
    ("aws_iam_policy", "e-acute", "politiqué", {}, ("DPN102",)),
    ("aws_iam_policy", "colon", "policy:read", {}, ("DPN102",)),
    # Kinesis, Firehose, DynamoDB
    ("aws_kinesis_stream", "empty", "", {}, ("DPN101",)),
    ("aws_kinesis_stream", "129-chars", "s" * 129, {}, ("DPN101",)),
    ("aws_kinesis_stream", "slash", "sales/orders", {}, ("DPN102",)),
    ("aws_kinesis_stream", "space", "sales orders", {}, ("DPN102",)),
    ("aws_kinesis_firehose", "empty", "", {}, ("DPN101",)),
    ("aws_kinesis_firehose", "65-chars", "h" * 65, {}, ("DPN101",)),
    ("aws_kinesis_firehose", "colon", "sales:s3", {}, ("DPN102",)),
    ("aws_dynamodb_table", "two-chars", "ab", {}, ("DPN101",)),
    ("aws_dynamodb_table", "256-chars", "d" * 256, {}, ("DPN101",)),
    ("aws_dynamodb_table", "hash-sign", "orders#1", {}, ("DPN102",)),
    ("aws_dynamodb_table", "space", "orders table", {}, ("DPN102",)),
    # SNS: 256, FIFO 251 + '.fifo', '.fifo' only when fifo: true
    ("aws_sns_topic", "empty", "", {}, ("DPN101",)),
    ("aws_sns_topic", "257-chars", "n" * 257, {}, ("DPN101",)),
    ("aws_sns_topic", "fifo-252-plus-suffix", "n" * 252 + ".fifo", FIFO, ("DPN101",)),
    ("aws_sns_topic", "fifo-suffix-without-fifo", "orders.fifo", {}, ("DPN105",)),
    ("aws_sns_topic", "fifo-without-suffix", "orders", FIFO, ("DPN105",)),
    ("aws_sns_topic", "fifo-suffix-alone", ".fifo", FIFO, ("DPN105",)),
    ("aws_sns_topic", "dot", "orders.created", {}, ("DPN102",)),
    # SQS: 80, FIFO 75 + '.fifo'
    ("aws_sqs_queue", "empty", "", {}, ("DPN101",)),
    ("aws_sqs_queue", "81-chars", "q" * 81, {}, ("DPN101",)),
    ("aws_sqs_queue", "fifo-76-plus-suffix", "q" * 76 + ".fifo", FIFO, ("DPN101",)),
    ("aws_sqs_queue", "fifo-suffix-without-fifo", "orders.fifo", {}, ("DPN105",)),
    ("aws_sqs_queue", "fifo-without-suffix", "orders", FIFO, ("DPN105",)),
    ("aws_sqs_queue", "fifo-suffix-alone", ".fifo", FIFO, ("DPN105",)),
    ("aws_sqs_queue", "dot", "orders.queue", {}, ("DPN102",)),
    # Step Functions
    ("aws_step_function", "empty", "", {}, ("DPN101",)),
    ("aws_step_function", "81-chars", "w" * 81, {}, ("DPN101",)),
    ("aws_step_function", "space", "daily load", {}, ("DPN102",)),
    ("aws_step_function", "bracket", "daily[load]", {}, ("DPN102",)),
    ("aws_step_function", "colon", "daily:load", {}, ("DPN102",)),
    ("aws_step_function", "81-bytes", "é" * 40 + "w", {}, ("DPN101",)),
    # workspace: a DNS label
    ("dbx_workspace", "empty", "", {}, ("DPN101",)),
    # free-text names: no control characters
    ("dbx_cluster", "empty", "", {}, ("DPN101",)),
    ("dbx_job", "empty", "", {}, ("DPN101",)),
    ("dbx_job", "4097-bytes", "j" * 4097, {}, ("DPN101",)),
    ("dbx_pipeline", "empty", "", {}, ("DPN101",)),
    ("dbx_sql_warehouse", "empty", "", {}, ("DPN101",)),
    ("dbx_sql_warehouse", "100-chars", "h" * 100, {}, ("DPN101",)),
    ("dbx_instance_pool", "empty", "", {}, ("DPN101",)),
    ("dbx_instance_pool", "101-chars", "p" * 101, {}, ("DPN101",)),
    ("dbx_policy", "empty", "", {}, ("DPN101",)),
    ("dbx_policy", "101-chars", "p" * 101, {}, ("DPN101",)),
    # notebook paths: absolute and clean
    ("dbx_notebook_path", "relative", "dataplatform/sales/load", {}, ("DPN105",)),
    ("dbx_notebook_path", "double-slash", "/dataplatform//load", {}, ("DPN105",)),
    ("dbx_notebook_path", "dot-segment", "/dataplatform/./load", {}, ("DPN105",)),
    ("dbx_notebook_path", "dot-dot-segment", "/dataplatform/../load", {}, ("DPN105",)),
    ("dbx_notebook_path", "trailing-dot-dot", "/dataplatform/..", {}, ("DPN105",)),
    ("dbx_notebook_path", "trailing-slash", "/dataplatform/sales/", {}, ("DPN105",)),
    ("dbx_notebook_path", "4097-bytes", "/" + "n" * 4096, {}, ("DPN101",)),
    # repos: under /Repos exactly /Repos/{folder}/{repo}
    ("dbx_repo", "repos-without-repo", "/Repos/team", {}, ("DPN105",)),
    ("dbx_repo", "repos-too-deep", "/Repos/team/repo/extra", {}, ("DPN105",)),
    ("dbx_repo", "repos-empty-folder", "/Repos//repo", {}, ("DPN105",)),
    ("dbx_repo", "repos-trailing-slash", "/Repos/team/", {}, ("DPN105",)),
    ("dbx_repo", "repos-alone", "/Repos", {}, ("DPN105",)),
    ("dbx_repo", "empty", "", {}, ("DPN101",)),
    # Unity Catalog: <=255, no '.', space, '/', control characters; lower case
    ("dbx_catalog", "empty", "", {}, ("DPN101",)),
    ("dbx_catalog", "256-chars", "c" * 256, {}, ("DPN101",)),
    ("dbx_catalog", "dot", "main.dev", {}, ("DPN102",)),
    ("dbx_catalog", "upper-case", "Main", {}, ("DPN106",)),
    ("dbx_schema", "space", "sales raw", {}, ("DPN102",)),
    ("dbx_schema", "slash", "sales/raw", {}, ("DPN102",)),
    ("dbx_schema", "control-char", "sales\x01raw", {}, ("DPN102",)),
    ("dbx_schema", "upper-case", "Sales_Raw", {}, ("DPN106",)),
    ("dbx_table", "256-chars", "t" * 256, {}, ("DPN101",)),
    ("dbx_table", "dot", "fact.orders", {}, ("DPN102",)),
    ("dbx_table", "upper-case", "FACT_orders", {}, ("DPN106",)),
    ("dbx_volume", "space", "raw files", {}, ("DPN102",)),
    ("dbx_volume", "newline", "raw\nfiles", {}, ("DPN102",)),
    ("dbx_volume", "upper-case", "Raw_Files", {}, ("DPN106",)),
    # secret scope
    ("dbx_secret_scope", "empty", "", {}, ("DPN101",)),
    ("dbx_secret_scope", "129-chars", "k" * 129, {}, ("DPN101",)),
    ("dbx_secret_scope", "space", "key vault", {}, ("DPN102",)),
    ("dbx_secret_scope", "slash", "kv/prod", {}, ("DPN102",)),
]


#: (type, id, name, creation properties, the exact codes of the advice and house rules it
#: breaks, each a warning): names the cloud accepts, with something to say about them
ADVISED: list[tuple[str, str, str, dict[str, Any], tuple[str, ...]]] = [
    ("aws_s3_bucket", "dots-inside", "logs.example-1", {}, ("DPN102",)),
    ("aws_s3_bucket", "almost-ip", "192.168.5.4a", {}, ("DPN102",)),
    ("aws_step_function", "dot", "daily.load", {}, ("DPN102",)),
    ("aws_step_function", "unicode", "tägliche-ladung", {}, ("DPN102",)),
    ("aws_glue_crawler", "tab", "crawler\tname", {}, ("DPN102",)),
    ("dbx_workspace", "64-chars", "w" * 64, {}, ("DPN101",)),
    ("dbx_workspace", "underscore", "dbx_analytics", {}, ("DPN102",)),
    ("dbx_workspace", "upper-case-inside", "dbx-Analytics", {}, ("DPN102",)),
    ("dbx_workspace", "starts-with-hyphen", "-dbx", {}, ("DPN105",)),
    ("dbx_workspace", "ends-with-hyphen", "dbx-", {}, ("DPN105",)),
    ("dbx_cluster", "newline", "etl\ncluster", {}, ("DPN102",)),
    ("dbx_cluster", "escape-char", "\x1b[31metl", {}, ("DPN102",)),
    ("dbx_job", "nul", "job\x00", {}, ("DPN102",)),
    ("dbx_pipeline", "newline", "cdc\npipeline", {}, ("DPN102",)),
    ("dbx_pipeline", "bell", "cdc\x07", {}, ("DPN102",)),
    ("dbx_sql_warehouse", "tab", "bi\twarehouse", {}, ("DPN102",)),
    ("dbx_instance_pool", "newline", "pool\n", {}, ("DPN102",)),
    ("dbx_policy", "newline", "policy\nname", {}, ("DPN102",)),
    ("dbx_notebook_path", "newline", "/dataplatform/lo\nad", {}, ("DPN102",)),
]


def _example_id(row: tuple[Any, ...]) -> str:
    return f"{row[0]}-{row[1]}"


def test_example_ids_are_unique() -> None:
    ids = [_example_id(r) for r in VALID + INVALID + ADVISED]
    assert len(ids) == len(set(ids))


def test_every_type_has_two_valid_examples_and_three_that_are_not() -> None:
    for key in CATALOGUE:
        assert sum(1 for r in VALID if r[0] == key) >= 2, key
        assert sum(1 for r in INVALID if r[0] == key) >= 1, key
        assert sum(1 for r in INVALID + ADVISED if r[0] == key) >= 3, key


@pytest.mark.parametrize(("key", "label", "name", "props"), VALID, ids=map(_example_id, VALID))
def test_valid_example_passes_every_rule(
    key: str, label: str, name: str, props: dict[str, Any]
) -> None:
    assert [v.message for v in check(CATALOGUE[key].rules, name, props)] == []


@pytest.mark.parametrize(
    ("key", "label", "name", "props", "codes"), INVALID, ids=map(_example_id, INVALID)
)
def test_invalid_example_gives_the_exact_codes(
    key: str, label: str, name: str, props: dict[str, Any], codes: tuple[str, ...]
) -> None:
    violations = check(CATALOGUE[key].rules, name, props)
    errors = [v for v in violations if v.severity is Severity.ERROR]
    assert tuple(v.code for v in errors) == codes, [v.message for v in violations]
    for v in violations:
        assert v.message
        assert v.hint
        assert v.rule.source.startswith("https://")


@pytest.mark.parametrize(
    ("key", "label", "name", "props", "codes"), ADVISED, ids=map(_example_id, ADVISED)
)
def test_advised_example_gives_the_exact_warnings_and_no_error(
    key: str, label: str, name: str, props: dict[str, Any], codes: tuple[str, ...]
) -> None:
    violations = check(CATALOGUE[key].rules, name, props)
    assert [(v.code, v.severity) for v in violations] == [(c, Severity.WARNING) for c in codes]
    for v in violations:
        assert v.rule.note in v.hint
        assert "advice" in v.message or "house rule" in v.message


# --------------------------------------------------------------------------------------------
# messages that carry the numbers a user needs


def test_length_in_bytes_is_reported_in_bytes() -> None:
    [v, _] = check(CATALOGUE["aws_glue_database"].rules, "é" * 200, {})
    assert v.code == "DPN101"
    assert "400 UTF-8 bytes; the limit is 255" in v.message


def test_length_in_characters_is_reported_in_characters() -> None:
    [v] = check(CATALOGUE["aws_s3_bucket"].rules, "a" * 64, {})
    assert "64 characters; the limit is 63" in v.message


def test_charset_violation_names_the_character_and_its_position() -> None:
    [v] = check(CATALOGUE["aws_iam_role"].rules, "rolé", {})
    assert "'é' at position 4" in v.message


def test_reserved_prefix_is_named() -> None:
    [v] = check(CATALOGUE["aws_s3_bucket"].rules, "xn--bucket", {})
    assert "starts with 'xn--', which is reserved" in v.message


def test_reserved_suffix_is_named() -> None:
    [v] = check(CATALOGUE["aws_s3_bucket"].rules, "bucket--table-s3", {})
    assert "ends with '--table-s3', which is reserved" in v.message


def test_control_character_is_shown_as_a_code_point() -> None:
    [v] = check(CATALOGUE["dbx_cluster"].rules, "etl\ncluster", {})
    assert "U+000A at position 4" in v.message


def test_fifo_suffix_does_not_count_against_the_character_set() -> None:
    sqs = CATALOGUE["aws_sqs_queue"]
    assert check(sqs.rules, "orders.fifo", FIFO) == []
    # ... but only as a suffix: a '.' elsewhere is still outside the alphabet.
    assert [v.code for v in check(sqs.rules, "or.ders.fifo", FIFO)] == ["DPN102"]


def test_fifo_budgets_leave_room_for_the_suffix() -> None:
    for key, body in (("aws_sns_topic", 251), ("aws_sqs_queue", 75)):
        t = CATALOGUE[key]
        assert t.fifo_suffix == ".fifo"
        assert check(t.rules, "x" * body + ".fifo", FIFO) == []
        assert [v.code for v in check(t.rules, "x" * (body + 1) + ".fifo", FIFO)] == ["DPN101"]
