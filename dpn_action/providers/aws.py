"""The AWS provider: the 13 `aws_*` resource types through boto3.

What each type needs is data: one `_Api` entry per type in `_APIS` says which service it
lives in and how to create, find, tag and delete it. The code around the table is shared, so
adding a type is adding one entry (and, where the cloud asks for more than one call, one
small builder function next to it).

Ownership. Every create carries the tags `managed-by: dpn` and `dpn-transaction: <id>` (plus
the blueprint's tags) in the create call itself wherever the API accepts tags there, so a
resource never exists untagged and an in-doubt create can be resolved by `read`. Glue tables
have no tags; dpn keeps the two ownership markers in the table's `Parameters` instead and
`read` reports them as tags (only those two; `tag` is a no-op for Glue tables).

Idempotent create. When the create call says the resource already exists (for instance
because botocore retried a create whose first response was lost), `create` reads it: if it
carries this transaction's id it is adopted (waited for, configured, returned); otherwise
`AwsConflictError` is raised. S3 (`CreateBucket` in us-east-1), SNS, SQS and Step Functions
answer a create of an existing name with the existing resource (ignoring the tags given), so
for those `create` reads first; a create racing another writer between that read and the
create call is the one case this cannot see. The executor tells "ours" from "not ours" with
`ResourceState.managed_by_dpn` / `transaction_id` on what `read` returns: a resource that
exists without `managed-by: dpn` was not made by dpn.

Waiting. Kinesis streams, Firehose streams, DynamoDB tables and Lambda functions are waited
for until usable (bounded by `wait_timeout`): besides being unusable before, a stream or
table still being created cannot be deleted, so a rollback right after would fail. A
resource the cloud is deleting reads as absent.

Deleting a bucket. `delete` empties an S3 bucket (every object version and delete marker)
only when the bucket, as it is now, is tagged `managed-by: dpn` with the same transaction id
as the state being deleted. A bucket that is not provably ours is never emptied: deleting it
fails with S3's `BucketNotEmpty` when it holds data.

Retries. Clients use botocore's `standard` retry mode (throttling and 5xx), and one extra,
bounded retry covers a known gap: a role created a moment ago is not yet visible to Lambda,
Firehose or Step Functions (IAM is eventually consistent).

`import boto3` happens when an `AwsProvider` is constructed, never at import time.
"""

from __future__ import annotations

import io
import json
import math
import os
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TXN_TAG_KEY,
    Operation,
    ResourceState,
)

if TYPE_CHECKING:
    from dpn_action.providers.base import Provider

Tags = dict[str, str]
Kw = dict[str, Any]
Client = Any  # a boto3 client; boto3 ships no type hints


class AwsProviderError(RuntimeError):
    """A request dpn cannot carry out as asked."""


class AwsConfigError(AwsProviderError):
    """The AWS configuration is incomplete (no region, say)."""


class AwsInputError(AwsProviderError, ValueError):
    """A blueprint property or reference the provider cannot use."""


class AwsConflictError(AwsProviderError):
    """The resource exists and was not created by this transaction."""

    def __init__(self, message: str, state: ResourceState) -> None:
        super().__init__(message)
        self.state = state


# --- error codes, per service, in one place -----------------------------------------------

#: codes meaning "no such resource" (deleting it is success, reading it gives None)
NOT_FOUND: dict[str, frozenset[str]] = {
    "s3": frozenset({"NoSuchBucket", "404", "NotFound"}),
    "glue": frozenset({"EntityNotFoundException"}),
    "lambda": frozenset({"ResourceNotFoundException"}),
    "iam": frozenset({"NoSuchEntity"}),
    "kinesis": frozenset({"ResourceNotFoundException"}),
    "firehose": frozenset({"ResourceNotFoundException"}),
    "dynamodb": frozenset({"ResourceNotFoundException", "TableNotFoundException"}),
    "sns": frozenset({"NotFound", "NotFoundException"}),
    "sqs": frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}),
    "stepfunctions": frozenset({"StateMachineDoesNotExist"}),
}

#: codes a create answers with when the name is taken
ALREADY_EXISTS: dict[str, frozenset[str]] = {
    "s3": frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}),
    "glue": frozenset({"AlreadyExistsException"}),
    "lambda": frozenset({"ResourceConflictException"}),
    "iam": frozenset({"EntityAlreadyExists"}),
    "kinesis": frozenset({"ResourceInUseException"}),
    "firehose": frozenset({"ResourceInUseException"}),
    "dynamodb": frozenset({"ResourceInUseException"}),
    "sns": frozenset(),
    "sqs": frozenset({"QueueAlreadyExists", "QueueNameExists"}),
    "stepfunctions": frozenset({"StateMachineAlreadyExists"}),
}

#: (code, message fragment) of a create refused because a role made moments ago is not
#: visible to the service yet; retried a bounded number of times
SETTLING: dict[str, tuple[str, str]] = {
    "lambda": ("InvalidParameterValueException", "cannot be assumed"),
    "firehose": ("InvalidArgumentException", "assume role"),
    "stepfunctions": ("AccessDeniedException", "assume the provided role"),
}
SETTLE_ATTEMPTS = 6

#: waiters botocore does not ship
_CUSTOM_WAITERS: dict[str, Kw] = {
    "DeliveryStreamActive": {
        "operation": "DescribeDeliveryStream",
        "delay": 10,
        "maxAttempts": 60,
        "acceptors": [
            {
                "state": "success",
                "matcher": "path",
                "argument": "DeliveryStreamDescription.DeliveryStreamStatus",
                "expected": "ACTIVE",
            },
            {
                "state": "failure",
                "matcher": "path",
                "argument": "DeliveryStreamDescription.DeliveryStreamStatus",
                "expected": "CREATING_FAILED",
            },
        ],
    }
}
_WAIT_DELAY = 5.0


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore `ClientError`, else None."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def _is(exc: BaseException, table: Mapping[str, frozenset[str]], service: str) -> bool:
    return error_code(exc) in table.get(service, frozenset())


# --- what a table entry works with --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    """One resource as the calls address it: name, parents, id once known."""

    aws: AwsProvider
    name: str
    scope: Mapping[str, str]
    id: str = ""

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.aws.region if regional else ""
        account = self.aws.account_id if service != "s3" else ""
        return f"arn:{self.aws.partition}:{service}:{region}:{account}:{resource}"

    @property
    def database(self) -> str:
        try:
            return self.scope["database"]
        except KeyError:
            raise AwsInputError(f"Glue table {self.name}: scope has no 'database'") from None


@dataclass(frozen=True, slots=True)
class _New:
    """A create request: the operation, the tags to apply, what its references became."""

    t: _Target
    op: Operation
    tags: Tags
    resolved: Mapping[str, ResourceState]
    region: str

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def props(self) -> Mapping[str, Any]:
        return self.op.properties

    def ref(self, field: str) -> ResourceState | None:
        key = self.op.refs.get(field)
        return None if key is None else self.resolved.get(key)

    def need(self, field: str) -> ResourceState:
        state = self.ref(field)
        if state is None:
            raise AwsInputError(
                f"{self.op.type_key} {self.name}: needs {field} (a resource created before it)"
            )
        return state


@dataclass(frozen=True, slots=True)
class _Api:
    """How one resource type is created, found, tagged and deleted. Each callable takes the
    service's client first and makes exactly the calls it names."""

    service: str
    create: Callable[[Client, _New], Kw]
    find: Callable[[Client, _Target], Kw]  # describe by name; raises "not found"
    ident: Callable[[Kw, _Target], str | None]  # id from find's answer; None: being deleted
    tags: Callable[[Client, _Target, Kw], Tags]  # current tags (find's answer at hand)
    tag: Callable[[Client, _Target, Tags], object] | None  # add/replace; None: no tags
    delete: Callable[[Client, _Target], object]
    created: Callable[[Kw, _Target], str] | None = None  # id from create's answer, if it has it
    exclusive: bool = True  # create fails on an existing name (else `create` reads first)
    whole_tag_set: bool = False  # `tag` replaces all tags, so merge with the current ones
    retag: bool = False  # tag again after create: some endpoints drop create-time tags
    ready: tuple[str, Callable[[_Target], Kw]] | None = None  # waiter after create
    gone: tuple[str, Callable[[_Target], Kw]] | None = None  # waiter after delete
    configure: Callable[[Client, _New, _Target], None] | None = None  # idempotent, after create
    clear: Callable[[Client, _Target, ResourceState], None] | None = None  # before delete
    #: keeps a restorable copy before an archiving delete (`dpn delete --archive`)
    archive: Callable[[Client, _Target], object] | None = None
    #: settings `dpn update` changes in place; None: none
    settings: _Settings | None = None
    #: what tells this resource from a later one under the same name, from find's answer:
    #: an id the service assigns, or the creation time (`ResourceState.incarnation`)
    incarnation: Callable[[Kw], Any] | None = None


