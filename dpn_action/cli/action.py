"""`dpn action`: the GitHub Action's entry (`dpn_action.github.action`)."""

from __future__ import annotations

import sys

import click

from dpn_action.cli.common import main


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
