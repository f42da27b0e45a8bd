"""Creation settings the cloud would refuse (`DPN016`) or that leave a door open (`DPN3xx`).

Every numeric creation setting has the range its cloud documents, with the page, as data in the
catalogue; a value outside it, not whole or not finite is an error at the value. An IAM role
anyone may assume and a policy allowing every action on every resource are warnings, errors
under `--strict`, in every face that lints.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import dpn, dpn_process, write
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from dpn_action import hooks
from dpn_action.analysis import analyse
from dpn_action.blueprint.policies import LEAST_PRIVILEGE_SOURCE, TRUST_SOURCE
from dpn_action.findings import CODES, Finding, Severity
from dpn_action.naming.catalogue import CATALOGUE, I, N, O
from dpn_action.naming.config import NamingConfig
from dpn_action.naming.ranges import INT32, INT64, RANGES, Range
from dpn_action.schema_files import SCHEMA_FILES
from dpn_action.source import Document, parse_text
from dpn_action.structure import validate

REPO = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((REPO / "schemas" / SCHEMA_FILES["blueprint"]).read_text(encoding="utf-8"))
JSONSCHEMA = Draft202012Validator(SCHEMA)

#: every range, as (type key, setting)
RANGED = [(key, prop) for key, t in CATALOGUE.items() for prop in t.ranges]
RANGED_IDS = [f"{key}.{prop}" for key, prop in RANGED]


#: every test runs in its own directory (no .dpn/ to discover)
pytestmark = pytest.mark.usefixtures("in_tmp")


def blueprint_with(type_key: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A blueprint holding one entry of a top-level type."""
    t = CATALOGUE[type_key]
    resources: dict[str, Any] = {}
    node = resources
    for part in t.collection[:-1]:
        node = node.setdefault(part, {})
    node[t.collection[-1]] = [entry]
    return {"version": "1.0", "metadata": {"environment": "dev"}, "resources": resources}


def entry_setting(prop: str, value: Any) -> dict[str, Any]:
    """An entry setting `prop` (`autoscale.min_workers` inside its object) to `value`."""
    head, _, inner = prop.partition(".")
    return {head: {inner: value}} if inner else {head: value}


def pointer_of(type_key: str, prop: str) -> str:
    t = CATALOGUE[type_key]
    return "/resources/" + "/".join(t.collection) + "/0/" + prop.replace(".", "/")


def structural(data: dict[str, Any]) -> list[Finding]:
    text = json.dumps(data)
    if "Infinity" in text or "NaN" in text:  # not JSON: as YAML reads `.inf` and `.nan`
        doc = Document(path="bp.yaml", text="", kind="yaml", data=data)
    else:
        doc = parse_text(text, "bp.json")
    return validate(doc, "blueprint", "blueprint")


def setting_findings(type_key: str, prop: str, value: Any) -> list[Finding]:
    return structural(blueprint_with(type_key, entry_setting(prop, value)))


# ------------------------------------------------------------------------- ranges as data
def _numeric(jt: str | tuple[str, ...]) -> bool:
    return bool({I, N} & set(jt if isinstance(jt, tuple) else (jt,)))


@pytest.mark.parametrize("key", list(CATALOGUE))
def test_every_numeric_creation_property_has_a_range_with_a_source(key: str) -> None:
    t = CATALOGUE[key]
    numeric = {prop for prop, jt in t.properties.items() if _numeric(jt)}
    assert numeric <= set(t.ranges), f"{key}: no range for {sorted(numeric - set(t.ranges))}"
    for prop, rng in t.ranges.items():
        assert rng.source.startswith("https://docs."), (key, prop)
        assert rng.lo <= rng.hi, (key, prop)
        assert rng.also is None or rng.also < rng.lo, (key, prop)


