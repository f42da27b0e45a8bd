"""`dpn export`: the planned names, per environment, for the tools that build stacks
(Terraform, CDK, Pulumi, anything that reads a dotenv file), so that a stack uses dpn's names
instead of deriving them again.

Every name has a *key* that stays the same when the naming configs change, so a reference to
it in a stack keeps working: the entry's `id` when it has one; else the entry's own values
for the placeholders of its type's built-in pattern, in the pattern's order, joined by `_`
(an S3 bucket `{purpose: landing, layer: raw}` is `landing_raw`); else its name. Characters
other than letters, digits, `_` and `-` become `_`. A resource named within another (a Glue
table in its database, a Unity Catalog schema, table or volume) has the key of its container,
a dot, and its own (`sales_bronze.fact_orders`). Two resources of one type and environment
with the same key (rare: names are unique) are told apart in the order of file and place:
the first keeps the key, the next get `_2`, `_3`, ...

Output is ordered by environment, type and key, so the same plan gives the same bytes, and
carries the plan hash of each environment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dpn_action.blueprint.expand import Resource
from dpn_action.plan import plan_hash, planned

FORMATS = ("terraform", "tfvars", "json", "dotenv")

#: what an output file's name says about its format (`-o names.tf`)
SUFFIXES = (
    (".auto.tfvars.json", "tfvars"),
    (".tfvars.json", "tfvars"),
    (".tf", "terraform"),
    (".env", "dotenv"),
    (".json", "json"),
)

HEADER = "Names planned by dpn (dpn export); generated, do not edit by hand."


@dataclass(frozen=True)
class Exported:
    """One planned name and the key a stack refers to it by."""

    environment: str
    type: str
    key: str
    name: str
    full_name: str


@dataclass(frozen=True)
class Export:
    entries: list[Exported]
    #: environment -> the hash of its planned operations
    hashes: dict[str, str]
    #: the hash of all of them, as `dpn plan preview` of the same files shows it
    plan_hash: str

    @property
    def environments(self) -> list[str]:
        return sorted(self.hashes)


def format_for(path: str) -> str | None:
    """The format an output file's name implies, or None."""
    lower = path.lower()
    return next((fmt for suffix, fmt in SUFFIXES if lower.endswith(suffix)), None)


