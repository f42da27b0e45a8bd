"""The four finding formats: what each prints, and that machines can read it back.

The SARIF tests run Microsoft's SARIF validator from the npm package
`@microsoft/sarif-multitool`, pinned in tests/node/package.json. Install it with
`npm ci --prefix tests/node`; the tests fail, rather than skip, when it is missing.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from dpn_action.findings import CODES, Finding, Fix, Severity, rename_fix
from dpn_action.formatters import (
    FINGERPRINT_KEY,
    FORMATS,
    artifact_uri,
    format_findings,
    format_github,
    format_json,
    format_sarif,
    format_text,
    sarif_log,
)

REPO = Path(__file__).resolve().parent.parent
NODE_DIR = REPO / "tests" / "node"
VALIDATOR = NODE_DIR / "node_modules" / ".bin" / "sarif-multitool"
INSTALL_HINT = "run `npm ci --prefix tests/node` to install the SARIF validator"

ODD_PATH = "blueprints/ventes été/données brutes.yaml"


def varied_findings() -> list[Finding]:
    """Several findings of each severity, with and without positions, in awkward paths."""
    return [
        Finding.make(
            "DPN101",
            "bucket name 'dataplatform-ventes-raw-dev-use1' is 64 characters; the limit is 63",
            file=ODD_PATH,
            line=7,
            column=21,
            pointer="/resources/aws/s3_buckets/0/purpose",
            hint="shorten 'purpose', or set on_too_long: hash",
        ),
        Finding.make(
            "DPN102",
            "name 'a,b:c' has ',' and ':' which S3 does not allow",
            file=ODD_PATH,
            line=9,
            column=3,
            pointer="/resources/aws/s3_buckets/1/name",
        ),
        Finding.make(
            "DPN003",
            "cannot read file: permission denied",
            file="blueprints/locked.json",
            hint="check the path and its permissions",
        ),
        Finding.make(
            "DPN205",
            "invalid --override 'region' (no '=')",
            hint="write it as key=value",
        ),
        Finding.make(
            "DPN040",
            "'Données Brutes' became 'donn-es-brutes' for aws_s3_bucket",
            file=ODD_PATH,
            line=3,
            column=16,
            pointer="/metadata/project",
            hint="write the value as 'donn-es-brutes'",
        ),
        Finding.make(
            "DPN041",
            "explicit name 'sales-queue' differs from the convention\n(expected 'dp-sales-std')",
            file="blueprints/sales.json",
            line=12,
        ),
        Finding.make(
            "DPN206",
            "{team} in the pattern of aws_s3_bucket has no value for 1 of 1 aws_s3_bucket name",
            file=".dpn/naming-patterns.yaml",
        ),
        Finding.make(
            "DPN042",
            "name was shortened to 'dp-dev-orders-3f2a9c'",
            file="blueprints/sales.json",
            line=20,
            column=7,
        ),
        Finding.make("DPN042", "name was shortened to 'dp-x-1b2c3d'", file=ODD_PATH, line=30),
        Finding.make(
            "DPN040",
            "100% of 'a#b' became 'a-b'",
            file="blueprints/a#b%20c.json",
            line=1,
            column=1,
            severity=Severity.NOTE,
        ),
    ]


# --- text ---------------------------------------------------------------------------------

FINDING_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>DPN\d{3}) ")


def test_text_line_starts_with_file_line_col_and_code() -> None:
    finding = Finding.make(
        "DPN002", "duplicate key 'purpose'", file="blueprints/a.json", line=3, column=5
    )

    first = format_text([finding]).splitlines()[0]

    assert first == "blueprints/a.json:3:5: DPN002 duplicate key 'purpose'"
    match = FINDING_LINE.match(first)
    assert match is not None
    assert match.group("file", "line", "col", "code") == ("blueprints/a.json", "3", "5", "DPN002")


def test_text_names_the_severity_of_warnings_and_notes_but_not_errors() -> None:
    findings = [
        Finding.make("DPN101", "too long", file="a.json", line=1, column=1),
        Finding.make("DPN040", "normalised", file="a.json", line=2, column=1),
        Finding.make("DPN042", "shortened", file="a.json", line=3, column=1),
    ]

    lines = format_text(findings).splitlines()

    assert lines[:3] == [
        "a.json:1:1: DPN101 too long",
        "a.json:2:1: DPN040 warning: normalised",
        "a.json:3:1: DPN042 note: shortened",
    ]


def test_text_puts_the_hint_on_an_indented_line_below_its_finding() -> None:
    finding = Finding.make(
        "DPN002", "duplicate key 'x'", file="a.yaml", line=4, column=3, hint="remove one"
    )

    assert format_text([finding]).splitlines()[:2] == [
        "a.yaml:4:3: DPN002 duplicate key 'x'",
        "  hint: remove one",
    ]


def test_text_leaves_out_positions_that_are_not_known() -> None:
    findings = [
        Finding.make("DPN003", "cannot read file", file="whole.json"),
        Finding.make("DPN041", "differs", file="line-only.json", line=8),
        Finding.make("DPN205", "invalid --override 'x'"),
    ]

    lines = format_text(findings).splitlines()

    assert lines[:3] == [
        "dpn: DPN205 invalid --override 'x'",
        "line-only.json:8: DPN041 warning: differs",
        "whole.json: DPN003 cannot read file",
    ]


def test_text_sorts_by_file_line_column_and_code() -> None:
    findings = [
        Finding.make("DPN101", "m", file="b.json", line=1, column=1),
        Finding.make("DPN102", "m", file="a.json", line=10, column=1),
        Finding.make("DPN102", "m", file="a.json", line=2, column=9),
        Finding.make("DPN101", "m", file="a.json", line=2, column=9),
        Finding.make("DPN101", "m", file="a.json", line=2, column=3),
    ]

    starts = [line.split(" m")[0] for line in format_text(findings).splitlines()[:-1]]

    assert starts == [
        "a.json:2:3: DPN101",
        "a.json:2:9: DPN101",
        "a.json:2:9: DPN102",
        "a.json:10:1: DPN102",
        "b.json:1:1: DPN101",
    ]


def test_text_keeps_continuation_lines_of_a_message_indented() -> None:
    finding = Finding.make("DPN021", "reference cycle:\na -> b\nb -> a", file="c.json", line=1)

    lines = format_text([finding]).splitlines()

    assert lines[:3] == ["c.json:1: DPN021 reference cycle:", "    a -> b", "    b -> a"]
    assert [line for line in lines[:-1] if not line.startswith(" ")] == [lines[0]]


def test_text_summary_counts_each_severity_and_the_files() -> None:
    summary = format_text(varied_findings()).splitlines()[-1]

    assert summary == "4 errors, 3 warnings, 3 notes in 5 files"


def test_text_summary_uses_singular_words_for_one() -> None:
    findings = [
        Finding.make("DPN101", "m", file="a.json", line=1, column=1),
        Finding.make("DPN040", "m", file="a.json", line=2, column=1),
    ]

    assert format_text(findings).splitlines()[-1] == "1 error, 1 warning in 1 file"


def test_text_without_findings_says_no_problems_found() -> None:
    assert format_text([]) == "no problems found\n"


# --- json ---------------------------------------------------------------------------------


def test_json_round_trips_every_field() -> None:
    findings = varied_findings()

    document = json.loads(format_json(findings))
    read_back = [
        Finding(**{**entry, "severity": Severity(entry["severity"])})
        for entry in document["findings"]
    ]

    assert sorted(read_back, key=Finding.sort_key) == sorted(findings, key=Finding.sort_key)
    assert len(read_back) == len(findings)


def test_json_keys_come_in_a_stable_order() -> None:
    document = json.loads(format_json(varied_findings()))

    assert list(document) == ["findings", "summary"]
    assert {tuple(entry) for entry in document["findings"]} == {
        ("code", "severity", "file", "line", "column", "pointer", "message", "hint", "fix")
    }
    assert list(document["summary"]) == ["errors", "warnings", "notes"]


def test_json_says_the_edit_that_would_fix_a_finding_and_null_without_one() -> None:
    """What `dpn fix` applies, as data a script or an editor can apply too: the member's key
    or value at the pointer, as written, and the candidates (one: a fix; more: a choice)."""
    rename = Finding.make(
        "DPN014",
        "unknown field 'purpsoe' in an S3 bucket entry",
        file="blueprints/b.json",
        line=4,
        column=6,
        pointer="/resources/aws/s3_buckets/0/purpsoe",
        fix=rename_fix("/resources/aws/s3_buckets/0/purpsoe", "purpsoe", ["purpose"]),
    )
    value = Finding.make(
        "DPN040",
        "purpose 'Lake House' was normalised to 'lake-house' for aws_s3_bucket",
        file="blueprints/b.json",
        line=5,
        column=17,
        pointer="/resources/aws/s3_buckets/0/purpose",
        fix=Fix("/resources/aws/s3_buckets/0/purpose", "Lake House", ("lake-house",)),
    )
    odd = Finding.make(
        "DPN014",
        "unknown field",
        file="blueprints/b.json",
        line=9,
        pointer="/x",
        fix=rename_fix("/x", "\ud800y", ["a", "b"]),
    )

    document = json.loads(format_findings([odd, value, rename], "json", tool_version="0"))

    assert [f["fix"] for f in document["findings"]] == [
        {
            "pointer": "/resources/aws/s3_buckets/0/purpsoe",
            "part": "key",
            "old": "purpsoe",
            "candidates": ["purpose"],
        },
        {
            "pointer": "/resources/aws/s3_buckets/0/purpose",
            "part": "value",
            "old": "Lake House",
            "candidates": ["lake-house"],
        },
        {"pointer": "/x", "part": "key", "old": "\\ud800y", "candidates": ["a", "b"]},
    ]
    assert json.loads(format_json(varied_findings()))["findings"][0]["fix"] is None


def test_json_summary_counts_each_severity() -> None:
    document = json.loads(format_json(varied_findings()))

    assert document["summary"] == {"errors": 4, "warnings": 3, "notes": 3}
    assert json.loads(format_json([]))["summary"] == {"errors": 0, "warnings": 0, "notes": 0}


def test_json_writes_non_ascii_text_as_is() -> None:
    output = format_json(varied_findings())

    assert "données brutes.yaml" in output
    assert "\\u00e9" not in output


def test_json_lists_findings_in_file_line_column_order() -> None:
    document = json.loads(format_json(reversed(varied_findings())))

    keys = [(e["file"], e["line"], e["column"], e["code"]) for e in document["findings"]]
    assert keys == sorted(keys)


# --- github -------------------------------------------------------------------------------


def unescape_github_data(value: str) -> str:
    """What the Actions runner does to a command's message."""
    return value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_github_property(value: str) -> str:
    """What the Actions runner does to a command's property values."""
    for escaped, plain in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ",")):
        value = value.replace(escaped, plain)
    return value.replace("%25", "%")


