"""The sticky pull-request comment: rendering, escaping, the hidden header, the size limit.

One comment per environment. Its first line is a hidden header, an HTML comment holding
JSON (`<!-- dpn-preview {...} -->`): the environment, the plan hash, the commit it was
computed at. The comment is found again by that header *and* by its author, so a comment
someone else wrote with the same header is never taken for ours.

Everything that comes from the repository (names, paths, environment names, finding
messages) is shown as an inline code span: GitHub renders its content literally, so no
markdown, HTML, mention, issue reference or link in a blueprint value can take effect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from dpn_action import __version__
from dpn_action.findings import Finding, Severity
from dpn_action.plan import PlannedResource, type_title

#: Our comments stay under this many characters (GitHub refuses bodies over 65,536).
COMMENT_LIMIT = 60_000
#: A step's job summary may hold 1 MiB; stay under it in bytes.
SUMMARY_LIMIT = 1_000_000
HEADER_TAG = "dpn-preview"
HEADER_VERSION = 1
APPLY_START = "<!-- dpn-apply:start -->"
APPLY_END = "<!-- dpn-apply:end -->"
FOOTER_MARK = "<!-- dpn-footer -->"
#: Findings listed in a comment; the rest are in the job summary.
MAX_COMMENT_FINDINGS = 50
#: Repository text longer than this is shortened in a cell.
MAX_CELL = 200

_ICON = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.NOTE: "ℹ️"}
#: Characters that could break a line, hide text or reorder it (bidi controls).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_HEADER = re.compile(r"<!-- " + HEADER_TAG + r" (\{.*?\}) -->")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


# ---------------------------------------------------------------------------- escaping
def code(text: str, *, table: bool = False, limit: int = MAX_CELL) -> str:
    """Untrusted text as an inline code span that renders exactly as the text reads.

    Line breaks and invisible or reordering characters become U+FFFD, a fence longer than
    any run of backticks inside is used, and in a table cell `|` is escaped (GFM splits
    cells before it parses code spans).
    """
    s = _UNSAFE.sub("\ufffd", text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    if not s:
        return "*(empty)*"
    if table:
        s = s.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s[0] == "`" or s[-1] == "`" or (s[0] == " " and s[-1] == " ") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


# ------------------------------------------------------------------------------ header
def render_header(data: dict[str, Any]) -> str:
    """The hidden header. `<`, `>` and `&` are written as JSON escapes, so no value can
    close the HTML comment early."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    raw = raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"<!-- {HEADER_TAG} {raw} -->"


def parse_header(body: str) -> dict[str, Any] | None:
    """The header of a comment body, or None when the body does not start with one."""
    first = body.split("\n", 1)[0].strip()
    m = _HEADER.fullmatch(first)
    if m is None:
        return None
    try:
        data = json.loads(m.group(1))
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("v") != HEADER_VERSION:
        return None
    return data


