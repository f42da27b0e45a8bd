"""Hostile input files: `dpn lint`, run as its own process in a git repository, answers each
with one located finding and a non-zero exit, never a traceback, a hang or unbounded memory.

The attacks: a YAML alias bomb, a lone surrogate in JSON (every output format), a blueprint
that is a link out of the repository (to a file with secrets, to /dev/zero), a named pipe,
a file over the size limit, and Lambda `code.zip_file` paths that leave the repository or
name something that is not a modest regular file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import at, dpn_output, dpn_process, link, write

from dpn_action.inputs import MAX_FILE_BYTES

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX files (links, pipes)")

SECRET = "aws_secret_access_key: wJalrXUtnFEMI-K7MDENG-LEAKED\npassword: hunter2-leaked\n"

BUCKETS = """\
version: "1.0"
metadata: {environment: dev, project: dataplatform, region: us-east-1}
resources:
  aws:
    s3_buckets:
      - purpose: landing
        layer: raw
"""


def only_line(out: str, code: str) -> str:
    """The one finding line of `code` in text output."""
    (line,) = [ln for ln in out.splitlines() if f" {code} " in ln]
    return line


# ------------------------------------------------------------------------------ YAML aliases
def alias_bomb(levels: int = 9) -> str:
    """A "billion laughs": each level a list of nine aliases of the one before (9**9 lols)."""
    lines = [BUCKETS.rstrip("\n"), "        tags:"]
    lines.append("          l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]")
    for i in range(1, levels + 1):
        lines.append(f"          l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_one_finding_at_the_alias_that_expands_too_far(git_repo: Path) -> None:
    text = alias_bomb()
    assert len(text) < 1000
    write(git_repo / "blueprints/bomb.yaml", text)

    code, out = dpn_output(git_repo, "lint", "blueprints/bomb.yaml")

    assert code == 1
    # Nine copies of l4 (66,430 nodes each) pass the 250,000-node budget inside l5, so the
    # first alias of l5's list is where the expansion is stopped.
    line = only_line(out, "DPN006")
    assert line.startswith(f"blueprints/bomb.yaml:{at(text, '*l4')}: DPN006 alias *l4 ")
    assert f"(anchor &l4 at {at(text, '&l4')})" in line
    assert "250,000" in line


def test_a_few_aliases_and_merge_keys_keep_working(git_repo: Path) -> None:
    text = """\
version: "1.0"
metadata: &meta {environment: dev, project: dataplatform, region: us-east-1}
resources:
  aws:
    s3_buckets:
      - &bucket {purpose: landing, layer: raw, versioning: true}
      - <<: *bucket
        purpose: curated
      - {<<: [*bucket], purpose: archive, layer: gold}
