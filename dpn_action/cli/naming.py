"""`dpn lint`, `dpn plan`, `dpn config`, `dpn explain`: the naming commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from dpn_action.cli.common import (
    cloud_errors,
    config_options,
    context_options,
    emit,
    failed,
    findings_format_option,
    here,
    main,
    naming_configs,
    one_pass,
    sources,
)
from dpn_action.findings import Finding


# ------------------------------------------------------------------------------------ lint
@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@config_options
@findings_format_option
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@context_options
@click.option(
    "--fix", "apply_fixes", is_flag=True, help="Apply the safe suggestions first (`dpn fix`)."
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Name every blueprint compared against afresh, instead of taking the names of those "
    "unchanged since an earlier lint from the cache (DPN_CACHE_DIR, else ~/.cache/dpn).",
)
@one_pass
def lint(
    files: tuple[Path, ...],
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
    fmt: str,
    strict: bool,
    context_globs: tuple[str, ...],
    no_context: bool,
    apply_fixes: bool,
    no_cache: bool,
) -> None:
    """Check blueprints and naming configs: structure, references, names, uniqueness.

    With no FILES, lints every blueprint under blueprints/ (blueprints/**/*.{json,yaml,yml})
    and the naming configs they use. A naming config among FILES re-lints
    every blueprint of the repository. Each blueprint is named with the naming configs of
    its own directory: the nearest .dpn/ at or above it.
    """
    from dpn_action.cli.fixing import LintJob, fix_files

    job = LintJob(files, values_config, patterns_config, overrides, context_globs, no_context)
    if apply_fixes:
        findings = fix_files(job, write=True, show_diff=False).remaining
    else:
        findings = job.run(cache=not no_cache).findings
    emit(findings, fmt)
    sys.exit(1 if failed(findings, strict) else 0)


# ------------------------------------------------------------------------------------ plan
@main.group()
def plan() -> None:
    """Blueprints: create, validate, preview names, print the schema."""


@plan.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@findings_format_option
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@one_pass
def plan_validate(files: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Check blueprint structure only: schema, references, scope, cycles (fast)."""
    from dpn_action.analysis import analyse
    from dpn_action.naming.config import NamingConfig

    result = analyse(NamingConfig(), sources(files), names=False)
    emit(result.findings, fmt)
    sys.exit(1 if failed(result.findings, strict) else 0)


@plan.command("preview")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@config_options
@click.option(
    "--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True
)
@click.option("--type", "type_glob", metavar="GLOB", help="Only these types (aws_*, dbx_job).")
@click.option(
    "--cloud",
    is_flag=True,
    help="Also read each resource in the cloud (read-only credentials do): new, adopt (exists "
    "and is dpn's) or conflict (held by something that is not dpn's: an error, DPN140).",
)
@one_pass
def plan_preview(
    files: tuple[Path, ...],
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
    fmt: str,
    type_glob: str | None,
    cloud: bool,
) -> None:
    """Show the name of every resource the blueprints describe."""
    import fnmatch

    from dpn_action.analysis import analyse
    from dpn_action.formatters import finding_to_dict
    from dpn_action.plan import (
        plan_order,
        planned_in_order,
        write_plan_preview,
        write_preview_json,
    )

    result = analyse(naming_configs(values_config, patterns_config, overrides), sources(files))
    findings = result.findings
    order = plan_order(result.resources)
    if type_glob:
        order = [r for r in order if fnmatch.fnmatchcase(r.type.key, type_glob)]
    if fmt == "json" and not cloud:
        # the common case, and the one for large plans: no planned resource held
        write_plan_preview(sys.stdout, order, findings=[finding_to_dict(f) for f in findings])
        sys.exit(1 if failed(findings) else 0)
    items = planned_in_order(order)
    statuses: dict[str, str] = {}
    if cloud and not failed(findings):
        from dpn_action.provision import cloud_check

        with cloud_errors():
            statuses, found = cloud_check(items, {bp.doc.path: bp.doc for bp in result.blueprints})
        findings = findings + found
    if fmt == "json":
        write_preview_json(
            sys.stdout,
            items,
            cloud=statuses,
            findings=[finding_to_dict(f) for f in findings],
        )
    elif failed(findings) and (not items or any(f.code in _UNREAD for f in findings)):
        # a file that cannot be read, or nothing to show: the errors alone, no partial plan
        emit(findings, "text", stream=sys.stderr)
    else:
        _preview_table(items, result.configs, statuses if cloud else None)
        if findings:
            emit(findings, "text", stream=sys.stderr)
    sys.exit(1 if failed(findings) else 0)


#: findings about a file that could not be read at all
_UNREAD = frozenset({"DPN001", "DPN003", "DPN004", "DPN005", "DPN006"})


