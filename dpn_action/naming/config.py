"""The two naming configs: discovery, loading with positions, checks, and the merged view.

Discovery, first hit wins, for each file: an explicit flag; `.dpn/` in the current directory
or its nearest parent that has one; `~/.dpn/`; the defaults built into dpn (every type has a
default pattern in the catalogue, so no config at all is a valid setup).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from dpn_action.findings import Finding, did_you_mean, join_pointer
from dpn_action.layout import CONFIG_DIR, PATTERNS_FILE, VALUES_FILE
from dpn_action.naming.catalogue import (
    CATALOGUE,
    KNOWN_VARIABLES,
    PATTERN_VARIABLES,
    PLACEHOLDER,
)
from dpn_action.source import Document, display_path, read_document
from dpn_action.tree import Source, Tree, work_tree

BUILT_IN = "built-in defaults"


#: where a naming config is read from: a file of a tree (the work tree, a commit), or a file
#: on this machine outside the repository (`~/.dpn/`, a flag pointing elsewhere)
ConfigFile = Source | Path


def find_configs(
    tree: Tree,
    rel_dir: str,
    values_flag: str | None = None,
    patterns_flag: str | None = None,
    home: Path | None = None,
) -> tuple[ConfigFile | None, ConfigFile | None]:
    """The values and patterns files for blueprints in directory `rel_dir` of `tree`
    (None: the built-in defaults), first hit wins: the flag; the nearest `.dpn/` at or
    above the directory, stopping at the repository root (a `.dpn/` without the file means
    the built-in defaults for it); `~/.dpn/`. A flag naming a file inside the repository is
    read from the tree (so from the commit, for a commit)."""
    found: list[ConfigFile | None] = []
    home = home if home is not None else Path.home()
    dirs = [PurePosixPath(rel_dir.strip("/")), *PurePosixPath(rel_dir.strip("/")).parents]
    for flag, fname in ((values_flag, VALUES_FILE), (patterns_flag, PATTERNS_FILE)):
        if flag:
            rel = tree.rel(flag)
            found.append(Source(tree, rel) if rel is not None else Path(flag))
            continue
        hit: ConfigFile | None = None
        for d in dirs:
            here = "" if str(d) in ("", ".") else f"{d}/"
            if tree.is_dir(f"{here}{CONFIG_DIR}"):
                rel = f"{here}{CONFIG_DIR}/{fname}"
                hit = Source(tree, rel) if tree.exists(rel) else None
                break
        else:
            if _present(home / CONFIG_DIR / fname):
                hit = home / CONFIG_DIR / fname
        found.append(hit)
    return found[0], found[1]


def discover(
    start: Path,
    values_flag: str | None = None,
    patterns_flag: str | None = None,
    home: Path | None = None,
) -> tuple[Path | None, Path | None]:
    """Paths of the values and patterns files for files in directory `start` of the work
    tree (None: built-in defaults); see `find_configs`."""
    tree = work_tree(start / "x", cwd=start)
    found = find_configs(tree, tree.rel(start) or "", values_flag, patterns_flag, home)
    v, p = (f.path if isinstance(f, Source) else f for f in found)
    return v, p


def _present(path: Path) -> bool:
    """Whatever has the name counts, so that a named pipe or a link leading out of the
    repository is reported (`dpn_action.inputs`) rather than silently passed over."""
    return os.path.lexists(path)


class Configs:
    """The naming configs blueprints are named with: each blueprint with those of its own
    directory (`find_configs`), each pair loaded and checked once. `findings` holds the
    findings of every config loaded so far (and of the overrides)."""

    def __init__(
        self,
        values_flag: str | None = None,
        patterns_flag: str | None = None,
        overrides: tuple[str, ...] | list[str] = (),
        *,
        home: Path | None = None,
        display_root: Path | None = None,
    ) -> None:
        self.flags = (values_flag, patterns_flag)
        self.overrides, self.findings = parse_overrides(overrides)
        self.home = home
        self.display_root = display_root
        self._loaded: dict[tuple[object, object], NamingConfig] = {}
        #: (tree, directory) -> the configs of the blueprints there
        self._dirs: dict[tuple[Tree, str], NamingConfig] = {}

    def for_dir(self, tree: Tree, rel_dir: str) -> NamingConfig:
        here = (tree, rel_dir)
        cfg = self._dirs.get(here)
        if cfg is not None:  # the blueprints of a directory share its configs
            return cfg
        found = find_configs(tree, rel_dir, *self.flags, home=self.home)
        key = (_key(found[0]), _key(found[1]))
        cfg = self._loaded.get(key)
        if cfg is None:
            cfg, findings = load_config(
                found[0], found[1], self.overrides, display_root=self.display_root
            )
            self.findings.extend(findings)
            self._loaded[key] = cfg
        self._dirs[here] = cfg
        return cfg

    def for_file(self, src: Source) -> NamingConfig:
        return self.for_dir(src.tree, str(PurePosixPath(src.rel).parent))


def _key(found: ConfigFile | None) -> object:
    if isinstance(found, Source):
        return found.key
    return None if found is None else str(found)


@dataclass
class HashSettings:
    algorithm: str = "sha256"
    length: int = 8
    prefix: str = ""
    separator: str = "-"


@dataclass
class NamingConfig:
    """Both configs merged over the built-in defaults, ready for the engine."""

    values_path: str = BUILT_IN
    patterns_path: str = BUILT_IN
    defaults: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    environments: dict[str, dict[str, str]] = field(default_factory=dict)
    resource_types: dict[str, dict[str, str]] = field(default_factory=dict)
    patterns: dict[str, str] = field(default_factory=dict)
    #: which types' patterns came from the user's file
    user_patterns: set[str] = field(default_factory=set)
    region_mapping: dict[str, str] = field(default_factory=dict)
    lowercase: frozenset[str] = frozenset()
    uppercase: frozenset[str] = frozenset()
    replace_hyphens: dict[str, str] = field(default_factory=dict)
    hash: HashSettings = field(default_factory=HashSettings)
    max_length: dict[str, int] = field(default_factory=dict)
    allowed_chars: dict[str, re.Pattern[str]] = field(default_factory=dict)
    required_variables: dict[str, frozenset[str]] = field(default_factory=dict)
    on_too_long: dict[str, str] = field(default_factory=dict)
    keep: dict[str, frozenset[str]] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    values_doc: Document | None = None
    patterns_doc: Document | None = None
    _required_cache: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    #: id of a `region` value -> (that value, the `region_short` derived from it, how), kept
    #: by the name engine (`engine.derive_values`)
    derived_regions: dict[int, tuple[Any, Any, str]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def pattern(self, type_key: str) -> str:
        return self.patterns.get(type_key) or CATALOGUE[type_key].pattern

    def required(self, type_key: str) -> frozenset[str]:
        hit = self._required_cache.get(type_key)
        if hit is None:
            hit = self._required_cache[type_key] = self._required(type_key)
        return hit

    def _required(self, type_key: str) -> frozenset[str]:
        t = CATALOGUE[type_key]
        # The built-in required variables hold wherever a pattern (built-in or the user's)
        # still uses them; the user's own required_variables are added.
        base = t.required & frozenset(t.placeholders(self.pattern(type_key)))
        return base | self.required_variables.get(type_key, frozenset())

    def value_vocabulary(self, type_key: str | None = None) -> set[str]:
        """Every variable a config layer gives a value to for entries of `type_key` (None:
        the layers every type shares: defaults, custom, environments and overrides)."""
        out = set(self.defaults) | set(self.custom) | set(self.overrides)
        for layer in self.environments.values():
            out |= set(layer)
        if type_key is not None:
            out |= set(self.resource_types.get(type_key, {}))
        return out


def _scalar_map(d: Any) -> dict[str, str]:
    if not isinstance(d, dict):
        return {}
    return {str(k): _as_str(v) for k, v in d.items() if _is_scalar(v)}


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float)) and not isinstance(v, bool)


def _as_str(v: Any) -> str:
    return v if isinstance(v, str) else str(v)


def parse_overrides(items: tuple[str, ...] | list[str]) -> tuple[dict[str, str], list[Finding]]:
    out: dict[str, str] = {}
    findings: list[Finding] = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            findings.append(
                Finding.make(
                    "DPN205",
                    f"--override '{item}' is not key=value",
                    file="<command line>",
                    hint="write --override project=sales",
                )
            )
            continue
        out[key] = value
    return out, findings


def load_config(
    values_path: ConfigFile | None,
    patterns_path: ConfigFile | None,
    overrides: dict[str, str] | None = None,
    *,
    display_root: Path | None = None,
) -> tuple[NamingConfig, list[Finding]]:
    """Load, check and merge both configs. Problems are findings; the config returned is
    still usable (bad parts are ignored) so that blueprints can be checked too."""
    from dpn_action.structure import validate

    cfg = NamingConfig(overrides=dict(overrides or {}))
    findings: list[Finding] = []

    def load(
        path: ConfigFile | None, kind: str, label: str
    ) -> tuple[Document | None, dict[str, Any]]:
        if path is None:
            return None, {}
        shown = path.display if isinstance(path, Source) else display_path(path, display_root)
        exists = path.tree.exists(path.rel) if isinstance(path, Source) else os.path.lexists(path)
        if not exists:
            findings.append(
                Finding.make(
                    "DPN204",
                    f"{label} not found: {shown}",
                    file=shown,
                    hint="check the path, or run `dpn config init`",
                )
            )
            return None, {}
        doc = path.document() if isinstance(path, Source) else read_document(path, shown)
        findings.extend(doc.findings)
        if doc.data is None and doc.ok:
            doc.data = {}
        if doc.data is None:
            return doc, {}
        structural = validate(doc, kind, label)
        findings.extend(structural)
        return doc, doc.data if isinstance(doc.data, dict) else {}

    vdoc, values = load(values_path, "naming-values", VALUES_FILE)
    pdoc, patterns = load(patterns_path, "naming-patterns", PATTERNS_FILE)
    cfg.values_doc, cfg.patterns_doc = vdoc, pdoc
    if vdoc is not None:
        cfg.values_path = vdoc.path
    if pdoc is not None:
        cfg.patterns_path = pdoc.path

    cfg.defaults = _scalar_map(values.get("defaults"))
    cfg.custom = _scalar_map(values.get("custom"))
    envs = values.get("environments")
    if isinstance(envs, dict):
        cfg.environments = {str(k): _scalar_map(v) for k, v in envs.items()}
    rts = values.get("resource_types")
    if isinstance(rts, dict):
        cfg.resource_types = {k: _scalar_map(v) for k, v in rts.items() if k in CATALOGUE}

    pats = patterns.get("patterns")
    if isinstance(pats, dict):
        for k, v in pats.items():
            if k in CATALOGUE and isinstance(v, str):
                problem = pattern_problem(v)
                if problem and pdoc is not None:
                    findings.append(
                        pdoc.finding(
                            "DPN031",
                            f"pattern of {k} {problem}: {v!r}",
                            join_pointer("/patterns", k),
                            hint="placeholders look like {project}",
                        )
                    )
                    continue
                cfg.patterns[k] = v
                cfg.user_patterns.add(k)
    tr = (
        patterns.get("transformations") if isinstance(patterns.get("transformations"), dict) else {}
    )
    assert isinstance(tr, dict)
    cfg.region_mapping = _scalar_map(tr.get("region_mapping"))
    cfg.lowercase = frozenset(x for x in tr.get("lowercase") or () if isinstance(x, str))
    cfg.uppercase = frozenset(x for x in tr.get("uppercase") or () if isinstance(x, str))
    cfg.replace_hyphens = {k: v for k, v in _scalar_map(tr.get("replace_hyphens")).items()}
    hg = tr.get("hash_generation")
    if isinstance(hg, dict):
        cfg.hash = HashSettings(
            algorithm=hg.get("algorithm", "sha256")
            if hg.get("algorithm") in ("md5", "sha256")
            else "sha256",
            length=hg["length"]
            if isinstance(hg.get("length"), int) and 4 <= hg["length"] <= 64
            else 8,
            prefix=str(hg.get("prefix", "")),
            separator=str(hg.get("separator", "-"))[:1],
        )
    val = patterns.get("validation") if isinstance(patterns.get("validation"), dict) else {}
    assert isinstance(val, dict)
    findings.extend(_load_validation(cfg, val, pdoc))
    findings.extend(_check_sources(cfg, pdoc))
    return cfg, findings


def _load_validation(cfg: NamingConfig, val: dict[str, Any], doc: Document | None) -> list[Finding]:
    findings: list[Finding] = []

    def at(*tokens: str) -> str:
        return join_pointer("/validation", *tokens)

    for k, n in (val.get("max_length") or {}).items():
        if k not in CATALOGUE or not isinstance(n, int) or isinstance(n, bool):
            continue
        t = CATALOGUE[k]
        limit = t.max_length
        if limit is not None and n > limit:
            unit = "UTF-8 bytes" if t.length_unit == "bytes" else "characters"
            if doc is not None:
                findings.append(
                    doc.finding(
                        "DPN200",
                        f"max_length {n} for {k} is above the cloud's limit of {limit} {unit}",
                        at("max_length", k),
                        hint=f"user rules can only be stricter: use a value up to {limit}",
                    )
                )
            continue
        if n < 1:
            if doc is not None:
                findings.append(
                    doc.finding(
                        "DPN200", f"max_length {n} for {k} must be at least 1", at("max_length", k)
                    )
                )
            continue
        cfg.max_length[k] = n
    for k, rx in (val.get("allowed_chars") or {}).items():
        if k not in CATALOGUE or not isinstance(rx, str):
            continue
        try:
            cfg.allowed_chars[k] = re.compile(rx)
        except re.error as exc:
            if doc is not None:
                findings.append(
                    doc.finding(
                        "DPN201",
                        f"allowed_chars for {k} is not a valid regular expression: {exc}",
                        at("allowed_chars", k),
                        hint="write a Python regular expression",
                    )
                )
    for k, names in (val.get("required_variables") or {}).items():
        if k in CATALOGUE and isinstance(names, list):
            cfg.required_variables[k] = frozenset(x for x in names if isinstance(x, str))
    for k, mode in (val.get("on_too_long") or {}).items():
        if k in CATALOGUE and mode in ("error", "hash"):
            cfg.on_too_long[k] = mode
    for k, names in (val.get("keep") or {}).items():
        if k in CATALOGUE and isinstance(names, list):
            cfg.keep[k] = frozenset(x for x in names if isinstance(x, str))
    return findings


def pattern_problem(pattern: str) -> str | None:
    """What is wrong with a pattern's braces, or None."""
    stripped = PLACEHOLDER.sub("", pattern)
    if "{" in stripped or "}" in stripped:
        return "has an unbalanced or invalid placeholder"
    if not PLACEHOLDER.search(pattern):
        return "has no placeholder"
    return None


