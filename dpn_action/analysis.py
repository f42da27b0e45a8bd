"""The core every face calls: configs + blueprints -> named resources and findings.

`analyse()` names every in-scope resource of every blueprint, checks entries for unknown
fields, and checks uniqueness within each type's real scope across *all* blueprints given.
Blueprints passed only as `context` take part in the uniqueness check, but their own
findings are not reported (a commit hook lints the staged files against the whole repo).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpn_action.blueprint.expand import BlueprintFile, Resource, load_blueprint
from dpn_action.findings import (
    Finding,
    Fix,
    close_matches,
    join_pointer,
    plural,
    rename_fix,
    suggestion,
)
from dpn_action.inputs import InputRefused
from dpn_action.namecache import Claim, NameCache
from dpn_action.naming.catalogue import COMMON_ENTRY_KEYS, PLACEHOLDER, ResourceType
from dpn_action.naming.config import Configs, NamingConfig, unknown_placeholders
from dpn_action.naming.engine import (
    Issue,
    Sourced,
    Values,
    compact,
    derive_values,
    make_name,
    transform_layer,
    transformed,
    transformed_names,
)
from dpn_action.naming.fields import entry_keys
from dpn_action.source import Document
from dpn_action.tree import Source, source_of

#: the values region_short is derived from or is
_REGIONS = frozenset({"region", "region_short"})

#: entry keys that are never naming values
_NOT_VALUES = frozenset(COMMON_ENTRY_KEYS) - {"description", "comment"}


@dataclass
class Analysis:
    blueprints: list[BlueprintFile] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: the naming configs the blueprints were named with
    configs: list[NamingConfig] = field(default_factory=list)

    @property
    def resources(self) -> list[Resource]:
        return [r for bp in self.blueprints for r in bp.resources if r.in_scope]

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)


def analyse(
    cfg: NamingConfig | Configs,
    targets: Sequence[Source | Path],
    *,
    context: Sequence[Source | Path] | None = None,
    names: bool = True,
    display_root: Path | None = None,
    trace_type: str | None = None,
    cache: NameCache | None = None,
) -> Analysis:
    """Load and check blueprints. With `names=False` only structure, scope and references
    are checked (the fast `plan validate`).

    `cfg` is one naming config for every blueprint, or `Configs`: each blueprint is then
    named with the configs of its own directory, and their findings are reported too. A
    blueprint given as a path is read from its work tree, and findings name it relative to
    `display_root` (default: the current directory).

    With a `cache`, what the uniqueness check needs of each `context` blueprint (its
    claims) is taken from the cache when it holds them for exactly the file's bytes and
    naming configs, and kept there otherwise (`dpn_action.namecache`); such a blueprint is
    then not among the analysis's `blueprints`."""
    out = Analysis()
    target_files: set[str] = set()
    docs: dict[str, Document] = {}
    seen: set[tuple[str, str, str]] = set()
    config_of: dict[int, NamingConfig] = {}
    #: every blueprint in the order read, loaded or taken from the cache
    order: list[BlueprintFile | _Cached] = []
    to_keep: list[tuple[BlueprintFile, str]] = []
    use_cache = cache is not None and names
    both = [(s, True) for s in targets] + [(s, False) for s in context or []]
    for given, is_target in both:
        src = given if isinstance(given, Source) else source_of(given, display_root)
        if src.key in seen:
            continue
        seen.add(src.key)
        raw: bytes | None = None
        key = ""
        if use_cache and not is_target:
            assert cache is not None
            c = cfg if isinstance(cfg, NamingConfig) else cfg.for_file(src)
            try:
                raw = src.read()
            except (InputRefused, OSError):
                raw = None  # read again below, to be reported as it always is
            if raw is not None:
                key = cache.key(src.rel, raw, c)
                claims = cache.get(key)
                if claims is not None:
                    order.append(_Cached(src.display, raw, claims))
                    continue
        bp, findings = load_blueprint(src, raw=raw)
        if raw is not None:
            to_keep.append((bp, key))
        out.blueprints.append(bp)
        order.append(bp)
        docs[bp.doc.path] = bp.doc
        config_of[id(bp)] = cfg if isinstance(cfg, NamingConfig) else cfg.for_file(src)
        if is_target:
            target_files.add(bp.doc.path)
            out.findings.extend(findings)
    for c in {id(c): c for c in config_of.values()}.values():
        for d in (c.values_doc, c.patterns_doc):
            if d is not None:
                docs[d.path] = d
    if names:
        namers: dict[int, _Namer] = {}
        for bp in out.blueprints:
            c = config_of[id(bp)]
            namer = namers.get(id(c))
            if namer is None:
                namer = namers[id(c)] = _Namer(c, docs, trace_type)
            fs = namer.name_blueprint(bp)
            if bp.doc.path in target_files:
                out.findings.extend(namer.unknown_fields(bp))
                out.findings.extend(fs)
        for namer in namers.values():
            named = [
                r
                for bp in out.blueprints
                if bp.doc.path in target_files and config_of[id(bp)] is namer.cfg
                for r in bp.resources
            ]
            out.findings.extend(lost_segments(namer.cfg, named))
        out.findings.extend(_uniqueness(order, target_files))
        if cache is not None:
            for bp, key in to_keep:
                cache.put(key, claims_of(bp))
            cache.save()
    if isinstance(cfg, Configs):
        out.findings = cfg.findings + out.findings
    out.findings = _dedupe(out.findings)
    out.configs = list({id(c): c for c in config_of.values()}.values())
    return out


