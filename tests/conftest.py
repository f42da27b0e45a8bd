"""What test modules share: a home directory of each test's own, files written into a scratch
directory, a small project written and analysed, `dpn` run in this process or as its own, a
scratch git repository.

Every test, and every fixture of a wider scope, runs with `HOME` set to an empty directory of
its own, so a `~/.dpn/` of the person running the tests never changes a result, whether dpn
runs in this process, as its own process, or under pre-commit or act. The tools the suite runs
do without the real home: the tests that commit give git an identity, pre-commit and act get
cache directories of the test's own, and pip (when pre-commit builds its hook environment) reads
only the `PIP_*` variables and the system's configuration, not a user's `~/.config/pip/`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from dpn_action.analysis import Analysis, analyse
from dpn_action.blueprint.expand import Resource
from dpn_action.findings import Finding
from dpn_action.naming.config import load_config

#: Only a guard against a hang (a read of a named pipe or /dev/zero would never end): every
#: command run with it answers in about a second. Speed is measured in benchmarks/.
HANG_GUARD = 120

#: The `dpn-lint` hook as pre-commit runs it: `lint_main` of dpn_action.hooks in a process of
#: this interpreter; the files to lint follow.
LINT_HOOK = [
    sys.executable,
    "-c",
    "import sys; from dpn_action.hooks import lint_main; sys.exit(lint_main())",
]


# ------------------------------------------------------------------------------- files
def write(path: Path, text: str) -> Path:
    """`text` written to `path` as UTF-8, its directories made first; returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    """Each of `files` (path relative to `root`: text) written as `write` does; returns
    `root`."""
    for rel, text in files.items():
        write(root / rel, text)
    return root


def link(path: Path, target: str | Path) -> Path:
    """`path` made a symbolic link to `target`, its directories made first; returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def at(text: str, needle: str, nth: int = 0) -> str:
    """`line:col` (both from 1) of the `nth` occurrence (from 0) of `needle` in `text`, as
    findings show positions."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


# ------------------------------------------------------------------- a project, analysed
#: the metadata `blueprint` gives: a dev environment of project dataplatform in us-east-1
METADATA = {"environment": "dev", "project": "dataplatform", "region": "us-east-1"}
#: an S3 bucket entry that names 'dataplatform-landing-raw-dev-use1' in that environment
S3_ENTRY = {"purpose": "landing", "layer": "raw"}


def blueprint(resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A blueprint of `resources` with `METADATA` (`metadata=` adds to it; other keywords are
    top-level keys, such as `scope`)."""
    metadata = {**METADATA, **extra.pop("metadata", {})}
    return {"version": "1.0", "metadata": metadata, **extra, "resources": resources}


def dedented(text: str) -> str:
    """A file's text as a test gives it, indented with the test's code, without the indent."""
    return textwrap.dedent(text).lstrip()


def analysed(
    root: Path,
    *blueprints: dict[str, Any] | str,
    values: str | None = None,
    patterns: str | None = None,
    overrides: dict[str, str] | None = None,
    context: list[dict[str, Any]] | None = None,
) -> tuple[Analysis, list[Finding]]:
    """Configs (`.dpn/naming-*.yaml`) and blueprints (`blueprints/bpN`: dicts as JSON, text
    as YAML; `context` ones as `ctxN`) written under `root` as a user writes them, then
    analysed: the analysis and the findings of the configs."""
    vpath = write(root / ".dpn" / "naming-values.yaml", dedented(values)) if values else None
    ppath = write(root / ".dpn" / "naming-patterns.yaml", dedented(patterns)) if patterns else None
    cfg, config_findings = load_config(vpath, ppath, overrides)

    def files(items: tuple[dict[str, Any] | str, ...], stem: str) -> list[Path]:
        out = []
        for i, bp in enumerate(items):
            if isinstance(bp, str):
                out.append(write(root / "blueprints" / f"{stem}{i}.yaml", dedented(bp)))
            else:
                text = json.dumps(bp, indent=2)
                out.append(write(root / "blueprints" / f"{stem}{i}.json", text))
        return out

    targets = files(blueprints, "bp")
    ctx = files(tuple(context or ()), "ctx")
    return analyse(cfg, targets, context=ctx, display_root=root), config_findings


def only(a: Analysis, key: str) -> Resource:
    """The one resource of type `key` in `a`."""
    [r] = [r for r in a.resources if r.type.key == key]
    return r


def found(a: Analysis, code: str) -> list[Finding]:
    """The findings of `a` with `code`."""
    return [f for f in a.findings if f.code == code]


# --------------------------------------------------------------------------------- dpn
def dpn(*args: str) -> Result:
    """`dpn ARGS` in this process (click's test runner), in the current directory; an
    exception inside dpn is raised, not turned into an exit code."""
    from dpn_action.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def process_env(**extra: str) -> dict[str, str]:
    """This process's environment outside GitHub Actions (no `GITHUB_ACTIONS`), plus
    `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    env.update(extra)
    return env


def dpn_process(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m dpn_action ARGS` in `cwd`, as a separate process of this interpreter, with
    `process_env(**env)` (so outside GitHub Actions, unless `env` says otherwise)."""
    return subprocess.run(
        [sys.executable, "-m", "dpn_action", *args],
        cwd=cwd,
        env=process_env(**env),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )


def dpn_output(cwd: Path, *args: str) -> tuple[int, str]:
    """`dpn ARGS` as `dpn_process` runs it: its exit code and its output (stdout, then
    stderr). dpn answers any input with findings or a message, so a traceback fails the test."""
    proc = dpn_process(cwd, *args)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return proc.returncode, out


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An empty `HOME` for fixtures of module or session scope, which start before `home`."""
    path = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(path))
        for name in _CACHE_VARIABLES:
            patch.delenv(name, raising=False)
        yield path


@pytest.fixture(autouse=True)
def home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's `HOME`: an empty directory of its own (outside `tmp_path`), for every
    test; ask for it to put something in `~/.dpn/`."""
    path = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(path))
    for name in _CACHE_VARIABLES:  # dpn lint's cache is then ~/.cache/dpn of this HOME
        monkeypatch.delenv(name, raising=False)
    return path


#: where the cache of `dpn lint` would go instead of `~/.cache/dpn`
_CACHE_VARIABLES = ("DPN_CACHE_DIR", "XDG_CACHE_HOME")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`tmp_path` as the current directory (no `.dpn/` to discover), outside GitHub
    Actions."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return tmp_path


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """An empty git work tree, `tmp_path/repo`; `tmp_path` itself is outside it."""
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


class Clock:
    """A clock that moves only when someone sleeps (a `time.monotonic` and `time.sleep`
    stand-in): what waits, and for how long, without waiting."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
