"""`dpn version`: dpn's version, Python's, and the versions of the SDKs installed beside it."""

from __future__ import annotations

import click

from dpn_action import __version__
from dpn_action.cli.common import main


@main.command("version")
@click.option(
    "--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True
)
def version(fmt: str) -> None:
    """Print dpn's version, Python's, and the installed versions of boto3, botocore,
    databricks-sdk and pydantic (none when absent). Imports none of them."""
    import json
    import platform

    from dpn_action.extras import REPORTED, version_of

    packages = {name: version_of(name) for name in REPORTED}
    if fmt == "json":
        doc = {"dpn": __version__, "python": platform.python_version(), "packages": packages}
        click.echo(json.dumps(doc, indent=2))
        return
    rows = [("dpn", __version__), ("python", platform.python_version())]
    rows += [(name, v or "not installed") for name, v in packages.items()]
    width = max(len(name) for name, _ in rows)
    for name, v in rows:
        click.echo(f"{name:<{width}}  {v}")
