"""IAM roles and managed policies (`aws_iam_role`, `aws_iam_policy`).

IAM refuses to delete a role with policies attached, or a policy that is attached or has
versions besides its default one, so a delete clears them first, within what is dpn's: a
policy attached to a user, a group or a role that is not dpn's is not deleted (that would
take permissions from them), and neither is a role in an instance profile (dpn makes none:
the profile, and the machines that run with it, are someone else's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dpn_action.providers.aws.api import Api, Client, Kw, New, Target, from_kv, kv, settings, words
from dpn_action.providers.aws.errors import NOT_FOUND, AwsProviderError, has_code
from dpn_action.providers.aws.listing import Listing
from dpn_action.providers.base import MANAGED_BY_KEY, MANAGED_BY_VALUE, ResourceState

DEFAULT_ROLE_SERVICES = ("lambda", "glue")
#: grants nothing and denies nothing (a policy needs at least one statement)
PLACEHOLDER_POLICY: Kw = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "DpnPlaceholder", "Effect": "Deny", "NotAction": "*", "Resource": "*"}],
}


def trust_policy(props: Mapping[str, Any]) -> Kw:
    """A role's trust policy: the blueprint's own, or one trusting `assume_role_service`
    (a name such as `lambda`, a principal, or a comma-separated list)."""
    if props.get("trust_policy"):
        return dict(props["trust_policy"])
    given = props.get("assume_role_service") or DEFAULT_ROLE_SERVICES
    services = given.split(",") if isinstance(given, str) else list(given)
    principals = [s if "." in s else f"{s}.amazonaws.com" for s in map(str.strip, services)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": principals[0] if len(principals) == 1 else principals},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def _role_create(c: Client, n: New) -> Kw:
    kw: Kw = {
        "RoleName": n.name,
        "AssumeRolePolicyDocument": json.dumps(trust_policy(n.props)),
        "Tags": kv(n.tags),
    }
    for prop, param in (("path", "Path"), ("description", "Description")):
        if n.props.get(prop):
            kw[param] = n.props[prop]
    if n.props.get("max_session_duration"):
        kw["MaxSessionDuration"] = int(n.props["max_session_duration"])
    return dict(c.create_role(**kw))


def _role_configure(c: Client, n: New, t: Target) -> None:
    for arn in n.props.get("managed_policy_arns") or ():
        c.attach_role_policy(RoleName=t.name, PolicyArn=arn)


def _trust_key(n: New) -> str:
    return "trust_policy" if n.props.get("trust_policy") else "assume_role_service"


def _role_wanted(n: New) -> Kw:
    return {
        _trust_key(n): trust_policy(n.props),
        "description": n.props.get("description") or "",
        "max_session_duration": int(n.props.get("max_session_duration") or 3600),
        "managed_policy_arns": sorted(n.props.get("managed_policy_arns") or ()),
    }


def _role_current(c: Client, n: New, t: Target, found: Kw) -> Kw:
    role = found["Role"]
    document = role["AssumeRolePolicyDocument"]
    attached = {
        policy["PolicyArn"]
        for page in c.get_paginator("list_attached_role_policies").paginate(RoleName=t.name)
        for policy in page["AttachedPolicies"]
    }
    return {
        _trust_key(n): json.loads(document) if isinstance(document, str) else document,
        "description": role.get("Description", ""),
        "max_session_duration": role.get("MaxSessionDuration", 3600),
        # policies attached by others are left alone: only missing ones count
        "managed_policy_arns": sorted(attached & set(n.props.get("managed_policy_arns") or ())),
    }


def _role_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    trust = changed.get("trust_policy") or changed.get("assume_role_service")
    if trust is not None:
        c.update_assume_role_policy(RoleName=t.name, PolicyDocument=json.dumps(trust))
    if {"description", "max_session_duration"} & set(changed):
        wanted = _role_wanted(n)
        c.update_role(
            RoleName=t.name,
            Description=wanted["description"],
            MaxSessionDuration=wanted["max_session_duration"],
        )
    if "managed_policy_arns" in changed:
        _role_configure(c, n, t)


def _role_clear(c: Client, t: Target, state: ResourceState) -> None:
    """IAM refuses to delete a role with policies or instance profiles attached."""
    for page in c.get_paginator("list_attached_role_policies").paginate(RoleName=t.name):
        for policy in page["AttachedPolicies"]:
            c.detach_role_policy(RoleName=t.name, PolicyArn=policy["PolicyArn"])
    for page in c.get_paginator("list_role_policies").paginate(RoleName=t.name):
        for policy_name in page["PolicyNames"]:
            c.delete_role_policy(RoleName=t.name, PolicyName=policy_name)
    profiles = [
        profile["InstanceProfileName"]
        for page in c.get_paginator("list_instance_profiles_for_role").paginate(RoleName=t.name)
        for profile in page["InstanceProfiles"]
    ]
    if profiles:
        # dpn makes no instance profiles: they are someone else's, and so are the machines
        # that run with them.
        raise AwsProviderError(
            f"IAM role {t.name} is in instance profile(s) {', '.join(profiles)}, which dpn did "
            "not make: remove it from them first, or keep the role"
        )


def _policy_document(n: New) -> Kw:
    document = n.props.get("policy_document") or PLACEHOLDER_POLICY
    return {"policy_document": json.loads(document) if isinstance(document, str) else document}


def _policy_create(c: Client, n: New) -> Kw:
    document = n.props.get("policy_document") or PLACEHOLDER_POLICY
    kw: Kw = {
        "PolicyName": n.name,
        "PolicyDocument": document if isinstance(document, str) else json.dumps(document),
        "Tags": kv(n.tags),
    }
    for prop, param in (("path", "Path"), ("description", "Description")):
        if n.props.get(prop):
            kw[param] = n.props[prop]
    return dict(c.create_policy(**kw))


def _policy_find(c: Client, t: Target) -> Kw:
    """By ARN at the default path; a policy created with a `path` is found by listing."""
    try:
        return dict(c.get_policy(PolicyArn=t.arn("iam", f"policy/{t.name}", regional=False)))
    except Exception as exc:
        if not has_code(exc, NOT_FOUND, "iam"):
            raise
        for page in c.get_paginator("list_policies").paginate(Scope="Local"):
            for policy in page["Policies"]:
                if policy["PolicyName"] == t.name:
                    return {"Policy": policy}
        raise


def _policy_current(c: Client, n: New, t: Target, found: Kw) -> Kw:
    version = found["Policy"]["DefaultVersionId"]
    document = c.get_policy_version(PolicyArn=t.id, VersionId=version)["PolicyVersion"]
    text = document["Document"]
    return {"policy_document": json.loads(text) if isinstance(text, str) else text}


#: IAM keeps at most five versions of a managed policy
POLICY_VERSIONS = 5


def _policy_apply(c: Client, n: New, t: Target, changed: Kw) -> None:
    """A new default version; the oldest other version goes when IAM's five are used up."""
    versions = c.list_policy_versions(PolicyArn=t.id)["Versions"]
    if len(versions) >= POLICY_VERSIONS:
        old = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        c.delete_policy_version(PolicyArn=t.id, VersionId=old["VersionId"])
    document = json.dumps(changed["policy_document"])
    c.create_policy_version(PolicyArn=t.id, PolicyDocument=document, SetAsDefault=True)


