"""`AwsProvider`: create, read, delete, archive, tag and update, alike for every AWS type.

What differs between types is data (`api.Api`, one entry per type in the service modules,
assembled by `registry`); this class drives every entry the same way.

Idempotent create. When the create call says the resource already exists (for instance
because botocore retried a create whose first response was lost), `create` reads it: if it
carries this transaction's id it is adopted (waited for, configured, returned); otherwise
`AwsConflictError` is raised. A type whose create answers an existing name with the existing
resource (S3 in us-east-1, SNS, SQS, Step Functions: `Api.exclusive` is false) is read
first; a create racing another writer between that read and the create call is the one case
this cannot see. The executor tells "ours" from "not ours" with
`ResourceState.managed_by_dpn` / `transaction_id` on what `read` returns: a resource that
exists without `managed-by: dpn` was not made by dpn.

Retries. Clients use botocore's `standard` retry mode (throttling and 5xx), and one extra,
bounded retry covers a known gap: a role created a moment ago is not yet visible to Lambda,
Firehose or Step Functions (IAM is eventually consistent; `errors.SETTLING`).

`import boto3` happens when an `AwsProvider` is constructed, never at import time.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dpn_action.providers.aws.api import (
    Api,
    Client,
    Kw,
    New,
    Target,
    Waiter,
    incarnation_text,
    markers,
)
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
    has_code,
)
from dpn_action.providers.aws.registry import (
    ARCHIVE_TYPES,
    HANDLED,
    LATE_MARKED_TYPES,
    SETTINGS_TYPES,
    TAG_TYPES,
    api_of,
)
from dpn_action.providers.aws.waiters import wait
from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TXN_TAG_KEY,
    Operation,
    ResourceState,
)

if TYPE_CHECKING:
    from dpn_action.providers.base import Provider


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
    handled = HANDLED
    #: every type with tags carries its marks as tags, so `dpn adopt` can mark it
    mark_types = TAG_TYPES

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
        api = api_of(op.type_key)
        tags = {**op.tags, MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: txn_id}
        target = Target(self, op.name, op.scope)
        new = New(target, op, tags, resolved, api.handled)
        client = self.client(api.service, new.region)
        if not api.exclusive:
            existing = self.read(op.type_key, op.name, op.scope)
            if existing is not None:
                return self._adopt(api, client, new, existing)
        try:
            answer = self._settled(api, lambda: api.create(client, new))
        except Exception as exc:
            if not has_code(exc, ALREADY_EXISTS, api.service):
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
        api = api_of(type_key)
        client = self.client(api.service)
        target = Target(self, name, scope)
        try:
            found = api.find(client, target)
            resource_id = api.ident(found, target)
            if resource_id is None:
                return None
            target = replace(target, id=resource_id)
            tags = api.tags(client, target, found)
        except Exception as exc:
            if has_code(exc, NOT_FOUND, api.service):
                return None
            raise
        incarnation = incarnation_text(api.incarnation(found)) if api.incarnation else None
        return ResourceState(type_key, name, resource_id, tags, dict(scope), incarnation)

    def identity(self) -> dict[str, str]:
        """The account and region this provider acts in (STS `GetCallerIdentity`, once)."""
        return {"account": self.account_id, "region": self.region}

    def delete(self, state: ResourceState) -> None:
        api = api_of(state.type_key)
        client = self.client(api.service)
        target = Target(self, state.name, state.scope, state.resource_id)
        try:
            if api.clear is not None:
                api.clear(client, target, state)
            api.delete(client, target)
        except Exception as exc:
            if has_code(exc, NOT_FOUND, api.service):
                return
            raise
        self._wait(client, api.gone, target)

    def archive(self, state: ResourceState) -> None:
        """Keep a restorable copy (a DynamoDB backup), then delete. Types in
        `archive_types` only; archiving what is already gone is success."""
        api = api_of(state.type_key)
        if api.archive is None:
            raise AwsInputError(f"archive is not supported for {state.type_key}")
        client = self.client(api.service)
        try:
            api.archive(client, Target(self, state.name, state.scope, state.resource_id))
        except Exception as exc:
            if has_code(exc, NOT_FOUND, api.service):
                return
            raise
        self.delete(state)

    def tag(self, state: ResourceState, tags: dict[str, str]) -> None:
        api = api_of(state.type_key)
        if api.tag is None or not tags:
            return
        client = self.client(api.service)
        target = Target(self, state.name, state.scope, state.resource_id)
        if api.whole_tag_set:
            tags = {**api.tags(client, target, {}), **tags}
        api.tag(client, target, tags)

    def mark(self, state: ResourceState, marks: dict[str, str]) -> ResourceState:
        """Add dpn's ownership marks to an existing resource's tags (`dpn adopt`); the other
        tags stay as they are."""
        if state.type_key not in self.mark_types:
            raise AwsInputError(f"{state.type_key} carries no tags: dpn cannot mark it")
        self.tag(state, {k: marks[k] for k in (MANAGED_BY_KEY, TXN_TAG_KEY) if k in marks})
        found = self.read(state.type_key, state.name, dict(state.scope))
        if found is None:
            raise AwsProviderError(f"{state.type_key} {state.name}: gone while it was marked")
        return found

    def update_settings(
        self,
        op: Operation,
        state: ResourceState,
        resolved: dict[str, ResourceState],
        *,
        dry_run: bool = False,
    ) -> list[str]:
        """Change what differs between the blueprint's settings and the cloud's, in place."""
        api = api_of(op.type_key)
        if api.settings is None:
            return []
        target = Target(self, op.name, op.scope, state.resource_id)
        new = New(target, op, dict(state.tags), resolved, api.handled)
        client = self.client(api.service, new.region)
        wanted = api.settings.wanted(new)
        current = api.settings.current(client, new, target, api.find(client, target))
        changed = {k: v for k, v in wanted.items() if current.get(k) != v}
        if changed and not dry_run:
            api.settings.apply(client, new, target, changed)
            self._wait(client, api.settings.settled, target)
        return sorted(changed)

    # --- helpers ---------------------------------------------------------------------

    def _adopt(self, api: Api, client: Client, new: New, existing: ResourceState) -> ResourceState:
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

    def _finish(self, api: Api, client: Client, new: New, resource_id: str) -> ResourceState:
        target = replace(new.t, id=resource_id)
        if api.retag and api.tag is not None:
            api.tag(client, target, new.tags)
        if api.configure is not None:
            api.configure(client, new, target)
        tags = new.tags if api.tag is not None else markers(new.tags)
        return ResourceState(new.op.type_key, new.name, resource_id, tags, dict(new.op.scope))

    def _settled(self, api: Api, call: Callable[[], Kw]) -> Kw:
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

    def _wait(self, client: Client, spec: Waiter | None, target: Target) -> None:
        """Block until a botocore waiter succeeds, at most `wait_timeout` seconds."""
        wait(client, spec, target, self.wait_timeout)


if TYPE_CHECKING:
    _: Provider = AwsProvider()
