"""Where each Databricks type keeps dpn's ownership marks (`managed-by: dpn`,
`dpn-transaction: <txn id>`).

Six types have tags and carry the marks as tags. The others keep them where their API keeps
text of ours:

| type | where the ownership marks live |
|---|---|
| `dbx_workspace`, `dbx_cluster`, `dbx_instance_pool` | `custom_tags` |
| `dbx_job`, `dbx_pipeline` | `tags` |
| `dbx_sql_warehouse` | `tags.custom_tags` |
| `dbx_catalog`, `dbx_schema` | the securable's `properties` map |
| `dbx_table` | table properties (`properties` / `TBLPROPERTIES`) |
| `dbx_volume` | a `[dpn ...]` suffix of its `comment` |
| `dbx_policy` | a `[dpn ...]` suffix of its `description` |
| `dbx_notebook_path` | a comment line right under the notebook's source header |
| `dbx_secret_scope` | a secret `dpn-marker` inside the scope, written right after it |
| `dbx_repo` | a sidecar workspace file `<marker_root>/dbx_repo/<name>.json` |

For all but the last two the marks are part of the create call itself, so a create whose
answer was lost is still recognisable as ours. A secret scope gets its mark in a second call;
if the first call's answer is lost, the scope reads as not ours (a conflict a person resolves,
never a silent adoption). A repo has no field for text of ours at all: its sidecar is written
before the repo is created (and removed again when the create is refused), then completed
with the repo id.

This module holds the kinds of mark that several types share; the three a single type uses
live with that type (`workspace_objects`: notebooks and repos, `secrets`: secret scopes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dpn_action.providers.base import MANAGED_BY_KEY, TXN_TAG_KEY, ResourceState
from dpn_action.providers.databricks.sdk import Context

#: the keys of dpn's ownership marks
MARK_KEYS = (MANAGED_BY_KEY, TXN_TAG_KEY)


def mark_text(marks: Mapping[str, str]) -> str:
    """Ownership marks as text for a comment or description: `[dpn managed-by=dpn ...]`."""
    return "[dpn " + " ".join(f"{k}={marks[k]}" for k in MARK_KEYS if k in marks) + "]"


_MARK_TEXT = re.compile(r"\[dpn ([^\]]*)\]")


def parse_mark_text(text: str | None) -> dict[str, str]:
    m = _MARK_TEXT.search(text or "")
    if m is None:
        return {}
    pairs = (item.split("=", 1) for item in m.group(1).split() if "=" in item)
    return {k: v for k, v in pairs if k in MARK_KEYS}


def with_mark(text: str | None, marks: Mapping[str, str]) -> str:
    """`text` with its `[dpn ...]` suffix replaced by `marks`."""
    base = _MARK_TEXT.sub("", text or "").rstrip()
    return f"{base} {mark_text(marks)}" if base else mark_text(marks)


def attr(obj: Any, dotted: str) -> Any:
    """The attribute at a dotted path of an SDK object (None where a step is missing)."""
    for part in dotted.split("."):
        obj = None if obj is None else getattr(obj, part, None)
    return obj


class Marks:
    """Where a type keeps dpn's ownership marks; the base keeps them nowhere."""

    #: the marks are written in a call after the create call (see
    #: `providers.base.marked_after_create`)
    late: bool = False

    def put(self, kwargs: dict[str, Any], marks: dict[str, str], tags: dict[str, str]) -> None:
        """Add the marks (and, for types with tags, the blueprint's tags) to create kwargs."""

    def get(self, p: Context, obj: Any, name: str) -> dict[str, str]:
        """The tags/marks of a found resource."""
        return {}

    def shape(self, tags: dict[str, str]) -> Any:
        """Tags as the SDK parameter wants them."""
        return tags

    def confirm(self, p: Context, state: ResourceState, marks: dict[str, str]) -> None:
        """Called once a create (or the adoption of this transaction's own lost create) is
        known to have produced `state`."""

    def forget(self, p: Context, state: ResourceState) -> None:
        """Called after the resource was deleted."""


@dataclass(frozen=True)
class TagMap(Marks):
    """A string map of tags (`custom_tags`, `tags`)."""

    param: str
    attr: str

    def put(self, kwargs: dict[str, Any], marks: dict[str, str], tags: dict[str, str]) -> None:
        kwargs[self.param] = self.shape({**tags, **marks})

    def get(self, p: Context, obj: Any, name: str) -> dict[str, str]:
        return dict(attr(obj, self.attr) or {})


@dataclass(frozen=True)
class TagPairs(TagMap):
    """SQL warehouses: `{"custom_tags": [{"key": ..., "value": ...}]}`."""

    def get(self, p: Context, obj: Any, name: str) -> dict[str, str]:
        return {t.key: t.value for t in attr(obj, self.attr) or [] if t.key is not None}

    def shape(self, tags: dict[str, str]) -> Any:
        return {"custom_tags": [{"key": k, "value": v} for k, v in tags.items()]}


@dataclass(frozen=True)
class PropertyMarks(Marks):
    """Unity Catalog `properties` (catalogs, schemas, tables)."""

    param: str = "properties"

    def put(self, kwargs: dict[str, Any], marks: dict[str, str], tags: dict[str, str]) -> None:
        kwargs[self.param] = {**(kwargs.get(self.param) or {}), **marks}

    def get(self, p: Context, obj: Any, name: str) -> dict[str, str]:
        props = getattr(obj, self.param, None) or {}
        return {k: props[k] for k in MARK_KEYS if k in props}


@dataclass(frozen=True)
class TextMarks(Marks):
    """A `[dpn ...]` suffix of a free-text field (`comment`, `description`)."""

    param: str

    def put(self, kwargs: dict[str, Any], marks: dict[str, str], tags: dict[str, str]) -> None:
        kwargs[self.param] = with_mark(kwargs.get(self.param), marks)

    def get(self, p: Context, obj: Any, name: str) -> dict[str, str]:
        return parse_mark_text(getattr(obj, self.param, None))
