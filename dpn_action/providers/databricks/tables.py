"""Unity Catalog tables (`dbx_table`): the two ways one is created.

The public create-table API (`w.tables.create`) makes only EXTERNAL Delta tables, so a
table with a `storage_location` is created through it, and any other (managed) table with a
`CREATE TABLE` statement through the SQL statement execution API on a SQL warehouse
(`warehouse_id=` or the standard `DATABRICKS_WAREHOUSE_ID` setting). Either way dpn's marks
are table properties (`properties` / `TBLPROPERTIES`), part of the create itself.

The API takes simple column types only (`bigint`, `string`, `decimal(18,2)`, ...) and no
table comment; the statement takes any type Databricks SQL knows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from dpn_action.providers.base import Operation, ResourceState
from dpn_action.providers.databricks.kind import Kind, created
from dpn_action.providers.databricks.sdk import AlreadyExists, Context, build, enum_value


class StatementFailed(RuntimeError):
    """A SQL statement the provider sent did not succeed."""


_SQL_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\s*[<(][A-Za-z0-9_ ,:<>()]*[>)])?")
#: SQL type -> (ColumnTypeName, Spark JSON type) for the create-table API
_COLUMN_TYPES = {
    "bigint": ("LONG", "long"),
    "long": ("LONG", "long"),
    "int": ("INT", "integer"),
    "integer": ("INT", "integer"),
    "smallint": ("SHORT", "short"),
    "short": ("SHORT", "short"),
    "tinyint": ("BYTE", "byte"),
    "byte": ("BYTE", "byte"),
    "string": ("STRING", "string"),
    "boolean": ("BOOLEAN", "boolean"),
    "double": ("DOUBLE", "double"),
    "float": ("FLOAT", "float"),
    "date": ("DATE", "date"),
    "timestamp": ("TIMESTAMP", "timestamp"),
    "timestamp_ntz": ("TIMESTAMP_NTZ", "timestamp_ntz"),
    "binary": ("BINARY", "binary"),
    "decimal": ("DECIMAL", "decimal"),
}


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _column_type(column: Mapping[str, Any]) -> str:
    sql_type = str(column.get("type", "")).strip()
    if not _SQL_TYPE.fullmatch(sql_type):
        raise ValueError(f"column '{column.get('name')}' has an invalid type '{sql_type}'")
    return sql_type


def create_table_sql(
    full_name: tuple[str, str, str], props: Mapping[str, Any], marks: Mapping[str, str]
) -> str:
    """The `CREATE TABLE` statement for a managed Unity Catalog table."""
    columns = props.get("columns") or []
    if not columns:
        raise ValueError(f"table {'.'.join(full_name)} needs `columns` to be created")
    cols = []
    for c in columns:
        col = f"{_ident(str(c['name']))} {_column_type(c).upper()}"
        if c.get("nullable") is False:
            col += " NOT NULL"
        if c.get("comment"):
            col += f" COMMENT {_literal(str(c['comment']))}"
        cols.append(col)
    fmt = str(props.get("data_source_format") or "DELTA")
    if not re.fullmatch(r"[A-Za-z]+", fmt):
        raise ValueError(f"invalid data_source_format '{fmt}'")
    sql = f"CREATE TABLE {'.'.join(_ident(p) for p in full_name)} ({', '.join(cols)}) USING {fmt}"
    if props.get("partition_columns"):
        sql += f" PARTITIONED BY ({', '.join(_ident(str(c)) for c in props['partition_columns'])})"
    if props.get("comment"):
        sql += f" COMMENT {_literal(str(props['comment']))}"
    pairs = ", ".join(f"{_literal(k)} = {_literal(v)}" for k, v in marks.items())
    return f"{sql} TBLPROPERTIES ({pairs})"


def _column_infos(props: Mapping[str, Any]) -> list[dict[str, Any]]:
    partitions = [str(c) for c in props.get("partition_columns") or []]
    out = []
    for i, c in enumerate(props.get("columns") or []):
        sql_type = _column_type(c).lower()
        base = re.split(r"[<(\s]", sql_type, maxsplit=1)[0]
        if base not in _COLUMN_TYPES:
            raise ValueError(
                f"column '{c['name']}' of type '{sql_type}': the create-table API takes simple "
                "types only; leave out storage_location to create the table with SQL"
            )
        type_name, spark = _COLUMN_TYPES[base]
        spark_type = sql_type if base == "decimal" else spark
        nullable = c.get("nullable") is not False
        info: dict[str, Any] = {
            "name": c["name"],
            "position": i,
            "type_name": type_name,
            "type_text": sql_type,
            "type_json": json.dumps(
                {"name": c["name"], "type": spark_type, "nullable": nullable, "metadata": {}}
            ),
            "nullable": nullable,
        }
        if c.get("comment"):
            info["comment"] = str(c["comment"])
        if str(c["name"]) in partitions:
            info["partition_index"] = partitions.index(str(c["name"]))
        out.append(info)
    return out


def create_table(
    c: Context, kind: Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
) -> ResourceState:
    """Create the table: external through the API, managed through a SQL statement."""
    from databricks.sdk.service.catalog import ColumnInfo, DataSourceFormat, TableType
    from databricks.sdk.service.sql import ExecuteStatementRequestOnWaitTimeout

    full = (op.scope["catalog"], op.scope["schema"], op.name)
    props = kind.properties(op)
    w = c.workspace_client
    if props.get("storage_location"):
        # the create-table API makes external Delta tables only
        w.tables.create(
            name=op.name,
            catalog_name=full[0],
            schema_name=full[1],
            table_type=TableType.EXTERNAL,
            data_source_format=build(
                DataSourceFormat, str(props.get("data_source_format") or "DELTA").upper()
            ),
            storage_location=str(props["storage_location"]),
            columns=[build(ColumnInfo, info) for info in _column_infos(props)],
            properties=marks,
        )
        return created(kind, op, ".".join(full), marks)
    statement = create_table_sql(full, props, marks)
    warehouse = c.warehouse_id or w.config.warehouse_id
    if not warehouse:
        raise ValueError(
            f"table {'.'.join(full)} is a managed table, made with SQL: give the provider "
            "a warehouse_id (or set DATABRICKS_WAREHOUSE_ID), or give the table a "
            "storage_location to make it external"
        )
    answer = w.statement_execution.execute_statement(
        statement=statement,
        warehouse_id=warehouse,
        wait_timeout="50s",
        on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CANCEL,
    )
    status = answer.status
    state = enum_value(status.state) if status is not None else None
    if state != "SUCCEEDED":
        message = status.error.message if status is not None and status.error else ""
        if "TABLE_OR_VIEW_ALREADY_EXISTS" in (message or ""):
            raise AlreadyExists(message)
        raise StatementFailed(f"CREATE TABLE {'.'.join(full)} ended {state}: {message}")
    return created(kind, op, ".".join(full), marks)
