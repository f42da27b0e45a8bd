"""The lease lock and the WAL mirror in S3, on conditional writes alone.

Lease (`s3://BUCKET/KEY`): one JSON object. Created with `If-None-Match: *`, replaced
(renewed, taken over when expired, released) with `If-Match: <ETag read or written>`.

Mirror (`s3://BUCKET/PREFIX`): `PREFIX/txn-<id>.jsonl` per transaction (its first copy
with `If-None-Match: *`, every later one with `If-Match` on the ETag last written or read;
the fencing counter also as metadata `dpn-fence`), and `PREFIX/finished/txn-<id>`, an empty
marker, once the transaction ended for good.

Both prove at start-up that the bucket enforces the conditions (`self_test`).
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

from dpn_action.team.aws import Clients, call, refuse, self_tested
from dpn_action.txn.errors import ConditionFailed, LockBackendError
from dpn_action.txn.wal import WAL_PREFIX, WAL_SUFFIX

FINISHED = "finished/"
#: an ETag no object has
NO_SUCH_ETAG = '"00000000000000000000000000000000"'


class S3Object:
    """Conditional writes of objects in one bucket."""

    def __init__(self, bucket: str, url: str, region: str | None = None) -> None:
        self.bucket = bucket
        self.url = url
        self.clients = Clients("s3", region)

    @property
    def s3(self) -> Any:
        return self.clients.get()

    def get(self, key: str) -> tuple[bytes, str] | None:
        """The object and its ETag, or None when there is none."""
        try:
            answer = call(
                self.url,
                f"read s3://{self.bucket}/{key}",
                self.s3.get_object,
                Bucket=self.bucket,
                Key=key,
            )
        except ConditionFailed:  # NoSuchKey
            return None
        return answer["Body"].read(), str(answer["ETag"])

    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Write `key` if it does not exist (`if_match` None) or is still at `if_match`."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": body}
        if if_match is None:
            kwargs["IfNoneMatch"] = "*"
        else:
            kwargs["IfMatch"] = if_match
        if metadata:
            kwargs["Metadata"] = dict(metadata)
        answer = call(self.url, f"write s3://{self.bucket}/{key}", self.s3.put_object, **kwargs)
        return str(answer["ETag"])

    def self_test(self, probe_prefix: str) -> None:
        """Write a probe object twice with `If-None-Match: *` and once with a wrong
        `If-Match`: the second and the third must fail on their condition. Once per bucket
        and process."""
        self_tested(self.clients, self.bucket, lambda: self._probe(probe_prefix))

    def _probe(self, probe_prefix: str) -> None:
        key = f"{probe_prefix}.dpn-probe-{secrets.token_hex(6)}"
        self.put(key, b"probe")
        try:
            try:
                self.put(key, b"probe again")
            except ConditionFailed:
                pass
            else:
                raise refuse(self.url, "a second If-None-Match: * write of one key succeeded")
            try:
                self.put(key, b"probe", if_match=NO_SUCH_ETAG)
            except ConditionFailed:
                pass
            else:
                raise refuse(self.url, "a write with an If-Match that did not match succeeded")
        finally:
            with contextlib.suppress(Exception):  # a probe left behind costs nothing
                self.s3.delete_object(Bucket=self.bucket, Key=key)


class S3LeaseStore:
    """`txn.lock.LeaseStore` on one S3 object."""

    def __init__(self, bucket: str, key: str, region: str | None = None) -> None:
        self.key = key
        self.url = f"s3://{bucket}/{key}"
        self.objects = S3Object(bucket, self.url, region)

    def read(self) -> tuple[dict[str, Any], str] | None:
        found = self.objects.get(self.key)
        if found is None:
            return None
        body, etag = found
        try:
            record = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            record = None
        if not isinstance(record, dict):
            raise LockBackendError(
                f"{self.url}: not a dpn lock record; point --lock at a key of dpn's own"
            )
        return record, etag

    def create(self, record: Mapping[str, Any]) -> str:
        return self.objects.put(self.key, _json(record))

    def replace(self, record: Mapping[str, Any], version: str) -> str:
        return self.objects.put(self.key, _json(record), if_match=version)

    def self_test(self) -> None:
        self.objects.self_test(self.key)


class S3MirrorStore:
    """`txn.mirror.MirrorStore` under one S3 prefix."""

    def __init__(self, bucket: str, prefix: str, region: str | None = None) -> None:
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        self.objects = S3Object(bucket, self.url, region)

    def _key(self, txn_id: str) -> str:
        return f"{self.prefix}{WAL_PREFIX}{txn_id}{WAL_SUFFIX}"

    def list(self) -> tuple[set[str], set[str]]:
        logs: set[str] = set()
        done: set[str] = set()
        s3 = self.objects.s3
        pages = call(
            self.url,
            "list the mirror",
            lambda: list(
                s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.objects.bucket, Prefix=self.prefix
                )
            ),
        )
        for page in pages:
            for item in page.get("Contents", []):
                rest = str(item["Key"])[len(self.prefix) :]
                if rest.startswith(FINISHED + WAL_PREFIX):
                    done.add(rest[len(FINISHED + WAL_PREFIX) :])
                elif rest.startswith(WAL_PREFIX) and rest.endswith(WAL_SUFFIX) and "/" not in rest:
                    logs.add(rest[len(WAL_PREFIX) : -len(WAL_SUFFIX)])
        return logs, done

    def get(self, txn_id: str) -> tuple[bytes, str] | None:
        return self.objects.get(self._key(txn_id))

    def create(self, txn_id: str, body: bytes, fence: int) -> str:
        return self.objects.put(self._key(txn_id), body, metadata={"dpn-fence": str(fence)})

    def replace(self, txn_id: str, body: bytes, fence: int, version: str) -> str:
        return self.objects.put(
            self._key(txn_id), body, if_match=version, metadata={"dpn-fence": str(fence)}
        )

    def finish(self, txn_id: str) -> None:
        with contextlib.suppress(ConditionFailed):  # marked already
            self.objects.put(f"{self.prefix}{FINISHED}{WAL_PREFIX}{txn_id}", b"")

    def self_test(self) -> None:
        self.objects.self_test(self.prefix)


def _json(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8")
