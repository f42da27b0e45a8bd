"""`AwsProvider`: create, read, delete, archive, tag and update, alike for every AWS type.

What differs between types is data (`api.Api`, one entry per type in the service modules,
assembled by `registry`); this class drives every entry the same way.

Idempotent create. When the create call says the resource already exists (for instance
because botocore retried a create whose first response was lost), `create` reads it: if it
carries this transaction's id it is adopted (configured, returned); otherwise
`AwsConflictError` is raised. A type whose create answers an existing name with the existing
resource (S3 in us-east-1, SNS, SQS, Step Functions: `Api.exclusive`) is read first, unless
the transaction's pre-flight has just found the name free (`absent`) and no call after the
create writes dpn's marks (S3 does: it is always read first). A create racing another writer
between that read (or the pre-flight) and the create call is the one case this cannot see;
what it can cost is bounded: such a resource carries no marks of ours, so no delete path
touches it. The executor tells "ours" from "not ours" with
`ResourceState.managed_by_dpn` / `transaction_id` on what `read` returns: a resource that
exists without `managed-by: dpn` was not made by dpn.

Pre-flight by listing (`survey`): one paginated listing per type and scope tells which
planned names are free (`listing.Listing`, one per type, as data); only the names it holds
are read. `listing` and `read_tags` are the same listing and the tag read on their own, for
finding every resource of a type that carries dpn's mark.

Waiting. A create returns as soon as the resource exists. Its readiness waiter (`Api.ready`:
a DynamoDB table or Kinesis stream ACTIVE, ...) runs only when something needs it: before
settings that need it (`configure_when`), before a create that reads from it
(`needs_ready`), and before a delete the cloud refuses while it is being made.

Retries and timeouts. Clients use botocore's `adaptive` retry mode (throttling, 5xx and
dropped connections, and a client-side rate limiter that slows a client down once it is
throttled) with short timeouts: `CONNECT_TIMEOUT` to open a connection (a healthy endpoint
answers in well under a second) and `READ_TIMEOUT` for an answer (every call here is a
control-plane call that answers at once; what takes long, a stream or table becoming active,
is polled by waiters, each poll a quick call). One extra, bounded retry covers a
known gap: a role created a moment ago is not yet visible to Lambda, Firehose or Step
Functions (IAM is eventually consistent; `errors.SETTLING`). That retry is the wait for IAM
propagation, so it happens only when a dependent uses the role; for roles this provider made,
one create per service and region probes and the others wait for it (`propagation`). Each
client keeps to the request rates its service publishes (`pacing`).

Access check. `caller()` asks STS who the credentials are, once, with shorter timeouts and
one retry (`CHECK_*`), so a wrong endpoint, missing or refused credentials fail within
seconds, before any transaction begins, as one `CloudAccessError`.

`import boto3` happens when an `AwsProvider` is constructed, never at import time.
"""

from __future__ import annotations

import contextlib
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
    BUSY,
    NOT_FOUND,
    SETTLE_ATTEMPTS,
    SETTLING,
    AwsConfigError,
    AwsConflictError,
    AwsInputError,
    AwsProviderError,
    access_error,
    error_code,
    has_code,
)
from dpn_action.providers.aws.listing import ListingTooLong, pages
from dpn_action.providers.aws.pacing import PUBLISHED, Pace
from dpn_action.providers.aws.propagation import Propagation
from dpn_action.providers.aws.registry import (
    ARCHIVE_TYPES,
    HANDLED,
    LATE_MARKED_TYPES,
    LISTING_TYPES,
    SETTINGS_TYPES,
    SURVEY_TYPES,
    TAG_TYPES,
    api_of,
)
from dpn_action.providers.aws.waiters import wait
from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TXN_TAG_KEY,
    Listed,
    Operation,
    ResourceState,
    waiting,
)

if TYPE_CHECKING:
    from dpn_action.providers.base import Provider

