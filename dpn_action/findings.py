"""The `Finding` record: every problem dpn reports, with where it is and how to fix it.

Formatters live in `dpn_action.formatters`; this module stays import-light because every
face (and every commit hook) needs it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Code:
    """A stable finding code with its one-line meaning (listed in docs/findings.md)."""

    id: str
    title: str
    severity: Severity


#: Every code dpn can emit. Codes are never renumbered; retired codes are never reused.
CODES: dict[str, Code] = {
    c.id: c
    for c in (
        # input files
        Code("DPN001", "file is not valid JSON or YAML", Severity.ERROR),
        Code("DPN002", "duplicate key", Severity.ERROR),
        Code("DPN003", "file cannot be read", Severity.ERROR),
        Code("DPN004", "file is too large", Severity.ERROR),
        Code("DPN005", "not a regular file inside the repository", Severity.ERROR),
        Code("DPN006", "YAML alias expansion exceeds the limit", Severity.ERROR),
        # structure (schema)
        Code("DPN010", "value has the wrong type", Severity.ERROR),
        Code("DPN011", "unknown key", Severity.ERROR),
        Code("DPN012", "required key is missing", Severity.ERROR),
        Code("DPN013", "value is not allowed", Severity.ERROR),
        Code("DPN014", "unknown field in a resource entry", Severity.ERROR),
        Code(
            "DPN015",
            "file named in a blueprint is outside the repository, not a regular file, or too large",
            Severity.ERROR,
        ),
        Code("DPN016", "setting is outside the cloud's range", Severity.ERROR),
        # references and graph
        Code("DPN020", "unknown reference", Severity.ERROR),
        Code("DPN021", "reference cycle", Severity.ERROR),
        Code("DPN022", "duplicate id", Severity.ERROR),
        Code("DPN023", "ambiguous reference", Severity.ERROR),
        # rendering
        Code("DPN030", "required naming variable has no value", Severity.ERROR),
        Code("DPN031", "pattern is malformed", Severity.ERROR),
        Code("DPN040", "value was normalised to the type's alphabet", Severity.WARNING),
        Code("DPN041", "explicit name differs from the naming convention", Severity.WARNING),
        Code("DPN042", "name was shortened with a hash", Severity.NOTE),
        # cloud rules (catalogue)
        Code("DPN101", "name length is outside the cloud's limits", Severity.ERROR),
        Code("DPN102", "name has characters the cloud does not allow", Severity.ERROR),
        Code("DPN103", "name starts with a reserved prefix", Severity.ERROR),
        Code("DPN104", "name ends with a reserved suffix", Severity.ERROR),
        Code("DPN105", "name has a shape the cloud forbids", Severity.ERROR),
        Code("DPN106", "name breaks a case rule", Severity.ERROR),
        # user rules and uniqueness
        Code("DPN120", "name breaks a rule of naming-patterns.yaml", Severity.ERROR),
        Code("DPN130", "name is not unique in its scope", Severity.ERROR),
        Code("DPN140", "name is held in the cloud by a resource that is not dpn's", Severity.ERROR),
        Code("DPN141", "the cloud could not be read to check a name", Severity.WARNING),
        # configuration
        Code("DPN200", "configuration loosens a cloud rule", Severity.ERROR),
        Code("DPN201", "configuration has an invalid regular expression", Severity.ERROR),
        Code("DPN202", "unknown resource type", Severity.ERROR),
        Code("DPN203", "pattern placeholder has no value source", Severity.ERROR),
        Code("DPN204", "configuration file not found", Severity.ERROR),
        Code("DPN205", "invalid --override", Severity.ERROR),
        Code("DPN206", "names lose a pattern segment: its variable has no value", Severity.WARNING),
        # security of creation settings
        Code("DPN300", "role trust policy lets anyone assume the role", Severity.WARNING),
        Code("DPN301", "policy allows every action on every resource", Severity.WARNING),
    )
}


@dataclass(frozen=True, slots=True)
class Fix:
    """A suggested edit, said as data so that `dpn fix` never reads a message: at `pointer`,
    write one of `candidates` in place of `old`, which is the member's key when `key` is
    true and its string value otherwise. One candidate is a fix; more are a choice left to
    the user."""

    pointer: str
    old: str
    candidates: tuple[str, ...]
    key: bool = False

    @property
    def replacement(self) -> str | None:
        """The one candidate, or None when there is a choice to make."""
        return self.candidates[0] if len(self.candidates) == 1 else None


def rename_fix(pointer: str, old: str, candidates: list[str]) -> Fix | None:
    """The fix of a mistyped key: rename it to a close match (None when there is none)."""
    return Fix(pointer, old, tuple(candidates), key=True) if candidates else None


@dataclass(slots=True)
class Finding:
    """One problem, located in a file.

    `line` and `column` are 1-based; 0 means "the whole file" (no better position exists).
    `pointer` is the RFC 6901 JSON pointer of the offending node ("" for the document).
    `fix`, when set, is the edit that would resolve it (`dpn fix`).
    """

    code: str
    message: str
    file: str = ""
    line: int = 0
    column: int = 0
    pointer: str = ""
    hint: str = ""
    severity: Severity = field(default=Severity.ERROR)
    fix: Fix | None = None

    @classmethod
    def make(
        cls,
        code: str,
        message: str,
        *,
        file: str = "",
        line: int = 0,
        column: int = 0,
        pointer: str = "",
        hint: str = "",
        severity: Severity | None = None,
        fix: Fix | None = None,
    ) -> Finding:
        """Build a finding whose severity defaults to the code's."""
        return cls(
            code=code,
            message=message,
            file=file,
            line=line,
            column=column,
            pointer=pointer,
            hint=hint,
            severity=severity or CODES[code].severity,
            fix=fix,
        )

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.code)


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 resource', '2 resources' ('2 entries' with `many`)."""
    return f"{count} {word}" if count == 1 else f"{count} {many or word + 's'}"


def printable(text: str) -> str:
    """`text`, with each lone surrogate (a code point that is no character, so cannot be
    written as UTF-8) spelled as its escape, `\\ud800`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def escape_pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def join_pointer(base: str, *tokens: str | int) -> str:
    if len(tokens) == 1:  # the hot path: one step down
        t = tokens[0]
        if isinstance(t, int):
            return f"{base}/{t}"
        if "~" not in t and "/" not in t:
            return f"{base}/{t}"
    return base + "".join("/" + escape_pointer_token(t) for t in tokens)


def split_pointer(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def close_matches(word: str, candidates: Iterable[str]) -> list[str]:
    """Up to three of `candidates` close to a mistyped `word`, closest first."""
    import difflib

    return difflib.get_close_matches(word, sorted(candidates), n=3, cutoff=0.6)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ' did you mean ...?' suffix for a mistyped key, or ''."""
    return suggestion(close_matches(word, candidates))


def suggestion(close: list[str]) -> str:
    """' did you mean 'a' or 'b'?' for the close matches `close` ('' for none)."""
    if not close:
        return ""
    return " did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
