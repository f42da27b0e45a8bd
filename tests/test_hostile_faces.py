"""Hostile input through the other faces: the pre-commit hooks' entry points and the GitHub
Action's pull-request preview (work tree and committed base alike) report a lone surrogate
or a link out of the repository as findings, with no traceback and no content leaked."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import HANG_GUARD, LINT_HOOK, at, link, write
from github_api_server import GitHubServer, State
from test_action_e2e import Repo, _run_action, pr_payload
from test_hostile_inputs import LONE_HIGH, SECRET, SURROGATE

from dpn_action import hooks
from dpn_action.inputs import MAX_FILE_BYTES, InputRefused
from dpn_action.tree import CommitTree

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink"), reason="POSIX links")

GOOD = """\
version: "1.0"
metadata: {environment: dev, project: acme, region: us-east-1}
resources:
  aws:
    s3_buckets:
      - {purpose: landing, layer: raw}
"""

VALUES = 'version: "1.0"\ndefaults: {project: acme}\n'


# ---------------------------------------------------------------------------------- hooks
@pytest.fixture
def hook_repo(git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with a good blueprint, a lone surrogate, a link to a secret outside,
    and a naming config that links outside; the current directory."""
    write(git_repo / "blueprints" / "good.yaml", GOOD)
    write(git_repo / "blueprints" / "u.json", SURROGATE)
    secrets = write(tmp_path / "secrets.yaml", SECRET)
    link(git_repo / "blueprints" / "leak.yaml", secrets)
    link(git_repo / "elsewhere" / ".dpn" / "naming-values.yaml", secrets)
    monkeypatch.chdir(git_repo)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return git_repo


@pytest.mark.parametrize("entry", [hooks.lint_main, hooks.validate_blueprint_main])
def test_a_hook_reports_a_lone_surrogate_at_its_escape(
    hook_repo: Path, entry: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(entry)
    assert entry(["blueprints/u.json"]) == 1

    out, err = capsys.readouterr()
    assert f"blueprints/u.json:{at(SURROGATE, LONE_HIGH)}: DPN001 string has a lone " in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize("entry", [hooks.lint_main, hooks.validate_blueprint_main])
def test_a_hook_refuses_a_blueprint_linked_out_of_the_repository(
    hook_repo: Path, entry: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(entry)
    assert entry(["blueprints/leak.yaml", "blueprints/good.yaml"]) == 1

    out, err = capsys.readouterr()
    assert out.startswith("blueprints/leak.yaml: DPN005 is a link that leads outside")
    assert "hunter2" not in out + err and "Traceback" not in out + err


def test_the_config_hook_refuses_a_config_linked_out_of_the_repository(
    hook_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hooks.validate_config_main(["elsewhere/.dpn/naming-values.yaml"]) == 1

    out, err = capsys.readouterr()
    assert out.startswith("elsewhere/.dpn/naming-values.yaml: DPN005 is a link that leads outside")
    assert "hunter2" not in out + err


def test_the_hook_as_installed_is_a_process_that_does_not_hang_on_a_pipe(hook_repo: Path) -> None:
    os.mkfifo(hook_repo / "blueprints" / "pipe.json")
    proc = subprocess.run(
        [*LINT_HOOK, "blueprints/pipe.json", "blueprints/u.json"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout.startswith("blueprints/pipe.json: DPN005 is a named pipe (FIFO)")
    assert "Traceback" not in proc.stdout + proc.stderr


# ------------------------------------------------------------------ the Action's preview
@pytest.fixture
def api() -> Iterator[tuple[State, str]]:
    state = State(tokens={"t"})
    with GitHubServer(state) as server:
        yield state, server.url


def test_the_preview_reports_a_surrogate_and_a_link_out_like_any_finding(
    tmp_path: Path, api: tuple[State, str]
) -> None:
    state, url = api
    secrets = write(tmp_path / "secrets.yaml", SECRET)
    repo = Repo(tmp_path / "repo")
    base = repo.commit("setup", {".dpn/naming-values.yaml": VALUES, "blueprints/dev.yaml": GOOD})
    repo.git("checkout", "-q", "-b", "change")
    link(repo.path / "blueprints" / "leak.yaml", secrets)
    head = repo.commit("hostile", {"blueprints/u.json": SURROGATE})

    rc, outputs, log = _run_action(
        repo, tmp_path, url, "pull_request", pr_payload(5, base, head, "change")
    )

    assert rc == 1
    assert outputs["failure-reason"] == "findings"
    assert "Traceback" not in log
    bodies = "\n".join(c["body"] for c in state.thread(5))
    summary = (tmp_path / "summary.md").read_text()
    for text in (bodies, summary):
        assert "DPN005" in text and "DPN001" in text
    for text in (bodies, summary, log):
        assert "hunter2" not in text and "wJalrXUtnFEMI" not in text
    # annotations go on changed lines: the surrogate's line; a whole-file finding has none
    line, col = at(SURROGATE, LONE_HIGH).split(":")
    assert f"::error file=blueprints/u.json,line={line},col={col},title=DPN001::" in log


def test_a_committed_link_is_followed_within_the_commit_never_out_of_it(
    tmp_path: Path,
) -> None:
    secrets = write(tmp_path / "secrets.yaml", SECRET)
    repo = Repo(tmp_path / "repo")
    write(repo.path / "shared" / "dev.yaml", GOOD)
    link(repo.path / "blueprints" / "inside.yaml", "../shared/dev.yaml")
    link(repo.path / "blueprints" / "abs.yaml", secrets)
    link(repo.path / "blueprints" / "up.yaml", "../../secrets.yaml")
    link(repo.path / "blueprints" / "loop.yaml", "loop.yaml")
    with (repo.path / "blueprints" / "huge.json").open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    sha = repo.commit("links", {})

    tree = CommitTree(repo.path, sha)

    def read(rel: str) -> bytes | str:
        try:
            return tree.read(rel)
        except InputRefused as exc:
            return exc.code
        except FileNotFoundError:
            return "absent"

    names = ("inside.yaml", "abs.yaml", "up.yaml", "loop.yaml", "huge.json", "absent.yaml")
    assert {n: read(f"blueprints/{n}") for n in names} == {
        "inside.yaml": GOOD.encode(),
        "abs.yaml": "DPN005",
        "up.yaml": "DPN005",
        "loop.yaml": "DPN005",
        "huge.json": "DPN004",
        "absent.yaml": "absent",
    }
