"""Structural checks of a document against dpn's generated JSON Schemas, with positions.

A deliberately small validator for the subset of JSON Schema that pydantic generates for
dpn's models (`type`, `properties`, `additionalProperties`, `required`, `items`, `enum`,
`const`, `pattern`, length and range bounds, `anyOf`, `not`, local `$ref`). It reports *every*
problem as a located finding, with "did you mean" for mistyped keys, and it imports nothing
heavy, so a commit hook can afford it. A property test checks that it agrees with the
`jsonschema` library on valid/invalid.

An object annotated with `x-dpn-entry` is a resource entry: its schema refuses unknown keys,
but a scalar one may be a naming value that the project's configs declare, so it is left to
the analysis, which knows them (`DPN014`; see `dpn_action.naming.fields`).

A node annotated with `x-dpn-range` is a numeric creation setting whose range the cloud
documents (`naming/ranges.py`): a number it refuses (outside the bounds, not whole, not
finite) is reported as `DPN016`, naming the range and its source.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from dpn_action.findings import (
    Finding,
    Fix,
    close_matches,
    did_you_mean,
    join_pointer,
    plural,
    rename_fix,
    suggestion,
)
from dpn_action.naming.ranges import SCHEMA_KEY as RANGE_KEY
from dpn_action.source import Document

Schema = dict[str, Any]

#: the annotation of a resource entry's schema (written by `dpn_action.models`)
ENTRY_KEY = "x-dpn-entry"

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


@cache
def load_schema(kind: str) -> Schema:
    """The generated schema shipped in the package (`blueprint`, `naming-values`, ...)."""
    from dpn_action.schema_files import SCHEMA_FILES

    text = (Path(__file__).parent / "schemas" / SCHEMA_FILES[kind]).read_text(encoding="utf-8")
    schema: Schema = json.loads(text)
    return schema


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_type(value: Any, t: str) -> bool:
    if isinstance(value, bool) and t in ("integer", "number"):
        return False
    if t == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _PY_TYPES[t])


class _Validator:
    def __init__(self, root: Schema, doc: Document, context: str) -> None:
        self.root = root
        self.doc = doc
        self.context = context
        self.findings: list[Finding] = []
        self._patterns: dict[str, re.Pattern[str]] = {}
        #: ranged schema nodes without their annotation (id of the node -> plain copy)
        self._plain: dict[int, Schema] = {}

    def shape(self, schema: Schema) -> _Shape:
        """What is known of `schema` before any value is looked at (worked out once)."""
        hit = _SHAPES.get(id(schema))
        if hit is None or hit.given is not schema:
            if len(_SHAPES) >= _MAX_SHAPES:  # schemas made on the fly (tests): start over
                _SHAPES.clear()
            hit = _SHAPES[id(schema)] = _Shape(schema, self.resolve(schema))
            props = hit.schema.get("properties")
            if isinstance(props, dict):
                for k, sub in props.items():
                    took = self.shape(sub).took
                    if took is not None:
                        hit.fast[k] = took
        return hit

    def accepts(self, schema: Schema) -> frozenset[type] | None:
        """The exact Python types of the values `schema` takes without a further look
        (`_ANYTHING`: every value), or None when a value must be checked in full."""
        return self.shape(schema).took

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/$defs/"):
                raise ValueError(f"unsupported $ref {ref}")
            schema = self.root["$defs"][ref[len("#/$defs/") :]]
        return schema

    def add(
        self,
        code: str,
        message: str,
        pointer: str,
        hint: str = "",
        key: bool = False,
        fix: Fix | None = None,
    ) -> None:
        self.findings.append(self.doc.finding(code, message, pointer, hint=hint, key=key, fix=fix))

    # -- one node ---------------------------------------------------------------------
    def errors(self, value: Any, schema: Schema, pointer: str) -> list[tuple[str, str, str, str]]:
        """Validate without reporting: (code, message, pointer, hint) list. Used by anyOf."""
        saved = self.findings
        self.findings = []
        self.check(value, schema, pointer)
        out = [(f.code, f.message, f.pointer, f.hint) for f in self.findings]
        self.findings = saved
        return out

    def check(self, value: Any, schema: Schema, pointer: str) -> None:
        shape = self.shape(schema)
        took = shape.took
        if took is not None and (took is _ANYTHING or type(value) in took):
            return  # valid whatever else it holds: the common case, checked at once
        schema = shape.schema
        if RANGE_KEY in schema and _is_number(value):
            self._ranged(value, schema, pointer)
            return
        if "anyOf" in schema:
            self._any_of(value, schema, pointer)
            return
        t = schema.get("type")
        if t is not None and type(value) not in shape.typed:
            types = t if isinstance(t, list) else [t]
            if not any(_is_type(value, x) for x in types):
                want = " or ".join(types)
                rng = schema.get(RANGE_KEY)
                self.add(
                    "DPN010",
                    f"{self.where(pointer)} must be {_article(want)}, "
                    f"not {_article(_type_name(value))}",
                    pointer,
                    hint=self.type_hint(types, value)
                    if rng is None
                    else f"a whole number, {rng['allowed']} (see {rng['source']})",
                )
                return
        if "not" in schema and not self.errors(value, schema["not"], pointer):
            self.add(
                "DPN013", f"{self.where(pointer)} is {json.dumps(value)}: not allowed", pointer
            )
        if "const" in schema and value != schema["const"]:
            self.add(
                "DPN013",
                f"{self.where(pointer)} must be {json.dumps(schema['const'])}, "
                f"not {json.dumps(value)}",
                pointer,
            )
        if "enum" in schema and value not in schema["enum"]:
            choices = ", ".join(json.dumps(c) for c in schema["enum"])
            extra = (
                did_you_mean(value, [str(c) for c in schema["enum"]])
                if isinstance(value, str)
                else ""
            )
            self.add(
                "DPN013",
                f"{self.where(pointer)} is {json.dumps(value)}; allowed: {choices}.{extra}".rstrip(
                    "."
                ),
                pointer,
            )
        if isinstance(value, dict):
            self._object(value, schema, pointer)
        elif isinstance(value, list):
            self._array(value, schema, pointer)
        elif isinstance(value, str):
            self._string(value, schema, pointer)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._number(value, schema, pointer)

    def _any_of(self, value: Any, schema: Schema, pointer: str) -> None:
        branches = schema["anyOf"]
        results = [self.errors(value, b, pointer) for b in branches]
        if any(not r for r in results):
            return
        # Report the branch whose type matched (its errors are the useful ones).
        best = min(
            results, key=lambda r: (any(c == "DPN010" and p == pointer for c, _, p, _ in r), len(r))
        )
        for code, message, p, hint in best:
            self.add(code, message, p, hint)

    def _object(self, value: dict[str, Any], schema: Schema, pointer: str) -> None:
        props: dict[str, Schema] = schema.get("properties", {})
        for req in schema.get("required", ()):
            if req not in value:
                about = self.resolve(props.get(req, {})).get("description", "")
                self.add(
                    "DPN012",
                    f"{self.where(pointer)} is missing required key '{req}'",
                    pointer,
                    hint=f"add '{req}'" + (f": {about[:1].lower()}{about[1:]}" if about else ""),
                )
        extra = schema.get("additionalProperties", True)
        fast = self.shape(schema).fast
        for k, v in value.items():
            took = fast.get(k)
            if took is not None and (took is _ANYTHING or type(v) in took):
                continue  # a naming value, a string setting (the common cases)
            sub = props.get(k)
            child = join_pointer(pointer, k)
            if sub is not None:
                self.check(v, sub, child)
            elif extra is False and ENTRY_KEY in schema:
                # A resource entry: a scalar may be a naming value that the project's configs
                # declare, which only the analysis knows (it reports DPN014 for the others).
                if not _is_scalar(v):
                    near = close_matches(k, list(props))
                    self.add(
                        "DPN014",
                        f"unknown field '{k}' in {schema[ENTRY_KEY]['entry']}",
                        child,
                        key=True,
                        hint=suggestion(near).strip().capitalize()
                        or "a naming value is a plain string; nested data is only allowed for "
                        "the type's creation settings",
                        fix=rename_fix(child, k, near),
                    )
            elif extra is False:
                # the collections are the keys above the entries (no list index on the way)
                what = (
                    "collection"
                    if pointer.startswith("/resources") and not _in_list(pointer)
                    else "key"
                )
                near = close_matches(k, list(props))
                self.add(
                    "DPN011",
                    f"unknown {what} '{k}' in {self.where(pointer)}",
                    child,
                    key=True,
                    hint=(
                        suggestion(near).strip().capitalize()
                        or "allowed: " + ", ".join(sorted(props)[:12])
                    ),
                    fix=rename_fix(child, k, near),
                )
            elif isinstance(extra, dict):
                if _is_scalar(v) and extra == _SCALAR_VALUES:
                    continue  # the common case (a naming value), checked without a detour
                errs = self.errors(v, extra, child)
                near = close_matches(k, list(props)) if errs else []
                if near:
                    self.add(
                        "DPN014",
                        f"unknown field '{k}' in {self.where(pointer)}",
                        child,
                        key=True,
                        hint=suggestion(near).strip().capitalize(),
                        fix=rename_fix(child, k, near),
                    )
                else:
                    for code, message, p, hint in errs:
                        self.add(code, message, p, hint)

    def _array(self, value: list[Any], schema: Schema, pointer: str) -> None:
        lo = schema.get("minItems")
        if lo is not None and len(value) < lo:
            self.add(
                "DPN013", f"{self.where(pointer)} needs at least {plural(lo, 'item')}", pointer
            )
        items = schema.get("items")
        if items is not None:
            took = self.accepts(items)
            if took is _ANYTHING:
                return
            for i, v in enumerate(value):
                if took is None or type(v) not in took:
                    self.check(v, items, join_pointer(pointer, i))

    def _string(self, value: str, schema: Schema, pointer: str) -> None:
        lo, hi = schema.get("minLength"), schema.get("maxLength")
        if lo is not None and len(value) < lo:
            self.add(
                "DPN013",
                f"{self.where(pointer)} must not be empty"
                if lo == 1
                else f"{self.where(pointer)} needs at least {lo} characters",
                pointer,
            )
        if hi is not None and len(value) > hi:
            self.add(
                "DPN013", f"{self.where(pointer)} has more than {plural(hi, 'character')}", pointer
            )
        pat = schema.get("pattern")
        if pat is not None:
            rx = self._patterns.get(pat) or self._patterns.setdefault(pat, re.compile(pat))
            if not rx.search(value):
                self.add("DPN013", f"{self.where(pointer)} does not match {pat}", pointer)

    def _number(self, value: float, schema: Schema, pointer: str) -> None:
        bounds: tuple[tuple[str, str, Callable[[float], bool]], ...] = (
            ("minimum", "at least", lambda b: value >= b),
            ("maximum", "at most", lambda b: value <= b),
            ("exclusiveMinimum", "more than", lambda b: value > b),
            ("exclusiveMaximum", "less than", lambda b: value < b),
        )
        for key, word, ok in bounds:
            if key in schema and not ok(schema[key]):
                self.add("DPN013", f"{self.where(pointer)} must be {word} {schema[key]}", pointer)

    def _ranged(self, value: float, schema: Schema, pointer: str) -> None:
        """A number for a setting with a documented range: one `DPN016` when the cloud
        would refuse it, whichever keyword of the range it breaks."""
        plain = self._plain.get(id(schema))
        if plain is None:
            plain = {k: v for k, v in schema.items() if k != RANGE_KEY}
            self._plain[id(schema)] = plain
        if not self.errors(value, plain, pointer):
            return
        rng = schema[RANGE_KEY]
        shown = json.dumps(value)
        if isinstance(value, float) and not math.isfinite(value):
            what = "not a finite number"
        elif isinstance(value, float) and not value.is_integer():
            what = "not a whole number"
        else:
            what = "outside the cloud's range"
        self.add(
            "DPN016",
            f"{self.where(pointer)} is {shown}, {what}: {rng['allowed']} ({rng['resource']})",
            pointer,
            hint=f"choose a whole number in that range (documented at {rng['source']})",
        )

    # -- wording ------------------------------------------------------------------------
    def where(self, pointer: str) -> str:
        return f"'{pointer}'" if pointer else f"the {self.context}"

    @staticmethod
    def type_hint(types: list[str], value: Any) -> str:
        if "string" in types and isinstance(value, (int, float)) and not isinstance(value, bool):
            return f'quote the value: "{value}"'
        if types == ["string", "number", "boolean"]:
            return (
                "naming values are plain strings; nested data is only allowed for the "
                "type's creation properties"
            )
        return ""


class _Shape:
    """What is known of a schema node before any value is looked at."""

    __slots__ = ("fast", "given", "schema", "took", "typed")

    def __init__(self, given: Schema, schema: Schema) -> None:
        self.given = given
        #: the node, its `$ref` resolved
        self.schema = schema
        #: the exact Python types of the values it takes without a further look
        #: (`_ANYTHING`: every value), or None when a value must be checked in full
        self.took = _accepted(schema)
        #: exact Python types its `type` takes without a further look
        self.typed: frozenset[type] = frozenset()
        t = schema.get("type")
        for name in t if isinstance(t, list) else [t] if isinstance(t, str) else []:
            self.typed |= _TYPED.get(name, frozenset())
        #: for an object: each property whose values need only `took`
        self.fast: dict[str, frozenset[type]] = {}


#: id of a schema node -> its shape; the node is kept with it, so that its id cannot be
#: reused while it is here
_SHAPES: dict[int, _Shape] = {}
_MAX_SHAPES = 4096
#: what a schema that checks nothing takes
_ANYTHING: frozenset[type] = frozenset({object})
#: the exact Python types a JSON type takes without a further look (a float for "integer"
#: is looked at: 2.0 is one, 2.5 is not)
_EXACT: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "boolean": frozenset({bool}),
    "null": frozenset({type(None)}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
}
_TYPED = {**_EXACT, "object": frozenset({dict}), "array": frozenset({list})}


def _accepted(schema: Schema) -> frozenset[type] | None:
    """What `_Validator.accepts` says of a resolved schema: a schema of describing words
    and at most a scalar `type` checks nothing but the type."""
    if not set(schema) <= _WORDS:
        return None
    t = schema.get("type")
    if t is None:
        return _ANYTHING
    out: frozenset[type] = frozenset()
    for name in t if isinstance(t, list) else [t]:
        exact = _EXACT.get(name)
        if exact is None:
            return None
        out |= exact
    return out


_SCALAR_VALUES = {"type": ["string", "number", "boolean"]}
#: keywords that only describe (a node with no others takes whatever its type allows)
_WORDS = frozenset({"type", "title", "description"})


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float))


def _in_list(pointer: str) -> bool:
    """Whether `pointer` goes through an item of a list (an entry of a collection)."""
    return any(token.isdigit() for token in pointer.split("/"))


def _article(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def validate(doc: Document, kind: str, context: str) -> list[Finding]:
    """Structural findings for a parsed document against the generated schema of `kind`."""
    schema = load_schema(kind)
    v = _Validator(schema, doc, context)
    v.check(doc.data, schema, "")
    return v.findings