@dataclass(frozen=True, slots=True)
class _Settings:
    """What `dpn update` changes in place for one type.

    `wanted` (from the blueprint, the cloud's defaults where it is silent) and `current`
    (from `find`'s answer, plus reads where that answer lacks something) give the same
    blueprint properties, valued in the API's own terms so they compare exactly; `apply`
    makes the differing ones true. The create path builds its request from the same
    helpers, so an update compares with what a create would have sent.
    """

    names: frozenset[str]
    wanted: Callable[[_New], Kw]
    current: Callable[[Client, _New, _Target, Kw], Kw]
    apply: Callable[[Client, _New, _Target, Kw], None]
    #: waiter after apply, until the resource accepts the next change
    settled: tuple[str, Callable[[_Target], Kw]] | None = None


def _settings(
    names: str,
    wanted: Callable[[_New], Kw],
    current: Callable[[Client, _New, _Target, Kw], Kw],
    apply: Callable[[Client, _New, _Target, Kw], None],
    settled: tuple[str, Callable[[_Target], Kw]] | None = None,
) -> _Settings:
    return _Settings(frozenset(names.split()), wanted, current, apply, settled)


# --- tag shapes ----------------------------------------------------------------------------


def _kv(tags: Mapping[str, str], k: str = "Key", v: str = "Value") -> list[dict[str, str]]:
    return [{k: key, v: value} for key, value in tags.items()]


def _from_kv(items: list[dict[str, str]] | None, k: str = "Key", v: str = "Value") -> Tags:
    return {item[k]: item[v] for item in items or ()}


def _markers(values: Mapping[str, str]) -> Tags:
    return {k: values[k] for k in (MANAGED_BY_KEY, TXN_TAG_KEY) if k in values}


def _incarnation(value: Any) -> str | None:
    """An id or a creation time as text (times in UTC, so every reader gives the same)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    return str(value)


def _alive(status: str | None) -> bool:
    """False for a resource the cloud is deleting: for dpn it is already gone."""
    return status != "DELETING"


# --- S3 ------------------------------------------------------------------------------------


def _s3_create(c: Client, n: _New) -> Kw:
    conf: Kw = {"Tags": _kv(n.tags)}
    if n.region != "us-east-1":
        conf["LocationConstraint"] = n.region
    kw: Kw = {"Bucket": n.name, "CreateBucketConfiguration": conf}
    if n.props.get("object_lock"):
        kw["ObjectLockEnabledForBucket"] = True
    return dict(c.create_bucket(**kw))


def _s3_find(c: Client, t: _Target) -> Kw:
    try:
        return dict(c.head_bucket(Bucket=t.name))
    except Exception as exc:
        if error_code(exc) == "403":  # exists, owned by someone else
            return {"foreign": True}
        raise


def _s3_tags(c: Client, t: _Target, found: Kw) -> Tags:
    if found.get("foreign"):
        return {}
    try:
        return _from_kv(c.get_bucket_tagging(Bucket=t.name).get("TagSet"))
    except Exception as exc:
        if error_code(exc) == "NoSuchTagSet":
            return {}
        raise


#: the id of the lifecycle rule dpn writes (other rules of a bucket are left alone)
LIFECYCLE_RULE = "dpn-expiry"
#: a new bucket's settings in `_s3_wanted`'s terms (S3 encrypts with SSE-S3 by default)
_S3_FRESH: Kw = {"versioning": "Suspended", "lifecycle_days": None, "encryption": "AES256"}


def _s3_wanted(n: _New) -> Kw:
    p = n.props
    versioned = "versioning" not in p or bool(p["versioning"]) or bool(p.get("object_lock"))
    encryption = str(p.get("encryption") or "AES256")
    return {
        "versioning": "Enabled" if versioned else "Suspended",
        "lifecycle_days": int(p["lifecycle_days"]) if p.get("lifecycle_days") else None,
        "encryption": "aws:kms" if encryption.lower() == "kms" else encryption,
    }


def _s3_rules(c: Client, t: _Target) -> list[Kw]:
    try:
        return list(c.get_bucket_lifecycle_configuration(Bucket=t.name)["Rules"])
    except Exception as exc:
        if error_code(exc) == "NoSuchLifecycleConfiguration":
            return []
        raise


def _s3_current(c: Client, n: _New, t: _Target, _: Kw) -> Kw:
    ours = next((r for r in _s3_rules(c, t) if r.get("ID") == LIFECYCLE_RULE), None)
    try:
        rules = c.get_bucket_encryption(Bucket=t.name)["ServerSideEncryptionConfiguration"]
        encryption = rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    except Exception as exc:
        if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        encryption = "AES256"
    return {
        "versioning": c.get_bucket_versioning(Bucket=t.name).get("Status") or "Suspended",
        "lifecycle_days": ours["Expiration"]["Days"] if ours else None,
        "encryption": encryption,
    }


def _s3_apply(c: Client, n: _New, t: _Target, changed: Kw, rules: list[Kw] | None = None) -> None:
    """`rules`: the bucket's lifecycle rules when known (none on a new bucket), else read."""
    if "versioning" in changed:
        c.put_bucket_versioning(
            Bucket=t.name, VersioningConfiguration={"Status": changed["versioning"]}
        )
    if "lifecycle_days" in changed:
        days = changed["lifecycle_days"]
        rules = _s3_rules(c, t) if rules is None else rules
        rules = [r for r in rules if r.get("ID") != LIFECYCLE_RULE]
        if days:
            rules.append(
                {
                    "ID": LIFECYCLE_RULE,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Expiration": {"Days": days},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": days},
                }
            )
        if rules:
            c.put_bucket_lifecycle_configuration(
                Bucket=t.name, LifecycleConfiguration={"Rules": rules}
            )
        else:
            c.delete_bucket_lifecycle(Bucket=t.name)
    if "encryption" in changed:
        by_default = {"SSEAlgorithm": changed["encryption"]}
        c.put_bucket_encryption(
            Bucket=t.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": by_default}]
            },
        )


def _s3_configure(c: Client, n: _New, t: _Target) -> None:
    wanted = _s3_wanted(n)
    _s3_apply(c, n, t, {k: v for k, v in wanted.items() if v != _S3_FRESH[k]}, rules=[])


def _s3_empty_if_ours(c: Client, t: _Target, state: ResourceState) -> None:
    live, txn = _s3_tags(c, t, {}), state.transaction_id
    if txn is None or live.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE or live.get(TXN_TAG_KEY) != txn:
        return  # not provably ours: its data is never touched
    for page in c.get_paginator("list_object_versions").paginate(Bucket=t.name):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if doomed:
            c.delete_objects(Bucket=t.name, Delete={"Objects": doomed, "Quiet": True})


# --- Glue ----------------------------------------------------------------------------------

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


def _glue_table_input(n: _New, parameters: Mapping[str, str] | None = None) -> Kw:
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
        "Parameters": {**(parameters or {}), "classification": fmt, **_markers(n.tags)},
        "StorageDescriptor": storage,
        "PartitionKeys": _glue_columns(n.props.get("partition_keys")),
    }
    if n.props.get("description"):
        table["Description"] = n.props["description"]
    return table


def _glue_table_create(c: Client, n: _New) -> Kw:
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


def _glue_table_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    current = c.get_table(DatabaseName=t.database, Name=t.name)["Table"]
    table = _glue_table_input(n, current.get("Parameters"))
    c.update_table(DatabaseName=t.database, TableInput=table)


def _glue_database_clear(c: Client, t: _Target, state: ResourceState) -> None:
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


def _glue_table_database(n: _New) -> str:
    if "database" in n.op.scope:
        return n.op.scope["database"]
    return n.need("database_ref").name


def _glue_database_input(n: _New) -> Kw:
    db: Kw = {"Name": n.name}
    if n.props.get("description"):
        db["Description"] = n.props["description"]
    if n.props.get("location_uri"):
        db["LocationUri"] = n.props["location_uri"]
    return db


def _glue_database_create(c: Client, n: _New) -> Kw:
    return dict(c.create_database(DatabaseInput=_glue_database_input(n), Tags=n.tags))