def unknown_placeholders(cfg: NamingConfig, type_key: str) -> list[str]:
    """The placeholders of the user's pattern for `type_key` that are no variable dpn knows.

    dpn knows a variable when a built-in pattern or the values dpn knows without a config use
    it (an entry may then carry it), when naming-values.yaml gives it a value for the type,
    when it is a creation setting of the type, or when `validation.required_variables`
    declares it for the type (each entry must then give it)."""
    if type_key not in cfg.user_patterns:
        return []
    known = (
        PATTERN_VARIABLES
        | KNOWN_VARIABLES
        | cfg.value_vocabulary(type_key)
        | set(CATALOGUE[type_key].properties)
        | cfg.required_variables.get(type_key, frozenset())
    )
    placeholders = dict.fromkeys(PLACEHOLDER.findall(cfg.patterns[type_key]))
    return [ph for ph in placeholders if ph not in known]


def _check_sources(cfg: NamingConfig, doc: Document | None) -> list[Finding]:
    """A placeholder of a user pattern that is no variable dpn knows is an error: nothing
    can give it a value, so every name of the type would lose its segment quietly."""
    if doc is None:
        return []
    findings = []
    for k in sorted(cfg.user_patterns):
        for ph in unknown_placeholders(cfg, k):
            known = (
                PATTERN_VARIABLES
                | KNOWN_VARIABLES
                | cfg.value_vocabulary(k)
                | cfg.required_variables.get(k, frozenset())
            )
            close = did_you_mean(ph, sorted(known))
            findings.append(
                doc.finding(
                    "DPN203",
                    f"placeholder {{{ph}}} in the pattern of {k} is no variable dpn knows: "
                    f"nothing gives it a value, so every {k} name would lose its segment",
                    join_pointer("/patterns", k),
                    hint=(close.strip().capitalize() + " " if close else "")
                    + f"If {{{ph}}} is a naming value of your own, give it a value in "
                    f"{VALUES_FILE} (defaults or resource_types.{k}), or list it under "
                    f"validation.required_variables.{k} so that each entry must give one",
                )
            )
    return findings
