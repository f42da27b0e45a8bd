"""Files a blueprint names: a Lambda function's `code.zip_file`, and whatever else the
catalogue declares as a `LocalFile`.

Such a path is written relative to the blueprint file (never the current directory), must
stay inside the repository (`..` and links included), must name a regular file, and may be
at most the cloud's own limit for it. `dpn lint` checks all of that at the property; the
plan carries the path relative to the repository root, in POSIX form, so the plan hash does
not depend on where the repository is checked out; `dpn create` hands the provider the
absolute path, and the provider checks it again as it reads it (`dpn_action.inputs`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from dpn_action.findings import Finding, join_pointer
from dpn_action.inputs import OUTSIDE, TOO_LARGE, InputRefused, below, check_file

if TYPE_CHECKING:
    from dpn_action.blueprint.expand import BlueprintFile
    from dpn_action.naming.catalogue import LocalFile

_OUTSIDE_HINT = "keep the file in the repository and write its path relative to the blueprint"


def check_local_files(bp: BlueprintFile) -> list[Finding]:
    """Check every local-file property of the blueprint's in-scope resources, and record
    the repository-relative path of each good one on its resource (`Resource.files`)."""
    findings: list[Finding] = []
    if bp.source is None or bp.root is None:
        return findings
    for r in bp.resources:
        if not r.in_scope or not r.type.local_files:
            continue
        for spec in r.type.local_files:
            value = lookup(r.entry, spec.keys)
            if not isinstance(value, str):
                continue
            pointer = join_pointer(r.pointer, *spec.keys)
            try:
                rel = resolve_local_file(bp.source, value, spec, bp.root)
                r.files = {**(r.files or {}), spec.keys: rel}
            except InputRefused as exc:
                findings.append(
                    bp.doc.finding(
                        "DPN015", f"{spec.label} {value!r} {exc.message}", pointer, hint=exc.hint
                    )
                )
            except OSError as exc:
                findings.append(
                    bp.doc.finding(
                        "DPN015",
                        f"{spec.label} {value!r} cannot be read: {exc.strerror or exc}",
                        pointer,
                        hint="the path is relative to the blueprint file; check it",
                    )
                )
    return findings


def resolve_local_file(blueprint: Path, value: str, spec: LocalFile, root: Path) -> str:
    """The file `value` (relative to the `blueprint` file) names, relative to `root` in
    POSIX form; `InputRefused` (DPN015) when it breaks a rule, `OSError` when it is missing."""
    if not value.strip():
        raise InputRefused("DPN015", "is empty", "name the file, relative to the blueprint")
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).drive or value.startswith("\\"):
        raise InputRefused("DPN015", "is an absolute path", _OUTSIDE_HINT)
    joined = os.path.join(os.path.dirname(os.path.abspath(blueprint)), value)
    if not below(os.path.normpath(joined), os.path.abspath(root)):
        raise InputRefused("DPN015", "is outside the repository", _OUTSIDE_HINT, OUTSIDE)
    try:
        real, _ = check_file(joined, limit=spec.max_bytes, root=root, code="DPN015")
    except InputRefused as exc:
        if exc.reason == TOO_LARGE:
            exc.hint = spec.too_large
        raise
    return Path(os.path.relpath(real, os.path.realpath(root))).as_posix()


def lookup(entry: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The value at `keys` under `entry`, or None."""
    node: Any = entry
    for k in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(k)
    return node


def replace_at(
    props: dict[str, Any], keys: tuple[str, ...], value: Callable[[Any], Any]
) -> dict[str, Any]:
    """A copy of `props` with the value at `keys` replaced by `value(old)` (only the
    mappings on the way are copied); `props` itself when there is no value there."""
    if lookup(props, keys) is None:
        return props
    out = dict(props)
    node = out
    for k in keys[:-1]:
        node[k] = dict(node[k])
        node = node[k]
    node[keys[-1]] = value(node[keys[-1]])
    return out
