"""Read the repository at another commit: what changed, which lines, and file contents.

A handful of git processes per run, whatever the number of files: listings come from one
`ls-tree`/`ls-files`, contents from one `cat-file --batch`.
"""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


class GitError(Exception):
    """A git command failed; the message says which and why."""


class Repo:
    """The git work tree that holds `cwd` (the action's working directory)."""

    def __init__(self, cwd: Path, token: str = "") -> None:
        self.cwd = cwd.resolve()
        #: sent with a fetch only (a private repository's pull request refs need it), in a
        #: header of that one process, never written to the clone's configuration
        self._token = token
        self.root = Path(self.run("rev-parse", "--show-toplevel").strip()).resolve()
        #: `cwd` relative to the root, with a trailing slash ("" at the root)
        self.prefix = self.run("rev-parse", "--show-prefix").strip()

    def run(self, *args: str, stdin: bytes | None = None, check: bool = True) -> str:
        return self.run_bytes(*args, stdin=stdin, check=check).decode("utf-8", "surrogateescape")

    def run_bytes(self, *args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
        try:
            proc = subprocess.run(
                ["git", "-c", "core.quotePath=false", *args],
                cwd=self.cwd,
                input=stdin,
                capture_output=True,
                check=False,
            )
        except OSError as exc:
            raise GitError(f"cannot run git: {exc}") from None
        if check and proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip()
            raise GitError(f"git {' '.join(args[:2])} failed: {err}")
        return proc.stdout

    # ------------------------------------------------------------------------- commits
    def head(self) -> str:
        return self.run("rev-parse", "HEAD").strip()

    def has_commit(self, sha: str) -> bool:
        if not sha or set(sha) == {"0"}:
            return False
        return self._ok("cat-file", "-e", f"{sha}^{{commit}}")

    def _ok(self, *args: str) -> bool:
        proc = subprocess.run(["git", *args], cwd=self.cwd, capture_output=True, check=False)
        return proc.returncode == 0

    def ensure_commit(self, sha: str, ref: str | None = None) -> bool:
        """Whether `sha` is in the clone, fetching it from `origin` when it is not (a
        shallow checkout; for a fork's pull request, `ref` such as `pull/7/head`); False
        when it cannot be had. Only git objects arrive: nothing is checked out."""
        if self.has_commit(sha):
            return True
        if not sha or set(sha) == {"0"}:
            return False
        self._fetch(sha)
        if not self.has_commit(sha) and ref:
            self._fetch(ref)
        return self.has_commit(sha)

    def _fetch(self, what: str) -> bool:
        auth: list[str] = []
        if self._token:
            basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
            auth = ["-c", f"http.extraheader=AUTHORIZATION: basic {basic}"]
        return self._ok(*auth, "fetch", "--no-tags", "--quiet", "--depth=50", "origin", what)

    def merge_base(self, a: str, b: str = "HEAD") -> str | None:
        out = self.run("merge-base", a, b, check=False).strip()
        return out or None

    # --------------------------------------------------------------------------- changes
    def changed_files(self, base: str) -> list[str]:
        """Files (root-relative) that differ between `base` and the work tree, untracked
        files included."""
        out = self.run("diff", "--name-only", "-z", "--no-renames", base, "--")
        names = [n for n in out.split("\0") if n]
        untracked = self.run("ls-files", "-z", "-o", "--exclude-standard", "--full-name")
        names += [n for n in untracked.split("\0") if n]
        return sorted(set(names))

    def changed_between(self, base: str, head: str) -> list[str]:
        """Files (root-relative) that differ between two commits."""
        out = self.run("diff", "--name-only", "-z", "--no-renames", base, head, "--")
        return sorted({n for n in out.split("\0") if n})

    def changed_lines(self, base: str, paths: Sequence[str]) -> dict[str, set[int]]:
        """Root-relative path -> the line numbers added or changed in the work tree."""
        if not paths:
            return {}
        tops = [f":(top,literal){p}" for p in paths]  # root-relative, whatever the cwd
        out = self.run("diff", "-U0", "--no-renames", "--no-color", base, "--", *tops)
        lines: dict[str, set[int]] = {}
        current: set[int] | None = None
        for line in out.splitlines():
            if line.startswith("+++ "):
                name = line[4:]
                current = lines.setdefault(name[2:], set()) if name.startswith("b/") else None
            elif line.startswith("@@") and current is not None:
                m = _HUNK.match(line)
                if m:
                    start, count = int(m.group(1)), int(m.group(2) or "1")
                    current.update(range(start, start + count))
        return lines

    # --------------------------------------------------------------------------- reading
    def ls_tree(self, sha: str) -> list[str]:
        """Every file of `sha` under `cwd`, relative to `cwd`."""
        out = self.run("ls-tree", "-r", "-z", "--name-only", sha)
        return [n for n in out.split("\0") if n]

    def ls_files(self) -> list[str]:
        """Every file of the work tree under `cwd` (tracked or not ignored), relative to it."""
        out = self.run("ls-files", "-z", "-c", "-o", "--exclude-standard")
        return sorted({n for n in out.split("\0") if n})

    def kinds(self, sha: str, paths: Iterable[str]) -> dict[str, str | None]:
        """Root-relative path -> "blob", "tree", ... at `sha`, or None when absent."""
        wanted = list(paths)
        if not wanted:
            return {}
        stdin = "".join(f"{sha}:{p}\n" for p in wanted).encode("utf-8", "surrogateescape")
        out = self.run("cat-file", "--batch-check", stdin=stdin).splitlines()
        kinds: dict[str, str | None] = {}
        for path, line in zip(wanted, out, strict=True):
            parts = line.split()
            kinds[path] = parts[1] if len(parts) == 3 and not line.endswith(" missing") else None
        return kinds

    def file_entries(self, sha: str) -> dict[str, tuple[str, int]]:
        """Root-relative path -> (mode, size) of every blob at `sha`: mode `100644` or
        `100755` is a file, `120000` a symbolic link (its blob holds the link's target)."""
        out = self.run("ls-tree", "-r", "-l", "-z", "--full-tree", sha)
        entries: dict[str, tuple[str, int]] = {}
        for record in out.split("\0"):
            meta, tab, path = record.partition("\t")
            parts = meta.split()
            if tab and len(parts) == 4 and parts[1] == "blob":
                entries[path] = (parts[0], int(parts[3]))
        return entries

    def read_blobs(self, sha: str, paths: Iterable[str]) -> dict[str, bytes | None]:
        """Root-relative path -> its content at `sha` (None when absent), in one process."""
        wanted = list(paths)
        if not wanted:
            return {}
        stdin = "".join(f"{sha}:{p}\n" for p in wanted).encode("utf-8", "surrogateescape")
        out = self.run_bytes("cat-file", "--batch", stdin=stdin)
        blobs: dict[str, bytes | None] = {}
        pos = 0
        for path in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) != 3:  # "<name> missing" or "ambiguous"
                blobs[path] = None
                continue
            size = int(header[2])
            blobs[path] = out[pos : pos + size] if header[1] == b"blob" else None
            pos += size + 1
        return blobs
