"""What `dpn doctor` asks Databricks: does the host answer, and who are the credentials
(the workspace's current user). Permissions cannot be asked; they are listed
(`permissions.NEEDS`).
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from dpn_action.providers.base import CloudAccessError
from dpn_action.providers.checks import FAIL, OK, SKIP, Check
from dpn_action.providers.databricks.access import network_reason
from dpn_action.providers.databricks.permissions import NEEDS
from dpn_action.providers.databricks.provider import CHECK_HTTP_TIMEOUT, DatabricksProvider


def configured_host() -> str:
    """The host the configuration names (DATABRICKS_HOST, else the profile's), read without
    the SDK, which refuses a configuration without credentials."""
    host = os.environ.get("DATABRICKS_HOST", "")
    if host:
        return host.rstrip("/")
    path = Path(os.environ.get("DATABRICKS_CONFIG_FILE") or Path.home() / ".databrickscfg")
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        return ""
    profile = os.environ.get("DATABRICKS_CONFIG_PROFILE", "DEFAULT")
    if profile == "DEFAULT":
        return str(parser.defaults().get("host", "")).rstrip("/")
    if not parser.has_section(profile):
        return ""
    return str(parser.get(profile, "host", fallback="")).rstrip("/")


def endpoint() -> Check:
    """Whether the host answers at all: a request without credentials."""
    import requests

    host = configured_host()
    if not host:
        return Check(
            "databricks endpoint",
            FAIL,
            "no host configured",
            "set DATABRICKS_HOST (or DATABRICKS_CONFIG_PROFILE for a profile of ~/.databrickscfg)",
        )
    if "://" not in host:
        host = f"https://{host}"
    try:
        answer = requests.get(
            f"{host}/api/2.0/preview/scim/v2/Me",
            timeout=(CHECK_HTTP_TIMEOUT, CHECK_HTTP_TIMEOUT),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return Check(
            "databricks endpoint",
            FAIL,
            f"cannot reach {host} ({network_reason(exc)})",
            "check DATABRICKS_HOST, the network and a proxy (HTTPS_PROXY)",
        )
    return Check(
        "databricks endpoint", OK, f"{host} answers (HTTP {answer.status_code} without credentials)"
    )


def credentials(dbx: DatabricksProvider) -> Check:
    """Who the credentials are: the workspace's current user."""
    try:
        who = dbx.whoami()
    except CloudAccessError as exc:
        return Check("databricks credentials", FAIL, exc.problem, exc.fix)
    except Exception as exc:
        return Check(
            "databricks credentials", FAIL, f"{type(exc).__name__}: {exc}", "see the error"
        )
    if who.get("user"):
        return Check("databricks credentials", OK, f"{who['user']} on {who['host']}")
    return Check(
        "databricks credentials", OK, f"account {who.get('account', '?')} on {who['host']}"
    )


def permissions(types: set[str]) -> list[Check]:
    """What each Databricks type of a plan needs, listed, not checked."""
    return [
        Check(
            f"databricks permissions {t}",
            SKIP,
            f"not checked (Databricks cannot be asked); needs {NEEDS[t]}",
        )
        for t in sorted(types)
    ]