@pytest.mark.parametrize("key", list(CATALOGUE))
def test_every_range_belongs_to_a_declared_property(key: str) -> None:
    t = CATALOGUE[key]
    for prop in t.ranges:
        head, _, inner = prop.partition(".")
        assert head in t.properties, (key, prop)
        if inner:  # a setting inside an object property
            assert t.properties[head] == O, (key, prop)
        else:
            assert _numeric(t.properties[head]), (key, prop)


def test_ranges_are_kept_for_catalogue_types_only() -> None:
    assert set(RANGES) <= set(CATALOGUE)
    assert sum(len(t.ranges) for t in CATALOGUE.values()) == 26


#: the figures, as the cloud documents them (the test the data is compared with)
DOCUMENTED = {
    ("aws_sqs_queue", "visibility_timeout"): (0, 43200, None),
    ("aws_sqs_queue", "message_retention_seconds"): (60, 1209600, None),
    ("aws_sqs_queue", "delay_seconds"): (0, 900, None),
    ("aws_lambda_function", "memory_size"): (128, 32768, None),
    ("aws_lambda_function", "timeout"): (1, 5400, None),
    ("aws_kinesis_stream", "shard_count"): (1, INT32, None),
    ("aws_kinesis_stream", "retention_hours"): (24, 8760, None),
    ("aws_dynamodb_table", "read_capacity"): (1, INT64, None),
    ("aws_dynamodb_table", "write_capacity"): (1, INT64, None),
    ("aws_s3_bucket", "lifecycle_days"): (1, INT32, None),
    ("aws_kinesis_firehose", "buffer_seconds"): (0, 900, None),
    ("aws_kinesis_firehose", "buffer_mb"): (1, 128, None),
    ("aws_iam_role", "max_session_duration"): (3600, 43200, None),
    ("dbx_cluster", "num_workers"): (0, INT32, None),
    ("dbx_cluster", "autoscale.min_workers"): (0, INT32, None),
    ("dbx_cluster", "autoscale.max_workers"): (1, INT32, None),
    ("dbx_cluster", "autotermination_minutes"): (10, 10000, 0),
    ("dbx_job", "max_concurrent_runs"): (0, 1000, None),
    ("dbx_job", "timeout_seconds"): (0, INT32, None),
    ("dbx_sql_warehouse", "min_num_clusters"): (1, 30, None),
    ("dbx_sql_warehouse", "max_num_clusters"): (1, 40, None),
    ("dbx_sql_warehouse", "auto_stop_mins"): (10, INT32, 0),
    ("dbx_instance_pool", "min_idle_instances"): (0, INT32, None),
    ("dbx_instance_pool", "max_capacity"): (0, INT32, None),
    ("dbx_instance_pool", "idle_instance_autotermination_minutes"): (0, 10000, None),
    ("dbx_policy", "max_clusters_per_user"): (0, INT64, None),
}


def test_the_ranges_are_the_documented_figures() -> None:
    have = {(k, p): (r.lo, r.hi, r.also) for k, t in CATALOGUE.items() for p, r in t.ranges.items()}
    assert have == DOCUMENTED


def test_the_botocore_service_models_agree_where_they_state_a_range() -> None:
    """The AWS ranges are cross-checked with botocore's service models (`min`/`max` on the
    request's shapes); where a model states no bound the API reference's text is the source."""
    botocore = pytest.importorskip("botocore.loaders")
    loader = botocore.Loader()

    def shape(service: str, name: str) -> dict[str, Any]:
        model: dict[str, Any] = loader.load_service_model(service, "service-2")
        found: dict[str, Any] = model["shapes"][name]
        return found

    aws = CATALOGUE
    pairs = {
        ("lambda", "MemorySize"): aws["aws_lambda_function"].ranges["memory_size"],
        ("lambda", "Timeout"): aws["aws_lambda_function"].ranges["timeout"],
        ("iam", "roleMaxSessionDurationType"): aws["aws_iam_role"].ranges["max_session_duration"],
        ("firehose", "IntervalInSeconds"): aws["aws_kinesis_firehose"].ranges["buffer_seconds"],
        ("firehose", "SizeInMBs"): aws["aws_kinesis_firehose"].ranges["buffer_mb"],
        ("kinesis", "PositiveIntegerObject"): aws["aws_kinesis_stream"].ranges["shard_count"],
        ("dynamodb", "PositiveLongObject"): aws["aws_dynamodb_table"].ranges["read_capacity"],
    }
    for (service, name), rng in pairs.items():
        s = shape(service, name)
        assert s.get("min") == rng.lo, (service, name)
        if "max" in s:
            assert s["max"] == rng.hi, (service, name)
        else:  # no bound in the model: the type's
            assert rng.hi == (INT64 if s["type"] == "long" else INT32), (service, name)


