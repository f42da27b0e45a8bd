"""The numeric creation settings of each resource type: the range the cloud accepts, as data.

Every numeric creation property of the catalogue has a `Range` here, with the page where the
cloud documents it (a test fails when one is missing). The ranges are the cloud's hard limits:
a create call with a value outside them is refused. They reach users through the generated
JSON Schema (`minimum`, `maximum`, and the `x-dpn-range` annotation), which the structural
check reads, so editors and `dpn lint` flag the same values (finding `DPN016`).

Where the cloud documents no bound, the bound is the API's own: a count cannot be negative,
and a value cannot exceed the field's integer type (`INT32`, `INT64`). Each such bound says
so in `note`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: the largest value of the APIs' 32- and 64-bit integer fields
INT32 = 2**31 - 1
INT64 = 2**63 - 1

#: the key of dpn's annotation in a generated schema node
SCHEMA_KEY = "x-dpn-range"


@dataclass(frozen=True, slots=True)
class Range:
    """The whole numbers a numeric setting may take: `lo` to `hi`, and `also` if given.

    lo, hi    the inclusive bounds
    source    the page where the cloud documents the range
    unit      what the number counts (seconds, MB, ...), for messages
    also      one more allowed value below `lo`, such as 0 for "off"
    note      how a bound was established when the page does not state it, or where other
              documentation disagrees
    """

    lo: int
    hi: int
    source: str
    unit: str = ""
    also: int | None = None
    note: str = ""

    def describe(self) -> str:
        """'0 to 43200 seconds', '0, or 10 to 10000 minutes'."""
        unit = f" {self.unit}" if self.unit else ""
        span = f"{self.lo} to {self.hi}"
        if self.also is not None:
            return f"{self.also}, or {span}{unit}"
        return f"{span}{unit}"

    def schema(self, title: str) -> dict[str, Any]:
        """JSON Schema keywords for a property with this range (`title`: the resource type).

        Standard keywords carry the bounds, so any JSON Schema validator and editor flags a
        value outside them; `x-dpn-range` lets dpn's own check name the range and its source.
        """
        out: dict[str, Any] = {
            "type": "integer",
            "minimum": self.lo if self.also is None else min(self.lo, self.also),
            "maximum": self.hi,
        }
        if self.also is not None:
            # the gap between the extra value and the range proper
            out["not"] = {"exclusiveMinimum": self.also, "exclusiveMaximum": self.lo}
        out["description"] = f"{title}: {self.describe()} ({self.source})"
        out[SCHEMA_KEY] = {"allowed": self.describe(), "resource": title, "source": self.source}
        return out


# --- sources --------------------------------------------------------------------------------
_SQS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"
_LAMBDA = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html"
_KINESIS = "https://docs.aws.amazon.com/kinesis/latest/APIReference/API_CreateStream.html"
_KINESIS_RETENTION = (
    "https://docs.aws.amazon.com/kinesis/latest/APIReference/API_IncreaseStreamRetentionPeriod.html"
)
_DYNAMO = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ProvisionedThroughput.html"
)
_S3 = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_LifecycleExpiration.html"
_FIREHOSE = "https://docs.aws.amazon.com/firehose/latest/APIReference/API_BufferingHints.html"
_IAM_ROLE = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"
_DBX_CLUSTER = "https://docs.databricks.com/api/workspace/clusters/create"
_DBX_JOB = "https://docs.databricks.com/api/workspace/jobs/create"
_DBX_WH = "https://docs.databricks.com/api/workspace/warehouses/create"
_DBX_POOL = "https://docs.databricks.com/api/workspace/instancepools/create"
_DBX_POLICY = "https://docs.databricks.com/api/workspace/clusterpolicies/create"

_COUNT = "not negative (a count); at most the API's int32 field"
_TYPE_MAX = "no documented maximum: the API's {} type"

#: type key -> property -> range; a property inside an object property is written
#: `object.property` (the cluster's `autoscale.min_workers`)
RANGES: dict[str, dict[str, Range]] = {
    "aws_s3_bucket": {
        "lifecycle_days": Range(
            1,
            INT32,
            _S3,
            "days",
            note="S3 wants 'a non-zero positive integer' for Expiration Days and NoncurrentDays "
            "(dpn sets both from lifecycle_days); no documented maximum: the API's Integer "
            "type. Leave the setting out for no expiry",
        ),
    },
    "aws_lambda_function": {
        "memory_size": Range(
            128,
            32768,
            _LAMBDA,
            "MB",
            note="the API's range; the Lambda developer guide documents 128 to 10,240 MB for "
            "functions without Lambda Managed Instances",
        ),
        "timeout": Range(
            1,
            5400,
            _LAMBDA,
            "seconds",
            note="the API's range; its text gives 1,800 s as the maximum (900 s in the Lambda "
            "developer guide) and 5,400 s only for Lambda Managed Instances",
        ),
    },
    "aws_iam_role": {
        "max_session_duration": Range(3600, 43200, _IAM_ROLE, "seconds"),
    },
    "aws_kinesis_stream": {
        "shard_count": Range(
            1,
            INT32,
            _KINESIS,
            "shards",
            note=_TYPE_MAX.format("Integer") + "; shards per account are an adjustable quota",
        ),
        "retention_hours": Range(
            24,
            8760,
            _KINESIS_RETENTION,
            "hours",
            note="the minimum of 24 hours is documented with DecreaseStreamRetentionPeriod",
        ),
    },
    "aws_kinesis_firehose": {
        "buffer_seconds": Range(0, 900, _FIREHOSE, "seconds"),
        "buffer_mb": Range(1, 128, _FIREHOSE, "MiB"),
    },
    "aws_dynamodb_table": {
        "read_capacity": Range(
            1,
            INT64,
            _DYNAMO,
            "units",
            note=_TYPE_MAX.format("Long") + "; the per-table quota is adjustable",
        ),
        "write_capacity": Range(
            1,
            INT64,
            _DYNAMO,
            "units",
            note=_TYPE_MAX.format("Long") + "; the per-table quota is adjustable",
        ),
    },
    "aws_sqs_queue": {
        "visibility_timeout": Range(0, 43200, _SQS, "seconds"),
        "message_retention_seconds": Range(60, 1209600, _SQS, "seconds"),
        "delay_seconds": Range(0, 900, _SQS, "seconds"),
    },
    "dbx_cluster": {
        "num_workers": Range(0, INT32, _DBX_CLUSTER, "workers", note=_COUNT),
        "autoscale.min_workers": Range(0, INT32, _DBX_CLUSTER, "workers", note=_COUNT),
        "autoscale.max_workers": Range(
            1,
            INT32,
            _DBX_CLUSTER,
            "workers",
            note="'strictly greater than min_workers', so at least 1; at most the API's "
            "int32 field",
        ),
        "autotermination_minutes": Range(
            10, 10000, _DBX_CLUSTER, "minutes", also=0, note="0 turns automatic termination off"
        ),
    },
    "dbx_job": {
        "max_concurrent_runs": Range(0, 1000, _DBX_JOB, "runs", note="0 skips every new run"),
        "timeout_seconds": Range(
            0, INT32, _DBX_JOB, "seconds", note="0 means no timeout; " + _TYPE_MAX.format("int32")
        ),
    },
    "dbx_sql_warehouse": {
        "min_num_clusters": Range(1, 30, _DBX_WH, "clusters"),
        "max_num_clusters": Range(1, 40, _DBX_WH, "clusters"),
        "auto_stop_mins": Range(
            10,
            INT32,
            _DBX_WH,
            "minutes",
            also=0,
            note="0 turns auto stop off; " + _TYPE_MAX.format("int32"),
        ),
    },
    "dbx_instance_pool": {
        "min_idle_instances": Range(0, INT32, _DBX_POOL, "instances", note=_COUNT),
        "max_capacity": Range(0, INT32, _DBX_POOL, "instances", note=_COUNT),
        "idle_instance_autotermination_minutes": Range(0, 10000, _DBX_POOL, "minutes"),
    },
    "dbx_policy": {
        "max_clusters_per_user": Range(
            0,
            INT64,
            _DBX_POLICY,
            "clusters",
            note="not negative (a count); at most the API's int64 field",
        ),
    },
}
