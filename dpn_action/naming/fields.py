"""The fields an entry of each resource type may carry, and what each one is for.

One list serves three readers: the generated JSON Schema (`dpn_action.models`: every field a
property with a description, and unknown keys refused), `dpn lint`'s check of unknown fields
(`DPN014`, in `dpn_action.analysis`), and the schema of one project, which adds the naming
values its own configs declare (`project_schema`).

A schema is static and the configs are not: a team may give its patterns variables of its
own (`{squad}`) and values for them in naming-values.yaml, and `dpn lint` accepts such a
field on an entry. The generated schema knows only the built-in vocabulary, so it refuses
them; `project_schema` (`python -m dpn_action.naming.fields DIR`) writes the schema of a
project, with the fields its configs declare, for editors.

Import-light: no pydantic, so the lint path can use it.
"""

from __future__ import annotations

import copy
import json
import sys
from functools import cache
from typing import Any

from dpn_action.naming.catalogue import (
    CATALOGUE,
    CHILDREN,
    COMMON_ENTRY_KEYS,
    KNOWN_VARIABLES,
    ResourceType,
)
from dpn_action.naming.config import NamingConfig
from dpn_action.structure import ENTRY_KEY

#: the annotation of an entry's schema that marks its unknown scalar fields as dpn's to judge:
#: `dpn lint` accepts one that the project's configs declare (see the module's docstring)
SCHEMA_KEY = ENTRY_KEY

#: what a naming value may be in a blueprint (numbers and booleans are written as text)
VALUE_TYPES = ["string", "number", "boolean"]

_KNOWN = {
    "project": "the project's name",
    "environment": "the environment (dev, stg, prd, ...)",
    "region": "the cloud region; {region_short} is derived from it unless given",
    "region_short": "the region's short code (use1 for us-east-1); derived from region",
    "team": "the owning team",
    "cost_center": "the cost center",
    "data_classification": "the data classification (public, internal, confidential, ...)",
    "owner": "the owner",
    "account": "the AWS account: where a name must be unique (IAM names per account, ...)",
    "workspace": "the Databricks workspace: where a name must be unique (clusters, jobs, ...)",
}


#: what each key every entry may carry is for
COMMON = {
    "id": "An id for this entry, unique in the blueprint; references and depends_on name it.",
    "name": "An explicit name instead of the pattern's: validated as written (never "
    "normalised); a name that differs from the convention is a warning (DPN041).",
    "tags": "Tags for the resource (string values), added to dpn's own.",
    "depends_on": "Ids of entries to create before this one.",
    "on_too_long": "error (default): a name over the limit is an error; hash: shorten it with "
    "a hash of the full name.",
    "keep": "Naming values that on_too_long: hash never shortens.",
    "description": "A description of the resource; also a naming value.",
    "comment": "A comment on the resource; also a naming value.",
}


def _alphabet(t: ResourceType) -> str:
    case = ", lower case" if t.lowercase else ""
    return f"Normalised to [{t.value_chars}]{case} (DPN040)."


@cache
def naming_fields(key: str) -> dict[str, str]:
    """Naming value -> its description, for the entries of type `key`: the variables of the
    type's pattern, then the values dpn knows without a config (which any pattern in
    naming-patterns.yaml may use)."""
    t = CATALOGUE[key]
    out: dict[str, str] = {}
    for var in t.placeholders():
        if var in t.defaults:
            need = f"default '{t.defaults[var]}'"
        elif var in t.optional:
            need = "optional: without it, its segment is left out"
        else:
            need = "required"
        what = f", {_KNOWN[var]}" if var in _KNOWN else ""
        out[var] = f"{{{var}}} of the pattern {t.pattern} ({need}{what}). {_alphabet(t)}"
    for var in sorted(KNOWN_VARIABLES - set(out)):
        out[var] = (
            f"Naming value: {_KNOWN.get(var, var)}; not in the default pattern. {_alphabet(t)}"
        )
    return out


@cache
def builtin_keys(key: str) -> frozenset[str]:
    """Every field an entry of type `key` may carry whatever the configs say."""
    t = CATALOGUE[key]
    return frozenset(
        set(COMMON_ENTRY_KEYS)
        | set(t.refs)
        | set(t.properties)
        | set(t.defaults)
        | {c.collection[-1] for c in CHILDREN.get(key, [])}
        | set(naming_fields(key))
    )


def config_fields(key: str, cfg: NamingConfig) -> dict[str, str]:
    """Naming values beyond the built-in ones that the configs make known for entries of
    type `key` -> where they are declared: the variables of the type's own pattern and the
    values naming-values.yaml gives (defaults, environments, custom, resource_types.<key>,
    --override)."""
    builtin = builtin_keys(key)
    t = CATALOGUE[key]
    out: dict[str, str] = {}
    for var in t.placeholders(cfg.pattern(key)):
        if var not in builtin:
            out[var] = (
                f"Naming value {{{var}}} of the pattern {cfg.pattern(key)} "
                f"({cfg.patterns_path}). {_alphabet(t)}"
            )
    for var in sorted(cfg.value_vocabulary(key) - builtin - set(out)):
        out[var] = f"Naming value {var}, which {cfg.values_path} declares. {_alphabet(t)}"
    return out


def entry_keys(key: str, cfg: NamingConfig) -> frozenset[str]:
    """Every field `dpn lint` accepts on an entry of type `key` named with `cfg`."""
    extra = config_fields(key, cfg)
    return builtin_keys(key) | extra.keys() if extra else builtin_keys(key)


def project_schema(schema: dict[str, Any], cfg: NamingConfig) -> dict[str, Any]:
    """The blueprint schema `schema` with the naming values `cfg` declares added to each
    entry's fields, so an editor accepts exactly the fields `dpn lint` does."""
    out = copy.deepcopy(schema)
    out.pop("$id", None)  # not the published schema any more
    for node in out.get("$defs", {}).values():
        mark = node.get(SCHEMA_KEY)
        if not isinstance(mark, dict) or mark.get("type") not in CATALOGUE:
            continue
        props = node.setdefault("properties", {})
        for var, text in config_fields(mark["type"], cfg).items():
            props.setdefault(var, {"type": VALUE_TYPES, "description": text})
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the blueprint schema of the project whose blueprints are in directory DIR
    (default: the current one), named with the configs found for it."""
    from pathlib import Path

    from dpn_action.naming.config import Configs
    from dpn_action.structure import load_schema
    from dpn_action.tree import work_tree

    args = sys.argv[1:] if argv is None else argv
    start = Path(args[0] if args else ".").resolve()
    tree = work_tree(start / "x", cwd=start)
    configs = Configs()
    cfg = configs.for_dir(tree, tree.rel(start) or "")
    for f in configs.findings:
        print(f"{f.file}:{f.line}:{f.column}: {f.code} {f.message}", file=sys.stderr)
    sys.stdout.write(json.dumps(project_schema(load_schema("blueprint"), cfg), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