# -------------------------------------------------------------- every range: in, below, above
def in_range(rng: Range, value: Any) -> bool:
    """What a range allows, said independently of dpn's check and the schema: a whole number
    (an integral float such as 30.0 counts) from `lo` to `hi`, or `also`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not value.is_integer():  # also inf and nan
        return False
    return value == rng.also or rng.lo <= value <= rng.hi


def _cases(rng: Range) -> dict[str, tuple[Any, bool]]:
    lowest = rng.lo if rng.also is None else min(rng.lo, rng.also)
    cases: dict[str, tuple[Any, bool]] = {
        "lowest": (lowest, True),
        "lo": (rng.lo, True),
        "hi": (rng.hi, True),
        "below": (lowest - 1, False),
        "above": (rng.hi + 1, False),
        "not whole": (rng.lo + 0.5, False),
        "whole float": (float(rng.lo), True),
    }
    if rng.also is not None and rng.lo - rng.also > 1:
        cases["in the gap"] = (rng.also + 1, False)
    return cases


@pytest.mark.parametrize(("key", "prop"), RANGED, ids=RANGED_IDS)
def test_a_value_in_range_passes_and_one_outside_is_dpn016_naming_range_and_source(
    key: str, prop: str
) -> None:
    rng = CATALOGUE[key].ranges[prop]
    for label, (value, ok) in _cases(rng).items():
        findings = setting_findings(key, prop, value)
        data = blueprint_with(key, entry_setting(prop, value))
        assert JSONSCHEMA.is_valid(data) is ok, (label, value)  # editors see the same
        assert in_range(rng, value) is ok, (label, value)
        if ok:
            assert findings == [], (label, value, [f.message for f in findings])
            continue
        assert [f.code for f in findings] == ["DPN016"], (label, value)
        f = findings[0]
        assert f.pointer == pointer_of(key, prop)
        assert f.is_error
        assert rng.describe() in f.message and CATALOGUE[key].title in f.message
        assert rng.source in f.hint


@pytest.mark.parametrize(
    ("text", "shown", "why"),
    [
        ("1e38", "1e+38", "outside the cloud's range"),
        ("1e400", "Infinity", "not a finite number"),
        ("-1e400", "-Infinity", "not a finite number"),
        ("1.5", "1.5", "not a whole number"),
        ("-5", "-5", "outside the cloud's range"),
    ],
)
def test_huge_infinite_and_fractional_numbers_in_json_are_dpn016(
    text: str, shown: str, why: str
) -> None:
    doc = (
        '{"version": "1.0", "metadata": {"environment": "dev"},\n'
        ' "resources": {"aws": {"sqs_queues": [\n'
        f'   {{"purpose": "q", "visibility_timeout": {text}}}]}}}}}}\n'
    )
    findings = validate(parse_text(doc, "bp.json"), "blueprint", "blueprint")
    column = doc.splitlines()[2].index(text) + 1
    assert [(f.code, f.line, f.column) for f in findings] == [("DPN016", 3, column)]
    assert f"is {shown}, {why}: 0 to 43200 seconds (SQS queue)" in findings[0].message


@pytest.mark.parametrize(
    ("text", "code"),
    [(".inf", "DPN016"), ("-.inf", "DPN016"), (".nan", "DPN016"), ("1.5", "DPN016")],
)
def test_non_finite_and_fractional_numbers_in_yaml_are_dpn016(text: str, code: str) -> None:
    doc = (
        'version: "1.0"\n'
        "metadata: {environment: dev}\n"
        "resources:\n"
        "  databricks:\n"
        "    clusters:\n"
        "      - workload: etl\n"
        f"        autoscale: {{min_workers: 1, max_workers: {text}}}\n"
    )
    findings = validate(parse_text(doc, "bp.yaml"), "blueprint", "blueprint")
    column = doc.splitlines()[6].rindex(text) + 1
    assert [(f.code, f.line, f.column) for f in findings] == [(code, 7, column)]
    assert findings[0].pointer == "/resources/databricks/clusters/0/autoscale/max_workers"


def test_a_number_in_quotes_or_yaml_exponent_is_a_wrong_type_with_the_range_in_its_hint() -> None:
    # YAML 1.1 reads 1e38 (no dot) as a string
    doc = (
        'version: "1.0"\n'
        "metadata: {environment: dev}\n"
        "resources:\n"
        "  aws:\n"
        "    s3_buckets:\n"
        "      - purpose: landing\n"
        "        lifecycle_days: 1e38\n"
    )
    findings = validate(parse_text(doc, "bp.yaml"), "blueprint", "blueprint")
    assert [(f.code, f.line, f.column) for f in findings] == [("DPN010", 7, 25)]  # at 1e38
    rng = CATALOGUE["aws_s3_bucket"].ranges["lifecycle_days"]
    assert rng.describe() in findings[0].hint and rng.source in findings[0].hint


def test_a_boolean_is_not_a_number_of_workers() -> None:
    findings = setting_findings("dbx_cluster", "num_workers", True)
    assert [f.code for f in findings] == ["DPN010"]


@settings(max_examples=300, deadline=None)
@given(
    ranged=st.sampled_from(RANGED),
    value=st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, 1, 9, 10, 10000, 10001, INT32, INT32 + 1, INT64, INT64 + 1]),
)
def test_dpn_the_schema_and_the_range_agree_on_every_number(
    ranged: tuple[str, str], value: float
) -> None:
    key, prop = ranged
    rng = CATALOGUE[key].ranges[prop]
    findings = setting_findings(key, prop, value)
    ok = in_range(rng, value)
    assert [f.code for f in findings] == ([] if ok else ["DPN016"])
    if not (isinstance(value, float) and math.isnan(value)):  # NaN is not JSON
        assert JSONSCHEMA.is_valid(blueprint_with(key, entry_setting(prop, value))) is ok


# ------------------------------------------------------------- objects with fixed keys
#: every object setting whose keys are fixed, as (type key, setting)
CLOSED = [(key, prop) for key, t in CATALOGUE.items() for prop in t.object_keys]


def test_the_object_settings_with_fixed_keys_are_autoscale_and_email_notifications() -> None:
    assert CLOSED == [("dbx_cluster", "autoscale"), ("dbx_job", "email_notifications")]


@pytest.mark.parametrize(("key", "prop"), CLOSED, ids=[f"{k}.{p}" for k, p in CLOSED])
def test_a_misspelt_key_inside_an_object_setting_is_dpn011_with_the_key_it_meant(
    key: str, prop: str
) -> None:
    """The cloud's SDK builds these objects from the keys it knows and drops any other
    without a word: `on_failur` would quietly create a job that alerts nobody."""
    keys = CATALOGUE[key].object_keys[prop]
    good = blueprint_with(key, {prop: dict.fromkeys(keys, 1)})
    assert structural(good) == [] and JSONSCHEMA.is_valid(good)
    for meant in keys:
        typo = meant[:-1]  # one letter short
        bad = blueprint_with(key, {prop: {typo: 1}})

        (f,) = structural(bad)
        assert f.code == "DPN011" and f.is_error
        assert f.pointer == f"{pointer_of(key, prop)}/{typo}"
        assert f"unknown key '{typo}'" in f.message and f"'{meant}'" in f.hint
        assert f.fix is not None and f.fix.key and f.fix.candidates[0] == meant
        assert not JSONSCHEMA.is_valid(bad)  # editors and check-jsonschema see it too


def test_dpn_fix_renames_a_misspelt_notification_key_with_one_close_match(
    tmp_path: Path,
) -> None:
    entry = "      - {job_type: batch, purpose: load, email_notifications: {on_failur: [a@b.c]}}\n"
    bp = write(
        tmp_path / "bp.yaml",
        "version: '1.0'\n"
        "metadata: {environment: dev, project: dp}\n"
        "resources:\n"
        "  databricks:\n"
        "    jobs:\n" + entry,
    )
    linted = dpn("lint", str(bp))
    assert linted.exit_code == 1
    column = entry.index("on_failur") + 1
    assert f"bp.yaml:6:{column}: DPN011 unknown key 'on_failur'" in linted.output, linted.output

    assert dpn("fix", str(bp)).exit_code == 0
    assert "email_notifications: {on_failure: [a@b.c]}" in bp.read_text()
    assert dpn("lint", str(bp)).exit_code == 0


def test_the_example_blueprints_stay_clean_of_setting_findings() -> None:
    paths = sorted((REPO / "examples" / "blueprints").iterdir())
    result = analyse(NamingConfig(), paths, names=False)
    assert [f for f in result.findings if f.code in ("DPN016", "DPN300", "DPN301")] == []


# ------------------------------------------------------------------------------- policies
def role(trust: Any, **extra: Any) -> dict[str, Any]:
    return {"service": "glue", "purpose": "etl", "trust_policy": trust, **extra}


def policy(document: Any) -> dict[str, Any]:
    return {"service": "glue", "purpose": "read", "policy_document": document}


def statement(**kw: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **kw}]}


ASSUME = {"Action": "sts:AssumeRole"}
ROLE = "/resources/aws/iam_roles/0/trust_policy"
POLICY = "/resources/aws/iam_policies/0/policy_document"


def lint(tmp_path: Path, data: dict[str, Any], name: str = "bp.json") -> list[Finding]:
    """DPN3xx findings of a blueprint, as `dpn plan validate` and `dpn lint` see them."""
    text = json.dumps(data, indent=1) if name.endswith(".json") else yaml.safe_dump(data)
    path = write(tmp_path / name, text)
    result = analyse(NamingConfig(), [path], names=False)
    return [f for f in result.findings if f.code.startswith("DPN3")]


def codes_at(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.pointer) for f in findings]


@pytest.mark.parametrize(
    ("trust", "where"),
    [
        (statement(Principal="*", **ASSUME), "/Statement/0/Principal"),
        (statement(Principal={"AWS": "*"}, **ASSUME), "/Statement/0/Principal/AWS"),
        (
            statement(Principal={"AWS": ["arn:aws:iam::123456789012:root", "*"]}, **ASSUME),
            "/Statement/0/Principal/AWS/1",
        ),
        (
            {"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, **ASSUME}},
            "/Statement/Principal/AWS",
        ),
        (
            statement(NotPrincipal={"AWS": "arn:aws:iam::123456789012:root"}, **ASSUME),
            "/Statement/0/NotPrincipal",
        ),
        (
            statement(
                Principal="*",
                Condition={"StringEquals": {"sts:ExternalId": "shared-secret"}},
                **ASSUME,
            ),
            "/Statement/0/Principal",
        ),
        (
            statement(
                Principal="*",
                Condition={"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}},
                **ASSUME,
            ),
            "/Statement/0/Principal",
        ),
        (
            statement(
                Principal="*",
                Condition={"StringEqualsIfExists": {"aws:PrincipalAccount": "123456789012"}},
                **ASSUME,
            ),
            "/Statement/0/Principal",
        ),
    ],
    ids=[
        "principal-star",
        "aws-star",
        "aws-star-in-list",
        "single-statement-object",
        "not-principal",
        "external-id-only",
        "negated-org-condition",
        "if-exists-condition",
    ],
)
def test_a_trust_policy_anyone_may_assume_is_a_dpn300_warning_at_the_value(
    tmp_path: Path, trust: Any, where: str
) -> None:
    findings = lint(tmp_path, blueprint_with("aws_iam_role", role(trust)))
    assert codes_at(findings) == [("DPN300", ROLE + where)]
    assert findings[0].severity is Severity.WARNING
    assert TRUST_SOURCE in findings[0].hint


@pytest.mark.parametrize(
    "trust",
    [
        statement(Principal={"Service": "glue.amazonaws.com"}, **ASSUME),
        statement(Principal={"AWS": "arn:aws:iam::123456789012:root"}, **ASSUME),
        statement(Principal={"AWS": ["arn:aws:iam::123456789012:role/ci"]}, **ASSUME),
        {"Statement": [{"Effect": "Deny", "Principal": "*", **ASSUME}]},
        statement(
            Principal="*",
            Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
            **ASSUME,
        ),
        statement(
            Principal={"AWS": "*"},
            Condition={"ArnLike": {"AWS:PrincipalArn": "arn:aws:iam::123456789012:role/*"}},
            **ASSUME,
        ),
        {"Version": "2012-10-17"},
        {"Statement": "nonsense"},
    ],
    ids=[
        "service",
        "account",
        "role-list",
        "deny",
        "org-condition",
        "principal-arn-condition",
        "no-statement",
        "malformed-statement",
    ],
)
def test_a_trust_policy_naming_its_principals_is_not_reported(tmp_path: Path, trust: Any) -> None:
    assert lint(tmp_path, blueprint_with("aws_iam_role", role(trust))) == []


def test_a_role_trusting_services_by_name_is_not_reported(tmp_path: Path) -> None:
    entry = {"service": "glue", "purpose": "etl", "assume_role_service": "glue"}
    assert lint(tmp_path, blueprint_with("aws_iam_role", entry)) == []


@pytest.mark.parametrize(
    ("document", "where"),
    [
        (statement(Action="*", Resource="*"), "/Statement/0/Action"),
        (statement(Action="*:*", Resource="*"), "/Statement/0/Action"),
        (statement(Action=["s3:GetObject", "*"], Resource="*"), "/Statement/0/Action/1"),
        (
            statement(Action="*", Resource=["arn:aws:s3:::bucket/*", "*"]),
            "/Statement/0/Action",
        ),
        ({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}, "/Statement/Action"),
        (statement(NotAction=["iam:*"], Resource="*"), "/Statement/0/NotAction"),
        (
            statement(Action="*", NotResource="arn:aws:s3:::audit/*"),
            "/Statement/0/Action",
        ),
        (
            statement(
                Action="*", Resource="*", Condition={"StringEquals": {"aws:RequestedRegion": "x"}}
            ),
            "/Statement/0/Action",
        ),
    ],
    ids=[
        "star",
        "star-colon-star",
        "star-in-list",
        "resource-star-in-list",
        "single-statement-object",
        "not-action",
        "not-resource",
        "with-condition",
    ],
)
def test_a_policy_allowing_every_action_on_every_resource_is_a_dpn301_warning(
    tmp_path: Path, document: Any, where: str
) -> None:
    findings = lint(tmp_path, blueprint_with("aws_iam_policy", policy(document)))
    assert codes_at(findings) == [("DPN301", POLICY + where)]
    assert findings[0].severity is Severity.WARNING
    assert LEAST_PRIVILEGE_SOURCE in findings[0].hint


@pytest.mark.parametrize(
    "document",
    [
        statement(Action="*", Resource="arn:aws:s3:::landing/*"),
        statement(Action="s3:*", Resource="*"),
        statement(Action=["s3:GetObject", "s3:ListBucket"], Resource="*"),
        {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]},
        # the placeholder dpn writes for a policy without a document
        {"Statement": [{"Effect": "Deny", "NotAction": "*", "Resource": "*"}]},
        statement(Action={"weird": "*"}, Resource="*"),
    ],
    ids=["one-bucket", "one-service", "named-actions", "deny", "placeholder", "malformed"],
)
def test_a_policy_scoped_by_action_or_resource_is_not_reported(
    tmp_path: Path, document: Any
) -> None:
    assert lint(tmp_path, blueprint_with("aws_iam_policy", policy(document))) == []


def test_a_document_given_as_a_json_string_is_read_and_the_string_is_pointed_at(
    tmp_path: Path,
) -> None:
    data = blueprint_with("aws_iam_policy", policy(json.dumps(statement(Action="*", Resource="*"))))
    data["resources"]["aws"]["iam_roles"] = [role(json.dumps(statement(Principal="*")))]
    path = write(tmp_path / "bp.json", json.dumps(data, indent=1))
    result = analyse(NamingConfig(), [path], names=False)
    mine = [f for f in result.findings if f.code.startswith("DPN3")]
    by_code = {f.code: f for f in mine}
    assert sorted(codes_at(mine)) == [("DPN300", ROLE), ("DPN301", POLICY)]
    assert "at Statement/0/Principal in the JSON string" in by_code["DPN300"].message
    assert "at Statement/0/Action in the JSON string" in by_code["DPN301"].message


def test_a_string_that_is_not_json_is_left_to_the_cloud(tmp_path: Path) -> None:
    data = blueprint_with("aws_iam_policy", policy('{"Statement": ['))
    assert lint(tmp_path, data) == []


def test_a_resource_outside_the_blueprints_scope_is_not_checked(tmp_path: Path) -> None:
    data = blueprint_with("aws_iam_policy", policy(statement(Action="*", Resource="*")))
    data["scope"] = {"mode": "exclude", "patterns": ["aws_iam_*"]}
    assert lint(tmp_path, data) == []


# --------------------------------------------------------------------------------- positions
YAML_BLUEPRINT = """\
version: "1.0"
metadata: {environment: dev, project: dataplatform, region: us-east-1}
resources:
  aws:
    sqs_queues:
      - purpose: orders
        queue_type: std
        visibility_timeout: -5
    iam_roles:
      - service: glue
        purpose: etl
        trust_policy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {AWS: "*"}
              Action: sts:AssumeRole
    iam_policies:
      - service: glue
        purpose: admin
        policy_document:
          Statement:
            - Effect: Allow
              Action: ["s3:GetObject", "*"]
              Resource: "*"