def _preview_table(
    items: list[Any], configs: list[Any], statuses: dict[str, str] | None = None
) -> None:
    """The names as a table that fits the terminal (`cli.table`): one line per resource
    when piped, columns wrapped on word boundaries at a terminal, or a list per resource
    when even that cannot fit."""
    from dpn_action.cli.table import Column, fill, output_width, render
    from dpn_action.plan import plan_hash, type_title

    width = output_width()
    columns = [
        Column("type", wrap=True),
        Column("name"),
        Column("env"),
        Column("depends on", wrap=True, below=True),
    ]
    if statuses is not None:
        columns.append(Column("cloud"))
    rows = []
    for p in items:
        deps = ", ".join(d.split(":", 1)[1] for d in p.depends_on)
        shown = p.full_name if p.full_name != p.name else p.name
        row = [type_title(p.type), shown, p.environment, deps]
        if statuses is not None:
            row.append(statuses.get(p.key, "-"))
        rows.append(row)
    bold = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    lines = render(columns, rows, width, bold=bold)
    used = "; ".join(f"values: {c.values_path}, patterns: {c.patterns_path}" for c in configs)
    summary = f"{len(items)} resources, plan {plan_hash(items)[:12]} ({used or 'no blueprint'})"
    lines += fill(summary, width)
    click.echo("\n".join(lines))


@plan.command("schema")
@click.argument(
    "kind",
    type=click.Choice(("blueprint", "naming-values", "naming-patterns")),
    default="blueprint",
)
@click.option(
    "--write",
    "write_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write all three schemas into this directory instead of printing one.",
)
def plan_schema(kind: str, write_dir: Path | None) -> None:
    """Print the JSON Schema of a dpn file (generated from dpn's models)."""
    from dpn_action.models import render_schema, write_schemas

    if write_dir is not None:
        for p in write_schemas(write_dir):
            click.echo(f"wrote {p}")
        return
    sys.stdout.write(render_schema(kind))


