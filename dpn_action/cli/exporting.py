"""`dpn export`: the planned names as Terraform, tfvars, JSON or dotenv (`dpn_action.export`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dpn_action.cli.common import config_options, emit, failed, main, one_pass

_FORMATS = ("terraform", "tfvars", "json", "dotenv")


@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@config_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_FORMATS),
    help="terraform (locals in HCL), tfvars (.auto.tfvars.json), json (CDK, Pulumi, scripts) "
    "or dotenv. Default: what the -o file's name says (.tf, .auto.tfvars.json, .json, .env), "
    "else json.",
)
@click.option("--environment", "-e", metavar="ENV", help="Only the names of this environment.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (atomically) instead of standard output.",
)
@one_pass
def export(
    files: tuple[Path, ...],
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
    fmt: str | None,
    environment: str | None,
    output: Path | None,
) -> None:
    """Print the planned names for Terraform, CDK, Pulumi or a dotenv file.

    With no FILES, the names of every blueprint under blueprints/. Nothing is printed when a
    blueprint has errors (they are reported, exit 1). Keys are stable: an entry's `id`, else
    its own naming values (see docs/export.md).
    """
    from dpn_action.cli.fixing import LintJob
    from dpn_action.export import OneEnvironment, build, format_for, render

    if fmt is None:
        fmt = (format_for(str(output)) if output is not None else None) or "json"
    job = LintJob(files, values_config, patterns_config, overrides, no_context=True)
    result = job.run()
    if result.findings:
        emit(result.findings, "text", stream=sys.stderr)
    if failed(result.findings):
        sys.exit(1)
    ex = build(result.resources, environment)
    if environment is not None and not ex.entries:
        raise click.UsageError(f"no names planned for environment {environment!r}")
    try:
        text = render(ex, fmt)
    except OneEnvironment as exc:
        raise click.UsageError(f"{exc}: choose one with --environment") from exc
    if output is None:
        sys.stdout.write(text)
        return
    from dpn_action.atomic import write_atomic

    write_atomic(output, text.encode("utf-8"))
    click.echo(f"wrote {output}", err=True)
