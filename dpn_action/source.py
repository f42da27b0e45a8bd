"""Read JSON and YAML files so that every node can be traced back to a line and column.

JSON is parsed with the standard library (fast) and located lazily: the position index is
built by a small scanner only when a finding needs a position, so a clean 10,000-resource
blueprint never pays for it. YAML is composed into libyaml nodes, which carry their marks,
and the index is built while constructing the data. Both report duplicate keys, which the
usual loaders silently drop.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpn_action.findings import Finding, join_pointer, plural, printable, split_pointer
from dpn_action.inputs import (
    MAX_FILE_BYTES,
    InputRefused,
    read_bounded,
    too_large,
    too_large_hint,
)
from dpn_action.syntax import unclosed_json, yaml_error

#: pointer -> (offset of the value, offset of its key or -1)
_Index = dict[str, tuple[int, int]]


#: deeper YAML is refused before composing: libyaml's composer recurses in C and would
#: overflow the stack (a crash no handler can catch)
MAX_DEPTH = 1000


def _yaml_too_deep(text: str, loader_cls: Any) -> int | None:
    """Offset where nesting first passes MAX_DEPTH, or None (walks parser events, which is
    iterative)."""
    import yaml

    if text.count("[") + text.count("{") + text.count(":") + text.count("-") < MAX_DEPTH:
        return None
    depth = 0
    for event in yaml.parse(text, Loader=loader_cls):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                index: int = mark.index if mark is not None else 0
                return index
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
    return None


class _DuplicateKeys(Exception):
    """Raised inside the fast JSON path; the slow scanner then reports each duplicate."""


@dataclass
class Document:
    """A parsed file: its data (None when unparseable), findings from reading it, and a
    way to turn any JSON pointer into a 1-based (line, column)."""

    path: str
    text: str
    kind: str
    data: Any = None
    findings: list[Finding] = field(default_factory=list)
    _index: _Index | None = None
    _line_starts: list[int] | None = None

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)

    # -- positions -------------------------------------------------------------------
    def _offset_to_line_col(self, offset: int) -> tuple[int, int]:
        if self._line_starts is None:
            starts = [0]
            starts.extend(m.end() for m in re.finditer("\n", self.text))
            self._line_starts = starts
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def _ensure_index(self) -> _Index:
        if self._index is None:
            if self.kind == "json" and self.data is not None:
                self._index, _ = _scan_json(self.text)
            else:  # YAML documents are indexed while loading; an unparseable one has none
                self._index = {}
        return self._index

    def position(self, pointer: str, *, key: bool = False) -> tuple[int, int]:
        """(line, column) of the node at `pointer`, or of its nearest existing ancestor.

        With `key=True` the position of the member's key is given (for "unknown key").
        """
        index = self._ensure_index()
        tokens = split_pointer(pointer)
        while True:
            p = join_pointer("", *tokens)
            hit = index.get(p)
            if hit is not None:
                value_off, key_off = hit
                off = key_off if key and key_off >= 0 else value_off
                return self._offset_to_line_col(off)
            if not tokens:
                return (1, 1) if self.text else (0, 0)
            tokens.pop()

    def offsets(self, pointer: str) -> tuple[int, int] | None:
        """Character offsets in `text` of the node at exactly `pointer` and of its key (-1
        for an item of a list or the document), or None when there is no such node."""
        return self._ensure_index().get(pointer)

    def value_at(self, pointer: str) -> tuple[bool, Any]:
        """(True, the value at `pointer` in `data`), or (False, None) when there is none."""
        node = self.data
        for token in split_pointer(pointer):
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return False, None
        return True, node

    def finding(
        self, code: str, message: str, pointer: str, *, hint: str = "", key: bool = False, **kw: Any
    ) -> Finding:
        """A finding located at `pointer` in this document."""
        line, col = self.position(pointer, key=key)
        return Finding.make(
            code, message, file=self.path, line=line, column=col, pointer=pointer, hint=hint, **kw
        )


# ---------------------------------------------------------------------------------------
# loading


def kind_of(path: str, text: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if text.lstrip().startswith(("{", "[")) else "yaml"


def display_path(path: Path, root: Path | None) -> str:
    """`path` relative to `root` when it lies below it (how findings name files): as
    written when it does, else once links are resolved."""
    if root is not None:
        for p, r in (
            (Path(os.path.abspath(path)), Path(os.path.abspath(root))),
            (Path(os.path.realpath(path)), Path(os.path.realpath(root))),
        ):
            try:
                return str(p.relative_to(r))
            except ValueError:
                pass
    return str(path)


def read_document(path: str | Path, display: str | None = None) -> Document:
    """Read and parse a file; problems become findings, never exceptions.

    Only a regular file inside its repository (found from the path) of at most
    `MAX_FILE_BYTES` is read (see `dpn_action.inputs`)."""
    name = display if display is not None else str(path)
    return load_document(lambda: read_bounded(path, limit=MAX_FILE_BYTES), name)


def load_document(read: Callable[[], bytes], name: str) -> Document:
    """Parse what `read()` returns (a bounded reader: `dpn_action.inputs`, a `Tree`); a
    file it refuses or cannot read becomes a finding."""
    try:
        raw = read()
    except InputRefused as exc:
        return _refused(name, exc.code, exc.message, exc.hint)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return _refused(
            name, "DPN003", f"cannot read file: {reason}", "check the path and its permissions"
        )
    return parse_bytes(raw, name)


def _refused(name: str, code: str, message: str, hint: str, kind: str = "json") -> Document:
    doc = Document(path=name, text="", kind=kind)
    doc.findings.append(Finding.make(code, message, file=name, hint=hint))
    return doc


def parse_bytes(raw: bytes, path: str) -> Document:
    if len(raw) > MAX_FILE_BYTES:
        return _refused(
            path,
            "DPN004",
            too_large(len(raw), MAX_FILE_BYTES),
            too_large_hint(MAX_FILE_BYTES),
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        doc = Document(path=path, text="", kind="json")
        head = raw[: exc.start]
        line = head.count(b"\n") + 1
        col = exc.start - (head.rfind(b"\n") + 1) + 1
        doc.findings.append(
            Finding.make(
                "DPN001",
                f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                file=path,
                line=line,
                column=col,
                hint="save the file as UTF-8",
            )
        )
        return doc
    return parse_text(text, path)


def parse_text(text: str, path: str, kind: str | None = None) -> Document:
    doc = Document(path=path, text=text, kind=kind or kind_of(path, text))
    if doc.kind == "json":
        _load_json(doc)
    else:
        _load_yaml(doc)
    if doc.data is not None and "\\" in text and _SURROGATE_ESCAPE.search(text):
        _refuse_lone_surrogates(doc)
    return doc


# ---------------------------------------------------------------------------------------
# Unicode: the text was decoded from UTF-8, so a surrogate can only come from an escape
# (JSON `\ud800`, YAML `\ud800` or `\U0000d800`). A pair of them makes one character;
# a lone one is no character at all and could not be printed, hashed or sent anywhere.

_SURROGATE_ESCAPE = re.compile(r"\\(?:u|U0000)[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(?s:.))|"')
#: lone surrogates reported one by one; the rest are counted in one more finding
MAX_UNICODE_FINDINGS = 20


def _refuse_lone_surrogates(doc: Document) -> None:
    """One DPN001 per string (key or value) holding a lone surrogate, at its escape; the
    document's data is dropped, as for any file that is not valid."""
    found: list[tuple[int, str, bool]] = []
    stack: list[tuple[str, Any]] = [("", doc.data)]
    while stack:
        ptr, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                found.append((doc._ensure_index().get(ptr, (0, -1))[0], ptr, False))
        elif isinstance(value, dict):
            for k, child in value.items():
                cptr = join_pointer(ptr, k)
                if _SURROGATE.search(k):
                    found.append((doc._ensure_index().get(cptr, (0, 0))[1], cptr, True))
                stack.append((cptr, child))
        elif isinstance(value, list):
            stack.extend((join_pointer(ptr, i), c) for i, c in enumerate(value))
    if not found:
        return
    for f in doc.findings:  # a duplicate key found on the way may quote such a string
        f.message, f.pointer = printable(f.message), printable(f.pointer)
    found.sort()
    for start, ptr, is_key in found[:MAX_UNICODE_FINDINGS]:
        at = _lone_escape(doc.text, max(start, 0))
        escape = doc.text[at : at + 10] if doc.text.startswith("\\U", at) else doc.text[at : at + 6]
        line, col = doc._offset_to_line_col(at)
        doc.findings.append(
            Finding.make(
                "DPN001",
                f"{'key' if is_key else 'string'} has a lone surrogate escape {escape}, "
                "which is no Unicode character",
                file=doc.path,
                line=line,
                column=col,
                pointer=printable(ptr),
                hint="write the character itself, or both halves of its surrogate pair",
            )
        )
    if len(found) > MAX_UNICODE_FINDINGS:
        doc.findings.append(
            Finding.make(
                "DPN001",
                f"{plural(len(found) - MAX_UNICODE_FINDINGS, 'more string')} "
                f"{'has' if len(found) - MAX_UNICODE_FINDINGS == 1 else 'have'} lone surrogate "
                "escapes",
                file=doc.path,
                hint="write the characters themselves, or both halves of each surrogate pair",
            )
        )
    doc.data = None


