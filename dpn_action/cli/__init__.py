"""The `dpn` command line: parse input, call the core, render output.

`common` holds the command group and what the commands share; `naming` the naming commands
(lint, plan, config, explain), `provision` the cloud ones (create, read, update, delete,
status, recover), `team` adopt, `action` the GitHub Action's entry. Importing this package
registers them.
"""

from dpn_action.cli import action, naming, provision, team
from dpn_action.cli.common import main

__all__ = ["action", "main", "naming", "provision", "team"]
