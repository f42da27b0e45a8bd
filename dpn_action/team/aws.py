"""What the S3 and DynamoDB stores share: a boto3 client made on first use, and AWS's
answers turned into dpn's errors. `import boto3` happens here, inside a function, only
when team mode is used."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
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


#: clients made so far, by service, region and endpoint (boto3's are thread-safe)
_CLIENTS: dict[tuple[str, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


class Clients:
    """The boto3 client of one service, from the standard AWS configuration (environment,
    profile, `AWS_ENDPOINT_URL`); `region` overrides the configured region. Made on first
    use, and shared by every store of the process."""

    def __init__(self, service: str, region: str | None = None) -> None:
        self.service = service
        self.region = region

    @property
    def endpoint(self) -> str:
        """The endpoint the environment names for the service ("" for AWS's own)."""
        own = os.environ.get(f"AWS_ENDPOINT_URL_{self.service.upper()}")
        return own or os.environ.get("AWS_ENDPOINT_URL", "")

    def get(self) -> Any:
        region = self.region or os.environ.get("AWS_REGION") or None
        key = (self.service, region or "", self.endpoint)
        with _CLIENTS_LOCK:
            client = _CLIENTS.get(key)
            if client is None:
                import boto3
                from botocore.config import Config

                client = boto3.Session(region_name=region).client(
                    self.service,
                    config=Config(
                        retries={"mode": "standard", "max_attempts": 5},
                        connect_timeout=10,
                        read_timeout=30,
                        user_agent_extra="dpn-team",
                    ),
                )
                _CLIENTS[key] = client
            return client


#: stores whose self-test passed in this process: (service, endpoint, bucket or table)
_TESTED: set[tuple[str, ...]] = set()
_TESTED_LOCK = threading.Lock()


def self_tested(clients: Clients, where: str, test: Callable[[], None]) -> None:
    """Run `test` once per process for each bucket or table (`where`) at its endpoint."""
    key = (clients.service, clients.endpoint, where)
    with _TESTED_LOCK:
        if key in _TESTED:
            return
        test()
        _TESTED.add(key)


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
