"""Kinesis data streams and Firehose streams (`aws_kinesis_stream`, `aws_kinesis_firehose`).

Both are waited for until active after a create, and a Kinesis stream until gone after a
delete: a stream still being created cannot be deleted, so a rollback right after would
fail. Some endpoints drop the tags given to `CreateStream` (AWS keeps them, moto does not):
the first create reads its tags back, and where they are missing every stream is tagged again
right after its create (`late_marked_types`). A stream is deleted without
`EnforceConsumerDeletion`: consumers are registered by whoever reads it, and a stream that
has any stays rather than taking them with it. A Firehose stream delivers to an S3 bucket
(`bucket_ref`) as a role (`role_ref`), from a Kinesis stream where `stream_ref` names one.
"""

from __future__ import annotations

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
from dpn_action.providers.aws.listing import Listing
from dpn_action.providers.aws.waiters import WAIT_DELAY


def _stream_create(c: Client, n: New) -> Kw:
    kw: Kw = {"StreamName": n.name, "Tags": n.tags}
    if str(n.props.get("stream_mode", "")).upper() == "ON_DEMAND":
        kw["StreamModeDetails"] = {"StreamMode": "ON_DEMAND"}
    else:
        kw["ShardCount"] = int(n.props.get("shard_count", 1))
    return dict(c.create_stream(**kw))


def _stream_configure(c: Client, n: New, t: Target) -> None:
    hours = int(n.props.get("retention_hours") or 24)
    current = c.describe_stream_summary(StreamName=t.name)["StreamDescriptionSummary"]
    if hours > current["RetentionPeriodHours"]:
        c.increase_stream_retention_period(StreamName=t.name, RetentionPeriodHours=hours)


def _stream_wanted(n: New) -> Kw:
    out: Kw = {"retention_hours": int(n.props.get("retention_hours") or 24)}
    if str(n.props.get("stream_mode", "")).upper() != "ON_DEMAND":
        out["shard_count"] = int(n.props.get("shard_count", 1))
    return out


def _stream_current(c: Client, n: New, t: Target, found: Kw) -> Kw:
    summary = found["StreamDescriptionSummary"]
    return {
        "retention_hours": summary["RetentionPeriodHours"],
        "shard_count": summary.get("OpenShardCount"),
    }


def _stream_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    """One change at a time: a stream is UPDATING (and refuses the next) until it settles."""
    waiter = c.get_waiter("stream_exists")
    if "retention_hours" in changed:
        hours = changed["retention_hours"]
        current = _stream_current(c, n, t, c.describe_stream_summary(StreamName=t.name))
        if hours > current["retention_hours"]:
            c.increase_stream_retention_period(StreamName=t.name, RetentionPeriodHours=hours)
        else:
            c.decrease_stream_retention_period(StreamName=t.name, RetentionPeriodHours=hours)
        waiter.wait(StreamName=t.name, WaiterConfig={"Delay": WAIT_DELAY})
    if "shard_count" in changed:
        c.update_shard_count(
            StreamName=t.name,
            TargetShardCount=changed["shard_count"],
            ScalingType="UNIFORM_SCALING",
        )
        waiter.wait(StreamName=t.name, WaiterConfig={"Delay": WAIT_DELAY})


def _stream_tags(c: Client, t: Target, _: Kw) -> Tags:
    tags: Tags = {}
    kw: Kw = {"StreamName": t.name}
    while True:
        page = c.list_tags_for_stream(**kw)
        tags |= from_kv(page.get("Tags"))
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


def _firehose_delivery(n: New) -> Kw:
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


def _firehose_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    found = c.describe_delivery_stream(DeliveryStreamName=t.name)
    version, destination, _ = _firehose_destination(found)
    c.update_destination(
        DeliveryStreamName=t.name,
        CurrentDeliveryStreamVersionId=version,
        DestinationId=destination,
        ExtendedS3DestinationUpdate={"Prefix": "", **_firehose_delivery(n)},
    )


