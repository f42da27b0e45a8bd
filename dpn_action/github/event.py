"""The workflow's event payload: only the few fields the action needs, checked on the way in.

The payload is read from `$GITHUB_EVENT_PATH` (the webhook that started the run). Anything
missing or of the wrong type is an `EventError` with the field's path, never a KeyError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PULL_REQUEST_EVENTS = frozenset({"pull_request"})


class EventError(Exception):
    """The payload lacks a field the action needs."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    base_sha: str
    head_sha: str
    base_ref: str
    html_url: str
    base_repo: str
    #: None when the head repository is gone (a deleted fork)
    head_repo: str | None

    @property
    def from_fork(self) -> bool:
        """A fork's pull request runs with a read-only token and cannot comment."""
        return self.head_repo is None or self.head_repo.lower() != self.base_repo.lower()


@dataclass(frozen=True)
class Push:
    ref: str
    before: str
    after: str
    default_branch: str

    @property
    def to_default_branch(self) -> bool:
        return self.ref == f"refs/heads/{self.default_branch}"

    @property
    def deleted(self) -> bool:
        return set(self.after) == {"0"}


def read_payload(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EventError(f"cannot read the event payload {path}: {exc}") from None
    if not isinstance(data, dict):
        raise EventError(f"the event payload {path} is not a JSON object")
    return data


def _get(data: Any, path: str, kind: type) -> Any:
    cur = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise EventError(f"the event payload has no {path}")
        cur = cur[part]
    if not isinstance(cur, kind) or (kind is int and isinstance(cur, bool)):
        raise EventError(f"the event payload's {path} is not a {kind.__name__}")
    return cur


def pull_request(payload: dict[str, Any]) -> PullRequest:
    pr = _get(payload, "pull_request", dict)
    head_repo = pr.get("head", {}).get("repo") if isinstance(pr.get("head"), dict) else None
    return PullRequest(
        number=_get(pr, "number", int),
        base_sha=_get(pr, "base.sha", str),
        head_sha=_get(pr, "head.sha", str),
        base_ref=_get(pr, "base.ref", str),
        html_url=pr.get("html_url") if isinstance(pr.get("html_url"), str) else "",
        base_repo=_get(pr, "base.repo.full_name", str),
        head_repo=_get(head_repo, "full_name", str) if isinstance(head_repo, dict) else None,
    )


def push(payload: dict[str, Any]) -> Push:
    repo = _get(payload, "repository", dict)
    branch = repo.get("default_branch") or repo.get("master_branch")
    if not isinstance(branch, str) or not branch:
        raise EventError("the event payload has no repository.default_branch")
    return Push(
        ref=_get(payload, "ref", str),
        before=_get(payload, "before", str),
        after=_get(payload, "after", str),
        default_branch=branch,
    )