"""


def _positions(tmp_path: Path, name: str, text: str) -> list[tuple[str, int, int]]:
    result = analyse(NamingConfig(), [write(tmp_path / name, text)], names=False)
    return [(f.code, f.line, f.column) for f in result.findings]


def test_positions_in_a_yaml_blueprint_are_the_offending_values(tmp_path: Path) -> None:
    lines = YAML_BLUEPRINT.splitlines()
    assert lines[7].index("-5") + 1 == 29
    assert lines[15].index('"*"') + 1 == 32
    assert lines[23].index('"*"') + 1 == 40
    assert _positions(tmp_path, "bp.yaml", YAML_BLUEPRINT) == [
        ("DPN016", 8, 29),
        ("DPN300", 16, 32),
        ("DPN301", 24, 40),
    ]


def test_positions_in_a_json_blueprint_are_the_offending_values(tmp_path: Path) -> None:
    text = json.dumps(yaml.safe_load(YAML_BLUEPRINT), indent=2)
    lines = text.splitlines()

    def at(needle: str, after: str) -> tuple[int, int]:
        start = next(i for i, line in enumerate(lines) if after in line)
        row = next(i for i in range(start, len(lines)) if needle in lines[i])
        return row + 1, lines[row].index(needle) + 1

    assert _positions(tmp_path, "bp.json", text) == [
        ("DPN016", *at("-5", '"visibility_timeout"')),
        ("DPN300", *at('"*"', '"AWS"')),
        ("DPN301", *at('"*"', '"s3:GetObject"')),
    ]


# ---------------------------------------------------------------------------- the faces
POLICIES_ONLY = YAML_BLUEPRINT.replace("        visibility_timeout: -5\n", "")


@pytest.mark.parametrize("command", [["lint", "--no-context"], ["plan", "validate"]])
def test_policy_findings_warn_and_fail_only_under_strict(
    tmp_path: Path, command: list[str]
) -> None:
    path = write(tmp_path / "bp.yaml", POLICIES_ONLY)
    plain = dpn(*command, str(path))
    strict = dpn(*command, "--strict", str(path))
    assert plain.exit_code == 0, plain.output
    assert "DPN300 warning:" in plain.output and "DPN301 warning:" in plain.output
    assert strict.exit_code == 1
    assert "2 warnings" in strict.output


def test_the_lint_hook_warns_and_fails_under_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "bp.yaml", POLICIES_ONLY)
    assert hooks.lint_main(["--no-context", str(path)]) == 0
    assert "DPN300 warning:" in capsys.readouterr().out
    assert hooks.lint_main(["--strict", "--no-context", str(path)]) == 1


def test_a_setting_outside_its_range_fails_lint_without_strict(tmp_path: Path) -> None:
    path = write(tmp_path / "bp.yaml", YAML_BLUEPRINT)
    result = dpn("plan", "validate", str(path))
    assert result.exit_code == 1
    assert "bp.yaml:8:29: DPN016 " in result.output


def test_create_refuses_a_setting_the_cloud_would_refuse_before_any_cloud_call(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "bp.yaml", YAML_BLUEPRINT)
    result = dpn("create", "--dry-run", "--blueprint", str(path), "--wal-dir", str(tmp_path / "w"))
    assert result.exit_code == 1
    assert "DPN016" in result.output
    assert "nothing was changed in any cloud" in result.output


def test_dpn_lint_as_a_process_reports_file_line_col_and_the_source(tmp_path: Path) -> None:
    path = write(tmp_path / "bp.yaml", YAML_BLUEPRINT)
    proc = dpn_process(tmp_path, "lint", "--no-context", "--format", "json", "bp.yaml")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    got = {f["code"]: f for f in out["findings"] if f["code"] in ("DPN016", "DPN300", "DPN301")}
    assert (got["DPN016"]["line"], got["DPN016"]["column"]) == (8, 29)
    assert got["DPN016"]["severity"] == "error"
    assert got["DPN016"]["pointer"] == "/resources/aws/sqs_queues/0/visibility_timeout"
    assert "0 to 43200 seconds" in got["DPN016"]["message"]
    assert "API_CreateQueue.html" in got["DPN016"]["hint"]
    assert got["DPN300"]["severity"] == got["DPN301"]["severity"] == "warning"
    assert path.exists()


def test_the_lint_path_still_imports_no_cloud_sdk_pydantic_nor_rich(tmp_path: Path) -> None:
    path = write(tmp_path / "bp.yaml", YAML_BLUEPRINT)
    code = (
        "import sys\n"
        "from dpn_action.cli import main\n"
        "try:\n"
        f"    main(['lint', '--strict', '--no-context', {str(path)!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 1, e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'databricks', 'pydantic', 'rich'))\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
    assert "DPN016" in proc.stdout and "DPN300" in proc.stdout


def test_the_codes_are_registered_with_their_severities() -> None:
    assert CODES["DPN016"].severity is Severity.ERROR
    assert CODES["DPN300"].severity is Severity.WARNING
    assert CODES["DPN301"].severity is Severity.WARNING
