"""The core installs without any cloud SDK: naming works, and a command that must talk to a
cloud without its SDK stops at once, exit 2, with one line naming the extra to install.

Here the SDKs are hidden from an interpreter that has them (`sys.modules[name] = None`
makes both `import` and `importlib.util.find_spec` see nothing); `tests/test_install.py`
installs the core for real into a fresh virtual environment.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import dpn_process

from dpn_action import extras
from dpn_action.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

AWS_ONLY = {
    "version": "1.0",
    "metadata": {"environment": "dev", "project": "acme", "region": "us-east-1"},
    "resources": {"aws": {"s3_buckets": [{"purpose": "landing", "layer": "raw"}]}},
}
DBX_ONLY = {
    "version": "1.0",
    "metadata": {"environment": "dev", "project": "acme", "region": "us-east-1"},
    "resources": {"databricks": {"secret_scopes": [{"purpose": "etl"}]}},
}
BOTH = {
    "version": "1.0",
    "metadata": {"environment": "dev", "project": "acme", "region": "us-east-1"},
    "resources": {
        "aws": {"s3_buckets": [{"purpose": "lake", "layer": "raw"}]},
        "databricks": {"secret_scopes": [{"purpose": "ml"}]},
    },
}

AWS_MODULES = ("boto3", "botocore")
DBX_MODULES = ("databricks", "databricks.sdk")

#: a sitecustomize that hides the SDKs from a whole `dpn` process
HIDE_SDKS = "import sys\nfor _m in {modules!r}:\n    sys.modules[_m] = None\n"


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with one blueprint per combination of clouds, as the current directory."""
    (tmp_path / ".git").mkdir()
    bp = tmp_path / "blueprints"
    bp.mkdir()
    for name, doc in (("aws", AWS_ONLY), ("dbx", DBX_ONLY), ("both", BOTH)):
        (bp / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return tmp_path


def dpn(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


# ---------------------------------------------------------------------------- the extras
def test_each_cloud_names_its_extra_and_both_name_cloud() -> None:
    assert "pip install 'dpn-action[aws]'" in str(extras.MissingExtra(["aws"]))
    assert "pip install 'dpn-action[databricks]'" in str(extras.MissingExtra(["databricks"]))
    both = str(extras.MissingExtra(["databricks", "aws"]))
    assert both == (
        "AWS and Databricks need boto3 and databricks-sdk, which are not installed: "
        "pip install 'dpn-action[cloud]'"
    )


def test_an_installed_sdk_is_found_without_being_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    assert extras.missing(["aws", "databricks"]) == []
    hide(monkeypatch, *AWS_MODULES)
    assert extras.missing(["aws", "databricks"]) == ["aws"]
    hide(monkeypatch, *DBX_MODULES)
    assert extras.missing(["aws", "databricks"]) == ["aws", "databricks"]
    assert extras.version_of("boto3") is not None  # metadata, not the module
    assert extras.version_of("no-such-distribution-here") is None


# ------------------------------------------------- commands that talk to a cloud: exit 2
CLOUD_COMMANDS = [
    ["create", "--blueprint", "{bp}"],
    ["create", "--blueprint", "{bp}", "--dry-run"],
    ["apply", "--blueprint", "{bp}"],
    ["read", "--blueprint", "{bp}"],
    ["update", "--blueprint", "{bp}"],
    ["delete", "--blueprint", "{bp}", "--yes"],
    ["status", "--resources", "--blueprint", "{bp}"],
    ["plan", "preview", "--cloud", "{bp}"],
]


@pytest.mark.parametrize("args", CLOUD_COMMANDS, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize(
    ("blueprint", "hidden", "extra"),
    [
        ("aws", AWS_MODULES, "aws"),
        ("dbx", DBX_MODULES, "databricks"),
        ("both", AWS_MODULES + DBX_MODULES, "cloud"),
        ("both", AWS_MODULES, "aws"),
    ],
    ids=["aws", "databricks", "both", "both-aws-missing"],
)
def test_a_cloud_command_without_its_sdk_names_the_extra_and_exits_2(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    blueprint: str,
    hidden: tuple[str, ...],
    extra: str,
) -> None:
    hide(monkeypatch, *hidden)
    result = dpn(*(a.format(bp=f"blueprints/{blueprint}.json") for a in args))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert lines[0].endswith(f"not installed: pip install 'dpn-action[{extra}]'")
    assert not (project / ".dpn-wal").exists()  # nothing was written


def test_recover_of_a_log_that_needs_a_missing_sdk_names_the_extra(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recovery asks the clouds the log names; the log is left as it is."""
    from dpn_action import provision

    wal = project / ".dpn-wal"
    wal.mkdir()
    monkeypatch.setattr(provision, "providers_in_wal", lambda *a, **k: {"databricks"})
    hide(monkeypatch, *DBX_MODULES)
    for args in (["recover"], ["recover", "--continue-rollback"]):
        result = dpn(*args)
        assert result.exit_code == 2, result.output
        assert "pip install 'dpn-action[databricks]'" in result.output
    assert list(wal.iterdir()) == []


def test_commands_that_do_not_talk_to_a_cloud_work_without_any_sdk(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide(monkeypatch, *AWS_MODULES, *DBX_MODULES)
    assert dpn("lint").exit_code == 0
    assert dpn("plan", "validate", "blueprints/both.json").exit_code == 0
    preview = dpn("plan", "preview", "--format", "json", "blueprints/both.json")
    assert preview.exit_code == 0, preview.output
    assert len(json.loads(preview.output)["resources"]) == 2
    assert dpn("explain", "aws_s3_bucket", "--blueprint", "blueprints/aws.json").exit_code == 0
    assert dpn("config", "show").exit_code == 0
    assert dpn("plan", "schema").exit_code == 0
    assert dpn("status").exit_code == 0  # the log alone needs no cloud
    versions = json.loads(dpn("version", "--format", "json").output)["packages"]
    assert versions["boto3"] is not None  # installed, only hidden: metadata still says so


def test_dpn_as_a_process_without_sdks_prints_one_line_and_no_traceback(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    shim = tmp_path_factory.mktemp("no-sdk")
    (shim / "sitecustomize.py").write_text(HIDE_SDKS.format(modules=AWS_MODULES + DBX_MODULES))
    monkeypatch.setenv("PYTHONPATH", str(shim))
    proc = dpn_process(project, "create", "--blueprint", "blueprints/both.json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        "Error: AWS and Databricks need boto3 and databricks-sdk, which are not installed: "
        "pip install 'dpn-action[cloud]'\n"
    )
    lint = dpn_process(project, "lint")
    assert lint.returncode == 0, lint.stderr


def test_the_example_blueprints_need_the_cloud_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    hide(monkeypatch, *AWS_MODULES, *DBX_MODULES)
    result = dpn("create", "--blueprint", "examples/blueprints/dev.json", "--dry-run")
    assert result.exit_code == 2
    assert "pip install 'dpn-action[cloud]'" in result.output
