"""`dpn fix`: the safe, unambiguous suggestions of the findings, applied to the files.

A finding that can be fixed says how as data (`findings.Fix`): a mistyped key with its close
matches (DPN011, DPN014), or a value with the form the type normalises it to (DPN040). A fix
is applied only when it is safe:

- it has one candidate (a key with two close matches is a choice, left to the user);
- every finding about the same place agrees (a value that two types normalise differently,
  `Data Platform` to `data-platform` for S3 and `data_platform` for Glue, is left alone);
- it touches no explicit `name`, and a key is not renamed to one its mapping already has;
- the file is one of those being fixed: inside the repository dpn runs in, a regular file;
- it is not inside a YAML anchor that an alias repeats elsewhere, nor from a merge key;
- a value fix changes no name: the files are named again with the value fixes applied, and a
  fix that changes the name of any resource (a value another type uses as written) is left
  alone. A key fix is meant to change what the entry says, so names may change with it.

Edits replace the key or value token and nothing else, in JSON and YAML alike: comments, key
order, indentation, quoting and line endings elsewhere stay byte for byte. Each edited text
is read back, and must give the data the fixes describe, or the file is left as it is.

`plan_fixes` works in memory (a `--diff` or `--dry-run` writes nothing); `write_fixes`
writes the result, atomically and with each file's own permissions.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

from dpn_action.analysis import Analysis
from dpn_action.findings import Finding, Fix, join_pointer, split_pointer
from dpn_action.source import Document, parse_text
from dpn_action.tree import Tree

#: how many times value fixes are narrowed down before giving up on all of them
_MAX_ROUNDS = 4
#: rounds of fixes, each on the result of the one before
_MAX_PASSES = 3


@dataclass(frozen=True)
class Edit:
    """One change to one file: a key renamed, or a string value rewritten."""

    file: str
    line: int
    column: int
    code: str
    pointer: str
    key: bool
    old: str
    new: str

    def describe(self) -> str:
        if self.key:
            return f"renamed key '{self.old}' to '{self.new}'"
        return f"rewrote '{self.old}' as '{self.new}'"


@dataclass(frozen=True)
class Skipped:
    """A finding with a suggestion that was not applied, and why."""

    file: str
    line: int
    column: int
    code: str
    pointer: str
    reason: str


@dataclass
class FileFix:
    """A file with its edits: the text before and after."""

    path: str
    before: str
    after: str
    edits: list[Edit] = field(default_factory=list)

    def diff(self) -> str:
        """A unified diff (`a/<path>`, `b/<path>`), as `git apply` and `patch -p1` take it."""
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=f"a/{self.path}",
            tofile=f"b/{self.path}",
        )
        out = []
        for line in lines:
            if not line.endswith("\n"):
                line += "\n\\ No newline at end of file\n"
            out.append(line)
        return "".join(out)


@dataclass
class FixPlan:
    files: list[FileFix] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: the findings left once the fixes are made (all of them, when nothing is fixed)
    remaining: list[Finding] = field(default_factory=list)

    @property
    def edits(self) -> list[Edit]:
        return [e for f in self.files for e in f.edits]


Lint = Callable[[Tree], Analysis]


def plan_fixes(lint: Lint, tree: Tree, fixable: Callable[[Analysis], Collection[str]]) -> FixPlan:
    """What `dpn fix` would change. `lint(tree)` analyses the files being fixed as read
    from `tree` (it is called again with the fixes applied in memory); `fixable(analysis)`
    says which files (as findings name them) may be edited. A fix can bring another to
    light (a value is normalised once its misspelt key is fixed), so fixing goes on, in
    memory, while there is something to fix, a few rounds at most."""
    analysis = lint(tree)
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    edits: dict[str, list[Edit]] = {}
    skipped: list[Skipped] = []
    for _ in range(_MAX_PASSES):
        current = _Patched(tree, _patches(tree, last)) if last else tree
        files, skipped, after = _one_pass(lint, current, analysis, fixable)
        if not files:
            break
        for f in files:
            first.setdefault(f.path, f.before)
            last[f.path] = f.after
            edits.setdefault(f.path, []).extend(f.edits)
        analysis = after
    skipped.sort(key=lambda s: (s.file, s.line, s.column, s.code))
    return FixPlan(
        files=[FileFix(p, first[p], last[p], edits[p]) for p in sorted(last)],
        skipped=skipped,
        remaining=analysis.findings,
    )


def _one_pass(
    lint: Lint, tree: Tree, before: Analysis, fixable: Callable[[Analysis], Collection[str]]
) -> tuple[list[FileFix], list[Skipped], Analysis]:
    """One round of fixes over the files as `tree` has them (`before` is their analysis):
    the files changed, the suggestions left alone, and the analysis of the result."""
    docs = _documents(before)
    wanted, skipped = _proposals(before.findings, docs, set(fixable(before)))
    keys = [e for e in wanted if e.key]
    values, more = _names_kept(lint, tree, before, docs, [e for e in wanted if not e.key])
    files, unreadable = _render(docs, keys + values)
    after = lint(_Patched(tree, _patches(tree, {f.path: f.after for f in files})))
    return files, skipped + more + unreadable, after if files else before


def _documents(a: Analysis) -> dict[str, Document]:
    docs = {bp.doc.path: bp.doc for bp in a.blueprints}
    for cfg in a.configs:
        for d in (cfg.values_doc, cfg.patterns_doc):
            if d is not None:
                docs.setdefault(d.path, d)
    return docs


# ------------------------------------------------------------------------------ proposals
def _proposals(
    findings: Iterable[Finding], docs: Mapping[str, Document], may_edit: Collection[str]
) -> tuple[list[Edit], list[Skipped]]:
    """The edits the findings' fixes ask for, each place once, and those not safe to make."""
    by_place: dict[tuple[str, str, bool], list[tuple[Finding, Fix]]] = {}
    for f in findings:
        if f.fix is not None:
            by_place.setdefault((f.file, f.fix.pointer, f.fix.key), []).append((f, f.fix))
    edits: list[Edit] = []
    skipped: list[Skipped] = []
    for (file, pointer, key), group in by_place.items():
        first, fix = group[0]
        candidates = sorted({c for _, x in group for c in x.candidates})
        edit = Edit(file, first.line, first.column, first.code, pointer, key, fix.old, "")
        reason = _unsafe(edit, candidates, docs.get(file), may_edit)
        if reason:
            skipped.append(_skip(edit, reason))
        else:
            edits.append(replace(edit, new=candidates[0]))
    return edits, skipped


