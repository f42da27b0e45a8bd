"""The name engine: values -> transformations -> render -> normalise -> fit -> validate.

Pure and deterministic: no I/O, no clock, no randomness. Every step can be traced for
`dpn explain`; tracing is off on the hot path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from dpn_action.findings import Severity, join_pointer
from dpn_action.naming.catalogue import PLACEHOLDER, ResourceType
from dpn_action.naming.config import NamingConfig
from dpn_action.naming.regions import short_region
from dpn_action.naming.rules import charset_regex, check

SEPARATORS = "-_./"


class Sourced:
    """A naming value and where it came from (for `explain` and for finding positions).

    `origin` is the (file, JSON pointer) of the value, when it came from a file. A value
    of an entry is made with `key`: `origin` is then the entry's (file, pointer) and the
    value's own pointer is built only when asked for (most never are)."""

    __slots__ = ("_key", "_origin", "source", "value")

    def __init__(
        self,
        value: str,
        source: str,
        origin: tuple[str, str] | None = None,
        key: str | None = None,
    ) -> None:
        self.value = value
        self.source = source
        self._origin = origin
        self._key = key

    @property
    def origin(self) -> tuple[str, str] | None:
        """(file, JSON pointer) of the value, when it came from a file."""
        if self._key is None or self._origin is None:
            return self._origin
        file, entry = self._origin
        return file, join_pointer(entry, self._key)

    def moved(self, value: str, source: str | None = None) -> Sourced:
        """The same place with another value (and source)."""
        return Sourced(value, self.source if source is None else source, self._origin, self._key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sourced):
            return NotImplemented
        return (self.value, self.source, self.origin) == (other.value, other.source, other.origin)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Sourced(value={self.value!r}, source={self.source!r}, origin={self.origin!r})"


@dataclass(slots=True)
class Issue:
    code: str
    message: str
    hint: str = ""
    #: the variable the issue is about (its origin is the best place to point at)
    var: str | None = None
    #: None: the code's own severity (an advice or house rule is reported as a warning)
    severity: Severity | None = None
    #: DPN040: the value to write instead, when writing it gives the same name with no
    #: normalisation (the configured transformations leave it as it is)
    replacement: str | None = None

    @property
    def is_error(self) -> bool:
        from dpn_action.findings import CODES

        return (self.severity or CODES[self.code].severity) is Severity.ERROR


@dataclass(slots=True)
class Step:
    """One line of an explanation."""

    kind: str
    text: str
    source: str = ""


@dataclass(slots=True)
class NameResult:
    name: str | None
    issues: list[Issue] = field(default_factory=list)
    values: Mapping[str, Sourced] = field(default_factory=dict)
    trace: list[Step] | None = None
    #: the name the convention gives, when an explicit `name` was used
    convention: str | None = None
    #: placeholders without a value whose segment the rendered name left out
    dropped: list[str] = field(default_factory=list)
    #: the pattern the name was made with
    pattern: str = ""


class Values(Mapping[str, Sourced]):
    """A resource's naming values as kept after its name is made: the few that are its own
    (or that naming changed) over the many that every resource of its blueprint and type
    shares, which are held once (`compact`). Read-only: the keys and values of the dict
    its name was made with."""

    __slots__ = ("_below", "_own")

    def __init__(self, own: dict[str, Sourced], below: Mapping[str, Sourced]) -> None:
        self._own = own
        self._below = below

    @property
    def own(self) -> dict[str, Sourced]:
        """The values that are the resource's own (or that naming changed)."""
        return self._own

    @property
    def below(self) -> Mapping[str, Sourced]:
        """The values below them, shared with other resources (never changed)."""
        return self._below

    def __getitem__(self, key: str) -> Sourced:
        hit = self._own.get(key)
        return hit if hit is not None else self._below[key]

    def get(self, key: str, default: Any = None) -> Any:
        hit = self._own.get(key)
        return hit if hit is not None else self._below.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._own or key in self._below

    def __iter__(self) -> Iterator[str]:
        yield from self._below
        own, below = self._own, self._below
        yield from (k for k in own if k not in below)

    def __len__(self) -> int:
        return len(self._below) + sum(1 for k in self._own if k not in self._below)

    def __repr__(self) -> str:
        return f"Values({dict(self.items())!r})"


