"""Files a blueprint names (Lambda `code.zip_file`) from plan to create: the plan carries a
repository-relative path (the same plan hash wherever the repository is checked out), the
operation an absolute one, and the provider checks the file again as it reads it."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import link, write

from dpn_action.analysis import analyse
from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.naming.config import NamingConfig
from dpn_action.plan import PlannedResource, canonical_json, plan_hash, planned
from dpn_action.providers.aws import AwsInputError, lambda_code
from dpn_action.provision import ProviderSetupError, to_operations

ZIP = b"PK\x05\x06" + bytes(18)  # an empty zip archive

BLUEPRINT = """\
version: "1.0"
metadata: {environment: dev, project: dataplatform, region: us-east-1}
resources:
  aws:
    lambda_functions:
      - domain: orders
        trigger: s3
        action: validate
        code: {zip_file: ../build/fn.zip}
"""


def checkout(path: Path) -> Path:
    """A repository at `path` with blueprints/fn.yaml and the archive it names."""
    (path / ".git").mkdir(parents=True)
    write(path / "blueprints" / "fn.yaml", BLUEPRINT)
    (path / "build").mkdir()
    (path / "build" / "fn.zip").write_bytes(ZIP)
    return path


def plan_of(root: Path) -> list[PlannedResource]:
    result = analyse(NamingConfig(), [root / "blueprints" / "fn.yaml"], display_root=root)
    assert result.findings == []
    return planned(result.resources)


def test_the_catalogue_declares_which_properties_name_files() -> None:
    declared = {(k, f.label): f.max_bytes for k, t in CATALOGUE.items() for f in t.local_files}
    assert declared == {("aws_lambda_function", "code.zip_file"): 50 * 1024 * 1024}


def test_the_plan_names_the_file_from_the_repository_root_wherever_it_is_checked_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = checkout(tmp_path / "one")
    two = tmp_path / "somewhere" / "else" / "two"
    shutil.copytree(one, two)
    monkeypatch.chdir(tmp_path)

    first, second = plan_of(one), plan_of(two)

    assert first[0].properties["code"] == {"zip_file": "build/fn.zip"}
    assert plan_hash(first) == plan_hash(second)
    assert str(tmp_path) not in canonical_json(first)


def test_create_hands_the_provider_an_absolute_path_it_reads_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = checkout(tmp_path / "repo")
    (op,) = to_operations(plan_of(root))
    monkeypatch.chdir(tmp_path)  # not where the blueprint is

    assert op.properties["code"] == {"zip_file": str(root / "build" / "fn.zip")}
    assert lambda_code(op.properties["code"], "python3.12", "app.handler") == {"ZipFile": ZIP}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX files (links, pipes)")
@pytest.mark.parametrize(
    ("swap", "message"),
    [
        ("link-out", "is a link that leads outside the repository"),
        ("too-large", "is 52,428,801 bytes; the limit is 52,428,800 bytes (50 MiB)"),
        ("pipe", "is a named pipe (FIFO), not a regular file"),
        ("gone", "cannot read zip_file"),
    ],
)
def test_the_provider_checks_the_file_again_as_it_reads_it(
    tmp_path: Path, swap: str, message: str
) -> None:
    root = checkout(tmp_path / "repo")
    (op,) = to_operations(plan_of(root))
    archive = root / "build" / "fn.zip"
    archive.unlink()  # changed after the plan was made
    if swap == "link-out":
        (tmp_path / "elsewhere.zip").write_bytes(ZIP)
        link(archive, tmp_path / "elsewhere.zip")
    elif swap == "too-large":
        with archive.open("wb") as fh:
            fh.truncate(50 * 1024 * 1024 + 1)
    elif swap == "pipe":
        os.mkfifo(archive)

    with pytest.raises(AwsInputError, match=re.escape(message)):
        lambda_code(op.properties["code"], "python3.12", "app.handler")


def test_a_plan_with_a_refused_file_keeps_the_value_and_cannot_become_operations(
    tmp_path: Path,
) -> None:
    root = checkout(tmp_path / "repo")
    (root / "build" / "fn.zip").unlink()

    result = analyse(NamingConfig(), [root / "blueprints" / "fn.yaml"], display_root=root)

    assert [f.code for f in result.findings] == ["DPN015"]
    items = planned(result.resources)
    assert items[0].properties["code"] == {"zip_file": "../build/fn.zip"}
    with pytest.raises(ProviderSetupError, match="is not a path inside the repository"):
        to_operations(items)  # a plan with findings is never applied; if it were, not this