def _firehose_create(c: Client, n: New) -> Kw:
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
        "Tags": kv(n.tags),
    }
    stream = n.ref("stream_ref")
    if stream is not None:
        kw["DeliveryStreamType"] = "KinesisStreamAsSource"
        kw["KinesisStreamSourceConfiguration"] = {
            "KinesisStreamARN": stream.resource_id,
            "RoleARN": role,
        }
    return dict(c.create_delivery_stream(**kw))


APIS: dict[str, Api] = {
    "aws_kinesis_stream": Api(
        "kinesis",
        properties=words("stream_mode shard_count retention_hours"),
        create=_stream_create,
        find=lambda c, t: c.describe_stream_summary(StreamName=t.name),
        ident=lambda r, t: (
            r["StreamDescriptionSummary"]["StreamARN"]
            if alive(r["StreamDescriptionSummary"]["StreamStatus"])
            else None
        ),
        tags=_stream_tags,
        tag=lambda c, t, tags: c.add_tags_to_stream(StreamName=t.name, Tags=tags),
        # Consumers are registered by whoever reads the stream: a stream that has any is
        # not deleted (Kinesis refuses), rather than taking them with it.
        delete=lambda c, t: c.delete_stream(StreamName=t.name, EnforceConsumerDeletion=False),
        # CreateStream answers nothing: the ARN is made from the name
        created=lambda r, t: t.arn("kinesis", f"stream/{t.name}"),
        retag=True,
        incarnation=lambda r: r["StreamDescriptionSummary"].get("StreamCreationTimestamp"),
        ready=("stream_exists", lambda t: {"StreamName": t.name}),
        gone=("stream_not_exists", lambda t: {"StreamName": t.name}),
        configure=_stream_configure,
        # a new stream keeps its records 24 hours; only a longer retention is a call
        configure_when=lambda n: int(n.props.get("retention_hours") or 24) > 24,
        listing=Listing(
            "list_streams",
            "StreamNames",
            name=lambda n: n,
            ident=lambda n, t: t.arn("kinesis", f"stream/{t.name}"),
            page_size=("Limit", 10000),
            after=("HasMoreStreams", "ExclusiveStartStreamName"),
        ),
        settings=settings(
            "retention_hours shard_count", _stream_wanted, _stream_current, _stream_apply
        ),
    ),
    "aws_kinesis_firehose": Api(
        "firehose",
        properties=words("compression buffer_seconds buffer_mb prefix"),
        refs=words("role_ref bucket_ref stream_ref"),
        create=_firehose_create,
        find=lambda c, t: c.describe_delivery_stream(DeliveryStreamName=t.name),
        ident=lambda r, t: (
            r["DeliveryStreamDescription"]["DeliveryStreamARN"]
            if alive(r["DeliveryStreamDescription"]["DeliveryStreamStatus"])
            else None
        ),
        tags=lambda c, t, r: from_kv(
            c.list_tags_for_delivery_stream(DeliveryStreamName=t.name).get("Tags")
        ),
        tag=lambda c, t, tags: c.tag_delivery_stream(DeliveryStreamName=t.name, Tags=kv(tags)),
        delete=lambda c, t: c.delete_delivery_stream(DeliveryStreamName=t.name),
        created=lambda r, t: r["DeliveryStreamARN"],
        ready=("DeliveryStreamActive", lambda t: {"DeliveryStreamName": t.name}),
        # reading from a stream that is still being made is refused
        needs_ready=words("stream_ref"),
        listing=Listing(
            "list_delivery_streams",
            "DeliveryStreamNames",
            name=lambda n: n,
            ident=lambda n, t: t.arn("firehose", f"deliverystream/{t.name}"),
            page_size=("Limit", 10000),
            after=("HasMoreDeliveryStreams", "ExclusiveStartDeliveryStreamName"),
        ),
        incarnation=lambda r: r["DeliveryStreamDescription"].get("CreateTimestamp"),
        settings=settings(
            "buffer_seconds buffer_mb compression prefix",
            lambda n: _firehose_view(_firehose_delivery(n)),
            lambda c, n, t, r: _firehose_view(_firehose_destination(r)[2]),
            _firehose_apply,
        ),
    ),
}
