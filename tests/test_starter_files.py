"""Files `dpn config init` and `dpn plan init` write belong to the user: they get the
permissions the user's umask gives (a file replaced with --force keeps its own), are never
half written, and `dpn config init` offers to keep dpn's write-ahead log out of git."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dpn_action.cli import main, naming
from dpn_action.starter import WAL_IGNORE, write_atomic


def dpn(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[Callable[[int], object]]:
    """`umask(value)` sets this process's umask for the test; the old one comes back."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.fixture
def repo(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(git_repo)
    return git_repo


# ------------------------------------------------------------------------- permissions
@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_config_init_and_plan_init_write_with_the_users_umask(
    repo: Path, umask: Callable[[int], object], mask: int, expected: int
) -> None:
    umask(mask)
    assert dpn("config", "init", "--no-gitignore").exit_code == 0
    assert dpn("plan", "init").exit_code == 0
    assert dpn("plan", "init", "--env", "prd", "-o", "blueprints/prd.yaml").exit_code == 0
    written = [
        repo / ".dpn" / "naming-values.yaml",
        repo / ".dpn" / "naming-patterns.yaml",
        repo / "blueprints" / "dev.json",
        repo / "blueprints" / "prd.yaml",
    ]
    assert {p: mode(p) for p in written} == dict.fromkeys(written, expected)


def test_the_same_umask_gives_the_same_permissions_as_a_plain_write(
    repo: Path, umask: Callable[[int], object]
) -> None:
    umask(0o027)
    (repo / "plain").write_text("x")
    assert dpn("plan", "init").exit_code == 0
    assert mode(repo / "blueprints" / "dev.json") == mode(repo / "plain") == 0o640


def test_a_file_replaced_with_force_keeps_its_permissions(
    repo: Path, umask: Callable[[int], object]
) -> None:
    umask(0o022)
    target = repo / "blueprints" / "dev.json"
    assert dpn("plan", "init").exit_code == 0
    target.chmod(0o600)
    assert dpn("plan", "init", "--force", "--project", "other").exit_code == 0
    assert mode(target) == 0o600
    assert '"project": "other"' in target.read_text()


def test_an_existing_file_is_not_overwritten_and_no_temporary_file_is_left(repo: Path) -> None:
    assert dpn("config", "init", "--no-gitignore").exit_code == 0
    before = (repo / ".dpn" / "naming-values.yaml").read_bytes()
    again = dpn("config", "init", "--project", "other", "--no-gitignore")
    assert again.exit_code == 1
    assert "exists; use --force" in again.output
    assert (repo / ".dpn" / "naming-values.yaml").read_bytes() == before
    assert sorted(p.name for p in (repo / ".dpn").iterdir()) == [
        "naming-patterns.yaml",
        "naming-values.yaml",
    ]


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "file.yaml"
    target.write_text("old\n")

    def refuse(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["file.yaml"]


# -------------------------------------------------------------------------- .gitignore
def test_gitignore_adds_the_wal_line_once(repo: Path) -> None:
    first = dpn("config", "init", "--gitignore")
    assert first.exit_code == 0
    assert f"added {WAL_IGNORE} to .gitignore" in first.output
    second = dpn("config", "init", "--force", "--gitignore")
    assert second.exit_code == 0
    assert f".gitignore already ignores {WAL_IGNORE}" in second.output
    lines = (repo / ".gitignore").read_text().splitlines()
    assert lines.count(WAL_IGNORE) == 1
    # and git agrees: the log's files are ignored, the configs are not
    (repo / ".dpn-wal").mkdir()
    (repo / ".dpn-wal" / "txn.wal").write_text("{}\n")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ".dpn-wal" not in status
    assert ".dpn/naming-values.yaml" in status


def test_the_line_goes_to_the_repository_roots_gitignore_from_any_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "infra").mkdir()
    monkeypatch.chdir(repo / "infra")
    assert dpn("config", "init", "--gitignore").exit_code == 0
    assert (repo / "infra" / ".dpn" / "naming-values.yaml").is_file()
    assert not (repo / "infra" / ".gitignore").exists()
    assert WAL_IGNORE in (repo / ".gitignore").read_text().splitlines()


def test_an_existing_gitignore_is_extended_keeping_its_lines_and_permissions(repo: Path) -> None:
    gitignore = repo / ".gitignore"
    gitignore.write_text("node_modules/\n*.pyc")  # no final newline
    gitignore.chmod(0o664)
    assert dpn("config", "init", "--gitignore").exit_code == 0
    lines = gitignore.read_text().splitlines()
    assert lines[:2] == ["node_modules/", "*.pyc"]
    assert lines[-1] == WAL_IGNORE
    assert mode(gitignore) == 0o664


@pytest.mark.parametrize(
    "line", [".dpn-wal", ".dpn-wal/", "/.dpn-wal", "/.dpn-wal/", "**/.dpn-wal/", ".dpn-wal/*"]
)
def test_a_line_that_already_ignores_the_log_is_not_duplicated(repo: Path, line: str) -> None:
    gitignore = repo / ".gitignore"
    gitignore.write_text(f"build/\n  {line}\n")
    result = dpn("config", "init", "--gitignore")
    assert result.exit_code == 0
    assert "already ignores" in result.output
    assert gitignore.read_text() == f"build/\n  {line}\n"


def test_no_gitignore_only_prints_the_line(repo: Path) -> None:
    result = dpn("config", "init", "--no-gitignore")
    assert result.exit_code == 0
    assert f"add the line {WAL_IGNORE} to .gitignore" in result.output
    assert not (repo / ".gitignore").exists()


def test_without_a_terminal_the_default_prints_the_line(repo: Path) -> None:
    result = dpn("config", "init")
    assert result.exit_code == 0
    assert f"add the line {WAL_IGNORE} to .gitignore" in result.output
    assert not (repo / ".gitignore").exists()


@pytest.mark.parametrize(("answer", "added"), [("y\n", True), ("\n", True), ("n\n", False)])
def test_in_a_terminal_the_default_asks(
    repo: Path, monkeypatch: pytest.MonkeyPatch, answer: str, added: bool
) -> None:
    monkeypatch.setattr(naming, "_interactive", lambda: True)
    result = dpn("config", "init", stdin=answer)
    assert result.exit_code == 0
    assert f"Add {WAL_IGNORE} (dpn's write-ahead log) to .gitignore? [Y/n]" in result.output
    assert (repo / ".gitignore").exists() is added


def test_outside_a_repository_the_gitignore_is_beside_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    assert dpn("config", "init", "--gitignore").exit_code == 0
    assert (project / ".gitignore").read_text().splitlines()[-1] == WAL_IGNORE
