"""The `dpn` command line: parse input, call the core, render output.

Exit codes: 0 ok, 1 findings or failure, 2 usage error. Heavy modules (pydantic, rich, the
cloud SDKs) are imported inside the commands that need them, so `dpn lint` starts fast.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from dpn_action import __version__
from dpn_action.findings import Finding, Severity

F = TypeVar("F", bound=Callable[..., Any])
FINDING_FORMATS = ("text", "json", "github", "sarif")
BLUEPRINT_SUFFIXES = (".json", ".yaml", ".yml")


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


def _emit(findings: list[Finding], fmt: str, *, stream: Any = None, quiet_ok: bool = False) -> None:
    from dpn_action.formatters import format_findings

    if quiet_ok and not findings and fmt == "text":
        return
    out = format_findings(findings, fmt, tool_version=__version__)
    click.echo(out.rstrip("\n"), file=stream)


def _failed(findings: Iterable[Finding], strict: bool = False) -> bool:
    return any(f.is_error or (strict and f.severity is Severity.WARNING) for f in findings)


def _load_config(
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
    extra: list[Path] | None = None,
) -> Any:
    from dpn_action.naming.config import (
        PATTERNS_FILE,
        VALUES_FILE,
        discover,
        load_config,
        parse_overrides,
    )

    for p in extra or []:
        if p.name == VALUES_FILE and not values_config:
            values_config = str(p)
        elif p.name == PATTERNS_FILE and not patterns_config:
            patterns_config = str(p)
    vpath, ppath = discover(Path.cwd(), values_config, patterns_config)
    ov, ov_findings = parse_overrides(overrides)
    cfg, findings = load_config(vpath, ppath, ov, display_root=Path.cwd())
    return cfg, ov_findings + findings


def _is_config(p: Path) -> bool:
    from dpn_action.naming.config import PATTERNS_FILE, VALUES_FILE

    return p.name in (VALUES_FILE, PATTERNS_FILE)


def _discover_blueprints(root: Path) -> list[Path]:
    """Every blueprint-named entry under blueprints/ but directories (links to directories
    are not followed). Named pipes, devices and links that lead out of the repository are
    kept, so that reading them reports them instead of passing them over in silence."""
    base = root / "blueprints"
    if not base.is_dir():
        return []
    return sorted(
        p for p in base.rglob("*") if p.suffix.lower() in BLUEPRINT_SUFFIXES and not _real_dir(p)
    )


def _real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return True  # gone since it was listed


def _glob(root: Path, pattern: str) -> list[Path]:
    """Files below `root` matching `pattern` (relative, `**` for any depth)."""
    try:
        return [p for p in sorted(root.glob(pattern)) if p.is_file()]
    except (NotImplementedError, ValueError) as exc:
        raise click.BadParameter(
            f"{pattern!r}: {exc}; give a pattern relative to the current directory",
            param_hint="--context",
        ) from None


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
@click.version_option(__version__, prog_name="dpn")
def main() -> None:
    """dpn: exact, valid names for AWS and Databricks data-platform resources."""


# ------------------------------------------------------------------------------------ lint
@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@config_options
@findings_format_option
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option(
    "--context",
    "context_globs",
    multiple=True,
    metavar="GLOB",
    help="Also load these blueprints for the repository-wide uniqueness check "
    "(default: blueprints/** when FILES are given).",
)
@click.option("--no-context", is_flag=True, help="Check the given files on their own.")
def lint(
    files: tuple[Path, ...],
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
    fmt: str,
    strict: bool,
    context_globs: tuple[str, ...],
    no_context: bool,
) -> None:
    """Check blueprints and naming configs: structure, references, names, uniqueness.

    With no FILES, lints the discovered configs and every blueprint under blueprints/.
    A naming config among FILES re-lints every blueprint of the repository.
    """
    from dpn_action.analysis import analyse

    root = Path.cwd()
    given = list(files)
    configs = [p for p in given if _is_config(p)]
    blueprints = [p for p in given if not _is_config(p)]
    cfg, findings = _load_config(values_config, patterns_config, overrides, configs)
    context: list[Path] = []
    for g in context_globs:
        context.extend(_glob(root, g))
    repository = context if context_globs else _discover_blueprints(root)
    if not given or configs:
        # a config change affects every blueprint of the repository
        blueprints = sorted(set(blueprints) | set(repository))
        if not given and not blueprints:
            raise click.UsageError("no blueprints found under blueprints/; name the files")
    if no_context:
        context = []
    elif not context_globs:
        context = repository
    result = analyse(cfg, blueprints, context=context, display_root=root)
    all_findings = findings + result.findings
    _emit(all_findings, fmt)
    sys.exit(1 if _failed(all_findings, strict) else 0)


# ------------------------------------------------------------------------------------ plan
@main.group()
def plan() -> None:
    """Blueprints: create, validate, preview names, print the schema."""


@plan.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@findings_format_option
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def plan_validate(files: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Check blueprint structure only: schema, references, scope, cycles (fast)."""
    from dpn_action.analysis import analyse
    from dpn_action.naming.config import NamingConfig

    result = analyse(NamingConfig(), list(files), names=False, display_root=Path.cwd())
    _emit(result.findings, fmt)
    sys.exit(1 if _failed(result.findings, strict) else 0)


