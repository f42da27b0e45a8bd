"""What can go wrong: dpn's own errors, and AWS's error codes, per service, in one place.

The code tables are what the shared machinery reads: "no such resource" (deleting it is
success, reading it gives None), "the name is taken" (a create then reads what is there and
adopts it or refuses), and "a role made a moment ago is not visible yet" (IAM is eventually
consistent; a create refused for it is retried a bounded number of times).
"""

from __future__ import annotations

from collections.abc import Mapping

from dpn_action.providers.base import ResourceState


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

#: codes a delete answers with while the resource is still being made (wait, then delete)
BUSY: dict[str, frozenset[str]] = {
    "dynamodb": frozenset({"ResourceInUseException"}),
    "kinesis": frozenset({"ResourceInUseException"}),
    "firehose": frozenset({"ResourceInUseException"}),
}

#: (code, message fragment) of a create refused because a role made moments ago is not
#: visible to the service yet; retried every `AwsProvider.settle_delay` seconds (2), at most
#: `SETTLE_ATTEMPTS` times (about 30 s): this retry is dpn's wait for IAM propagation, and
#: it runs only for a create that uses a role
SETTLING: dict[str, tuple[str, str]] = {
    "lambda": ("InvalidParameterValueException", "cannot be assumed"),
    "firehose": ("InvalidArgumentException", "assume role"),
    "stepfunctions": ("AccessDeniedException", "assume the provided role"),
    "glue": ("InvalidInputException", "unable to assume"),
}
SETTLE_ATTEMPTS = 16


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore `ClientError`, else None."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def has_code(exc: BaseException, table: Mapping[str, frozenset[str]], service: str) -> bool:
    """Whether `exc` carries one of `service`'s codes in `table` (`NOT_FOUND`, ...)."""
    return error_code(exc) in table.get(service, frozenset())