def find_comment(
    comments: Iterable[dict[str, Any]], *, author: str, environment: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Our comment for `environment` (the oldest, should there be several) and its header.
    A comment is ours when its header says so *and* `author` wrote it."""
    for c in comments:
        user = c.get("user")
        login = user.get("login") if isinstance(user, dict) else None
        if not isinstance(login, str) or login.lower() != author.lower():
            continue
        header = parse_header(c.get("body") or "")
        if header is not None and header.get("environment") == environment:
            return c, header
    return None


def headers_by_environment(
    comments: Iterable[dict[str, Any]], *, author: str
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Every environment's comment by `author`: environment -> (comment, header)."""
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for c in comments:
        user = c.get("user")
        login = user.get("login") if isinstance(user, dict) else None
        if not isinstance(login, str) or login.lower() != author.lower():
            continue
        header = parse_header(c.get("body") or "")
        env = header.get("environment") if header else None
        if header is not None and isinstance(env, str) and env not in out:
            out[env] = (c, header)
    return out


# ---------------------------------------------------------------------------- size limit
def utf16_len(text: str) -> int:
    """Length as GitHub counts it at worst (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def fit(text: str, limit: int, notice: str, *, measure: Callable[[str], int] = utf16_len) -> str:
    """`text` if it fits in `limit`, else its longest head that ends on a line boundary
    outside any code fence or `<details>` block, followed by `notice`."""
    if measure(text) <= limit:
        return text
    budget = limit - measure(notice)
    lines = text.splitlines(keepends=True)
    fence: str | None = None
    depth = 0
    used = 0
    cut = 0
    for i, line in enumerate(lines):
        used += measure(line)
        if used > budget:
            break
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                fence = None
        else:
            m = _FENCE.match(line)
            if m is not None:
                fence = m.group(1)
            elif line.lstrip().startswith("<"):
                # Only our own markup starts a line with a tag; repository text never
                # starts a line (it sits in table rows and after labels).
                low = line.lower()
                depth += len(re.findall(r"<details[\s>]", low)) - low.count("</details>")
                depth = max(depth, 0)
        if fence is None and depth == 0:
            cut = i + 1
    kept = "".join(lines[:cut])
    if kept and not kept.endswith("\n"):
        kept += "\n"
    return kept + notice


def cut_notice(rest: str, where: str) -> str:
    return (
        f"\n> [!NOTE]\n> The list is cut here to keep this {rest} under GitHub's size limit. "
        f"{where}\n"
    )


# ------------------------------------------------------------------------------ sections
def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def env_label(environment: str) -> str:
    return code(environment) if environment else "*(no environment)*"


def _shown(p: PlannedResource) -> str:
    return p.full_name or p.name


def _by_type(items: Iterable[PlannedResource]) -> list[PlannedResource]:
    return sorted(items, key=lambda p: (p.type, _shown(p), p.file))


def findings_rows(findings: Sequence[Finding], limit: int | None) -> Iterator[str]:
    shown = list(findings) if limit is None else list(findings)[:limit]
    if not shown:
        return
    yield "| | code | where | message |"
    yield "|---|---|---|---|"
    for f in shown:
        where = f.file or "dpn"
        if f.line > 0:
            where += f":{f.line}" + (f":{f.column}" if f.column > 0 else "")
        message = f.message + (f" (hint: {f.hint})" if f.hint else "")
        yield (
            f"| {_ICON[f.severity]} | {f.code} | {code(where, table=True)} | "
            f"{code(message, table=True, limit=400)} |"
        )


def findings_summary(findings: Sequence[Finding]) -> str:
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    notes = len(findings) - errors - warnings
    parts = []
    if errors:
        parts.append(f"❌ **{_plural(errors, 'error')}**")
    if warnings:
        parts.append(f"⚠️ {_plural(warnings, 'warning')}")
    if notes:
        parts.append(f"ℹ️ {_plural(notes, 'note')}")
    return ", ".join(parts)


def diff_lines(
    renamed: Sequence[tuple[PlannedResource, PlannedResource]],
    added: Sequence[PlannedResource],
    removed: Sequence[PlannedResource],
) -> Iterator[str]:
    """Markdown tables of renamed (old → new), added and removed names."""
    if renamed:
        yield f"**Renamed** ({len(renamed)})"
        yield ""
        yield "| type | old name | | new name | file |"
        yield "|---|---|---|---|---|"
        for old, new in sorted(renamed, key=lambda r: (r[1].type, _shown(r[1]), r[1].file)):
            yield (
                f"| {type_title(new.type)} | {code(_shown(old), table=True)} | → | "
                f"{code(_shown(new), table=True)} | {code(new.file, table=True)} |"
            )
        yield ""
    for title, items in (("Added", added), ("Removed", removed)):
        if not items:
            continue
        yield f"**{title}** ({len(items)})"
        yield ""
        yield "| type | name | file |"
        yield "|---|---|---|"
        for p in _by_type(items):
            yield (
                f"| {type_title(p.type)} | {code(_shown(p), table=True)} | "
                f"{code(p.file, table=True)} |"
            )
        yield ""


def stats_line(
    renamed: int, added: int, removed: int, unchanged: int, total: int, plan_hash: str
) -> str:
    if renamed or added or removed:
        head = " · ".join(
            [f"{renamed} renamed", f"{added} added", f"{removed} removed"],
        )
        head = f"**{head}**"
    else:
        head = "**no name changes**"
    return (
        f"{head} · {unchanged} unchanged · {_plural(total, 'resource')} planned · "
        f"plan `{plan_hash[:12]}`"
    )


def cloud_note(statuses: dict[str, str] | None) -> list[str]:
    """What the cloud check found (`cloud-check`), one line."""
    if statuses is None:
        return []
    counts = {s: sum(1 for v in statuses.values() if v == s) for s in ("new", "adopt", "conflict")}
    unknown = len(statuses) - sum(counts.values())
    parts = [f"{counts['new']} new", f"{counts['adopt']} already dpn's (adopted on merge)"]
    parts.append(
        f"**{counts['conflict']} held by something else**" if counts["conflict"] else "0 conflicts"
    )
    if unknown:
        parts.append(f"{unknown} could not be read")
    return [f"Cloud check: {' · '.join(parts)}.", ""]


def removal_note(count: int, on_removed: str) -> list[str]:
    """What merging does with the `count` names a change stops describing."""
    if not count:
        return []
    names = _plural(count, "old name")
    what = {
        "keep": "are **kept** in the cloud and reported as no longer described by any "
        "blueprint (`on-removed: keep`)",
        "delete": "are **deleted**, after every new resource is created, where they carry "
        "dpn's mark (`on-removed: delete`); anything else under those names is kept",
        "archive": "are **archived** where the cloud can (a DynamoDB table is backed up first, "
        "a Databricks cluster terminated), after every new resource is created, where they "
        "carry dpn's mark; the others are kept (`on-removed: archive`)",
    }[on_removed]
    return [f"On merge, the {names} this change removes or renames {what}.", ""]


def render_comment(
    header: dict[str, Any],
    *,
    environment: str,
    stats: str,
    findings: Sequence[Finding],
    diff: Sequence[str],
    footer: str,
    summary_url: str | None,
    apply_section: Sequence[str] = (),
    notes: Sequence[str] = (),
    limit: int = COMMENT_LIMIT,
) -> str:
    """One environment's comment, cut to `limit` on a safe line boundary."""
    lines = [
        render_header(header),
        f"### dpn · names in {env_label(environment)}",
        "",
        stats,
        "",
        *notes,
        APPLY_START,
        *apply_section,
        APPLY_END,
        "",
    ]
    if findings:
        lines.append(findings_summary(findings))
        lines.append("")
        lines.extend(findings_rows(findings, MAX_COMMENT_FINDINGS))
        if len(findings) > MAX_COMMENT_FINDINGS:
            lines.append("")
            lines.append(
                f"… and {len(findings) - MAX_COMMENT_FINDINGS} more findings in the job summary."
            )
        lines.append("")
    lines.extend(diff)
    body = "\n".join(lines).rstrip("\n") + "\n"
    return fit_with_footer(body, footer, summary_url, limit)


def fit_with_footer(body: str, footer: str, summary_url: str | None, limit: int) -> str:
    tail = f"\n{FOOTER_MARK}\n{footer}\n"
    where = (
        f"The full preview is in the [job summary]({summary_url})."
        if summary_url
        else "The full preview is in the job summary."
    )
    return fit(body, limit - utf16_len(tail), cut_notice("comment", where)) + tail


def replace_apply_section(
    body: str, header: dict[str, Any], section: Sequence[str], summary_url: str | None
) -> str:
    """An existing comment with its header replaced and its apply section filled in."""
    lines = body.split("\n")
    lines[0] = render_header(header)
    text = "\n".join(lines)
    block = "\n".join([APPLY_START, *section, APPLY_END])
    start, end = text.find(APPLY_START), text.find(APPLY_END)
    if start != -1 and end > start:
        text = text[:start] + block + text[end + len(APPLY_END) :]
    else:
        first, _, rest = text.partition("\n")
        text = f"{first}\n{block}\n{rest}"
    main, _, footer = text.partition(f"\n{FOOTER_MARK}\n")
    return fit_with_footer(main.rstrip("\n") + "\n", footer.strip("\n"), summary_url, COMMENT_LIMIT)


def footer_line(commit: str, summary_url: str | None) -> str:
    parts = [f"dpn {__version__}", f"computed at `{commit[:12]}`" if commit else ""]
    if summary_url:
        parts.append(f"[job summary]({summary_url})")
    return "<sub>" + " · ".join(p for p in parts if p) + "</sub>"
