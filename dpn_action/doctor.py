"""`dpn doctor`: is this machine ready to run dpn against its clouds?

One `Check` per thing looked at, in order: Python and dpn; the blueprints, when given (a
cloud they do not use is not checked); per cloud its SDKs (installed, and new enough), then
for AWS the region, the endpoint, the credentials (STS `GetCallerIdentity`) and, for a
blueprint, the permissions each of its types needs (simulated by IAM where the endpoint
offers the simulator), and for Databricks the host, the credentials (the current user) and,
for a blueprint, what each of its types needs (listed: Databricks cannot be asked). Every
cloud call has the access check's short timeouts, and the two clouds are checked at the same
time.

A cloud that is not configured at all (no AWS credentials, no Databricks host) is skipped
unless a blueprint needs it; a missing SDK likewise.
"""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

from dpn_action import __version__
from dpn_action.plan import PlannedResource
from dpn_action.providers.checks import FAIL, OK, SKIP, Check

#: dpn's own distribution, whose metadata says which SDK versions it needs
DIST = "dpn-action"
#: cloud -> the distributions its provider imports
SDKS: dict[str, tuple[str, ...]] = {"aws": ("boto3", "botocore"), "databricks": ("databricks-sdk",)}
CLOUDS = ("aws", "databricks")


def run(
    items: Sequence[PlannedResource] | None = None,
    *,
    blueprints: Sequence[str] = (),
    blueprint_errors: int = 0,
) -> list[Check]:
    """Every check, in order. `items` are the planned resources of the blueprints (None when
    no blueprint was given); `blueprint_errors` the error findings planning them gave."""
    checks = [_python(), Check("dpn", OK, f"dpn {__version__}")]
    needed: set[str] | None = None
    if items is not None:
        checks.append(_blueprint(items, blueprints, blueprint_errors))
        needed = {p.provider for p in items}
    with ThreadPoolExecutor(max_workers=len(CLOUDS)) as pool:
        per_cloud = [pool.submit(_cloud, cloud, items, needed) for cloud in CLOUDS]
        for found in per_cloud:
            checks += found.result()
    return checks


def failed(checks: Sequence[Check]) -> bool:
    return any(c.failed for c in checks)


def render(checks: Sequence[Check]) -> str:
    """One line per check: status, what was checked and found, and on failure the fix."""
    lines = []
    for c in checks:
        line = f"{c.status:<4}  {c.name}: {c.detail}"
        if c.failed and c.hint:
            line += f" (fix: {c.hint})"
        lines.append(line)
    bad = sum(1 for c in checks if c.failed)
    lines.append(f"{len(checks)} checks: {bad} failed" if bad else f"{len(checks)} checks: all ok")
    return "\n".join(lines)


# --------------------------------------------------------------------------- local checks


def _python() -> Check:
    here = platform.python_version()
    wanted = _requires_python()
    if wanted and not _satisfies(here, wanted):
        return Check("python", FAIL, f"Python {here} ({sys.executable})", f"dpn needs {wanted}")
    return Check("python", OK, f"Python {here} ({sys.executable})")


def _requires_python() -> str:
    try:
        return str(metadata.metadata(DIST)["Requires-Python"] or "")
    except metadata.PackageNotFoundError:
        return ""


def _requirements() -> dict[str, str]:
    """dpn's requirements: distribution (lower case) -> version specifier."""
    try:
        lines = metadata.requires(DIST) or []
    except metadata.PackageNotFoundError:
        return {}
    out: dict[str, str] = {}
    for line in lines:
        m = re.match(r"\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*([^;]*)", line)
        if m:
            out.setdefault(m.group(1).lower(), m.group(2).strip())
    return out


def _satisfies(version: str, spec: str) -> bool:
    """Whether `version` meets every `>=` bound of `spec` (other bounds are not judged)."""
    for bound in re.findall(r">=\s*([0-9][0-9.]*)", spec):
        if _numbers(version) < _numbers(bound):
            return False
    return True


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:3])


def _sdk(dist: str, required: bool) -> Check:
    spec = _requirements().get(dist, "")
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        cloud = next(c for c, dists in SDKS.items() if dist in dists)
        status = FAIL if required else SKIP
        why = "needed by the blueprint" if required else f"needed only for {cloud} resources"
        return Check(
            dist, status, f"not installed ({why})", f"pip install '{DIST}[{cloud}]' (or {dist})"
        )
    if spec and not _satisfies(version, spec):
        return Check(
            dist, FAIL, f"{dist} {version}; dpn needs {spec}", f"pip install '{dist}{spec}'"
        )
    return Check(dist, OK, f"{dist} {version}" + (f" (dpn needs {spec})" if spec else ""))