#: names a finding about lost segments shows before it says "and N more"
SHOWN_NAMES = 5


def lost_segments(cfg: NamingConfig, resources: list[Resource]) -> list[Finding]:
    """DPN206 at a pattern of naming-patterns.yaml for each variable that some names had no
    value for, so that their segment was left out: which names, and how many of the type's.
    A variable the catalogue makes optional (a job's {schedule}) is left out by design."""
    doc = cfg.patterns_doc
    if doc is None:
        return []
    lost: dict[tuple[str, str], list[str]] = {}
    total: dict[str, int] = {}
    for r in resources:
        t = r.type
        if not r.in_scope or r.result is None or r.name is None or "name" in r.entry:
            continue
        total[t.key] = total.get(t.key, 0) + 1
        for var in dict.fromkeys(r.result.dropped):
            if var not in t.optional and t.key in cfg.user_patterns:
                lost.setdefault((t.key, var), []).append(r.name)
    for key, var in list(lost):
        if var in unknown_placeholders(cfg, key):
            del lost[key, var]  # DPN203 already says so, as an error
    findings = []
    for (key, var), names in sorted(lost.items()):
        shown = ", ".join(f"'{n}'" for n in names[:SHOWN_NAMES])
        if len(names) > SHOWN_NAMES:
            shown += f" and {len(names) - SHOWN_NAMES} more"
        lose = "loses" if len(names) == 1 else "lose"
        findings.append(
            doc.finding(
                "DPN206",
                f"{{{var}}} in the pattern of {key} has no value for {len(names)} of "
                f"{plural(total[key], key + ' name')}, which {lose} its segment: {shown}",
                join_pointer("/patterns", key),
                hint=f"give '{var}' a value in naming-values.yaml (defaults, environments or "
                f"resource_types.{key}) or on the entries, or list it under "
                f"validation.required_variables.{key} to make a missing value an error",
            )
        )
    return findings


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, int, int, str]] = set()
    out = []
    for f in findings:
        k = (f.code, f.file, f.line, f.column, f.message)
        if k not in seen:
            seen.add(k)
            out.append(f)
    out.sort(key=Finding.sort_key)
    return out


def overlay(values: dict[str, Sourced], layer: dict[str, Sourced]) -> None:
    """Put a higher-precedence layer over `values`. A layer that sets `region` without
    `region_short` drops a `region_short` from below, so it is derived from this region."""
    if "region" in layer and "region_short" not in layer:
        values.pop("region_short", None)
    values.update(layer)


def _scalar(v: Any) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    return None