def parse_github_command(line: str) -> tuple[str, dict[str, str], str]:
    """Read a workflow command back the way the Actions runner does."""
    assert line.startswith("::"), line
    end = line.index("::", 2)
    name, _, raw_properties = line[2:end].partition(" ")
    properties: dict[str, str] = {}
    for pair in raw_properties.split(",") if raw_properties else []:
        key, _, value = pair.partition("=")
        properties[key] = unescape_github_property(value)
    return name, properties, unescape_github_data(line[end + 2 :])


def test_github_writes_one_workflow_command_per_finding() -> None:
    finding = Finding.make("DPN101", "too long", file="blueprints/a.json", line=7, column=21)

    assert format_github([finding]) == (
        "::error file=blueprints/a.json,line=7,col=21,title=DPN101::too long\n"
    )


def test_github_uses_error_warning_and_notice_by_severity() -> None:
    findings = [
        Finding.make("DPN101", "m", file="a.json", line=1, column=1),
        Finding.make("DPN040", "m", file="a.json", line=2, column=1),
        Finding.make("DPN042", "m", file="a.json", line=3, column=1),
    ]

    commands = [line.split(" ", 1)[0] for line in format_github(findings).splitlines()]

    assert commands == ["::error", "::warning", "::notice"]


def test_github_escapes_newlines_and_commas_in_properties() -> None:
    finding = Finding.make("DPN003", "m", file="dir,one/a:b\r\nc%d.json", line=2, column=4)

    line = format_github([finding]).rstrip("\n")

    assert line.startswith(
        "::error file=dir%2Cone/a%3Ab%0D%0Ac%25d.json,line=2,col=4,title=DPN003::"
    )
    assert parse_github_command(line)[1]["file"] == "dir,one/a:b\r\nc%d.json"