"""
    write(git_repo / "blueprints/dev.yaml", text)

    proc = dpn_process(git_repo, "plan", "preview", "--format", "json", "blueprints/dev.yaml")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = [r["name"] for r in json.loads(proc.stdout)["resources"]]
    assert names == [
        "dataplatform-landing-raw-dev-use1",
        "dataplatform-curated-raw-dev-use1",
        "dataplatform-archive-gold-dev-use1",
    ]
    assert json.loads(proc.stdout)["findings"] == []  # an overridden merged key is no duplicate


# ---------------------------------------------------------------------------- lone surrogates
SURROGATE = """\
{
  "version": "1.0",
  "metadata": {"environment": "dev", "project": "dataplatform", "region": "us-east-1"},
  "resources": {"aws": {"s3_buckets": [
    {"purpose": "land\\ud83d\\ude00ing\\ud800", "layer": "raw", "k\\udc00": "x"}
  ]}}
}
"""

LONE_HIGH, LONE_LOW = "\\ud800", "\\udc00"  # as written in the file (the pair is fine)


def test_a_lone_surrogate_is_a_located_finding_in_text(git_repo: Path) -> None:
    write(git_repo / "blueprints/u.json", SURROGATE)

    code, out = dpn_output(git_repo, "lint", "blueprints/u.json")

    assert code == 1
    lines = [ln for ln in out.splitlines() if "DPN001" in ln]
    assert lines == [
        f"blueprints/u.json:{at(SURROGATE, LONE_HIGH)}: DPN001 string has a lone surrogate "
        "escape \\ud800, which is no Unicode character",
        f"blueprints/u.json:{at(SURROGATE, LONE_LOW)}: DPN001 key has a lone surrogate "
        "escape \\udc00, which is no Unicode character",
    ]


def test_a_lone_surrogate_is_a_located_finding_in_json(git_repo: Path) -> None:
    write(git_repo / "blueprints/u.json", SURROGATE)

    code, out = dpn_output(git_repo, "lint", "--format", "json", "blueprints/u.json")

    assert code == 1
    found = json.loads(out)["findings"]
    assert [(f["code"], f"{f['line']}:{f['column']}", f["pointer"]) for f in found] == [
        ("DPN001", at(SURROGATE, LONE_HIGH), "/resources/aws/s3_buckets/0/purpose"),
        ("DPN001", at(SURROGATE, LONE_LOW), "/resources/aws/s3_buckets/0/k\\udc00"),
    ]


def test_a_lone_surrogate_is_a_located_annotation_in_github_format(git_repo: Path) -> None:
    write(git_repo / "blueprints/u.json", SURROGATE)

    code, out = dpn_output(git_repo, "lint", "--format", "github", "blueprints/u.json")

    assert code == 1
    line, col = at(SURROGATE, LONE_HIGH).split(":")
    assert out.startswith(
        f"::error file=blueprints/u.json,line={line},col={col},title=DPN001::string has a "
        "lone surrogate escape \\ud800"
    )


def test_a_lone_surrogate_is_a_located_result_in_sarif(git_repo: Path) -> None:
    write(git_repo / "blueprints/u.json", SURROGATE)

    code, out = dpn_output(git_repo, "lint", "--format", "sarif", "blueprints/u.json")

    assert code == 1
    results = json.loads(out)["runs"][0]["results"]
    regions = [r["locations"][0]["physicalLocation"]["region"] for r in results]
    assert [r["ruleId"] for r in results] == ["DPN001", "DPN001"]
    assert [f"{r['startLine']}:{r['startColumn']}" for r in regions] == [
        at(SURROGATE, LONE_HIGH),
        at(SURROGATE, LONE_LOW),
    ]


def test_a_file_name_that_is_not_utf8_is_printed_escaped(git_repo: Path) -> None:
    name = os.fsdecode(b"blueprints/caf\xe9.json")
    write(git_repo / name, "{")

    code, out = dpn_output(git_repo, "lint", "--format", "json", name)

    assert code == 1
    assert json.loads(out)["findings"][0]["file"] == "blueprints/caf\\udce9.json"


# ------------------------------------------------------------ not a regular file in the repo
def test_a_link_to_a_file_outside_the_repository_is_refused_unread(
    git_repo: Path, tmp_path: Path
) -> None:
    secrets = write(tmp_path / "secrets.yaml", SECRET)
    link(git_repo / "blueprints/leak.yaml", secrets)
    write(git_repo / "blueprints/dev.yaml", BUCKETS)

    for args in (["blueprints/leak.yaml"], [], ["--format", "json"]):
        code, out = dpn_output(git_repo, "lint", *args)

        assert code == 1
        assert "hunter2" not in out and "wJalrXUtnFEMI" not in out and "secret" not in out
        assert "blueprints/leak.yaml" in out and "DPN005" in out
    code, out = dpn_output(git_repo, "lint", "blueprints/leak.yaml")
    assert only_line(out, "DPN005") == (
        "blueprints/leak.yaml: DPN005 is a link that leads outside the repository; "
        "dpn reads only files inside it"
    )


def test_a_relative_link_out_of_the_repository_is_refused_too(
    git_repo: Path, tmp_path: Path
) -> None:
    write(tmp_path / "secrets.yaml", SECRET)
    link(git_repo / "blueprints/leak.yaml", "../../secrets.yaml")

    code, out = dpn_output(git_repo, "lint", "blueprints/leak.yaml")

    assert code == 1
    assert only_line(out, "DPN005").startswith("blueprints/leak.yaml: DPN005 is a link")
    assert "hunter2" not in out


def test_a_link_to_dev_zero_is_refused_without_reading(git_repo: Path) -> None:
    link(git_repo / "blueprints/zero.json", "/dev/zero")

    code, out = dpn_output(git_repo, "lint", "blueprints/zero.json")

    assert code == 1
    assert only_line(out, "DPN005").startswith("blueprints/zero.json: DPN005 is a link")


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(git_repo: Path) -> None:
    (git_repo / "blueprints").mkdir()
    os.mkfifo(git_repo / "blueprints" / "pipe.yaml")

    code, out = dpn_output(git_repo, "lint")  # discovered under blueprints/, not passed over

    assert code == 1
    assert only_line(out, "DPN005") == (
        "blueprints/pipe.yaml: DPN005 is a named pipe (FIFO), not a regular file; "
        "dpn reads only regular files"
    )


def test_a_link_inside_the_repository_to_a_named_pipe_is_refused(git_repo: Path) -> None:
    os.mkfifo(git_repo / "pipe")
    link(git_repo / "blueprints/to-pipe.yaml", "../pipe")

    code, out = dpn_output(git_repo, "lint", "blueprints/to-pipe.yaml")

    assert code == 1
    assert only_line(out, "DPN005").startswith(
        "blueprints/to-pipe.yaml: DPN005 is a named pipe (FIFO), not a regular file"
    )


def test_a_directory_named_like_a_blueprint_is_refused(git_repo: Path) -> None:
    (git_repo / "blueprints" / "dir.json").mkdir(parents=True)

    code, out = dpn_output(git_repo, "lint", "blueprints/dir.json")

    assert code == 1
    assert only_line(out, "DPN005").startswith("blueprints/dir.json: DPN005 is a directory")


def test_a_link_loop_is_a_finding(git_repo: Path) -> None:
    link(git_repo / "blueprints/loop.json", "loop.json")

    code, out = dpn_output(git_repo, "lint", "blueprints/loop.json")

    assert code == 1
    assert only_line(out, "DPN003").startswith("blueprints/loop.json: DPN003 cannot read file")


def test_a_link_that_stays_inside_the_repository_keeps_working(git_repo: Path) -> None:
    write(git_repo / "shared/dev.yaml", BUCKETS)
    link(git_repo / "blueprints/dev.yaml", "../shared/dev.yaml")

    code, out = dpn_output(git_repo, "lint", "--no-context", "blueprints/dev.yaml")

    assert (code, out.strip()) == (0, "no problems found")


def test_a_file_over_the_limit_is_refused_without_reading_it(git_repo: Path) -> None:
    path = git_repo / "blueprints" / "huge.json"
    path.parent.mkdir()
    with path.open("wb") as fh:  # sparse: nothing is written but the size
        fh.truncate(MAX_FILE_BYTES + 1)

    code, out = dpn_output(git_repo, "lint", "blueprints/huge.json")

    assert code == 1
    assert only_line(out, "DPN004") == (
        "blueprints/huge.json: DPN004 is 33,554,433 bytes; the limit is 33,554,432 bytes (32 MiB)"
    )


def test_a_naming_config_that_links_out_of_the_repository_is_reported_not_skipped(
    git_repo: Path, tmp_path: Path
) -> None:
    values = write(tmp_path / "values.yaml", 'version: "1.0"\n' + SECRET)
    link(git_repo / ".dpn/naming-values.yaml", values)
    write(git_repo / "blueprints/dev.yaml", BUCKETS)

    code, out = dpn_output(git_repo, "lint")

    assert code == 1
    assert only_line(out, "DPN005").startswith(".dpn/naming-values.yaml: DPN005 is a link")
    assert "hunter2" not in out


def test_a_context_glob_may_not_be_absolute(git_repo: Path) -> None:
    write(git_repo / "blueprints/dev.yaml", BUCKETS)

    code, out = dpn_output(git_repo, "lint", "--context", "/etc/*", "blueprints/dev.yaml")

    assert code == 2
    assert "give a pattern relative to the current directory" in out


# ---------------------------------------------------------------------- Lambda code.zip_file
def lambda_blueprint(zip_file: str) -> str:
    return f"""\
