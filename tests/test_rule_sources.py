"""The AWS naming rules against their source: botocore's service model of each create call.

For each of the 13 AWS types the installed botocore model is read (the newest API version
of the service): the name parameter's `min`, `max` and `pattern`. Where the catalogue's cloud
rules say otherwise, `sources.DISAGREEMENTS` must record the model's exact value and why dpn
chose differently; a recorded reason whose disagreement has gone is stale and fails too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.loaders import Loader

from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.naming.rules import CLOUD, Rule, check
from dpn_action.naming.sources import DISAGREEMENTS, MODEL_NAMES, Disagreement

AWS = sorted(k for k, t in CATALOGUE.items() if t.provider == "aws")
LOADER = Loader()

#: characters the patterns are compared on: all of Latin-1, the spaces and controls beyond
#: it, surrogates, the edges of the planes and a few characters from the astral planes
SAMPLE = [chr(c) for c in range(0x250)] + [
    chr(c)
    for c in (
        0x2028, 0x2029, 0x200B, 0x3000, 0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xE000,
        0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF,
    )
]  # fmt: skip


#: whole names a pattern may treat otherwise than its characters one by one (an ARN, a
#: qualifier after ':')
PROBES = [
    "arn:aws:lambda:us-east-1:123456789012:function:orders",
    "123456789012:function:orders",
    "function:orders",
    "orders:1",
    "orders:$LATEST",
    "orders.fifo",
    "a b",
]


def _shape(key: str) -> dict[str, Any]:
    where = MODEL_NAMES[key]
    version = LOADER.list_api_versions(where.service, "service-2")[-1]
    model = LOADER.load_service_model(where.service, "service-2", version)
    shape = model["shapes"][model["operations"][where.operation]["input"]["shape"]]
    for member in where.member:
        shape = model["shapes"][shape["members"][member]["shape"]]
    out: dict[str, Any] = shape
    return out


def _python_pattern(pattern: str) -> re.Pattern[str]:
    """A botocore (Java) pattern in Python's dialect: a surrogate pair range is the range of
    the astral planes, and \\w is ASCII."""
    pattern = pattern.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")
    return re.compile(pattern, re.ASCII)


def _cloud_length(key: str) -> Rule:
    [rule] = [r for r in CATALOGUE[key].rules if r.kind == "length" and r.level == CLOUD]
    return rule


def _cloud_allows(key: str, text: str) -> bool:
    rules = tuple(
        r for r in CATALOGUE[key].rules if r.level == CLOUD and r.kind in ("charset", "forbidden")
    )
    return not check(rules, text, {})


def _recorded(key: str) -> dict[str, Disagreement]:
    return {d.aspect: d for d in DISAGREEMENTS.get(key, ()) if d.model is not None}


def _agrees(key: str, aspect: str, value: Any) -> bool:
    if aspect == "min":
        return bool(_cloud_length(key).arg[0] == value)
    if aspect == "max":
        return bool(_cloud_length(key).arg[1] == value)
    rx = _python_pattern(value)
    return all(bool(rx.fullmatch(text)) == _cloud_allows(key, text) for text in SAMPLE + PROBES)


def test_every_aws_type_names_its_create_call_in_the_model() -> None:
    assert sorted(MODEL_NAMES) == AWS
    for key in AWS:
        shape = _shape(key)
        assert shape["type"] == "string", key


@pytest.mark.parametrize("aspect", ["min", "max", "pattern"])
@pytest.mark.parametrize("key", AWS)
def test_model_and_catalogue_agree_or_the_reason_is_recorded(key: str, aspect: str) -> None:
    value = _shape(key).get(aspect)
    recorded = _recorded(key).get(aspect)
    if value is None:
        assert recorded is None, f"{key}: a reason is recorded for a {aspect} the model lacks"
        return
    if _agrees(key, aspect, value):
        assert recorded is None, (
            f"{key}: stale reason, the catalogue and the model agree on {aspect}"
        )
        return
    assert recorded is not None, (
        f"{key}: botocore's {MODEL_NAMES[key].label} has {aspect} {value!r}, which the catalogue's "
        f"cloud rules do not match; fix the rule or record why in sources.DISAGREEMENTS"
    )
    assert recorded.model == value, (
        f"{key}: the model's {aspect} is now {value!r}, not the recorded {recorded.model!r}"
    )
    assert recorded.reason
    assert recorded.choice


def test_the_catalogue_is_never_looser_than_a_recorded_model_bound() -> None:
    """A recorded disagreement over a bound only ever makes dpn stricter than the model."""
    for key in AWS:
        rule = _cloud_length(key)
        lo, hi = rule.arg
        for aspect, d in _recorded(key).items():
            if aspect == "min":
                assert isinstance(d.model, int) and lo >= d.model, key
            if aspect == "max":
                assert isinstance(d.model, int) and hi is not None and hi <= d.model, key


def test_patterns_are_compared_where_they_differ() -> None:
    """The comparison itself can tell two patterns apart (it is not vacuous)."""
    assert not _agrees("aws_kinesis_stream", "pattern", "[a-zA-Z0-9_]+")
    assert _agrees("aws_kinesis_stream", "pattern", "[a-zA-Z0-9_.-]+")
    assert _agrees("aws_iam_role", "pattern", "[\\w+=,.@-]+")
    assert not _agrees("aws_glue_crawler", "pattern", "[\\u0020-\\uD7FF\\uE000-\\uFFFD]*")
    assert not _agrees("aws_lambda_function", "pattern", "(function:)?([a-zA-Z0-9-_]+)")


@pytest.mark.parametrize(
    ("key", "name", "props", "codes"),
    [
        ("aws_sqs_queue", ".fifo", {"fifo": True}, ["DPN105"]),
        ("aws_sns_topic", ".fifo", {"fifo": True}, ["DPN105"]),
        ("aws_sqs_queue", ".fifo", {}, ["DPN105"]),
        ("aws_sqs_queue", "q.fifo", {"fifo": True}, []),
    ],
)
def test_a_fifo_name_needs_a_base_before_its_suffix(
    key: str, name: str, props: dict[str, Any], codes: list[str]
) -> None:
    violations = check(CATALOGUE[key].rules, name, props)
    assert [v.code for v in violations] == codes
    if codes:
        assert "empty" in violations[0].message


def test_every_advice_and_house_rule_has_a_note_and_errors_only_with_a_reason() -> None:
    for t in CATALOGUE.values():
        for rule in t.rules:
            if rule.level == CLOUD:
                assert not rule.note, (t.key, rule.kind)
                assert not rule.error, (t.key, rule.kind)
            else:
                assert rule.note, (t.key, rule.kind)


def test_every_disagreement_is_complete() -> None:
    for key, items in DISAGREEMENTS.items():
        assert key in CATALOGUE
        for d in items:
            assert d.aspect in ("min", "max", "pattern", "unit", "characters", "case")
            assert d.says and d.choice and d.reason, (key, d.aspect)
            if d.model is not None:
                assert d.aspect in ("min", "max", "pattern")