def test_github_escapes_percent_and_newlines_in_the_message_but_not_colons() -> None:
    finding = Finding.make("DPN021", "cycle: a -> b\r\nb -> a (100%), see ::x", file="c.json")

    line = format_github([finding]).rstrip("\n")

    assert line.endswith("::cycle: a -> b%0D%0Ab -> a (100%25), see ::x")
    assert "\n" not in line
    assert parse_github_command(line)[2] == "cycle: a -> b\r\nb -> a (100%), see ::x"


def test_github_appends_the_hint_on_the_annotations_next_line() -> None:
    finding = Finding.make(
        "DPN002", "duplicate key 'x'", file="a.yaml", line=4, column=3, hint="remove one"
    )

    _, _, message = parse_github_command(format_github([finding]).rstrip("\n"))

    assert message == "duplicate key 'x'\nhint: remove one"


def test_github_omits_positions_that_are_not_known() -> None:
    findings = [
        Finding.make("DPN003", "cannot read", file="whole.json"),
        Finding.make("DPN041", "differs", file="line-only.json", line=8),
        Finding.make("DPN205", "invalid --override"),
    ]

    assert format_github(findings).splitlines() == [
        "::error title=DPN205::invalid --override",
        "::warning file=line-only.json,line=8,title=DPN041::differs",
        "::error file=whole.json,title=DPN003::cannot read",
    ]


