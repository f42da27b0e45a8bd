"""What `dpn doctor` asks AWS: does the endpoint answer, who are the credentials, and may
they do what a plan needs (IAM's policy simulator, `iam:SimulatePrincipalPolicy`).

Every call uses the access check's short timeouts (`AwsProvider.check_client`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dpn_action.providers.aws.errors import access_error, error_code
from dpn_action.providers.aws.permissions import ACTIONS, ELSEWHERE, arn_of, needed
from dpn_action.providers.aws.provider import AwsProvider
from dpn_action.providers.base import ENDPOINT, CloudAccessError
from dpn_action.providers.checks import FAIL, OK, SKIP, Check

#: resources of one type a plan names: (name, scope)
Named = Sequence[tuple[str, Mapping[str, str]]]


def endpoint(aws: AwsProvider) -> Check:
    """Whether the STS endpoint answers at all: a request without credentials, which AWS
    answers with an error (and an emulator perhaps with an identity)."""
    sts = aws.check_client("sts", unsigned=True)
    url = str(sts.meta.endpoint_url)
    statuses: list[int] = []

    def seen(response_dict: Mapping[str, Any], **_: Any) -> None:
        statuses.append(int(response_dict.get("status_code", 0)))

    sts.meta.events.register("before-parse.sts.GetCallerIdentity", seen)
    try:
        sts.get_caller_identity()
    except Exception as exc:
        problem = access_error(exc, url)
        if problem is not None and problem.kind == ENDPOINT and not statuses:
            return Check("aws endpoint", FAIL, problem.problem, problem.fix)
    answer = f" (HTTP {statuses[-1]} without credentials)" if statuses else ""
    return Check("aws endpoint", OK, f"{url} answers{answer}")


def credentials(aws: AwsProvider) -> Check:
    """Who the credentials are (STS `GetCallerIdentity`)."""
    try:
        who = aws.caller()
    except CloudAccessError as exc:
        return Check("aws credentials", FAIL, exc.problem, exc.fix)
    except Exception as exc:
        return Check("aws credentials", FAIL, f"{type(exc).__name__}: {exc}", "see the error")
    return Check("aws credentials", OK, f"account {who['account']} as {who['arn']}")


def permissions(aws: AwsProvider, planned: Mapping[str, Named]) -> list[Check]:
    """For each AWS type of a plan: may the caller do what dpn does with it, on the planned
    resources' ARNs? Simulated by IAM for the caller's user or role (identity policies,
    permission boundaries and the organisation's SCPs, as IAM evaluates them; not resource
    policies, which a bucket or key may add). Where the simulator cannot be used, each type
    is listed with the actions it needs, `skip`."""
    who = aws.caller()
    place = {"partition": aws.partition, "region": aws.region, "account": who["account"]}
    source, why_not = _principal(aws, who["arn"], place)
    out: list[Check] = []
    iam = aws.check_client("iam")
    for type_key, named in sorted(planned.items()):
        if source is None:
            out.append(_not_simulated(type_key, why_not))
            continue
        try:
            denied = _denied_for(iam, source, type_key, named, place)
        except Exception as exc:
            code = error_code(exc)
            if code in ("AccessDenied", "AccessDeniedException"):
                why_not = f"{who['arn']} may not call iam:SimulatePrincipalPolicy"
            else:
                reason = f"{code}" if code else type(exc).__name__
                why_not = f"the endpoint does not offer iam:SimulatePrincipalPolicy ({reason})"
            source = None
            out.append(_not_simulated(type_key, why_not))
            continue
        wanted = needed(type_key)
        if denied:
            out.append(
                Check(
                    f"aws permissions {type_key}",
                    FAIL,
                    f"{len(denied)} of {len(wanted)} actions denied to {source}: "
                    + ", ".join(denied),
                    f"allow them to {source} (docs/provisioning.md lists what each type needs)",
                )
            )
        else:
            out.append(
                Check(
                    f"aws permissions {type_key}",
                    OK,
                    f"all {len(wanted)} actions allowed to {source} on {len(named)} planned "
                    "resource(s) (simulated by IAM)",
                )
            )
    return out


def _not_simulated(type_key: str, why: str) -> Check:
    return Check(
        f"aws permissions {type_key}",
        SKIP,
        f"not simulated: {why}; needs " + ", ".join(needed(type_key)),
    )


def _principal(aws: AwsProvider, arn: str, place: Mapping[str, str]) -> tuple[str | None, str]:
    """The IAM user or role the policy simulator takes for the caller `arn` (an assumed
    role's session is its role); or None and why not."""
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    kind, _, rest = resource.partition("/")
    base = f"arn:{place['partition']}:iam::{place['account']}"
    if kind == "user":
        return f"{base}:user/{rest}", ""
    if kind == "assumed-role":
        role = rest.split("/", 1)[0]
        try:
            found: dict[str, Any] = aws.check_client("iam").get_role(RoleName=role)
            return str(found["Role"]["Arn"]), ""
        except Exception:
            return f"{base}:role/{role}", ""  # its path unknown: the role at the root
    if resource == "root":
        return None, "the account's root user may do everything (and should not run dpn)"
    return None, f"{arn} is not an IAM user or role"


def _denied_for(
    iam: Any, source: str, type_key: str, named: Named, place: Mapping[str, str]
) -> list[str]:
    """The actions IAM's simulator does not allow `source` on `named`, sorted."""
    own = [arn_of(type_key, name, scope, place) for name, scope in named]
    groups: list[tuple[list[str], list[str]]] = [(list(ACTIONS[type_key]), own)]
    for action, pattern in ELSEWHERE.get(type_key, ()):
        arns = [] if pattern == "*" else [pattern.format(name=name, **place) for name, _ in named]
        groups.append(([action], arns))
    denied: set[str] = set()
    for actions, arns in groups:
        request: dict[str, Any] = {"PolicySourceArn": source, "ActionNames": actions}
        if arns:
            request["ResourceArns"] = arns
        for page in iam.get_paginator("simulate_principal_policy").paginate(**request):
            for result in page.get("EvaluationResults", []):
                decisions = [result.get("EvalDecision")] + [
                    r.get("EvalResourceDecision") for r in result.get("ResourceSpecificResults", [])
                ]
                if any(d != "allowed" for d in decisions):
                    denied.add(str(result.get("EvalActionName")))
    return sorted(denied)
