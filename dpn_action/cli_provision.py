"""`dpn create|read|update|delete|status|recover`: the provisioning commands.

A thin face over `dpn_action.provision` and `dpn_action.txn`. Cloud SDKs load only when a
command actually talks to a cloud.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dpn_action.cli import _emit, _failed, _load_config, config_options, main

WAL_DIR_HELP = "Directory of the write-ahead log and its lock."


def _wal_option(fn: Any) -> Any:
    return click.option(
        "--wal-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".dpn-wal"),
        show_default=True,
        help=WAL_DIR_HELP,
    )(fn)


def _plan(
    blueprints: tuple[Path, ...],
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
) -> list[Any]:
    """Names for the blueprints, or exit 1 with the findings when any is an error."""
    from dpn_action.analysis import analyse
    from dpn_action.plan import planned

    cfg, findings = _load_config(values_config, patterns_config, overrides)
    result = analyse(cfg, list(blueprints), display_root=Path.cwd())
    findings = findings + result.findings
    if _failed(findings):
        _emit(findings, "text", stream=sys.stderr)
        click.echo("dpn: nothing was created: fix the findings above first", err=True)
        sys.exit(1)
    return planned(result.resources)


class _Progress:
    """A progress bar in a terminal, plain lines elsewhere (CI logs)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._phase = ""

    def __enter__(self) -> _Progress:
        if self.tty:
            from rich.progress import Progress

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


def _report(result: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(_result_dict(result), indent=2))
        return
    click.echo(f"transaction {result.txn_id or '-'}: {result.status}")
    for label, keys in (
        ("created", result.created),
        ("adopted", result.adopted),
        ("would create", result.to_create),
        ("rolled back", result.rolled_back),
        ("retained", result.retained),
    ):
        for k in keys:
            click.echo(f"  {label:<12} {k}")
    for c in result.conflicts:
        click.echo(f"  conflict     {c.key}: exists and is not managed by dpn")
    for left in result.left:
        click.echo(f"  left         {left.key} ({left.state}): {left.reason}")
    if result.error:
        click.echo(f"  error        {result.error}", err=True)
    if result.left:
        click.echo(
            f"finish with: dpn recover --continue-rollback --wal-dir {result.wal_path.parent}"
            if result.wal_path
            else "finish with: dpn recover --continue-rollback",
            err=True,
        )


def _result_dict(result: Any) -> dict[str, Any]:
    return {
        "transaction": result.txn_id,
        "status": str(result.status),
        "created": result.created,
        "adopted": result.adopted,
        "to_create": result.to_create,
        "rolled_back": result.rolled_back,
        "retained": result.retained,
        "conflicts": [c.key for c in result.conflicts],
        "left": [{"key": x.key, "state": str(x.state), "reason": x.reason} for x in result.left],
        "error": result.error,
        "wal": str(result.wal_path) if result.wal_path else None,
    }


def _txn_errors() -> tuple[type[BaseException], ...]:
    from dpn_action.txn.errors import TxnError

    return (TxnError,)


@main.command()
@click.option(
    "--blueprint",
    "blueprints",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Blueprint(s) to create.",
)
@click.option("--dry-run", is_flag=True, help="Only read: show what would be created.")
@click.option("--max-parallel", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table")
@_wal_option
@config_options
def create(
    blueprints: tuple[Path, ...],
    dry_run: bool,
    max_parallel: int,
    fmt: str,
    wal_dir: Path,
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Create every resource of the blueprints as one transaction (all or nothing).

    Unfinished earlier transactions in the WAL directory are recovered first.
    """
    from dpn_action.provision import apply_plan

    items = _plan(blueprints, values_config, patterns_config, overrides)
    try:
        with _Progress() as progress:
            result = apply_plan(
                items,
                wal_dir=wal_dir,
                max_parallel=max_parallel,
                dry_run=dry_run,
                on_progress=progress,
            )
    except _txn_errors() as exc:
        raise click.ClickException(str(exc)) from exc
    for earlier in result.recovered:
        click.echo(f"recovered earlier transaction {earlier.txn_id}: {earlier.status}", err=True)
    _report(result, fmt)
    sys.exit(0 if result.ok else 1)


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
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table")
@_wal_option
def recover(
    forward: bool,
    continue_rollback: bool,
    skip: tuple[str, ...],
    retain: tuple[str, ...],
    fmt: str,
    wal_dir: Path,
) -> None:
    """Finish every unfinished transaction (after a crash or a failed rollback)."""
    from dpn_action import provision

    if (skip or retain) and not continue_rollback:
        raise click.UsageError("--skip and --retain go with --continue-rollback")
    if not wal_dir.is_dir():
        click.echo(f"no transactions in {wal_dir}")
        return
    try:
        if continue_rollback:
            from dpn_action.txn.recovery import continue_rollback as cont
            from dpn_action.txn.recovery import status

            providers = provision.build_providers(provision.providers_in_wal(wal_dir))
            stuck = [r for r in status(wal_dir) if str(r.status) == "ROLLBACK_FAILED"]
            results = [
                cont(r.txn_id or "", providers, wal_dir=wal_dir, skip=skip, retain=retain)
                for r in stuck
            ]
        else:
            with _Progress() as progress:
                results = provision.recover(wal_dir=wal_dir, forward=forward, on_progress=progress)
    except _txn_errors() as exc:
        raise click.ClickException(str(exc)) from exc
    if not results:
        click.echo("nothing to recover")
    for r in results:
        _report(r, fmt)
    sys.exit(0 if all(r.ok or str(r.status) == "ROLLED_BACK" for r in results) else 1)


@main.command()
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table")
@_wal_option
def status(fmt: str, wal_dir: Path) -> None:
    """List transactions in the WAL directory and their state."""
    from dpn_action.txn.recovery import status as txn_status

    if not wal_dir.is_dir():
        click.echo(f"no transactions in {wal_dir}")
        return
    try:
        results = txn_status(wal_dir)
    except _txn_errors() as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps([_result_dict(r) for r in results], indent=2))
        return
    for r in results:
        click.echo(
            f"{r.txn_id}  {r.status!s:<16} created {len(r.created)}, "
            f"adopted {len(r.adopted)}, left {len(r.left)}  {r.started or ''}"
        )
