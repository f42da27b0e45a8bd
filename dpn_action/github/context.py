"""What every mode of the Action works with: its inputs, the event, the GitHub API, the run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dpn_action.github.api import GitHub
from dpn_action.github.event import read_payload
from dpn_action.github.git import Repo
from dpn_action.github.inputs import ActionError, Inputs
from dpn_action.github.workflow import Workflow

if TYPE_CHECKING:
    from dpn_action.txn.lock import Shared

#: The author of comments made with a workflow's GITHUB_TOKEN (which may not ask `GET /user`).
ACTIONS_BOT = "github-actions[bot]"


class Context:
    """The run's inputs, environment and side channels, and what it reads of GitHub."""

    def __init__(self, inputs: Inputs, env: Mapping[str, str], wf: Workflow) -> None:
        self.inputs = inputs
        self.env = env
        self.wf = wf
        self.cwd = Path.cwd()
        self.event_name = env.get("GITHUB_EVENT_NAME", "")
        self.repository = env.get("GITHUB_REPOSITORY", "")
        self._gh: GitHub | None = None
        self._author: str | None = None
        self._payload: dict[str, Any] | None = None

    @property
    def payload(self) -> dict[str, Any]:
        if self._payload is None:
            path = self.env.get("GITHUB_EVENT_PATH")
            if not path:
                raise ActionError("usage", "GITHUB_EVENT_PATH is not set: run inside GitHub")
            self._payload = read_payload(path)
        return self._payload

    @property
    def gh(self) -> GitHub | None:
        if self._gh is None and self.inputs.token and self.repository:
            self._gh = GitHub(self.inputs.token, self.inputs.api_url, self.repository)
        return self._gh

    def author(self, gh: GitHub) -> str:
        if self._author is None:
            self._author = gh.login() or ACTIONS_BOT
        return self._author

    @property
    def summary_url(self) -> str | None:
        server = self.env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        run_id = self.env.get("GITHUB_RUN_ID", "")
        if not self.repository or not run_id.isdigit():
            return None
        return f"{server}/{quote(self.repository)}/actions/runs/{run_id}"

    @property
    def made_for(self) -> str | None:
        """The repository whose resources this run makes and sweeps (`dpn-repository`):
        `DPN_REPOSITORY` when set, else the workflow's own `GITHUB_REPOSITORY`."""
        from dpn_action.repository import RepositoryError, identity

        try:
            return identity(self.cwd, self.env)
        except RepositoryError as exc:
            raise ActionError("usage", str(exc)) from None

    @property
    def shared(self) -> Shared | None:
        """Team mode from the `lock` and `wal-mirror` inputs (None: the WAL directory's file
        lock and the artifact only). The lock's holder is this run (its URL), and what the
        lock's holder and the mirror say is printed as untrusted text."""
        if not self.inputs.lock and not self.inputs.wal_mirror:
            return None
        from dpn_action.team import shared_from

        return shared_from(
            self.inputs.lock,
            self.inputs.wal_mirror,
            say=lambda text: self.wf.untrusted([text]),
            env=self.env,
        )

    def commit(self, repo: Repo) -> str:
        sha = self.env.get("GITHUB_SHA", "")
        return sha if re.fullmatch(r"[0-9a-f]{40}", sha) else repo.head()