def _unsafe(e: Edit, candidates: list[str], doc: Document | None, may_edit: Collection[str]) -> str:
    """Why the fix `e` (with these candidates) is not safe to make, or ''."""
    if len(candidates) > 1:
        quoted = " or ".join(f"'{c}'" for c in candidates)
        what = "key" if e.key else "value"
        return f"ambiguous: the {what} '{e.old}' could be {quoted}; choose one by hand"
    new = candidates[0]
    tokens = split_pointer(e.pointer)
    if e.file not in may_edit or doc is None:
        return f"{e.file} is not among the files being fixed; name it to fix it there"
    # a key renamed to or from `name`, or the value of `name`
    explicit_name = "name" in (e.old, new) if e.key else tokens[-1:] == ["name"]
    if explicit_name:
        return "an explicit `name` is never changed by dpn fix"
    if doc.data is None:
        return "the file could not be read"
    if e.key:
        there, parent = doc.value_at(join_pointer("", *tokens[:-1]))
        if there and isinstance(parent, dict) and new in parent:
            return f"the key '{e.old}' cannot become '{new}': the mapping already has '{new}'"
    return ""


# ---------------------------------------------------------------------- names are kept
def _names_kept(
    lint: Lint, tree: Tree, before: Analysis, docs: Mapping[str, Document], values: list[Edit]
) -> tuple[list[Edit], list[Skipped]]:
    """The value edits that leave every name as it is; the others, skipped."""
    skipped: list[Skipped] = []
    old = {(r.blueprint.doc.path, r.pointer): r for r in before.resources}
    for _ in range(_MAX_ROUNDS):
        files, unreadable = _render(docs, values)
        skipped += unreadable
        bad = {(s.file, s.pointer) for s in unreadable}
        values = [e for e in values if (e.file, e.pointer) not in bad]
        if not files:
            return values, skipped
        after = lint(_Patched(tree, _patches(tree, {f.path: f.after for f in files})))
        new = {(r.blueprint.doc.path, r.pointer): r.name for r in after.resources}
        culprits: dict[tuple[str, str], str] = {}
        unexplained = False
        for place, r in old.items():
            if place not in new or new[place] == r.name or r.result is None:
                continue
            origins = {sv.origin for sv in r.result.values.values() if sv.origin is not None}
            hit = [e for e in values if (e.file, e.pointer) in origins]
            unexplained = unexplained or not hit
            for e in hit:
                culprits.setdefault(
                    (e.file, e.pointer),
                    f"it would change the name of {r.type.key} '{r.name}' to '{new[place]}' "
                    "(the value is used as written there); change it by hand",
                )
        if not culprits and not unexplained:
            return values, skipped
        if unexplained and not culprits:
            culprits = {(e.file, e.pointer): "it would change names" for e in values}
        skipped += [
            Skipped(e.file, e.line, e.column, e.code, e.pointer, culprits[(e.file, e.pointer)])
            for e in values
            if (e.file, e.pointer) in culprits
        ]
        values = [e for e in values if (e.file, e.pointer) not in culprits]
    skipped += [
        Skipped(e.file, e.line, e.column, e.code, e.pointer, "it would change names")
        for e in values
    ]
    return [], skipped


