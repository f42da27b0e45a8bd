"""Glue databases, tables and crawlers (`aws_glue_database`, `aws_glue_table`,
`aws_glue_crawler`).

Glue tables have no tags: dpn keeps its two ownership marks in the table's `Parameters`
instead, `read` reports them as tags (only those two), and `tag` does nothing for a table.
A table is named within its database (its scope, or its `database_ref`); create and update
send the same `TableInput`, keeping parameters others added (a crawler's, Athena's).

Glue deletes a database with every table in it. dpn deletes its own tables first (dependents
go first), so a database that still holds a table is not deleted: the table is not dpn's to
delete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dpn_action.providers.aws.api import (
    Api,
    Client,
    Kw,
    New,
    Tags,
    Target,
    markers,
    settings,
    words,
)
from dpn_action.providers.aws.errors import AwsInputError, AwsProviderError
from dpn_action.providers.aws.listing import Listing
from dpn_action.providers.base import ResourceState

_HIVE = "org.apache.hadoop.hive"
_TEXT_IO = (
    "org.apache.hadoop.mapred.TextInputFormat",
    f"{_HIVE}.ql.io.HiveIgnoreKeyTextOutputFormat",
)
#: table format -> (input format, output format, serde, serde parameters)
GLUE_FORMATS: dict[str, tuple[str, str, str, Tags]] = {
    "parquet": (
        f"{_HIVE}.ql.io.parquet.MapredParquetInputFormat",
        f"{_HIVE}.ql.io.parquet.MapredParquetOutputFormat",
        f"{_HIVE}.ql.io.parquet.serde.ParquetHiveSerDe",
        {},
    ),
    "orc": (
        f"{_HIVE}.ql.io.orc.OrcInputFormat",
        f"{_HIVE}.ql.io.orc.OrcOutputFormat",
        f"{_HIVE}.ql.io.orc.OrcSerde",
        {},
    ),
    "avro": (
        f"{_HIVE}.ql.io.avro.AvroContainerInputFormat",
        f"{_HIVE}.ql.io.avro.AvroContainerOutputFormat",
        f"{_HIVE}.serde2.avro.AvroSerDe",
        {},
    ),
    "json": (*_TEXT_IO, "org.openx.data.jsonserde.JsonSerDe", {}),
    "csv": (*_TEXT_IO, f"{_HIVE}.serde2.lazy.LazySimpleSerDe", {"field.delim": ","}),
}


def _glue_columns(items: Any) -> list[dict[str, str]]:
    columns = []
    for item in items or ():
        spec = {"name": item} if isinstance(item, str) else item
        column = {"Name": str(spec["name"]), "Type": str(spec.get("type", "string"))}
        if spec.get("comment"):
            column["Comment"] = str(spec["comment"])
        columns.append(column)
    return columns


def _glue_table_input(n: New, parameters: Mapping[str, str] | None = None) -> Kw:
    """The table as Glue's `TableInput` (create and update send the same); `parameters`: the
    table's current ones, kept beside dpn's (a crawler or Athena may have added some)."""
    fmt = str(n.props.get("format", "parquet")).lower()
    if fmt not in GLUE_FORMATS:
        raise AwsInputError(
            f"Glue table {n.name}: format {fmt!r} is not one of {', '.join(GLUE_FORMATS)}"
        )
    input_format, output_format, serde, serde_params = GLUE_FORMATS[fmt]
    storage: Kw = {
        "Columns": _glue_columns(n.props.get("columns")),
        "InputFormat": input_format,
        "OutputFormat": output_format,
        "SerdeInfo": {"SerializationLibrary": serde, "Parameters": serde_params},
    }
    if n.props.get("location"):
        storage["Location"] = n.props["location"]
    table: Kw = {
        "Name": n.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {**(parameters or {}), "classification": fmt, **markers(n.tags)},
        "StorageDescriptor": storage,
        "PartitionKeys": _glue_columns(n.props.get("partition_keys")),
    }
    if n.props.get("description"):
        table["Description"] = n.props["description"]
    return table


def _glue_table_create(c: Client, n: New) -> Kw:
    table = _glue_table_input(n)
    return dict(c.create_table(DatabaseName=_glue_table_database(n), TableInput=table))


def _glue_table_settings(table: Kw) -> Kw:
    """A `TableInput` (or `get_table`'s table) in the terms of the blueprint's properties."""
    storage = table.get("StorageDescriptor") or {}

    def columns(items: list[Kw] | None) -> list[Kw]:
        return [{k: c[k] for k in ("Name", "Type", "Comment") if c.get(k)} for c in items or ()]

    return {
        "columns": columns(storage.get("Columns")),
        "partition_keys": columns(table.get("PartitionKeys")),
        "format": (table.get("Parameters") or {}).get("classification", ""),
        "location": storage.get("Location", ""),
        "description": table.get("Description", ""),
    }


def _glue_table_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    current = c.get_table(DatabaseName=t.database, Name=t.name)["Table"]
    table = _glue_table_input(n, current.get("Parameters"))
    c.update_table(DatabaseName=t.database, TableInput=table)


def _glue_database_clear(c: Client, t: Target, state: ResourceState) -> None:
    """Glue deletes a database with every table in it. dpn deletes its own tables first
    (dependents go first), so a table still there is not dpn's to delete: keep the database."""
    names = [
        table["Name"]
        for page in c.get_paginator("get_tables").paginate(DatabaseName=t.name)
        for table in page["TableList"]
    ]
    if names:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise AwsProviderError(
            f"Glue database {t.name} holds tables dpn does not delete ({shown}); Glue would "
            "delete them with it: move or delete them first, or keep the database"
        )


def _glue_table_database(n: New) -> str:
    if "database" in n.op.scope:
        return n.op.scope["database"]
    return n.need("database_ref").name


def _glue_database_input(n: New) -> Kw:
    db: Kw = {"Name": n.name}
    if n.props.get("description"):
        db["Description"] = n.props["description"]
    if n.props.get("location_uri"):
        db["LocationUri"] = n.props["location_uri"]
    return db


def _glue_database_create(c: Client, n: New) -> Kw:
    return dict(c.create_database(DatabaseInput=_glue_database_input(n), Tags=n.tags))


def _glue_database_settings(db: Kw) -> Kw:
    return {"description": db.get("Description", ""), "location_uri": db.get("LocationUri", "")}


def _glue_database_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    current = c.get_database(Name=t.name)["Database"]
    db = {**_glue_database_input(n), "Parameters": current.get("Parameters") or {}}
    c.update_database(Name=t.name, DatabaseInput=db)


def _crawler_targets(n: New) -> Kw:
    targets = n.props.get("targets")
    if targets:
        return {"S3Targets": [{"Path": x} if isinstance(x, str) else dict(x) for x in targets]}
    path = str(n.props.get("s3_path") or "")
    if not path.startswith("s3://"):
        bucket = n.ref("bucket_ref")
        if bucket is None:
            raise AwsInputError(
                f"Glue crawler {n.name}: needs targets, an s3:// s3_path, or a bucket_ref"
            )
        path = f"s3://{bucket.name}/{path.lstrip('/')}"
    return {"S3Targets": [{"Path": path}]}


def _crawler_settings(n: New) -> Kw:
    """What a crawler is told besides its name, role and database (create and update)."""
    kw: Kw = {"Targets": _crawler_targets(n)}
    schedule = n.props.get("schedule_expression")
    if schedule:
        kw["Schedule"] = schedule if schedule.startswith("cron(") else f"cron({schedule})"
    if n.props.get("description"):
        kw["Description"] = n.props["description"]
    return kw


def _crawler_create(c: Client, n: New) -> Kw:
    kw: Kw = {
        "Name": n.name,
        "Role": n.need("role_ref").resource_id,
        **_crawler_settings(n),
        "Tags": n.tags,
    }
    database = n.ref("database_ref")
    if database is not None:
        kw["DatabaseName"] = database.name
    return dict(c.create_crawler(**kw))


def _glue_tags(kind: str) -> Callable[[Client, Target, Kw], Tags]:
    return lambda c, t, _: dict(c.get_tags(ResourceArn=t.arn("glue", f"{kind}/{t.name}"))["Tags"])


def _glue_tag(kind: str) -> Callable[[Client, Target, Tags], object]:
    return lambda c, t, tags: c.tag_resource(
        ResourceArn=t.arn("glue", f"{kind}/{t.name}"), TagsToAdd=tags
    )


APIS: dict[str, Api] = {
    "aws_glue_database": Api(
        "glue",
        properties=words("description location_uri"),
        create=_glue_database_create,
        find=lambda c, t: c.get_database(Name=t.name),
        ident=lambda r, t: t.name,
        tags=_glue_tags("database"),
        tag=_glue_tag("database"),
        delete=lambda c, t: c.delete_database(Name=t.name),
        created=lambda r, t: t.name,
        clear=_glue_database_clear,
        incarnation=lambda r: r["Database"].get("CreateTime"),
        listing=Listing(
            "get_databases",
            "DatabaseList",
            name=lambda d: d["Name"],
            ident=lambda d, t: t.name,
            page_size=("MaxResults", 100),
            token=("NextToken", "NextToken"),
        ),
        settings=settings(
            "description location_uri",
            lambda n: _glue_database_settings(_glue_database_input(n)),
            lambda c, n, t, r: _glue_database_settings(r["Database"]),
            _glue_database_apply,
        ),
    ),
    "aws_glue_table": Api(
        "glue",
        properties=words("columns partition_keys format location description"),
        refs=words("database_ref"),
        create=_glue_table_create,
        find=lambda c, t: c.get_table(DatabaseName=t.database, Name=t.name),
        ident=lambda r, t: f"{t.database}.{t.name}",
        tags=lambda c, t, r: markers(r["Table"].get("Parameters", {})),
        tag=None,
        delete=lambda c, t: c.delete_table(DatabaseName=t.database, Name=t.name),
        created=lambda r, t: f"{t.database}.{t.name}",
        incarnation=lambda r: r["Table"].get("CreateTime"),
        # a listed table is all a read gives, its marks included
        listing=Listing(
            "get_tables",
            "TableList",
            name=lambda x: x["Name"],
            ident=lambda x, t: f"{t.database}.{t.name}",
            page_size=("MaxResults", 100),
            params=lambda scope: {"DatabaseName": scope["database"]},
            token=("NextToken", "NextToken"),
            found=lambda x: {"Table": x},
        ),
        settings=settings(
            "columns partition_keys format location description",
            lambda n: _glue_table_settings(_glue_table_input(n)),
            lambda c, n, t, r: _glue_table_settings(r["Table"]),
            _glue_table_apply,
        ),
    ),
    "aws_glue_crawler": Api(
        "glue",
        properties=words("targets s3_path schedule_expression description"),
        refs=words("role_ref database_ref bucket_ref"),
        create=_crawler_create,
        find=lambda c, t: c.get_crawler(Name=t.name),
        ident=lambda r, t: t.name,
        tags=_glue_tags("crawler"),
        tag=_glue_tag("crawler"),
        delete=lambda c, t: c.delete_crawler(Name=t.name),
        created=lambda r, t: t.name,
        incarnation=lambda r: r["Crawler"].get("CreationTime"),
        listing=Listing(
            "list_crawlers",
            "CrawlerNames",
            name=lambda n: n,
            ident=lambda n, t: t.name,
            page_size=("MaxResults", 1000),
            token=("NextToken", "NextToken"),
        ),
    ),
}
