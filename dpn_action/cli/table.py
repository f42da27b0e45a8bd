"""Plain-text tables that fit the terminal: columns wrap on word boundaries, and when even
that cannot fit, each row becomes a short list. Nothing is padded at the end of a line.

The width is `COLUMNS` when set, else the terminal's when printing to one; output that goes
to a pipe or a file has no width limit (one line per row, for `grep` and `awk`).
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

#: spaces between two columns
GAP = 2


@dataclass(frozen=True)
class Column:
    header: str
    #: may wrap on spaces (never inside a word); a column that may not is never cut
    wrap: bool = False
    #: when the table is too wide, shown on lines of its own below each row instead
    below: bool = False


def output_width(stream: object = None) -> int | None:
    """The width to fit: `COLUMNS`, else the terminal's, else None (not a terminal)."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    out = stream if stream is not None else sys.stdout
    isatty = getattr(out, "isatty", None)
    if callable(isatty) and isatty():
        return shutil.get_terminal_size().columns
    return None


def cells(text: str) -> int:
    """How many terminal cells `text` takes (wide characters two, combining ones none)."""
    n = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return n


def _pad(text: str, width: int) -> str:
    return text + " " * (width - cells(text))


def _words(text: str) -> list[str]:
    return text.split()


def _wrap(text: str, width: int) -> list[str]:
    if cells(text) <= width:
        return [text]
    lines: list[str] = []
    line = ""
    for word in _words(text):
        candidate = f"{line} {word}" if line else word
        if line and cells(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    return lines


def _widths(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None
) -> list[int] | None:
    """Column widths that fit in `width`, or None when the columns cannot fit."""
    natural = [max([cells(c.header), *(cells(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    used = GAP * (len(columns) - 1)
    if width is None or sum(natural) + used <= width:
        return natural
    least = [
        max(cells(w) for w in [*_words(c.header), *(w for r in rows for w in _words(r[i]))] or [""])
        if c.wrap
        else natural[i]
        for i, c in enumerate(columns)
    ]
    spare = width - used - sum(least)
    if spare < 0:
        return None
    # the room left is shared among the wrapping columns in proportion to what each lacks
    widths = list(least)
    lacking = {i: natural[i] - least[i] for i, c in enumerate(columns) if c.wrap}
    total = sum(lacking.values())
    if total:
        for i, lack in lacking.items():
            widths[i] += min(lack, spare * lack // total)
        left = width - used - sum(widths)
        for i in sorted(lacking, key=lambda i: natural[i] - widths[i], reverse=True):
            more = min(left, natural[i] - widths[i])
            widths[i] += more
            left -= more
    return widths


def render(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int | None,
    *,
    bold: bool = False,
) -> list[str]:
    """The lines of `rows` under `columns`, fitting `width` (None: any width).

    In turn, until one fits: every column at its full width; columns that may wrap,
    wrapped on spaces; the columns marked `below` moved to lines of their own under each
    row (`depends on: a, b`, under the second column); and last a list per row: its
    second column (the one that is never cut), then `header  value` lines, rows apart by
    an empty line."""
    kept = list(range(len(columns)))
    widths = _widths(columns, rows, width)
    if widths is None:
        kept = [i for i, c in enumerate(columns) if not c.below]
        widths = _widths([columns[i] for i in kept], [[r[i] for i in kept] for r in rows], width)
    if widths is None:
        return _as_list(columns, rows, width)
    below = [i for i in range(len(columns)) if i not in kept]
    indent = widths[0] + GAP if len(kept) > 1 else 2
    out = _row([columns[i].header for i in kept], widths)
    if bold:
        out = [f"\x1b[1m{line}\x1b[0m" for line in out]
    for r in rows:
        out += _row([r[i] for i in kept], widths)
        for i in below:
            if r[i]:
                label = f"{columns[i].header}: "
                hang = indent + cells(label)
                text = _wrap(r[i], max(width - hang, 1)) if width is not None else [r[i]]
                out.append(" " * indent + label + text[0])
                out += [" " * hang + line for line in text[1:]]
    return out


def _row(row: Sequence[str], widths: list[int]) -> list[str]:
    wrapped = [_wrap(text, w) for text, w in zip(row, widths, strict=True)]
    height = max(len(w) for w in wrapped)
    lines = []
    for n in range(height):
        parts = [_pad(w[n] if n < len(w) else "", widths[i]) for i, w in enumerate(wrapped)]
        lines.append((" " * GAP).join(parts).rstrip())
    return lines


def _as_list(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None
) -> list[str]:
    key = 1 if len(columns) > 1 else 0
    labels = [c.header for i, c in enumerate(columns) if i != key]
    label_width = max(cells(label) for label in labels) if labels else 0
    indent = 2 + label_width + GAP
    out: list[str] = []
    for n, r in enumerate(rows):
        if n:
            out.append("")
        out.append(r[key])
        for i, c in enumerate(columns):
            if i == key or not r[i]:
                continue
            room = max((width or 0) - indent, 1) if width is not None else None
            text = _wrap(r[i], room) if room is not None and c.wrap else [r[i]]
            out.append(f"  {_pad(c.header, label_width)}{' ' * GAP}{text[0]}".rstrip())
            out += [" " * indent + more for more in text[1:]]
    return out


def fill(text: str, width: int | None) -> list[str]:
    """A sentence wrapped on spaces to `width` (None: one line); words are never cut."""
    if width is None:
        return [text]
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
