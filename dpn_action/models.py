"""Pydantic models of the three files a user writes, and the JSON Schemas generated from them.

The models are the single description of the file formats. `schemas/*.json` (and the copy
shipped inside the package, which the fast structural check reads) are generated from them
by `dpn plan schema --write`, and a test fails when a committed schema drifts.

The per-type parts (blueprint collections and entries, per-type config maps) are built from
the catalogue, so adding a resource type needs no change here.

Importing this module costs pydantic's import (about 0.15 s), so the lint path never does:
it validates against the generated schema instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from dpn_action.naming.catalogue import CATALOGUE, CHILDREN, COMMON_ENTRY_KEYS, ResourceType
from dpn_action.naming.fields import COMMON, VALUE_TYPES, naming_fields
from dpn_action.naming.fields import SCHEMA_KEY as ENTRY_KEY
from dpn_action.schema_files import SCHEMA_BASE, SCHEMA_FILES

Scalar = str | int | float | bool
_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list[Any],
    "object": dict[str, Any],
}
_SCALAR_SCHEMA: dict[str, Any] = {"type": ["string", "number", "boolean"]}
#: a naming value: written as text, a number or a boolean (one JSON Schema type list)
NamingValue = Annotated[str | int | float | bool, WithJsonSchema({"type": VALUE_TYPES})]


def _strict(title: str) -> ConfigDict:
    return ConfigDict(extra="forbid", title=title, populate_by_name=True)


def _pytype(t: str | tuple[str, ...]) -> Any:
    if isinstance(t, tuple):
        out: Any = _JSON_TYPES[t[0]]
        for more in t[1:]:
            out = out | _JSON_TYPES[more]
        return out
    return _JSON_TYPES[t]


# ---------------------------------------------------------------------------- naming-values
ScalarMap = dict[str, Scalar]


def _per_type(title: str, value: Any, description: str) -> type[BaseModel]:
    """A model with one optional field per resource type key (typos get 'did you mean')."""
    fields: dict[str, Any] = {
        key: (value | None, Field(default=None, description=f"{t.title}: {description}"))
        for key, t in CATALOGUE.items()
    }
    return create_model(title, __config__=_strict(title), **fields)


ResourceTypeValues = _per_type("ResourceTypeValues", ScalarMap, "values for this type")


class NamingValues(BaseModel):
    """`.dpn/naming-values.yaml`: the values substituted into name patterns."""

    model_config = _strict("dpn naming values")
    schema_: str | None = Field(default=None, alias="$schema")
    version: Literal["1.0"] = "1.0"
    defaults: ScalarMap = Field(default_factory=dict, description="lowest precedence")
    environments: dict[str, ScalarMap] = Field(
        default_factory=dict, description="values per blueprint `metadata.environment`"
    )
    resource_types: ResourceTypeValues = Field(  # type: ignore[valid-type]
        default_factory=ResourceTypeValues, description="values per resource type"
    )
    custom: ScalarMap = Field(default_factory=dict, description="extra values for patterns")


# --------------------------------------------------------------------------- naming-patterns
class HashGeneration(BaseModel):
    model_config = _strict("HashGeneration")
    algorithm: Literal["md5", "sha256"] = "sha256"
    length: int = Field(default=8, ge=4, le=64)
    prefix: str = ""
    separator: str = Field(default="-", max_length=1)


class Transformations(BaseModel):
    model_config = _strict("Transformations")
    region_mapping: dict[str, str] = Field(default_factory=dict)
    lowercase: list[str] = Field(default_factory=list)
    uppercase: list[str] = Field(default_factory=list)
    replace_hyphens: dict[str, str] = Field(default_factory=dict)
    hash_generation: HashGeneration = Field(default_factory=HashGeneration)


PerTypeInt = _per_type("MaxLength", int, "maximum name length (only stricter than the cloud)")
PerTypeRegex = _per_type("AllowedChars", str, "regular expression every name must match")
PerTypeList = _per_type("RequiredVariables", list[str], "variables that must have a value")
PerTypeTooLong = _per_type(
    "OnTooLong", Literal["error", "hash"], "what to do with an over-long name"
)
PerTypeKeep = _per_type("Keep", list[str], "variables never shortened by `on_too_long: hash`")


class Validation(BaseModel):
    model_config = _strict("Validation")
    max_length: PerTypeInt = Field(default_factory=PerTypeInt)  # type: ignore[valid-type]
    allowed_chars: PerTypeRegex = Field(default_factory=PerTypeRegex)  # type: ignore[valid-type]
    required_variables: PerTypeList = Field(  # type: ignore[valid-type]
        default_factory=PerTypeList
    )
    on_too_long: PerTypeTooLong = Field(  # type: ignore[valid-type]
        default_factory=PerTypeTooLong
    )
    keep: PerTypeKeep = Field(default_factory=PerTypeKeep)  # type: ignore[valid-type]


Patterns = _per_type("Patterns", str, "name pattern with {placeholders}")


class NamingPatterns(BaseModel):
    """`.dpn/naming-patterns.yaml`: one pattern per type, transformations, validation."""

    model_config = _strict("dpn naming patterns")
    schema_: str | None = Field(default=None, alias="$schema")
    version: Literal["1.0"] = "1.0"
    patterns: Patterns = Field(default_factory=Patterns)  # type: ignore[valid-type]
    transformations: Transformations = Field(default_factory=Transformations)
    validation: Validation = Field(default_factory=Validation)


# -------------------------------------------------------------------------------- blueprint
class Metadata(BaseModel):
    model_config = ConfigDict(
        extra="allow", title="Metadata", json_schema_extra={"additionalProperties": _SCALAR_SCHEMA}
    )
    environment: str = Field(min_length=1, description="selects `environments.<name>` values")
    project: str | None = None
    region: str | None = None
    team: str | None = None
    cost_center: str | None = None
    data_classification: str | None = None


class Scope(BaseModel):
    model_config = _strict("Scope")
    mode: Literal["include", "exclude"] = "include"
    patterns: list[str] = Field(min_length=1, description="shell-style wildcards of type keys")


def _ranged(t: ResourceType, name: str) -> Any:
    """The field of a creation property, with the cloud's range of a numeric setting (or of
    the numeric settings inside an object, such as a cluster's `autoscale`) in its schema,
    and the only keys of an object whose keys are fixed (`ResourceType.object_keys`)."""
    rng = t.ranges.get(name)
    if rng is not None:
        return Field(default=None, json_schema_extra=rng.schema(t.title))
    inner: dict[str, Any] = {key: {} for key in t.object_keys.get(name, ())}
    inner.update(
        (key.partition(".")[2], r.schema(t.title))
        for key, r in t.ranges.items()
        if key.partition(".")[0] == name and "." in key
    )
    text = f"Creation setting of the {t.title}, passed to the cloud."
    extra: dict[str, Any] = {"properties": inner} if inner else {}
    if name in t.object_keys:
        extra["additionalProperties"] = False
    if extra:
        return Field(default=None, description=text, json_schema_extra=extra)
    return Field(default=None, description=text)


def _entry_model(t: ResourceType, built: dict[str, type[BaseModel]]) -> type[BaseModel]:
    if t.key in built:
        return built[t.key]
    fields: dict[str, Any] = {}
    for name, jt in COMMON_ENTRY_KEYS.items():
        fields[name] = (_pytype(jt) | None, Field(default=None, description=COMMON[name]))
    for name, jt in t.properties.items():
        fields[name] = (_pytype(jt) | None, _ranged(t, name))
    fields["tags"] = (dict[str, str] | None, Field(default=None, description=COMMON["tags"]))
    fields["depends_on"] = (list[str] | None, Field(default=None, description=COMMON["depends_on"]))
    fields["keep"] = (list[str] | None, Field(default=None, description=COMMON["keep"]))
    fields["on_too_long"] = (
        Literal["error", "hash"] | None,
        Field(default=None, description=COMMON["on_too_long"]),
    )
    for ref, target in t.refs.items():
        title = CATALOGUE[target].title
        if ref == t.parent_ref:  # the parent a name is unique within: required
            text = f"The {title} this {t.title} belongs to: its id or short key (required)."
            fields[ref] = (str, Field(description=text))
        else:
            text = f"The id or short key of {CATALOGUE[target].article} {title}."
            fields[ref] = (str | None, Field(default=None, description=text))
    for child in CHILDREN.get(t.key, []):
        text = f"The {child.title}s in this {t.title}."
        fields[child.collection[-1]] = (
            list[_entry_model(child, built)] | None,  # type: ignore[misc]
            Field(default=None, description=text),
        )
    for var, text in naming_fields(t.key).items():
        if var not in fields:  # a creation property of the same name (S3's region) wins
            fields[var] = (NamingValue | None, Field(default=None, description=text))
    name = "".join(p.capitalize() for p in t.key.split("_")) + "Entry"
    model: type[BaseModel] = create_model(
        name,
        __config__=ConfigDict(
            extra="forbid",
            title=f"{t.title} ({t.key})",
            json_schema_extra={
                ENTRY_KEY: {
                    "type": t.key,
                    "entry": f"{t.article} {t.title} entry",
                    "note": "dpn lint also accepts a naming value that the project's "
                    "naming-values.yaml or a pattern in its naming-patterns.yaml declares; "
                    "this schema lists the built-in ones",
                }
            },
        ),
        **fields,
    )
    built[t.key] = model
    return model


def _resources_model() -> type[BaseModel]:
    built: dict[str, type[BaseModel]] = {}
    groups: dict[str, dict[str, Any]] = {}
    nested: dict[str, dict[str, Any]] = {}
    for t in CATALOGUE.values():
        if t.parent is not None:
            continue
        entry = _entry_model(t, built)
        path = t.collection
        if len(path) == 2:
            groups.setdefault(path[0], {})[path[1]] = (list[entry] | None, None)  # type: ignore[valid-type]
        else:
            nested.setdefault(path[1], {})[path[2]] = (list[entry] | None, None)  # type: ignore[valid-type]
    for inner, f in nested.items():
        title = "".join(p.capitalize() for p in inner.split("_"))
        model = create_model(title, __config__=_strict(title), **f)
        groups["databricks"][inner] = (model | None, None)
    out: dict[str, Any] = {}
    for provider, f in groups.items():
        title = f"{provider.capitalize()}Resources"
        out[provider] = (create_model(title, __config__=_strict(title), **f) | None, None)
    return create_model("Resources", __config__=_strict("Resources"), **out)


Resources = _resources_model()


class Blueprint(BaseModel):
    """A blueprint: the resources a team wants, in one environment."""

    model_config = _strict("dpn blueprint")
    schema_: str | None = Field(default=None, alias="$schema")
    version: Literal["1.0"]
    metadata: Metadata
    scope: Scope | None = None
    resources: Resources = Field(default_factory=Resources)  # type: ignore[valid-type]


MODELS: dict[str, type[BaseModel]] = {
    "blueprint": Blueprint,
    "naming-values": NamingValues,
    "naming-patterns": NamingPatterns,
}


class _Generator(GenerateJsonSchema):
    """Optional fields are written as plain optional properties: a key a user leaves out is
    fine, an explicit `null` is not (no dpn file needs one)."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        out = super().default_schema(schema)
        if out.get("default", ...) is None:
            del out["default"]
        return out


def json_schema(kind: str) -> dict[str, Any]:
    schema = MODELS[kind].model_json_schema(by_alias=True, schema_generator=_Generator)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}/{SCHEMA_FILES[kind]}",
        **schema,
    }


def render_schema(kind: str) -> str:
    return json.dumps(json_schema(kind), indent=2, sort_keys=False) + "\n"


def write_schemas(*dirs: Path) -> list[Path]:
    written = []
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        for kind, fname in SCHEMA_FILES.items():
            p = d / fname
            p.write_text(render_schema(kind), encoding="utf-8")
            written.append(p)
    return written