def _blueprint(items: Sequence[PlannedResource], blueprints: Sequence[str], errors: int) -> Check:
    names = ", ".join(blueprints) or "the blueprints"
    if errors:
        return Check(
            "blueprint",
            FAIL,
            f"{names}: {errors} error finding(s)",
            f"run `dpn lint {' '.join(blueprints)}`".rstrip(),
        )
    counts = {c: sum(1 for p in items if p.provider == c) for c in CLOUDS}
    per_cloud = ", ".join(f"{n} {c}" for c, n in counts.items() if n)
    return Check("blueprint", OK, f"{names}: {len(items)} resources ({per_cloud or 'none'})")


# --------------------------------------------------------------------------- the clouds


def _cloud(
    cloud: str, items: Sequence[PlannedResource] | None, needed: set[str] | None
) -> list[Check]:
    required = needed is not None and cloud in needed
    out = [_sdk(dist, required) for dist in SDKS[cloud]]
    if needed is not None and not required:
        return [*out, Check(cloud, SKIP, "not checked: the blueprint has no resources in it")]
    if any(c.status != OK for c in out):
        return [*out, Check(cloud, SKIP, "not checked: its SDK is not installed")]
    planned = [p for p in items or () if p.provider == cloud]
    found = _aws(planned, items is not None) if cloud == "aws" else _databricks(planned)
    if not required and _not_configured(found):
        why = "no credentials found" if cloud == "aws" else "no host configured"
        return [
            *out,
            Check(cloud, SKIP, f"not configured here ({why}); needed only for its resources"),
        ]
    return out + found


def _not_configured(found: Sequence[Check]) -> bool:
    return any(
        c.failed and c.detail.startswith(("no credentials found", "no host configured"))
        for c in found
    )


def _aws(planned: Sequence[PlannedResource], with_plan: bool) -> list[Check]:
    from dpn_action.providers.aws import AwsConfigError, AwsProvider, diagnose
    from dpn_action.providers.base import CloudAccessError
    from dpn_action.provision import ProviderSetupError, aws_regions, check_regions

    regions = sorted(aws_regions(planned))
    try:
        aws = AwsProvider(fallback_region=regions[0] if len(regions) == 1 else None)
    except CloudAccessError as exc:
        return [Check("aws credentials", FAIL, exc.problem, exc.fix)]
    except AwsConfigError:
        several = f"; the blueprints' names were made for {', '.join(regions)}" if regions else ""
        region = Check(
            "aws region",
            FAIL,
            f"no region configured{several}",
            "set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)",
        )
        aws = AwsProvider(region="us-east-1")  # STS answers in every region: check the rest
    else:
        source = {
            "argument": "given",
            "AWS_REGION": "from AWS_REGION",
            "configuration": "from AWS_DEFAULT_REGION or the profile",
            "blueprint": "none configured: the one the blueprints' names were made for",
        }.get(aws.region_source, aws.region_source)
        region = Check("aws region", OK, f"{aws.region} ({source})")
        try:
            check_regions(planned, {"aws": aws})
        except ProviderSetupError as exc:
            region = Check("aws region", FAIL, str(exc), "set AWS_REGION as it says")
    endpoint = diagnose.endpoint(aws)
    if endpoint.failed:
        return [region, endpoint, Check("aws credentials", SKIP, "not checked: no endpoint")]
    credentials = diagnose.credentials(aws)
    out = [region, endpoint, credentials]
    if with_plan and credentials.failed:
        out.append(Check("aws permissions", SKIP, "not checked: the credentials do not work"))
    elif with_plan:
        out += diagnose.permissions(aws, _named(planned))
    return out


def _databricks(planned: Sequence[PlannedResource]) -> list[Check]:
    from dpn_action.providers.databricks import DatabricksProvider, diagnose

    endpoint = diagnose.endpoint()
    if endpoint.failed:
        skipped = Check("databricks credentials", SKIP, "not checked: no host that answers")
        return [endpoint, skipped, *diagnose.permissions({p.type for p in planned})]
    credentials = diagnose.credentials(DatabricksProvider())
    return [endpoint, credentials, *diagnose.permissions({p.type for p in planned})]


def _named(planned: Sequence[PlannedResource]) -> Mapping[str, list[tuple[str, Mapping[str, str]]]]:
    out: dict[str, list[tuple[str, Mapping[str, str]]]] = {}
    for p in planned:
        out.setdefault(p.type, []).append((p.name, dict(p.scope)))
    return out
