"""What can go wrong: dpn's own errors, and AWS's error codes, per service, in one place.

The code tables are what the shared machinery reads: "no such resource" (deleting it is
success, reading it gives None), "the name is taken" (a create then reads what is there and
adopts it or refuses), and "a role made a moment ago is not visible yet" (IAM is eventually
consistent; a create refused for it is retried a bounded number of times).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dpn_action.providers.base import (
    CONFIGURATION,
    CREDENTIALS,
    ENDPOINT,
    CloudAccessError,
    ResourceState,
)


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
#: visible to the service yet; retried `AwsProvider.settle_delay` seconds (1) after the last
#: attempt began, at most `SETTLE_ATTEMPTS` times (about 30 s): this retry is dpn's wait for
#: IAM propagation (one create per service probes: `propagation`), and
#: it runs only for a create that uses a role
SETTLING: dict[str, tuple[str, str]] = {
    "lambda": ("InvalidParameterValueException", "cannot be assumed"),
    "firehose": ("InvalidArgumentException", "assume role"),
    "stepfunctions": ("AccessDeniedException", "assume the provided role"),
    "glue": ("InvalidInputException", "unable to assume"),
}
SETTLE_ATTEMPTS = 30


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore `ClientError`, else None."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def has_code(exc: BaseException, table: Mapping[str, frozenset[str]], service: str) -> bool:
    """Whether `exc` carries one of `service`'s codes in `table` (`NOT_FOUND`, ...)."""
    return error_code(exc) in table.get(service, frozenset())


# --- the cloud as a whole: endpoint and credentials -----------------------------------------

#: codes STS answers with when it refuses the credentials themselves
REFUSED = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "AuthFailure",
        "RequestExpired",
    }
)

SET_CREDENTIALS = (
    "set AWS_PROFILE to a profile of ~/.aws/config, or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for temporary keys); in GitHub Actions, "
    "aws-actions/configure-aws-credentials with OIDC"
)


def access_error(exc: BaseException, endpoint: str) -> CloudAccessError | None:
    """What `exc`, raised by a call to `endpoint`, says about AWS as a whole: unreachable,
    no credentials, credentials refused; None when it is about something else."""
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    profile = os.environ.get("AWS_PROFILE")
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return CloudAccessError(
            "aws", CREDENTIALS, f"no credentials found ({exc})", SET_CREDENTIALS
        )
    if isinstance(exc, bx.ProfileNotFound):
        return CloudAccessError(
            "aws",
            CREDENTIALS,
            str(exc),
            "set AWS_PROFILE to a profile that exists (`aws configure list-profiles`)",
        )
    if isinstance(
        exc, bx.TokenRetrievalError | bx.SSOTokenLoadError | bx.UnauthorizedSSOTokenError
    ):
        login = f"aws sso login --profile {profile}" if profile else "aws sso login"
        return CloudAccessError(
            "aws", CREDENTIALS, f"the SSO session cannot be used ({exc})", f"run `{login}`"
        )
    if isinstance(exc, bx.NoRegionError):
        return CloudAccessError(
            "aws", CONFIGURATION, "no region configured", "set AWS_REGION (or AWS_DEFAULT_REGION)"
        )
    if isinstance(
        exc,
        bx.EndpointConnectionError
        | bx.ConnectTimeoutError
        | bx.ReadTimeoutError
        | bx.ConnectionClosedError
        | bx.ProxyConnectionError,
    ):
        configured = os.environ.get("AWS_ENDPOINT_URL")
        fix = (
            f"check AWS_ENDPOINT_URL (now {configured})"
            if configured
            else "check the network, a proxy (HTTPS_PROXY) and the region"
        )
        return CloudAccessError(
            "aws", ENDPOINT, f"cannot reach {endpoint} ({type(exc).__name__}: {exc})", fix
        )
    code = error_code(exc)
    if isinstance(exc, ResponseParserError) or (code is not None and code.isdigit()):
        answer = f"HTTP {code} without an AWS error" if code else "an answer AWS would not give"
        return CloudAccessError(
            "aws",
            ENDPOINT,
            f"{endpoint} does not answer as AWS ({answer})",
            "check AWS_ENDPOINT_URL" if os.environ.get("AWS_ENDPOINT_URL") else "check the region",
        )
    if code in REFUSED:
        message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")) or code
        which = f"AWS_PROFILE={profile}" if profile else "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
        return CloudAccessError(
            "aws",
            CREDENTIALS,
            f"the credentials were refused ({code}: {message})",
            f"check {which}; temporary credentials may have expired: renew them",
        )
    return None
