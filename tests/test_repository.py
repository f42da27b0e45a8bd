"""Which repository a run applies (`dpn_action.repository`): the `dpn-repository` tag's
value, from `DPN_REPOSITORY`, `GITHUB_REPOSITORY` or the git `origin` remote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dpn_action.plan import PlannedResource
from dpn_action.providers.base import REPOSITORY_TAG_KEY
from dpn_action.provision import MARKS, to_operations
from dpn_action.repository import RepositoryError, from_remote, identity


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/acme/data-platform.git", "acme/data-platform"),
        ("https://github.com/acme/data-platform", "acme/data-platform"),
        ("https://x-access-token:secret@github.com/acme/dp.git/", "acme/dp"),
        ("git@github.com:acme/data-platform.git", "acme/data-platform"),
        ("ssh://git@github.com:22/acme/dp.git", "acme/dp"),
        ("https://gitlab.example.com/group/sub/dp.git", "group/sub/dp"),
        ("/srv/git/acme/dp.git", "acme/dp"),
        ("../dp", None),
        ("", None),
        ("https://github.com/", None),
        ("https://github.com/acme/has space", None),
    ],
)
def test_a_remote_url_names_its_repository_by_its_path(url: str, name: str | None) -> None:
    assert from_remote(url) == name


def test_dpn_repository_wins_then_github_repository_then_the_origin_remote(
    tmp_path: Path,
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "remote", "add", "origin", "git@github.com:acme/dp.git"],
        check=True,
    )
    both = {"DPN_REPOSITORY": "team/shared", "GITHUB_REPOSITORY": "acme/dp-fork"}
    assert identity(tmp_path, both) == "team/shared"
    assert identity(tmp_path, {"GITHUB_REPOSITORY": "acme/dp-fork"}) == "acme/dp-fork"
    assert identity(tmp_path, {}) == "acme/dp"


def test_without_a_remote_there_is_no_identity(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert identity(tmp_path, {}) is None
    assert identity(tmp_path, {"GITHUB_REPOSITORY": ""}) is None


@pytest.mark.parametrize("given", ["acme/<dp>", "a" * 129, "-dash-first", "white space"])
def test_a_dpn_repository_no_tag_can_hold_is_refused_saying_what_a_tag_takes(
    given: str,
) -> None:
    with pytest.raises(RepositoryError, match="cannot be a tag value"):
        identity(None, {"DPN_REPOSITORY": given})


def _planned() -> PlannedResource:
    return PlannedResource(
        key="aws_sqs_queue:dp-dev-q",
        type="aws_sqs_queue",
        provider="aws",
        name="dp-dev-q",
        full_name="dp-dev-q",
        environment="dev",
        file="blueprints/dev.json",
        pointer="/resources/aws/sqs_queues/0",
        depends_on=(),
        properties={},
        tags={"project": "dp"},
    )


def test_the_operations_carry_the_repository_tag_and_update_leaves_it_alone() -> None:
    (op,) = to_operations([_planned()], "acme/dp")
    assert op.tags == {"project": "dp", REPOSITORY_TAG_KEY: "acme/dp"}
    (bare,) = to_operations([_planned()])
    assert bare.tags == {"project": "dp"}
    assert REPOSITORY_TAG_KEY in MARKS  # never "changed" nor an extra tag to `dpn update`
