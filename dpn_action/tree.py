"""One interface over the files dpn reads: the work tree, or a git commit read straight from
the object store.

A `Tree` lists its files (paths relative to the repository root, with `/`), says whether a
directory exists, and reads a file within bounds (`dpn_action.inputs`): only a regular file
inside the repository, at most `MAX_FILE_BYTES`. A committed symbolic link is resolved within
the commit and never followed out of it. Findings name a file relative to the directory dpn
runs in (`display`), so the same file has the same name at every commit.

Standard library only (git is run as a process): the commit hook imports this.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from dpn_action.inputs import (
    MAX_FILE_BYTES,
    NOT_REGULAR,
    OUTSIDE,
    TOO_LARGE,
    InputRefused,
    below,
    read_bounded,
    repository_root,
    too_large,
    too_large_hint,
)

if TYPE_CHECKING:
    from dpn_action.source import Document

#: committed links followed one after the other before a link counts as a loop
MAX_LINK_HOPS = 8
_FILE_MODES = ("100644", "100755")
_LINK_MODE = "120000"


class Tree:
    """The files of one repository as of one moment."""

    #: what findings say the files are read from ("" for the work tree)
    label = ""

    def __init__(self, root: Path, cwd: Path | None = None) -> None:
        self.root = Path(os.path.abspath(root))
        self.cwd = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))

    def files(self, under: str = "") -> list[str]:
        """Root-relative paths of the files (below directory `under` only, when given)."""
        raise NotImplementedError

    def is_dir(self, rel: str) -> bool:
        raise NotImplementedError

    def exists(self, rel: str) -> bool:
        """Whether anything is at `rel` (a dangling link, a pipe: anything reading reports)."""
        raise NotImplementedError

    def read(self, rel: str) -> bytes:
        """The file's bytes, or `InputRefused` (DPN004, DPN005) or `OSError`."""
        raise NotImplementedError

    def rel(self, path: str | os.PathLike[str]) -> str | None:
        """The root-relative form of a path given on this machine (relative to `cwd`), or
        None when it lies outside the repository."""
        absolute = os.path.normpath(os.path.join(self.cwd, path))
        root = str(self.root)
        if not below(absolute, root):
            return None
        rel = PurePosixPath(Path(absolute).relative_to(root)).as_posix()
        return "" if rel == "." else rel

    def display(self, rel: str) -> str:
        """How findings name the file: relative to where dpn runs when it lies below it,
        else the path on this machine."""
        absolute = self.root / rel
        if below(str(absolute), str(self.cwd)):
            return str(absolute.relative_to(self.cwd))
        return str(absolute)

    def abspath(self, rel: str) -> Path:
        return self.root / rel


class WorkTree(Tree):
    """The files on disk under a repository root."""

    def files(self, under: str = "") -> list[str]:
        """Every file below the root (or below `under`) but `.git`; directories behind links
        are not entered. Links, pipes and devices are listed too, so that reading them
        reports them instead of passing them over in silence."""
        top = self.root / under if under else self.root
        out: list[str] = []
        for here, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            base = Path(here).relative_to(self.root)
            out.extend(PurePosixPath(base / n).as_posix() for n in names)
        return sorted(out)

    def is_dir(self, rel: str) -> bool:
        return (self.root / rel).is_dir()

    def exists(self, rel: str) -> bool:
        return os.path.lexists(self.root / rel)

    def read(self, rel: str) -> bytes:
        return read_bounded(self.root / rel, root=self.root)


def work_tree(path: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> WorkTree:
    """The work tree a path (default: the current directory) belongs to
    (`inputs.repository_root`)."""
    here = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))
    start = here / (path if path is not None else "x")
    return WorkTree(repository_root(start, here), here)


def source_of(path: str | os.PathLike[str], cwd: Path | None = None) -> Source:
    """A path on this machine as a file of its work tree (findings name it relative to
    `cwd`, default: the current directory)."""
    tree = work_tree(path, cwd)
    rel = tree.rel(path)
    if rel is None:  # `work_tree` puts the root above the path; a safety net
        raise ValueError(f"{path}: outside its repository {tree.root}")
    return Source(tree, rel)


@dataclass(frozen=True)
class _Entry:
    mode: str
    size: int


