"""Helpers shared by test modules: a scratch git repository and `dpn` as its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Only a guard against a hang (a read of a named pipe or /dev/zero would never end): every
#: command run with it answers in about a second. Speed is measured in benchmarks/.
HANG_GUARD = 120


def dpn_process(
    cwd: Path, *args: str, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m dpn_action ARGS` in `cwd`, as a separate process of this interpreter,
    outside GitHub Actions and with `home` (default: `cwd`) as the home directory."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    env["HOME"] = str(home or cwd)
    return subprocess.run(
        [sys.executable, "-m", "dpn_action", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """An empty git work tree, `tmp_path/repo`; `tmp_path` itself is outside it."""
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root