def _lone_escape(text: str, start: int) -> int:
    """Offset of the first lone surrogate escape in the double-quoted string at `start`
    (`start` itself when there is no such string there)."""
    if not text.startswith('"', start):
        return start
    pending, pending_end = -1, -1
    for m in _ESCAPE.finditer(text, start + 1):
        if m.group(0) == '"':
            break
        digits = m.group(1) or m.group(2)
        cp = int(digits, 16) if digits else -1
        if pending >= 0:
            if 0xDC00 <= cp <= 0xDFFF and m.start() == pending_end:
                pending = -1
                continue
            return pending
        if 0xD800 <= cp <= 0xDBFF:
            pending, pending_end = m.start(), m.end()
        elif 0xDC00 <= cp <= 0xDFFF:
            return m.start()
    return pending if pending >= 0 else start


# ---------------------------------------------------------------------------------------
# JSON


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _DuplicateKeys
    return d


def _bad_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _load_json(doc: Document) -> None:
    try:
        doc.data = json.loads(doc.text, object_pairs_hook=_no_dupes, parse_constant=_bad_constant)
        return
    except _DuplicateKeys:
        pass
    except json.JSONDecodeError as exc:
        opener = unclosed_json(doc.text)
        if opener is not None and opener.offset < exc.pos:
            line, col = doc._offset_to_line_col(opener.offset)
            doc.findings.append(
                Finding.make(
                    "DPN001",
                    f"invalid JSON: '{opener.char}' opened here is never closed (the parser "
                    f"stopped at line {exc.lineno}, column {exc.colno}: {exc.msg})",
                    file=doc.path,
                    line=line,
                    column=col,
                    hint=f"add the '{opener.closer}' that ends this {opener.kind}",
                )
            )
            return
        doc.findings.append(
            Finding.make(
                "DPN001",
                f"invalid JSON: {exc.msg}",
                file=doc.path,
                line=exc.lineno,
                column=exc.colno,
                hint=_json_hint(exc),
            )
        )
        return
    except (ValueError, RecursionError) as exc:
        doc.findings.append(
            Finding.make("DPN001", f"invalid JSON: {exc}", file=doc.path, line=1, column=1)
        )
        return
    # Duplicate keys: parse again keeping the last value (as JSON readers do) and report
    # every duplicate at its own position.
    doc.data = json.loads(doc.text)
    doc._index, dupes = _scan_json(doc.text)
    for pointer, key_off in dupes:
        line, col = doc._offset_to_line_col(key_off)
        name = split_pointer(pointer)[-1]
        doc.findings.append(
            Finding.make(
                "DPN002",
                f"duplicate key '{name}' (the later value wins)",
                file=doc.path,
                line=line,
                column=col,
                pointer=pointer,
                hint="remove or rename one of the keys",
            )
        )