class CommitTree(Tree):
    """The files of a git commit, read from the object store (nothing is written out)."""

    def __init__(self, root: Path, sha: str, cwd: Path | None = None) -> None:
        super().__init__(root, cwd)
        self.sha = sha
        self.label = f"commit {sha[:12]}"
        self._entries: dict[str, _Entry] | None = None
        self._dirs: set[str] | None = None
        self._cache: dict[str, bytes | None] = {}

    def _git(self, *args: str, stdin: bytes | None = None) -> bytes:
        proc = subprocess.run(
            ["git", "-C", str(self.root), *args], input=stdin, capture_output=True, check=True
        )
        return proc.stdout

    @property
    def entries(self) -> dict[str, _Entry]:
        if self._entries is None:
            out = self._git("ls-tree", "-r", "-l", "-z", "--full-tree", self.sha)
            entries: dict[str, _Entry] = {}
            for record in out.decode("utf-8", "surrogateescape").split("\0"):
                meta, tab, path = record.partition("\t")
                parts = meta.split()
                if tab and len(parts) == 4 and parts[1] == "blob":
                    entries[path] = _Entry(parts[0], int(parts[3]))
            self._entries = entries
        return self._entries

    def files(self, under: str = "") -> list[str]:
        prefix = under.strip("/") + "/" if under.strip("/") else ""
        return sorted(f for f in self.entries if f.startswith(prefix))

    def is_dir(self, rel: str) -> bool:
        if self._dirs is None:
            self._dirs = {str(p) for f in self.entries for p in PurePosixPath(f).parents}
        return rel.strip("/") in self._dirs

    def exists(self, rel: str) -> bool:
        return rel in self.entries

    def read(self, rel: str) -> bytes:
        return self.read_many([rel])[rel]

    def read_many(self, rels: Iterable[str]) -> dict[str, bytes]:
        """Several files in one git process; each one's problem is raised when it is read
        through `read` (here it is left out)."""
        wanted = [r for r in rels if r not in self._cache]
        if wanted:
            self._load(wanted)
        out: dict[str, bytes] = {}
        for r in rels:
            data = self._cache.get(r)
            if data is None:
                raise self._refusal(r)
            out[r] = data
        return out

    def _load(self, rels: list[str]) -> None:
        target = {r: r for r in rels}
        for _ in range(MAX_LINK_HOPS):
            links = sorted({t for t in target.values() if self._mode(t) == _LINK_MODE})
            if not links:
                break
            texts = self._blobs(links)
            for r, t in target.items():
                if t in links:
                    target[r] = _link_target(t, texts.get(t))
        readable = {
            r: t
            for r, t in target.items()
            if self._mode(t) in _FILE_MODES and self.entries[t].size <= MAX_FILE_BYTES
        }
        blobs = self._blobs(sorted(set(readable.values())))
        for r in rels:
            self._cache[r] = blobs.get(readable[r]) if r in readable else None

    def _mode(self, rel: str) -> str:
        entry = self.entries.get(rel)
        return entry.mode if entry is not None else ""

    def _refusal(self, rel: str) -> Exception:
        entry = self.entries.get(rel)
        if entry is None:
            return FileNotFoundError(2, f"not in {self.label}", rel)
        if entry.mode in _FILE_MODES and entry.size > MAX_FILE_BYTES:
            return InputRefused(
                "DPN004",
                too_large(entry.size, MAX_FILE_BYTES),
                too_large_hint(MAX_FILE_BYTES),
                TOO_LARGE,
            )
        if entry.mode == _LINK_MODE:
            return InputRefused(
                "DPN005",
                "is a link that leads outside the repository (or to nothing in it); dpn "
                "reads only files inside it",
                "replace the link with the file itself, or point it at a file in the repository",
                OUTSIDE,
            )
        return InputRefused(
            "DPN005",
            "is not a regular file; dpn reads only regular files",
            "commit a regular file",
            NOT_REGULAR,
        )

    def _blobs(self, rels: list[str]) -> dict[str, bytes]:
        """Root-relative path -> its blob, in one `git cat-file --batch`."""
        if not rels:
            return {}
        request = "".join(f"{self.sha}:{r}\n" for r in rels).encode("utf-8", "surrogateescape")
        raw = self._git("cat-file", "--batch", stdin=request)
        out: dict[str, bytes] = {}
        pos = 0
        for r in rels:
            end = raw.index(b"\n", pos)
            header = raw[pos:end].split()
            pos = end + 1
            if len(header) != 3 or header[1] != b"blob":
                continue  # "<name> missing"
            size = int(header[2])
            out[r] = raw[pos : pos + size]
            pos += size + 1
        return out


def _link_target(link: str, target: bytes | None) -> str:
    """The root-relative path a committed link points at ("" when it leaves the root)."""
    if target is None or len(target) > 4096:
        return ""
    text = target.decode("utf-8", "surrogateescape")
    if text.startswith("/"):
        return ""
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(link), text))
    return "" if joined == ".." or joined.startswith("../") else joined


@dataclass(frozen=True)
class Source:
    """One file of a tree: what a blueprint or a naming config is read from."""

    tree: Tree
    rel: str

    @property
    def key(self) -> tuple[str, str, str]:
        """The same file of the same repository at the same moment, whatever `Tree` object
        it was found through."""
        return (str(self.tree.root), self.tree.label, self.rel)

    @property
    def display(self) -> str:
        return self.tree.display(self.rel)

    @property
    def path(self) -> Path:
        """Where the file is on this machine (for a commit: where the work tree has it)."""
        return self.tree.abspath(self.rel)

    def read(self) -> bytes:
        return self.tree.read(self.rel)

    def document(self) -> Document:
        """The file read and parsed; problems as findings (`source.load_document`)."""
        from dpn_action.source import load_document

        return load_document(self.read, self.display)
