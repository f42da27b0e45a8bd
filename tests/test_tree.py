"""Configs are found from the files, not from where dpn runs; the core reads a tree.

Each blueprint is named with the nearest `.dpn/` at or above its own directory (stopping at
the repository root), then `~/.dpn/`, then the built-in defaults; flags win. So the same
blueprint gets the same names and plan hash from the repository root, a subdirectory, or a
pre-commit hook, and blueprints under two `.dpn/` directories are each named with their own
configs, yet checked for uniqueness together. A git commit is read through the same code as
the work tree (`tree.CommitTree`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import dpn_process, write, write_files

from dpn_action import hooks
from dpn_action.analysis import analyse
from dpn_action.naming.config import Configs
from dpn_action.plan import plan_hash, planned
from dpn_action.tree import CommitTree, Source, WorkTree

BLUEPRINT = {
    "version": "1.0",
    "metadata": {"environment": "dev", "region": "us-east-1"},
    "resources": {"aws": {"s3_buckets": [{"purpose": "landing", "layer": "raw"}]}},
}


def values(project: str) -> str:
    return f'version: "1.0"\ndefaults: {{project: {project}}}\n'


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """A repository with a root `.dpn/` (project acme) and a team directory with its own
    (project teamx); one blueprint in each. The home (`home`) has no `.dpn/`."""
    return write_files(
        git_repo,
        {
            ".dpn/naming-values.yaml": values("acme"),
            "blueprints/dev.json": json.dumps(BLUEPRINT),
            "blueprints/team/.dpn/naming-values.yaml": values("teamx"),
            "blueprints/team/dev.json": json.dumps(BLUEPRINT),
        },
    )


def preview(cwd: Path, *files: str) -> dict[str, Any]:
    proc = dpn_process(cwd, "plan", "preview", "--format", "json", *files)
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_the_same_blueprint_gets_the_same_plan_from_three_working_directories(
    repo: Path,
) -> None:
    at_root = preview(repo, "blueprints/team/dev.json")
    in_blueprints = preview(repo / "blueprints", "team/dev.json")
    next_to_it = preview(repo / "blueprints" / "team", "dev.json")

    assert at_root["plan_hash"] == in_blueprints["plan_hash"] == next_to_it["plan_hash"]
    assert [r["name"] for r in at_root["resources"]] == ["teamx-landing-raw-dev-use1"]


def test_two_config_directories_in_one_run_each_name_their_own_blueprints(repo: Path) -> None:
    doc = preview(repo, "blueprints/dev.json", "blueprints/team/dev.json")

    assert sorted(r["name"] for r in doc["resources"]) == [
        "acme-landing-raw-dev-use1",
        "teamx-landing-raw-dev-use1",
    ]
    assert doc["findings"] == []


def test_uniqueness_is_still_checked_across_config_directories(repo: Path) -> None:
    write(repo / "blueprints" / "team" / ".dpn" / "naming-values.yaml", values("acme"))

    proc = dpn_process(repo, "lint")

    assert proc.returncode == 1
    assert "DPN130" in proc.stdout
    assert "blueprints/dev.json" in proc.stdout and "blueprints/team/dev.json" in proc.stdout


def test_discovery_stops_at_the_repository_root(repo: Path, tmp_path: Path, home: Path) -> None:
    """A `.dpn/` above the repository (here: around it) is never used; `~/.dpn/` is."""
    write(tmp_path / ".dpn" / "naming-values.yaml", values("above"))
    (repo / ".dpn" / "naming-values.yaml").unlink()
    (repo / ".dpn").rmdir()
    built_in = preview(repo, "blueprints/dev.json")  # no project value anywhere
    assert built_in["resources"] == []
    assert [f["code"] for f in built_in["findings"]] == ["DPN030"]
    write(home / ".dpn" / "naming-values.yaml", values("fromhome"))
    assert [r["name"] for r in preview(repo, "blueprints/dev.json")["resources"]] == [
        "fromhome-landing-raw-dev-use1"
    ]


def test_a_flag_wins_over_every_directory(repo: Path, tmp_path: Path) -> None:
    flag = write(tmp_path / "values.yaml", values("flagged"))
    doc = preview(repo, "--values-config", str(flag), "blueprints/team/dev.json")
    assert [r["name"] for r in doc["resources"]] == ["flagged-landing-raw-dev-use1"]


def test_a_commit_is_read_through_the_same_code_as_the_work_tree(repo: Path) -> None:
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "setup"], check=True)
    sha = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # the work tree moves on; the commit keeps what it had
    write(repo / "blueprints" / "team" / ".dpn" / "naming-values.yaml", values("later"))

    def names(tree: WorkTree | CommitTree) -> tuple[list[str], str]:
        files = [Source(tree, "blueprints/dev.json"), Source(tree, "blueprints/team/dev.json")]
        result = analyse(Configs(display_root=repo), files)
        items = planned(result.resources)
        return sorted(p.name for p in items), plan_hash(items)

    at_commit = names(CommitTree(repo, sha, repo))
    in_work_tree = names(WorkTree(repo, repo))

    assert at_commit[0] == ["acme-landing-raw-dev-use1", "teamx-landing-raw-dev-use1"]
    assert in_work_tree[0] == ["acme-landing-raw-dev-use1", "later-landing-raw-dev-use1"]
    assert at_commit[1] != in_work_tree[1]


def test_the_hook_names_a_blueprint_with_its_own_configs(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pre-commit runs at the root and passes root-relative paths: the same configs."""
    write(
        repo / "blueprints" / "team" / ".dpn" / "naming-values.yaml",
        'version: "1.0"\ndefaults: {project: "Team X!"}\n',
    )
    monkeypatch.chdir(repo)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    code = hooks.lint_main(["--strict", "blueprints/team/dev.json"])
    assert code == 1  # DPN040: "Team X!" normalised, a warning that --strict fails on
    # the project value is the team's own config's, not the root's "acme"
    assert capsys.readouterr().out.startswith(
        "blueprints/team/.dpn/naming-values.yaml:2:21: DPN040 warning: "
        "project 'Team X!' was normalised to 'team-x' for aws_s3_bucket"
    )
