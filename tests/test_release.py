"""One version in one place (`dpn_action.__version__`), and everything that names a release
names that one: the distribution's metadata, `dpn --version` and `dpn version`, the schemas'
addresses, the pins in the README, the docs and the example workflows, the changelog."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dpn_action import __version__
from dpn_action.cli import main
from dpn_action.schema_files import SCHEMA_BASE, SCHEMA_FILES

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.compile(r"\d+\.\d+\.\d+")
#: every way a file names a release of dpn, each capturing the version
RELEASE_REFS = {
    "action pin": re.compile(r"dpn-dev/dpn@v(\d+\.\d+\.\d+)"),
    "action pin comment": re.compile(r"dpn-dev/dpn@<[^>]+>\s*#\s*v(\d+\.\d+\.\d+)"),
    "schema address": re.compile(r"dpn-dev/dpn/v(\d+\.\d+\.\d+)/schemas/"),
    "pre-commit rev": re.compile(r"\brev:\s*v(\d+\.\d+\.\d+)"),
}


def dpn(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def release_files() -> list[Path]:
    """The files a user copies from or reads a pin in (the changelog and the release notes
    name older releases on purpose)."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    files += [p for p in sorted((ROOT / "examples").rglob("*")) if p.is_file()]
    files += sorted((ROOT / "schemas").glob("*.json"))
    files += sorted((ROOT / "dpn_action" / "schemas").glob("*.json"))
    return [p for p in files if p.name != "releasing.md"]


# ---------------------------------------------------------------------------- the version
def test_the_version_is_written_once_and_the_distribution_reads_it() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    dynamic = pyproject["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "dpn_action.__version__"}
    assert VERSION.fullmatch(__version__)
    assert importlib.metadata.version("dpn-action") == __version__


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_dpn_version_flags_print_the_version(flag: str) -> None:
    result = dpn(flag)
    assert (result.exit_code, result.output) == (0, f"dpn {__version__}\n")


def test_dpn_version_json_gives_dpn_python_and_the_sdks() -> None:
    result = dpn("version", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc == {
        "dpn": __version__,
        "python": platform.python_version(),
        "packages": {
            name: importlib.metadata.version(name)
            for name in ("boto3", "botocore", "databricks-sdk", "pydantic")
        },
    }


def test_dpn_version_says_null_and_not_installed_for_what_is_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.metadata.version

    def without_sdks(name: str) -> str:
        if name in ("boto3", "botocore", "databricks-sdk"):
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", without_sdks)
    doc = json.loads(dpn("version", "--format", "json").output)
    assert doc["packages"] == {
        "boto3": None,
        "botocore": None,
        "databricks-sdk": None,
        "pydantic": real("pydantic"),
    }
    text = dpn("version").output.splitlines()
    assert text[0].split() == ["dpn", __version__]
    assert text[1].split() == ["python", platform.python_version()]
    assert text[2].split() == ["boto3", "not", "installed"]
    assert text[4].split() == ["databricks-sdk", "not", "installed"]


def test_dpn_version_imports_no_sdk_and_no_pydantic() -> None:
    code = (
        "import sys\n"
        "from dpn_action.cli import main\n"
        "try:\n    main(['version'])\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('pydantic', 'rich', 'boto3', 'botocore', 'databricks')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.splitlines()[-1] == "[]"


# --------------------------------------------------------------- what names the release
def test_the_schemas_are_published_at_the_release_tag() -> None:
    published = f"https://raw.githubusercontent.com/dpn-dev/dpn/v{__version__}/schemas"
    assert published == SCHEMA_BASE
    for directory in ("schemas", "dpn_action/schemas"):
        for name in SCHEMA_FILES.values():
            schema = json.loads((ROOT / directory / name).read_text(encoding="utf-8"))
            assert schema["$id"] == f"{SCHEMA_BASE}/{name}"


def test_every_release_named_in_the_readme_docs_examples_and_schemas_is_this_version() -> None:
    found: dict[str, set[str]] = {}
    for path in release_files():
        text = path.read_text(encoding="utf-8")
        for kind, pattern in RELEASE_REFS.items():
            for version in pattern.findall(text):
                found.setdefault(version, set()).add(f"{path.relative_to(ROOT)} ({kind})")
    assert set(found) == {__version__}, {v: sorted(w) for v, w in found.items()}


@pytest.mark.parametrize(
    ("path", "kinds"),
    [
        ("README.md", ["action pin comment", "pre-commit rev"]),
        ("docs/pre-commit.md", ["pre-commit rev"]),
        ("docs/github-action.md", ["action pin", "action pin comment"]),
        ("examples/workflows/preview.yml", ["action pin", "action pin comment"]),
        ("examples/workflows/comment.yml", ["action pin", "action pin comment"]),
        ("examples/workflows/apply.yml", ["action pin", "action pin comment"]),
        ("examples/workflows/sweep.yml", ["action pin", "action pin comment"]),
        ("examples/blueprints/dev.json", ["schema address"]),
        ("examples/.dpn/naming-values.yaml", ["schema address"]),
    ],
)
def test_the_snippets_a_user_copies_pin_this_release(path: str, kinds: list[str]) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    for kind in kinds:
        assert RELEASE_REFS[kind].findall(text), f"{path}: no {kind}"


# ------------------------------------------------------------------------------ changelog
def test_the_changelog_keeps_a_changelog_and_opens_with_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert "https://keepachangelog.com/en/1.1.0/" in text
    releases = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.M)
    assert releases[0] == ("Unreleased", "")
    assert releases[1:] == [(__version__, "2026-11-30"), ("0.1.0", "2026-11-28")]
    for version, _ in releases:
        assert re.search(
            rf"^\[{re.escape(version)}\]: https://github\.com/dpn-dev/dpn/", text, re.M
        )
    sections = set(re.findall(r"^### (\w+)$", text, re.M))
    assert sections <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_the_release_checklist_names_what_to_check_before_a_tag() -> None:
    text = (ROOT / "docs" / "releasing.md").read_text(encoding="utf-8")
    for needle in (
        "dpn_action/__init__.py",
        "CHANGELOG.md",
        "requirements/action.txt",
        "dpn plan schema --write schemas",
        "git tag",
        "vX.Y.Z",
        "vX",
        "clean clone",
    ):
        assert needle in text, needle
