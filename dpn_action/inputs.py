"""Reading the files dpn is given, within bounds: regular files inside the repository, up to
a size, never anything that could hang or leak.

The repository of a file is the nearest directory above it, taken as written (before any
link is followed), that holds a `.git` entry (a directory, or the file a worktree or
submodule has). A file outside any repository belongs to the current directory when it lies
below it, else to its own directory. The file, every link followed, must end inside that
root: a link that leads out of the repository is refused, whatever it points at.

Only regular files are read. The kind of the file is checked with `stat` before it is
opened (a named pipe or a device is never opened), then again on the open descriptor, which
is opened without blocking; at most `limit + 1` bytes are read, so a file that grows while
it is read is caught too. Every refusal is an `InputRefused` carrying a finding code:
`DPN004` (too large), `DPN005` (not a regular file inside the repository) or, for paths a
blueprint names, `DPN015`.

Standard library only: the commit hook and the cloud providers import this.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MIB = 1024 * 1024

#: The largest blueprint or naming config dpn reads. A generated 100,000-resource blueprint
#: is 9.5 MB as `benchmarks/generate.py` writes it (indent 1) and 18 MB at indent 4;
#: `docs/input-limits.md` gives the reasons for the figure.
MAX_FILE_BYTES = 32 * MIB

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_BINARY", 0)
)


#: why a file is refused (`InputRefused.reason`)
OUTSIDE, NOT_REGULAR, TOO_LARGE = "outside", "not-regular", "too-large"


class InputRefused(Exception):
    """A file dpn will not read: `code` is the finding code, `reason` one of OUTSIDE,
    NOT_REGULAR, TOO_LARGE (or another word), `hint` how to fix it."""

    def __init__(self, code: str, message: str, hint: str, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.reason = reason


def repository_root(
    path: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None
) -> Path:
    """The root `path` must stay inside (see the module's docstring), as an absolute path
    (not resolved: `within` resolves it)."""
    absolute = os.path.abspath(path)
    directory = os.path.dirname(absolute)
    while True:
        if os.path.lexists(os.path.join(directory, ".git")):
            return Path(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    here = os.path.abspath(cwd if cwd is not None else os.getcwd())
    if below(absolute, here):
        return Path(here)
    return Path(os.path.dirname(absolute))


def within(real: str, root: str | os.PathLike[str]) -> bool:
    """Whether the resolved path `real` is `root` (resolved) or below it."""
    return below(real, os.path.realpath(root))


def below(path: str, directory: str) -> bool:
    """Whether `path` is `directory` or below it, comparing the strings (no resolving)."""
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def size_text(size: int) -> str:
    """`32 MiB`, `40.5 MiB`, `12 KiB`, `512 bytes`."""
    if size >= MIB:
        return f"{size // MIB} MiB" if size % MIB == 0 else f"{size / MIB:.1f} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size:,} bytes"


def too_large(size: int | None, limit: int) -> str:
    """The message of a file over `limit` (`size` None: it grew while it was read)."""
    if size is None:
        return f"grew past the limit of {limit:,} bytes ({size_text(limit)}) as it was read"
    return f"is {size:,} bytes; the limit is {limit:,} bytes ({size_text(limit)})"


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_file(
    path: str | os.PathLike[str],
    *,
    limit: int,
    root: str | os.PathLike[str] | None = None,
    code: str | None = None,
) -> tuple[str, os.stat_result]:
    """Resolve `path` and check it without opening it: inside `root` (default: its
    repository), a regular file, at most `limit` bytes. Returns the resolved path and its
    stat. Raises `InputRefused` (with `code` instead of DPN004/DPN005 when given) or
    `OSError` (the file does not exist, say)."""
    real = os.path.realpath(path)
    base = root if root is not None else repository_root(path)
    if not within(real, base):
        raise InputRefused(
            code or "DPN005",
            "is a link that leads outside the repository; dpn reads only files inside it",
            "replace the link with the file itself, or point it at a file in the repository",
            OUTSIDE,
        )
    st = os.stat(real)
    _check_stat(st, limit, code)
    return real, st


def _check_stat(st: os.stat_result, limit: int, code: str | None) -> None:
    kind = _kind(st.st_mode)
    if kind is not None:
        raise InputRefused(
            code or "DPN005",
            f"is {kind}, not a regular file; dpn reads only regular files",
            "name a regular file (a link to one inside the repository is fine)",
            NOT_REGULAR,
        )
    if st.st_size > limit:
        raise InputRefused(
            code or "DPN004",
            too_large(st.st_size, limit),
            too_large_hint(limit),
            TOO_LARGE,
        )


def too_large_hint(limit: int) -> str:
    return f"keep the file under {size_text(limit)} (split a blueprint into several files)"


def read_bounded(
    path: str | os.PathLike[str],
    *,
    limit: int = MAX_FILE_BYTES,
    root: str | os.PathLike[str] | None = None,
    code: str | None = None,
) -> bytes:
    """The bytes of `path` after `check_file`, read from a descriptor that is checked again
    (the file may have changed in between) and never past `limit + 1` bytes."""
    real, _ = check_file(path, limit=limit, root=root, code=code)
    fd = os.open(real, _OPEN_FLAGS)
    with os.fdopen(fd, "rb") as fh:
        _check_stat(os.fstat(fd), limit, code)
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InputRefused(
            code or "DPN004",
            too_large(None, limit),
            too_large_hint(limit),
            TOO_LARGE,
        )
    return data
