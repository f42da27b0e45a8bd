"""The `dpn` command line: parse input, call the core, render output.

`common` holds the command group and what the commands share; `naming` the naming commands
(lint, plan, config, explain), `fixing` `dpn fix` (and what `dpn lint` checks), `exporting`
`dpn export`, `provision` the cloud ones (create, read, update, delete, status, recover),
`doctor` the check of what they need, `team` adopt, `action` the GitHub Action's entry,
`version` what is installed. Importing this package registers them.
"""

from dpn_action.cli import action, doctor, exporting, fixing, naming, provision, team, version
from dpn_action.cli.common import main

__all__ = [
    "action",
    "doctor",
    "exporting",
    "fixing",
    "main",
    "naming",
    "provision",
    "team",
    "version",
]
