"""Team mode: a lease lock and the WAL mirror on services the team already runs.

`shared_from(lock, wal_mirror)` turns the URLs of `--lock` and `--wal-mirror` (and the
Action's `lock` and `wal-mirror` inputs) into the `txn.lock.Shared` the transaction core
holds its locks with:

| URL | what |
|---|---|
| (none) | the local file lock on the WAL directory only (the default) |
| `s3://BUCKET/KEY[?lease=SECONDS][&region=R]` | a lease in one S3 object (`team.s3`) |
| `dynamodb://TABLE/KEY[?lease=SECONDS][&region=R]` | a lease in a DynamoDB item (`team.dynamodb`) |
| `--wal-mirror s3://BUCKET/PREFIX[?region=R]` | every WAL copied under the prefix |

The stores import boto3 when first used, never at import. The design, the guarantees and
the IAM policies are in docs/team-mode.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from dpn_action.txn.lock import DEFAULT_LEASE_SECONDS, Shared, holder_info
from dpn_action.txn.lock.lease import MIN_LEASE_SECONDS, LeaseStore
from dpn_action.txn.mirror import MirrorStore

__all__ = ["TeamUrlError", "lease_store", "mirror_store", "shared_from"]

#: the longest lease a URL may ask for (a lost runner holds the lock this long)
MAX_LEASE_SECONDS = 3600.0
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")


class TeamUrlError(ValueError):
    """A `--lock` or `--wal-mirror` URL dpn cannot use; the message says why."""


def _options(url: str, query: str, allowed: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        if name not in allowed:
            raise TeamUrlError(
                f"{url}: unknown option {name!r} (known: {', '.join(sorted(allowed))})"
            )
        out[name] = values[-1]
    return out


def lease_store(url: str) -> tuple[LeaseStore, float]:
    """The store and the lease's length in seconds for a `--lock` URL."""
    from dpn_action.team.dynamodb import DynamoLeaseStore
    from dpn_action.team.s3 import S3LeaseStore

    parts = urlsplit(url)
    key = parts.path.lstrip("/")
    options = _options(url, parts.query, {"lease", "region"})
    seconds = DEFAULT_LEASE_SECONDS
    if "lease" in options:
        try:
            seconds = float(options["lease"])
        except ValueError:
            seconds = -1.0
        if not MIN_LEASE_SECONDS <= seconds <= MAX_LEASE_SECONDS:
            raise TeamUrlError(
                f"{url}: lease must be a number of seconds from {MIN_LEASE_SECONDS:g} to "
                f"{MAX_LEASE_SECONDS:g}, not {options['lease']!r}"
            )
    region = options.get("region") or None
    if parts.scheme == "s3":
        _check_bucket(url, parts.netloc)
        if not key or key.endswith("/"):
            raise TeamUrlError(f"{url}: name the lock's object: s3://BUCKET/KEY")
        return S3LeaseStore(parts.netloc, key, region), seconds
    if parts.scheme == "dynamodb":
        if not _TABLE.fullmatch(parts.netloc):
            raise TeamUrlError(f"{url}: {parts.netloc!r} is not a DynamoDB table name")
        if not key:
            raise TeamUrlError(f"{url}: name the lock's key: dynamodb://TABLE/KEY")
        return DynamoLeaseStore(parts.netloc, key, region), seconds
    raise TeamUrlError(
        f"{url}: a lock is s3://BUCKET/KEY or dynamodb://TABLE/KEY (without --lock, the "
        "WAL directory's file lock is used)"
    )


def mirror_store(url: str) -> MirrorStore:
    """The store for a `--wal-mirror` URL."""
    from dpn_action.team.s3 import S3MirrorStore

    parts = urlsplit(url)
    options = _options(url, parts.query, {"region"})
    if parts.scheme != "s3":
        raise TeamUrlError(f"{url}: the WAL mirror is s3://BUCKET/PREFIX")
    _check_bucket(url, parts.netloc)
    return S3MirrorStore(parts.netloc, parts.path, options.get("region") or None)


def _check_bucket(url: str, bucket: str) -> None:
    if not _BUCKET.fullmatch(bucket):
        raise TeamUrlError(f"{url}: {bucket!r} is not an S3 bucket name")


def shared_from(
    lock: str | None,
    wal_mirror: str | None,
    *,
    say: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> Shared | None:
    """Team mode for a lock URL and a mirror URL (either may be empty); None for neither.
    Raises `extras.MissingExtra` when boto3, which every store uses, is not installed."""
    from dpn_action.extras import require

    lock, wal_mirror = (lock or "").strip(), (wal_mirror or "").strip()
    if not lock and not wal_mirror:
        return None
    require(["aws"])  # the stores are S3 and DynamoDB
    lease, seconds = lease_store(lock) if lock else (None, DEFAULT_LEASE_SECONDS)
    mirror = mirror_store(wal_mirror) if wal_mirror else None
    return Shared(
        lease=lease, lease_seconds=seconds, mirror=mirror, holder=holder_info(env), say=say
    )
