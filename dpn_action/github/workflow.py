"""The runner's side channels: outputs, the job summary, annotations, log groups."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from dpn_action.github import comment as cm


class Workflow:
    """The runner's side channels: outputs, the job summary, annotations, log groups."""

    def __init__(self, env: Mapping[str, str], out: Any = None) -> None:
        self.env = env
        self.out = out or sys.stdout
        self.outputs: dict[str, str] = {}
        self.in_actions = env.get("GITHUB_ACTIONS") == "true"

    def echo(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def untrusted(self, lines: Iterable[str]) -> None:
        """Print repository text with workflow commands switched off, so a line of it that
        looks like `::set-output` or `::add-mask` is only text."""
        shown = [part for line in lines for part in line.splitlines()]
        if not shown:
            return
        token = secrets.token_hex(16)
        self.echo(f"::stop-commands::{token}")
        for line in shown:
            self.echo(line)
        self.echo(f"::{token}::")

    def command(self, kind: str, message: str, title: str = "dpn") -> None:
        from dpn_action.formatters import escape_github_data, escape_github_property

        self.echo(f"::{kind} title={escape_github_property(title)}::{escape_github_data(message)}")

    def mask(self, secret: str) -> None:
        if secret and self.in_actions:
            self.echo(f"::add-mask::{secret}")

    def set(self, name: str, value: str | int | bool) -> None:
        self.outputs[name] = str(value).lower() if isinstance(value, bool) else str(value)

    def write_outputs(self) -> None:
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            return
        with open(path, "a", encoding="utf-8") as fh:
            for k, v in self.outputs.items():
                delim = f"dpn_{secrets.token_hex(8)}"
                fh.write(f"{k}<<{delim}\n{v}\n{delim}\n")

    def summary(self, markdown: str) -> None:
        path = self.env.get("GITHUB_STEP_SUMMARY")
        text = cm.fit(
            markdown,
            cm.SUMMARY_LIMIT,
            cm.cut_notice("summary", "Run `dpn plan preview` on the blueprints for every name."),
            measure=cm.utf8_len,
        )
        if path:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(text)
        elif not self.in_actions:
            self.echo(text)
