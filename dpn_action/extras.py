"""The distribution's extras: which cloud SDK each brings, whether it is installed here, and
the versions of what is installed.

`pip install dpn-action` is the core: lint, preview, the hooks. A cloud's SDK comes with its
extra (`[aws]`: boto3, `[databricks]`: databricks-sdk, `[cloud]`: both), and a command that
talks to a cloud without it stops with the extra to install (`MissingExtra`, exit 2), before
anything is written. Nothing here imports an SDK: installed modules are found by their spec,
versions are read from the distributions' metadata.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

#: provider -> (extra, the modules it needs, the distributions that bring them)
EXTRAS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "aws": ("aws", ("boto3", "botocore"), ("boto3",)),
    "databricks": ("databricks", ("databricks.sdk",), ("databricks-sdk",)),
}
#: the extra that brings every cloud's SDK
ALL_CLOUDS = "cloud"
#: the distributions `dpn version` reports
REPORTED = ("boto3", "botocore", "databricks-sdk", "pydantic")
#: what each provider is called in a message
TITLES = {"aws": "AWS", "databricks": "Databricks"}


class MissingExtra(Exception):
    """A command needs a cloud SDK that is not installed; the message names the extra."""

    def __init__(self, providers: Iterable[str]) -> None:
        self.providers = sorted(set(providers))
        dists = [d for p in self.providers for d in EXTRAS[p][2]]
        extra = EXTRAS[self.providers[0]][0] if len(self.providers) == 1 else ALL_CLOUDS
        self.extra = extra
        clouds = " and ".join(TITLES.get(p, p) for p in self.providers)
        one = len(self.providers) == 1
        super().__init__(
            f"{clouds} {'needs' if one else 'need'} {' and '.join(dists)}, which "
            f"{'is' if len(dists) == 1 else 'are'} not installed: "
            f"pip install 'dpn-action[{extra}]'"
        )


def installed(module: str) -> bool:
    """Whether `module` can be imported here, without importing it (a dotted name imports
    its parent package only: `databricks`, a namespace, not `databricks.sdk`)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing(providers: Iterable[str]) -> list[str]:
    """The providers among `providers` whose SDK is not installed."""
    return sorted({p for p in providers if p in EXTRAS and not all(map(installed, EXTRAS[p][1]))})


def require(providers: Iterable[str]) -> None:
    """Raise `MissingExtra` when a provider of `providers` lacks its SDK."""
    lacking = missing(providers)
    if lacking:
        raise MissingExtra(lacking)


def version_of(distribution: str) -> str | None:
    """The installed version of `distribution`, or None when it is not installed."""
    import importlib.metadata  # only here: it costs an import of email and zipfile

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