def _glue_database_settings(db: Kw) -> Kw:
    return {"description": db.get("Description", ""), "location_uri": db.get("LocationUri", "")}


def _glue_database_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    current = c.get_database(Name=t.name)["Database"]
    db = {**_glue_database_input(n), "Parameters": current.get("Parameters") or {}}
    c.update_database(Name=t.name, DatabaseInput=db)


def _crawler_targets(n: _New) -> Kw:
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


def _crawler_settings(n: _New) -> Kw:
    """What a crawler is told besides its name, role and database (create and update)."""
    kw: Kw = {"Targets": _crawler_targets(n)}
    schedule = n.props.get("schedule_expression")
    if schedule:
        kw["Schedule"] = schedule if schedule.startswith("cron(") else f"cron({schedule})"
    if n.props.get("description"):
        kw["Description"] = n.props["description"]
    return kw


def _crawler_create(c: Client, n: _New) -> Kw:
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


def _glue_tags(kind: str) -> Callable[[Client, _Target, Kw], Tags]:
    return lambda c, t, _: dict(c.get_tags(ResourceArn=t.arn("glue", f"{kind}/{t.name}"))["Tags"])


def _glue_tag(kind: str) -> Callable[[Client, _Target, Tags], object]:
    return lambda c, t, tags: c.tag_resource(
        ResourceArn=t.arn("glue", f"{kind}/{t.name}"), TagsToAdd=tags
    )


# --- Lambda --------------------------------------------------------------------------------

#: runtime family -> (file suffix, source of a handler that does nothing)
_STUB_CODE = {
    "python": (".py", 'def {function}(event, context):\n    return {{"ok": True}}\n'),
    "nodejs": (".js", "exports.{function} = async () => ({{ ok: true }});\n"),
}


#: a blueprint's `code` keys (snake_case, as in the rest of a blueprint) -> Lambda's own
LAMBDA_CODE_KEYS: dict[str, str] = {
    "s3_bucket": "S3Bucket",
    "s3_key": "S3Key",
    "s3_object_version": "S3ObjectVersion",
    "image_uri": "ImageUri",
    "source_kms_key_arn": "SourceKMSKeyArn",
    "zip_file": "ZipFile",
}


def lambda_code(code: Any, runtime: str, handler: str) -> Kw:
    """Lambda's `Code` for a blueprint's `code`.

    Accepted forms:

    * a mapping with the keys `s3_bucket` + `s3_key` (+ `s3_object_version`), `image_uri`,
      or `zip_file` (the path of a local .zip archive, read when the function is created),
      optionally `source_kms_key_arn`; Lambda's own spelling (`S3Bucket`, `ZipFile`, ...) is
      accepted too, `ZipFile` then being the archive's bytes;
    * a string `s3://bucket/key`: an archive in S3;
    * any other string: the handler module's source text, zipped by dpn;
    * nothing: a generated handler that does nothing, until the real code is deployed
      (Python and Node.js runtimes only).
    """
    if isinstance(code, Mapping):
        return _lambda_code_mapping(code)
    if isinstance(code, str) and code.startswith("s3://"):
        bucket, _, key = code.removeprefix("s3://").partition("/")
        if not bucket or not key:
            raise AwsInputError(f"Lambda code {code!r}: expected s3://bucket/key")
        return {"S3Bucket": bucket, "S3Key": key}
    family = next((f for f in _STUB_CODE if runtime.startswith(f)), None)
    if family is None:
        raise AwsInputError(f"Lambda runtime {runtime} needs `code` (s3://bucket/key)")
    suffix, stub = _STUB_CODE[family]
    module, _, function = handler.rpartition(".")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(module.replace(".", "/") + suffix, code or stub.format(function=function))
    return {"ZipFile": buffer.getvalue()}


def _lambda_code_mapping(code: Mapping[str, Any]) -> Kw:
    own = set(LAMBDA_CODE_KEYS.values())
    out: Kw = {}
    for key, value in code.items():
        param = LAMBDA_CODE_KEYS.get(key, key if key in own else None)
        if param is None:
            accepted = ", ".join(LAMBDA_CODE_KEYS)
            raise AwsInputError(f"Lambda code: unknown key {key!r}; accepted: {accepted}")
        if param in out:
            raise AwsInputError(f"Lambda code: {key!r} is given twice ({param})")
        if key == "zip_file":
            value = _read_zip_file(str(value))
        out[param] = value
    sources = [p for p in ("S3Bucket", "ImageUri", "ZipFile") if p in out]
    if len(sources) != 1:
        raise AwsInputError(
            "Lambda code: give exactly one of s3_bucket (with s3_key), image_uri or zip_file"
        )
    if "S3Bucket" in out and "S3Key" not in out:
        raise AwsInputError("Lambda code: s3_bucket needs s3_key")
    return out


def _read_zip_file(path: str) -> bytes:
    """The archive at `path` (absolute when it comes from a plan), checked again as it is
    read: a regular file inside its repository, within the catalogue's size limit."""
    from dpn_action.inputs import InputRefused, read_bounded
    from dpn_action.naming.catalogue import CATALOGUE

    spec = next(
        f for f in CATALOGUE["aws_lambda_function"].local_files if f.label == "code.zip_file"
    )
    try:
        return read_bounded(path, limit=spec.max_bytes, code="DPN015")
    except InputRefused as exc:
        raise AwsInputError(f"Lambda code: zip_file {path!r} {exc.message}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise AwsInputError(f"Lambda code: cannot read zip_file {path!r}: {reason}") from None


#: Lambda settings: blueprint property -> (`CreateFunction` / `UpdateFunctionConfiguration`
#: parameter, Lambda's default)
_LAMBDA_SETTINGS: dict[str, tuple[str, Any]] = {
    "runtime": ("Runtime", "python3.12"),
    "handler": ("Handler", "index.handler"),
    "memory_size": ("MemorySize", 128),
    "timeout": ("Timeout", 3),
    "description": ("Description", ""),
    "environment_variables": ("Environment", {}),
}


def _lambda_wanted(n: _New) -> Kw:
    """The function's settings as the blueprint asks, Lambda's defaults where it is silent,
    in the API's terms (an image brings its own runtime and handler)."""
    out: Kw = {}
    code = n.props.get("code")
    image = isinstance(code, Mapping) and bool({"image_uri", "ImageUri"} & set(code))
    for prop, (_, default) in _LAMBDA_SETTINGS.items():
        if image and prop in ("runtime", "handler"):
            continue
        value = n.props.get(prop) or default
        if prop == "environment_variables":
            value = {str(k): str(v) for k, v in value.items()}
        elif prop in ("memory_size", "timeout"):
            value = int(value)
        out[prop] = value
    return out


def _lambda_params(settings: Kw) -> Kw:
    out = {_LAMBDA_SETTINGS[k][0]: v for k, v in settings.items()}
    if "Environment" in out:
        out["Environment"] = {"Variables": out["Environment"]}
    return out


def _lambda_create(c: Client, n: _New) -> Kw:
    wanted = _lambda_wanted(n)
    kw: Kw = {
        "FunctionName": n.name,
        **_lambda_params(wanted),
        "Role": n.need("role_ref").resource_id,
        "Code": lambda_code(
            n.props.get("code"),
            wanted.get("runtime", _LAMBDA_SETTINGS["runtime"][1]),
            wanted.get("handler", _LAMBDA_SETTINGS["handler"][1]),
        ),
        "Tags": n.tags,
    }
    if "ImageUri" in kw["Code"]:
        kw["PackageType"] = "Image"
    return dict(c.create_function(**kw))


def _lambda_current(c: Client, n: _New, t: _Target, found: Kw) -> Kw:
    config = found["Configuration"]
    out = {prop: config.get(param, default) for prop, (param, default) in _LAMBDA_SETTINGS.items()}
    out["environment_variables"] = (config.get("Environment") or {}).get("Variables", {})
    return out


def _lambda_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    c.update_function_configuration(FunctionName=t.name, **_lambda_params(changed))


# --- IAM -----------------------------------------------------------------------------------

DEFAULT_ROLE_SERVICES = ("lambda", "glue")
#: grants nothing and denies nothing (a policy needs at least one statement)
PLACEHOLDER_POLICY: Kw = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "DpnPlaceholder", "Effect": "Deny", "NotAction": "*", "Resource": "*"}],
}