@plan.command("preview")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@config_options
@click.option(
    "--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True
)
@click.option("--type", "type_glob", metavar="GLOB", help="Only these types (aws_*, dbx_job).")
def plan_preview(
    files: tuple[Path, ...],
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
    fmt: str,
    type_glob: str | None,
) -> None:
    """Show the name of every resource the blueprints describe."""
    import fnmatch

    from dpn_action.analysis import analyse
    from dpn_action.plan import planned, preview_json

    cfg, findings = _load_config(values_config, patterns_config, overrides)
    result = analyse(cfg, list(files), display_root=Path.cwd())
    findings = findings + result.findings
    items = planned(result.resources)
    if type_glob:
        items = [p for p in items if fnmatch.fnmatchcase(p.type, type_glob)]
    if fmt == "json":
        doc = preview_json(items)
        doc["findings"] = [_finding_dict(f) for f in findings]
        sys.stdout.write(_json_lines(doc))
    else:
        _preview_table(items, cfg)
        if findings:
            _emit(findings, "text", stream=sys.stderr)
    sys.exit(1 if _failed(findings) else 0)


def _json_lines(doc: dict[str, Any]) -> str:
    """JSON with one list item per line: readable, and written by the C encoder (an
    indented dump of 10,000 resources takes several times longer)."""
    parts = []
    for key, value in doc.items():
        if isinstance(value, list) and value:
            items = ",\n    ".join(json.dumps(v, ensure_ascii=False) for v in value)
            parts.append(f'  "{key}": [\n    {items}\n  ]')
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity.value,
        "file": f.file,
        "line": f.line,
        "column": f.column,
        "pointer": f.pointer,
        "message": f.message,
        "hint": f.hint,
    }


def _preview_table(items: list[Any], cfg: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from dpn_action.plan import plan_hash, type_title

    console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 240)
    table = Table(title=None, show_lines=False, header_style="bold", box=None)
    table.add_column("type", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("env")
    table.add_column("depends on", overflow="fold")
    for p in items:
        deps = ", ".join(d.split(":", 1)[1] for d in p.depends_on)
        shown = p.full_name if p.full_name != p.name else p.name
        table.add_row(type_title(p.type), shown, p.environment, deps)
    console.print(table)
    console.print(
        f"{len(items)} resources, plan {plan_hash(items)[:12]} "
        f"(values: {cfg.values_path}, patterns: {cfg.patterns_path})"
    )


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
def config_init(project: str, environment: str, region: str, directory: Path, force: bool) -> None:
    """Write naming-values.yaml and naming-patterns.yaml with the built-in defaults."""
    from dpn_action.naming.config import PATTERNS_FILE, VALUES_FILE
    from dpn_action.starter import starter_patterns, starter_values, write_new

    for name, text in (
        (VALUES_FILE, starter_values(project, environment, region)),
        (PATTERNS_FILE, starter_patterns()),
    ):
        write_new(directory / name, text, force)
        click.echo(f"wrote {directory / name}")


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
    """Check the naming configs: schema, placeholders, rules only stricter than the cloud's."""
    cfg, findings = _load_config(values_config, patterns_config, overrides)
    _emit(findings, fmt)
    if fmt == "text" and not findings:
        click.echo(f"values: {cfg.values_path}\npatterns: {cfg.patterns_path}")
    sys.exit(1 if _failed(findings, strict) else 0)


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

    cfg, findings = _load_config(values_config, patterns_config, overrides)
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
        _emit(findings, "text", stream=sys.stderr)
    sys.exit(1 if _failed(findings) else 0)


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
    cfg, findings = _load_config(values_config, patterns_config, overrides)
    if findings:
        _emit(findings, "text", stream=sys.stderr)
    if blueprint is not None:
        ok = explain_blueprint(cfg, type_key, blueprint)
    else:
        from dpn_action.naming.config import parse_overrides

        values, bad = parse_overrides(sets)
        if bad:
            _emit(bad, "text", stream=sys.stderr)
            sys.exit(2)
        ok = explain_values(cfg, type_key, values)
    sys.exit(0 if ok and not _failed(findings) else 1)


# The provisioning commands live in their own module; importing it registers them.
from dpn_action import cli_provision as _cli_provision  # noqa: E402, F401


# ---------------------------------------------------------------------------------- action
@main.command(
    "action",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def action(ctx: click.Context) -> None:
    """Run as the GitHub Action: preview names on pull requests, apply on merge.

    Every option defaults to a DPN_* variable (`dpn action --help`; docs/github-action.md).
    """
    from dpn_action.github.action import main as action_main

    sys.exit(action_main(ctx.args))
