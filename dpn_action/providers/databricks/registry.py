"""The 14 Databricks types, assembled from the service modules, and what follows from them.

Each service module lists its types' `Kind`s in `KINDS`; adding a type is one `Kind` in the
module of its service (and its catalogue entry). Everything the provider tells the rest of
dpn about its types is derived here from those entries: which carry tags, which settings
`dpn update` can change, which types can be archived or are marked after their create call,
and which blueprint properties and references each one takes.
"""

from __future__ import annotations

from dpn_action.providers.base import Handled
from dpn_action.providers.databricks import (
    account,
    compute,
    jobs,
    pipelines,
    secrets,
    unity_catalog,
    warehouses,
    workspace_objects,
)
from dpn_action.providers.databricks.kind import Kind

_MODULES = (
    account,
    compute,
    jobs,
    workspace_objects,
    pipelines,
    warehouses,
    unity_catalog,
    secrets,
)

#: type key -> how dpn drives it
KINDS: dict[str, Kind] = {kind.type_key: kind for module in _MODULES for kind in module.KINDS}

#: the types that carry tags (the others keep only dpn's ownership marks)
TAG_TYPES = frozenset(k for k, kind in KINDS.items() if kind.has_tags)
#: the types `dpn adopt` can mark: their marks are tags, changed in place
MARK_TYPES = frozenset(k for k in TAG_TYPES if KINDS[k].change is not None)
#: type -> the blueprint properties `dpn update` changes in place
SETTINGS_TYPES: dict[str, frozenset[str]] = {
    k: frozenset(kind.settings) for k, kind in KINDS.items() if kind.settings
}
#: the types `dpn delete --archive` can archive
ARCHIVE_TYPES = frozenset(k for k, kind in KINDS.items() if kind.archive is not None)
#: types marked in a call after the create call; see `providers.base.marked_after_create`
LATE_MARKED_TYPES = frozenset(k for k, kind in KINDS.items() if kind.marks.late)
#: the types whose pre-flight one listing decides (`DatabricksProvider.survey`)
SURVEY_TYPES = frozenset(k for k, kind in KINDS.items() if kind.lists_all)
#: the types `DatabricksProvider.listing` lists whole, in one listing (`dpn sweep`)
LISTING_TYPES = SURVEY_TYPES
#: type -> the blueprint properties and reference fields it takes
HANDLED: dict[str, Handled] = {
    k: Handled(kind.handled_properties, kind.handled_refs) for k, kind in KINDS.items()
}


def kind_of(type_key: str) -> Kind:
    try:
        return KINDS[type_key]
    except KeyError:
        raise ValueError(f"the Databricks provider does not handle '{type_key}'") from None