version: "1.0"
metadata: {{environment: dev, project: dataplatform, region: us-east-1}}
resources:
  aws:
    lambda_functions:
      - domain: orders
        trigger: s3
        action: validate
        code: {{zip_file: {json.dumps(zip_file)}}}
"""


def lint_zip(root: Path, zip_file: str) -> tuple[str, str]:
    """Lint a blueprint at blueprints/fn.yaml naming `zip_file`: (where its value is, the
    DPN015 line)."""
    text = lambda_blueprint(zip_file)
    write(root / "blueprints/fn.yaml", text)
    code, out = dpn_output(root, "lint", "blueprints/fn.yaml")
    assert code == 1
    return at(text, json.dumps(zip_file)), only_line(out, "DPN015")


def test_a_zip_file_inside_the_repository_relative_to_the_blueprint_is_fine(
    git_repo: Path,
) -> None:
    (git_repo / "build").mkdir()
    (git_repo / "build" / "fn.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    write(git_repo / "blueprints/fn.yaml", lambda_blueprint("../build/fn.zip"))
    elsewhere = git_repo / "blueprints"  # not the directory the path is relative to

    proc = dpn_process(elsewhere, "lint", "--no-context", "fn.yaml")

    assert (proc.returncode, proc.stdout.strip()) == (0, "no problems found"), proc.stdout


def test_an_absolute_zip_file_is_refused(git_repo: Path) -> None:
    where, line = lint_zip(git_repo, "/proc/self/environ")

    assert line == (
        f"blueprints/fn.yaml:{where}: DPN015 code.zip_file '/proc/self/environ' is an absolute path"
    )


def test_a_zip_file_up_and_out_of_the_repository_is_refused(git_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.zip").write_bytes(b"PK")

    where, line = lint_zip(git_repo, "../../outside.zip")

    assert line == (
        f"blueprints/fn.yaml:{where}: DPN015 code.zip_file '../../outside.zip' is outside "
        "the repository"
    )


def test_a_zip_file_that_links_out_of_the_repository_is_refused(
    git_repo: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside.zip").write_bytes(b"PK")
    link(git_repo / "build/fn.zip", tmp_path / "outside.zip")

    where, line = lint_zip(git_repo, "../build/fn.zip")

    assert line.startswith(
        f"blueprints/fn.yaml:{where}: DPN015 code.zip_file '../build/fn.zip' is a link that "
        "leads outside the repository"
    )


def test_a_zip_file_over_lambdas_limit_is_refused(git_repo: Path) -> None:
    (git_repo / "build").mkdir()
    with (git_repo / "build" / "fn.zip").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)

    where, line = lint_zip(git_repo, "../build/fn.zip")

    assert line == (
        f"blueprints/fn.yaml:{where}: DPN015 code.zip_file '../build/fn.zip' is 52,428,801 "
        "bytes; the limit is 52,428,800 bytes (50 MiB)"
    )


def test_a_zip_file_that_is_a_named_pipe_is_refused(git_repo: Path) -> None:
    (git_repo / "build").mkdir()
    os.mkfifo(git_repo / "build" / "fn.zip")

    where, line = lint_zip(git_repo, "../build/fn.zip")

    assert line.startswith(
        f"blueprints/fn.yaml:{where}: DPN015 code.zip_file '../build/fn.zip' is a named pipe"
    )


def test_a_zip_file_that_is_a_device_is_refused(git_repo: Path) -> None:
    (git_repo / "build").mkdir()
    try:  # /dev/null's numbers; making a device needs the privilege to
        os.mknod(git_repo / "build" / "fn.zip", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device file needs privileges this run does not have")

    where, line = lint_zip(git_repo, "../build/fn.zip")

    assert line.startswith(
        f"blueprints/fn.yaml:{where}: DPN015 code.zip_file '../build/fn.zip' is a character "
        "device, not a regular file"
    )


def test_a_zip_file_that_is_a_link_to_a_device_leads_out_of_the_repository(
    git_repo: Path,
) -> None:
    link(git_repo / "build/fn.zip", "/dev/zero")

    where, line = lint_zip(git_repo, "../build/fn.zip")

    assert line.startswith(f"blueprints/fn.yaml:{where}: DPN015 code.zip_file '../build/fn.zip'")
    assert "is a link that leads outside the repository" in line


def test_a_missing_zip_file_is_reported_at_the_property(git_repo: Path) -> None:
    where, line = lint_zip(git_repo, "missing.zip")

    assert line == (
        f"blueprints/fn.yaml:{where}: DPN015 code.zip_file 'missing.zip' cannot be read: "
        "No such file or directory"
    )