def trust_policy(props: Mapping[str, Any]) -> Kw:
    """A role's trust policy: the blueprint's own, or one trusting `assume_role_service`
    (a name such as `lambda`, a principal, or a comma-separated list)."""
    if props.get("trust_policy"):
        return dict(props["trust_policy"])
    given = props.get("assume_role_service") or DEFAULT_ROLE_SERVICES
    services = given.split(",") if isinstance(given, str) else list(given)
    principals = [s if "." in s else f"{s}.amazonaws.com" for s in map(str.strip, services)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": principals[0] if len(principals) == 1 else principals},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def _role_create(c: Client, n: _New) -> Kw:
    kw: Kw = {
        "RoleName": n.name,
        "AssumeRolePolicyDocument": json.dumps(trust_policy(n.props)),
        "Tags": _kv(n.tags),
    }
    for prop, param in (("path", "Path"), ("description", "Description")):
        if n.props.get(prop):
            kw[param] = n.props[prop]
    if n.props.get("max_session_duration"):
        kw["MaxSessionDuration"] = int(n.props["max_session_duration"])
    return dict(c.create_role(**kw))


def _role_configure(c: Client, n: _New, t: _Target) -> None:
    for arn in n.props.get("managed_policy_arns") or ():
        c.attach_role_policy(RoleName=t.name, PolicyArn=arn)


def _trust_key(n: _New) -> str:
    return "trust_policy" if n.props.get("trust_policy") else "assume_role_service"


def _role_wanted(n: _New) -> Kw:
    return {
        _trust_key(n): trust_policy(n.props),
        "description": n.props.get("description") or "",
        "max_session_duration": int(n.props.get("max_session_duration") or 3600),
        "managed_policy_arns": sorted(n.props.get("managed_policy_arns") or ()),
    }


def _role_current(c: Client, n: _New, t: _Target, found: Kw) -> Kw:
    role = found["Role"]
    document = role["AssumeRolePolicyDocument"]
    attached = {
        policy["PolicyArn"]
        for page in c.get_paginator("list_attached_role_policies").paginate(RoleName=t.name)
        for policy in page["AttachedPolicies"]
    }
    return {
        _trust_key(n): json.loads(document) if isinstance(document, str) else document,
        "description": role.get("Description", ""),
        "max_session_duration": role.get("MaxSessionDuration", 3600),
        # policies attached by others are left alone: only missing ones count
        "managed_policy_arns": sorted(attached & set(n.props.get("managed_policy_arns") or ())),
    }


def _role_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    trust = changed.get("trust_policy") or changed.get("assume_role_service")
    if trust is not None:
        c.update_assume_role_policy(RoleName=t.name, PolicyDocument=json.dumps(trust))
    if {"description", "max_session_duration"} & set(changed):
        wanted = _role_wanted(n)
        c.update_role(
            RoleName=t.name,
            Description=wanted["description"],
            MaxSessionDuration=wanted["max_session_duration"],
        )
    if "managed_policy_arns" in changed:
        _role_configure(c, n, t)


def _role_clear(c: Client, t: _Target, state: ResourceState) -> None:
    """IAM refuses to delete a role with policies or instance profiles attached."""
    for page in c.get_paginator("list_attached_role_policies").paginate(RoleName=t.name):
        for policy in page["AttachedPolicies"]:
            c.detach_role_policy(RoleName=t.name, PolicyArn=policy["PolicyArn"])
    for page in c.get_paginator("list_role_policies").paginate(RoleName=t.name):
        for policy_name in page["PolicyNames"]:
            c.delete_role_policy(RoleName=t.name, PolicyName=policy_name)
    profiles = [
        profile["InstanceProfileName"]
        for page in c.get_paginator("list_instance_profiles_for_role").paginate(RoleName=t.name)
        for profile in page["InstanceProfiles"]
    ]
    if profiles:
        # dpn makes no instance profiles: they are someone else's, and so are the machines
        # that run with them.
        raise AwsProviderError(
            f"IAM role {t.name} is in instance profile(s) {', '.join(profiles)}, which dpn did "
            "not make: remove it from them first, or keep the role"
        )


def _policy_document(n: _New) -> Kw:
    document = n.props.get("policy_document") or PLACEHOLDER_POLICY
    return {"policy_document": json.loads(document) if isinstance(document, str) else document}


def _policy_create(c: Client, n: _New) -> Kw:
    document = n.props.get("policy_document") or PLACEHOLDER_POLICY
    kw: Kw = {
        "PolicyName": n.name,
        "PolicyDocument": document if isinstance(document, str) else json.dumps(document),
        "Tags": _kv(n.tags),
    }
    for prop, param in (("path", "Path"), ("description", "Description")):
        if n.props.get(prop):
            kw[param] = n.props[prop]
    return dict(c.create_policy(**kw))


def _policy_find(c: Client, t: _Target) -> Kw:
    """By ARN at the default path; a policy created with a `path` is found by listing."""
    try:
        return dict(c.get_policy(PolicyArn=t.arn("iam", f"policy/{t.name}", regional=False)))
    except Exception as exc:
        if not _is(exc, NOT_FOUND, "iam"):
            raise
        for page in c.get_paginator("list_policies").paginate(Scope="Local"):
            for policy in page["Policies"]:
                if policy["PolicyName"] == t.name:
                    return {"Policy": policy}
        raise


def _policy_current(c: Client, n: _New, t: _Target, found: Kw) -> Kw:
    version = found["Policy"]["DefaultVersionId"]
    document = c.get_policy_version(PolicyArn=t.id, VersionId=version)["PolicyVersion"]
    text = document["Document"]
    return {"policy_document": json.loads(text) if isinstance(text, str) else text}


#: IAM keeps at most five versions of a managed policy
POLICY_VERSIONS = 5


def _policy_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    """A new default version; the oldest other version goes when IAM's five are used up."""
    versions = c.list_policy_versions(PolicyArn=t.id)["Versions"]
    if len(versions) >= POLICY_VERSIONS:
        old = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        c.delete_policy_version(PolicyArn=t.id, VersionId=old["VersionId"])
    document = json.dumps(changed["policy_document"])
    c.create_policy_version(PolicyArn=t.id, PolicyDocument=document, SetAsDefault=True)


def _policy_clear(c: Client, t: _Target, state: ResourceState) -> None:
    """IAM refuses to delete a policy that is attached or has non-default versions.

    It is detached from roles that are dpn's; attached to anything else (a user, a group, a
    role dpn did not make) it is not deleted: that would take permissions from them.
    """
    ours: list[str] = []
    foreign: list[str] = []
    for page in c.get_paginator("list_entities_for_policy").paginate(PolicyArn=t.id):
        for role in page.get("PolicyRoles", []):
            tags = _from_kv(c.list_role_tags(RoleName=role["RoleName"]).get("Tags"))
            mine = tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE
            (ours if mine else foreign).append(role["RoleName"])
        foreign += [f"user {u['UserName']}" for u in page.get("PolicyUsers", [])]
        foreign += [f"group {g['GroupName']}" for g in page.get("PolicyGroups", [])]
    if foreign:
        raise AwsProviderError(
            f"IAM policy {t.name} is attached to {', '.join(foreign)}, which dpn did not "
            "make: detach it there first, or keep the policy"
        )
    for role_name in ours:
        c.detach_role_policy(RoleName=role_name, PolicyArn=t.id)
    for version in c.list_policy_versions(PolicyArn=t.id)["Versions"]:
        if not version["IsDefaultVersion"]:
            c.delete_policy_version(PolicyArn=t.id, VersionId=version["VersionId"])


# --- Kinesis and Firehose ------------------------------------------------------------------


def _stream_create(c: Client, n: _New) -> Kw:
    kw: Kw = {"StreamName": n.name, "Tags": n.tags}
    if str(n.props.get("stream_mode", "")).upper() == "ON_DEMAND":
        kw["StreamModeDetails"] = {"StreamMode": "ON_DEMAND"}
    else:
        kw["ShardCount"] = int(n.props.get("shard_count", 1))
    return dict(c.create_stream(**kw))


def _stream_configure(c: Client, n: _New, t: _Target) -> None:
    hours = int(n.props.get("retention_hours") or 24)
    current = c.describe_stream_summary(StreamName=t.name)["StreamDescriptionSummary"]
    if hours > current["RetentionPeriodHours"]:
        c.increase_stream_retention_period(StreamName=t.name, RetentionPeriodHours=hours)


def _stream_wanted(n: _New) -> Kw:
    out: Kw = {"retention_hours": int(n.props.get("retention_hours") or 24)}
    if str(n.props.get("stream_mode", "")).upper() != "ON_DEMAND":
        out["shard_count"] = int(n.props.get("shard_count", 1))
    return out


def _stream_current(c: Client, n: _New, t: _Target, found: Kw) -> Kw:
    summary = found["StreamDescriptionSummary"]
    return {
        "retention_hours": summary["RetentionPeriodHours"],
        "shard_count": summary.get("OpenShardCount"),
    }


def _stream_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    """One change at a time: a stream is UPDATING (and refuses the next) until it settles."""
    waiter = c.get_waiter("stream_exists")
    if "retention_hours" in changed:
        hours = changed["retention_hours"]
        current = _stream_current(c, n, t, c.describe_stream_summary(StreamName=t.name))
        if hours > current["retention_hours"]:
            c.increase_stream_retention_period(StreamName=t.name, RetentionPeriodHours=hours)
        else:
            c.decrease_stream_retention_period(StreamName=t.name, RetentionPeriodHours=hours)
        waiter.wait(StreamName=t.name, WaiterConfig={"Delay": _WAIT_DELAY})
    if "shard_count" in changed:
        c.update_shard_count(
            StreamName=t.name,
            TargetShardCount=changed["shard_count"],
            ScalingType="UNIFORM_SCALING",
        )
        waiter.wait(StreamName=t.name, WaiterConfig={"Delay": _WAIT_DELAY})


def _stream_tags(c: Client, t: _Target, _: Kw) -> Tags:
    tags: Tags = {}
    kw: Kw = {"StreamName": t.name}
    while True:
        page = c.list_tags_for_stream(**kw)
        tags |= _from_kv(page.get("Tags"))
        if not page.get("HasMoreTags") or not page.get("Tags"):
            return tags
        kw["ExclusiveStartTagKey"] = page["Tags"][-1]["Key"]


#: blueprint compression -> Firehose's spelling
_COMPRESSION = {
    "none": "UNCOMPRESSED",
    "uncompressed": "UNCOMPRESSED",
    "gzip": "GZIP",
    "zip": "ZIP",
    "snappy": "Snappy",
    "hadoop_snappy": "HADOOP_SNAPPY",
}


def _firehose_delivery(n: _New) -> Kw:
    """How the stream delivers to its bucket (create and update send the same)."""
    compression = str(n.props.get("compression", "uncompressed"))
    out: Kw = {
        "BufferingHints": {
            "IntervalInSeconds": int(n.props.get("buffer_seconds", 300)),
            "SizeInMBs": int(n.props.get("buffer_mb", 5)),
        },
        "CompressionFormat": _COMPRESSION.get(compression.lower(), compression),
    }
    if n.props.get("prefix"):
        out["Prefix"] = n.props["prefix"]
    return out


def _firehose_view(delivery: Kw) -> Kw:
    """A destination (`_firehose_delivery`'s or as described) in blueprint terms."""
    hints = delivery.get("BufferingHints") or {}
    return {
        "buffer_seconds": hints.get("IntervalInSeconds"),
        "buffer_mb": hints.get("SizeInMBs"),
        "compression": delivery.get("CompressionFormat"),
        "prefix": delivery.get("Prefix") or "",
    }


def _firehose_destination(found: Kw) -> tuple[str, str, Kw]:
    """(version id, destination id, its S3 description) of a described stream."""
    stream = found["DeliveryStreamDescription"]
    (destination,) = stream["Destinations"]
    s3 = destination.get("ExtendedS3DestinationDescription") or destination.get(
        "S3DestinationDescription", {}
    )
    return stream["VersionId"], destination["DestinationId"], s3


def _firehose_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    found = c.describe_delivery_stream(DeliveryStreamName=t.name)
    version, destination, _ = _firehose_destination(found)
    c.update_destination(
        DeliveryStreamName=t.name,
        CurrentDeliveryStreamVersionId=version,
        DestinationId=destination,
        ExtendedS3DestinationUpdate={"Prefix": "", **_firehose_delivery(n)},
    )


def _firehose_create(c: Client, n: _New) -> Kw:
    role = n.need("role_ref").resource_id
    destination: Kw = {
        "RoleARN": role,
        "BucketARN": n.t.arn("s3", n.need("bucket_ref").name, regional=False),
        **_firehose_delivery(n),
    }
    kw: Kw = {
        "DeliveryStreamName": n.name,
        "DeliveryStreamType": "DirectPut",
        "ExtendedS3DestinationConfiguration": destination,
        "Tags": _kv(n.tags),
    }
    stream = n.ref("stream_ref")
    if stream is not None:
        kw["DeliveryStreamType"] = "KinesisStreamAsSource"
        kw["KinesisStreamSourceConfiguration"] = {
            "KinesisStreamARN": stream.resource_id,
            "RoleARN": role,
        }
    return dict(c.create_delivery_stream(**kw))


# --- DynamoDB ------------------------------------------------------------------------------

_ATTRIBUTE_TYPES = {"string": "S", "number": "N", "binary": "B", "s": "S", "n": "N", "b": "B"}


def _ddb_key(spec: Any, table: str) -> tuple[str, str]:
    if isinstance(spec, str):
        return spec, "S"
    kind = str(spec.get("type", "S"))
    if kind.lower() not in _ATTRIBUTE_TYPES:
        raise AwsInputError(f"DynamoDB table {table}: key type {kind!r} is not S, N or B")
    return str(spec["name"]), _ATTRIBUTE_TYPES[kind.lower()]


def _dynamodb_create(c: Client, n: _New) -> Kw:
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
        "Tags": _kv(n.tags),
    }
    if kw["BillingMode"] == "PROVISIONED":
        kw["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(n.props.get("read_capacity", 5)),
            "WriteCapacityUnits": int(n.props.get("write_capacity", 5)),
        }
    return dict(c.create_table(**kw))