class _Patched(Tree):
    """`base` with some files' content replaced (root-relative path -> bytes)."""

    def __init__(self, base: Tree, patches: Mapping[str, bytes]) -> None:
        super().__init__(base.root, base.cwd)
        self.label = base.label
        self.base = base
        self.patches = dict(patches)

    def files(self, under: str = "") -> list[str]:
        return self.base.files(under)

    def is_dir(self, rel: str) -> bool:
        return self.base.is_dir(rel)

    def exists(self, rel: str) -> bool:
        return self.base.exists(rel)

    def read(self, rel: str) -> bytes:
        hit = self.patches.get(rel)
        return hit if hit is not None else self.base.read(rel)


def _patches(tree: Tree, texts: Mapping[str, str]) -> dict[str, bytes]:
    """Root-relative path -> new content, for files named as findings name them."""
    out = {}
    for path, text in texts.items():
        rel = tree.rel(path)
        if rel is not None:
            out[rel] = text.encode("utf-8")
    return out


# ---------------------------------------------------------------------------- the text
def _render(
    docs: Mapping[str, Document], edits: Iterable[Edit]
) -> tuple[list[FileFix], list[Skipped]]:
    """Each file's text with its edits made; edits that cannot be made exactly, skipped
    (a file whose edited text does not read back as intended keeps none)."""
    per_file: dict[str, list[Edit]] = {}
    for e in edits:
        per_file.setdefault(e.file, []).append(e)
    files: list[FileFix] = []
    skipped: list[Skipped] = []
    for path in sorted(per_file):
        doc = docs[path]
        spans = _Spans(doc)
        done: list[tuple[int, int, str, Edit]] = []
        for e in per_file[path]:
            where = spans.find(e.pointer, e.key, e.old)
            if isinstance(where, str):
                skipped.append(Skipped(e.file, e.line, e.column, e.code, e.pointer, where))
                continue
            start, end, style = where
            done.append((start, end, spans.render(e.new, style), e))
        done.sort(key=lambda d: d[0])
        if any(a[1] > b[0] for a, b in pairwise(done)):
            skipped += [_skip(e, "two fixes overlap; fix by hand") for *_, e in done]
            continue
        text = doc.text
        for start, end, new, _ in reversed(done):
            text = text[:start] + new + text[end:]
        applied = [d[3] for d in done]
        if not applied:
            continue
        if not _reads_back(doc, text, applied):
            skipped += [
                _skip(e, "the edited file would not read back as intended; left as it is")
                for e in applied
            ]
            continue
        files.append(FileFix(path, doc.text, text, applied))
    return files, skipped


def _skip(e: Edit, reason: str) -> Skipped:
    return Skipped(e.file, e.line, e.column, e.code, e.pointer, reason)


def _reads_back(doc: Document, text: str, edits: list[Edit]) -> bool:
    expected = copy.deepcopy(doc.data)
    for e in sorted(edits, key=lambda e: e.key):  # values first: a key edit moves them
        tokens = split_pointer(e.pointer)
        parent = expected
        for t in tokens[:-1]:
            parent = parent[int(t)] if isinstance(parent, list) else parent[t]
        last = tokens[-1]
        if e.key:
            items = [(e.new if k == last else k, v) for k, v in parent.items()]
            parent.clear()
            parent.update(items)
        else:
            parent[last] = e.new
    again = parse_text(text, doc.path, doc.kind)
    return again.ok == doc.ok and again.data == expected


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*(?: [A-Za-z0-9_./-]+)*")