def _json_hint(exc: json.JSONDecodeError) -> str:
    if "delimiter" in exc.msg:
        return "a comma or colon is missing, or there is a trailing comma"
    if "property name" in exc.msg:
        return "keys must be double-quoted strings, and trailing commas are not allowed"
    return "check the JSON syntax near this position"


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<punct>[{}\[\]:,])
      | (?P<lit>-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)
    )""",
    re.VERBOSE | re.DOTALL,
)


def _scan_json(text: str) -> tuple[_Index, list[tuple[str, int]]]:
    """Offsets of every node of a *valid* JSON text, and the duplicate keys.

    Iterative so that deep nesting cannot overflow the stack.
    """
    index: _Index = {}
    dupes: list[tuple[str, int]] = []
    tokens = _TOKEN.finditer(text)
    # stack entries: [pointer, is_object, keys_seen, pending_key, pending_key_offset]
    stack: list[list[Any]] = []
    expect_key = False

    def start_value(offset: int) -> str:
        if not stack:
            index[""] = (offset, -1)
            return ""
        top = stack[-1]
        if top[1]:
            ptr = join_pointer(top[0], top[3])
            index[ptr] = (offset, top[4])
        else:
            ptr = join_pointer(top[0], top[2])
            top[2] += 1
            index[ptr] = (offset, -1)
        return ptr

    for m in tokens:
        kind = m.lastgroup
        tok = m.group(kind or 0)
        off = m.start(kind or 0)
        if kind == "str" and expect_key:
            top = stack[-1]
            key = json.loads(tok)
            if key in top[2]:
                dupes.append((join_pointer(top[0], key), off))
            top[2].add(key)
            top[3], top[4] = key, off
            expect_key = False
        elif kind in ("str", "lit"):
            start_value(off)
        elif tok == "{":
            ptr = start_value(off)
            stack.append([ptr, True, set(), None, -1])
            expect_key = True
        elif tok == "[":
            ptr = start_value(off)
            stack.append([ptr, False, 0, None, -1])
        elif tok in "}]":
            stack.pop()
            expect_key = False
        elif tok == ",":
            expect_key = bool(stack) and stack[-1][1]
    return index, dupes


# ---------------------------------------------------------------------------------------
# YAML


def _load_yaml(doc: Document) -> None:
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        too_deep = _yaml_too_deep(doc.text, loader_cls)
        if too_deep is not None:
            line, col = doc._offset_to_line_col(too_deep)
            doc.findings.append(
                Finding.make(
                    "DPN001",
                    f"invalid YAML: nesting is deeper than {MAX_DEPTH} levels",
                    file=doc.path,
                    line=line,
                    column=col,
                    hint="no dpn file needs this much nesting",
                )
            )
            return
        node = yaml.compose(doc.text, Loader=loader_cls)
    except yaml.MarkedYAMLError as exc:
        doc.findings.append(yaml_error(doc.text, exc, doc._offset_to_line_col, doc.path))
        return
    except yaml.YAMLError as exc:
        doc.findings.append(Finding.make("DPN001", f"invalid YAML: {exc}", file=doc.path))
        return
    except RecursionError:
        doc.findings.append(
            Finding.make("DPN001", "invalid YAML: nesting is too deep", file=doc.path)
        )
        return
    index: _Index = {}
    doc._index = index
    if node is None:
        doc.data = None
        return
    builder = _YamlBuilder(doc, index)
    try:
        doc.data = builder.build(node, "", -1)
    except _AliasBomb as bomb:
        doc.findings.append(_alias_finding(doc, bomb, loader_cls))
        doc.data = None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        doc.findings.append(Finding.make("DPN001", f"invalid YAML: {exc}", file=doc.path))
        doc.data = None


#: Nodes that aliases may build in one YAML file: at most this many, or `ALIAS_FACTOR` times
#: the nodes the file writes out itself, whichever is more (the rule yaml.v3 adopted after
#: CVE-2019-11253). A node is a scalar, list or mapping; each time an alias (or a merge
#: key, `<<: *defaults`) names an anchor, every node under the anchor is built again.
MAX_ALIAS_NODES = 250_000
ALIAS_FACTOR = 4

_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_SPECIAL_KEYS = frozenset({_MERGE_TAG, _VALUE_TAG})
_NOTHING_MERGED: list[Any] = []


class _AliasBomb(Exception):
    """Aliases built more nodes than the limit allows; `entry` is the node whose alias
    started the expansion, `pointer` where in the data it was placed."""

    def __init__(self, entry: Any, pointer: str, parent_offset: int, own: int) -> None:
        super().__init__(pointer)
        self.entry = entry
        self.pointer = pointer
        self.parent_offset = parent_offset
        self.own = own


class _YamlBuilder:
    """Builds the data of a composed YAML document depth first, recording each node's
    position, reporting duplicate keys, and counting the nodes aliases build."""

    def __init__(self, doc: Document, index: _Index) -> None:
        import yaml

        self.yaml = yaml
        self.doc = doc
        self.index = index
        self.constructor = yaml.constructor.SafeConstructor()
        self._construct = self.constructor.construct_object
        self._scalar = yaml.ScalarNode
        self._sequence = yaml.SequenceNode
        self._active: set[int] = set()
        #: lists and mappings built once already: building one again is alias expansion
        self._built: set[int] = set()
        #: mapping node -> the merged mapping each pair at the front of it came from
        self._merged: dict[int, list[Any]] = {}
        self._flattening: set[int] = set()
        self.own = 0
        self.expanded = 0
        #: > 0 while building what an alias or merge key names
        self._in_alias = 0
        self._entry: Any = None
        self._entry_pointer = ""
        self._parent_offset = 0

    @staticmethod
    def offset(mark: Any) -> int:
        # The mark's character index is exact; its line number is not ours to use, as YAML
        # also breaks lines at U+2028, U+2029, U+0085 and a lone CR.
        index: int = mark.index
        return index

    def _over_budget(self) -> None:
        if self.expanded > ALIAS_FACTOR * self.own:
            raise _AliasBomb(self._entry, self._entry_pointer, self._parent_offset, self.own)

    def build(self, node: Any, pointer: str, key_off: int) -> Any:
        # the hot path of every YAML file: kept flat on purpose
        if self._in_alias:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_NODES:
                self._over_budget()
        else:
            self.own += 1
        self.index[pointer] = (node.start_mark.index, key_off)
        if isinstance(node, self._scalar):
            return self._construct(node, deep=True)
        nid = id(node)
        active = self._active
        if nid in active:
            raise ValueError("recursive alias")
        again = nid in self._built
        if again:  # an alias names it: everything under it is built again
            if not self._in_alias:
                parent_offset = self.index.get(_parent(pointer), (0, 0))[0]
                self._entry, self._entry_pointer, self._parent_offset = (
                    node,
                    pointer,
                    parent_offset,
                )
            self._in_alias += 1
        else:
            self._built.add(nid)
        active.add(nid)
        try:
            if isinstance(node, self._sequence):
                build = self.build
                return [build(child, f"{pointer}/{i}", -1) for i, child in enumerate(node.value)]
            return self._mapping(node, pointer)
        finally:
            active.discard(nid)
            if again:
                self._in_alias -= 1

    def _mapping(self, node: Any, pointer: str) -> dict[str, Any]:
        merged = self._flatten(node)
        count = len(merged)
        out: dict[str, Any] = {}
        offset = self.offset(node.start_mark)
        for n, (key_node, value_node) in enumerate(node.value):
            key = self.constructor.construct_object(key_node, deep=True)
            koff = self.offset(key_node.start_mark)
            if not isinstance(key, str):
                key = str(key)
            child = join_pointer(pointer, key)
            if key in out:
                line, col = self.doc._offset_to_line_col(koff)
                self.doc.findings.append(
                    Finding.make(
                        "DPN002",
                        f"duplicate key '{key}' (the later value wins)",
                        file=self.doc.path,
                        line=line,
                        column=col,
                        pointer=child,
                        hint="remove or rename one of the keys",
                    )
                )
            if n < count:  # named by a merge key: built as an alias would be
                self._in_alias += 1
                if self._in_alias == 1:
                    self._entry, self._entry_pointer, self._parent_offset = (
                        merged[n],
                        child,
                        offset,
                    )
                try:
                    out[key] = self.build(value_node, child, koff)
                finally:
                    self._in_alias -= 1
            else:
                out[key] = self.build(value_node, child, koff)
        return out

    def _key_id(self, key_node: Any) -> Any:
        if isinstance(key_node, self.yaml.ScalarNode):
            key = self.constructor.construct_object(key_node, deep=True)
            return key if isinstance(key, str) else str(key)
        return id(key_node)

    def _flatten(self, node: Any) -> list[Any]:
        """Resolve the merge keys (`<<`) of a mapping node in place, as YAML 1.1 merges do
        (the mapping's own keys win, then earlier merged mappings over later ones), keeping
        each key once, so chains of merges cannot grow. Returns, for each pair at the front
        of `node.value` that came from a merge, the mapping it came from."""
        nid = id(node)
        done = self._merged.get(nid)
        if done is not None:
            return done
        for key_node, _ in node.value:
            if key_node.tag in _SPECIAL_KEYS:
                break
        else:
            return _NOTHING_MERGED
        yaml = self.yaml
        sources: list[Any] = []
        named: set[int] = set()
        own: list[tuple[Any, Any]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                subs = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for sub in subs:
                    if not isinstance(sub, yaml.MappingNode):
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"a merge key (<<) takes a mapping or a list of mappings, not {sub.id}",
                            sub.start_mark,
                        )
                    if id(sub) not in named:  # each mapping once, however often named
                        named.add(id(sub))
                        sources.append(sub)
            else:
                if key_node.tag == _VALUE_TAG:
                    key_node.tag = "tag:yaml.org,2002:str"
                own.append((key_node, value_node))
        if not sources:
            return _NOTHING_MERGED
        if nid in self._flattening:
            raise ValueError("recursive merge key")
        self._flattening.add(nid)
        try:
            seen = {self._key_id(k) for k, _ in own}
            merged: list[tuple[Any, Any]] = []
            origins: list[Any] = []
            for src in sources:
                self._flatten(src)
                for pair in src.value:
                    kid = self._key_id(pair[0])
                    if kid not in seen:
                        seen.add(kid)
                        merged.append(pair)
                        origins.append(src)
        finally:
            self._flattening.discard(nid)
        node.value = merged + own
        self._merged[nid] = origins
        return origins


def _parent(pointer: str) -> str:
    return pointer[: pointer.rfind("/")] if pointer else ""


def _alias_finding(doc: Document, bomb: _AliasBomb, loader_cls: Any) -> Finding:
    """DPN006 at the alias that started the expansion, naming its anchor when the parser
    can tell (the events are walked again, which is linear: events do not expand)."""
    import yaml

    entry_off = bomb.entry.start_mark.index if bomb.entry is not None else 0
    anchor: str | None = None
    at = entry_off
    try:
        for event in yaml.parse(doc.text, Loader=loader_cls):
            name = getattr(event, "anchor", None)
            if name is None or event.start_mark is None:
                continue
            offset: int = event.start_mark.index
            if isinstance(event, yaml.AliasEvent):
                if anchor == name and offset >= bomb.parent_offset:
                    at = offset
                    break
            elif anchor is None and offset == entry_off:
                anchor = name
    except yaml.YAMLError:  # pragma: no cover - the text composed a moment ago
        pass
    line, col = doc._offset_to_line_col(at)
    what = f"alias *{anchor}" if anchor else "an alias"
    where = ""
    if anchor:
        aline, acol = doc._offset_to_line_col(entry_off)
        where = f" (anchor &{anchor} at {aline}:{acol})"
    return Finding.make(
        "DPN006",
        f"{what}{where} builds too many nodes: aliases may build {MAX_ALIAS_NODES:,}, or "
        f"{ALIAS_FACTOR} times the {bomb.own:,} the file writes out",
        file=doc.path,
        line=line,
        column=col,
        pointer=printable(bomb.pointer),
        hint="write the repeated part out, or use fewer levels of aliases",
    )