def compact(values: dict[str, Sourced], below: Mapping[str, Sourced]) -> Mapping[str, Sourced]:
    """`values` as `Values` over `below`, when it holds every key of `below` (it was made
    as a copy of it, then added to); else `values` itself."""
    own = {k: v for k, v in values.items() if below.get(k) is not v}
    shared = len(values) - len(own)
    if shared + sum(1 for k in own if k in below) != len(below):
        return values  # a key of `below` was taken out
    return Values(own, below)


@cache
def _parts(pattern: str) -> tuple[tuple[bool, str], ...]:
    """A pattern as (is_placeholder, text) parts."""
    out: list[tuple[bool, str]] = []
    pos = 0
    for m in PLACEHOLDER.finditer(pattern):
        if m.start() > pos:
            out.append((False, pattern[pos : m.start()]))
        out.append((True, m.group(1)))
        pos = m.end()
    if pos < len(pattern):
        out.append((False, pattern[pos:]))
    return tuple(out)


@cache
def _forbidden_run(chars: str) -> re.Pattern[str]:
    return re.compile(f"[^{chars}]+")


@cache
def _forbidden_edges(chars: str) -> re.Pattern[str]:
    return re.compile(f"^[^{chars}]+|[^{chars}]+$")


def measure(name: str, unit: str) -> int:
    return len(name.encode("utf-8")) if unit == "bytes" else len(name)


@cache
def _allowed_run(chars: str) -> re.Pattern[str]:
    return re.compile(f"[{chars}]+")


def normalise(value: str, t: ResourceType) -> str:
    """The value in the type's alphabet: lower case where the type needs it, and each run of
    characters the type forbids replaced by its separator (`Data Platform` -> `data-platform`).
    Such runs at either end are dropped instead (`' landing '` -> `landing`): a separator
    there would double the one the pattern puts between values."""
    if _allowed_run(t.value_chars).fullmatch(value) is not None and (
        not t.lowercase or value == value.lower()
    ):
        return value  # the common case: already in the alphabet, nothing to rewrite
    v = value.lower() if t.lowercase else value
    v = _forbidden_edges(t.value_chars).sub("", v)
    return _forbidden_run(t.value_chars).sub(t.separator, v)


#: how many `region` values a naming config remembers the derived `region_short` of (the
#: same value object, a blueprint's metadata or a config layer, gives the same one)
_MAX_DERIVED = 256


def _derived_short(region: Sourced, cfg: NamingConfig) -> tuple[Sourced | None, str]:
    """`region_short` derived from `region` (None: the region has no short code), and
    where the code came from."""
    hit = cfg.derived_regions.get(id(region))
    if hit is not None and hit[0] is region:
        return hit[1], hit[2]
    value = region.value
    mapped = cfg.region_mapping.get(value)
    how = "region_mapping" if mapped else "built-in region codes"
    mapped = mapped or short_region(value)
    derived = region.moved(mapped, f"derived from region '{value}' ({how})") if mapped else None
    if len(cfg.derived_regions) < _MAX_DERIVED:
        # the region object is kept with its result, so its id cannot be reused meanwhile
        cfg.derived_regions[id(region)] = (region, derived, how)
    return derived, how


def derive_values(values: dict[str, Sourced], cfg: NamingConfig, trace: list[Step] | None) -> None:
    """Fill `region_short` from `region` and apply the configured transformations."""
    if "region_short" not in values and "region" in values:
        region = values["region"]
        derived, how = _derived_short(region, cfg)
        if derived is not None:
            values["region_short"] = derived
            if trace is not None:
                trace.append(
                    Step(
                        "derive",
                        f"region_short = '{derived.value}' from region '{region.value}' ({how})",
                    )
                )
    if not (cfg.lowercase or cfg.uppercase or cfg.replace_hyphens):
        return
    if trace is None:
        # each variable's transformations are its own: only the variables they name change
        for var in cfg.lowercase | cfg.uppercase | cfg.replace_hyphens.keys():
            sv = values.get(var)
            if sv is not None:
                new = _transform(var, sv.value, cfg)[0]
                if new != sv.value:
                    values[var] = sv.moved(new)
        return
    for var, sv in values.items():
        new, how_done = _transform(var, sv.value, cfg)
        if new != sv.value:
            trace.append(
                Step(
                    "transform",
                    f"{var}: '{sv.value}' -> '{new}' ({', '.join(how_done)})",
                    cfg.patterns_path,
                )
            )
            values[var] = sv.moved(new)


