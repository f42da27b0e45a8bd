"""`pip install dpn-action` for real: a fresh virtual environment, this repository's source,
pip's defaults. The core installs no cloud SDK; linting and previewing work there; a command
that must talk to a cloud says which extra to install and exits 2.

Slow-ish (pip builds dpn's wheel and installs the core from the package index), so one
environment is built for the module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ("pyproject.toml", "README.md", "dpn_action")
#: what only the cloud extras install: the SDKs and rich
SDKS = {"boto3", "botocore", "s3transfer", "databricks-sdk", "google-auth", "rich"}


def run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "PYTHONPATH")}
    env["HOME"] = str(cwd)
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with `pip install <this source>`: the core and nothing else."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCE:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = run(venv, "python", "-m", "pip", "install", "--quiet", str(src), cwd=tmp)
    assert installed.returncode == 0, installed.stderr
    return venv


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository holding the examples' configs and blueprints."""
    (tmp_path / ".git").mkdir()
    shutil.copytree(ROOT / "examples" / ".dpn", tmp_path / ".dpn")
    shutil.copytree(ROOT / "examples" / "blueprints", tmp_path / "blueprints")
    return tmp_path


def test_the_core_installs_no_cloud_sdk(core: Path, tmp_path: Path) -> None:
    listed = run(core, "python", "-m", "pip", "list", "--format", "json", cwd=tmp_path)
    names = {d["name"].lower() for d in json.loads(listed.stdout)}
    assert {"dpn-action", "pyyaml", "pydantic", "click", "filelock"} <= names
    assert names & SDKS == set()


def test_dpn_lint_and_preview_work_in_the_core(core: Path, project: Path) -> None:
    lint = run(core, "dpn", "lint", cwd=project)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    hook = run(core, "dpn-hook-lint", "blueprints/dev.json", cwd=project)
    assert hook.returncode == 0, hook.stdout + hook.stderr
    preview = run(
        core, "dpn", "plan", "preview", "--format", "json", "blueprints/dev.json", cwd=project
    )
    assert preview.returncode == 0, preview.stderr
    assert len(json.loads(preview.stdout)["resources"]) > 27
    assert run(core, "dpn", "plan", "schema", cwd=project).returncode == 0


def test_dpn_create_in_the_core_names_the_extra_and_exits_2(core: Path, project: Path) -> None:
    create = run(core, "dpn", "create", "--blueprint", "blueprints/dev.json", cwd=project)
    assert create.returncode == 2
    assert create.stdout == ""
    assert create.stderr == (
        "Error: AWS and Databricks need boto3 and databricks-sdk, which are not installed: "
        "pip install 'dpn-action[cloud]'\n"
    )
    assert not (project / ".dpn-wal").exists()


def test_dpn_version_in_the_core_reports_no_sdk(core: Path, tmp_path: Path) -> None:
    shown = run(core, "dpn", "version", "--format", "json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    packages = json.loads(shown.stdout)["packages"]
    assert packages["boto3"] is None and packages["botocore"] is None
    assert packages["databricks-sdk"] is None
    assert packages["pydantic"] is not None
