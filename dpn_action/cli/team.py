"""`dpn adopt`: bring existing resources that dpn did not create under dpn (team mode's
brownfield start; the lock and mirror options live in `cli.common`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dpn_action.cli.common import cloud_errors, config_options, main, team_mode, team_options
from dpn_action.cli.provision import (
    _blueprint_option,
    _format_option,
    _parallel_option,
    _plan,
    _report,
    _transaction,
    _wal_option,
)


@main.command()
@_blueprint_option("Blueprint(s) that describe the resources to adopt.")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_parallel_option
@_format_option
@_wal_option
@team_options
@config_options
def adopt(
    blueprints: tuple[Path, ...],
    names: tuple[str, ...],
    yes: bool,
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
    """Write dpn's mark on existing resources that dpn did not create, so that the next
    `dpn create` adopts them instead of reporting a conflict.

    NAME (a name, full name or key; default: every resource of the blueprints) selects
    what to adopt. Each is read first and shown with its current marks; only one that
    exists and carries no dpn mark is marked, after confirmation (or --yes), as a logged
    transaction. Nothing but the mark changes, and nothing is ever created: a named
    resource that does not exist is reported (exit 1).
    """
    from dpn_action import adopt as adopting

    team = team_mode(lock, wal_mirror, lock_timeout)
    items = _plan(blueprints, values_config, patterns_config, overrides)
    try:
        chosen = adopting.select(items, names)
    except adopting.AdoptError as exc:
        raise click.UsageError(str(exc)) from None
    with cloud_errors():
        survey = adopting.survey(chosen, max_parallel=max_parallel)
    if fmt == "json":
        click.echo(json.dumps([c.as_dict() for c in survey], indent=2))
    else:
        _print_survey(survey)
    targets = [c.item.key for c in survey if c.verdict == adopting.ADOPT]
    # named resources that are not there, or unreadable, are failures; unnamed ones are
    # simply left for `dpn create`
    trouble = any(c.verdict == adopting.ERROR for c in survey) or (
        bool(names) and any(c.verdict in (adopting.MISSING, adopting.CANNOT) for c in survey)
    )
    if not targets:
        click.echo("nothing to adopt", err=True)
        sys.exit(1 if trouble else 0)
    if not yes:
        click.confirm(f"Write dpn's mark on these {len(targets)} resource(s)?", abort=True)
    with _transaction() as run:
        result = adopting.adopt_plan(
            chosen,
            targets,
            wal_dir=wal_dir,
            max_parallel=max_parallel,
            on_progress=run.progress,
            cancel=run.cancel,
            shared=team.shared,
            lock_timeout=team.lock_timeout,
        )
    for earlier in result.recovered:
        click.echo(f"recovered earlier transaction {earlier.txn_id}: {earlier.status}", err=True)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _report(result, fmt)
        for key, why in result.kept.items():
            if key not in result.errors:
                click.echo(f"  {'not marked':<12} {key}: {why}")
    code = run.seen.exit_code
    sys.exit(code if code is not None else (0 if result.ok and not trouble else 1))


def _print_survey(survey: list[Any]) -> None:
    rows = [c.as_dict() for c in survey]
    width = max([len(r["name"]) for r in rows] + [4])
    twidth = max([len(r["type"]) for r in rows] + [4])
    click.echo(f"{'ACTION':<8}  {'TYPE':<{twidth}}  {'NAME':<{width}}  MARKS")
    for r in rows:
        marks = ", ".join(f"{k}={v}" for k, v in (r["marks"] or {}).items()) or "-"
        action = "mark" if r["verdict"] == "adopt" else "skip"
        click.echo(f"{action:<8}  {r['type']:<{twidth}}  {r['name']:<{width}}  {marks}")
        if r["verdict"] != "adopt":
            click.echo(f"{'':<8}  {r['note']}")