class _Namer:
    def __init__(self, cfg: NamingConfig, docs: dict[str, Document], trace_type: str | None):
        self.cfg = cfg
        self.docs = docs
        self.trace_type = trace_type
        self._base: dict[tuple[int, str], dict[str, Sourced]] = {}
        self._allowed: dict[str, frozenset[str]] = {}
        self._skip: dict[str, frozenset[str]] = {}
        self._override_values: dict[str, Sourced] | None = None
        self._override_layer: dict[str, Sourced] | None = None
        self._prepared: dict[tuple[int, str], dict[str, Sourced]] = {}

    def base_values(self, bp: BlueprintFile, t: ResourceType) -> dict[str, Sourced]:
        """Values up to blueprint metadata, by precedence (cached per blueprint and type)."""
        key = (id(bp), t.key)
        hit = self._base.get(key)
        if hit is not None:
            return hit
        cfg = self.cfg
        vals: dict[str, Sourced] = {}
        for k, v in t.defaults.items():
            vals[k] = Sourced(v, f"built-in default for {t.key}")
        vp = cfg.values_path
        # `--override environment=prd` selects prd's values too
        env = cfg.overrides.get("environment", bp.environment)
        layers: list[tuple[dict[str, str], str, str]] = [
            (cfg.defaults, "defaults", "/defaults"),
            (cfg.custom, "custom", "/custom"),
            (
                cfg.environments.get(env, {}),
                f"environments.{env}",
                join_pointer("/environments", env),
            ),
            (
                cfg.resource_types.get(t.key, {}),
                f"resource_types.{t.key}",
                join_pointer("/resource_types", t.key),
            ),
        ]
        for layer, label, ptr in layers:
            overlay(
                vals,
                {
                    k: Sourced(v, f"{vp} {label}", (vp, join_pointer(ptr, k)))
                    for k, v in layer.items()
                },
            )
        overlay(
            vals,
            {
                k: Sourced(
                    sv, f"{bp.doc.path} metadata", (bp.doc.path, join_pointer("/metadata", k))
                )
                for k, raw in bp.metadata.items()
                if (sv := _scalar(raw)) is not None
            },
        )
        self._base[key] = vals
        return vals

    def allowed_fields(self, t: ResourceType) -> frozenset[str]:
        hit = self._allowed.get(t.key)
        if hit is None:
            hit = self._allowed[t.key] = entry_keys(t.key, self.cfg)
        return hit

    def unknown_fields(self, bp: BlueprintFile) -> list[Finding]:
        """DPN014 for each scalar field of an entry (in scope or not) that is neither a
        field of its type nor a naming value the configs declare; a field of any other
        value is the structure check's (`dpn_action.structure`)."""
        findings: list[Finding] = []
        for r in bp.resources:
            t = r.type
            allowed = self.allowed_fields(t)
            for k, raw in r.entry.items():
                if k in allowed or not isinstance(raw, (str, int, float)):
                    continue
                near = close_matches(k, allowed)
                uses = ", ".join(t.placeholders(self.cfg.pattern(t.key)))
                unknown = r.finding(
                    "DPN014",
                    f"unknown field '{k}' in {t.article} {t.title} entry",
                    field_name=k,
                    key=True,
                    hint=suggestion(near).strip().capitalize()
                    or f"the pattern of {t.key} uses {uses}; a naming value of your own "
                    "needs a value or a placeholder in the naming configs",
                )
                unknown.fix = rename_fix(join_pointer(r.pointer, k), k, near)
                findings.append(unknown)
        return findings

    def name_blueprint(self, bp: BlueprintFile) -> list[Finding]:
        findings: list[Finding] = []
        cfg = self.cfg
        path = bp.doc.path
        label = f"{path} entry"
        overrides = self._overrides()
        transforms = transformed_names(cfg)
        for r in bp.resources:
            if not r.in_scope:
                continue
            t = r.type
            skip = self._not_values(t)
            at = (path, r.pointer)
            own: dict[str, Sourced] = {}
            for k, raw in r.entry.items():
                if k in skip:
                    continue
                if isinstance(raw, str):
                    own[k] = Sourced(raw, label, at, k)
                elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
                    own[k] = Sourced(str(raw), label, at, k)
            trace = self.trace_type == t.key
            # The values below the entry's own are derived and transformed once per
            # blueprint and type, unless the entry (or an override) sets the region: then
            # region_short is derived anew, from all of them, as the engine does.
            derived = not trace and not _REGIONS & own.keys() and not _REGIONS & overrides.keys()
            if derived:
                below = self.prepared_values(bp, t)
                own = transform_layer(own, cfg, transforms)
                if overrides:
                    own = {k: v for k, v in own.items() if k not in overrides}
                    own.update(self._overrides_transformed())
                values = dict(below)
                values.update(own)
            else:
                below = self.base_values(bp, t)
                values = dict(below)
                overlay(values, own)
                overlay(values, overrides)
            explicit = r.entry.get("name")
            keep = r.entry.get("keep")
            otl = r.entry.get("on_too_long")
            res = make_name(
                t,
                values,
                cfg,
                explicit=explicit if isinstance(explicit, str) else None,
                props=r.entry,
                on_too_long=otl if isinstance(otl, str) else None,
                keep=frozenset(x for x in keep if isinstance(x, str))
                if isinstance(keep, list)
                else frozenset(),
                trace=trace,
                derived=derived,
            )
            if derived:
                res.values = Values(own, below)
            elif not trace:  # a trace keeps the values as they were made
                res.values = compact(values, below)
            r.result = res
            for issue in res.issues:
                findings.append(self.locate(r, issue))
        return findings

    def prepared_values(self, bp: BlueprintFile, t: ResourceType) -> dict[str, Sourced]:
        """`base_values` derived and transformed (`engine.derive_values`), cached per
        blueprint and type."""
        key = (id(bp), t.key)
        hit = self._prepared.get(key)
        if hit is None:
            hit = dict(self.base_values(bp, t))
            derive_values(hit, self.cfg, None)
            self._prepared[key] = hit
        return hit

    def _overrides_transformed(self) -> dict[str, Sourced]:
        if self._override_layer is None:
            self._override_layer = transform_layer(self._overrides(), self.cfg)
        return self._override_layer

    def _overrides(self) -> dict[str, Sourced]:
        """The --override values, the highest layer of every name."""
        if self._override_values is None:
            self._override_values = {
                k: Sourced(v, "--override") for k, v in self.cfg.overrides.items()
            }
        return self._override_values

    def _not_values(self, t: ResourceType) -> frozenset[str]:
        """Entry keys of type `t` that are never naming values."""
        hit = self._skip.get(t.key)
        if hit is None:
            hit = self._skip[t.key] = _NOT_VALUES | frozenset(t.refs)
        return hit

    def missing_cause(self, r: Resource, var: str) -> tuple[str, bool, str] | None:
        """Why the entry has no value for `var`, when the entry itself shows it: a field of
        that name whose value is no naming value, or an unknown field that is a misspelling
        of it: (the field, whether to point at its key, the hint). The finding about the cause
        (DPN010, DPN014) is at the same place, so the two sort together, cause first."""
        raw = r.entry.get(var)
        if var in r.entry and not isinstance(raw, (str, int, float)):
            return var, False, f"'{var}' on this entry is no naming value: write it as a string"
        allowed = self.allowed_fields(r.type)
        for k in r.entry:
            if k not in allowed and var in difflib.get_close_matches(k, sorted(allowed), 3, 0.6):
                return k, True, f"'{k}' on this entry looks like a misspelling: rename it '{var}'"
        return None

    def locate(self, r: Resource, issue: Issue) -> Finding:
        """Point an engine issue at the value it is about, else at the entry."""
        sev = issue.severity
        if issue.code == "DPN030" and issue.var is not None:
            cause = self.missing_cause(r, issue.var)
            if cause is not None:
                field_name, key, why = cause
                return r.finding(
                    issue.code,
                    issue.message,
                    field_name=field_name,
                    key=key,
                    hint=why,
                    severity=sev,
                )
        if issue.var == "name" or (issue.var is None and "name" in r.entry):
            return r.finding(
                issue.code, issue.message, field_name="name", hint=issue.hint, severity=sev
            )
        if issue.var is not None and r.result is not None:
            sv = r.result.values.get(issue.var)
            if sv is not None and sv.origin is not None:
                doc = self.docs.get(sv.origin[0])
                if doc is not None:
                    pointer = sv.origin[1]
                    fix = None
                    if issue.replacement is not None:
                        # only where the file holds the value itself (not the region a
                        # region_short was derived from), as a string
                        there, written = doc.value_at(pointer)
                        if (
                            there
                            and isinstance(written, str)
                            and transformed(issue.var, written, self.cfg) == sv.value
                        ):
                            fix = Fix(pointer, written, (issue.replacement,))
                    return doc.finding(
                        issue.code, issue.message, pointer, hint=issue.hint, severity=sev, fix=fix
                    )
        return r.finding(issue.code, issue.message, hint=issue.hint, severity=sev)


