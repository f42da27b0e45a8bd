"""Comparing a resource's settings with what the blueprint asks (`dpn update`).

`dpn update` changes settings in place (`DatabricksProvider.update_settings`; which
properties of which types: `SETTINGS_TYPES`, from `Kind.settings`). The wanted values are the
create call's own arguments, built by the same code from the blueprint, compared with the
definition the cloud returns, so right after a create nothing differs. A setting the
blueprint leaves out goes back to the platform's documented default where `Kind.unset` names
one (a job's `max_concurrent_runs` 1, a warehouse's `auto_stop_mins` 120) and is otherwise
left as the cloud holds it; a cluster's runtime, picked at create time, is kept while the
blueprint names none. Only the differing fields are sent, by the same means as tags: a
partial update (`clusters.update` with an update mask, Unity Catalog `update`) or the whole
definition sent again with them replaced (`instance_pools.edit`, `warehouses.edit`,
`pipelines.update`, `cluster_policies.edit`, and `jobs.reset` for a job, whose partial update
would merge task lists). Tags and ownership marks are never among the fields changed; a
policy's description and a volume's comment keep their `[dpn ...]` suffix. A pool's node
type, a catalog's storage root, a volume's type and the types without settings (workspace,
notebook, repo, secret scope, table) cannot be changed in place.

Both sides are compared in the SDK's JSON form (what `as_dict` sends), typed by the fields of
the definition's SDK dataclass: within an SDK object only the fields dpn sends count.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from dataclasses import is_dataclass
from enum import Enum
from typing import Any

from dpn_action.providers.databricks.kind import Kind
from dpn_action.providers.databricks.sdk import Kw, build, number_text

_HINTS: dict[type, dict[str, Any]] = {}


def field_hints(cls: type) -> dict[str, Any]:
    """The field types of an SDK dataclass (none for anything else)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls) if is_dataclass(cls) else {}
    return _HINTS[cls]


def coerce(hint: Any, value: Any) -> Any:
    """A JSON-like value as the SDK type `hint` holds it (dataclasses, enums, within lists,
    maps and optionals); a value that does not fit is left as it is."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin is typing.Union or (origin is not None and type(None) in typing.get_args(hint)):
        return coerce(args[0], value) if len(args) == 1 else value
    if origin is list and isinstance(value, list):
        return [coerce(args[0], v) for v in value] if args else value
    if origin is dict and isinstance(value, dict):
        return {k: coerce(args[1], v) for k, v in value.items()} if len(args) == 2 else value
    if isinstance(hint, type):
        if issubclass(hint, Enum) or (hasattr(hint, "from_dict") and isinstance(value, dict)):
            return build(hint, value)
        if hint is int and isinstance(value, str):
            return int(value)
        if hint is str and number_text(value) is not None:
            return number_text(value)  # as `Args` sends it
    return value


def blank(value: Any) -> bool:
    """Not set, as the SDK's JSON leaves it out."""
    return value is None or value == "" or value == {} or value == []


def plain(value: Any) -> Any:
    """A value in the SDK's JSON form (what `as_dict` sends), with blanks left out."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        out = {k: plain(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not blank(v)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def at(value: Any, path: str) -> Any:
    """The value at a dotted path of a JSON-like value."""
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _bare(hint: Any) -> Any:
    """`X` of `Optional[X]`."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if type(None) in typing.get_args(hint) and len(args) == 1 else hint


def _hint_at(hint: Any, path: str) -> Any:
    for part in filter(None, path.split(".")):
        hint = _bare(hint)
        hint = field_hints(hint).get(part, Any) if isinstance(hint, type) else Any
    return hint


def _agrees(hint: Any, want: Any, have: Any) -> bool:
    """`have` (what the cloud holds) is what `want` asks. Within an SDK object only the
    fields dpn sends count: the platform fills in others of its own (a task's `run_if`)."""
    if want == have:
        return True
    hint = _bare(hint)
    dataclass = isinstance(hint, type) and is_dataclass(hint)
    if isinstance(want, dict) and isinstance(have, dict) and dataclass:
        fields = field_hints(hint)
        return all(_agrees(fields.get(k, Any), v, have.get(k)) for k, v in want.items())
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        item = (typing.get_args(hint) or (Any,))[0] if typing.get_origin(hint) is list else Any
        return all(_agrees(item, w, h) for w, h in zip(want, have, strict=True))
    return False


def _document(value: Any) -> Any:
    """A JSON document given as text, parsed (text that is not JSON stays text)."""
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return value


def differs(
    kind: Kind, prop: str, given: bool, hints: Mapping[str, Any], want: Kw, have: Kw
) -> bool:
    """The setting `prop` of the cloud's definition `have` is not what the create arguments
    `want` ask (both `plain`; where either leaves it out, `kind.unset` says what it is).
    `hints`: the field types of the definition. `given`: the blueprint gives the property
    (an empty value clears the setting)."""
    path = kind.setting_path(prop)
    top, _, rest = path.partition(".")
    wanted, held = at(want, path), at(have, path)
    if blank(wanted) and not given and top not in kind.unset:
        return False  # the blueprint leaves it to the cloud
    unset = at({top: plain(kind.unset.get(top))}, path)
    wanted = unset if blank(wanted) else wanted
    held = unset if blank(held) else held
    if top in kind.documents:
        wanted, held = _document(wanted), _document(held)
    if blank(wanted) and blank(held):
        return False
    return not _agrees(_hint_at(hints.get(top, Any), rest), wanted, held)
