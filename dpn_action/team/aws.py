"""What the S3 and DynamoDB stores share: a boto3 client made on first use, and AWS's
answers turned into dpn's errors. `import boto3` happens here, inside a function, only
when team mode is used."""

from __future__ import annotations

import os
import threading
from typing import Any

from dpn_action.txn.errors import ConditionFailed, LockBackendError

#: AWS's answers to a condition that did not hold: S3's 412 (and its 409 for two
#: conditional writes of one key at once), DynamoDB's failed condition; an `If-Match` on an
#: object that is gone answers 404
CONDITION_CODES = frozenset(
    {
        "PreconditionFailed",
        "ConditionalRequestConflict",
        "ConditionalCheckFailedException",
        "NoSuchKey",
    }
)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class Clients:
    """One boto3 client of one service, from the standard AWS configuration (environment,
    profile, `AWS_ENDPOINT_URL`); `region` overrides the configured region."""

    def __init__(self, service: str, region: str | None = None) -> None:
        self.service = service
        self.region = region
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                region = self.region or os.environ.get("AWS_REGION") or None
                session = boto3.Session(region_name=region)
                self._client = session.client(
                    self.service,
                    config=Config(
                        retries={"mode": "standard", "max_attempts": 5},
                        connect_timeout=10,
                        read_timeout=30,
                        user_agent_extra="dpn-team",
                    ),
                )
            return self._client


def call(url: str, what: str, fn: Any, /, **kwargs: Any) -> Any:
    """`fn(**kwargs)`: a failed condition raises `ConditionFailed`, anything else from AWS
    (no such bucket or table, access denied, no credentials) `LockBackendError` naming
    `url` and what was being done."""
    try:
        return fn(**kwargs)
    except Exception as exc:
        code = error_code(exc)
        if code in CONDITION_CODES:
            raise ConditionFailed(code) from exc
        detail = f"{code}: {exc}" if code else f"{type(exc).__name__}: {exc}"
        raise LockBackendError(
            f"{url}: could not {what} ({detail}); see docs/team-mode.md for the permissions "
            "the lock and the mirror need"
        ) from exc


def refuse(url: str, what: str) -> LockBackendError:
    return LockBackendError(
        f"{url}: {what}: this store does not enforce conditional writes, which the lock and "
        "the mirror rest on (two runs could both take the lock, and a run that lost it could "
        "still write). dpn refuses to use it; use Amazon S3 or DynamoDB (or a store that "
        "enforces If-None-Match / If-Match)"
    )
