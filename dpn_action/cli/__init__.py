"""The `dpn` command line: parse input, call the core, render output.

`common` holds the command group and what the commands share; `naming` the naming commands
(lint, plan, config, explain), `provision` the cloud ones (create, read, update, delete,
status, recover), `doctor` the check of what they need, `action` the GitHub Action's entry.
Importing this package registers them.
"""

from dpn_action.cli import action, doctor, naming, provision
from dpn_action.cli.common import main

__all__ = ["action", "doctor", "main", "naming", "provision"]