def scope_key(r: Resource) -> str:
    """Where a name must be unique: the type's real scope, made concrete."""
    t = r.type
    vals = r.result.values if r.result is not None else {}

    def v(name: str) -> str:
        sv = vals.get(name)
        return sv.value if sv is not None else ""

    scope = t.unique_scope
    if scope == "global":
        return ""
    if scope == "account":
        return f"account={v('account')}"
    if scope == "region":
        return f"account={v('account')},region={v('region')}"
    if scope in ("workspace", "metastore"):
        return f"workspace={v('workspace')}"
    c = r.container
    return f"in={c.full_name}" if c is not None else "in=?"


def claim(r: Resource) -> Claim | None:
    """What the uniqueness check compares of `r`: its type, the scope its name must be
    unique in, the name as compared there, and the entry's pointer (None: `r` has no name
    to compare, or its parent has none)."""
    if not r.in_scope or r.name is None:
        return None
    t = r.type
    if t.unique_scope == "parent" and (r.container is None or r.container.full_name is None):
        return None  # its parent is unresolved: already reported, nothing to compare
    return (t.key, scope_key(r), r.name.lower() if t.case_insensitive else r.name, r.pointer)


def claims_of(bp: BlueprintFile) -> list[Claim]:
    """The claims of a blueprint's resources, in their order."""
    return [c for c in map(claim, bp.resources) if c is not None]


