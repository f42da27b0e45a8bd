"""Findings people can act on: patterns that cannot lose a segment quietly, findings in cause
order, hints from the type's own pattern, plain grammar, syntax errors where they start."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import analysed, at, blueprint, dedented, found, only

from dpn_action.findings import Finding, Severity, plural
from dpn_action.formatters import format_findings
from dpn_action.naming.catalogue import CATALOGUE, article
from dpn_action.naming.rules import check
from dpn_action.source import parse_text

# --------------------------------------------------------------------------------------------
# patterns that cannot lose a segment quietly


def test_an_unknown_placeholder_is_an_error_that_says_what_was_meant(tmp_path: Path) -> None:
    patterns = """
        version: "1.0"
        patterns:
          aws_s3_bucket: "{project}-{ownr}-{purpose}-{layer}"
    """
    bp = blueprint({"aws": {"s3_buckets": [{"purpose": "landing", "layer": "raw"}]}})
    a, config_findings = analysed(tmp_path, bp, patterns=patterns)
    [f] = config_findings
    assert f.code == "DPN203"
    assert f.severity is Severity.ERROR
    assert f.message.startswith("placeholder {ownr} in the pattern of aws_s3_bucket")
    assert "every aws_s3_bucket name would lose its segment" in f.message
    assert f.hint.startswith("Did you mean 'owner'?")
    assert f.file.endswith(".dpn/naming-patterns.yaml")
    assert f.line == 3
    # said once, as the error: not again as the names that lose the segment
    assert found(a, "DPN206") == []


@pytest.mark.parametrize(
    ("values", "validation"),
    [
        ("resource_types: {aws_s3_bucket: {squad: payments}}", ""),
        ("defaults: {squad: payments}", ""),
        ("", "validation: {required_variables: {aws_s3_bucket: [squad]}}"),
    ],
    ids=["value-for-the-type", "default-value", "required"],
)
def test_a_variable_of_your_own_is_known_once_declared(
    tmp_path: Path, values: str, validation: str
) -> None:
    patterns = f"""
        version: "1.0"
        patterns:
          aws_s3_bucket: "{{project}}-{{squad}}-{{purpose}}-{{layer}}"
        {validation}
    """
    bp = blueprint({"aws": {"s3_buckets": [{"purpose": "landing", "layer": "raw"}]}})
    _, config_findings = analysed(
        tmp_path, bp, patterns=patterns, values=f'version: "1.0"\n{values}\n' if values else None
    )
    assert [f.code for f in config_findings] == []


def test_names_that_lose_a_segment_are_listed_at_the_pattern(tmp_path: Path) -> None:
    # {domain} is a variable dpn knows (Glue databases use it), so entries may carry it; the
    # ones that do not lose its segment, and the pattern says which.
    patterns = """
        version: "1.0"
        patterns:
          aws_s3_bucket: "{project}-{domain}-{purpose}-{layer}"
    """
    buckets = [{"purpose": f"p{i}", "layer": "raw"} for i in range(7)]
    buckets.append({"purpose": "kept", "layer": "raw", "domain": "sales"})
    a, config_findings = analysed(
        tmp_path, blueprint({"aws": {"s3_buckets": buckets}}), patterns=patterns
    )
    assert config_findings == []
    [f] = a.findings
    assert f.code == "DPN206"
    assert f.severity is Severity.WARNING
    assert f.file.endswith(".dpn/naming-patterns.yaml")
    assert (f.line, f.pointer) == (3, "/patterns/aws_s3_bucket")
    assert f.message == (
        "{domain} in the pattern of aws_s3_bucket has no value for 7 of 8 aws_s3_bucket names, "
        "which lose its segment: 'dataplatform-p0-raw', 'dataplatform-p1-raw', "
        "'dataplatform-p2-raw', 'dataplatform-p3-raw', 'dataplatform-p4-raw' and 2 more"
    )
    assert "required_variables.aws_s3_bucket" in f.hint


def test_one_name_that_loses_a_segment_is_told_in_the_singular(tmp_path: Path) -> None:
    patterns = """
        version: "1.0"
        patterns:
          aws_iam_role: "{project}-{owner}-{service}-{purpose}"
    """
    bp = blueprint({"aws": {"iam_roles": [{"service": "glue", "purpose": "crawl"}]}})
    a, _ = analysed(tmp_path, bp, patterns=patterns)
    [f] = found(a, "DPN206")
    assert f.message == (
        "{owner} in the pattern of aws_iam_role has no value for 1 of 1 aws_iam_role name, "
        "which loses its segment: 'dataplatform-glue-crawl'"
    )


def test_a_segment_left_out_by_design_draws_no_finding(tmp_path: Path) -> None:
    # {schedule} is optional in the catalogue: a job without it drops it, as documented
    patterns = """
        version: "1.0"
        patterns:
          dbx_job: "{project}-{job_type}-{purpose}-{schedule}-{environment}"
    """
    bp = blueprint({"databricks": {"jobs": [{"job_type": "batch", "purpose": "load"}]}})
    a, config_findings = analysed(tmp_path, bp, patterns=patterns)
    assert config_findings == []
    assert a.findings == []
    assert only(a, "dbx_job").name == "dataplatform-batch-load-dev"


def test_an_explicit_name_loses_nothing(tmp_path: Path) -> None:
    patterns = """
        version: "1.0"
        patterns:
          aws_iam_role: "{project}-{owner}-{service}-{purpose}"
    """
    role = {"service": "glue", "purpose": "crawl", "name": "dataplatform-glue-crawl"}
    a, _ = analysed(tmp_path, blueprint({"aws": {"iam_roles": [role]}}), patterns=patterns)
    assert found(a, "DPN206") == []


# --------------------------------------------------------------------------------------------
# findings in cause order

TYPO_YAML = """
    version: "1.0"
    metadata: {environment: dev, project: dataplatform, region: us-east-1}
    resources:
      aws:
        s3_buckets:
          - layer: raw
            purpsoe: landing
