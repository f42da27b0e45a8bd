"""The AWS provider: the 13 `aws_*` resource types through boto3.

What each type needs is data: one `Api` entry per type says which service it lives in, how
to create, find, tag and delete it, and which blueprint properties and references it takes.
The code around the entries is shared, so adding a type is adding one entry in the module of
its service (and, where the cloud asks for more than one call, one small builder function
next to it). Importing this package costs nothing: `import boto3` happens when an
`AwsProvider` is constructed, never at import time.

One module per service, assembled by a registry:

| module | what lives there |
|---|---|
| `provider` | `AwsProvider`: create, read, delete, archive, tag, update, alike for all |
| `registry` | the `Api` entries of the service modules, and the type sets derived from them |
| `api` | `Api`, the data of one type; `Target` and `New`, what its calls work with; tag shapes |
| `errors` | dpn's errors; AWS's error codes per service (not found, taken, not yet visible) |
| `waiters` | waiting until a resource is usable or gone, and the waiters botocore does not ship |
| `pacing` | the request rates the services publish, and the hook that keeps a client to them |
| `propagation` | waiting for IAM to propagate a role the run made: one create per service probes |
| `listing` | how each type is listed for the pre-flight |
| `s3` | buckets (and emptying one that is dpn's before its delete) |
| `glue` | databases, tables, crawlers |
| `lambda_functions` | functions (and the forms of their `code`) |
| `iam` | roles, managed policies |
| `streams` | Kinesis data streams, Firehose streams |
| `dynamodb` | tables (and their archive: an on-demand backup) |
| `messaging` | SNS topics, SQS queues |
| `stepfunctions` | state machines |

Ownership. Every create carries the tags `managed-by: dpn` and `dpn-transaction: <id>` (plus
the blueprint's tags) in the create call itself wherever the API accepts tags there, so a
resource never exists untagged and an in-doubt create can be resolved by `read`. Where an
endpoint may drop create-time tags (S3, Kinesis), the first create reads them back, and
where the endpoint dropped them every resource is tagged again right after its create.
Glue tables have no tags; dpn keeps the two ownership markers in the table's `Parameters`
instead and `read` reports them as tags (only those two; `tag` is a no-op for Glue tables).

Idempotent create. A create that finds the name taken reads what is there: a resource
carrying this transaction's id is adopted, anything else is a conflict (`provider`).

Waiting. Kinesis streams, Firehose streams, DynamoDB tables and Lambda functions are waited
for until usable, bounded by `wait_timeout` (`waiters`); a resource the cloud is deleting
reads as absent.

Deleting. Every delete goes through the one ownership check (`providers.base.not_ours`)
first; what only AWS shows is checked by the type's `clear` right before its delete call: a
bucket is emptied only if it is dpn's bucket of that transaction (`s3`), a Glue database
still holding tables is kept (`glue`), a policy attached to what is not dpn's and a role in
an instance profile are kept (`iam`), and a Kinesis stream with consumers stays (`streams`).

Retries. Clients use botocore's `adaptive` retry mode (throttling and 5xx) and keep to the
request rates their services publish (`pacing`), and one extra, bounded retry covers a known
gap: a role created a moment ago is not yet visible to Lambda, Glue, Firehose or Step
Functions (IAM is eventually consistent); for roles the run made, one create per service
probes and the others wait for it (`propagation`).
"""

from __future__ import annotations

from dpn_action.providers.aws.api import Api
from dpn_action.providers.aws.errors import (
    ALREADY_EXISTS,
    NOT_FOUND,
    SETTLE_ATTEMPTS,
    SETTLING,
    AwsConfigError,
    AwsConflictError,
    AwsInputError,
    AwsProviderError,
    error_code,
)
from dpn_action.providers.aws.glue import GLUE_FORMATS
from dpn_action.providers.aws.iam import (
    DEFAULT_ROLE_SERVICES,
    PLACEHOLDER_POLICY,
    POLICY_VERSIONS,
    trust_policy,
)
from dpn_action.providers.aws.lambda_functions import LAMBDA_CODE_KEYS, lambda_code
from dpn_action.providers.aws.provider import AwsProvider
from dpn_action.providers.aws.registry import (
    APIS,
    ARCHIVE_TYPES,
    HANDLED,
    LATE_MARKED_TYPES,
    SETTINGS_TYPES,
    TAG_TYPES,
    TYPES,
)
from dpn_action.providers.aws.s3 import LIFECYCLE_RULE
from dpn_action.providers.aws.stepfunctions import DEFAULT_STATE_MACHINE

__all__ = [
    "ALREADY_EXISTS",
    "APIS",
    "ARCHIVE_TYPES",
    "DEFAULT_ROLE_SERVICES",
    "DEFAULT_STATE_MACHINE",
    "GLUE_FORMATS",
    "HANDLED",
    "LAMBDA_CODE_KEYS",
    "LATE_MARKED_TYPES",
    "LIFECYCLE_RULE",
    "NOT_FOUND",
    "PLACEHOLDER_POLICY",
    "POLICY_VERSIONS",
    "SETTINGS_TYPES",
    "SETTLE_ATTEMPTS",
    "SETTLING",
    "TAG_TYPES",
    "TYPES",
    "Api",
    "AwsConfigError",
    "AwsConflictError",
    "AwsInputError",
    "AwsProvider",
    "AwsProviderError",
    "error_code",
    "lambda_code",
    "trust_policy",
]
