"""Unity Catalog: catalogs (`dbx_catalog`), schemas (`dbx_schema`), tables (`dbx_table`) and
volumes (`dbx_volume`), through `w.catalogs`, `w.schemas`, `w.tables` and `w.volumes`.

Each securable is found, read and deleted by its full name (`catalog.schema.table`), which is
also its id; a blueprint names a schema, table or volume within its parents (the operation's
`scope`). Catalogs, schemas and tables keep dpn's marks in their properties; a volume at the
end of its comment. Comments are changed in place with a partial `update`. How tables are
created is in `tables`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dpn_action.providers.databricks.kind import Kind, Partial
from dpn_action.providers.databricks.marks import PropertyMarks, TextMarks
from dpn_action.providers.databricks.sdk import Args, Context, Kw, present
from dpn_action.providers.databricks.tables import create_table


def _securable(
    type_key: str,
    read: Callable[[Context, str], Any],
    delete: Callable[[Context, str], object],
    **kw: Any,
) -> Kind:
    """A securable found, read and deleted by its full name, which is its id."""
    return Kind(
        type_key=type_key,
        id_attr="full_name",
        getter=read,
        get_by_id=read,
        delete=delete,
        **kw,
    )


# --------------------------------------------------------------------------- catalogs


def _create_catalog(c: Context, kw: Kw) -> str:
    a = Args("dbx_catalog", kw)
    answer = a.send(
        c.workspace_client.catalogs.create,
        name=a.required("name"),
        comment=a.text("comment"),
        storage_root=a.text("storage_root"),
        properties=a.strings("properties"),
    )
    return str(answer.full_name)


def _update_catalog(c: Context, name: str, fields: Kw, mask: str) -> None:
    a = Args("dbx_catalog", fields)
    a.send(c.workspace_client.catalogs.update, name=name, comment=a.text("comment"))


CATALOG = _securable(
    "dbx_catalog",
    lambda c, name: c.workspace_client.catalogs.get(name=name),
    lambda c, name: c.workspace_client.catalogs.delete(name=name),
    create=_create_catalog,
    params={"comment": "comment", "storage_root": "storage_root"},
    marks=PropertyMarks(),
    change=Partial(_update_catalog),
    settings=("comment",),
    unset={"comment": ""},
)

# --------------------------------------------------------------------------- schemas


def _create_schema(c: Context, kw: Kw) -> str:
    a = Args("dbx_schema", kw)
    answer = a.send(
        c.workspace_client.schemas.create,
        name=a.required("name"),
        catalog_name=a.required("catalog_name"),
        comment=a.text("comment"),
        storage_root=a.text("storage_root"),
        properties=a.strings("properties"),
    )
    return str(answer.full_name)


def _update_schema(c: Context, full_name: str, fields: Kw, mask: str) -> None:
    a = Args("dbx_schema", fields)
    a.send(c.workspace_client.schemas.update, full_name=full_name, comment=a.text("comment"))


SCHEMA = _securable(
    "dbx_schema",
    lambda c, full_name: c.workspace_client.schemas.get(full_name=full_name),
    lambda c, full_name: c.workspace_client.schemas.delete(full_name=full_name),
    create=_create_schema,
    params={"comment": "comment", "storage_root": "storage_root"},
    scope_params={"catalog": "catalog_name"},
    parents=("catalog",),
    marks=PropertyMarks(),
    change=Partial(_update_schema),
    settings=("comment",),
    unset={"comment": ""},
)

# --------------------------------------------------------------------------- tables

TABLE = _securable(
    "dbx_table",
    lambda c, full_name: c.workspace_client.tables.get(full_name=full_name),
    lambda c, full_name: c.workspace_client.tables.delete(full_name=full_name),
    procedure=create_table,
    own_properties=frozenset(
        {"columns", "comment", "data_source_format", "storage_location", "partition_columns"}
    ),
    parents=("catalog", "schema"),
    marks=PropertyMarks(),
)

# --------------------------------------------------------------------------- volumes


def _create_volume(c: Context, kw: Kw) -> str:
    from databricks.sdk.service.catalog import VolumeType

    a = Args("dbx_volume", kw)
    answer = a.send(
        c.workspace_client.volumes.create,
        catalog_name=a.required("catalog_name"),
        schema_name=a.required("schema_name"),
        name=a.required("name"),
        volume_type=present(a.sdk("volume_type", VolumeType), "dbx_volume: `volume_type`"),
        storage_location=a.text("storage_location"),
        comment=a.text("comment"),
    )
    return str(answer.full_name)


def _update_volume(c: Context, name: str, fields: Kw, mask: str) -> None:
    a = Args("dbx_volume", fields)
    a.send(c.workspace_client.volumes.update, name=name, comment=a.text("comment"))


VOLUME = _securable(
    "dbx_volume",
    lambda c, name: c.workspace_client.volumes.read(name=name),
    lambda c, name: c.workspace_client.volumes.delete(name=name),
    create=_create_volume,
    parents=("catalog", "schema"),
    params={
        "volume_type": "volume_type",
        "storage_location": "storage_location",
        "comment": "comment",
    },
    defaults={"volume_type": "MANAGED"},
    scope_params={"catalog": "catalog_name", "schema": "schema_name"},
    marks=TextMarks("comment"),
    change=Partial(_update_volume),
    settings=("comment",),
)

KINDS = (CATALOG, SCHEMA, TABLE, VOLUME)
