"""What every `dpn` command shares: the command group, the naming options, findings
output, and which blueprints and naming configs a command works on.

Exit codes: 0 ok, 1 findings or failure, 2 usage error. Heavy modules (pydantic, rich, the
cloud SDKs) are imported inside the commands that need them, so `dpn lint` starts fast.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dpn_action import __version__
from dpn_action.findings import Finding, Severity
from dpn_action.layout import BLUEPRINTS

if TYPE_CHECKING:
    from dpn_action.naming.config import Configs
    from dpn_action.tree import Source, Tree
    from dpn_action.txn.lock import Shared

F = TypeVar("F", bound=Callable[..., Any])
FINDING_FORMATS = ("text", "json", "github", "sarif")


def config_options(fn: F) -> F:
    """--values-config, --patterns-config and --override, shared by every naming command."""
    fn = click.option(
        "--override",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Set a naming value at the highest precedence (repeatable).",
    )(fn)
    fn = click.option(
        "--patterns-config",
        type=click.Path(dir_okay=False),
        help="naming-patterns.yaml to use (default: discovered).",
    )(fn)
    fn = click.option(
        "--values-config",
        type=click.Path(dir_okay=False),
        help="naming-values.yaml to use (default: discovered).",
    )(fn)
    return fn


def team_options(fn: F) -> F:
    """--lock, --wal-mirror and --lock-timeout, shared by every command that writes to a
    cloud (team mode: docs/team-mode.md)."""
    fn = click.option(
        "--lock-timeout",
        type=click.FloatRange(0, 86400),
        default=300.0,
        show_default=True,
        envvar="DPN_LOCK_TIMEOUT",
        metavar="SECONDS",
        help="How long to wait for the lock held by another run before giving up.",
    )(fn)
    fn = click.option(
        "--wal-mirror",
        metavar="s3://BUCKET/PREFIX",
        envvar="DPN_WAL_MIRROR",
        help="Copy every write-ahead log here before the cloud calls it announces; recovery "
        "on any machine reads it (env DPN_WAL_MIRROR).",
    )(fn)
    fn = click.option(
        "--lock",
        metavar="URL",
        envvar="DPN_LOCK",
        help="A lease lock shared by every runner: s3://BUCKET/KEY or dynamodb://TABLE/KEY, "
        "optionally ?lease=SECONDS (default: the WAL directory's file lock; env DPN_LOCK).",
    )(fn)
    return fn


class Team:
    """What `team_options` gave: team mode for the core (None: local only), and how long to
    wait for the lock."""

    def __init__(self, shared: Shared | None, lock_timeout: float) -> None:
        self.shared = shared
        self.lock_timeout = lock_timeout


def team_mode(lock: str | None, wal_mirror: str | None, lock_timeout: float) -> Team:
    """Team mode from the options; a URL dpn cannot use is a usage error (exit 2)."""
    if not (lock or "").strip() and not (wal_mirror or "").strip():
        return Team(None, lock_timeout)
    from dpn_action.extras import MissingExtra
    from dpn_action.team import TeamUrlError, shared_from

    try:
        shared = shared_from(lock, wal_mirror, say=lambda text: click.echo(text, err=True))
    except MissingExtra as exc:
        raise NotInstalled(str(exc)) from exc
    except TeamUrlError as exc:
        hint = "--lock" if lock and str(exc).startswith(lock.strip()) else "--wal-mirror"
        raise click.BadParameter(str(exc), param_hint=hint) from None
    return Team(shared, lock_timeout)


def context_options(fn: F) -> F:
    """`--context GLOB` (the blueprints compared against for uniqueness) and `--no-context`."""
    fn = click.option("--no-context", is_flag=True, help="Check the given files on their own.")(fn)
    return click.option(
        "--context",
        "context_globs",
        multiple=True,
        metavar="GLOB",
        help="Also load these blueprints for the repository-wide uniqueness check "
        f"(default: {BLUEPRINTS}); relative to the current directory, with ** and {{a,b}}.",
    )(fn)


def findings_format_option(fn: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FINDING_FORMATS),
        # read when the command runs: annotations inside GitHub Actions, text elsewhere
        default=lambda: "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text",
        show_default="text, or github inside GitHub Actions",
        help="How to print findings.",
    )(fn)


def emit(findings: list[Finding], fmt: str, *, stream: Any = None, quiet_ok: bool = False) -> None:
    from dpn_action.formatters import format_findings

    if quiet_ok and not findings and fmt == "text":
        return
    out = format_findings(findings, fmt, tool_version=__version__)
    click.echo(out.rstrip("\n"), file=stream)


def failed(findings: Iterable[Finding], strict: bool = False) -> bool:
    return any(f.is_error or (strict and f.severity is Severity.WARNING) for f in findings)


def naming_configs(
    values_config: str | None, patterns_config: str | None, overrides: tuple[str, ...]
) -> Configs:
    """The naming configs of a command: each blueprint is named with those of its own
    directory (`naming.config.find_configs`), the flags winning."""
    from dpn_action.naming.config import Configs

    return Configs(values_config, patterns_config, overrides, display_root=Path.cwd())


def repository_name() -> str | None:
    """The repository this run applies (`dpn_action.repository`): the value of the
    `dpn-repository` tag on what it creates, and whose resources a sweep may take."""
    from dpn_action.repository import RepositoryError, identity

    try:
        return identity()
    except RepositoryError as exc:
        raise click.UsageError(str(exc)) from None


def here() -> tuple[Tree, str]:
    """The work tree dpn runs in, and the directory it runs in, relative to its root: where
    commands that name no blueprint find the naming configs."""
    from dpn_action.tree import work_tree

    tree = work_tree()
    return tree, tree.rel(tree.cwd) or ""


def sources(paths: Iterable[Path]) -> list[Source]:
    """Files given on the command line, each as a file of its work tree."""
    from dpn_action.tree import source_of

    return [source_of(p) for p in paths]


def repository_blueprints(tree: Tree, globs: Iterable[str] = ()) -> list[Source]:
    """The blueprints of the project dpn runs in: the files of `tree` matching `globs`
    (default: the layout's, `blueprints/**/*.{json,yaml,yml}`) relative to the current
    directory, as the GitHub Action matches its `blueprints` input relative to its working
    directory (and pre-commit runs at the repository root)."""
    from dpn_action.layout import BLUEPRINTS, Globs, blueprints_in
    from dpn_action.tree import Source

    patterns = Globs(list(globs) or [BLUEPRINTS])
    for g in patterns.patterns:
        if g.startswith("/") or Path(g).is_absolute() or ".." in Path(g).parts:
            raise click.BadParameter(
                f"{g!r}: give a pattern relative to the current directory (** and {{a,b}} "
                "work), not an absolute one or one that climbs out of it",
                param_hint="--context",
            )
    base = tree.rel(tree.cwd) or ""
    prefix = f"{base}/" if base else ""
    under = "/".join(p for p in (base, _literal_dir(patterns.patterns)) if p)
    found = [rel.removeprefix(prefix) for rel in tree.files(under=under)]
    return [Source(tree, prefix + rel) for rel in blueprints_in(found, patterns.patterns)]


def _literal_dir(globs: list[str]) -> str:
    """The directory every glob starts with, up to its first wildcard ("" for the root)."""
    heads = []
    for g in globs:
        parts = []
        for part in g.split("/")[:-1]:
            if any(c in part for c in "*?[{"):
                break
            parts.append(part)
        heads.append(parts)
    common = heads[0]
    for h in heads[1:]:
        n = 0
        while n < min(len(common), len(h)) and common[n] == h[n]:
            n += 1
        common = common[:n]
    return "/".join(common)


class NotInstalled(click.ClickException):
    """A cloud SDK that is not installed: one line naming the extra to install, exit 2 (a
    usage error, though not of an argument)."""

    exit_code = 2


@contextmanager
def cloud_errors() -> Iterator[None]:
    """Refusals of the transaction core and provider set-up problems: one line, exit 1; a
    cloud SDK that is not installed: one line naming the extra to install, exit 2."""
    from dpn_action.extras import MissingExtra
    from dpn_action.provision import ProviderSetupError
    from dpn_action.txn.errors import FencedError, TxnError, WalWriteError

    try:
        yield
    except MissingExtra as exc:
        raise NotInstalled(str(exc)) from exc
    except FencedError as exc:
        raise click.ClickException(
            f"{exc}\nThis run lost the lock, so it made no further cloud call; the run that "
            "holds the lock now finishes the transaction (or `dpn recover` with the same "
            "--lock and --wal-mirror does)."
        ) from exc
    except WalWriteError as exc:
        raise click.ClickException(
            f"{exc}\nThe transaction is unfinished: once the disk has room again, run "
            "`dpn recover` to finish it."
        ) from exc
    except (TxnError, ProviderSetupError) as exc:
        raise click.ClickException(str(exc)) from exc


def one_pass(fn: F) -> F:
    """A command whose work is one pass over the files it reads: what it builds (documents,
    resources, names, plans) lives until it ends. Python's cyclic garbage collector would
    go over all of it again and again as it grows and free nothing (a third of the time of
    a 100,000-resource preview), so it is paused while the command runs. At the end what
    was built counts as old, so the collections of young objects after it pass it over;
    and at exit nothing is collected (the process is ending: its memory goes back whole)."""

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> Any:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.freeze()  # then back to the oldest generation: moved, not gone over
            gc.unfreeze()
            if enabled:
                gc.enable()
            _no_collection_at_exit()

    return command  # type: ignore[return-value]


@functools.cache
def _no_collection_at_exit() -> None:
    atexit.register(gc.freeze)


class _Group(click.Group):
    """Turns unexpected exceptions into one clear line (exit 1) instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("dpn: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(1)
        except OSError as exc:
            click.echo(f"dpn: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "-V", "--version", prog_name="dpn", message="%(prog)s %(version)s"
)
def main() -> None:
    """dpn: exact, valid names for AWS and Databricks data-platform resources."""
