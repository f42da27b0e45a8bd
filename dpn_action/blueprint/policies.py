"""Security of the IAM policy documents a blueprint gives as creation settings (`DPN3xx`).

Which creation property holds which kind of document is data in the catalogue
(`ResourceType.policies`): a role's `trust_policy` says who may assume the role, a managed
policy's `policy_document` what it allows. Two shapes are reported, as warnings (errors under
`--strict`), at the offending value:

- `DPN300`: an Allow statement of a trust policy whose `Principal` is `"*"` or
  `{"AWS": "*"}` (also as an item of a list), or which uses `NotPrincipal`: every AWS
  principal may assume the role. A statement whose `Condition` pins the caller to an
  organisation, account or principal (`aws:PrincipalOrgID`, `aws:PrincipalAccount`,
  `aws:PrincipalArn`, `aws:SourceAccount`, ... with a positive operator) is the documented
  way to share a role widely and is not reported.
- `DPN301`: an Allow statement of a permissions policy that grants every action (`"*"` or
  `"*:*"`, alone or in a list, or any `NotAction`) on every resource (`"*"`, alone or in a
  list, or any `NotResource`).

`Statement` may be one object or a list; a document may be given as a JSON string (the
finding then points at the string and names the place inside it). What is not judged: a
wildcard inside a service or ARN (`s3:*`, `arn:aws:iam::*:root`), other principal kinds, and
what a `Condition` other than the ones above allows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from dpn_action.findings import Finding, join_pointer

if TYPE_CHECKING:
    from dpn_action.blueprint.expand import Resource

TRUST_SOURCE = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html"
)
LEAST_PRIVILEGE_SOURCE = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
)

_EVERY_ACTION = frozenset({"*", "*:*"})
#: the code of each kind of document (`ResourceType.policies`)
_CODE = {"trust": "DPN300", "permissions": "DPN301"}

#: condition keys that name who the caller is (or on whose behalf a service calls)
_CALLER_KEYS = frozenset(
    {
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:userid",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
    }
)


class _Located:
    """A policy document and where its parts are: a node's pointer in the blueprint, and for
    a document given as a JSON string, the path inside the string."""

    def __init__(self, pointer: str, encoded: bool) -> None:
        self.pointer = pointer
        self.encoded = encoded

    def at(self, *tokens: str | int) -> tuple[str, str]:
        """(pointer in the blueprint, how to name the place in a message)."""
        inner = "/".join(str(t) for t in tokens)
        if self.encoded:
            return self.pointer, f" (at {inner} in the JSON string)"
        return join_pointer(self.pointer, *tokens), ""


def check_policies(resources: Iterable[Resource]) -> list[Finding]:
    """`DPN300` and `DPN301` findings for the in-scope resources of one blueprint."""
    findings: list[Finding] = []
    for r in resources:
        if not r.in_scope or not r.type.policies:
            continue
        for prop, kind in r.type.policies.items():
            if prop not in r.entry:
                continue
            document, located = _document(r.entry[prop], join_pointer(r.pointer, prop))
            if document is None:
                continue
            check = _trust if kind == "trust" else _permissions
            for pointer, message, hint in check(document, located, prop):
                findings.append(r.blueprint.doc.finding(_CODE[kind], message, pointer, hint=hint))
    return findings


def _document(value: Any, pointer: str) -> tuple[dict[str, Any] | None, _Located]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None, _Located(pointer, True)  # not JSON: the cloud's own error to give
        return (value if isinstance(value, dict) else None), _Located(pointer, True)
    return (value if isinstance(value, dict) else None), _Located(pointer, False)


def _allow_statements(document: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """(path of the statement, statement) for each Allow statement."""
    statements = document.get("Statement")
    if isinstance(statements, dict):
        found: list[tuple[tuple[str | int, ...], Any]] = [(("Statement",), statements)]
    elif isinstance(statements, list):
        found = [(("Statement", i), s) for i, s in enumerate(statements)]
    else:
        return
    for path, s in found:
        effect = s.get("Effect") if isinstance(s, dict) else None
        if isinstance(effect, str) and effect.lower() == "allow":
            yield path, s


def _items(value: Any) -> list[tuple[tuple[int, ...], Any]]:
    """A policy element's values with their path: one value, or the items of a list."""
    if isinstance(value, list):
        return [((i,), v) for i, v in enumerate(value)]
    return [((), value)]


def _limits_caller(condition: Any) -> bool:
    """True when a Condition requires the caller's organisation, account or identity to
    match (a positive, non-`IfExists`, non-`ForAllValues` operator on a caller key)."""
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        op = str(operator).lower()
        if (
            not isinstance(block, dict)
            or "not" in op
            or op == "null"
            or op.endswith("ifexists")
            or op.startswith("forallvalues:")
        ):
            continue
        if any(str(key).lower() in _CALLER_KEYS for key in block):
            return True
    return False


def _trust(document: dict[str, Any], where: _Located, prop: str) -> Iterator[tuple[str, str, str]]:
    hint = (
        "name the accounts, roles or services that may assume the role, or pin the caller "
        f"with a Condition on aws:PrincipalOrgID or aws:PrincipalAccount (see {TRUST_SOURCE})"
    )
    for path, s in _allow_statements(document):
        if _limits_caller(s.get("Condition")):
            continue
        if "NotPrincipal" in s:
            pointer, inner = where.at(*path, "NotPrincipal")
            yield (
                pointer,
                f"{prop} allows NotPrincipal{inner}: every principal except the ones named "
                "can assume this role",
                hint,
            )
        principal = s.get("Principal")
        if principal == "*":
            pointer, inner = where.at(*path, "Principal")
            yield (
                pointer,
                f'{prop} trusts Principal "*"{inner}: any AWS principal can assume this role',
                hint,
            )
        elif isinstance(principal, dict):
            for sub, value in _items(principal.get("AWS")):
                if value == "*":
                    pointer, inner = where.at(*path, "Principal", "AWS", *sub)
                    yield (
                        pointer,
                        f'{prop} trusts {{"AWS": "*"}}{inner}: any AWS principal can assume '
                        "this role",
                        hint,
                    )


def _permissions(
    document: dict[str, Any], where: _Located, prop: str
) -> Iterator[tuple[str, str, str]]:
    hint = (
        "grant only the actions and resources the policy's users need "
        f"(see {LEAST_PRIVILEGE_SOURCE})"
    )
    for path, s in _allow_statements(document):
        resources = "NotResource" in s or any(v == "*" for _, v in _items(s.get("Resource")))
        if not resources:
            continue
        on = "every resource" if "NotResource" not in s else "every resource but NotResource's"
        if "NotAction" in s:
            pointer, inner = where.at(*path, "NotAction")
            yield (
                pointer,
                f"{prop} allows every action except NotAction's on {on}{inner}",
                hint,
            )
            continue
        for sub, value in _items(s.get("Action")):
            if isinstance(value, str) and value in _EVERY_ACTION:
                pointer, inner = where.at(*path, "Action", *sub)
                yield (
                    pointer,
                    f'{prop} allows every action ("{value}") on {on}{inner}',
                    hint,
                )
                break
