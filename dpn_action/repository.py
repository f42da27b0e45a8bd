"""Which repository a run applies: the value of the `dpn-repository` tag.

Every resource dpn creates carries, besides its ownership marks, the repository whose
blueprints asked for it (where the type takes tags). `dpn sweep` then tells the resources
of *this* repository that no blueprint describes any more (orphans) from those another
repository made in the same account or workspace (kept: `elsewhere`).

The identity, first found wins:

1. `DPN_REPOSITORY`: set it to give a repository a name of its own choosing, or several
   repositories one shared name;
2. `GITHUB_REPOSITORY` (`owner/name`), which GitHub Actions sets for every step;
3. the path of the git `origin` remote's URL (`https://github.com/owner/name.git`,
   `git@github.com:owner/name.git` -> `owner/name`), so a run on a laptop names the
   repository as its workflow does.

With none of them there is no identity, and resources are created without the tag.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

#: the environment variable that names the repository
ENV = "DPN_REPOSITORY"
#: what a repository's name may hold: what AWS and Databricks take in a tag value
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,127}")
#: `git@host:path` (scp-like syntax, no scheme)
_SCP = re.compile(r"[^/@:]+@[^/:]+:(?P<path>.+)")


class RepositoryError(ValueError):
    """`DPN_REPOSITORY` names no repository a tag can hold."""


def identity(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The repository this run applies (see the module's docstring), or None."""
    env = os.environ if env is None else env
    given = env.get(ENV, "").strip()
    if given:
        if _NAME.fullmatch(given) is None:
            raise RepositoryError(
                f"{ENV}={given!r} cannot be a tag value: use up to 128 letters, digits and "
                "_ . : / = + @ -, starting with a letter or digit (say owner/name)"
            )
        return given
    github = env.get("GITHUB_REPOSITORY", "").strip()
    if github and _NAME.fullmatch(github):
        return github
    return from_remote(_origin_url(cwd))


def from_remote(url: str | None) -> str | None:
    """The repository a git remote URL names: its path without `.git` (`owner/name`); a
    local path's last two parts. None when it names none a tag can hold."""
    url = (url or "").strip()
    if not url:
        return None
    scp = _SCP.fullmatch(url) if "://" not in url else None
    if scp is not None:
        path = scp.group("path")
    elif "://" in url:
        path = urlsplit(url).path
    else:
        path = "/".join(Path(url).parts[-2:])
    path = path.strip("/")
    path = path.removesuffix(".git").strip("/")
    return path if _NAME.fullmatch(path) else None


def _origin_url(cwd: Path | None) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None