def build(resources: list[Resource], environment: str | None = None) -> Export:
    """The names of the in-scope, named `resources` (of one environment, when given)."""
    items = planned(resources)
    if environment is not None:
        items = [p for p in items if p.environment == environment]
    by_place = {(r.blueprint.doc.path, r.pointer): r for r in resources}
    hashes = {
        env: plan_hash([p for p in items if p.environment == env])
        for env in sorted({p.environment for p in items})
    }
    keys: dict[int, str] = {}
    rows = []
    for p in sorted(items, key=lambda p: (p.environment, p.type, p.file, p.pointer)):
        r = by_place[(p.file, p.pointer)]
        rows.append((p, _key(r, keys)))
    used: dict[tuple[str, str], set[str]] = {}
    entries = []
    for p, key in rows:
        taken = used.setdefault((p.environment, p.type), set())
        unique, n = key, 1
        while unique in taken:
            n += 1
            unique = f"{key}_{n}"
        taken.add(unique)
        entries.append(Exported(p.environment, p.type, unique, p.name, p.full_name))
    entries.sort(key=lambda e: (e.environment, e.type, e.key))
    return Export(entries, hashes, plan_hash(items))


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _part(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_") or "_"


def _key(r: Resource, memo: dict[int, str]) -> str:
    hit = memo.get(id(r))
    if hit is not None:
        return hit
    if r.id:
        own = _part(r.id)
    else:
        values = [r.entry.get(v) for v in r.type.placeholders()]
        parts = [_part(v) for v in values if isinstance(v, str) and v]
        own = "_".join(parts) if parts else _part(r.name or r.type.key)
    c = r.container
    key = f"{_key(c, memo)}.{own}" if c is not None else own
    memo[id(r)] = key
    return key


def _nested(entries: Iterable[Exported], full: bool) -> dict[str, dict[str, dict[str, str]]]:
    out: dict[str, dict[str, dict[str, str]]] = {}
    for e in entries:
        if full and e.full_name == e.name:
            continue
        value = e.full_name if full else e.name
        out.setdefault(e.environment, {}).setdefault(e.type, {})[e.key] = value
    return out


# ------------------------------------------------------------------------------- JSON
def to_json(ex: Export) -> str:
    """For CDK, Pulumi and scripts: `environments.<env>.names.<type>.<key>` is the name,
    `full_names` has the names that differ from it (`database.table`,
    `catalog.schema.table`), and each environment has its plan hash."""
    names, full = _nested(ex.entries, False), _nested(ex.entries, True)
    doc = {
        "plan_hash": ex.plan_hash,
        "environments": {
            env: {
                "plan_hash": ex.hashes[env],
                "names": names.get(env, {}),
                "full_names": full.get(env, {}),
            }
            for env in ex.environments
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def to_tfvars(ex: Export) -> str:
    """A Terraform variable definitions file (`*.auto.tfvars.json`): `dpn_names`,
    `dpn_full_names` (environment -> type -> key -> name) and `dpn_plan_hash`."""
    doc = {
        "dpn_names": _nested(ex.entries, False),
        "dpn_full_names": _nested(ex.entries, True),
        "dpn_plan_hash": ex.plan_hash,
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -------------------------------------------------------------------------------- HCL
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
#: bare words an object key must not be (they read as values or start a `for`)
_KEYWORDS = frozenset({"true", "false", "null", "for", "in", "if"})


def hcl_string(text: str) -> str:
    """A quoted HCL string that reads back as `text` (no interpolation)."""
    out = []
    for ch in text:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    # `${` and `%{` start a template sequence; doubling the sigil writes it literally
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


def hcl_key(key: str) -> str:
    return key if _IDENT.fullmatch(key) and key not in _KEYWORDS else hcl_string(key)


def to_terraform(ex: Export) -> str:
    """A Terraform file with `local.dpn_names` and `local.dpn_full_names` (environment ->
    type -> key -> name), formatted as `terraform fmt` leaves it: two spaces per level, the
    `=` of neighbouring one-line attributes aligned."""
    lines = [f"# {HEADER}", f"# plan hash: {ex.plan_hash}"]
    lines += [f"# plan hash of {env}: {ex.hashes[env]}" for env in ex.environments]
    lines.append("locals {")
    for name, full in (("dpn_names", False), ("dpn_full_names", True)):
        tree = _nested(ex.entries, full)
        if not tree:
            lines.append(f"  {name} = {{}}")
            continue
        lines.append(f"  {name} = {{")
        for env in sorted(tree):
            lines.append(f"    {hcl_key(env)} = {{")
            for t in sorted(tree[env]):
                lines.append(f"      {hcl_key(t)} = {{")
                items = [(hcl_key(k), hcl_string(v)) for k, v in sorted(tree[env][t].items())]
                width = max(len(k) for k, _ in items)
                lines += [f"        {k.ljust(width)} = {v}" for k, v in items]
                lines.append("      }")
            lines.append("    }")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- dotenv
_ENV_UNSAFE = re.compile(r"[^A-Z0-9]+")
_BARE = re.compile(r"[A-Za-z0-9_./:@+-]*")


class OneEnvironment(ValueError):
    """A dotenv file holds the names of one environment."""


def dotenv_keys(entries: Iterable[Exported]) -> dict[tuple[str, str, bool], str]:
    """(type, key, full name?) -> the variable: `DPN_<TYPE>_<KEY>` in upper case, every run of
    other characters one `_`, and `__FULL_NAME` after it for a full name. Variables that
    come out the same are told apart in the order of type and key: the first keeps it, the
    next get `_2`, `_3`, ..."""
    wanted: list[tuple[tuple[str, str, bool], str]] = []
    for e in sorted(entries, key=lambda e: (e.type, e.key)):
        base = "DPN_" + _ENV_UNSAFE.sub("_", f"{e.type}_{e.key}".upper()).strip("_")
        wanted.append(((e.type, e.key, False), base))
        if e.full_name != e.name:
            wanted.append(((e.type, e.key, True), base + "__FULL_NAME"))
    taken: set[str] = set()
    out: dict[tuple[str, str, bool], str] = {}
    for ident, var in wanted:
        unique, n = var, 1
        while unique in taken:
            n += 1
            unique = f"{var}_{n}"
        taken.add(unique)
        out[ident] = unique
    return out


def dotenv_value(text: str) -> str:
    if _BARE.fullmatch(text):
        return text
    if "'" not in text and "\n" not in text:
        return f"'{text}'"
    escaped = "".join("\\" + c if c in '\\"$`' else c for c in text).replace("\n", "\\n")
    return f'"{escaped}"'


def to_dotenv(ex: Export) -> str:
    """`DPN_<TYPE>_<KEY>=name` lines for one environment (see `dotenv_keys`)."""
    if len(ex.environments) > 1:
        raise OneEnvironment(
            "a dotenv file holds one environment; these blueprints plan "
            + ", ".join(ex.environments)
        )
    keys = dotenv_keys(ex.entries)
    env = ex.environments[0] if ex.environments else ""
    lines = [f"# {HEADER}", f"# environment: {env}", f"# plan hash: {ex.plan_hash}"]
    rows = []
    for e in ex.entries:
        rows.append((keys[(e.type, e.key, False)], e.name))
        if e.full_name != e.name:
            rows.append((keys[(e.type, e.key, True)], e.full_name))
    lines += [f"{k}={dotenv_value(v)}" for k, v in sorted(rows)]
    return "\n".join(lines) + "\n"


RENDER = {"terraform": to_terraform, "tfvars": to_tfvars, "json": to_json, "dotenv": to_dotenv}


def render(ex: Export, fmt: str) -> str:
    return RENDER[fmt](ex)
