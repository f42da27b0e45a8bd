"""Rule kinds: the code that checks one kind of cloud naming rule.

Which type has which rule (and where the cloud documents it) is data in `catalogue.py`;
this module holds one small checker per *kind* of rule, never per type.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from dpn_action.findings import Severity

#: whose rule it is (`Rule.level`)
CLOUD = "cloud"  # the cloud refuses a name that breaks it
ADVICE = "advice"  # the cloud's documentation recommends it
HOUSE = "house"  # dpn's own, for names that work well everywhere dpn puts them
LEVELS = (CLOUD, ADVICE, HOUSE)


@dataclass(frozen=True, slots=True)
class Rule:
    """One naming rule, with the page that documents it.

    kind      what is checked (a key of `CHECKS`)
    arg       the rule's parameter (a length, a character class, a list of prefixes, ...)
    source    the page that documents the rule
    level     `cloud` (a hard rule: the cloud refuses the name, an error), `advice` (the
              cloud's documentation recommends it) or `house` (dpn's own); advice and house
              rules are warnings unless `error` is set
    note      for advice and house rules: what the source says about the rule and why it
              matters (shown in the hint and in docs/resource-types.md)
    error     an advice or house rule that is an error all the same, because `note` says why
              a name that breaks it would not work as planned
    """

    kind: str
    arg: Any = None
    source: str = ""
    #: extra parameters of the rule kind (for example the length unit)
    opts: dict[str, Any] = field(default_factory=dict)
    level: str = CLOUD
    note: str = ""
    error: bool = False

    @property
    def code(self) -> str:
        return CHECKS[self.kind].code

    @property
    def severity(self) -> Severity:
        return Severity.ERROR if self.level == CLOUD or self.error else Severity.WARNING

    @property
    def hard(self) -> bool:
        """A rule a name must keep (the cloud's, or another that is an error)."""
        return self.severity is Severity.ERROR

    def describe(self) -> str:
        return CHECKS[self.kind].describe(self)


@dataclass(frozen=True, slots=True)
class Violation:
    code: str
    message: str
    hint: str
    rule: Rule

    @property
    def severity(self) -> Severity:
        return self.rule.severity


def _measure(name: str, unit: str) -> int:
    return len(name.encode("utf-8")) if unit == "bytes" else len(name)


def _units(n: int, unit: str) -> str:
    """'1 character', '2 characters', '1 UTF-8 byte', ... without the number."""
    word = "UTF-8 byte" if unit == "bytes" else "character"
    return word if n == 1 else word + "s"


@cache
def charset_regex(chars: str) -> re.Pattern[str]:
    """A pattern matching one character *outside* the class `chars` (regex class body)."""
    return re.compile(f"[^{chars}]")


def _show(ch: str) -> str:
    if ch == " ":
        return "space"
    if not ch.isprintable():
        return f"U+{ord(ch):04X}"
    return f"'{ch}'"


class _Check:
    code = "DPN105"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        raise NotImplementedError

    def describe(self, rule: Rule) -> str:
        return rule.kind


class _Length(_Check):
    code = "DPN101"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        lo, hi = rule.arg
        unit = rule.opts.get("unit", "chars")
        n = _measure(name, unit)
        if n < lo:
            return (
                f"'{name}' is {n} {_units(n, unit)}; the minimum is {lo}",
                "add a naming value or lengthen one",
            )
        if hi is not None and n > hi:
            return (
                f"'{name}' is {n} {_units(n, unit)}; the limit is {hi}",
                "shorten a value, or set `on_too_long: hash` to shorten it with a hash",
            )
        return None

    def describe(self, rule: Rule) -> str:
        lo, hi = rule.arg
        unit = "bytes" if rule.opts.get("unit") == "bytes" else "characters"
        return f"length {lo}-{hi} {unit}" if hi is not None else f"length at least {lo}"


class _Charset(_Check):
    """Every character in the class; an allowed suffix (SQS/SNS `.fifo`) is set aside."""

    code = "DPN102"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        suffix = rule.opts.get("suffix")
        body = name[: -len(suffix)] if suffix and name.endswith(suffix) else name
        m = charset_regex(rule.arg).search(body)
        if m is None:
            return None
        allowed = rule.opts.get("label") or f"[{rule.arg}]"
        which = "allowed" if rule.level == CLOUD else "advised"
        return (
            f"'{name}' has {_show(m.group())} at position {m.start() + 1}; "
            f"{which} characters are {allowed}",
            "use only the allowed characters (values are normalised; an explicit `name` is not)",
        )

    def describe(self, rule: Rule) -> str:
        label = rule.opts.get("label")
        return f"characters: {label}" if label else f"characters [{rule.arg}]"


class _Forbidden(_Check):
    """None of the given characters, and (unless `controls` is false) no character that is
    not printable: control, format, private-use and unassigned code points, surrogates,
    and every space but ' '."""

    code = "DPN102"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        controls = rule.opts.get("controls", True)
        if (not controls or name.isprintable()) and not any(c in name for c in rule.arg):
            return None  # the common case, without a look at each character
        for i, ch in enumerate(name):
            if ch in rule.arg or (controls and not ch.isprintable()):
                verdict = ", which is not allowed" if rule.level == CLOUD else ""
                return (
                    f"'{name}' has {_show(ch)} at position {i + 1}{verdict}",
                    rule.opts.get("instead", "remove it or use '_' instead"),
                )
        return None

    def describe(self, rule: Rule) -> str:
        controls = rule.opts.get("controls", True)
        if not rule.arg:
            return "no control or other invisible characters"
        shown = ", ".join(_show(c) for c in rule.arg)
        return f"no {shown}" + (" or control characters" if controls else "")


class _Edges(_Check):
    """First and last character from a class."""

    code = "DPN105"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        if not name:
            return None
        bad = charset_regex(rule.arg)
        for where, ch in (("start", name[0]), ("end", name[-1])):
            if bad.match(ch):
                return (
                    f"'{name}' must {where} with [{rule.arg}], not {_show(ch)}",
                    f"change the {'first' if where == 'start' else 'last'} value",
                )
        return None

    def describe(self, rule: Rule) -> str:
        return f"starts and ends with [{rule.arg}]"


class _Prefix(_Check):
    code = "DPN103"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        for p in rule.arg:
            if name.startswith(p):
                return (
                    f"'{name}' starts with '{p}', which is reserved",
                    f"choose a first value that does not start with '{p}'",
                )
        return None

    def describe(self, rule: Rule) -> str:
        return "no prefix " + ", ".join(f"'{p}'" for p in rule.arg)


class _Suffix(_Check):
    code = "DPN104"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        for s in rule.arg:
            if name.endswith(s):
                return (
                    f"'{name}' ends with '{s}', which is reserved",
                    f"choose a last value that does not end with '{s}'",
                )
        return None

    def describe(self, rule: Rule) -> str:
        return "no suffix " + ", ".join(f"'{s}'" for s in rule.arg)


class _Substring(_Check):
    code = "DPN105"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        for s in rule.arg:
            if s in name:
                return (f"'{name}' contains '{s}'", f"remove the '{s}'")
        return None

    def describe(self, rule: Rule) -> str:
        return "does not contain " + ", ".join(f"'{s}'" for s in rule.arg)


class _NotIp(_Check):
    code = "DPN105"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        if name.strip("0123456789."):
            return None  # a character no IPv4 address has
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return None
        return (f"'{name}' is formatted as an IP address", "add a non-numeric value")

    def describe(self, rule: Rule) -> str:
        return "not formatted as an IP address"


class _Lowercase(_Check):
    code = "DPN106"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        if name != name.lower():
            return (
                f"'{name}' has upper-case letters; this type needs lower case",
                f"use '{name.lower()}'",
            )
        return None

    def describe(self, rule: Rule) -> str:
        return "lower case"


class _Fifo(_Check):
    """A FIFO queue or topic must end in `.fifo` after a name of its own; a standard one
    must not end in `.fifo`."""

    code = "DPN105"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        fifo = props.get("fifo") is True
        if name == ".fifo":
            return (
                "'.fifo' is only the FIFO suffix: the name before it is empty",
                "give the name a base before '.fifo' (at least one character)",
            )
        if fifo and not name.endswith(".fifo"):
            return (
                f"'{name}' is FIFO (fifo: true) but does not end with '.fifo'",
                "dpn appends '.fifo' to generated names; add it to an explicit `name`",
            )
        if not fifo and name.endswith(".fifo"):
            return (
                f"'{name}' ends with '.fifo' but the resource is not FIFO",
                "set `fifo: true` or drop the suffix",
            )
        return None

    def describe(self, rule: Rule) -> str:
        return "'.fifo' suffix, after a base of at least 1 character, exactly when fifo: true"


class _AbsPath(_Check):
    """An absolute, clean workspace path."""

    code = "DPN105"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        if not name.startswith("/"):
            return (f"'{name}' is not an absolute path", "start the pattern with '/'")
        if len(name) > 1 and name.endswith("/"):
            return (f"'{name}' ends with '/'", "the last segment is missing a value")
        if "//" in name:
            return (f"'{name}' has an empty segment ('//')", "a path value is empty")
        segments = name.split("/")[1:]
        for seg in segments:
            if seg in (".", ".."):
                return (f"'{name}' has a '{seg}' segment", "paths must be clean")
        return None

    def describe(self, rule: Rule) -> str:
        return "absolute clean path (no '//', '.', '..', trailing '/')"


class _ReposPath(_Check):
    """Under /Repos a repo path is exactly /Repos/{folder}/{repo}."""

    code = "DPN105"

    def __call__(self, rule: Rule, name: str, props: dict[str, Any]) -> tuple[str, str] | None:
        if not name.startswith("/Repos/") and name != "/Repos":
            return None
        parts = name.split("/")
        if len(parts) != 4 or not all(parts[1:]):
            return (
                f"'{name}' must be exactly /Repos/{{folder}}/{{repo}}",
                "use one folder level under /Repos",
            )
        return None

    def describe(self, rule: Rule) -> str:
        return "under /Repos exactly /Repos/{folder}/{repo}"


CHECKS: dict[str, _Check] = {
    "length": _Length(),
    "charset": _Charset(),
    "forbidden": _Forbidden(),
    "edges": _Edges(),
    "prefix": _Prefix(),
    "suffix": _Suffix(),
    "substring": _Substring(),
    "not_ip": _NotIp(),
    "lowercase": _Lowercase(),
    "fifo": _Fifo(),
    "abs_path": _AbsPath(),
    "repos_path": _ReposPath(),
}


def check(rules: tuple[Rule, ...], name: str, props: dict[str, Any]) -> list[Violation]:
    """Every rule the name breaks, in rule order. An advice or house rule says so in its
    message, and its hint carries the rule's note."""
    out: list[Violation] = []
    for checker, rule in _checkers(rules):
        result = checker(rule, name, props)
        if result is not None:
            msg, hint = result
            if rule.level != CLOUD:
                whose = "the cloud's advice" if rule.level == ADVICE else "a dpn house rule"
                msg = f"{msg} ({whose})"
                hint = f"{rule.note}; {hint}" if rule.note else hint
            out.append(Violation(rule.code, msg, hint, rule))
    return out


#: id of a tuple of rules -> (the rules, each with its checker); the tuple is kept, so that
#: its id is never reused while it is here
_CHECKERS: dict[int, tuple[tuple[Rule, ...], list[tuple[_Check, Rule]]]] = {}


def _checkers(rules: tuple[Rule, ...]) -> list[tuple[_Check, Rule]]:
    hit = _CHECKERS.get(id(rules))
    if hit is None or hit[0] is not rules:
        if len(_CHECKERS) >= 4096:  # rules made on the fly (tests): start over
            _CHECKERS.clear()
        hit = _CHECKERS[id(rules)] = (rules, [(CHECKS[r.kind], r) for r in rules])
    return hit[1]