class _Spans:
    """Where a key or a string value is written in a document's text, and how to write a
    new one there in the same style."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._yaml: dict[str, tuple[Any, Any, bool]] | None = None

    def find(self, pointer: str, key: bool, old: str) -> tuple[int, int, str] | str:
        """(start, end, style) of the token, or why it cannot be edited."""
        if self.doc.kind == "json":
            return self._json(pointer, key, old)
        return self._yaml_span(pointer, key, old)

    def render(self, new: str, style: str) -> str:
        if style == "json":
            return json.dumps(new, ensure_ascii=False)
        if style == '"':
            return json.dumps(new, ensure_ascii=False)  # JSON's escapes are YAML's too
        if style == "" and _plain_ok(new):
            return new
        return "'" + new.replace("'", "''") + "'"

    def _json(self, pointer: str, key: bool, old: str) -> tuple[int, int, str] | str:
        hit = self.doc.offsets(pointer)
        offset = -1 if hit is None else hit[1] if key else hit[0]
        m = _JSON_STRING.match(self.doc.text, offset) if offset >= 0 else None
        if m is None or json.loads(m.group()) != old:
            return "the text at this place is not the one the finding is about"
        return m.start(), m.end(), "json"

    def _yaml_span(self, pointer: str, key: bool, old: str) -> tuple[int, int, str] | str:
        if self._yaml is None:
            self._yaml = _yaml_nodes(self.doc.text)
        hit = self._yaml.get(pointer)
        tokens = split_pointer(pointer)
        while hit is None and tokens:  # under an alias, or brought in by a merge key
            tokens.pop()
            above = self._yaml.get(join_pointer("", *tokens))
            if above is not None and above[2]:
                hit = above
            elif above is not None:
                return "the value comes from a YAML merge key (<<); change it where it is written"
        if hit is None:
            return "the text at this place is not the one the finding is about"
        key_node, value_node, shared = hit
        if shared:
            return "the value is in a YAML anchor that an alias repeats; change it by hand"
        import yaml

        node = key_node if key else value_node
        if not isinstance(node, yaml.ScalarNode) or node.style not in (None, "", "'", '"'):
            return "the value is not written as a one-line scalar; change it by hand"
        start, end = node.start_mark.index, node.end_mark.index
        written = self.doc.text[start:end]
        if "\n" in written or "\r" in written or node.value != old or node.tag != _STR:
            return "the value is not written as a one-line string; change it by hand"
        return start, end, node.style or ""


_STR = "tag:yaml.org,2002:str"


def _plain_ok(value: str) -> bool:
    """Whether `value` reads back as this very string when written plain in YAML."""
    if not _PLAIN.fullmatch(value):
        return False
    import yaml

    try:
        return bool(yaml.safe_load(value) == value)
    except yaml.YAMLError:
        return False


def _yaml_nodes(text: str) -> dict[str, tuple[Any, Any, bool]]:
    """pointer -> (key node, value node, shared) of every member and item a YAML text writes
    itself (not those a merge key brings in). `shared`: the node, or one it is inside, is
    named by an alias too, so an edit there would change every place the alias is."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    root = yaml.compose(text, Loader=loader)
    out: dict[str, tuple[Any, Any, bool]] = {}
    if root is None:
        return out
    uses: dict[int, int] = {}
    stack = [root]
    while stack:  # how often each node is named (an alias names it again)
        node = stack.pop()
        uses[id(node)] = uses.get(id(node), 0) + 1
        if uses[id(node)] > 1:
            continue
        if isinstance(node, yaml.MappingNode):
            stack.extend(n for pair in node.value for n in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    walk: list[tuple[Any, str, bool]] = [(root, "", False)]
    seen: set[int] = set()
    while walk:
        node, pointer, shared = walk.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        below: list[tuple[Any, str, bool]] = []
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.tag == "tag:yaml.org,2002:merge" or not isinstance(k, yaml.ScalarNode):
                    continue
                child = join_pointer(pointer, k.value)
                inner = shared or uses[id(v)] > 1 or uses[id(k)] > 1
                out[child] = (k, v, inner)
                below.append((v, child, inner))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                child = join_pointer(pointer, i)
                inner = shared or uses[id(v)] > 1
                out[child] = (None, v, inner)
                below.append((v, child, inner))
        walk.extend(reversed(below))  # in the order of the text: an anchor before its aliases
    return out


# ------------------------------------------------------------------------------ writing
class FileChanged(Exception):
    """A file changed on disk after dpn read it; nothing was written to it."""


def write_fixes(plan: FixPlan, tree: Tree) -> list[str]:
    """Write each fixed file in place (atomically, keeping its permissions); returns the
    paths written. A file must still be a regular file inside the repository, with the
    content dpn read, or `FileChanged` / `InputRefused` is raised before it is written."""
    from dpn_action.atomic import write_atomic
    from dpn_action.inputs import MAX_FILE_BYTES, check_file, read_bounded

    written = []
    for f in plan.files:
        rel = tree.rel(f.path)
        if rel is None:
            raise FileChanged(f"{f.path} is outside the repository; not written")
        path = tree.abspath(rel)
        real, _ = check_file(path, limit=MAX_FILE_BYTES, root=tree.root)
        raw = read_bounded(real, root=tree.root)
        bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
        if raw[len(bom) :].decode("utf-8", "replace") != f.before:
            raise FileChanged(f"{f.path} changed while dpn fix ran; run it again")
        write_atomic(real, bom + f.after.encode("utf-8"))
        written.append(f.path)
    return written
