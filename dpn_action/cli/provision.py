"""`dpn create|read|update|delete|status|recover`: the provisioning commands.

A thin face over `dpn_action.provision` and `dpn_action.txn`. Cloud SDKs load only when a
command actually talks to a cloud.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dpn_action.cli.common import (
    Team,
    cloud_errors,
    config_options,
    emit,
    failed,
    main,
    naming_configs,
    repository_name,
    sources,
    team_mode,
    team_options,
)

if TYPE_CHECKING:
    from dpn_action.txn.model import TxnResult

#: `txn.model.DEFAULT_MAX_PARALLEL`, spelled here so that starting `dpn` does not import the
#: transaction package (every lint and hook would pay for it); a test keeps the two equal
DEFAULT_MAX_PARALLEL = 16

F = TypeVar("F", bound=Callable[..., Any])

WAL_DIR_HELP = "Directory of the write-ahead log and its lock."
FORMAT = click.Choice(("table", "json"))


def _wal_option(fn: F) -> F:
    return click.option(
        "--wal-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".dpn-wal"),
        show_default=True,
        help=WAL_DIR_HELP,
    )(fn)


def _blueprint_option(help_text: str, *, required: bool = True) -> Callable[[F], F]:
    return click.option(
        "--blueprint",
        "blueprints",
        multiple=True,
        required=required,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help_text,
    )


def _parallel_option(fn: F) -> F:
    return click.option(
        "--max-parallel",
        type=click.IntRange(1, 64),
        default=DEFAULT_MAX_PARALLEL,
        show_default=True,
        help="Cloud calls at most at once.",
    )(fn)


def _format_option(fn: F) -> F:
    return click.option("--format", "fmt", type=FORMAT, default="table", show_default=True)(fn)


def _plan(
    blueprints: tuple[Path, ...],
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
    *,
    strict: bool = False,
) -> list[Any]:
    """Names for the blueprints, or exit 1 with the findings when any is an error (with
    `strict`, a warning too). Warnings that do not stop it are printed to stderr."""
    srcs = sources(blueprints)
    return _plan_sources(srcs, values_config, patterns_config, overrides, strict=strict)


def _plan_sources(
    srcs: list[Any],
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
    *,
    strict: bool = False,
) -> list[Any]:
    """`_plan` of blueprints given as files of their trees (`tree.Source`)."""
    from dpn_action.analysis import analyse
    from dpn_action.findings import Severity
    from dpn_action.plan import planned

    result = analyse(naming_configs(values_config, patterns_config, overrides), srcs)
    findings = result.findings
    if failed(findings, strict):
        emit(findings, "text", stream=sys.stderr)
        click.echo("dpn: nothing was changed in any cloud: fix the findings above first", err=True)
        sys.exit(1)
    warnings = [f for f in findings if f.severity is Severity.WARNING]
    if warnings:
        emit(warnings, "text", stream=sys.stderr)
    return planned(result.resources)


class _Run:
    """What a transaction command hands the core (a cancel, a progress display) and what
    the signal handler saw."""

    def __init__(self, cancel: Any, progress: _Progress, seen: Any) -> None:
        self.cancel = cancel
        self.progress = progress
        self.seen = seen


@contextmanager
def _transaction() -> Iterator[_Run]:
    """Cloud errors as above, a progress display, and SIGINT/SIGTERM handling: the first
    rolls back, the second stops at once (`dpn_action.txn.signals`)."""
    from dpn_action.txn.model import Cancel
    from dpn_action.txn.signals import interruptible

    cancel = Cancel()
    with cloud_errors(), interruptible(cancel) as seen, _Progress() as progress:
        yield _Run(cancel, progress, seen)


class _Progress:
    """A progress bar in a terminal, plain lines elsewhere (CI logs)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._phase = ""

    def __enter__(self) -> _Progress:
        if self.tty:
            try:  # rich comes with the cloud extras; without it, plain lines
                from rich.progress import Progress
            except ImportError:
                return self
            self._bar = Progress(transient=True)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def __call__(self, p: Any) -> None:
        if self._bar is not None:
            if p.phase != self._phase:
                self._phase = p.phase
                self._task = self._bar.add_task(p.phase, total=p.total)
            self._bar.update(self._task, completed=p.completed)
        elif p.event != "start":
            click.echo(f"{p.phase} {p.completed}/{p.total} {p.event} {p.key}", err=True)


# ------------------------------------------------------------------------- reporting


