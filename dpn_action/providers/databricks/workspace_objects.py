"""Workspace objects: notebooks (`dbx_notebook_path`, through `w.workspace`) and Git folders
(`dbx_repo`, through `w.repos`).

Neither has tags. A notebook carries dpn's marks as a comment line right under its
`Databricks notebook source` header, so only the SOURCE format can be made; its folder is
made first. A repo has no field for text of ours at all: its marks live in a sidecar
workspace file `<marker_root>/dbx_repo/<name>.json`, written before the repo is created (and
removed again when the create is refused), then completed with the repo id. A repo named
without a path goes to `/Repos/<folder>/<name>` (`folder`, else the provider's
`repos_folder`); its Git provider follows from the URL's host unless `git_provider` names it.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from dpn_action.providers.base import Operation, ResourceState
from dpn_action.providers.databricks.kind import Kind, created
from dpn_action.providers.databricks.marks import MARK_KEYS, Marks, mark_text, parse_mark_text
from dpn_action.providers.databricks.sdk import (
    Context,
    b64decode,
    b64encode,
    enum_value,
    gone,
    present,
    refused,
)

# --------------------------------------------------------------------------- notebooks

_NOTEBOOK_COMMENT = {"PYTHON": "#", "R": "#", "SQL": "--", "SCALA": "//"}


class NotebookMarks(Marks):
    """A comment line under the notebook's `Databricks notebook source` header."""

    def get(self, p: Context, obj: Any, name: str) -> dict[str, str]:
        from databricks.sdk.service.workspace import ExportFormat

        if enum_value(obj.object_type) != "NOTEBOOK":
            return {}
        exported = p.workspace_client.workspace.export(path=name, format=ExportFormat.SOURCE)
        head = b64decode(exported.content or "").splitlines()[:5]
        return parse_mark_text("\n".join(head))


def _create_notebook(
    c: Context, kind: Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
) -> ResourceState:
    from databricks.sdk.service.workspace import ImportFormat, Language

    props = kind.properties(op)
    language = str(props.get("language") or "PYTHON").upper()
    if language not in _NOTEBOOK_COMMENT:
        raise ValueError(f"notebook {op.name}: unknown language '{language}'")
    if str(props.get("format") or "SOURCE").upper() != "SOURCE":
        raise ValueError(
            f"notebook {op.name}: only the SOURCE format can carry dpn's ownership mark"
        )
    comment = _NOTEBOOK_COMMENT[language]
    header = f"{comment} Databricks notebook source"
    body = str(props.get("content") or f"{comment} {posixpath.basename(op.name)}")
    if body.startswith(header):
        body = body[len(header) :].lstrip("\n")
    text = f"{header}\n{comment} {mark_text(marks)}\n\n{body.rstrip()}\n"
    w = c.workspace_client
    w.workspace.mkdirs(path=posixpath.dirname(op.name) or "/")
    w.workspace.import_(
        path=op.name,
        content=b64encode(text),
        format=ImportFormat.SOURCE,
        language=Language(language),
        overwrite=False,
    )
    return created(kind, op, op.name, marks)


NOTEBOOK = Kind(
    type_key="dbx_notebook_path",
    procedure=_create_notebook,
    own_properties=frozenset({"language", "content", "format"}),
    marks=NotebookMarks(),
    getter=lambda c, path: c.workspace_client.workspace.get_status(path=path),
    id_attr="path",
    delete=lambda c, path: c.workspace_client.workspace.delete(path=path),
)

# --------------------------------------------------------------------------- repos

_GIT_PROVIDERS = {
    "github.com": "gitHub",
    "gitlab.com": "gitLab",
    "bitbucket.org": "bitbucketCloud",
    "dev.azure.com": "azureDevOpsServices",
}


def sidecar_path(c: Context, name: str) -> str:
    return f"{c.marker_root}/dbx_repo/{name.strip('/')}.json"