def _dynamodb_configure(c: Client, n: _New, t: _Target) -> None:
    attribute = n.props.get("ttl_attribute")
    if not attribute:
        return
    current = c.describe_time_to_live(TableName=t.name)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        c.update_time_to_live(
            TableName=t.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
        )


def _dynamodb_wanted(n: _New) -> Kw:
    out: Kw = {"billing_mode": str(n.props.get("billing_mode", "PAY_PER_REQUEST")).upper()}
    if out["billing_mode"] == "PROVISIONED":
        out["read_capacity"] = int(n.props.get("read_capacity", 5))
        out["write_capacity"] = int(n.props.get("write_capacity", 5))
    out["ttl_attribute"] = str(n.props.get("ttl_attribute") or "")
    return out


def _dynamodb_current(c: Client, n: _New, t: _Target, found: Kw) -> Kw:
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


def _dynamodb_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    wanted = _dynamodb_wanted(n)
    if {"billing_mode", "read_capacity", "write_capacity"} & set(changed):
        kw: Kw = {"TableName": t.name, "BillingMode": wanted["billing_mode"]}
        if wanted["billing_mode"] == "PROVISIONED":
            kw["ProvisionedThroughput"] = {
                "ReadCapacityUnits": wanted["read_capacity"],
                "WriteCapacityUnits": wanted["write_capacity"],
            }
        c.update_table(**kw)
        c.get_waiter("table_exists").wait(TableName=t.name, WaiterConfig={"Delay": _WAIT_DELAY})
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


