"""`dpn doctor`: check what running dpn here needs, one line per check.

A thin face over `dpn_action.doctor`: it plans the blueprints given (so only the clouds they
use are checked, with the permissions their types need) and renders the checks. Exit 1 when
any check fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dpn_action.cli.common import config_options, main, naming_configs, sources


@main.command()
@click.option(
    "--blueprint",
    "blueprints",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also check what these blueprints need: only their clouds, and the permissions "
    "their resource types need.",
)
@click.option(
    "--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True
)
@config_options
def doctor(
    blueprints: tuple[Path, ...],
    fmt: str,
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Check the Python and SDK versions, each cloud's endpoint, credentials and identity,
    the AWS region and, with --blueprint, the permissions its resources need."""
    from dpn_action import doctor as checks

    items = None
    errors = 0
    if blueprints:
        from dpn_action.analysis import analyse
        from dpn_action.plan import planned

        configs = naming_configs(values_config, patterns_config, overrides)
        result = analyse(configs, sources(blueprints))
        errors = sum(1 for f in result.findings if f.is_error)
        items = planned(result.resources)
    found = checks.run(items, blueprints=[str(b) for b in blueprints], blueprint_errors=errors)
    if fmt == "json":
        data = {"ok": not checks.failed(found), "checks": [c.as_dict() for c in found]}
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(checks.render(found))
    sys.exit(1 if checks.failed(found) else 0)