def read_sidecar(c: Context, name: str) -> dict[str, Any]:
    from databricks.sdk.service.workspace import ExportFormat

    try:
        exported = c.workspace_client.workspace.export(
            path=sidecar_path(c, name), format=ExportFormat.AUTO
        )
    except Exception as exc:
        if gone(exc):
            return {}
        raise
    try:
        data = json.loads(b64decode(exported.content or ""))
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def write_sidecar(c: Context, name: str, data: dict[str, Any]) -> None:
    from databricks.sdk.service.workspace import ImportFormat

    path = sidecar_path(c, name)
    w = c.workspace_client
    w.workspace.mkdirs(path=posixpath.dirname(path))
    w.workspace.import_(
        path=path,
        content=b64encode(json.dumps(data, sort_keys=True)),
        format=ImportFormat.AUTO,
        overwrite=True,
    )


def delete_quietly(c: Context, path: str) -> None:
    """Delete a workspace file; one that is gone already is fine."""
    try:
        c.workspace_client.workspace.delete(path=path)
    except Exception as exc:
        if not gone(exc):
            raise


class SidecarMarks(Marks):
    """A sidecar workspace file: the repos API keeps no text of ours on a repo."""

    def get(self, p: Context, obj: Any, name: str) -> dict[str, str]:
        data = read_sidecar(p, name)
        if data.get("repo_id") not in (None, str(obj.id)) or data.get("path") != obj.path:
            return {}  # a sidecar left by another repo of that name
        return {k: str(data[k]) for k in MARK_KEYS if k in data}

    def confirm(self, p: Context, state: ResourceState, marks: dict[str, str]) -> None:
        data = read_sidecar(p, state.name)
        write_sidecar(p, state.name, {**data, **marks, "repo_id": state.resource_id})

    def forget(self, p: Context, state: ResourceState) -> None:
        delete_quietly(p, sidecar_path(p, state.name))


def _repo_path(c: Context, kind: Kind, op: Operation) -> str:
    if op.name.startswith("/"):
        return op.name
    folder = str(kind.properties(op).get("folder") or c.repos_folder).strip("/")
    return f"/Repos/{folder}/{op.name}"


def _create_repo(
    c: Context, kind: Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
) -> ResourceState:
    props = kind.properties(op)
    url = props.get("url")
    if not url:
        raise ValueError(f"repo {op.name}: the `url` property is required")
    host = re.sub(r"^https?://([^/]+).*$", r"\1", str(url)).lower()
    provider = props.get("git_provider") or _GIT_PROVIDERS.get(host)
    if not provider:
        raise ValueError(f"repo {op.name}: set `git_provider`, {host} is not a known host")
    path = _repo_path(c, kind, op)
    # The sidecar comes first, so a create whose answer is lost is still ours.
    write_sidecar(c, op.name, {**marks, "path": path})
    w = c.workspace_client
    try:
        w.workspace.mkdirs(path=posixpath.dirname(path))
        repo = w.repos.create(url=str(url), provider=str(provider), path=path)
    except Exception as exc:
        if refused(exc):
            delete_quietly(c, sidecar_path(c, op.name))
        raise
    if props.get("branch"):
        w.repos.update(repo_id=present(repo.id, "the new repo's id"), branch=str(props["branch"]))
    return created(kind, op, repo.id, marks)


def _repo_named(wanted: str, path: str) -> bool:
    """A repo named without a path is `/Repos/<any folder>/<name>`."""
    if wanted.startswith("/"):
        return path == wanted
    parts = path.split("/")
    return len(parts) == 4 and parts[1] == "Repos" and parts[3] == wanted


REPO = Kind(
    type_key="dbx_repo",
    procedure=_create_repo,
    own_properties=frozenset({"url", "git_provider", "branch", "folder"}),
    marks=SidecarMarks(),
    lister=lambda c, name: c.workspace_client.repos.list(
        path_prefix=name if name.startswith("/") else "/Repos/"
    ),
    name_attr="path",
    match=_repo_named,
    id_attr="id",
    delete=lambda c, repo_id: c.workspace_client.repos.delete(repo_id=int(repo_id)),
)

KINDS = (NOTEBOOK, REPO)
