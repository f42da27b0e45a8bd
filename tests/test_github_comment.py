"""The pull-request comment: escaping, the hidden header, finding our comment, the size limit.

Rendered markdown is checked with a CommonMark renderer with tables and raw HTML switched
on (markdown-it-py, as GitHub allows HTML in comments), so "inert" means what a reader sees.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from markdown_it import MarkdownIt

from dpn_action.findings import Finding, Severity
from dpn_action.github import comment as cm
from dpn_action.layout import Globs, glob_to_regex
from dpn_action.plan import PlannedResource

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[click](https://evil.example)",
    "**bold** _it_ # heading",
    "@octocat please look",
    "closes #1",
    "a | b | c",
    "`` tick ` tick ``",
    "`leading",
    "trailing`",
    " spaced ",
    "line1\nline2\r\n| x | y |",
    "</details><details open>",
    "```\nfence",
    "<!-- dpn-preview {} -->",
    "\u202eevil\u202c",
    "\\|escaped",
]


def render(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def planned(name: str, type_key: str = "aws_s3_bucket", file: str = "blueprints/a.json") -> Any:
    return PlannedResource(
        key=f"{type_key}:{name}",
        type=type_key,
        provider="aws",
        name=name,
        full_name=name,
        environment="dev",
        file=file,
        pointer="/resources/aws/s3_buckets/0",
        depends_on=(),
        properties={},
    )


# ----------------------------------------------------------------------------- escaping
@pytest.mark.parametrize("text", HOSTILE)
def test_repository_text_renders_as_one_code_span_and_nothing_else(text: str) -> None:
    html = render(f"x {cm.code(text)} y")
    body = html.removeprefix("<p>x ").removesuffix(" y</p>\n")
    assert body.startswith("<code>") and body.endswith("</code>")
    assert body.count("<code>") == 1
    inner = body[len("<code>") : -len("</code>")]
    assert "<" not in inner.replace("&lt;", "")  # every < arrives escaped
    assert "\n" not in inner


@pytest.mark.parametrize("text", HOSTILE)
def test_repository_text_in_a_table_cell_stays_in_its_cell(text: str) -> None:
    table = f"| a | b | c |\n|---|---|---|\n| 1 | {cm.code(text, table=True)} | 3 |\n"
    html = render(table)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    assert len(rows) == 2
    cells = re.findall(r"<td>(.*?)</td>", rows[1], re.S)
    assert len(cells) == 3
    assert cells[0] == "1" and cells[2] == "3"
    assert cells[1].startswith("<code>") and cells[1].endswith("</code>")


def test_html_in_a_value_is_shown_literally_not_rendered() -> None:
    html = render(cm.code("<img src=x onerror=alert(1)>"))
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_mention_and_a_link_in_a_value_stay_inside_code() -> None:
    html = render(cm.code("@octocat [x](https://evil.example)"))
    assert "<a " not in html
    assert re.fullmatch(r"<p><code>@octocat \[x\]\(https://evil\.example\)</code></p>\n", html)


def test_line_breaks_and_bidi_controls_become_replacement_characters() -> None:
    assert cm.code("a\nb\u202ec") == "`a\ufffdb\ufffdc`"


def test_backticks_in_a_value_get_a_longer_fence() -> None:
    assert cm.code("a`b") == "``a`b``"
    assert cm.code("`x`") == "`` `x` ``"
    assert render(cm.code("a``b")) == "<p><code>a``b</code></p>\n"


def test_an_empty_value_is_shown_as_empty() -> None:
    assert cm.code("") == "*(empty)*"


def test_long_values_are_shortened() -> None:
    assert len(cm.code("x" * 1000, limit=50)) == 52


# ------------------------------------------------------------------------------ header
def test_header_round_trips() -> None:
    data = {"v": 1, "environment": "dev", "plan_hash": "ab" * 32, "commit": "c" * 40}
    body = cm.render_header(data) + "\n### title\n"
    assert cm.parse_header(body) == data


def test_header_values_cannot_close_the_html_comment() -> None:
    env = "dev --> <b>x</b> --!> &amp;"
    header = cm.render_header({"v": 1, "environment": env})
    assert header.count("-->") == 1 and header.endswith(" -->")
    assert "<b>" not in header and "--!>" not in header
    assert cm.parse_header(header)["environment"] == env  # type: ignore[index]
    assert render(header + "\n").strip() == header  # an HTML block: shown to nobody


@pytest.mark.parametrize(
    "body",
    [
        "",
        "just a comment",
        'intro\n<!-- dpn-preview {"v":1} -->',  # not on the first line
        "<!-- dpn-preview {not json} -->",
        '<!-- dpn-preview {"v":99,"environment":"dev"} -->',
        '<!-- dpn-preview ["v",1] -->',
    ],
)
def test_bodies_without_a_valid_first_line_header_are_not_ours(body: str) -> None:
    assert cm.parse_header(body) is None


# ---------------------------------------------------------------------- finding a comment
def _comment(cid: int, login: str, env: str | None) -> dict[str, Any]:
    body = "hello" if env is None else cm.render_header({"v": 1, "environment": env}) + "\nx"
    return {"id": cid, "user": {"login": login}, "body": body}


def test_our_comment_is_found_by_marker_and_author() -> None:
    comments = [
        _comment(1, "mallory", "dev"),  # same marker, another author
        _comment(2, "github-actions[bot]", None),  # our author, no marker
        _comment(3, "github-actions[bot]", "prd"),
        _comment(4, "GitHub-Actions[bot]", "dev"),
        _comment(5, "github-actions[bot]", "dev"),  # a later duplicate: the oldest wins
    ]
    found = cm.find_comment(comments, author="github-actions[bot]", environment="dev")
    assert found is not None and found[0]["id"] == 4
    by_env = cm.headers_by_environment(comments, author="github-actions[bot]")
    assert {k: v[0]["id"] for k, v in by_env.items()} == {"prd": 3, "dev": 4}


def test_a_comment_by_another_author_with_our_marker_is_never_ours() -> None:
    comments = [_comment(1, "mallory", "dev"), {"id": 2, "user": None, "body": "x"}]
    assert cm.find_comment(comments, author="github-actions[bot]", environment="dev") is None
    assert cm.headers_by_environment(comments, author="github-actions[bot]") == {}


# ---------------------------------------------------------------------------- size limit
def test_text_under_the_limit_is_unchanged() -> None:
    assert cm.fit("a\nb\n", 100, "NOTICE") == "a\nb\n"


def test_cut_happens_on_a_line_boundary_and_adds_the_notice() -> None:
    text = "".join(f"line {i:04d}\n" for i in range(100))
    out = cm.fit(text, 200, "\n[cut]\n")
    assert len(out) <= 200
    kept, _, notice = out.partition("\n[cut]")
    assert notice == "\n"
    assert all(re.fullmatch(r"line \d{4}", line) for line in kept.splitlines())


def test_cut_never_happens_inside_a_fence() -> None:
    text = "intro\n```\n" + "".join(f"code {i}\n" for i in range(50)) + "```\nafter\n"
    out = cm.fit(text, 120, "[cut]\n")
    assert out == "intro\n[cut]\n"


def test_cut_never_happens_inside_details() -> None:
    inner = "".join(f"row {i}\n" for i in range(50))
    text = f"intro\n<details>\n<summary>more</summary>\n\n{inner}</details>\ntail\n"
    out = cm.fit(text, 150, "[cut]\n")
    assert out == "intro\n[cut]\n"
    nested = f"a\n<details>\n<details>\n{inner}</details>\n</details>\n" + "z\n" * 200
    out = cm.fit(nested, len(nested) - 50, "[cut]\n")
    assert out.count("<details>") == out.count("</details>") == 2


def test_repository_text_that_looks_like_a_tag_or_fence_does_not_move_the_cut() -> None:
    rows = "".join(f"| {cm.code('<details> ``` x', table=True)} | {i} |\n" for i in range(100))
    text = "| a | b |\n|---|---|\n" + rows
    out = cm.fit(text, 1000, "\n[cut]\n")
    assert 900 < len(out) <= 1000


def test_comment_size_is_counted_as_github_counts_it() -> None:
    wide = "𝔡" * 10  # outside the basic plane: two UTF-16 units each
    assert cm.utf16_len(wide) == 20
    out = cm.fit((wide + "\n") * 100, 100, "[cut]\n")
    assert cm.utf16_len(out) <= 100


def _big_comment(n: int) -> str:
    renamed = [(planned(f"old-{i:05d}-bucket"), planned(f"new-{i:05d}-bucket")) for i in range(n)]
    return cm.render_comment(
        {"v": 1, "environment": "dev", "plan_hash": "f" * 64},
        environment="dev",
        stats=cm.stats_line(n, 0, 0, 0, n, "f" * 64),
        findings=[Finding("DPN040", "w", "blueprints/a.json", 3, 5, severity=Severity.WARNING)],
        diff=list(cm.diff_lines(renamed, [], [])),
        footer=cm.footer_line("a" * 40, "https://github.com/o/r/actions/runs/1"),
        summary_url="https://github.com/o/r/actions/runs/1",
    )


def test_a_5000_name_diff_stays_under_the_limit_and_points_to_the_job_summary() -> None:
    body = _big_comment(5000)
    assert len(body) < cm.COMMENT_LIMIT
    assert cm.parse_header(body) == {"v": 1, "environment": "dev", "plan_hash": "f" * 64}
    assert "[job summary](https://github.com/o/r/actions/runs/1)" in body
    assert "The list is cut here" in body
    assert body.rstrip().endswith("</sub>")  # the footer survives the cut
    html = render(body)
    # every row that made it in is whole: five cells, old -> new
    rows = re.findall(r"<tr>\s*<td>S3 bucket</td>(.*?)</tr>", html, re.S)
    assert len(rows) > 100
    assert all(len(re.findall(r"<td>", r)) == 4 for r in rows)


def test_a_small_diff_is_not_cut() -> None:
    body = _big_comment(10)
    assert "The list is cut here" not in body
    assert body.count("→") == 10


def test_apply_section_replaces_the_placeholder_and_updates_the_header() -> None:
    body = _big_comment(3)
    header = {"v": 1, "environment": "dev", "plan_hash": "f" * 64, "applied": {"txn": "t1"}}
    updated = cm.replace_apply_section(body, header, ["#### ✅ Applied"], None)
    assert cm.parse_header(updated) == header
    assert "#### ✅ Applied" in updated
    again = cm.replace_apply_section(updated, header, ["#### ❌ Applied"], None)
    assert "✅" not in again and again.count(cm.APPLY_START) == 1
    assert again.count(cm.FOOTER_MARK) == 1


def test_apply_section_on_a_full_comment_still_fits() -> None:
    body = _big_comment(5000)
    updated = cm.replace_apply_section(
        body, {"v": 1, "environment": "dev"}, ["x" * 500] * 5, "https://x/runs/1"
    )
    assert len(updated) < cm.COMMENT_LIMIT
    assert updated.index("x" * 500) < updated.index("**Renamed**")


# ------------------------------------------------------------------------ blueprint globs
@pytest.mark.parametrize(
    ("glob", "path", "hit"),
    [
        ("blueprints/**/*.{json,yaml,yml}", "blueprints/a.json", True),
        ("blueprints/**/*.{json,yaml,yml}", "blueprints/x/y/a.yml", True),
        ("blueprints/**/*.{json,yaml,yml}", "blueprints/a.txt", False),
        ("blueprints/**/*.{json,yaml,yml}", "other/blueprints/a.json", False),
        ("blueprints/*.json", "blueprints/x/a.json", False),
        ("infra/bp-?.json", "infra/bp-1.json", True),
        ("infra/[!x]*.json", "infra/x.json", False),
        ("**/*.json", "a.json", True),
    ],
)
def test_blueprint_globs(glob: str, path: str, hit: bool) -> None:
    assert bool(re.fullmatch(glob_to_regex(glob), path)) is hit


def test_several_globs_one_per_line() -> None:
    g = Globs("blueprints/*.json\n# a comment\n\nextra/*.yaml\n")
    assert g.filter(["blueprints/a.json", "extra/b.yaml", "extra/c.json"]) == [
        "blueprints/a.json",
        "extra/b.yaml",
    ]
