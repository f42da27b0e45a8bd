"""Render findings for people and machines: `text`, `json`, `github` and `sarif`.

Every formatter takes the findings in any order and prints them sorted by file, line, column
and code, so the output of two runs over the same files is byte-for-byte the same.

This module is on the commit hook's hot path: it imports the standard library only, and the
heavier parts of it (json, hashlib, urllib) only inside the formatter that needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from dpn_action.findings import CODES, Finding, Fix, Severity, printable

FORMATS = ("text", "json", "github", "sarif")

TOOL_NAME = "dpn"
#: Where people learn about the tool; SARIF viewers link the tool's name to it.
INFORMATION_URI = "https://pypi.org/project/dpn-action/"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
#: The name of the partial fingerprint dpn computes (see `_fingerprint`).
FINGERPRINT_KEY = "dpnFindingHash/v1"

#: The location printed by `text` for a finding that belongs to no file (a bad `--override`).
NO_FILE = "dpn"

_SEVERITY_ORDER = (Severity.ERROR, Severity.WARNING, Severity.NOTE)


def _order(finding: Finding) -> tuple[str, int, int, str, str, str, str, str]:
    # The tail breaks ties between findings at one position, so the output never depends
    # on the order the checks happened to run in.
    tail = (finding.pointer, finding.message, finding.hint, finding.severity.value)
    return (*finding.sort_key(), *tail)


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=_order)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _counts(findings: Sequence[Finding]) -> dict[Severity, int]:
    counts = dict.fromkeys(_SEVERITY_ORDER, 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts


# --- text ---------------------------------------------------------------------------------


def text_location(finding: Finding) -> str:
    """`file:line:col`, `file:line` (no column known) or `file` (the whole file)."""
    if not finding.file:
        return NO_FILE
    if finding.line <= 0:
        return finding.file
    if finding.column <= 0:
        return f"{finding.file}:{finding.line}"
    return f"{finding.file}:{finding.line}:{finding.column}"


def format_text(findings: Iterable[Finding]) -> str:
    """One line per finding, its hint indented below it, then a one-line summary.

    Errors read `a.json:3:5: DPN101 message`; other severities name themselves after the
    code (`a.json:3:5: DPN040 warning: message`), so every finding line starts with
    `location: CODE`.
    """
    ordered = _sorted(findings)
    lines: list[str] = []
    for finding in ordered:
        label = "" if finding.is_error else f"{finding.severity.value}: "
        # A message or hint that spans lines keeps its continuation lines indented, so a
        # line that starts at column 1 is always the start of a finding.
        message = finding.message.replace("\n", "\n    ")
        lines.append(f"{text_location(finding)}: {finding.code} {label}{message}")
        if finding.hint:
            lines.append("  hint: " + finding.hint.replace("\n", "\n        "))
    lines.append(text_summary(ordered))
    return "\n".join(lines) + "\n"


def text_summary(findings: Sequence[Finding]) -> str:
    """`2 errors, 1 warning in 3 files`, or `no problems found`."""
    if not findings:
        return "no problems found"
    counts = _counts(findings)
    parts = [
        _plural(counts[severity], severity.value)
        for severity in _SEVERITY_ORDER
        if counts[severity]
    ]
    files = len({finding.file for finding in findings if finding.file})
    where = f" in {_plural(files, 'file')}" if files else ""
    return ", ".join(parts) + where


# --- json ---------------------------------------------------------------------------------


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """The finding as plain JSON data, keys in a fixed order."""
    return {
        "code": finding.code,
        "severity": finding.severity.value,
        "file": finding.file,
        "line": finding.line,
        "column": finding.column,
        "pointer": finding.pointer,
        "message": finding.message,
        "hint": finding.hint,
        "fix": fix_to_dict(finding.fix),
    }


def fix_to_dict(fix: Fix | None) -> dict[str, Any] | None:
    """The edit that would resolve a finding (what `dpn fix` applies when there is one
    candidate), as JSON data: at `pointer`, replace the member's `key` or its `value`,
    written `old`, with one of `candidates`."""
    if fix is None:
        return None
    return {
        "pointer": fix.pointer,
        "part": "key" if fix.key else "value",
        "old": fix.old,
        "candidates": list(fix.candidates),
    }


def format_json(findings: Iterable[Finding]) -> str:
    """`{"findings": [...], "summary": {"errors": n, "warnings": n, "notes": n}}`."""
    import json

    ordered = _sorted(findings)
    counts = _counts(ordered)
    document = {
        "findings": [finding_to_dict(finding) for finding in ordered],
        "summary": {
            "errors": counts[Severity.ERROR],
            "warnings": counts[Severity.WARNING],
            "notes": counts[Severity.NOTE],
        },
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


# --- github -------------------------------------------------------------------------------

_GITHUB_COMMAND = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.NOTE: "notice",
}


def escape_github_data(value: str) -> str:
    """Escape a workflow command's message as @actions/core's `escapeData` does."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_github_property(value: str) -> str:
    """Escape a workflow command's property as @actions/core's `escapeProperty` does."""
    return escape_github_data(value).replace(":", "%3A").replace(",", "%2C")