def _policy_clear(c: Client, t: Target, state: ResourceState) -> None:
    """IAM refuses to delete a policy that is attached or has non-default versions.

    It is detached from roles that are dpn's; attached to anything else (a user, a group, a
    role dpn did not make) it is not deleted: that would take permissions from them.
    """
    ours: list[str] = []
    foreign: list[str] = []
    for page in c.get_paginator("list_entities_for_policy").paginate(PolicyArn=t.id):
        for role in page.get("PolicyRoles", []):
            tags = from_kv(c.list_role_tags(RoleName=role["RoleName"]).get("Tags"))
            mine = tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE
            (ours if mine else foreign).append(role["RoleName"])
        foreign += [f"user {u['UserName']}" for u in page.get("PolicyUsers", [])]
        foreign += [f"group {g['GroupName']}" for g in page.get("PolicyGroups", [])]
    if foreign:
        raise AwsProviderError(
            f"IAM policy {t.name} is attached to {', '.join(foreign)}, which dpn did not "
            "make: detach it there first, or keep the policy"
        )
    for role_name in ours:
        c.detach_role_policy(RoleName=role_name, PolicyArn=t.id)
    for version in c.list_policy_versions(PolicyArn=t.id)["Versions"]:
        if not version["IsDefaultVersion"]:
            c.delete_policy_version(PolicyArn=t.id, VersionId=version["VersionId"])


APIS: dict[str, Api] = {
    "aws_iam_role": Api(
        "iam",
        properties=words(
            "trust_policy assume_role_service path description max_session_duration "
            "managed_policy_arns"
        ),
        create=_role_create,
        find=lambda c, t: c.get_role(RoleName=t.name),
        ident=lambda r, t: r["Role"]["Arn"],
        tags=lambda c, t, r: from_kv(c.list_role_tags(RoleName=t.name).get("Tags")),
        tag=lambda c, t, tags: c.tag_role(RoleName=t.name, Tags=kv(tags)),
        delete=lambda c, t: c.delete_role(RoleName=t.name),
        created=lambda r, t: r["Role"]["Arn"],
        propagates=True,
        configure=_role_configure,
        clear=_role_clear,
        incarnation=lambda r: r["Role"].get("RoleId"),
        # every path: a role's name is unique in the account whatever its path
        listing=Listing(
            "list_roles",
            "Roles",
            name=lambda r: r["RoleName"],
            ident=lambda r, t: r["Arn"],
            page_size=("MaxItems", 1000),
            token=("Marker", "Marker"),
        ),
        settings=settings(
            "trust_policy assume_role_service description max_session_duration managed_policy_arns",
            _role_wanted,
            _role_current,
            _role_apply,
        ),
    ),
    "aws_iam_policy": Api(
        "iam",
        properties=words("policy_document path description"),
        create=_policy_create,
        find=_policy_find,
        ident=lambda r, t: r["Policy"]["Arn"],
        tags=lambda c, t, r: from_kv(c.list_policy_tags(PolicyArn=t.id).get("Tags")),
        tag=lambda c, t, tags: c.tag_policy(PolicyArn=t.id, Tags=kv(tags)),
        delete=lambda c, t: c.delete_policy(PolicyArn=t.id),
        created=lambda r, t: r["Policy"]["Arn"],
        clear=_policy_clear,
        incarnation=lambda r: r["Policy"].get("PolicyId"),
        listing=Listing(
            "list_policies",
            "Policies",
            name=lambda p: p["PolicyName"],
            ident=lambda p, t: p["Arn"],
            page_size=("MaxItems", 1000),
            params=lambda scope: {"Scope": "Local"},
            token=("Marker", "Marker"),
        ),
        settings=settings("policy_document", _policy_document, _policy_current, _policy_apply),
    ),
}
