"""DynamoDB tables (`aws_dynamodb_table`).

A table is waited for until active after a create and until gone after a delete (a table
still being created cannot be deleted). `dpn delete --archive` keeps an on-demand backup
before deleting it (restore with `RestoreTableFromBackup`).
"""

from __future__ import annotations

import time
from typing import Any

from dpn_action.providers.aws.api import (
    Api,
    Client,
    Kw,
    New,
    Tags,
    Target,
    alive,
    from_kv,
    kv,
    settings,
    words,
)
from dpn_action.providers.aws.errors import AwsInputError
from dpn_action.providers.aws.listing import Listing
from dpn_action.providers.aws.waiters import WAIT_DELAY

_ATTRIBUTE_TYPES = {"string": "S", "number": "N", "binary": "B", "s": "S", "n": "N", "b": "B"}


def _ddb_key(spec: Any, table: str) -> tuple[str, str]:
    if isinstance(spec, str):
        return spec, "S"
    kind = str(spec.get("type", "S"))
    if kind.lower() not in _ATTRIBUTE_TYPES:
        raise AwsInputError(f"DynamoDB table {table}: key type {kind!r} is not S, N or B")
    return str(spec["name"]), _ATTRIBUTE_TYPES[kind.lower()]


def _dynamodb_create(c: Client, n: New) -> Kw:
    keys = [("HASH", _ddb_key(n.props.get("partition_key", "id"), n.name))]
    if n.props.get("sort_key"):
        keys.append(("RANGE", _ddb_key(n.props["sort_key"], n.name)))
    kw: Kw = {
        "TableName": n.name,
        "KeySchema": [{"AttributeName": name, "KeyType": role} for role, (name, _) in keys],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for _, (name, kind) in keys
        ],
        "BillingMode": str(n.props.get("billing_mode", "PAY_PER_REQUEST")).upper(),
        "Tags": kv(n.tags),
    }
    if kw["BillingMode"] == "PROVISIONED":
        kw["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(n.props.get("read_capacity", 5)),
            "WriteCapacityUnits": int(n.props.get("write_capacity", 5)),
        }
    return dict(c.create_table(**kw))


def _dynamodb_configure(c: Client, n: New, t: Target) -> None:
    attribute = n.props.get("ttl_attribute")
    if not attribute:
        return
    current = c.describe_time_to_live(TableName=t.name)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        c.update_time_to_live(
            TableName=t.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
        )


def _dynamodb_wanted(n: New) -> Kw:
    out: Kw = {"billing_mode": str(n.props.get("billing_mode", "PAY_PER_REQUEST")).upper()}
    if out["billing_mode"] == "PROVISIONED":
        out["read_capacity"] = int(n.props.get("read_capacity", 5))
        out["write_capacity"] = int(n.props.get("write_capacity", 5))
    out["ttl_attribute"] = str(n.props.get("ttl_attribute") or "")
    return out


def _dynamodb_current(c: Client, n: New, t: Target, found: Kw) -> Kw:
    table = found["Table"]
    throughput = table.get("ProvisionedThroughput") or {}
    ttl = c.describe_time_to_live(TableName=t.name)["TimeToLiveDescription"]
    return {
        "billing_mode": (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
        "read_capacity": throughput.get("ReadCapacityUnits"),
        "write_capacity": throughput.get("WriteCapacityUnits"),
        "ttl_attribute": (
            ttl.get("AttributeName", "")
            if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
            else ""
        ),
    }


def _dynamodb_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    wanted = _dynamodb_wanted(n)
    if {"billing_mode", "read_capacity", "write_capacity"} & set(changed):
        kw: Kw = {"TableName": t.name, "BillingMode": wanted["billing_mode"]}
        if wanted["billing_mode"] == "PROVISIONED":
            kw["ProvisionedThroughput"] = {
                "ReadCapacityUnits": wanted["read_capacity"],
                "WriteCapacityUnits": wanted["write_capacity"],
            }
        c.update_table(**kw)
        c.get_waiter("table_exists").wait(TableName=t.name, WaiterConfig={"Delay": WAIT_DELAY})
    if "ttl_attribute" in changed:
        current = c.describe_time_to_live(TableName=t.name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            c.update_time_to_live(
                TableName=t.name,
                TimeToLiveSpecification={
                    "Enabled": False,
                    "AttributeName": current["AttributeName"],
                },
            )
        if wanted["ttl_attribute"]:
            c.update_time_to_live(
                TableName=t.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": wanted["ttl_attribute"]},
            )


def _ddb_backup(c: Client, t: Target) -> object:
    """An on-demand backup, kept after the table is deleted (restore it from the backup)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return c.create_backup(TableName=t.name, BackupName=f"{t.name}-dpn-archive-{stamp}"[:255])


def _ddb_tags(c: Client, t: Target, _: Kw) -> Tags:
    tags: Tags = {}
    kw: Kw = {"ResourceArn": t.id}
    while True:
        page = c.list_tags_of_resource(**kw)
        tags |= from_kv(page.get("Tags"))
        if not page.get("NextToken"):
            return tags
        kw["NextToken"] = page["NextToken"]


APIS: dict[str, Api] = {
    "aws_dynamodb_table": Api(
        "dynamodb",
        properties=words(
            "partition_key sort_key billing_mode read_capacity write_capacity ttl_attribute"
        ),
        create=_dynamodb_create,
        find=lambda c, t: c.describe_table(TableName=t.name),
        ident=lambda r, t: r["Table"]["TableArn"] if alive(r["Table"]["TableStatus"]) else None,
        tags=_ddb_tags,
        tag=lambda c, t, tags: c.tag_resource(ResourceArn=t.id, Tags=kv(tags)),
        delete=lambda c, t: c.delete_table(TableName=t.name),
        created=lambda r, t: r["TableDescription"]["TableArn"],
        ready=("table_exists", lambda t: {"TableName": t.name}),
        gone=("table_not_exists", lambda t: {"TableName": t.name}),
        configure=_dynamodb_configure,
        configure_when=lambda n: bool(n.props.get("ttl_attribute")),
        listing=Listing(
            "list_tables",
            "TableNames",
            name=lambda n: n,
            ident=lambda n, t: t.arn("dynamodb", f"table/{t.name}"),
            page_size=("Limit", 100),
            token=("LastEvaluatedTableName", "ExclusiveStartTableName"),
        ),
        archive=_ddb_backup,
        incarnation=lambda r: r["Table"].get("TableId") or r["Table"].get("CreationDateTime"),
        settings=settings(
            "billing_mode read_capacity write_capacity ttl_attribute",
            _dynamodb_wanted,
            _dynamodb_current,
            _dynamodb_apply,
        ),
    ),
}
