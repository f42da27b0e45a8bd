"""Syntax errors told where they start: an unclosed bracket at the bracket, a tab as a tab.

A parser stops where it can go no further, which for a bracket never closed is far below it
(often the end of the file). These helpers look at the text again and find the opener, so
the finding points at the line to fix. They only ever refine a parser's error: when the text
does not show an unclosed opener, the parser's own message and position stand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dpn_action.findings import Finding

_PAIRS = {"{": "}", "[": "]"}
_CLOSERS = {"}": "{", "]": "["}
_KINDS = {"{": "object", "[": "array"}


@dataclass(frozen=True, slots=True)
class Unclosed:
    """An opening bracket never closed: its offset and character, and the closer it needs."""

    offset: int
    char: str

    @property
    def closer(self) -> str:
        return _PAIRS[self.char]

    @property
    def kind(self) -> str:
        return _KINDS[self.char]


def _line_indent(text: str, offset: int) -> tuple[int, bool]:
    """The indentation of the line holding `offset`, and whether only blanks precede it."""
    start = text.rfind("\n", 0, offset) + 1
    before = text[start:offset]
    stripped = before.lstrip(" \t")
    return len(before) - len(stripped), stripped == ""


def unclosed_json(text: str) -> Unclosed | None:
    """The opening bracket of a JSON text that is never closed, or None.

    Strings are skipped (a line break ends one, as JSON allows none inside). An opener is
    unclosed when the text ends while it is open, when a closer of the other kind meets it,
    or when a closer that starts its line is indented less than the opener's line (the
    closer belongs to an outer bracket: pretty-printed JSON closes a bracket at the indent of
    the line that opened it)."""
    stack: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif ch in _PAIRS:
            stack.append(i)
        elif ch in _CLOSERS:
            if not stack:
                return None  # a stray closer: the parser's message says it best
            top = stack[-1]
            if text[top] != _CLOSERS[ch]:
                return Unclosed(top, text[top])
            indent, first = _line_indent(text, i)
            top_indent, _ = _line_indent(text, top)
            if first and indent < top_indent and text.rfind("\n", 0, top) < text.rfind("\n", 0, i):
                return Unclosed(top, text[top])
            stack.pop()
        i += 1
    return Unclosed(stack[-1], text[stack[-1]]) if stack else None


def flow_closed(text: str, opener: int) -> bool:
    """Whether the YAML flow collection opening at `opener` is closed before the text ends
    (quoted scalars and comments are skipped)."""
    stack: list[str] = []
    i, n = opener, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "'":
            i += 1
            while i < n:
                if text[i] == "'" and text[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                if text[i] == "'":
                    break
                i += 1
        elif ch == "#" and (i == 0 or text[i - 1] in " \t\n"):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        elif ch in _PAIRS:
            stack.append(ch)
        elif ch in _CLOSERS:
            if stack.pop() != _CLOSERS[ch]:
                return False  # closed by the other kind of bracket: never properly
            if not stack:
                return True
        i += 1
    return False


def show_char(ch: str) -> str:
    """A character as a message shows it: '\\t' (a tab), 'x'."""
    if ch == "\t":
        return "'\\t', a tab,"
    if ch.isprintable() and ch != " ":
        return f"'{ch}'"
    return f"U+{ord(ch):04X}"


def yaml_error(
    text: str, exc: Any, line_col: Callable[[int], tuple[int, int]], path: str
) -> Finding:
    """libyaml's error `exc` as a finding at the place to fix: an unclosed flow collection or
    quoted scalar where it opens (when the text shows it is never closed); a character that
    cannot start a token named, a tab called a tab."""
    problem, context = exc.problem or "", exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    offset = mark.index if mark is not None else 0
    message = problem or context
    hint = "check indentation and quoting near this position"
    opened = exc.context_mark.index if exc.context_mark is not None else None
    line, col = line_col(offset)
    stopped = f"libyaml stopped at line {line}, column {col}: {problem}"
    if opened is not None and context.startswith("while parsing a flow "):
        ch = text[opened : opened + 1]
        if ch in _PAIRS and not flow_closed(text, opened):
            offset, message = opened, f"'{ch}' opened here is never closed ({stopped})"
            hint = f"add the '{_PAIRS.get(ch, ch)}' that ends this flow {context.split()[-1]}"
    elif opened is not None and context == "while scanning a quoted scalar":
        if "end of stream" in problem or "document" in problem:
            ch = text[opened : opened + 1]
            offset, message = opened, f"the string opened here is never closed ({stopped})"
            hint = f"add the closing {ch} quote"
    else:
        ch = text[offset : offset + 1]
        if problem == "found character that cannot start any token" and ch:
            # libyaml leaves the character out of its message; PyYAML's own parser names it
            message = f"found character {show_char(ch)} that cannot start any token"
        if ch == "\t" or "tab" in problem:
            hint = "YAML indents with spaces, never tabs: replace the tab with spaces"
    line, col = line_col(offset)
    return Finding.make(
        "DPN001", f"invalid YAML: {message}", file=path, line=line, column=col, hint=hint
    )