def format_github(findings: Iterable[Finding]) -> str:
    """One `::error file=F,line=L,col=C,title=CODE::message` workflow command per finding.

    Warnings become `::warning`, notes `::notice`. The hint follows the message on its own
    line of the annotation. Positions that are not known (0) are left out.
    """
    lines: list[str] = []
    for finding in _sorted(findings):
        properties: list[tuple[str, str]] = []
        if finding.file:
            properties.append(("file", finding.file))
            if finding.line > 0:
                properties.append(("line", str(finding.line)))
                if finding.column > 0:
                    properties.append(("col", str(finding.column)))
        properties.append(("title", finding.code))
        message = finding.message
        if finding.hint:
            message += "\nhint: " + finding.hint
        rendered = ",".join(f"{key}={escape_github_property(value)}" for key, value in properties)
        command = _GITHUB_COMMAND[finding.severity]
        lines.append(f"::{command} {rendered}::{escape_github_data(message)}")
    return "".join(line + "\n" for line in lines)


# --- sarif --------------------------------------------------------------------------------


def _rule_name(title: str) -> str:
    """`name breaks a rule of naming-patterns.yaml` -> `NameBreaksRuleOfNamingPatternsYaml`.

    SARIF wants a Pascal-case friendly name: every word is capitalised (`JSON` -> `Json`),
    punctuation separates words (apostrophes vanish), and articles are dropped because
    `WithAHash` would have two capitals in a row.
    """
    spaced = "".join(ch if ch.isalnum() else " " for ch in title.replace("'", ""))
    return "".join(word.capitalize() for word in spaced.split() if word not in _ARTICLES)


_ARTICLES = frozenset({"a", "an"})


def _sarif_rule(code: str, fallback: Severity) -> dict[str, Any]:
    known = CODES.get(code)
    title = known.title if known else code
    level = (known.severity if known else fallback).value
    return {
        "id": code,
        "name": _rule_name(title) if known else code,
        "shortDescription": {"text": title},
        "fullDescription": {"text": f"{title[:1].upper()}{title[1:]}."},
        "help": {
            "text": f"{code}: {title}. Each result's message names the value at fault, "
            "and its hint says how to fix it."
        },
        "defaultConfiguration": {"level": level},
    }


def artifact_uri(path: str) -> str:
    """A finding's file as a SARIF artifact URI.

    Relative paths stay relative (the consumer resolves them against the repository root),
    with forward slashes; everything outside RFC 3986's unreserved set is percent-encoded as
    UTF-8, so spaces, `#`, `%` and non-ASCII letters survive. Absolute paths become `file:` URIs.
    """
    from urllib.parse import quote

    posix = path.replace("\\", "/")
    if len(posix) >= 3 and posix[0].isascii() and posix[0].isalpha() and posix[1:3] == ":/":
        return "file:///" + posix[:2] + quote(posix[2:], safe="/")
    if posix.startswith("/"):
        return "file://" + quote(posix, safe="/")
    # A colon in a relative path's first segment would read as a URI scheme; quote() encodes it.
    return quote(posix, safe="/")


