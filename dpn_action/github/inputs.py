"""The GitHub Action's inputs: parsed from `DPN_*` variables (set by action.yml) or options."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dpn_action.github.preview import DEFAULT_BLUEPRINTS, Settings
from dpn_action.plan import ON_REMOVED

#: A new mode is one name here, one branch in `action.main`, and a run class over
#: `Context`; `Context.shared` gives it the lock and the mirror.
MODES = ("auto", "preview", "apply", "recover", "comment", "sweep")


class ActionError(Exception):
    """Stops the run with a message and a `failure-reason` output."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off", ""):
        return False
    raise ActionError("usage", f"{name} must be true or false, not {value!r}")


@dataclass
class Inputs:
    mode: str = "auto"
    blueprints: str = DEFAULT_BLUEPRINTS
    values_config: str | None = None
    patterns_config: str | None = None
    token: str = field(default="", repr=False)
    api_url: str = "https://api.github.com"
    max_parallel: int = 8
    dry_run: bool = False
    fail_on_plan_change: bool = True
    environment: str = ""
    wal_dir: Path = Path(".dpn-wal")
    #: what a merge does with resources the change stops describing (`plan.ON_REMOVED`)
    on_removed: str = "keep"
    #: preview: read the cloud (read-only) and mark each resource new, adopt or conflict
    cloud_check: bool = False
    #: team mode: a lease lock shared by every runner (`s3://...`, `dynamodb://...`)
    lock: str = ""
    #: team mode: where every WAL is copied before its cloud calls (`s3://BUCKET/PREFIX`)
    wal_mirror: str = ""
    #: mode sweep: delete the orphans found (default: report them)
    sweep_delete: bool = False
    #: mode sweep: only resources whose transaction began longer ago (seconds)
    sweep_older_than: float = 6 * 3600.0

    @property
    def settings(self) -> Settings:
        return Settings(self.blueprints, self.values_config, self.patterns_config, self.on_removed)

    @property
    def env_label(self) -> str:
        """The environment part of the WAL artifact's name."""
        return re.sub(r"[^A-Za-z0-9._-]", "_", self.environment) or "all"


def parse_inputs(argv: Sequence[str], env: Mapping[str, str]) -> Inputs:
    def e(name: str, default: str = "") -> str:
        return env.get(f"DPN_{name}", default)

    p = argparse.ArgumentParser(
        prog="dpn action",
        description="Run as the GitHub Action (see docs/github-action.md). Every option "
        "defaults to its DPN_* environment variable.",
    )
    p.add_argument("--mode", default=e("MODE", "auto") or "auto", choices=MODES)
    p.add_argument("--blueprints", default=e("BLUEPRINTS", DEFAULT_BLUEPRINTS))
    p.add_argument("--values-config", default=e("VALUES_CONFIG") or None)
    p.add_argument("--patterns-config", default=e("PATTERNS_CONFIG") or None)
    p.add_argument("--api-url", default=e("API_URL") or env.get("GITHUB_API_URL", ""))
    p.add_argument("--max-parallel", default=e("MAX_PARALLEL", "8") or "8")
    p.add_argument("--dry-run", default=e("DRY_RUN", "false"))
    p.add_argument("--fail-on-plan-change", default=e("FAIL_ON_PLAN_CHANGE", "true"))
    p.add_argument("--environment", default=e("ENVIRONMENT"))
    p.add_argument("--wal-dir", default=e("WAL_DIR", ".dpn-wal") or ".dpn-wal")
    p.add_argument("--on-removed", default=e("ON_REMOVED", "keep") or "keep")
    p.add_argument("--cloud-check", default=e("CLOUD_CHECK", "false"))
    p.add_argument("--lock", default=e("LOCK"))
    p.add_argument("--wal-mirror", default=e("WAL_MIRROR"))
    p.add_argument("--sweep-delete", default=e("SWEEP_DELETE", "false"))
    p.add_argument("--sweep-older-than", default=e("SWEEP_OLDER_THAN", "6h") or "6h")
    a = p.parse_args(list(argv))
    _check_team(a.lock, a.wal_mirror)
    on_removed = a.on_removed.strip().lower()
    if on_removed not in ON_REMOVED:
        raise ActionError(
            "usage", f"on-removed must be one of {', '.join(ON_REMOVED)}, not {a.on_removed!r}"
        )
    try:
        max_parallel = int(a.max_parallel)
    except ValueError:
        raise ActionError(
            "usage", f"max-parallel must be a number, not {a.max_parallel!r}"
        ) from None
    if not 1 <= max_parallel <= 64:
        raise ActionError("usage", "max-parallel must be between 1 and 64")
    from dpn_action.sweep import parse_age

    try:
        older_than = parse_age(a.sweep_older_than)
    except ValueError as exc:
        raise ActionError("usage", f"sweep-older-than: {exc}") from None
    return Inputs(
        mode=a.mode,
        blueprints=a.blueprints or DEFAULT_BLUEPRINTS,
        values_config=a.values_config,
        patterns_config=a.patterns_config,
        token=e("GITHUB_TOKEN"),
        api_url=a.api_url or "https://api.github.com",
        max_parallel=max_parallel,
        dry_run=_bool(a.dry_run, "dry-run"),
        fail_on_plan_change=_bool(a.fail_on_plan_change, "fail-on-plan-change"),
        environment=a.environment.strip(),
        wal_dir=Path(a.wal_dir),
        on_removed=on_removed,
        cloud_check=_bool(a.cloud_check, "cloud-check"),
        lock=a.lock.strip(),
        wal_mirror=a.wal_mirror.strip(),
        sweep_delete=_bool(a.sweep_delete, "sweep-delete"),
        sweep_older_than=older_than,
    )


def _check_team(lock: str, wal_mirror: str) -> None:
    """A `lock` or `wal-mirror` URL dpn cannot use is a usage error before any work."""
    if not lock.strip() and not wal_mirror.strip():
        return
    from dpn_action.team import TeamUrlError, shared_from

    try:
        shared_from(lock, wal_mirror)
    except TeamUrlError as exc:
        name = "lock" if lock.strip() and str(exc).startswith(lock.strip()) else "wal-mirror"
        raise ActionError("usage", f"{name}: {exc}") from None
