"""The resource-type catalogue: everything dpn knows about each of the 27 types, as data.

Adding a type is adding one entry here (and one provider mapping). Each cloud rule carries
the address of the page where the cloud documents it; so does the range of each numeric
creation setting (kept in the sibling `ranges.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dpn_action.naming.name_rules import NAME_RULES
from dpn_action.naming.ranges import RANGES, Range
from dpn_action.naming.rules import Rule

# JSON types of creation properties (as in JSON Schema)
S, I, B, A, O, N = "string", "integer", "boolean", "array", "object", "number"  # noqa: E741


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A creation property whose value names a file of the repository, which the provider
    reads when it creates the resource (a Lambda function's zip archive).

    The path is written relative to the blueprint file; it must stay inside the repository,
    name a regular file and be at most `max_bytes` (the cloud's own limit, documented at
    `source`). Plans carry it relative to the repository root (`dpn_action.blueprint.files`).
    """

    #: the keys from the entry down to the value: ("code", "zip_file") is `code.zip_file`
    keys: tuple[str, ...]
    max_bytes: int
    source: str
    #: what to do with a larger file
    too_large: str = ""

    @property
    def label(self) -> str:
        return ".".join(self.keys)


@dataclass(frozen=True, slots=True)
class ResourceType:
    key: str
    provider: str  # "aws" | "databricks"
    title: str
    #: where entries live in a blueprint: a path under `resources`, or (parent type, key)
    collection: tuple[str, ...]
    pattern: str
    rules: tuple[Rule, ...]
    #: the character class (regex class body) naming values are normalised to; it always
    #: holds the separator, so a value is only rewritten where the type forbids a character
    value_chars: str
    separator: str
    #: placeholders of the default pattern that may be missing (their segment is dropped);
    #: every other placeholder of the default pattern is required
    optional: tuple[str, ...] = ()
    defaults: dict[str, str] = field(default_factory=dict)
    #: name is folded to lower case by the cloud (or must be lower case)
    lowercase: bool = False
    #: uniqueness: "global", "account", "region", "workspace", "metastore" or "parent"
    unique_scope: str = "region"
    case_insensitive: bool = False
    #: reference field -> target type
    refs: dict[str, str] = field(default_factory=dict)
    #: creation property -> JSON type(s)
    properties: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    parent: str | None = None
    #: the reference field naming the parent a type is named within (Glue table -> database)
    parent_ref: str | None = None
    #: the short key the original tool used to refer to an entry of this type
    short_key: str | None = None
    supports_tags: bool = True
    #: a FIFO resource's name carries this suffix (SQS, SNS)
    fifo_suffix: str | None = None
    #: creation properties whose values may carry secrets (environment variables, inline
    #: code, job parameters): the write-ahead log keeps only their digests
    sensitive: tuple[str, ...] = ()
    #: creation property -> the kind of IAM policy document it holds: "trust" (who may
    #: assume a role) or "permissions" (what is allowed)
    policies: dict[str, str] = field(default_factory=dict)
    #: creation property -> the only keys its object may have (the fields of the request
    #: type the cloud's SDK builds from it, which drops any other key without a word)
    object_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def ranges(self) -> dict[str, Range]:
        """Numeric creation setting (`autoscale.min_workers` inside an object) -> the range
        the cloud accepts, from `ranges.py`."""
        return RANGES.get(self.key, {})

    #: creation properties that name a local file (read when the resource is created)
    local_files: tuple[LocalFile, ...] = ()

    @property
    def max_length(self) -> int | None:
        """The longest name the type's hard length rule allows (None: no limit)."""
        for r in self.rules:
            if r.kind == "length" and r.hard:
                hi: int | None = r.arg[1]
                return hi
        return None

    @property
    def fit_length(self) -> int | None:
        """The length `on_too_long: hash` fits a name to: the shortest any length rule allows
        (an advised or house limit too, so a shortened name draws no warning either)."""
        limits = [r.arg[1] for r in self.rules if r.kind == "length" and r.arg[1] is not None]
        return min(limits) if limits else None

    @property
    def length_unit(self) -> str:
        for r in self.rules:
            if r.kind == "length" and r.hard:
                return str(r.opts.get("unit", "chars"))
        return "chars"

    @property
    def article(self) -> str:
        """'a' or 'an', as the title is spoken: an S3 bucket, an IAM role, a SQL warehouse."""
        return article(self.title)

    @property
    def required(self) -> frozenset[str]:
        """Variables that must have a value for the default pattern."""
        return frozenset(self.placeholders()) - set(self.optional) - set(self.defaults)

    @property
    def collection_label(self) -> str:
        if self.parent is not None:
            return f"{CATALOGUE[self.parent].collection_label}[].{self.collection[-1]}"
        return ".".join(self.collection)

    def placeholders(self, pattern: str | None = None) -> list[str]:
        return PLACEHOLDER.findall(pattern if pattern is not None else self.pattern)


PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: initialisms that are spoken letter by letter but start with a consonant sound anyway
#: ("a SQL warehouse", as Databricks writes it)
_SPOKEN_AS_WORDS = ("SQL",)


def article(title: str) -> str:
    """The indefinite article of a resource title: 'an' before a vowel sound."""
    word = title.split()[0] if title.split() else ""
    if word in _SPOKEN_AS_WORDS:
        return "a"
    if (len(word) > 1 and word[:2].isupper()) or any(c.isdigit() for c in word):
        # an initialism, spoken letter by letter: an S3, an IAM, an SNS
        return "an" if word[0] in "AEFHILMNORSX" else "a"
    return "an" if word[:1].lower() in "aeio" else "a"


_LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"


def _uc(parent: str | None, **kw: Any) -> dict[str, Any]:
    """Shared rules of Unity Catalog securables (catalog, schema, table, volume)."""
    return {
        "value_chars": "a-z0-9_",
        "separator": "_",
        "lowercase": True,
        "case_insensitive": True,
        "parent": parent,
        "supports_tags": False,
        **kw,
    }


_TYPES: tuple[ResourceType, ...] = (
    # ---------------------------------------------------------------- AWS
    ResourceType(
        key="aws_s3_bucket",
        provider="aws",
        title="S3 bucket",
        collection=("aws", "s3_buckets"),
        pattern="{project}-{purpose}-{layer}-{environment}-{region_short}",
        rules=NAME_RULES["aws_s3_bucket"],
        value_chars="a-z0-9.-",
        separator="-",
        lowercase=True,
        unique_scope="global",
        properties={
            "versioning": B,
            "lifecycle_days": I,
            "encryption": S,
            "object_lock": B,
            "region": S,
        },
    ),
    ResourceType(
        key="aws_glue_database",
        provider="aws",
        title="Glue database",
        collection=("aws", "glue_databases"),
        pattern="{project}_{domain}_{layer}_{environment}",
        rules=NAME_RULES["aws_glue_database"],
        value_chars="a-z0-9_",
        separator="_",
        lowercase=True,
        case_insensitive=True,
        properties={"description": S, "location_uri": S},
        short_key="{domain}-{layer}",
    ),
    ResourceType(
        key="aws_glue_table",
        provider="aws",
        title="Glue table",
        collection=("aws", "glue_tables"),
        pattern="{table_type}_{entity}",
        rules=NAME_RULES["aws_glue_table"],
        value_chars="a-z0-9_",
        separator="_",
        lowercase=True,
        case_insensitive=True,
        defaults={"table_type": "fact"},
        unique_scope="parent",
        refs={"database_ref": "aws_glue_database"},
        parent_ref="database_ref",
        properties={
            "columns": A,
            "partition_keys": A,
            "description": S,
            "location": S,
            "format": S,
        },
        supports_tags=False,
    ),
    ResourceType(
        key="aws_glue_crawler",
        provider="aws",
        title="Glue crawler",
        collection=("aws", "glue_crawlers"),
        pattern="{project}-{environment}-crawler-{database}-{source}",
        rules=NAME_RULES["aws_glue_crawler"],
        value_chars="A-Za-z0-9_-",
        separator="-",
        refs={
            "database_ref": "aws_glue_database",
            "role_ref": "aws_iam_role",
            "bucket_ref": "aws_s3_bucket",
        },
        properties={"targets": A, "s3_path": S, "schedule_expression": S, "description": S},
    ),
    ResourceType(
        key="aws_lambda_function",
        provider="aws",
        title="Lambda function",
        collection=("aws", "lambda_functions"),
        pattern="{project}-{environment}-{domain}-{trigger}-{action}",
        rules=NAME_RULES["aws_lambda_function"],
        value_chars="A-Za-z0-9_-",
        separator="-",
        refs={"role_ref": "aws_iam_role"},
        properties={
            "runtime": S,
            "handler": S,
            "memory_size": I,
            "timeout": I,
            "code": (S, O),
            "environment_variables": O,
            "description": S,
        },
        sensitive=("code", "environment_variables"),
        # a deployment package uploaded directly (not from S3): 50 MB, zipped
        local_files=(
            LocalFile(
                ("code", "zip_file"),
                50 * 1024 * 1024,
                _LAMBDA_QUOTAS,
                "Lambda takes a zip of at most 50 MiB directly; upload a larger one to S3 "
                "and name it with code.s3_bucket and code.s3_key",
            ),
        ),
    ),
    ResourceType(
        key="aws_iam_role",
        provider="aws",
        title="IAM role",
        collection=("aws", "iam_roles"),
        pattern="{project}-{environment}-{service}-{purpose}-role",
        rules=NAME_RULES["aws_iam_role"],
        value_chars="A-Za-z0-9_+=,.@-",
        separator="-",
        unique_scope="account",
        case_insensitive=True,
        properties={
            "trust_policy": O,
            "assume_role_service": S,
            "managed_policy_arns": A,
            "description": S,
            "max_session_duration": I,
            "path": S,
        },
        policies={"trust_policy": "trust"},
    ),
    ResourceType(
        key="aws_iam_policy",
        provider="aws",
        title="IAM policy",
        collection=("aws", "iam_policies"),
        pattern="{project}-{environment}-{service}-{purpose}-policy",
        rules=NAME_RULES["aws_iam_policy"],
        value_chars="A-Za-z0-9_+=,.@-",
        separator="-",
        unique_scope="account",
        case_insensitive=True,
        properties={"policy_document": O, "description": S, "path": S},
        policies={"policy_document": "permissions"},
    ),
    ResourceType(
        key="aws_kinesis_stream",
        provider="aws",
        title="Kinesis data stream",
        collection=("aws", "kinesis_streams"),
        pattern="{project}-{environment}-{domain}-{source}-stream",
        rules=NAME_RULES["aws_kinesis_stream"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        properties={"shard_count": I, "retention_hours": I, "stream_mode": S},
    ),
    ResourceType(
        key="aws_kinesis_firehose",
        provider="aws",
        title="Firehose stream",
        collection=("aws", "kinesis_firehoses"),
        pattern="{project}-{environment}-{domain}-to-{destination}",
        rules=NAME_RULES["aws_kinesis_firehose"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        refs={
            "bucket_ref": "aws_s3_bucket",
            "role_ref": "aws_iam_role",
            "stream_ref": "aws_kinesis_stream",
        },
        properties={"buffer_seconds": I, "buffer_mb": I, "prefix": S, "compression": S},
    ),
    ResourceType(
        key="aws_dynamodb_table",
        provider="aws",
        title="DynamoDB table",
        collection=("aws", "dynamodb_tables"),
        pattern="{project}-{environment}-{entity}-{purpose}",
        rules=NAME_RULES["aws_dynamodb_table"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        properties={
            "partition_key": (S, O),
            "sort_key": (S, O),
            "billing_mode": S,
            "read_capacity": I,
            "write_capacity": I,
            "ttl_attribute": S,
        },
    ),
    ResourceType(
        key="aws_sns_topic",
        provider="aws",
        title="SNS topic",
        collection=("aws", "sns_topics"),
        pattern="{project}-{environment}-{event_type}-{purpose}",
        rules=NAME_RULES["aws_sns_topic"],
        value_chars="A-Za-z0-9_-",
        separator="-",
        fifo_suffix=".fifo",
        properties={"fifo": B, "content_based_deduplication": B, "display_name": S},
    ),
    ResourceType(
        key="aws_sqs_queue",
        provider="aws",
        title="SQS queue",
        collection=("aws", "sqs_queues"),
        pattern="{project}-{environment}-{purpose}-{queue_type}",
        rules=NAME_RULES["aws_sqs_queue"],
        value_chars="A-Za-z0-9_-",
        separator="-",
        fifo_suffix=".fifo",
        properties={
            "fifo": B,
            "content_based_deduplication": B,
            "visibility_timeout": I,
            "message_retention_seconds": I,
            "delay_seconds": I,
        },
    ),
    ResourceType(
        key="aws_step_function",
        provider="aws",
        title="Step Functions state machine",
        collection=("aws", "step_functions"),
        pattern="{project}-{environment}-{workflow}-{purpose}",
        rules=NAME_RULES["aws_step_function"],
        value_chars="A-Za-z0-9_-",
        separator="-",
        refs={"role_ref": "aws_iam_role"},
        properties={"definition": (O, S), "state_machine_type": S},
    ),
    # ---------------------------------------------------------------- Databricks
    ResourceType(
        key="dbx_workspace",
        provider="databricks",
        title="Workspace",
        collection=("databricks", "workspaces"),
        pattern="dbx-{project}-{purpose}-{environment}-{region_short}",
        rules=NAME_RULES["dbx_workspace"],
        value_chars="a-z0-9-",
        separator="-",
        lowercase=True,
        unique_scope="account",
        properties={
            "aws_region": S,
            "credentials_id": S,
            "storage_configuration_id": S,
            "network_id": S,
            "pricing_tier": S,
        },
    ),
    ResourceType(
        key="dbx_cluster",
        provider="databricks",
        title="Cluster",
        collection=("databricks", "clusters"),
        pattern="{project}-{workload}-{cluster_type}-{environment}",
        rules=NAME_RULES["dbx_cluster"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        unique_scope="workspace",
        refs={"instance_pool_ref": "dbx_instance_pool", "policy_ref": "dbx_policy"},
        properties={
            "node_type": S,
            "spark_version": S,
            "autoscale": O,
            "num_workers": I,
            "autotermination_minutes": I,
            "driver_node_type": S,
            "spark_conf": O,
            "data_security_mode": S,
            "runtime_engine": S,
        },
        sensitive=("spark_conf",),
        object_keys={"autoscale": ("min_workers", "max_workers")},
        short_key="{workload}",
    ),
    ResourceType(
        key="dbx_job",
        provider="databricks",
        title="Job",
        collection=("databricks", "jobs"),
        pattern="{project}-{job_type}-{purpose}-{schedule}-{environment}",
        rules=NAME_RULES["dbx_job"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        unique_scope="workspace",
        optional=("schedule",),
        refs={"cluster_ref": "dbx_cluster"},
        properties={
            "tasks": A,
            "cron": S,
            "timezone": S,
            "max_concurrent_runs": I,
            "email_notifications": O,
            "timeout_seconds": I,
            "description": S,
        },
        sensitive=("tasks",),
        object_keys={
            "email_notifications": (
                "on_start",
                "on_success",
                "on_failure",
                "on_duration_warning_threshold_exceeded",
                "on_streaming_backlog_exceeded",
                "on_maintenance_start",
                "on_maintenance_complete",
                "no_alert_for_skipped_runs",
            )
        },
    ),
    ResourceType(
        key="dbx_notebook_path",
        provider="databricks",
        title="Notebook path",
        collection=("databricks", "notebooks"),
        pattern="/{project}/{domain}/{purpose}/{environment}/{notebook_name}",
        rules=NAME_RULES["dbx_notebook_path"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        unique_scope="workspace",
        properties={"language": S, "content": S, "format": S},
        sensitive=("content",),
        supports_tags=False,
    ),
    ResourceType(
        key="dbx_repo",
        provider="databricks",
        title="Repo",
        collection=("databricks", "repos"),
        pattern="{project}-{repo_purpose}-{environment}",
        rules=NAME_RULES["dbx_repo"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        unique_scope="workspace",
        properties={"url": S, "git_provider": S, "branch": S, "folder": S},
        supports_tags=False,
    ),
    ResourceType(
        key="dbx_pipeline",
        provider="databricks",
        title="Lakeflow declarative pipeline",
        collection=("databricks", "pipelines"),
        pattern="{project}-{pipeline_type}-{source}-{target}-{environment}",
        rules=NAME_RULES["dbx_pipeline"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        unique_scope="workspace",
        refs={"catalog_ref": "dbx_catalog"},
        properties={
            "libraries": A,
            "continuous": B,
            "development": B,
            "serverless": B,
            "channel": S,
            "edition": S,
            "configuration": O,
            "target_schema": S,
        },
        sensitive=("configuration",),
    ),
    ResourceType(
        key="dbx_sql_warehouse",
        provider="databricks",
        title="SQL warehouse",
        collection=("databricks", "sql_warehouses"),
        pattern="{project}-sql-{purpose}-{size}-{environment}",
        rules=NAME_RULES["dbx_sql_warehouse"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        unique_scope="workspace",
        properties={
            "cluster_size": S,
            "min_num_clusters": I,
            "max_num_clusters": I,
            "auto_stop_mins": I,
            "warehouse_type": S,
            "enable_serverless_compute": B,
        },
    ),
    ResourceType(
        key="dbx_catalog",
        rules=NAME_RULES["dbx_catalog"],
        provider="databricks",
        title="Unity Catalog catalog",
        collection=("databricks", "unity_catalog", "catalogs"),
        pattern="{project}_{catalog_type}_{environment}",
        **_uc(
            None,
            unique_scope="metastore",
            properties={"storage_root": S, "comment": S, "schemas": A},
        ),
    ),
    ResourceType(
        key="dbx_schema",
        rules=NAME_RULES["dbx_schema"],
        provider="databricks",
        title="Unity Catalog schema",
        collection=("schemas",),
        pattern="{domain}_{layer}",
        **_uc(
            "dbx_catalog",
            unique_scope="parent",
            properties={"storage_root": S, "comment": S, "tables": A, "volumes": A},
        ),
    ),
    ResourceType(
        key="dbx_table",
        rules=NAME_RULES["dbx_table"],
        provider="databricks",
        title="Unity Catalog table",
        collection=("tables",),
        pattern="{table_type}_{entity}",
        **_uc(
            "dbx_schema",
            unique_scope="parent",
            defaults={"table_type": "fact"},
            properties={
                "columns": A,
                "comment": S,
                "data_source_format": S,
                "storage_location": S,
                "partition_columns": A,
            },
        ),
    ),
    ResourceType(
        key="dbx_volume",
        rules=NAME_RULES["dbx_volume"],
        provider="databricks",
        title="Unity Catalog volume",
        collection=("volumes",),
        pattern="{data_type}_{purpose}",
        **_uc(
            "dbx_schema",
            unique_scope="parent",
            properties={"volume_type": S, "storage_location": S, "comment": S},
        ),
    ),
    ResourceType(
        key="dbx_secret_scope",
        provider="databricks",
        title="Secret scope",
        collection=("databricks", "secret_scopes"),
        pattern="{project}-{purpose}-{environment}",
        rules=NAME_RULES["dbx_secret_scope"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        unique_scope="workspace",
        case_insensitive=True,
        properties={"backend_type": S, "initial_manage_principal": S},
        supports_tags=False,
    ),
    ResourceType(
        key="dbx_instance_pool",
        provider="databricks",
        title="Instance pool",
        collection=("databricks", "instance_pools"),
        pattern="{project}-pool-{node_type}-{purpose}-{environment}",
        rules=NAME_RULES["dbx_instance_pool"],
        value_chars="A-Za-z0-9_-",
        separator="-",
        unique_scope="workspace",
        properties={
            "node_type_id": S,
            "min_idle_instances": I,
            "max_capacity": I,
            "idle_instance_autotermination_minutes": I,
        },
    ),
    ResourceType(
        key="dbx_policy",
        provider="databricks",
        title="Cluster policy",
        collection=("databricks", "policies"),
        pattern="{project}-{target}-{policy_type}-{environment}",
        rules=NAME_RULES["dbx_policy"],
        value_chars="A-Za-z0-9_.-",
        separator="-",
        unique_scope="workspace",
        properties={"definition": (O, S), "max_clusters_per_user": I, "description": S},
        supports_tags=False,
    ),
)

CATALOGUE: dict[str, ResourceType] = {t.key: t for t in _TYPES}

#: child types of each parent, in catalogue order
CHILDREN: dict[str, list[ResourceType]] = {}
for _t in _TYPES:
    if _t.parent is not None:
        CHILDREN.setdefault(_t.parent, []).append(_t)

#: top-level collections: ("aws", "s3_buckets") -> type
COLLECTIONS: dict[tuple[str, ...], ResourceType] = {
    t.collection: t for t in _TYPES if t.parent is None
}

#: keys every entry may carry, whatever its type
COMMON_ENTRY_KEYS: dict[str, str | tuple[str, ...]] = {
    "id": S,
    "name": S,
    "tags": O,
    "depends_on": A,
    "on_too_long": S,
    "keep": A,
    "description": S,
    "comment": S,
}

#: variable names dpn knows without any configuration (metadata and common values)
KNOWN_VARIABLES = frozenset(
    {
        "project",
        "environment",
        "region",
        "region_short",
        "team",
        "cost_center",
        "data_classification",
        "owner",
        "account",
        "workspace",
    }
)

#: every variable of a built-in pattern (an entry of any type may carry one for a pattern of
#: naming-patterns.yaml that uses it)
PATTERN_VARIABLES = frozenset(v for t in _TYPES for v in t.placeholders())