def _fingerprint(finding: Finding) -> str:
    """A hash of what the finding is about, not of where its line happens to be.

    The JSON pointer stays put when lines are added above a value, so code-scanning alerts
    follow the value instead of being closed and reopened on every edit.
    """
    import hashlib

    key = "\0".join((finding.code, finding.file, finding.pointer, finding.message))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _sarif_message(finding: Finding) -> str:
    if not finding.hint:
        return finding.message
    return f"{finding.message}\nhint: {finding.hint}"


def sarif_log(findings: Iterable[Finding], *, tool_version: str) -> dict[str, Any]:
    """The findings as a SARIF 2.1.0 log (one run), as JSON data."""
    ordered = _sorted(findings)
    rule_index: dict[str, int] = {}
    rules: list[dict[str, Any]] = []
    for code in sorted({finding.code for finding in ordered}):
        first = next(finding for finding in ordered if finding.code == code)
        rule_index[code] = len(rules)
        rules.append(_sarif_rule(code, first.severity))

    results: list[dict[str, Any]] = []
    for finding in ordered:
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": rule_index[finding.code],
            "level": finding.severity.value,
            "message": {"text": _sarif_message(finding)},
        }
        if finding.file:
            physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(finding.file)}}
            if finding.line > 0:
                region = {"startLine": finding.line}
                if finding.column > 0:
                    region["startColumn"] = finding.column
                physical["region"] = region
            location: dict[str, Any] = {"physicalLocation": physical}
            if finding.pointer:
                location["logicalLocations"] = [{"fullyQualifiedName": finding.pointer}]
            result["locations"] = [location]
        result["partialFingerprints"] = {FINGERPRINT_KEY: _fingerprint(finding)}
        results.append(result)

    driver = {
        "name": TOOL_NAME,
        "version": tool_version,
        "informationUri": INFORMATION_URI,
        "rules": rules,
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "results": results,
                # Columns count characters of the decoded text, as Python's str indexes do.
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def format_sarif(findings: Iterable[Finding], *, tool_version: str) -> str:
    """A SARIF 2.1.0 log for code-scanning uploads and SARIF viewers."""
    import json

    log = sarif_log(findings, tool_version=tool_version)
    return json.dumps(log, ensure_ascii=False, indent=2) + "\n"


# --- dispatch -----------------------------------------------------------------------------

_FORMATTERS: dict[str, Callable[[Iterable[Finding], str], str]] = {
    "text": lambda findings, _version: format_text(findings),
    "json": lambda findings, _version: format_json(findings),
    "github": lambda findings, _version: format_github(findings),
    "sarif": lambda findings, version: format_sarif(findings, tool_version=version),
}


def format_findings(findings: Iterable[Finding], fmt: str, *, tool_version: str) -> str:
    """Render `findings` in `fmt`, one of `FORMATS`.

    Text that is no valid Unicode (a file name with bytes that are not UTF-8, which Python
    carries as lone surrogates) is printed with those code points escaped, so every format
    can be written out."""
    try:
        formatter = _FORMATTERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}") from None
    return formatter([_printable(f) for f in findings], tool_version)


def _printable(f: Finding) -> Finding:
    fields = (f.file, f.message, f.hint, f.pointer)
    clean = tuple(printable(x) for x in fields)
    fix = f.fix
    if fix is not None:
        fix = replace(
            fix,
            pointer=printable(fix.pointer),
            old=printable(fix.old),
            candidates=tuple(printable(c) for c in fix.candidates),
        )
    if clean == fields and fix == f.fix:
        return f
    return replace(f, file=clean[0], message=clean[1], hint=clean[2], pointer=clean[3], fix=fix)
