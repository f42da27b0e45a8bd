"""`dpn adopt`: bring existing resources that dpn did not create under dpn (team mode's
brownfield start); `dpn sweep`: find, and delete when asked, what dpn made that no blueprint
describes any more. The lock and mirror options live in `cli.common`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dpn_action.cli.common import (
    cloud_errors,
    config_options,
    main,
    repository_name,
    team_mode,
    team_options,
)
from dpn_action.cli.provision import (
    _blueprint_option,
    _format_option,
    _parallel_option,
    _plan,
    _report,
    _transaction,
    _wal_option,
)
from dpn_action.layout import BLUEPRINTS


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


def _age_option(value: str) -> float:
    from dpn_action.sweep import parse_age

    try:
        return parse_age(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None


@main.command()
@click.option(
    "--blueprints",
    "globs",
    multiple=True,
    metavar="GLOB",
    help="The repository's blueprints, relative to the current directory (repeatable; "
    f"default {BLUEPRINTS}). Whatever any of them describes is kept: "
    "give them all.",
)
@click.option(
    "--environment",
    metavar="ENV",
    help="List only the types of this environment's blueprints (what every blueprint "
    "describes is kept all the same).",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="TYPE",
    help="Sweep only these resource types (repeatable; `all`: every type of both clouds) "
    "instead of every type of the clouds the blueprints and the WAL's transactions use.",
)
@click.option(
    "--older-than",
    default="6h",
    show_default=True,
    metavar="AGE",
    help="Only resources whose transaction began longer ago than this (s, m, h, d, w; 0: any age).",
)
@click.option("--delete", is_flag=True, help="Delete the orphans found (asks first).")
@click.option("--yes", is_flag=True, help="With --delete: do not ask for confirmation.")
@_parallel_option
@_format_option
@_wal_option
@team_options
@config_options
def sweep(
    globs: tuple[str, ...],
    environment: str | None,
    types: tuple[str, ...],
    older_than: str,
    delete: bool,
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
    """Find what dpn made (`managed-by: dpn`) that no blueprint of the repository describes
    and no unfinished transaction owns, in the configured AWS account and region and
    Databricks workspace; with --delete, delete it as a logged transaction.

    Resources are found by listing each type and reading the marks, so nothing depends on
    a log having survived. Each is read again before its delete and kept unless it still
    carries the mark the listing saw. A type dpn cannot list is reported as not swept.
    """
    from dpn_action import sweep as sweeping
    from dpn_action.cli.common import here, repository_blueprints
    from dpn_action.cli.provision import _plan_sources
    from dpn_action.naming.catalogue import CATALOGUE

    age = _age_option(older_than)
    if yes and not delete:
        raise click.UsageError("--yes goes with --delete")
    wanted = _types(types, CATALOGUE)
    team = team_mode(lock, wal_mirror, lock_timeout)
    tree, _ = here()
    try:
        srcs = repository_blueprints(tree, globs)
    except click.BadParameter as exc:
        exc.param_hint = "--blueprints"
        raise
    if not srcs:
        shown = ", ".join(globs) or BLUEPRINTS
        raise click.UsageError(
            f"no blueprint matches {shown} here: the sweep keeps what the repository's "
            "blueprints describe, so it needs them (run it where they are, or give --blueprints)"
        )
    items = _plan_sources(srcs, values_config, patterns_config, overrides)
    scoped = [p for p in items if not environment or p.environment == environment]
    if environment and not scoped and not wanted:
        raise click.UsageError(f"no blueprint of environment {environment!r}")
    repository = repository_name()
    with cloud_errors():
        report = sweeping.scan(
            items,
            type_items=scoped,
            types=wanted,
            wal_dir=wal_dir,
            older_than=age,
            shared=team.shared,
            max_parallel=max_parallel,
            repository=repository,
        )
    if not delete:
        if fmt == "json":
            click.echo(json.dumps({**report.as_dict(), "transaction": None}, indent=2))
        else:
            _print_sweep(report, deleting=False)
        sys.exit(1 if report.errors else 0)
    if fmt == "table":
        _print_sweep(report, deleting=True)
    orphans = report.orphans
    if report.errors:
        if fmt == "json":
            click.echo(json.dumps({**report.as_dict(), "transaction": None}, indent=2))
        click.echo("dpn sweep: the search above failed in part: nothing was deleted", err=True)
        sys.exit(1)
    if not orphans:
        if fmt == "json":
            click.echo(json.dumps({**report.as_dict(), "transaction": None}, indent=2))
        click.echo("nothing to sweep", err=True)
        sys.exit(0)
    if not yes:
        click.confirm(
            f"Delete these {len(orphans)} resources no blueprint describes?", abort=True, err=True
        )
    with _transaction() as run:
        result = sweeping.delete(
            report,
            items=items,
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
        click.echo(json.dumps({**report.as_dict(), "transaction": result.to_dict()}, indent=2))
    else:
        _report(result, fmt)
        for key, why in result.kept.items():
            click.echo(f"  {'kept':<12} {key}: {why}")
    code = run.seen.exit_code
    sys.exit(code if code is not None else (0 if result.ok else 1))


def _types(given: tuple[str, ...], catalogue: Any) -> list[str]:
    """The types `--type` names (`all`: every type); a name that is none is a usage error."""
    if "all" in given:
        return sorted(catalogue)
    unknown = [t for t in given if t not in catalogue]
    if unknown:
        import difflib

        hints = {t: difflib.get_close_matches(t, list(catalogue), n=1) for t in unknown}
        near = "; ".join(f"{t}: did you mean {h[0]}?" for t, h in hints.items() if h)
        raise click.BadParameter(
            f"not a resource type: {', '.join(unknown)}" + (f" ({near})" if near else ""),
            param_hint="--type",
        )
    return sorted(set(given))


def _print_sweep(report: Any, *, deleting: bool) -> None:
    from dpn_action.cli.table import Column, output_width, render
    from dpn_action.sweep import DESCRIBED, ORPHAN, format_age

    where = "; ".join(
        f"{cloud} " + ", ".join(f"{k} {v}" for k, v in sorted(place.items()))
        for cloud, place in sorted(report.places.items())
    )
    click.echo(f"dpn sweep in {where or 'no cloud'}")
    marked = len(report.found)
    click.echo(
        f"listed {len(report.types)} type(s): {', '.join(report.types) or 'none'}; "
        f"{marked} resource(s) carry dpn's mark, {report.unmarked} do not (never touched)"
    )
    rows = [
        [f.verdict, f.key, format_age(f.age), f.state.transaction_id or "-", f.note]
        for f in report.found
        if f.verdict != DESCRIBED
    ]
    if rows:
        columns = [
            Column("VERDICT"),
            Column("RESOURCE"),
            Column("AGE"),
            Column("TRANSACTION", below=True),
            Column("WHY", below=True),
        ]
        for line in render(columns, rows, output_width()):
            click.echo(line)
    described = sum(1 for f in report.found if f.verdict == DESCRIBED)
    if described:
        click.echo(f"{described} described by a blueprint: kept")
    by_reason: dict[str, list[str]] = {}
    for type_key, why in sorted(report.not_swept.items()):
        by_reason.setdefault(why, []).append(type_key)
    for why, keys in by_reason.items():
        click.echo(f"not swept   {', '.join(keys)}: {why}", err=True)
    for what, why in sorted(report.errors.items()):
        click.echo(f"error       {what}: {why}", err=True)
    orphans = [f for f in report.found if f.verdict == ORPHAN]
    tail = "" if deleting or not orphans else " (report only: --delete deletes them)"
    click.echo(f"{len(orphans)} orphan(s) older than {format_age(report.older_than)}{tail}")