@plan.command("init")
@click.option("--env", "environment", default="dev", show_default=True)
@click.option("--project", default="dataplatform", show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write (default: blueprints/<env>.json).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def plan_init(
    environment: str, project: str, region: str, output: Path | None, force: bool
) -> None:
    """Write a starter blueprint."""
    from dpn_action.starter import starter_blueprint, write_new

    output = output or Path("blueprints") / f"{environment}.json"
    text = starter_blueprint(environment, project, region, yaml=output.suffix in (".yaml", ".yml"))
    write_new(output, text, force)
    click.echo(f"wrote {output}")


# ---------------------------------------------------------------------------------- config
def _configs_here(
    values_config: str | None, patterns_config: str | None, overrides: tuple[str, ...]
) -> tuple[Any, list[Finding]]:
    """The naming configs a blueprint in the current directory would be named with."""
    configs = naming_configs(values_config, patterns_config, overrides)
    cfg = configs.for_dir(*here())
    return cfg, configs.findings


@main.group()
def config() -> None:
    """The naming configs: create, check, show the effective values and patterns."""


@config.command("init")
@click.option("--project", default="dataplatform", show_default=True)
@click.option("--environment", default="dev", show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".dpn"),
    show_default=True,
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option(
    "--gitignore/--no-gitignore",
    default=None,
    help="Add .dpn-wal/ (the write-ahead log of dpn create) to the repository's .gitignore, "
    "or only print the line to add (default: ask in a terminal, print elsewhere).",
)
def config_init(
    project: str,
    environment: str,
    region: str,
    directory: Path,
    force: bool,
    gitignore: bool | None,
) -> None:
    """Write naming-values.yaml and naming-patterns.yaml with the built-in defaults, and
    offer a .gitignore line for dpn's write-ahead log."""
    from dpn_action.layout import PATTERNS_FILE, VALUES_FILE
    from dpn_action.starter import starter_patterns, starter_values, write_new

    for name, text in (
        (VALUES_FILE, starter_values(project, environment, region)),
        (PATTERNS_FILE, starter_patterns()),
    ):
        write_new(directory / name, text, force)
        click.echo(f"wrote {directory / name}")
    _offer_gitignore(directory, gitignore)


def _interactive() -> bool:
    """Whether a person can answer a question (a terminal on both ends)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _offer_gitignore(directory: Path, add: bool | None) -> None:
    """Keep the write-ahead log out of git: add `.dpn-wal/` to the repository's
    .gitignore when asked (or, in a terminal, when the user says yes), else print the line;
    never twice."""
    import os

    from dpn_action.starter import WAL_IGNORE, add_wal_ignore, gitignore_of, ignores_wal

    path = gitignore_of(directory)
    try:
        shown = os.path.relpath(path)
    except ValueError:  # another drive
        shown = str(path)
    if ignores_wal(path):
        click.echo(f"{shown} already ignores {WAL_IGNORE}")
        return
    if add is None and _interactive():
        add = click.confirm(f"Add {WAL_IGNORE} (dpn's write-ahead log) to {shown}?", default=True)
    if add:
        add_wal_ignore(path)
        click.echo(f"added {WAL_IGNORE} to {shown}")
    else:
        click.echo(
            f"keep dpn's write-ahead log out of git: add the line {WAL_IGNORE} to {shown} "
            "(or run dpn config init --gitignore)"
        )


@config.command("validate")
@config_options
@findings_format_option
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def config_validate(
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
    fmt: str,
    strict: bool,
) -> None:
    """Check the naming configs: schema, placeholders, rules only stricter than the cloud's.

    The configs checked are those a blueprint in the current directory would be named with.
    """
    cfg, findings = _configs_here(values_config, patterns_config, overrides)
    emit(findings, fmt)
    if fmt == "text" and not findings:
        click.echo(f"values: {cfg.values_path}\npatterns: {cfg.patterns_path}")
    sys.exit(1 if failed(findings, strict) else 0)


@config.command("show")
@config_options
@click.option(
    "--format", "fmt", type=click.Choice(("yaml", "json")), default="yaml", show_default=True
)
def config_show(
    values_config: str | None, patterns_config: str | None, overrides: tuple[str, ...], fmt: str
) -> None:
    """Print the effective configuration and where each part came from."""
    from dpn_action.naming.catalogue import CATALOGUE

    cfg, findings = _configs_here(values_config, patterns_config, overrides)
    doc = {
        "values_file": cfg.values_path,
        "patterns_file": cfg.patterns_path,
        "defaults": cfg.defaults,
        "custom": cfg.custom,
        "environments": cfg.environments,
        "resource_types": cfg.resource_types,
        "overrides": cfg.overrides,
        "patterns": {
            k: {
                "pattern": cfg.pattern(k),
                "from": cfg.patterns_path if k in cfg.user_patterns else "built-in",
                "required": sorted(cfg.required(k)),
            }
            for k in CATALOGUE
        },
        "transformations": {
            "region_mapping": cfg.region_mapping,
            "lowercase": sorted(cfg.lowercase),
            "uppercase": sorted(cfg.uppercase),
            "replace_hyphens": cfg.replace_hyphens,
            "hash_generation": vars(cfg.hash),
        },
        "validation": {
            "max_length": cfg.max_length,
            "allowed_chars": {k: v.pattern for k, v in cfg.allowed_chars.items()},
            "required_variables": {k: sorted(v) for k, v in cfg.required_variables.items()},
            "on_too_long": cfg.on_too_long,
            "keep": {k: sorted(v) for k, v in cfg.keep.items()},
        },
    }
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).rstrip())
    if findings:
        emit(findings, "text", stream=sys.stderr)
    sys.exit(1 if failed(findings) else 0)


# --------------------------------------------------------------------------------- explain
@main.command()
@click.argument("type_key", metavar="TYPE")
@click.option(
    "--blueprint",
    "blueprint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Explain every entry of TYPE in this blueprint.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Without --blueprint: values of one hypothetical entry.",
)
@config_options
def explain(
    type_key: str,
    blueprint: Path | None,
    sets: tuple[str, ...],
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Show how each name of TYPE is built: every value and its source, every
    transformation, every rule checked."""
    from dpn_action.explain import explain_blueprint, explain_values
    from dpn_action.findings import did_you_mean
    from dpn_action.naming.catalogue import CATALOGUE

    if type_key not in CATALOGUE:
        raise click.BadParameter(
            f"unknown type '{type_key}'.{did_you_mean(type_key, list(CATALOGUE))}"
            f" Types: {', '.join(CATALOGUE)}",
            param_hint="TYPE",
        )
    if blueprint is not None:
        configs = naming_configs(values_config, patterns_config, overrides)
        cfg = configs.for_file(sources([blueprint])[0])
        findings = configs.findings
    else:
        cfg, findings = _configs_here(values_config, patterns_config, overrides)
    if findings:
        emit(findings, "text", stream=sys.stderr)
    if blueprint is not None:
        ok = explain_blueprint(cfg, type_key, blueprint)
    else:
        from dpn_action.naming.config import parse_overrides

        values, bad = parse_overrides(sets)
        if bad:
            emit(bad, "text", stream=sys.stderr)
            sys.exit(2)
        ok = explain_values(cfg, type_key, values)
    sys.exit(0 if ok and not failed(findings) else 1)