def test_github_commands_parse_back_to_every_finding() -> None:
    findings = sorted(varied_findings(), key=Finding.sort_key)

    parsed = [parse_github_command(line) for line in format_github(findings).splitlines()]

    assert len(parsed) == len(findings)
    for finding, (name, properties, message) in zip(findings, parsed, strict=True):
        assert (
            name
            == {"error": "error", "warning": "warning", "note": "notice"}[finding.severity.value]
        )
        assert properties["title"] == finding.code
        assert properties.get("file", "") == finding.file
        assert properties.get("line", "0") == str(finding.line)
        assert properties.get("col", "0") == str(finding.column)
        assert message.split("\nhint: ")[0] == finding.message


# --- sarif: content -----------------------------------------------------------------------


def test_sarif_log_declares_version_schema_and_tool() -> None:
    log = json.loads(format_sarif(varied_findings(), tool_version="1.2.3"))

    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    driver = log["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("dpn", "1.2.3")
    assert driver["informationUri"].startswith("https://")


def test_sarif_rules_are_the_codes_used_and_results_point_at_them() -> None:
    log = sarif_log(varied_findings(), tool_version="0.1.0")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]

    used = sorted({finding.code for finding in varied_findings()})
    assert [rule["id"] for rule in rules] == used
    for rule in rules:
        code = CODES[rule["id"]]
        assert rule["shortDescription"]["text"] == code.title
        assert rule["defaultConfiguration"]["level"] == code.severity.value
        assert re.fullmatch(r"(?:[A-Z][a-z0-9]+)+", rule["name"]), rule["name"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_result_level_is_the_findings_severity() -> None:
    finding = Finding.make("DPN040", "m", file="a.json", severity=Severity.NOTE)

    result = sarif_log([finding], tool_version="0")["runs"][0]["results"][0]
    rule = sarif_log([finding], tool_version="0")["runs"][0]["tool"]["driver"]["rules"][0]

    assert result["level"] == "note"
    assert rule["defaultConfiguration"]["level"] == "warning"


def test_sarif_region_is_given_only_for_known_positions() -> None:
    findings = [
        Finding.make("DPN101", "m", file="a.json", line=7, column=21),
        Finding.make("DPN041", "m", file="b.json", line=8),
        Finding.make("DPN003", "m", file="c.json"),
        Finding.make("DPN205", "m"),
    ]

    results = sarif_log(findings, tool_version="0")["runs"][0]["results"]
    by_code = {result["ruleId"]: result for result in results}

    def physical(code: str) -> dict[str, Any]:
        location: dict[str, Any] = by_code[code]["locations"][0]["physicalLocation"]
        return location

    assert physical("DPN101")["region"] == {"startLine": 7, "startColumn": 21}
    assert physical("DPN041")["region"] == {"startLine": 8}
    assert "region" not in physical("DPN003")
    assert physical("DPN003")["artifactLocation"] == {"uri": "c.json"}
    assert "locations" not in by_code["DPN205"]


def test_sarif_message_is_the_message_followed_by_the_hint() -> None:
    finding = Finding.make("DPN002", "duplicate key 'x'", file="a.yaml", hint="remove one")

    result = sarif_log([finding], tool_version="0")["runs"][0]["results"][0]

    assert result["message"] == {"text": "duplicate key 'x'\nhint: remove one"}


def test_sarif_carries_the_json_pointer_as_a_logical_location() -> None:
    finding = Finding.make("DPN011", "unknown key", file="a.json", line=2, pointer="/metadata/x")

    location = sarif_log([finding], tool_version="0")["runs"][0]["results"][0]["locations"][0]

    assert location["logicalLocations"] == [{"fullyQualifiedName": "/metadata/x"}]


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("blueprints/a.json", "blueprints/a.json"),
        ("blueprints/my dir/a.json", "blueprints/my%20dir/a.json"),
        ("données/é.yaml", "donn%C3%A9es/%C3%A9.yaml"),
        ("a#b%20c?.json", "a%23b%2520c%3F.json"),
        ("blueprints\\win\\a.json", "blueprints/win/a.json"),
        ("c:odd.json", "c%3Aodd.json"),
        ("/abs/my file.json", "file:///abs/my%20file.json"),
        ("C:\\work\\a b.json", "file:///C:/work/a%20b.json"),
    ],
)
def test_sarif_artifact_uri_is_percent_encoded_with_forward_slashes(path: str, uri: str) -> None:
    assert artifact_uri(path) == uri