def _conclude(result: TxnResult, fmt: str, seen: Any) -> None:
    """Report a create or delete transaction (and earlier ones it recovered first); exit
    (128 + the signal's number when a signal stopped it)."""
    for earlier in result.recovered:
        click.echo(f"recovered earlier transaction {earlier.txn_id}: {earlier.status}", err=True)
    _report(result, fmt)
    code = seen.exit_code if seen is not None else None
    sys.exit(code if code is not None else (0 if result.ok else 1))


def _report(result: TxnResult, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
        _finish_hint(result)
        return
    click.echo(f"transaction {result.txn_id or '-'}: {result.status}")
    removed = "archived" if result.archived else "deleted"
    for label, keys in (
        ("created", result.created),
        ("kept" if result.kind == "delete" else "adopted", result.adopted),
        ("would create", result.to_create),
        ("rolled back", result.rolled_back),
        (removed, result.deleted),
        ("retained", result.retained),
    ):
        for k in keys:
            click.echo(f"  {label:<12} {k}")
    for key, why in result.not_ours.items():
        click.echo(f"  not ours     {key}: {why}")
    for c in result.conflicts:
        click.echo(f"  conflict     {c.key}: exists and is not managed by dpn")
    for left in result.left:
        click.echo(f"  left         {left.key} ({left.state}): {left.reason}")
    from dpn_action.txn.model import group_errors

    kept = {x.key for x in result.left}
    for keys, why in group_errors({k: v for k, v in result.errors.items() if k not in kept}):
        # the same error for many keys is said once, in the error line below
        for key in keys:
            click.echo(
                f"  failed       {key}: {why}" if len(keys) == 1 else f"  failed       {key}"
            )
    if result.error:
        click.echo(f"  error        {result.error}", err=True)
    _finish_hint(result)


def _finish_hint(result: TxnResult) -> None:
    if result.left:
        where = f" --wal-dir {result.wal_path.parent}" if result.wal_path else ""
        click.echo(f"finish with: dpn recover --continue-rollback{where}", err=True)


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _print_observed(observed: list[Any], fmt: str) -> None:
    rows = [o.as_dict() for o in observed]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    width = max([len(r["key"]) for r in rows] + [8])
    click.echo(f"{'RESOURCE':<{width}}  EXISTS  OURS  TRANSACTION")
    for r in rows:
        txn = r["transaction"] or "-"
        if r["error"]:
            txn = f"read failed: {r['error']}"
        click.echo(
            f"{r['key']:<{width}}  {_yes_no(r['exists']):<6}  {_yes_no(r['ours']):<4}  {txn}"
        )
    exists = sum(1 for r in rows if r["exists"])
    ours = sum(1 for r in rows if r["ours"])
    click.echo(f"{len(rows)} planned: {exists} exist, {ours} managed by dpn")


# -------------------------------------------------------------------------- commands


def _create_options(fn: F) -> F:
    """What `create` and `apply` take alike."""
    for option in (
        config_options,
        team_options,
        _wal_option,
        _format_option,
        _parallel_option,
        click.option(
            "--strict",
            is_flag=True,
            help="Refuse on warning findings too (a role anyone may assume, a policy "
            "granting everything, ...).",
        ),
        click.option("--dry-run", is_flag=True, help="Only read: show what would be done."),
    ):
        fn = option(fn)
    return fn


def _create(
    items: list[Any], wal_dir: Path, max_parallel: int, dry_run: bool, team: Team
) -> tuple[TxnResult, _Run]:
    """Create the planned resources as one transaction, signals and errors handled."""
    from dpn_action.provision import apply_plan

    repository = repository_name()
    with _transaction() as run:
        result = apply_plan(
            items,
            wal_dir=wal_dir,
            max_parallel=max_parallel,
            dry_run=dry_run,
            on_progress=run.progress,
            cancel=run.cancel,
            shared=team.shared,
            lock_timeout=team.lock_timeout,
            repository=repository,
        )
    return result, run


@main.command()
@_blueprint_option("Blueprint(s) to create.")
@_create_options
def create(
    blueprints: tuple[Path, ...],
    dry_run: bool,
    strict: bool,
    max_parallel: int,
    fmt: str,
    wal_dir: Path,
    lock: str | None,
    wal_mirror: str | None,
    lock_timeout: float,
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Create every resource of the blueprints as one transaction (all or nothing).

    Unfinished earlier transactions in the WAL directory (and, with --wal-mirror, in the
    mirror) are recovered first.
    """
    team = team_mode(lock, wal_mirror, lock_timeout)
    items = _plan(blueprints, values_config, patterns_config, overrides, strict=strict)
    result, run = _create(items, wal_dir, max_parallel, dry_run, team)
    _conclude(result, fmt, run.seen)


@main.command("apply")
@_blueprint_option("Blueprint(s) to converge on.")
@click.option(
    "--on-removed",
    type=click.Choice(("keep", "delete", "archive")),
    default="keep",
    show_default=True,
    help="What to do with what dpn made from these files that they no longer describe "
    "(removed entries, the old names of renamed ones): keep it and list it, delete it, or "
    "archive it where the cloud can. Only resources carrying dpn's mark are removed.",
)
@_create_options
def apply_command(
    blueprints: tuple[Path, ...],
    on_removed: str,
    dry_run: bool,
    strict: bool,
    max_parallel: int,
    fmt: str,
    wal_dir: Path,
    lock: str | None,
    wal_mirror: str | None,
    lock_timeout: float,
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Converge on the blueprints: create what is missing as one transaction, then, once it
    committed, deal with what dpn made from these files (as their WAL records) that they
    no longer describe, as a delete transaction of its own (--on-removed)."""
    from dpn_action.provision import remove_operations, stale_operations

    team = team_mode(lock, wal_mirror, lock_timeout)
    items = _plan(blueprints, values_config, patterns_config, overrides, strict=strict)
    created, run = _create(items, wal_dir, max_parallel, dry_run, team)
    stale = stale_operations(items, wal_dir) if created.ok else []
    removed = None
    if stale and on_removed != "keep":
        with _transaction() as removing:
            removed = remove_operations(
                stale,
                wal_dir=wal_dir,
                archive=on_removed == "archive",
                max_parallel=max_parallel,
                dry_run=dry_run,
                on_progress=removing.progress,
                cancel=removing.cancel,
                shared=team.shared,
                lock_timeout=team.lock_timeout,
            )
        if removing.seen.signum is not None:
            run = removing
    orphans = sorted(
        {op.key: "no blueprint describes it" for op in stale}
        if removed is None
        else {**removed.kept, **removed.not_ours, **{x.key: x.reason for x in removed.left}}
    )
    if fmt == "json":
        data = {
            "create": created.to_dict(),
            "remove": removed.to_dict() if removed else None,
            "orphans": orphans,
        }
        click.echo(json.dumps(data, indent=2))
    else:
        _report(created, fmt)
        if removed is not None:
            _report(removed, fmt)
        for key in orphans:
            click.echo(f"  orphan       {key}: no blueprint describes it; left in the cloud")
    ok = created.ok and (removed is None or removed.ok)
    code = run.seen.exit_code if run.seen.exit_code is not None else (0 if ok else 1)
    sys.exit(code)


@main.command()
@_blueprint_option("Blueprint(s) whose resources to read.")
@_parallel_option
@_format_option
@config_options
def read(
    blueprints: tuple[Path, ...],
    max_parallel: int,
    fmt: str,
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Show what exists in the cloud for each planned resource: whether it exists, whether
    it is managed by dpn, and the transaction that made it. Changes nothing."""
    from dpn_action.provision import read_plan

    items = _plan(blueprints, values_config, patterns_config, overrides)
    with cloud_errors():
        observed = read_plan(items, max_parallel=max_parallel)
    _print_observed(observed, fmt)
    sys.exit(1 if any(o.error for o in observed) else 0)


@main.command()
@_blueprint_option("Blueprint(s) whose resources to update.")
@click.option("--dry-run", is_flag=True, help="Only read: show what would change.")
@_parallel_option
@_format_option
@_wal_option
@config_options
def update(
    blueprints: tuple[Path, ...],
    dry_run: bool,
    max_parallel: int,
    fmt: str,
    wal_dir: Path,
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Change existing resources in place where the cloud can: their tags.

    Tags the blueprint adds or changes are set on resources managed by dpn; tags it no
    longer lists are reported and left. Other properties are set when a resource is created:
    a change to them is reported as not updatable. A renamed entry is reported too, since
    the cloud cannot rename a resource. Nothing is created or deleted.
    """
    from dpn_action.provision import ERROR, RENAME, update_plan

    items = _plan(blueprints, values_config, patterns_config, overrides)
    with cloud_errors():
        outcomes = update_plan(items, wal_dir=wal_dir, max_parallel=max_parallel, dry_run=dry_run)
    if fmt == "json":
        click.echo(json.dumps([o.as_dict() for o in outcomes], indent=2))
    else:
        _print_updates(outcomes, dry_run)
    sys.exit(1 if any(o.action in (ERROR, RENAME) for o in outcomes) else 0)


def _print_updates(outcomes: list[Any], dry_run: bool) -> None:
    from dpn_action.provision import UNCHANGED, UPDATED

    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.action] = counts.get(o.action, 0) + 1
        label = "would update" if dry_run and o.action == UPDATED else o.action
        line = f"  {label:<12} {o.item.key}"
        if o.tags:
            line += "  tags: " + ", ".join(f"{k}={v}" for k, v in sorted(o.tags.items()))
        if o.settings:
            line += "  settings: " + ", ".join(o.settings)
        if o.message:
            line += f"  ({o.message})"
        if o.action != UNCHANGED or o.tags or o.settings or o.message:
            click.echo(line)
        if o.extra_tags:
            click.echo(
                f"  {'':<12} tags no longer in the blueprint, left in place: "
                + ", ".join(o.extra_tags)
            )
        if o.not_updatable:
            click.echo(
                f"  {'':<12} not updatable in place ({o.item.type}), changed since it was "
                "created: " + ", ".join(o.not_updatable)
            )
    summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
    click.echo(f"{len(outcomes)} planned: {summary}")


@main.command()
@_blueprint_option("Blueprint(s) whose resources to delete.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--archive",
    is_flag=True,
    help="Archive instead of delete where the cloud supports it (a DynamoDB table is backed "
    "up first, a Databricks cluster is terminated but kept); other types are kept.",
)
@click.option("--dry-run", is_flag=True, help="Only read: show what would be deleted.")
@_parallel_option
@_format_option
@_wal_option
@team_options
@config_options
def delete(
    blueprints: tuple[Path, ...],
    yes: bool,
    archive: bool,
    dry_run: bool,
    max_parallel: int,
    fmt: str,
    wal_dir: Path,
    lock: str | None,
    wal_mirror: str | None,
    lock_timeout: float,
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Delete the blueprints' resources that dpn manages, as one logged transaction.

    Only resources marked `managed-by: dpn` are deleted, dependents first; anything else
    stays, and so does whatever a staying resource depends on. An S3 bucket made by dpn is
    emptied (every object version) before it is deleted. An interrupted delete is finished
    by `dpn recover`; one the cloud refuses ends ROLLBACK_FAILED with the list left.
    """
    from dpn_action.provision import delete_plan

    team = team_mode(lock, wal_mirror, lock_timeout)
    items = _plan(blueprints, values_config, patterns_config, overrides)
    with cloud_errors():
        planned_delete = delete_plan(
            items, wal_dir=wal_dir, archive=archive, max_parallel=max_parallel, dry_run=True
        )
    if planned_delete.error:
        raise click.ClickException(planned_delete.error)
    verb = "archive" if archive else "delete"
    unsupported = sorted(
        {
            k.split(":", 1)[0]
            for k, why in planned_delete.kept.items()
            if why.startswith("archive is not supported")
        }
    )
    if fmt == "json" and (dry_run or not planned_delete.targets):
        click.echo(json.dumps(planned_delete.to_dict(), indent=2))
    elif fmt == "table":
        for key in reversed(planned_delete.targets):  # the order they go in: dependents first
            click.echo(f"  {verb:<8} {key}")
        for key, why in planned_delete.kept.items():
            click.echo(f"  {'keep':<8} {key} ({why})")
    if unsupported:
        click.echo(
            f"dpn delete --archive: not supported for {', '.join(unsupported)}; resources of "
            "those types are kept (delete them without --archive)",
            err=True,
        )
    if not planned_delete.targets:
        click.echo(f"nothing to {verb}", err=True)
        sys.exit(0)
    if dry_run:
        sys.exit(0)
    if not yes:
        click.confirm(
            f"{verb.capitalize()} these {len(planned_delete.targets)} resources?", abort=True
        )
    with _transaction() as run:
        result = delete_plan(
            items,
            wal_dir=wal_dir,
            only=planned_delete.targets,
            archive=archive,
            max_parallel=max_parallel,
            on_progress=run.progress,
            cancel=run.cancel,
            shared=team.shared,
            lock_timeout=team.lock_timeout,
        )
    _conclude(result, fmt, run.seen)


@main.command()
@click.option(
    "--forward", is_flag=True, help="Complete unfinished transactions instead of rolling them back."
)
@click.option(
    "--continue-rollback", is_flag=True, help="Finish transactions that ended ROLLBACK_FAILED."
)
@click.option(
    "--skip",
    "skip",
    multiple=True,
    metavar="KEY",
    help="With --continue-rollback: consider KEY gone (deleted by hand).",
)
@click.option(
    "--retain",
    "retain",
    multiple=True,
    metavar="KEY",
    help="With --continue-rollback: keep KEY and record that it was kept.",
)
@_format_option
@_wal_option
@team_options
def recover(
    forward: bool,
    continue_rollback: bool,
    skip: tuple[str, ...],
    retain: tuple[str, ...],
    fmt: str,
    wal_dir: Path,
    lock: str | None,
    wal_mirror: str | None,
    lock_timeout: float,
) -> None:
    """Finish every unfinished transaction (after a crash or a failed rollback).

    With --wal-mirror, the mirror's logs of unfinished transactions are brought into the
    WAL directory first: a transaction whose runner was lost is finished here, on any
    machine and in any directory.
    """
    from dpn_action import provision

    if (skip or retain) and not continue_rollback:
        raise click.UsageError("--skip and --retain go with --continue-rollback")
    team = team_mode(lock, wal_mirror, lock_timeout)
    mirrored = team.shared is not None and team.shared.mirror is not None
    if not wal_dir.is_dir() and not mirrored:
        click.echo(f"no transactions in {wal_dir}")
        return
    with cloud_errors():
        if continue_rollback:
            from dpn_action.txn.recovery import continue_rollback as cont
            from dpn_action.txn.recovery import pull_mirror, status

            if mirrored:
                pull_mirror(wal_dir, team.shared, lock_timeout=team.lock_timeout)
            stuck = [r for r in status(wal_dir) if str(r.status) == "ROLLBACK_FAILED"]
            providers = provision.LazyProviders(provision.wal_providers(wal_dir))
            results = [
                cont(
                    r.txn_id or "",
                    providers,
                    wal_dir=wal_dir,
                    skip=skip,
                    retain=retain,
                    shared=team.shared,
                    lock_timeout=team.lock_timeout,
                )
                for r in stuck
            ]
        else:
            with _transaction() as run:
                results = provision.recover(
                    wal_dir=wal_dir,
                    forward=forward,
                    on_progress=run.progress,
                    cancel=run.cancel,
                    shared=team.shared,
                    lock_timeout=team.lock_timeout,
                )
    if not results:
        click.echo("nothing to recover")
    for r in results:
        _report(r, fmt)
    settled = ("ROLLED_BACK", "NEVER_STARTED")
    sys.exit(0 if all(r.ok or str(r.status) in settled for r in results) else 1)


@main.command()
@click.option(
    "--resources",
    is_flag=True,
    help="Also read each planned resource of --blueprint in the cloud.",
)
@_blueprint_option("Blueprint(s) for --resources.", required=False)
@_parallel_option
@_format_option
@_wal_option
@config_options
def status(
    resources: bool,
    blueprints: tuple[Path, ...],
    max_parallel: int,
    fmt: str,
    wal_dir: Path,
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
) -> None:
    """List the transactions in the WAL directory and their state; with --resources, the
    planned resources of --blueprint as the cloud has them."""
    from dpn_action.txn.recovery import status as txn_status

    if resources and not blueprints:
        raise click.UsageError("--resources needs --blueprint")
    results: list[Any] = []
    if wal_dir.is_dir():
        with cloud_errors():
            results = txn_status(wal_dir)
    observed: list[Any] = []
    if resources:
        from dpn_action.provision import read_plan

        items = _plan(blueprints, values_config, patterns_config, overrides)
        with cloud_errors():
            observed = read_plan(items, max_parallel=max_parallel)
    if fmt == "json":
        data: dict[str, Any] = {"transactions": [r.to_dict() for r in results]}
        if resources:
            data["resources"] = [o.as_dict() for o in observed]
        click.echo(json.dumps(data if resources else data["transactions"], indent=2))
    else:
        if not results:
            click.echo(f"no transactions in {wal_dir}")
        for r in results:
            done = (
                f"deleted {len(r.deleted)}" if r.kind == "delete" else f"created {len(r.created)}"
            )
            click.echo(
                f"{r.txn_id}  {r.kind:<6}  {r.status!s:<16} {done}, "
                f"adopted {len(r.adopted)}, left {len(r.left)}  {r.started or ''}"
            )
            if r.error and str(r.status) in (
                "CORRUPT",
                "UNFINISHED",
                "ROLLBACK_FAILED",
                "NEVER_STARTED",
            ):
                click.echo(f"    {r.error}")
            for key, why in r.not_ours.items():
                click.echo(f"    not ours: {key}: {why}")
        if resources:
            click.echo("")
            _print_observed(observed, fmt)
    sys.exit(1 if any(o.error for o in observed) else 0)
