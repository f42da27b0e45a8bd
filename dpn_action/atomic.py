"""Writing a file so that a reader sees the old content or the new, never part of either.

Standard library only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def default_mode() -> int:
    """The mode a new file gets here (0o666 less the process's umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path`: into a temporary file beside it, flushed and synced, given the
    permissions of the file it replaces (a new file gets the usual ones), then renamed over
    it, and the directory synced. A symbolic link is followed, so the link stays a link and
    its target gets the new content. Returns the path written."""
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = default_mode()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_dir(target.parent)
    return target


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # some systems cannot open a directory; the rename is done regardless
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
