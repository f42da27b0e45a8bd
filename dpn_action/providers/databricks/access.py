"""Databricks as a whole: can the configured host be reached, and does it accept the
credentials? What the SDK raises for that, read as one `CloudAccessError`.

Like the rest of the package, nothing here imports `databricks.sdk` at module level.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from dpn_action.providers.base import CREDENTIALS, ENDPOINT, CloudAccessError

SET_CREDENTIALS = (
    "set DATABRICKS_HOST and DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and "
    "DATABRICKS_CLIENT_SECRET for a service principal), or DATABRICKS_CONFIG_PROFILE for a "
    "profile of ~/.databrickscfg"
)

#: what the SDK logs when its look-up of the host's metadata fails (it goes on without it)
_METADATA_WARNING = "Failed to automatically resolve config from host metadata"


def access_error(exc: BaseException, host: str) -> CloudAccessError | None:
    """What `exc`, raised while configuring the SDK or asking `host` who the credentials
    are, says about Databricks as a whole; None when it is about something else."""
    import requests
    from databricks.sdk import errors

    where = host or "the Databricks host"
    if isinstance(exc, errors.Unauthenticated | errors.PermissionDenied):
        profile = os.environ.get("DATABRICKS_CONFIG_PROFILE")
        which = f"the token of profile {profile}" if profile else "DATABRICKS_TOKEN"
        return CloudAccessError(
            "databricks",
            CREDENTIALS,
            f"{where} refused the credentials ({type(exc).__name__}: {_first_line(exc)})",
            f"check {which} (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET); a token "
            "belongs to one workspace and may have expired",
        )
    if isinstance(exc, requests.ConnectionError | requests.Timeout | TimeoutError):
        return CloudAccessError(
            "databricks",
            ENDPOINT,
            f"cannot reach {where} ({network_reason(exc)})",
            "check DATABRICKS_HOST, the network and a proxy (HTTPS_PROXY)",
        )
    if isinstance(exc, errors.NotFound):
        return CloudAccessError(
            "databricks",
            ENDPOINT,
            f"{where} does not answer as a Databricks workspace ({_first_line(exc)})",
            "check DATABRICKS_HOST (a workspace URL, https://<workspace>.cloud.databricks.com)",
        )
    if isinstance(exc, ValueError):
        # the SDK's configuration refused: no host, no credentials, two kinds at once
        return CloudAccessError(
            "databricks", CREDENTIALS, f"not configured ({_config_reason(exc)})", SET_CREDENTIALS
        )
    return None


def network_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words, from the chain of causes the SDK and
    requests build around it."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = " ".join(f"{type(e).__name__} {e}" for e in chain)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("NameResolution", "the host name does not resolve"),
        ("Name or service not known", "the host name does not resolve"),
        ("nodename nor servname", "the host name does not resolve"),
        ("ConnectTimeout", "no connection within the timeout"),
        ("connect timeout", "no connection within the timeout"),
        ("Read timed out", "no answer within the timeout"),
        ("ReadTimeout", "no answer within the timeout"),
        ("SSLError", "TLS failed"),
        ("ProxyError", "the proxy refused"),
    ):
        if needle in text:
            return reason
    return _first_line(chain[-1])


def _first_line(exc: BaseException) -> str:
    """The first line of an SDK error, without the dump of every setting it may append."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    for cut in (". Config:", " Config:"):
        text = text.split(cut, 1)[0]
    return text[:200]


def _config_reason(exc: BaseException) -> str:
    """The SDK's configuration error, without its pointer to the SDK's documentation."""
    return _first_line(exc).split(", please check https://", 1)[0]


@contextmanager
def quiet_metadata_warning() -> Iterator[None]:
    """While the SDK is configured, turn its warning that the host's metadata could not be
    fetched into a debug message: the look-up is best effort (the SDK goes on with the
    configuration it has, and many workspaces do not offer it), and a host that does not
    answer, or is not Databricks, is reported once, more clearly, by the access check that
    follows."""
    logger = logging.getLogger("databricks.sdk")

    def demote(record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING and record.getMessage().startswith(_METADATA_WARNING):
            logger.debug("%s", record.getMessage())
            return False
        return True

    logger.addFilter(demote)
    try:
        yield
    finally:
        logger.removeFilter(demote)