URI_REFERENCE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]|%[0-9A-F]{2})*")


def test_sarif_artifact_uris_are_valid_uri_references_that_decode_to_the_path() -> None:
    for finding in varied_findings():
        if not finding.file:
            continue
        uri = artifact_uri(finding.file)
        assert URI_REFERENCE.fullmatch(uri), uri
        assert unquote(uri) == finding.file


def test_sarif_fingerprint_stays_when_the_finding_moves_to_another_line() -> None:
    before = Finding.make("DPN101", "too long", file="a.json", line=7, column=3, pointer="/x/0")
    after = Finding.make("DPN101", "too long", file="a.json", line=9, column=3, pointer="/x/0")
    other = Finding.make("DPN101", "too long", file="a.json", line=9, column=3, pointer="/x/1")

    def fingerprint(finding: Finding) -> str:
        result = sarif_log([finding], tool_version="0")["runs"][0]["results"][0]
        value: str = result["partialFingerprints"][FINGERPRINT_KEY]
        return value

    assert fingerprint(before) == fingerprint(after)
    assert fingerprint(before) != fingerprint(other)


def test_sarif_output_does_not_depend_on_the_input_order() -> None:
    findings = varied_findings()

    forward = format_sarif(findings, tool_version="0.1.0")
    backward = format_sarif(reversed(findings), tool_version="0.1.0")

    assert forward == backward


def test_findings_at_the_same_place_come_out_in_the_same_order_every_time() -> None:
    twins = [
        Finding.make("DPN011", "unknown key 'b'", file="a.json", line=1, column=1),
        Finding.make("DPN011", "unknown key 'a'", file="a.json", line=1, column=1),
    ]

    for fmt in FORMATS:
        forward = format_findings(twins, fmt, tool_version="0")
        backward = format_findings(twins[::-1], fmt, tool_version="0")
        assert forward == backward, fmt
        assert forward.index("unknown key 'a'") < forward.index("unknown key 'b'"), fmt


def test_a_code_missing_from_the_catalogue_still_formats() -> None:
    stray = Finding("DPN999", "made by a plug-in", file="a.json", severity=Severity.WARNING)

    rule = sarif_log([stray], tool_version="0")["runs"][0]["tool"]["driver"]["rules"][0]

    assert rule["id"] == "DPN999"
    assert rule["defaultConfiguration"]["level"] == "warning"
    assert format_text([stray]).startswith("a.json: DPN999 warning: made by a plug-in\n")