"""


def _order(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_a_misspelt_key_comes_before_the_missing_value_it_causes(tmp_path: Path) -> None:
    a, _ = analysed(tmp_path, TYPO_YAML)
    assert _order(a.findings) == ["DPN014", "DPN030"]
    typo, missing = a.findings
    where = at(dedented(TYPO_YAML), "purpsoe")
    assert f"{typo.line}:{typo.column}" == f"{missing.line}:{missing.column}" == where
    assert typo.message == "unknown field 'purpsoe' in an S3 bucket entry"
    assert typo.hint == "Did you mean 'purpose'?"
    assert missing.message.startswith("aws_s3_bucket needs a value for {purpose}")
    assert missing.hint == "'purpsoe' on this entry looks like a misspelling: rename it 'purpose'"
    text = format_findings(a.findings, "text", tool_version="0")
    assert text.index("DPN014") < text.index("DPN030")


def test_the_same_order_in_json(tmp_path: Path) -> None:
    bp = blueprint({"aws": {"s3_buckets": [{"layer": "raw", "purpsoe": "landing"}]}})
    a, _ = analysed(tmp_path, bp)
    assert _order(a.findings) == ["DPN014", "DPN030"]


def test_a_naming_value_of_the_wrong_type_comes_before_the_missing_value(tmp_path: Path) -> None:
    bp = blueprint({"aws": {"s3_buckets": [{"layer": "raw", "purpose": ["landing"]}]}})
    a, _ = analysed(tmp_path, bp)
    assert _order(a.findings) == ["DPN010", "DPN030"]
    wrong, missing = a.findings
    assert (wrong.line, wrong.column) == (missing.line, missing.column)
    assert "write it as a string" in missing.hint


def test_a_missing_value_with_no_cause_in_the_entry_stays_at_the_entry(tmp_path: Path) -> None:
    a, _ = analysed(tmp_path, blueprint({"aws": {"s3_buckets": [{"layer": "raw"}]}}))
    [f] = a.findings
    assert f.code == "DPN030"
    assert f.pointer == "/resources/aws/s3_buckets/0"


# --------------------------------------------------------------------------------------------
# hints from the type's own pattern, and grammar


def test_a_clash_hint_names_the_types_own_variables(tmp_path: Path) -> None:
    tables = [
        {"database_ref": "db", "entity": "orders"},
        {"database_ref": "db", "entity": "orders"},
    ]
    databases = [{"id": "db", "domain": "sales", "layer": "raw"}]
    a, _ = analysed(
        tmp_path, blueprint({"aws": {"glue_databases": databases, "glue_tables": tables}})
    )
    [f] = found(a, "DPN130")
    assert f.hint == "change {table_type} or {entity} of one of them"
    assert "purpose" not in f.hint


def test_an_unknown_field_hint_names_the_types_own_pattern(tmp_path: Path) -> None:
    tables = [{"database_ref": "db", "entity": "orders", "zzz": "x"}]
    databases = [{"id": "db", "domain": "sales", "layer": "raw"}]
    a, _ = analysed(
        tmp_path, blueprint({"aws": {"glue_databases": databases, "glue_tables": tables}})
    )
    [f] = found(a, "DPN014")
    assert f.message == "unknown field 'zzz' in a Glue table entry"
    assert "table_type, entity" in f.hint
    assert "purpose" not in f.hint


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("aws_s3_bucket", "an S3 bucket"),
        ("aws_iam_role", "an IAM role"),
        ("aws_sns_topic", "an SNS topic"),
        ("aws_sqs_queue", "an SQS queue"),
        ("aws_glue_table", "a Glue table"),
        ("aws_dynamodb_table", "a DynamoDB table"),
        ("dbx_sql_warehouse", "a SQL warehouse"),
        ("dbx_instance_pool", "an Instance pool"),
        ("dbx_catalog", "a Unity Catalog catalog"),
    ],
)
def test_titles_take_the_article_they_are_spoken_with(key: str, expected: str) -> None:
    t = CATALOGUE[key]
    assert f"{t.article} {t.title}" == expected
    assert article(t.title) == t.article


def test_counts_agree_with_their_nouns() -> None:
    assert plural(1, "resource") == "1 resource"
    assert plural(2, "resource") == "2 resources"
    assert plural(2, "entry", "entries") == "2 entries"
    [v] = check(CATALOGUE["aws_s3_bucket"].rules[:1], "a", {})
    assert "'a' is 1 character; the minimum is 3" in v.message


def test_a_reference_to_a_missing_type_takes_its_article(tmp_path: Path) -> None:
    crawler = {"database": "sales", "source": "s3", "role_ref": "crawler-role"}
    a, _ = analysed(tmp_path, blueprint({"aws": {"glue_crawlers": [crawler]}}))
    [f] = found(a, "DPN020")
    assert f.message == "'crawler-role' refers to an IAM role, but the blueprint has none"


# --------------------------------------------------------------------------------------------
# syntax errors where they start


def test_a_tab_in_yaml_is_called_a_tab() -> None:
    text = 'version: "1.0"\nmetadata:\n\tenvironment: dev\n'
    [f] = parse_text(text, "bp.yaml").findings
    assert (f.code, f.line, f.column) == ("DPN001", 3, 1)
    assert f.message == "invalid YAML: found character '\\t', a tab, that cannot start any token"
    assert "never tabs" in f.hint


def test_a_tab_that_breaks_indentation_is_called_a_tab() -> None:
    [f] = parse_text("a:\n  - x\n\t- y\n", "bp.yaml").findings
    assert (f.line, f.column) == (3, 1)
    assert "tab" in f.message and "never tabs" in f.hint


def test_another_character_that_cannot_start_a_token_is_named() -> None:
    [f] = parse_text("a: `x\n", "bp.yaml").findings
    assert f.message == "invalid YAML: found character '`' that cannot start any token"


UNCLOSED = [
    (
        "json-object",
        "bp.json",
        '{\n  "version": "1.0",\n  "metadata": {\n    "environment": "dev",\n'
        '  "resources": {}\n}\n',
        '{\n    "environment"',
        "'{' opened here is never closed",
        "add the '}' that ends this object",
    ),
    (
        "json-array",
        "bp.json",
        '{\n  "a": [1, 2,\n  "b": 3\n}\n',
        "[1, 2,",
        "'[' opened here is never closed",
        "add the ']' that ends this array",
    ),
    (
        "json-at-the-end",
        "bp.json",
        '{\n  "a": {\n    "b": 1\n',
        '{\n    "b"',
        "'{' opened here is never closed",
        "add the '}' that ends this object",
    ),
    (
        "json-one-line",
        "bp.json",
        '{"a": [1, 2}',
        "[1, 2}",
        "'[' opened here is never closed",
        "add the ']' that ends this array",
    ),
    (
        "yaml-flow-mapping",
        "bp.yaml",
        'version: "1.0"\nmetadata: {environment: dev,\n  project: x\nresources:\n  aws: {}\n',
        "{environment",
        "'{' opened here is never closed",
        "add the '}' that ends this flow mapping",
    ),
    (
        "yaml-flow-sequence",
        "bp.yaml",
        "a: [1, 2\nb: 3\n",
        "[1, 2",
        "'[' opened here is never closed",
        "add the ']' that ends this flow sequence",
    ),
    (
        "yaml-flow-closed-by-the-other-bracket",
        "bp.yaml",
        "a: {b: [1, 2}\n",
        "[1, 2}",
        "'[' opened here is never closed",
        "add the ']' that ends this flow sequence",
    ),
    (
        "yaml-quoted",
        "bp.yaml",
        'a: "abc\nb: 1\n',
        '"abc',
        "the string opened here is never closed",
        'add the closing " quote',
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "opener", "message", "hint"),
    [row[1:] for row in UNCLOSED],
    ids=[row[0] for row in UNCLOSED],
)
def test_an_unclosed_bracket_is_reported_where_it_opens(
    name: str, text: str, opener: str, message: str, hint: str
) -> None:
    [f] = parse_text(text, name).findings
    assert f.code == "DPN001"
    assert f"{f.line}:{f.column}" == at(text, opener)
    assert message in f.message
    assert "stopped at line" in f.message  # where the parser gave up is still told
    assert f.hint == hint


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("bp.json", '{\n  "a": 1\n  "b": 2\n}\n', "3:3"),
        ("bp.json", '{"a": 1,}', "1:9"),
        ("bp.yaml", "a: {b: 1 c: 2}\n", "1:11"),
    ],
    ids=["json-missing-comma", "json-trailing-comma", "yaml-missing-comma"],
)
def test_other_syntax_errors_stay_where_the_parser_stopped(
    name: str, text: str, where: str
) -> None:
    [f] = parse_text(text, name).findings
    assert f"{f.line}:{f.column}" == where
    assert "opened here" not in f.message