def transform_layer(
    layer: dict[str, Sourced], cfg: NamingConfig, names: frozenset[str] | None = None
) -> dict[str, Sourced]:
    """A layer of values with the configured transformations applied to each (`layer`
    itself when they change none of them); `names`: `transformed_names(cfg)`."""
    if names is None:
        names = transformed_names(cfg)
    if not names or names.isdisjoint(layer):
        return layer
    out = dict(layer)
    for var in names & layer.keys():
        sv = layer[var]
        new = _transform(var, sv.value, cfg)[0]
        if new != sv.value:
            out[var] = sv.moved(new)
    return out


def transformed_names(cfg: NamingConfig) -> frozenset[str]:
    """The variables a configured transformation may change."""
    return frozenset(cfg.lowercase | cfg.uppercase | cfg.replace_hyphens.keys())


def _transform(var: str, value: str, cfg: NamingConfig) -> tuple[str, list[str]]:
    """`value` of `var` after the configured transformations, and their names."""
    new = value
    how: list[str] = []
    if var in cfg.lowercase and new != new.lower():
        new = new.lower()
        how.append("lowercase")
    if var in cfg.uppercase and new != new.upper():
        new = new.upper()
        how.append("uppercase")
    repl = cfg.replace_hyphens.get(var)
    if repl is not None and "-" in new:
        new = new.replace("-", repl)
        how.append(f"replace_hyphens '{repl}'")
    return new, how


def transformed(var: str, value: str, cfg: NamingConfig) -> str:
    """`value` of `var` as the configured transformations leave it."""
    return _transform(var, value, cfg)[0]


def make_name(
    t: ResourceType,
    values: dict[str, Sourced],
    cfg: NamingConfig,
    *,
    explicit: str | None = None,
    props: dict[str, Any] | None = None,
    on_too_long: str | None = None,
    keep: frozenset[str] = frozenset(),
    trace: bool = False,
    derived: bool = False,
) -> NameResult:
    """Build (or, for an explicit name, check) one resource name. With `derived`, the
    values are derived and transformed already (`derive_values`, `transform_layer`)."""
    props = props or {}
    steps: list[Step] | None = [] if trace else None
    if not derived:
        derive_values(values, cfg, steps)
    res = NameResult(name=None, values=values, trace=steps, pattern=cfg.pattern(t.key))
    rendered = _render_clean(t, values, cfg, props, on_too_long) if steps is None else None
    render_issues: list[Issue] = []
    if rendered is None:
        rendered, render_issues = _render(
            t, values, cfg, props, on_too_long, keep, steps, res.dropped
        )
    if explicit is not None:
        res.name = explicit
        res.convention = rendered if not any(i.code != "DPN040" for i in render_issues) else None
        if steps is not None:
            steps.append(
                Step(
                    "explicit",
                    f"name '{explicit}' given in the blueprint; "
                    "validated as written, never normalised",
                )
            )
        if res.convention is not None and res.convention != explicit:
            res.issues.append(
                Issue(
                    "DPN041",
                    f"explicit name '{explicit}' differs from the convention '{res.convention}'",
                    hint="remove `name` to use the convention, or keep it deliberately",
                    var="name",
                )
            )
    else:
        res.issues.extend(render_issues)
        if rendered is None:
            return res
        res.name = rendered
    res.issues.extend(_validate(t, res.name, cfg, props, steps))
    return res


def _render_clean(
    t: ResourceType,
    values: dict[str, Sourced],
    cfg: NamingConfig,
    props: dict[str, Any],
    on_too_long: str | None,
) -> str | None:
    """What `_render` gives when every placeholder has a value already in the type's
    alphabet and the name needs no shortening (the common case, with no issue and nothing
    dropped), made without its bookkeeping; None in every other case."""
    clean = _allowed_run(t.value_chars).fullmatch
    lowercase = t.lowercase
    parts = []
    for is_var, text in _parts(cfg.pattern(t.key)):
        if is_var:
            sv = values.get(text)
            if sv is None:
                return None
            text = sv.value
            if not text or clean(text) is None or (lowercase and text != text.lower()):
                return None
        parts.append(text)
    if t.fifo_suffix and props.get("fifo") is True:
        parts.append(t.fifo_suffix)
    name = "".join(parts)
    limit = _limit(t, cfg)
    if (
        limit is not None
        and measure(name, _length_unit(t)) > limit
        and (on_too_long or cfg.on_too_long.get(t.key, "error")) == "hash"
    ):
        return None
    return name


