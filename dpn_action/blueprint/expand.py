"""Blueprint files -> resources: entries of every collection (the Unity Catalog tree
included), scope, references and the dependency graph."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpn_action.blueprint.files import check_local_files
from dpn_action.blueprint.policies import check_policies
from dpn_action.findings import Finding, Severity, did_you_mean, join_pointer
from dpn_action.naming.catalogue import CATALOGUE, CHILDREN, COLLECTIONS, PLACEHOLDER, ResourceType
from dpn_action.naming.engine import NameResult
from dpn_action.source import Document
from dpn_action.tree import Source, source_of


@dataclass(eq=False, slots=True)
class Resource:
    type: ResourceType
    blueprint: BlueprintFile
    pointer: str
    entry: dict[str, Any]
    parent: Resource | None = None
    in_scope: bool = True
    refs: dict[str, Resource] = field(default_factory=dict)
    deps: list[Resource] = field(default_factory=list)
    result: NameResult | None = None
    #: local-file properties (`LocalFile.keys`) -> the file, relative to the repository root
    files: dict[tuple[str, ...], str] | None = None
    _full_name: str | None = field(default=None, repr=False)

    @property
    def id(self) -> str | None:
        v = self.entry.get("id")
        return v if isinstance(v, str) else None

    @property
    def name(self) -> str | None:
        return self.result.name if self.result is not None else None

    @property
    def container(self) -> Resource | None:
        """The resource this one is named within (UC parent, or a Glue table's database)."""
        if self.parent is not None:
            return self.parent
        if self.type.parent_ref is not None:
            return self.refs.get(self.type.parent_ref)
        return None

    @property
    def full_name(self) -> str | None:
        """`catalog.schema.table` for Unity Catalog, `database.table` for Glue tables."""
        if self._full_name is not None:
            return self._full_name
        if self.name is None:
            return None
        c = self.container
        if c is None:
            full: str | None = self.name
        else:
            parent = c.full_name
            full = f"{parent}.{self.name}" if parent else None
        # Remembered once known: names are final after naming, and this is asked often.
        self._full_name = full
        return full

    @property
    def label(self) -> str:
        return self.id or self.name or f"{self.type.key}#{self.pointer}"

    def short_key(self) -> str | None:
        """The key the original tool used to refer to this entry (`sales-bronze`)."""
        tpl = self.type.short_key
        if tpl is None:
            return None
        out = tpl
        for var in PLACEHOLDER.findall(tpl):
            v = self.entry.get(var)
            if not isinstance(v, str):
                return None
            out = out.replace("{" + var + "}", v)
        return out

    def finding(
        self,
        code: str,
        message: str,
        *,
        field_name: str | None = None,
        hint: str = "",
        key: bool = False,
        severity: Severity | None = None,
    ) -> Finding:
        ptr = self.pointer
        if field_name is not None and field_name in self.entry:
            ptr = join_pointer(self.pointer, field_name)
        return self.blueprint.doc.finding(code, message, ptr, hint=hint, key=key, severity=severity)


@dataclass(eq=False)
class BlueprintFile:
    doc: Document
    resources: list[Resource] = field(default_factory=list)
    #: the file as it was given (files it names are relative to it); None: not from a file
    source: Path | None = None
    #: the repository root it belongs to (`dpn_action.inputs.repository_root`)
    root: Path | None = None

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.data if isinstance(self.doc.data, dict) else {}

    @property
    def metadata(self) -> dict[str, Any]:
        md = self.data.get("metadata")
        return md if isinstance(md, dict) else {}

    @property
    def environment(self) -> str:
        env = self.metadata.get("environment")
        return env if isinstance(env, str) else ""


def load_blueprint(
    source: Source | Path, *, raw: bytes | None = None
) -> tuple[BlueprintFile, list[Finding]]:
    """Read, check the structure of, expand, and check the IAM policies of one blueprint
    (a file of a tree, or a path on this machine, read from its work tree; `raw`: its
    bytes, read already)."""
    from dpn_action.source import parse_bytes
    from dpn_action.structure import validate

    if not isinstance(source, Source):
        source = source_of(source)
    doc = source.document() if raw is None else parse_bytes(raw, source.display)
    root = source.tree.root
    findings = list(doc.findings)
    bp = BlueprintFile(doc, source=source.path, root=root)
    if doc.data is None:
        if doc.ok:
            findings.append(
                Finding.make(
                    "DPN012",
                    "blueprint is empty",
                    file=doc.path,
                    hint="run `dpn plan init` for a starting point",
                )
            )
        return bp, findings
    findings.extend(validate(doc, "blueprint", "blueprint"))
    findings.extend(expand(bp))
    findings.extend(check_policies(bp.resources))
    findings.extend(check_local_files(bp))
    return bp, findings


def _entries(container: Any, pointer: str, key: str) -> list[tuple[str, dict[str, Any]]]:
    items = container.get(key) if isinstance(container, dict) else None
    if not isinstance(items, list):
        return []
    base = join_pointer(pointer, key)
    return [(join_pointer(base, i), e) for i, e in enumerate(items) if isinstance(e, dict)]


def expand(bp: BlueprintFile) -> list[Finding]:
    """Create the blueprint's resources, apply its scope and resolve references."""
    findings: list[Finding] = []
    resources = bp.data.get("resources")
    if not isinstance(resources, dict):
        return findings

    def add(t: ResourceType, ptr: str, entry: dict[str, Any], parent: Resource | None) -> None:
        r = Resource(t, bp, ptr, entry, parent)
        bp.resources.append(r)
        for child in CHILDREN.get(t.key, []):
            for cptr, centry in _entries(entry, ptr, child.collection[-1]):
                add(child, cptr, centry, r)

    for path, t in COLLECTIONS.items():
        node: Any = resources
        ptr = "/resources"
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            ptr = join_pointer(ptr, part)
        for eptr, entry in _entries(node, ptr, path[-1]):
            add(t, eptr, entry, None)

    findings.extend(_apply_scope(bp))
    findings.extend(_resolve_refs(bp))
    findings.extend(_find_cycles(bp))
    return findings


def _apply_scope(bp: BlueprintFile) -> list[Finding]:
    scope = bp.data.get("scope")
    if not isinstance(scope, dict):
        return []
    listed = scope.get("patterns")  # a wrong type is the structure check's DPN010
    patterns = [p for p in listed if isinstance(p, str)] if isinstance(listed, list) else []
    mode = scope.get("mode", "include")
    findings = []
    for i, pat in enumerate(patterns):
        if not fnmatch.filter(CATALOGUE, pat):
            findings.append(
                bp.doc.finding(
                    "DPN202",
                    f"scope pattern '{pat}' matches no resource type",
                    join_pointer("/scope/patterns", i),
                    hint=(
                        did_you_mean(pat, list(CATALOGUE)).strip().capitalize()
                        or "type keys look like aws_s3_bucket or dbx_*"
                    ),
                )
            )
    if not patterns or mode not in ("include", "exclude"):
        return findings
    for r in bp.resources:
        hit = any(fnmatch.fnmatchcase(r.type.key, p) for p in patterns)
        r.in_scope = hit if mode == "include" else not hit
    return findings


def _resolve_refs(bp: BlueprintFile) -> list[Finding]:
    findings: list[Finding] = []
    by_type: dict[str, list[Resource]] = {}
    by_id: dict[str, Resource] = {}
    for r in bp.resources:
        by_type.setdefault(r.type.key, []).append(r)
        if r.id is not None:
            if r.id in by_id:
                first = by_id[r.id]
                line, _ = bp.doc.position(first.pointer)
                findings.append(
                    r.finding(
                        "DPN022",
                        f"id '{r.id}' is already used on line {line}",
                        field_name="id",
                        hint="ids must be unique in a blueprint",
                    )
                )
            else:
                by_id[r.id] = r
    for r in bp.resources:
        if r.parent is not None:
            r.deps.append(r.parent)
        for ref_field, target_type in r.type.refs.items():
            value = r.entry.get(ref_field)
            if not isinstance(value, str):
                continue
            target, problem = _match(value, by_type.get(target_type, []), by_id, target_type)
            if target is not None:
                r.refs[ref_field] = target
                r.deps.append(target)
            else:
                assert problem is not None
                findings.append(
                    r.finding(problem[0], problem[1], field_name=ref_field, hint=problem[2])
                )
        deps = r.entry.get("depends_on")
        if isinstance(deps, list):
            for i, d in enumerate(deps):
                if not isinstance(d, str):
                    continue
                target = by_id.get(d)
                if target is None:
                    findings.append(
                        bp.doc.finding(
                            "DPN020",
                            f"depends_on '{d}' is not the id of any entry",
                            join_pointer(r.pointer, "depends_on", i),
                            hint=(
                                did_you_mean(d, list(by_id)).strip().capitalize()
                                or "give the entry you mean an `id`"
                            ),
                        )
                    )
                elif target is not r:
                    r.deps.append(target)
    return findings


def _match(
    value: str, candidates: list[Resource], by_id: dict[str, Resource], target_type: str
) -> tuple[Resource | None, tuple[str, str, str] | None]:
    hit = by_id.get(value)
    if hit is not None and hit.type.key == target_type:
        return hit, None
    matches = [c for c in candidates if c.short_key() == value]
    if len(matches) == 1:
        return matches[0], None
    title = CATALOGUE[target_type].title
    if len(matches) > 1:
        return None, (
            "DPN023",
            f"'{value}' matches {len(matches)} {title} entries",
            "give the entry you mean an `id` and refer to that",
        )
    keys = sorted({k for c in candidates for k in (c.id, c.short_key()) if k})
    if not keys:
        return None, (
            "DPN020",
            f"'{value}' refers to {CATALOGUE[target_type].article} {title}, but the blueprint "
            "has none",
            f"add the {title} to the blueprint",
        )
    close = did_you_mean(value, keys)
    shown = ", ".join(f"'{k}'" for k in keys[:8]) + (" ..." if len(keys) > 8 else "")
    return None, (
        "DPN020",
        f"no {title} '{value}'",
        (close.strip().capitalize() + " " if close else "") + f"candidates: {shown}",
    )


def _find_cycles(bp: BlueprintFile) -> list[Finding]:
    findings: list[Finding] = []
    state: dict[int, int] = {}  # 1 = on the stack, 2 = done
    reported: set[frozenset[int]] = set()
    for start in bp.resources:
        if state.get(id(start)):
            continue
        for d in start.deps:
            if state.get(id(d)) != 2:
                break
        else:  # nothing to follow: no deps, or all of them done already
            state[id(start)] = 2
            continue
        stack: list[tuple[Resource, int]] = [(start, 0)]
        path: list[Resource] = [start]
        state[id(start)] = 1
        while stack:
            node, i = stack[-1]
            if i < len(node.deps):
                stack[-1] = (node, i + 1)
                nxt = node.deps[i]
                s = state.get(id(nxt))
                if s == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    key = frozenset(id(c) for c in cycle)
                    if key not in reported:
                        reported.add(key)
                        shown = " -> ".join(c.label for c in cycle)
                        findings.append(
                            nxt.finding(
                                "DPN021",
                                f"reference cycle: {shown}",
                                hint="remove one of the references or depends_on entries",
                            )
                        )
                elif s is None:
                    state[id(nxt)] = 1
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                state[id(node)] = 2
                stack.pop()
                path.pop()
    return findings


def topological(resources: list[Resource]) -> list[Resource]:
    """Resources with every dependency before its dependents (stable; cycles broken)."""
    out: list[Resource] = []
    seen: set[int] = set()
    for r in resources:
        if id(r) in seen:
            continue
        seen.add(id(r))
        if not r.deps:  # nothing to put first (most resources)
            out.append(r)
            continue
        stack = [(r, iter(r.deps))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                out.append(node)
            elif id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append((nxt, iter(nxt.deps)))
    return out
