"""The lease lock in a DynamoDB table (`dynamodb://TABLE/KEY`).

The table has a string partition key `LockID` (as Terraform's lock tables do). The lease is
one item: `LockID` = KEY, `lease` = the record as JSON, `version` = a number that grows by
one with every write. It is created with a conditional `PutItem`
(`attribute_not_exists(LockID)`), and renewed, taken over when expired, and released with
a conditional `UpdateItem` (`version = <the version read or written>`). A release writes a
free record rather than deleting the item, so the fencing counter in it never starts over.
The start-up self-test writes a probe item twice with `attribute_not_exists` (the second
must fail) and deletes it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

from dpn_action.team.aws import Clients, call, refuse, self_tested
from dpn_action.txn.errors import ConditionFailed, LockBackendError

KEY_ATTRIBUTE = "LockID"


class DynamoLeaseStore:
    """`txn.lock.LeaseStore` on one DynamoDB item."""

    def __init__(self, table: str, key: str, region: str | None = None) -> None:
        self.table = table
        self.key = key
        self.url = f"dynamodb://{table}/{key}"
        self.clients = Clients("dynamodb", region)

    @property
    def ddb(self) -> Any:
        return self.clients.get()

    def read(self) -> tuple[dict[str, Any], str] | None:
        answer = call(
            self.url,
            "read the lock item",
            self.ddb.get_item,
            TableName=self.table,
            Key={KEY_ATTRIBUTE: {"S": self.key}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if not item:
            return None
        try:
            record = json.loads(item["lease"]["S"])
            version = str(int(item["version"]["N"]))
        except (KeyError, TypeError, ValueError):
            record = None
        if not isinstance(record, dict):
            raise LockBackendError(
                f"{self.url}: not a dpn lock item (no lease and version attributes); point "
                "--lock at a key of dpn's own"
            )
        return record, version

    def create(self, record: Mapping[str, Any]) -> str:
        self._put(self.key, record)
        return "1"

    def _put(self, key: str, record: Mapping[str, Any]) -> None:
        call(
            self.url,
            "create the lock item",
            self.ddb.put_item,
            TableName=self.table,
            Item={
                KEY_ATTRIBUTE: {"S": key},
                "lease": {"S": _json(record)},
                "version": {"N": "1"},
            },
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": KEY_ATTRIBUTE},
        )

    def replace(self, record: Mapping[str, Any], version: str) -> str:
        answer = call(
            self.url,
            "write the lock item",
            self.ddb.update_item,
            TableName=self.table,
            Key={KEY_ATTRIBUTE: {"S": self.key}},
            UpdateExpression="SET #l = :l, #v = #v + :one",
            ConditionExpression="#v = :v",
            ExpressionAttributeNames={"#l": "lease", "#v": "version"},
            ExpressionAttributeValues={
                ":l": {"S": _json(record)},
                ":v": {"N": version},
                ":one": {"N": "1"},
            },
            ReturnValues="UPDATED_NEW",
        )
        return str(int(answer["Attributes"]["version"]["N"]))

    def self_test(self) -> None:
        """Write a probe item twice on `attribute_not_exists`: the second must fail. Once
        per table and process."""
        self_tested(self.clients, self.table, self._probe)

    def _probe(self) -> None:
        probe = f"{self.key}#dpn-probe-{secrets.token_hex(6)}"
        self._put(probe, {"probe": True})
        try:
            try:
                self._put(probe, {"probe": "again"})
            except ConditionFailed:
                pass
            else:
                raise refuse(self.url, "a second conditional PutItem of one key succeeded")
        finally:
            with contextlib.suppress(Exception):  # a probe left behind costs nothing
                self.ddb.delete_item(TableName=self.table, Key={KEY_ATTRIBUTE: {"S": probe}})


def _json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))
