"""The distribution's dependencies, and the Action's hash-locked install of them.

`pyproject.toml` declares a slim core (what lint, preview and the hooks need) and one extra
per cloud. The Action installs the core and `[cloud]` from `requirements/action.txt`, every
file checked against a hash, and runs dpn itself from its own directory; the lock must pin
everything declared, with a version the declaration allows.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = ROOT / "requirements" / "action.txt"
#: the one command that writes the lock (docs/releasing.md, docs/github-action.md)
LOCK_COMMAND = (
    "uv pip compile pyproject.toml --extra cloud --universal --python-version 3.11 "
    "--generate-hashes -o requirements/action.txt"
)
CORE = {"pyyaml", "pydantic", "click", "filelock"}
#: what the cloud extras add: the SDKs, and rich for the progress of cloud commands
SDKS = {"boto3", "botocore", "databricks-sdk", "rich"}


@dataclass
class Pin:
    name: str
    spec: str  # what follows the name: `==1.2.3`
    marker: str | None
    hashes: list[str] = field(default_factory=list)


def parse_lock(text: str) -> list[Pin]:
    """The entries of a pip requirements file with hashes (`name==v ; marker \\` followed by
    `--hash=...` lines); comments skipped."""
    pins: list[Pin] = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = re.findall(r"--hash=(\S+)", line)
        req = Requirement(re.sub(r"\s*--hash=\S+", "", line).strip())
        marker = str(req.marker) if req.marker else None
        pins.append(Pin(canonicalize_name(req.name), str(req.specifier), marker, hashes))
    return pins


def declared() -> list[Requirement]:
    """Every `[project] dependencies` entry and every `[cloud]` extra entry."""
    project = PYPROJECT["project"]
    entries = project["dependencies"] + project["optional-dependencies"]["cloud"]
    return [Requirement(e) for e in entries]


def lock_problems(text: str, requirements: list[Requirement]) -> list[str]:
    """What keeps `text` from being a lock the Action can install with `--require-hashes`
    that covers `requirements`."""
    problems = []
    pins = parse_lock(text)
    by_name = {p.name: p for p in pins}
    for p in pins:
        if not re.fullmatch(r"==[^,*]+", p.spec):
            problems.append(f"{p.name}: not pinned to one version ({p.spec or 'no version'})")
        if not p.hashes or not all(h.startswith("sha256:") for h in p.hashes):
            problems.append(f"{p.name}: no sha256 --hash")
    if "dpn-action" in by_name:
        problems.append("dpn-action: the action's own code runs from its directory")
    for req in requirements:
        name = canonicalize_name(req.name)
        pin = by_name.get(name)
        if pin is None:
            problems.append(f"{name}: declared ({req}) but not in the lock")
            continue
        version = pin.spec.removeprefix("==")
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"{name}: locked {version}, declared {req.specifier}")
        if pin.marker is not None:
            problems.append(f"{name}: declared for every platform, locked only for {pin.marker}")
    return problems


# ------------------------------------------------------------------------- pyproject.toml
def test_the_core_is_what_lint_preview_and_the_hooks_need_and_no_sdk() -> None:
    core = {canonicalize_name(Requirement(e).name) for e in PYPROJECT["project"]["dependencies"]}
    assert core == CORE


def test_each_cloud_has_its_extra_and_cloud_is_both() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]

    def names(extra: str) -> set[str]:
        return {canonicalize_name(Requirement(e).name) for e in extras[extra]}

    assert names("aws") == {"boto3", "rich"}
    assert names("databricks") == {"databricks-sdk", "rich"}
    assert sorted(extras["cloud"]) == sorted(set(extras["aws"] + extras["databricks"]))
    assert "dpn-action[cloud]" in extras["test"]  # the tests talk to both clouds' emulators


# ---------------------------------------------------------------------------------- the lock
def test_the_lock_covers_every_declared_dependency_with_hashes() -> None:
    assert lock_problems(LOCK.read_text(encoding="utf-8"), declared()) == []


def test_the_lock_holds_both_sdks_and_what_they_need() -> None:
    names = {p.name for p in parse_lock(LOCK.read_text(encoding="utf-8"))}
    assert names >= CORE | SDKS | {"s3transfer", "jmespath", "pydantic-core", "requests"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda t: re.sub(r"(?m)^boto3==.*(\n    --hash.*)*\n", "", t), "boto3: declared"),
        (lambda t: re.sub(r"(?m)^(click==\S+) \\\n(    --hash.*\n)+", r"\1\n", t), "no sha256"),
        (lambda t: re.sub(r"(?m)^pydantic==\S+", "pydantic==2.0.0", t), "declared >=2.5"),
        (lambda t: re.sub(r"(?m)^rich==\S+", "rich>=13", t), "rich: not pinned"),
        (lambda t: t + "dpn-action==0.2.0 \\\n    --hash=sha256:00\n", "runs from its direc"),
        (
            lambda t: re.sub(r"(?m)^filelock==(\S+)", r"filelock==\1 ; sys_platform == 'win32'", t),
            "locked only for",
        ),
    ],
    ids=["missing", "no-hash", "too-old", "unpinned", "itself", "one-platform"],
)
def test_a_lock_that_does_not_cover_the_declaration_is_refused(
    change: Callable[[str], str], problem: str
) -> None:
    text = LOCK.read_text(encoding="utf-8")
    broken = change(text)
    assert broken != text
    found = lock_problems(broken, declared())
    assert any(problem in p for p in found), found


def test_the_lock_names_the_one_command_that_writes_it_and_the_docs_show_it() -> None:
    header = LOCK.read_text(encoding="utf-8").splitlines()[:2]
    assert header[1].strip("# ") == LOCK_COMMAND
    for doc in ("docs/releasing.md", "docs/github-action.md"):
        assert LOCK_COMMAND in (ROOT / doc).read_text(encoding="utf-8"), doc


# ------------------------------------------------------------------------------ action.yml
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS = {s["name"]: s for s in ACTION["runs"]["steps"]}


def test_the_action_installs_only_the_lock_each_file_by_its_hash_and_only_wheels() -> None:
    install = STEPS["Install the action's locked dependencies"]
    assert install["env"]["LOCK"] == "${{ github.action_path }}/requirements/action.txt"
    script = install["run"]
    pip = [line for line in script.replace("\\\n", " ").splitlines() if "pip install" in line]
    assert len(pip) == 1, pip
    for flag in ("--require-hashes", "--no-deps", "--only-binary ':all:'", '-r "$LOCK"'):
        assert flag in pip[0], flag
    assert "pip check" in script
    every_run = "\n".join(s.get("run", "") for s in ACTION["runs"]["steps"])
    assert every_run.count("pip install") == 1  # the action's own code is not installed


def test_the_venv_is_cached_by_the_locks_digest_and_the_python_version() -> None:
    prep = STEPS["Name the virtual environment and the WAL artifact"]
    assert prep["env"]["LOCK"] == "${{ github.action_path }}/requirements/action.txt"
    assert prep["env"]["PYTHON_VERSION"] == "${{ steps.python.outputs.python-version }}"
    assert "hashlib.sha256(open(sys.argv[1]" in prep["run"] and '"$LOCK"' in prep["run"]
    assert 'key=dpn-venv-${RUNNER_OS}-${RUNNER_ARCH}-py${PYTHON_VERSION}-${digest}"' in prep["run"]


def test_dpn_runs_from_the_actions_directory_never_the_checkouts() -> None:
    step = STEPS["dpn action"]
    assert step["env"]["PYTHONPATH"] == "${{ github.action_path }}"
    # -P: the working directory (the repository, a pull request's files) is not on the path
    assert step["run"] == '"$VENV/bin/python" -P -m dpn_action action'
