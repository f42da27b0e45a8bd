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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpn_action.findings import Finding, join_pointer, split_pointer

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
    """`path` relative to `root` when it lies below it (how findings name files)."""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def read_document(path: str | Path, display: str | None = None) -> Document:
    """Read and parse a file; problems become findings, never exceptions."""
    name = display if display is not None else str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        doc = Document(path=name, text="", kind="json")
        reason = exc.strerror or exc.__class__.__name__
        doc.findings.append(
            Finding.make(
                "DPN003",
                f"cannot read file: {reason}",
                file=name,
                hint="check the path and its permissions",
            )
        )
        return doc
    return parse_bytes(raw, name)


def parse_bytes(raw: bytes, path: str, kind: str | None = None) -> Document:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        doc = Document(path=path, text="", kind=kind or "json")
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
    return parse_text(text, path, kind)


def parse_text(text: str, path: str, kind: str | None = None) -> Document:
    doc = Document(path=path, text=text, kind=kind or kind_of(path, text))
    if doc.kind == "json":
        _load_json(doc)
    else:
        _load_yaml(doc)
    return doc


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
        mark = exc.problem_mark or exc.context_mark
        line, col = doc._offset_to_line_col(mark.index) if mark else (1, 1)
        doc.findings.append(
            Finding.make(
                "DPN001",
                f"invalid YAML: {exc.problem or exc.context}",
                file=doc.path,
                line=line,
                column=col,
                hint="check indentation and quoting near this position",
            )
        )
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
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        doc.findings.append(Finding.make("DPN001", f"invalid YAML: {exc}", file=doc.path))
        doc.data = None


class _YamlBuilder:
    def __init__(self, doc: Document, index: _Index) -> None:
        import yaml

        self.yaml = yaml
        self.doc = doc
        self.index = index
        self.constructor = yaml.constructor.SafeConstructor()
        self._active: set[int] = set()

    @staticmethod
    def offset(mark: Any) -> int:
        # The mark's character index is exact; its line number is not ours to use, as YAML
        # also breaks lines at U+2028, U+2029, U+0085 and a lone CR.
        index: int = mark.index
        return index

    def build(self, node: Any, pointer: str, key_off: int) -> Any:
        yaml = self.yaml
        self.index[pointer] = (self.offset(node.start_mark), key_off)
        if isinstance(node, yaml.ScalarNode):
            return self.constructor.construct_object(node, deep=True)
        if id(node) in self._active:
            raise ValueError("recursive alias")
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [
                    self.build(child, join_pointer(pointer, i), -1)
                    for i, child in enumerate(node.value)
                ]
            self.constructor.flatten_mapping(node)
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
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
                out[key] = self.build(value_node, child, koff)
            return out
        finally:
            self._active.discard(id(node))