#: seconds to open a connection, and to wait for an answer, on every call; botocore's
#: standard retry mode retries each call up to `max_attempts` times (8 by default: 9 tries)
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
#: connections a client keeps open: the most calls `--max-parallel` (1-64) runs at once
MAX_CONNECTIONS = 64
#: the same for the access check before a transaction (STS GetCallerIdentity): two tries in
#: all, so an endpoint that never answers fails within 2 x 4 s plus one back-off (< 1 s)
CHECK_CONNECT_TIMEOUT = 3
CHECK_READ_TIMEOUT = 4
CHECK_ATTEMPTS = 2


class AwsProvider:
    """Creates, reads, tags and deletes the `aws_*` types with boto3.

    Clients come from the standard AWS configuration (environment, profile,
    `AWS_ENDPOINT_URL`); `session`, `profile`, `region` and `endpoint_url` override it. The
    region is the first of `region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's, as
    the AWS CLI reads them (botocore alone does not read `AWS_REGION`), and, when none of
    them names one, `fallback_region` (the region a plan's names were made for).
    `region_source` says which. One client per service (and region) is built on first use
    and shared by all threads.
    """

    name = "aws"
    tag_types = TAG_TYPES
    archive_types = ARCHIVE_TYPES
    late_marked_types = LATE_MARKED_TYPES
    settings_types = SETTINGS_TYPES
    handled = HANDLED
    survey_types = SURVEY_TYPES
    listing_types = LISTING_TYPES
    #: `create(..., absent=True)`: see `providers.base.create_absent`
    trusts_preflight = True
    #: every type with tags carries its marks as tags, so `dpn adopt` can mark it
    mark_types = TAG_TYPES

    def __init__(
        self,
        session: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        *,
        profile: str | None = None,
        fallback_region: str | None = None,
        max_attempts: int = 8,
        wait_timeout: float = 600.0,
        settle_delay: float = 1.0,
        page_size: int | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ProfileNotFound

        source = "argument" if region else ""
        if session is None:
            if not region and os.environ.get("AWS_REGION"):
                region, source = os.environ["AWS_REGION"], "AWS_REGION"
            try:
                session = boto3.Session(profile_name=profile, region_name=region or None)
            except ProfileNotFound as exc:
                raise access_error(exc, "") or exc from exc
        self._session = session
        resolved_region = region or self._session.region_name
        source = source or ("configuration" if resolved_region else "")
        if not resolved_region and fallback_region:
            resolved_region, source = fallback_region, "blueprint"
        if not resolved_region:
            raise AwsConfigError(
                "no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION, or a "
                "profile's region); `dpn doctor` checks the whole setup"
            )
        self.region: str = resolved_region
        #: where the region came from: argument, AWS_REGION, configuration (AWS_DEFAULT_REGION
        #: or the profile), blueprint (`fallback_region`)
        self.region_source = source
        self.endpoint_url = endpoint_url
        self.wait_timeout = wait_timeout
        self.settle_delay = settle_delay
        #: items per page of a listing (default: the most each API gives)
        self.page_size = page_size
        self._config = client_config(max_attempts)
        self._check_config = Config(
            connect_timeout=CHECK_CONNECT_TIMEOUT,
            read_timeout=CHECK_READ_TIMEOUT,
            retries={"mode": "standard", "total_max_attempts": CHECK_ATTEMPTS},
            user_agent_extra="dpn",
        )
        self._clients: dict[tuple[str, str], Client] = {}
        self._lock = threading.Lock()
        self._caller: dict[str, str] | None = None
        #: ids of resources known to be usable (their `ready` waiter succeeded)
        self._ready: set[str] = set()
        #: how long the roles this provider made take to be usable by other services
        self._propagation = Propagation(SETTLE_ATTEMPTS * settle_delay + READ_TIMEOUT)
        #: (service, region) -> whether the endpoint keeps tags given in the create call, for
        #: the types that may lose them (`Api.retag`); absent: not known yet
        self._keeps_create_tags: dict[tuple[str, str], bool] = {}
        #: the (service, region)s whose first create is reading its tags back right now, and
        #: what tells the creates that wait for its answer
        self._checking_create_tags: dict[tuple[str, str], threading.Event] = {}

    # --- configuration ---------------------------------------------------------------

    def client(self, service: str, region: str | None = None) -> Client:
        """The shared client of `service` (built once; sessions are not thread-safe), paced
        to the request rates the service publishes (`pacing`)."""
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
                    if service in PUBLISHED:  # keep to the rates the service publishes
                        client.meta.events.register("before-send", Pace(PUBLISHED[service]))
                    self._clients[key] = client
        return client

    def check_client(self, service: str, *, unsigned: bool = False) -> Client:
        """A client of `service` with the access check's short timeouts and one retry (not
        shared: for a handful of calls that must fail fast); `unsigned` sends no
        credentials (to see whether the endpoint answers at all)."""
        config = self._check_config
        if unsigned:
            from botocore import UNSIGNED
            from botocore.config import Config

            config = config.merge(Config(signature_version=UNSIGNED))
        return self._session.client(
            service, region_name=self.region, endpoint_url=self.endpoint_url, config=config
        )

    def caller(self) -> dict[str, str]:
        """Who the credentials are: `account`, `arn`, `user_id` (STS `GetCallerIdentity`,
        asked once, with the access check's short timeouts). Raises `CloudAccessError` when
        the endpoint does not answer or the credentials are missing or refused."""
        if self._caller is None:
            sts = self.check_client("sts")
            try:
                found = sts.get_caller_identity()
            except Exception as exc:
                raise access_error(exc, str(sts.meta.endpoint_url)) or exc from exc
            self._caller = {
                "account": str(found["Account"]),
                "arn": str(found.get("Arn", "")),
                "user_id": str(found.get("UserId", "")),
            }
        return self._caller

    @property
    def account_id(self) -> str:
        return self.caller()["account"]

    @property
    def partition(self) -> str:
        return str(self._session.get_partition_for_region(self.region))

    # --- the Provider protocol -------------------------------------------------------

    def create(
        self,
        op: Operation,
        txn_id: str,
        resolved: dict[str, ResourceState],
        *,
        absent: bool = False,
    ) -> ResourceState:
        """`absent`: the transaction's pre-flight has just found the name free."""
        api = api_of(op.type_key)
        tags = {**op.tags, MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: txn_id}
        target = Target(self, op.name, op.scope)
        new = New(target, op, tags, resolved, api.handled)
        client = self.client(api.service, new.region)
        if not api.exclusive_for(new) and (not absent or api.retag):
            existing = self.read(op.type_key, op.name, op.scope)
            if existing is not None:
                return self._adopt(api, client, new, existing)
        for ref in sorted(api.needs_ready):
            parent = new.ref(ref)
            if parent is not None:
                self.ensure_ready(parent)
        try:
            answer = self._settled(api, new, lambda: api.create(client, new))
        except Exception as exc:
            if not has_code(exc, ALREADY_EXISTS, api.service):
                raise
            existing = self.read(op.type_key, op.name, op.scope)
            if existing is None:
                raise
            return self._adopt(api, client, new, existing)
        resource_id = api.created(answer, target) if api.created else None
        if api.propagates and resource_id is not None:
            self._propagation.made(resource_id)
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

    def survey(
        self, type_key: str, scope: dict[str, str], names: list[str]
    ) -> dict[str, ResourceState | None]:
        """Of `names`, those one listing shows to be free (None), and those it fully describes
        (a Glue table); the rest exist and are left to `read`. Nothing is decided when the
        listing would take more requests than reading each name."""
        api = api_of(type_key)
        listing = api.listing
        if listing is None or not listing.decides:
            return {}
        fold = _fold(type_key)
        wanted = {fold(n): n for n in names}
        prefix = "" if fold is str.lower else _common_prefix(names)
        target = Target(self, "", scope)
        seen: dict[str, ResourceState | None] = {}
        client = self.client(api.service)
        try:
            # at most as many requests as reading each name would take
            for page in pages(client, listing, target, prefix, self.page_size, len(names)):
                for item in page:
                    name = wanted.get(fold(item.name))
                    if name is not None:
                        seen[name] = self._listed_state(api, type_key, name, scope, item)
        except ListingTooLong:
            return {}
        except Exception as exc:
            if not has_code(exc, NOT_FOUND, api.service):  # a Glue table's database
                raise
        out: dict[str, ResourceState | None] = {n: None for n in names if n not in seen}
        out.update({n: s for n, s in seen.items() if s is not None})
        return out

    def listing(self, type_key: str, scope: dict[str, str], prefix: str = "") -> list[Listed]:
        """Every resource of `type_key` within `scope` whose name starts with `prefix`: one
        paginated listing (S3 buckets: this account's)."""
        api = api_of(type_key)
        if api.listing is None:
            raise AwsInputError(f"{type_key} cannot be listed")
        target = Target(self, "", scope)
        client = self.client(api.service)
        found = pages(client, api.listing, target, prefix, self.page_size)
        fold = _fold(type_key)
        return [x for page in found for x in page if fold(x.name).startswith(fold(prefix))]

    def read_tags(self, type_key: str, found: Listed, scope: dict[str, str]) -> dict[str, str]:
        """The tags of a resource `listing` found (a Glue table: dpn's marks)."""
        api = api_of(type_key)
        client = self.client(api.service)
        target = Target(self, found.name, scope, found.resource_id)
        answer = api.find(client, target) if api.tag is None else {}
        return api.tags(client, target, answer)

    def _listed_state(
        self, api: Api, type_key: str, name: str, scope: dict[str, str], item: Listed
    ) -> ResourceState | None:
        """The whole state of a listed resource, for a listing whose items carry everything a
        read gives (`Listing.found`); None: it is to be read."""
        listing = api.listing
        if listing is None or listing.found is None or item.raw is None:
            return None
        answer = listing.found(item.raw)
        target = Target(self, name, scope, item.resource_id)
        resource_id = api.ident(answer, target)
        if resource_id is None:
            return None
        tags = api.tags(self.client(api.service), target, answer)
        incarnation = incarnation_text(api.incarnation(answer)) if api.incarnation else None
        return ResourceState(type_key, name, resource_id, tags, dict(scope), incarnation)

    def ensure_ready(self, state: ResourceState) -> None:
        """Block until `state`'s resource is usable (its type's `ready` waiter), once."""
        api = api_of(state.type_key)
        if api.ready is None or state.resource_id in self._ready:
            return
        client = self.client(api.service)
        self._wait(client, api.ready, Target(self, state.name, state.scope, state.resource_id))
        self._ready.add(state.resource_id)

    def identity(self) -> dict[str, str]:
        """The account and region this provider acts in (STS `GetCallerIdentity`, once):
        proves that the endpoint answers and accepts the credentials (`caller`)."""
        return {"account": self.account_id, "region": self.region}

    def delete(self, state: ResourceState) -> None:
        api = api_of(state.type_key)
        client = self.client(api.service)
        target = Target(self, state.name, state.scope, state.resource_id)
        try:
            if api.clear is not None:
                api.clear(client, target, state)
            try:
                api.delete(client, target)
            except Exception as exc:
                # refused while it is still being made (a rollback right after the create)
                if api.ready is None or not has_code(exc, BUSY, api.service):
                    raise
                self._settle(client, api.ready, target)
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
        return self._finish(api, client, new, existing.resource_id)

    def _finish(self, api: Api, client: Client, new: New, resource_id: str) -> ResourceState:
        target = replace(new.t, id=resource_id)
        if api.retag and api.tag is not None and not self._create_tags_kept(api, client, new):
            api.tag(client, target, new.tags)
        if api.configure is not None and (api.configure_when is None or api.configure_when(new)):
            self._wait(client, api.ready, target)  # settings are refused until it is usable
            self._ready.add(resource_id)
            api.configure(client, new, target)
        tags = new.tags if api.tag is not None else markers(new.tags)
        return ResourceState(new.op.type_key, new.name, resource_id, tags, dict(new.op.scope))

    def _create_tags_kept(self, api: Api, client: Client, new: New) -> bool:
        """Whether the tags `new`'s create call carried are known to be on the resource.

        For a type whose endpoint may drop create-time tags (`Api.retag`: S3 and Kinesis on
        AWS keep them, moto drops them), the first create per service and region reads its
        tags back, one request instead of the tag call it replaces: dpn's marks there mean
        the endpoint keeps create-time tags, and later creates send no tag call. Creates that
        finish while that read is under way wait for its answer (no longer than the tag call
        would take). Wherever it is not so, or cannot be known, each create tags again, so no
        resource is left without dpn's marks."""
        key = (api.service, new.region)
        with self._lock:
            known = self._keeps_create_tags.get(key)
            checking = self._checking_create_tags.get(key)
            if known is None and checking is None:
                self._checking_create_tags[key] = threading.Event()
        if known is not None:
            return known
        if checking is not None:
            checking.wait(READ_TIMEOUT)
            return self._keeps_create_tags.get(key, False)
        kept = False
        try:
            found = api.tags(client, new.t, {})
            kept = bool(markers(new.tags)) and markers(found) == markers(new.tags)
        except Exception:  # not known: tag again, and keep tagging
            kept = False
        finally:
            with self._lock:
                self._keeps_create_tags[key] = kept
                self._checking_create_tags.pop(key).set()
        return kept

    def _settled(self, api: Api, new: New, call: Callable[[], Kw]) -> Kw:
        """`call` (a create), retried while the service refuses a role IAM has not
        propagated to it yet; a create that assumes a role this provider made waits for it
        first, as `propagation` says."""
        code, fragment = SETTLING.get(api.service, ("", ""))
        ref = new.ref("role_ref") if code and "role_ref" in api.refs else None
        role = ref.resource_id if ref is not None else None
        if role is None or not self._propagation.young(role):
            return self._retried(code, fragment, call)[0]
        key = (api.service, new.region)
        with waiting():
            token = self._propagation.before(key, role)
        sent = None
        try:
            answer, sent = self._retried(code, fragment, call)
        finally:
            self._propagation.after(key, role, token, sent)
        return answer

    def _retried(self, code: str, fragment: str, call: Callable[[], Kw]) -> tuple[Kw, float]:
        """`call`'s answer, and when the attempt that gave it was sent."""
        for attempt in range(1, SETTLE_ATTEMPTS + 1):
            sent = time.monotonic()
            try:
                return call(), sent
            except Exception as exc:
                settling = code and error_code(exc) == code and fragment in str(exc)
                if not settling or attempt == SETTLE_ATTEMPTS:
                    raise
            with waiting():  # the next attempt begins `settle_delay` after this one began
                time.sleep(max(0.0, sent + self.settle_delay - time.monotonic()))
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, client: Client, spec: Waiter | None, target: Target) -> None:
        """Block until a botocore waiter succeeds, at most `wait_timeout` seconds."""
        if spec is None:
            return
        with waiting():
            wait(client, spec, target, self.wait_timeout)

    def _settle(self, client: Client, spec: Waiter, target: Target) -> None:
        """Wait until the resource is no longer being made, whichever way it ended (a
        resource whose creation failed can be deleted too)."""
        from botocore.exceptions import WaiterError

        with contextlib.suppress(WaiterError):
            self._wait(client, spec, target)


def client_config(max_attempts: int) -> Any:
    """The botocore configuration of every client: short timeouts, `adaptive` retries (a
    token bucket that slows a client down once AWS throttles it), a connection for every
    call `--max-parallel` lets run at once (botocore keeps 10: beyond that each call opened
    a connection, and its TLS handshake, of its own), dpn in the user agent."""
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"mode": "adaptive", "max_attempts": max_attempts},
        max_pool_connections=MAX_CONNECTIONS,
        user_agent_extra="dpn",
    )


def _common_prefix(names: list[str]) -> str:
    """The longest start all `names` share (character by character)."""
    first, last = min(names, default=""), max(names, default="")
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _fold(type_key: str) -> Callable[[str], str]:
    """How names of `type_key` compare: ignoring case where the cloud does (IAM, Glue)."""
    from dpn_action.naming.catalogue import CATALOGUE

    return str.lower if CATALOGUE[type_key].case_insensitive else str


if TYPE_CHECKING:
    _: Provider = AwsProvider()