# --- sarif: the official validator and schema ---------------------------------------------


def require_validator() -> Path:
    if not VALIDATOR.exists():
        pytest.fail(f"{VALIDATOR.relative_to(REPO)} is missing: {INSTALL_HINT}", pytrace=False)
    return VALIDATOR


def validate_sarif(log_text: str, work: Path, *, rule_kind: str = "Sarif") -> list[dict[str, Any]]:
    """Run the SARIF multitool's `validate` and return its results, levels filled in."""
    validator = require_validator()
    target = work / "dpn.sarif"
    target.write_text(log_text, encoding="utf-8")
    report_path = work / "validation.sarif"
    arguments = [
        "validate",
        str(target),
        "--output",
        str(report_path),
        "--log",
        "ForceOverwrite",
        "--level",
        "Error;Warning;Note",
        "--rule-kind",
        rule_kind,
    ]
    # The package's launcher hands its arguments to a shell, so each one is quoted for it.
    completed = subprocess.run(
        [str(validator), *(shlex.quote(argument) for argument in arguments)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(report_path.read_text(encoding="utf-8-sig"))
    run = report["runs"][0]
    assert all(inv["executionSuccessful"] for inv in run["invocations"]), completed.stdout
    rules = run["tool"]["driver"].get("rules", [])
    results: list[dict[str, Any]] = run.get("results", [])
    for result in results:
        rule = rules[result["ruleIndex"]] if "ruleIndex" in result else {}
        default = rule.get("defaultConfiguration", {}).get("level", "warning")
        result["level"] = result.get("level", default)
        template = rule.get("messageStrings", {}).get(result["message"].get("id", ""), {})
        text = template.get("text", result["message"].get("text", ""))
        result["text"] = text.format(*result["message"].get("arguments", []))
    return results


def describe(results: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r['level']} {r['ruleId']}: {r['text']}" for r in results)


def test_sarif_passes_the_official_validator(tmp_path: Path) -> None:
    findings = varied_findings()
    log_text = format_sarif(findings, tool_version="0.1.0")
    ours = json.loads(log_text)["runs"][0]["results"]

    results = validate_sarif(log_text, tmp_path)

    errors = [r for r in results if r["level"] == "error"]
    assert not errors, describe(errors)
    # The one warning the validator has: SARIF2017 wants a region even for a finding about a
    # whole file. SARIF (§3.29.2) says an absent region means the whole artifact, and dpn does
    # not invent a line for such a finding; every other result must draw no warning.
    warnings = [r for r in results if r["level"] == "warning"]
    whole_file = {
        f"runs[0].results[{index}].locations[0].physicalLocation"
        for index, result in enumerate(ours)
        if "locations" in result and "region" not in result["locations"][0]["physicalLocation"]
    }
    assert whole_file, "the sample must hold whole-file findings"
    assert {r["ruleId"] for r in warnings} <= {"SARIF2017"}, describe(warnings)
    assert {r["message"]["arguments"][0] for r in warnings} == whole_file, describe(warnings)


def test_sarif_findings_in_files_meet_the_validators_github_rules(tmp_path: Path) -> None:
    # GitHub code scanning needs a location on every result; findings that belong to no file
    # (a bad --override) cannot have one and are left out here.
    findings = [finding for finding in varied_findings() if finding.file]

    results = validate_sarif(format_sarif(findings, tool_version="0.1.0"), tmp_path, rule_kind="Gh")

    problems = [r for r in results if r["level"] in ("error", "warning")]
    assert not problems, describe(problems)


def test_the_official_validator_reports_a_broken_log(tmp_path: Path) -> None:
    # Guards the two tests above: a validator that checked nothing would pass them too.
    log = sarif_log(varied_findings(), tool_version="0.1.0")
    log["runs"][0]["results"][0]["ruleIndex"] = 99
    log["runs"][0]["results"][1]["bogus"] = True

    results = validate_sarif(json.dumps(log), tmp_path)

    errors = {r["ruleId"] for r in results if r["level"] == "error"}
    assert {"SARIF1009", "JSON1005"} <= errors, describe(results)


def sarif_schema_validator() -> Any:
    from jsonschema import Draft202012Validator

    schemas = sorted(NODE_DIR.glob("node_modules/@microsoft/sarif-multitool-*/sarif-2.1.0.json"))
    if not schemas:
        pytest.fail(f"the SARIF 2.1.0 JSON schema is missing: {INSTALL_HINT}", pytrace=False)
    schema = json.loads(schemas[0].read_text(encoding="utf-8-sig"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(log: dict[str, Any]) -> list[str]:
    errors = sarif_schema_validator().iter_errors(log)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_sarif_matches_the_sarif_2_1_0_json_schema() -> None:
    for findings in (varied_findings(), []):
        log = json.loads(format_sarif(findings, tool_version="0.1.0"))
        assert schema_errors(log) == []


def test_the_sarif_schema_check_reports_what_the_validator_lets_through() -> None:
    # The multitool (5.7.0) accepts an unknown result level; the schema does not.
    log = json.loads(format_sarif(varied_findings(), tool_version="0.1.0"))
    log["runs"][0]["results"][1]["level"] = "fatal"

    errors = schema_errors(log)

    assert [error.split(": ")[0] for error in errors] == ["runs/0/results/1/level"], errors
    assert "'fatal'" in errors[0]


def test_sarif_node_tools_are_pinned_in_a_lock_file() -> None:
    manifest = json.loads((NODE_DIR / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((NODE_DIR / "package-lock.json").read_text(encoding="utf-8"))

    pinned = manifest["devDependencies"]["@microsoft/sarif-multitool"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "pin an exact version of the validator"
    assert lock["packages"]["node_modules/@microsoft/sarif-multitool"]["version"] == pinned


# --- choosing a format --------------------------------------------------------------------


def test_format_findings_offers_text_json_github_and_sarif() -> None:
    findings = varied_findings()

    assert FORMATS == ("text", "json", "github", "sarif")
    assert format_findings(findings, "text", tool_version="0") == format_text(findings)
    assert format_findings(findings, "json", tool_version="0") == format_json(findings)
    assert format_findings(findings, "github", tool_version="0") == format_github(findings)
    assert format_findings(findings, "sarif", tool_version="9.9") == format_sarif(
        findings, tool_version="9.9"
    )


def test_format_findings_accepts_a_one_shot_iterator() -> None:
    output = format_findings(iter(varied_findings()), "json", tool_version="0")

    assert len(json.loads(output)["findings"]) == len(varied_findings())


def test_an_unknown_format_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown format 'xml': choose one of text, json"):
        format_findings([], "xml", tool_version="0")


def test_formatters_import_only_the_standard_library() -> None:
    # A commit hook imports this module; it must not drag in yaml, pydantic or a cloud SDK.
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from dpn_action.findings import Finding\n"
        "from dpn_action.formatters import FORMATS, format_findings\n"
        "f = [Finding.make('DPN101', 'm', file='a b.json', line=1, column=2, hint='h')]\n"
        "for fmt in FORMATS: format_findings(f, fmt, tool_version='0')\n"
        "roots = {name.partition('.')[0] for name in set(sys.modules) - before}\n"
        "print('\\n'.join(sorted(roots - set(sys.stdlib_module_names) - {'dpn_action'})))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert completed.stdout.split() == []


# --- docs/findings.md ---------------------------------------------------------------------

DOC = REPO / "docs" / "findings.md"


def codes_table() -> str:
    rows = ["| code | severity | meaning |", "|---|---|---|"]
    rows += [f"| `{c.id}` | {c.severity.value} | {c.title} |" for c in CODES.values()]
    return "\n".join(rows)


def test_docs_list_every_code_with_its_severity_and_title() -> None:
    text = DOC.read_text(encoding="utf-8")

    start = text.index("<!-- codes:")
    start = text.index("\n", start) + 1
    end = text.index("<!-- end of codes -->")
    assert text[start:end].strip() == codes_table(), (
        "docs/findings.md's table of codes differs from dpn_action.findings.CODES; "
        "replace it with:\n" + codes_table()
    )


def test_docs_describe_every_format_and_how_to_choose_it() -> None:
    text = DOC.read_text(encoding="utf-8")

    for fmt in FORMATS:
        assert f"### {fmt}\n" in text
        assert f"`--format {fmt}`" in text or f"`{fmt}` (default)" in text