class _Cached:
    """A blueprint whose claims were taken from the cache: not read as a document unless a
    clash with it needs a line and column."""

    def __init__(self, path: str, raw: bytes, claims: list[Claim]) -> None:
        self.path = path
        self.raw = raw
        self.claims = claims
        self._doc: Document | None = None

    def where(self, pointer: str) -> str:
        if self._doc is None:
            from dpn_action.source import parse_bytes

            self._doc = parse_bytes(self.raw, self.path)
        line, col = self._doc.position(pointer)
        return f"{self.path}:{line}:{col}"


def _where(r: Resource) -> str:
    line, col = r.blueprint.doc.position(r.pointer)
    return f"{r.blueprint.doc.path}:{line}:{col}"


def _where_of(held: Resource | tuple[_Cached, str]) -> str:
    return _where(held) if isinstance(held, Resource) else held[0].where(held[1])


def _uniqueness(order: Sequence[BlueprintFile | _Cached], targets: set[str]) -> list[Finding]:
    """One finding per name that another resource in the same scope already has: on the
    later one, or on the earlier one when only that one is being checked (a staged
    blueprint is told about a clash with any other blueprint, whichever was read first).
    A blueprint from the cache is never being checked."""
    first_of: dict[tuple[str, str, str], Resource | tuple[_Cached, str]] = {}
    findings: list[Finding] = []
    for source in order:
        if isinstance(source, _Cached):
            for type_key, scope, folded, pointer in source.claims:
                first = first_of.setdefault((type_key, scope, folded), (source, pointer))
                if isinstance(first, Resource) and first.blueprint.doc.path in targets:
                    findings.append(_clash(first, source.where(pointer)))
            continue
        checked = source.doc.path in targets
        for r in source.resources:
            c = claim(r)
            if c is None:
                continue
            first = first_of.setdefault(c[:3], r)
            if first is r:
                continue
            if checked:
                findings.append(_clash(r, _where_of(first)))
            elif isinstance(first, Resource) and first.blueprint.doc.path in targets:
                findings.append(_clash(first, _where(r)))
    return findings


def _clash(r: Resource, other: str) -> Finding:
    """DPN130 on `r`, whose name is also used at `other` (file:line:column)."""
    t = r.type
    where = {
        "global": "in every AWS account",
        "account": "in the account",
        "region": "in the account and region",
        "workspace": "in the workspace",
        "metastore": "in the metastore",
        "parent": f"in {r.container.full_name if r.container else '?'}",
    }[t.unique_scope]
    case = " (ignoring case)" if t.case_insensitive else ""
    pattern = r.result.pattern if r.result is not None else t.pattern
    variables = [v for v in dict.fromkeys(PLACEHOLDER.findall(pattern)) if v not in _SHARED]
    change = (
        "change " + " or ".join(f"{{{v}}}" for v in variables[:3]) + " of one of them"
        if variables and "name" not in r.entry
        else "give one of them another name"
    )
    return r.finding(
        "DPN130",
        f"{t.title} name '{r.name}' is also used at {other}; names must be unique {where}{case}",
        field_name="name",
        hint=change,
    )


#: variables two entries of one blueprint share, so changing them cannot tell two apart
_SHARED = frozenset({"project", "environment", "region", "region_short", "account", "workspace"})