def _render(
    t: ResourceType,
    values: dict[str, Sourced],
    cfg: NamingConfig,
    props: dict[str, Any],
    on_too_long: str | None,
    keep: frozenset[str],
    steps: list[Step] | None,
    dropped: list[str],
) -> tuple[str | None, list[Issue]]:
    pattern = cfg.pattern(t.key)
    issues: list[Issue] = []
    required = cfg.required(t.key)
    # segments: [text, variable or None]
    segs: list[list[Any]] = []
    missing: list[str] = []
    some_dropped = False
    for is_var, text in _parts(pattern):
        if not is_var:
            segs.append([text, None])
            continue
        sv = values.get(text)
        value = normalise(sv.value, t) if sv is not None and sv.value else ""
        if sv is not None and value != sv.value:
            issues.append(
                Issue(
                    "DPN040",
                    f"{text} '{sv.value}' was normalised to '{value}' for {t.key}",
                    hint=f"{t.title} names allow [{t.value_chars}] in values"
                    + (" in lower case" if t.lowercase else "")
                    + "; write the value that way to silence this",
                    var=text,
                    replacement=value if value and transformed(text, value, cfg) == value else None,
                )
            )
            if steps is not None:
                steps.append(Step("normalise", f"{text}: '{sv.value}' -> '{value}'"))
        if sv is None or value == "":
            if text in required:
                missing.append(text)
            else:
                segs.append(["", "-drop-"])
                dropped.append(text)
                some_dropped = True
                if steps is not None:
                    steps.append(
                        Step(
                            "drop",
                            f"{{{text}}} has no value: its segment and one separator are left out",
                        )
                    )
            continue
        if steps is not None:
            steps.append(Step("value", f"{text} = '{value}'", sv.source))
        segs.append([value, text])
    if missing:
        for var in missing:
            given = values.get(var)
            why = (
                f": '{given.value}' has no character {t.title} names allow"
                if given is not None and given.value
                else ""
            )
            issues.append(
                Issue(
                    "DPN030",
                    f"{t.key} needs a value for {{{var}}} in pattern '{pattern}'{why}",
                    hint=f"add '{var}' to the entry, to the blueprint metadata, or to "
                    f"naming-values.yaml (defaults, environments or resource_types.{t.key})",
                    var=var,
                )
            )
        return None, issues
    if some_dropped:
        _drop_separators(segs)
    if t.fifo_suffix and props.get("fifo") is True:
        segs.append([t.fifo_suffix, "-suffix-"])
    name = "".join([s[0] for s in segs])
    if steps is not None:
        steps.append(
            Step(
                "render",
                f"{pattern} -> '{name}'",
                cfg.patterns_path if t.key in cfg.user_patterns else "catalogue default pattern",
            )
        )
    limit = _limit(t, cfg)
    if (
        limit is not None
        and measure(name, _length_unit(t)) > limit
        and (on_too_long or cfg.on_too_long.get(t.key, "error")) == "hash"
    ):
        short, issue = _shorten(t, segs, cfg, limit, keep | cfg.keep.get(t.key, frozenset()))
        if short is not None:
            issues.append(
                Issue(
                    "DPN042",
                    f"'{name}' is over the limit of {limit}; shortened to '{short}'",
                    hint="the hash is of the full name, so the short name is stable",
                )
            )
            if steps is not None:
                steps.append(
                    Step(
                        "fit",
                        f"'{name}' -> '{short}' (limit {limit}, hash of the "
                        f"full name, {cfg.hash.algorithm})",
                    )
                )
            name = short
        elif issue is not None:
            issues.append(issue)
    return name, issues


def _drop_separators(segs: list[list[Any]]) -> None:
    """Remove each dropped placeholder together with one adjacent separator."""
    for i, seg in enumerate(segs):
        if seg[1] != "-drop-":
            continue
        prev = segs[i - 1] if i > 0 and segs[i - 1][1] is None else None
        nxt = segs[i + 1] if i + 1 < len(segs) and segs[i + 1][1] is None else None
        if prev is not None and prev[0][-1:] in tuple(SEPARATORS):
            prev[0] = prev[0][:-1]
        elif nxt is not None and nxt[0][:1] in tuple(SEPARATORS):
            nxt[0] = nxt[0][1:]
    segs[:] = [s for s in segs if s[1] != "-drop-"]