def _ddb_backup(c: Client, t: _Target) -> object:
    """An on-demand backup, kept after the table is deleted (restore it from the backup)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return c.create_backup(TableName=t.name, BackupName=f"{t.name}-dpn-archive-{stamp}"[:255])


def _ddb_tags(c: Client, t: _Target, _: Kw) -> Tags:
    tags: Tags = {}
    kw: Kw = {"ResourceArn": t.id}
    while True:
        page = c.list_tags_of_resource(**kw)
        tags |= _from_kv(page.get("Tags"))
        if not page.get("NextToken"):
            return tags
        kw["NextToken"] = page["NextToken"]


# --- SNS, SQS, Step Functions --------------------------------------------------------------


def _flag(value: Any) -> str:
    return "true" if value else "false"


#: settings that are queue/topic attributes: blueprint property -> (attribute, default);
#: the FIFO-only ones are sent for FIFO queues and topics only
_SNS_ATTRIBUTES: dict[str, tuple[str, str]] = {"display_name": ("DisplayName", "")}
_SQS_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "visibility_timeout": ("VisibilityTimeout", "30"),
    "message_retention_seconds": ("MessageRetentionPeriod", "345600"),
    "delay_seconds": ("DelaySeconds", "0"),
}
_FIFO_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "content_based_deduplication": ("ContentBasedDeduplication", "false"),
}


def _attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return _flag(value)
    return str(int(value)) if isinstance(value, int | float) else str(value)


def _attributes_wanted(table: Mapping[str, tuple[str, str]]) -> Callable[[_New], Kw]:
    """A queue's or topic's settings as the blueprint asks, as attribute strings."""

    def wanted(n: _New) -> Kw:
        fifo = _FIFO_ATTRIBUTES if n.props.get("fifo") else {}
        return {
            prop: _attribute_value(n.props[prop]) if n.props.get(prop) is not None else default
            for prop, (_, default) in {**table, **fifo}.items()
        }

    return wanted


def _attributes_current(
    table: Mapping[str, tuple[str, str]], read: Callable[[Client, _Target, Kw], Kw]
) -> Callable[[Client, _New, _Target, Kw], Kw]:
    def current(c: Client, n: _New, t: _Target, found: Kw) -> Kw:
        attributes = read(c, t, found)
        fifo = _FIFO_ATTRIBUTES if n.props.get("fifo") else {}
        return {
            prop: attributes.get(name, default)
            for prop, (name, default) in {**table, **fifo}.items()
        }

    return current


def _names(table: Mapping[str, tuple[str, str]], changed: Kw) -> Tags:
    both = {**table, **_FIFO_ATTRIBUTES}
    return {both[prop][0]: value for prop, value in changed.items()}


def _fifo_attributes(n: _New, table: Mapping[str, tuple[str, str]], kind: str) -> Tags:
    """Create-time attributes: the FIFO flag, and every setting the blueprint gives."""
    given = {k: v for k, v in _attributes_wanted(table)(n).items() if n.props.get(k) is not None}
    out = _names(table, given)
    if n.props.get("fifo"):
        out[kind] = "true"
        out.setdefault("ContentBasedDeduplication", "false")
    return out


def _sns_create(c: Client, n: _New) -> Kw:
    attributes = _fifo_attributes(n, _SNS_ATTRIBUTES, "FifoTopic")
    return dict(c.create_topic(Name=n.name, Attributes=attributes, Tags=_kv(n.tags)))


def _sns_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    for name, value in _names(_SNS_ATTRIBUTES, changed).items():
        c.set_topic_attributes(TopicArn=t.id, AttributeName=name, AttributeValue=value)


def _sqs_create(c: Client, n: _New) -> Kw:
    attributes = _fifo_attributes(n, _SQS_ATTRIBUTES, "FifoQueue")
    return dict(c.create_queue(QueueName=n.name, Attributes=attributes, tags=n.tags))


def _sqs_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    c.set_queue_attributes(QueueUrl=t.id, Attributes=_names(_SQS_ATTRIBUTES, changed))


DEFAULT_STATE_MACHINE: Kw = {
    "Comment": "Created by dpn; replace with the workflow's definition.",
    "StartAt": "Start",
    "States": {"Start": {"Type": "Pass", "End": True}},
}


def _sfn_create(c: Client, n: _New) -> Kw:
    definition = n.props.get("definition") or DEFAULT_STATE_MACHINE
    return dict(
        c.create_state_machine(
            name=n.name,
            definition=definition if isinstance(definition, str) else json.dumps(definition),
            roleArn=n.need("role_ref").resource_id,
            type=str(n.props.get("state_machine_type", "STANDARD")).upper(),
            tags=_kv(n.tags, "key", "value"),
        )
    )


def _sfn_wanted(n: _New) -> Kw:
    definition = n.props.get("definition") or DEFAULT_STATE_MACHINE
    return {"definition": json.loads(definition) if isinstance(definition, str) else definition}


def _sfn_current(c: Client, n: _New, t: _Target, found: Kw) -> Kw:
    return {"definition": json.loads(found["definition"])}


def _sfn_apply(c: Client, n: _New, t: _Target, changed: Kw) -> None:
    c.update_state_machine(stateMachineArn=t.id, definition=json.dumps(changed["definition"]))


def _sfn_arn(t: _Target) -> str:
    return t.arn("states", f"stateMachine:{t.name}")


# --- the table -----------------------------------------------------------------------------

_APIS: dict[str, _Api] = {
    "aws_s3_bucket": _Api(
        "s3",
        create=_s3_create,
        find=_s3_find,
        ident=lambda r, t: t.name,
        tags=_s3_tags,
        tag=lambda c, t, tags: c.put_bucket_tagging(Bucket=t.name, Tagging={"TagSet": _kv(tags)}),
        delete=lambda c, t: c.delete_bucket(Bucket=t.name),
        created=lambda r, t: t.name,
        exclusive=False,
        whole_tag_set=True,
        retag=True,
        configure=_s3_configure,
        clear=_s3_empty_if_ours,
        settings=_settings(
            "versioning lifecycle_days encryption", _s3_wanted, _s3_current, _s3_apply
        ),
    ),
    "aws_glue_database": _Api(
        "glue",
        create=_glue_database_create,
        find=lambda c, t: c.get_database(Name=t.name),
        ident=lambda r, t: t.name,
        tags=_glue_tags("database"),
        tag=_glue_tag("database"),
        delete=lambda c, t: c.delete_database(Name=t.name),
        created=lambda r, t: t.name,
        clear=_glue_database_clear,
        incarnation=lambda r: r["Database"].get("CreateTime"),
        settings=_settings(
            "description location_uri",
            lambda n: _glue_database_settings(_glue_database_input(n)),
            lambda c, n, t, r: _glue_database_settings(r["Database"]),
            _glue_database_apply,
        ),
    ),
    "aws_glue_table": _Api(
        "glue",
        create=_glue_table_create,
        find=lambda c, t: c.get_table(DatabaseName=t.database, Name=t.name),
        ident=lambda r, t: f"{t.database}.{t.name}",
        tags=lambda c, t, r: _markers(r["Table"].get("Parameters", {})),
        tag=None,
        delete=lambda c, t: c.delete_table(DatabaseName=t.database, Name=t.name),
        created=lambda r, t: f"{t.database}.{t.name}",
        incarnation=lambda r: r["Table"].get("CreateTime"),
        settings=_settings(
            "columns partition_keys format location description",
            lambda n: _glue_table_settings(_glue_table_input(n)),
            lambda c, n, t, r: _glue_table_settings(r["Table"]),
            _glue_table_apply,
        ),
    ),
    "aws_glue_crawler": _Api(
        "glue",
        create=_crawler_create,
        find=lambda c, t: c.get_crawler(Name=t.name),
        ident=lambda r, t: t.name,
        tags=_glue_tags("crawler"),
        tag=_glue_tag("crawler"),
        delete=lambda c, t: c.delete_crawler(Name=t.name),
        created=lambda r, t: t.name,
        incarnation=lambda r: r["Crawler"].get("CreationTime"),
    ),
    "aws_lambda_function": _Api(
        "lambda",
        create=_lambda_create,
        find=lambda c, t: c.get_function(FunctionName=t.name),
        ident=lambda r, t: r["Configuration"]["FunctionArn"],
        tags=lambda c, t, r: dict(c.list_tags(Resource=t.id).get("Tags", {})),
        tag=lambda c, t, tags: c.tag_resource(Resource=t.id, Tags=tags),
        delete=lambda c, t: c.delete_function(FunctionName=t.name),
        created=lambda r, t: r["FunctionArn"],
        ready=("function_active_v2", lambda t: {"FunctionName": t.name}),
        settings=_settings(
            " ".join(_LAMBDA_SETTINGS),
            _lambda_wanted,
            _lambda_current,
            _lambda_apply,
            settled=("function_updated_v2", lambda t: {"FunctionName": t.name}),
        ),
    ),
    "aws_iam_role": _Api(
        "iam",
        create=_role_create,
        find=lambda c, t: c.get_role(RoleName=t.name),
        ident=lambda r, t: r["Role"]["Arn"],
        tags=lambda c, t, r: _from_kv(c.list_role_tags(RoleName=t.name).get("Tags")),
        tag=lambda c, t, tags: c.tag_role(RoleName=t.name, Tags=_kv(tags)),
        delete=lambda c, t: c.delete_role(RoleName=t.name),
        created=lambda r, t: r["Role"]["Arn"],
        configure=_role_configure,
        clear=_role_clear,
        incarnation=lambda r: r["Role"].get("RoleId"),
        settings=_settings(
            "trust_policy assume_role_service description max_session_duration managed_policy_arns",
            _role_wanted,
            _role_current,
            _role_apply,
        ),
    ),
    "aws_iam_policy": _Api(
        "iam",
        create=_policy_create,
        find=_policy_find,
        ident=lambda r, t: r["Policy"]["Arn"],
        tags=lambda c, t, r: _from_kv(c.list_policy_tags(PolicyArn=t.id).get("Tags")),
        tag=lambda c, t, tags: c.tag_policy(PolicyArn=t.id, Tags=_kv(tags)),
        delete=lambda c, t: c.delete_policy(PolicyArn=t.id),
        created=lambda r, t: r["Policy"]["Arn"],
        clear=_policy_clear,
        incarnation=lambda r: r["Policy"].get("PolicyId"),
        settings=_settings("policy_document", _policy_document, _policy_current, _policy_apply),
    ),
    "aws_kinesis_stream": _Api(
        "kinesis",
        create=_stream_create,
        find=lambda c, t: c.describe_stream_summary(StreamName=t.name),
        ident=lambda r, t: (
            r["StreamDescriptionSummary"]["StreamARN"]
            if _alive(r["StreamDescriptionSummary"]["StreamStatus"])
            else None
        ),
        tags=_stream_tags,
        tag=lambda c, t, tags: c.add_tags_to_stream(StreamName=t.name, Tags=tags),
        # Consumers are registered by whoever reads the stream: a stream that has any is
        # not deleted (Kinesis refuses), rather than taking them with it.
        delete=lambda c, t: c.delete_stream(StreamName=t.name, EnforceConsumerDeletion=False),
        retag=True,
        incarnation=lambda r: r["StreamDescriptionSummary"].get("StreamCreationTimestamp"),
        ready=("stream_exists", lambda t: {"StreamName": t.name}),
        gone=("stream_not_exists", lambda t: {"StreamName": t.name}),
        configure=_stream_configure,
        settings=_settings(
            "retention_hours shard_count", _stream_wanted, _stream_current, _stream_apply
        ),
    ),
    "aws_kinesis_firehose": _Api(
        "firehose",
        create=_firehose_create,
        find=lambda c, t: c.describe_delivery_stream(DeliveryStreamName=t.name),
        ident=lambda r, t: (
            r["DeliveryStreamDescription"]["DeliveryStreamARN"]
            if _alive(r["DeliveryStreamDescription"]["DeliveryStreamStatus"])
            else None
        ),
        tags=lambda c, t, r: _from_kv(
            c.list_tags_for_delivery_stream(DeliveryStreamName=t.name).get("Tags")
        ),
        tag=lambda c, t, tags: c.tag_delivery_stream(DeliveryStreamName=t.name, Tags=_kv(tags)),
        delete=lambda c, t: c.delete_delivery_stream(DeliveryStreamName=t.name),
        created=lambda r, t: r["DeliveryStreamARN"],
        ready=("DeliveryStreamActive", lambda t: {"DeliveryStreamName": t.name}),
        incarnation=lambda r: r["DeliveryStreamDescription"].get("CreateTimestamp"),
        settings=_settings(
            "buffer_seconds buffer_mb compression prefix",
            lambda n: _firehose_view(_firehose_delivery(n)),
            lambda c, n, t, r: _firehose_view(_firehose_destination(r)[2]),
            _firehose_apply,
        ),
    ),
    "aws_dynamodb_table": _Api(
        "dynamodb",
        create=_dynamodb_create,
        find=lambda c, t: c.describe_table(TableName=t.name),
        ident=lambda r, t: r["Table"]["TableArn"] if _alive(r["Table"]["TableStatus"]) else None,
        tags=_ddb_tags,
        tag=lambda c, t, tags: c.tag_resource(ResourceArn=t.id, Tags=_kv(tags)),
        delete=lambda c, t: c.delete_table(TableName=t.name),
        created=lambda r, t: r["TableDescription"]["TableArn"],
        ready=("table_exists", lambda t: {"TableName": t.name}),
        gone=("table_not_exists", lambda t: {"TableName": t.name}),
        configure=_dynamodb_configure,
        archive=_ddb_backup,
        incarnation=lambda r: r["Table"].get("TableId") or r["Table"].get("CreationDateTime"),
        settings=_settings(
            "billing_mode read_capacity write_capacity ttl_attribute",
            _dynamodb_wanted,
            _dynamodb_current,
            _dynamodb_apply,
        ),
    ),
    "aws_sns_topic": _Api(
        "sns",
        create=_sns_create,
        find=lambda c, t: c.get_topic_attributes(TopicArn=t.arn("sns", t.name)),
        ident=lambda r, t: r["Attributes"]["TopicArn"],
        tags=lambda c, t, r: _from_kv(c.list_tags_for_resource(ResourceArn=t.id).get("Tags")),
        tag=lambda c, t, tags: c.tag_resource(ResourceArn=t.id, Tags=_kv(tags)),
        delete=lambda c, t: c.delete_topic(TopicArn=t.id),
        created=lambda r, t: r["TopicArn"],
        exclusive=False,
        settings=_settings(
            "display_name content_based_deduplication",
            _attributes_wanted(_SNS_ATTRIBUTES),
            _attributes_current(_SNS_ATTRIBUTES, lambda c, t, r: r["Attributes"]),
            _sns_apply,
        ),
    ),
    "aws_sqs_queue": _Api(
        "sqs",
        create=_sqs_create,
        find=lambda c, t: c.get_queue_url(QueueName=t.name),
        ident=lambda r, t: r["QueueUrl"],
        tags=lambda c, t, r: dict(c.list_queue_tags(QueueUrl=t.id).get("Tags", {})),
        tag=lambda c, t, tags: c.tag_queue(QueueUrl=t.id, Tags=tags),
        delete=lambda c, t: c.delete_queue(QueueUrl=t.id),
        created=lambda r, t: r["QueueUrl"],
        exclusive=False,
        settings=_settings(
            "visibility_timeout message_retention_seconds delay_seconds "
            "content_based_deduplication",
            _attributes_wanted(_SQS_ATTRIBUTES),
            _attributes_current(
                _SQS_ATTRIBUTES,
                lambda c, t, r: c.get_queue_attributes(QueueUrl=t.id, AttributeNames=["All"])[
                    "Attributes"
                ],
            ),
            _sqs_apply,
        ),
    ),
    "aws_step_function": _Api(
        "stepfunctions",
        create=_sfn_create,
        find=lambda c, t: c.describe_state_machine(stateMachineArn=_sfn_arn(t)),
        ident=lambda r, t: r["stateMachineArn"] if _alive(r.get("status")) else None,
        tags=lambda c, t, r: _from_kv(
            c.list_tags_for_resource(resourceArn=t.id).get("tags"), "key", "value"
        ),
        tag=lambda c, t, tags: c.tag_resource(resourceArn=t.id, tags=_kv(tags, "key", "value")),
        delete=lambda c, t: c.delete_state_machine(stateMachineArn=t.id),
        created=lambda r, t: r["stateMachineArn"],
        incarnation=lambda r: r.get("creationDate"),
        exclusive=False,
        settings=_settings("definition", _sfn_wanted, _sfn_current, _sfn_apply),
    ),
}

#: the resource types this provider handles
TYPES = frozenset(_APIS)
#: the types that carry tags (a Glue table keeps only dpn's marks, in its parameters)
TAG_TYPES = frozenset(k for k, api in _APIS.items() if api.tag is not None)
#: type -> the blueprint properties `dpn update` changes in place
SETTINGS_TYPES: dict[str, frozenset[str]] = {
    k: api.settings.names for k, api in _APIS.items() if api.settings is not None
}
#: the types `dpn delete --archive` can archive
ARCHIVE_TYPES = frozenset(k for k, api in _APIS.items() if api.archive is not None)
#: the types tagged again after the create call (endpoints that drop create-time tags leave
#: them unmarked until then); see `providers.base.marked_after_create`
LATE_MARKED_TYPES = frozenset(k for k, api in _APIS.items() if api.retag)


# --- the provider --------------------------------------------------------------------------


class AwsProvider:
    """Creates, reads, tags and deletes the `aws_*` types with boto3.

    Clients come from the standard AWS configuration (environment, profile,
    `AWS_ENDPOINT_URL`); `session`, `profile`, `region` and `endpoint_url` override it. The
    region is the first of `region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's, as
    the AWS CLI reads them (botocore alone does not read `AWS_REGION`). One client per
    service (and region) is built on first use and shared by all threads.
    """

    name = "aws"
    tag_types = TAG_TYPES
    archive_types = ARCHIVE_TYPES
    late_marked_types = LATE_MARKED_TYPES
    settings_types = SETTINGS_TYPES

    def __init__(
        self,
        session: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        *,
        profile: str | None = None,
        max_attempts: int = 8,
        wait_timeout: float = 600.0,
        settle_delay: float = 2.0,
    ) -> None:
        import boto3
        from botocore.config import Config

        if session is None:
            region = region or os.environ.get("AWS_REGION") or None
            session = boto3.Session(profile_name=profile, region_name=region)
        self._session = session
        resolved_region = region or self._session.region_name
        if not resolved_region:
            raise AwsConfigError(
                "no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION, or a "
                "profile's region)"
            )
        self.region: str = resolved_region
        self.endpoint_url = endpoint_url
        self.wait_timeout = wait_timeout
        self.settle_delay = settle_delay
        self._config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            user_agent_extra="dpn",
        )
        self._clients: dict[tuple[str, str], Client] = {}
        self._lock = threading.Lock()
        self._account_id: str | None = None

    # --- configuration ---------------------------------------------------------------

    def client(self, service: str, region: str | None = None) -> Client:
        """The shared client of `service` (built once; sessions are not thread-safe)."""
        key = (service, region or self.region)
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = self._session.client(
                        service,
                        region_name=key[1],
                        endpoint_url=self.endpoint_url,
                        config=self._config,
                    )
                    self._clients[key] = client
        return client

    @property
    def account_id(self) -> str:
        if self._account_id is None:
            identity = self.client("sts").get_caller_identity()
            self._account_id = str(identity["Account"])
        return self._account_id

    @property
    def partition(self) -> str:
        return str(self._session.get_partition_for_region(self.region))

    # --- the Provider protocol -------------------------------------------------------

    def create(
        self, op: Operation, txn_id: str, resolved: dict[str, ResourceState]
    ) -> ResourceState:
        api = _api(op.type_key)
        tags = {**op.tags, MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: txn_id}
        region = str(op.properties.get("region") or self.region)
        target = _Target(self, op.name, op.scope)
        new = _New(target, op, tags, resolved, region)
        client = self.client(api.service, region)
        if not api.exclusive:
            existing = self.read(op.type_key, op.name, op.scope)
            if existing is not None:
                return self._adopt(api, client, new, existing)
        try:
            answer = self._settled(api, lambda: api.create(client, new))
        except Exception as exc:
            if not _is(exc, ALREADY_EXISTS, api.service):
                raise
            existing = self.read(op.type_key, op.name, op.scope)
            if existing is None:
                raise
            return self._adopt(api, client, new, existing)
        self._wait(client, api.ready, target)
        resource_id = api.created(answer, target) if api.created else None
        if resource_id is None:
            resource_id = api.ident(api.find(client, target), target)
        if resource_id is None:
            raise AwsProviderError(f"{op.type_key} {op.name}: created, then found deleting")
        return self._finish(api, client, new, resource_id)

    def read(self, type_key: str, name: str, scope: dict[str, str]) -> ResourceState | None:
        api = _api(type_key)
        client = self.client(api.service)
        target = _Target(self, name, scope)
        try:
            found = api.find(client, target)
            resource_id = api.ident(found, target)
            if resource_id is None:
                return None
            target = replace(target, id=resource_id)
            tags = api.tags(client, target, found)
        except Exception as exc:
            if _is(exc, NOT_FOUND, api.service):
                return None
            raise
        incarnation = _incarnation(api.incarnation(found)) if api.incarnation else None
        return ResourceState(type_key, name, resource_id, tags, dict(scope), incarnation)

    def identity(self) -> dict[str, str]:
        """The account and region this provider acts in (STS `GetCallerIdentity`, once)."""
        return {"account": self.account_id, "region": self.region}

    def delete(self, state: ResourceState) -> None:
        api = _api(state.type_key)
        client = self.client(api.service)
        target = _Target(self, state.name, state.scope, state.resource_id)
        try:
            if api.clear is not None:
                api.clear(client, target, state)
            api.delete(client, target)
        except Exception as exc:
            if _is(exc, NOT_FOUND, api.service):
                return
            raise
        self._wait(client, api.gone, target)

    def archive(self, state: ResourceState) -> None:
        """Keep a restorable copy (a DynamoDB backup), then delete. Types in
        `archive_types` only; archiving what is already gone is success."""
        api = _api(state.type_key)
        if api.archive is None:
            raise AwsInputError(f"archive is not supported for {state.type_key}")
        client = self.client(api.service)
        try:
            api.archive(client, _Target(self, state.name, state.scope, state.resource_id))
        except Exception as exc:
            if _is(exc, NOT_FOUND, api.service):
                return
            raise
        self.delete(state)

    def tag(self, state: ResourceState, tags: dict[str, str]) -> None:
        api = _api(state.type_key)
        if api.tag is None or not tags:
            return
        client = self.client(api.service)
        target = _Target(self, state.name, state.scope, state.resource_id)
        if api.whole_tag_set:
            tags = {**api.tags(client, target, {}), **tags}
        api.tag(client, target, tags)

    def update_settings(
        self,
        op: Operation,
        state: ResourceState,
        resolved: dict[str, ResourceState],
        *,
        dry_run: bool = False,
    ) -> list[str]:
        """Change what differs between the blueprint's settings and the cloud's, in place."""
        api = _api(op.type_key)
        if api.settings is None:
            return []
        region = str(op.properties.get("region") or self.region)
        client = self.client(api.service, region)
        target = _Target(self, op.name, op.scope, state.resource_id)
        new = _New(target, op, dict(state.tags), resolved, region)
        wanted = api.settings.wanted(new)
        current = api.settings.current(client, new, target, api.find(client, target))
        changed = {k: v for k, v in wanted.items() if current.get(k) != v}
        if changed and not dry_run:
            api.settings.apply(client, new, target, changed)
            self._wait(client, api.settings.settled, target)
        return sorted(changed)

    # --- helpers ---------------------------------------------------------------------

    def _adopt(
        self, api: _Api, client: Client, new: _New, existing: ResourceState
    ) -> ResourceState:
        """A create found the name taken: finish it if this transaction made it, else refuse."""
        txn_id = new.tags[TXN_TAG_KEY]
        if existing.transaction_id != txn_id:
            owner = (
                f"dpn transaction {existing.transaction_id}"
                if existing.managed_by_dpn
                else "something other than dpn (no managed-by: dpn tag)"
            )
            raise AwsConflictError(
                f"{new.op.type_key} {new.name} already exists, created by {owner}", existing
            )
        self._wait(client, api.ready, new.t)
        return self._finish(api, client, new, existing.resource_id)

    def _finish(self, api: _Api, client: Client, new: _New, resource_id: str) -> ResourceState:
        target = replace(new.t, id=resource_id)
        if api.retag and api.tag is not None:
            api.tag(client, target, new.tags)
        if api.configure is not None:
            api.configure(client, new, target)
        tags = new.tags if api.tag is not None else _markers(new.tags)
        return ResourceState(new.op.type_key, new.name, resource_id, tags, dict(new.op.scope))

    def _settled(self, api: _Api, call: Callable[[], Kw]) -> Kw:
        code, fragment = SETTLING.get(api.service, ("", ""))
        for attempt in range(1, SETTLE_ATTEMPTS + 1):
            try:
                return call()
            except Exception as exc:
                settling = code and error_code(exc) == code and fragment in str(exc)
                if not settling or attempt == SETTLE_ATTEMPTS:
                    raise
            time.sleep(self.settle_delay * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(
        self, client: Client, spec: tuple[str, Callable[[_Target], Kw]] | None, target: _Target
    ) -> None:
        """Block until a botocore waiter succeeds, at most `wait_timeout` seconds."""
        if spec is None:
            return
        name, params = spec
        if name in _CUSTOM_WAITERS:
            from botocore.waiter import WaiterModel, create_waiter_with_client

            model = WaiterModel({"version": 2, "waiters": {name: _CUSTOM_WAITERS[name]}})
            waiter = create_waiter_with_client(name, model, client)
        else:
            waiter = client.get_waiter(name)
        attempts = max(1, math.ceil(self.wait_timeout / _WAIT_DELAY))
        waiter.wait(**params(target), WaiterConfig={"Delay": _WAIT_DELAY, "MaxAttempts": attempts})


def _api(type_key: str) -> _Api:
    try:
        return _APIS[type_key]
    except KeyError:
        raise AwsInputError(f"the AWS provider does not handle {type_key!r}") from None


if TYPE_CHECKING:
    _: Provider = AwsProvider()