#: id of a resource type -> (the type, its `fit_length`, its `length_unit`); both are
#: worked out from its rules, which a type never changes
_TYPE_FACTS: dict[int, tuple[ResourceType, int | None, str]] = {}


def _facts(t: ResourceType) -> tuple[ResourceType, int | None, str]:
    hit = _TYPE_FACTS.get(id(t))
    if hit is None or hit[0] is not t:
        hit = _TYPE_FACTS[id(t)] = (t, t.fit_length, t.length_unit)
    return hit


def _length_unit(t: ResourceType) -> str:
    return _facts(t)[2]


def _limit(t: ResourceType, cfg: NamingConfig) -> int | None:
    cloud = _facts(t)[1]
    user = cfg.max_length.get(t.key)
    if cloud is None:
        return user
    return min(cloud, user) if user is not None else cloud


def _shorten(
    t: ResourceType,
    segs: list[list[Any]],
    cfg: NamingConfig,
    limit: int,
    keep: frozenset[str],
) -> tuple[str | None, Issue | None]:
    """Trim values (never kept ones) and append a hash of the full name."""
    full = "".join(s[0] for s in segs)
    h = cfg.hash
    digest = hashlib.new(h.algorithm, full.encode("utf-8")).hexdigest()[: h.length]
    # The hash separator must be a character the type allows (value_chars always holds the
    # type's own separator, which is the fallback).
    sep = t.separator if charset_regex(t.value_chars).match(h.separator) else h.separator
    suffix = segs[-1][0] if segs and segs[-1][1] == "-suffix-" else ""
    body = [list(s) for s in (segs[:-1] if suffix else segs)]
    tail = sep + h.prefix + digest
    unit = t.length_unit
    budget = limit - measure(tail + suffix, unit)
    trimmable = [s for s in body if s[1] is not None and s[1] not in keep]
    while measure("".join(s[0] for s in body), unit) > budget:
        candidates = [s for s in trimmable if len(s[0]) > 1]
        if not candidates:
            kept = ", ".join(sorted(keep)) or "none"
            return None, Issue(
                "DPN101",
                f"'{full}' cannot be shortened to {limit} without cutting a kept "
                f"component (keep: {kept})",
                hint="shorten a value or keep fewer components",
            )
        longest = max(candidates, key=lambda s: (len(s[0]), body.index(s)))
        longest[0] = longest[0][:-1]
    for s in trimmable:
        stripped = s[0].rstrip(SEPARATORS)
        s[0] = stripped or s[0]
    return "".join(s[0] for s in body) + tail + suffix, None


def _validate(
    t: ResourceType, name: str, cfg: NamingConfig, props: dict[str, Any], steps: list[Step] | None
) -> list[Issue]:
    issues = []
    violations = check(t.rules, name, props)
    if steps is not None:
        failed = {id(v.rule) for v in violations}
        for rule in t.rules:
            mark = "ok" if id(rule) not in failed else "fails" if rule.hard else "warns"
            whose = "" if rule.level == "cloud" else f" ({rule.level})"
            steps.append(Step("rule", f"{mark:5} {rule.describe()}{whose}", rule.source))
    for v in violations:
        issues.append(
            Issue(v.code, v.message, v.hint + f" (rule: {v.rule.source})", severity=v.severity)
        )
    user_max = cfg.max_length.get(t.key)
    if user_max is not None and measure(name, _length_unit(t)) > user_max:
        issues.append(
            Issue(
                "DPN120",
                f"'{name}' is longer than max_length {user_max} set for {t.key}",
                hint="shorten a value, or set `on_too_long: hash`",
            )
        )
    rx = cfg.allowed_chars.get(t.key)
    if rx is not None and not rx.fullmatch(name):
        issues.append(
            Issue(
                "DPN120",
                f"'{name}' does not match allowed_chars '{rx.pattern}' set for {t.key}",
                hint="change the values or the rule in naming-patterns.yaml",
            )
        )
    if steps is not None:
        if user_max is not None:
            steps.append(Step("rule", f"{'ok':5} max_length {user_max} (user)", cfg.patterns_path))
        if rx is not None:
            steps.append(
                Step(
                    "rule",
                    f"{'ok' if rx.fullmatch(name) else 'fails':5} "
                    f"allowed_chars {rx.pattern} (user)",
                    cfg.patterns_path,
                )
            )
    return issues
