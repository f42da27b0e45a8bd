"""What `dpn lint` keeps between runs of the blueprints it only compares against.

`dpn lint FILE` checks the names of FILE for uniqueness against every blueprint of the
repository. Of each other blueprint it needs only its *claims*: for each resource it names,
the type, the scope the name must be unique in, the name as compared there (folded to
lower case where the cloud ignores case) and the entry's JSON pointer (to say where a
clash is). Working them out means reading, checking, expanding and naming the whole file,
so they are kept here, keyed by a SHA-256 digest of everything they are made from:

- the blueprint's bytes, and whether it is read as JSON or YAML (its suffix),
- the naming configs it is named with (both files' text) and the `--override` values,
- dpn's own code: every file of the installed package, and this cache's format.

An entry is therefore only ever used for exactly the inputs it was made from: a changed
blueprint, naming config or dpn makes a new key, and the old entry is never read again
(it is dropped at the next save). A blueprint is always read to take its digest; what is
saved is its claims, never its findings (the blueprints a lint reports on are always
checked in full).

The cache is one JSON file per repository in the user's cache directory (`DPN_CACHE_DIR`,
else `$XDG_CACHE_HOME/dpn`, else `~/.cache/dpn`), never in the repository, so a pull
request cannot bring entries of its own; a file that is not what this module writes is
ignored as a whole. It is written atomically, so runs side by side (pre-commit starts
several) at worst each keep their own entries. `dpn lint --no-cache`, or `DPN_CACHE_DIR`
set to an empty value, turns it off.

Standard library only: the commit hook imports this.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

#: raise when what is stored, or how keys are made, changes
FORMAT = 1

#: one claim: type key, scope, the name as compared, the entry's JSON pointer
Claim = tuple[str, str, str, str]

#: entries kept at a save beyond those used by the run: up to this many times as many
KEEP_FACTOR = 4


def default_directory() -> Path | None:
    """Where the cache lives (None: turned off, `DPN_CACHE_DIR` set to nothing)."""
    given = os.environ.get("DPN_CACHE_DIR")
    if given is not None:
        return Path(given) if given.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "dpn"
    try:
        return Path.home() / ".cache" / "dpn"
    except RuntimeError:  # no home directory to be found: no cache
        return None


_code_digest: str | None = None


def code_digest() -> str:
    """The digest of this installation of dpn: every file of the package, by path."""
    global _code_digest
    if _code_digest is None:
        root = Path(__file__).resolve().parent
        h = hashlib.sha256(f"dpn name cache {FORMAT}\0".encode())
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".json") and path.is_file():
                h.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
                h.update(hashlib.sha256(path.read_bytes()).digest())
        _code_digest = h.hexdigest()
    return _code_digest


class NameCache:
    """The claims of blueprints, by the digest of what they are made from (see above)."""

    def __init__(self, directory: Path | None, repository: Path) -> None:
        self.path: Path | None = None
        if directory is not None:
            where = hashlib.sha256(str(repository).encode("utf-8")).hexdigest()[:24]
            self.path = directory / f"names-{where}.json"
        self._stored: dict[str, list[Claim]] = {}
        self._used: dict[str, list[Claim]] = {}
        self._changed = False
        self._loaded = False
        #: id of a naming config -> (the config, the digest of what it names with)
        self._configs: dict[int, tuple[Any, str]] = {}

    def key(self, rel: str, raw: bytes, cfg: Any) -> str:
        """The key of the claims of the blueprint at `rel` (root-relative) with the bytes
        `raw`, named with the naming config `cfg` (a `NamingConfig`)."""
        h = hashlib.sha256(self._config_digest(cfg).encode())
        h.update(PurePosixPath(rel).suffix.lower().encode("utf-8", "surrogateescape") + b"\0")
        h.update(raw)
        return h.hexdigest()

    def _config_digest(self, cfg: Any) -> str:
        hit = self._configs.get(id(cfg))
        if hit is None or hit[0] is not cfg:
            h = hashlib.sha256(code_digest().encode())
            for doc in (cfg.values_doc, cfg.patterns_doc):
                text = "\0absent" if doc is None else doc.text
                h.update(len(text).to_bytes(8, "big") + text.encode("utf-8", "surrogatepass"))
            h.update(json.dumps(sorted(cfg.overrides.items())).encode("utf-8"))
            hit = self._configs[id(cfg)] = (cfg, h.hexdigest())
        return hit[1]

    def get(self, key: str) -> list[Claim] | None:
        if not self._loaded:
            self._load()
        claims = self._stored.get(key)
        if claims is not None:
            self._used[key] = claims
        return claims

    def put(self, key: str, claims: list[Claim]) -> None:
        self._used[key] = claims
        self._changed = self._changed or key not in self._stored

    def _load(self) -> None:
        self._loaded = True
        if self.path is None:
            return
        try:
            with open(self.path, "rb") as fh:
                doc = json.loads(fh.read())
        except (OSError, ValueError):
            return
        if not (
            isinstance(doc, dict)
            and doc.get("format") == FORMAT
            and doc.get("code") == code_digest()
            and isinstance(doc.get("entries"), dict)
        ):
            return
        stored: dict[str, list[Claim]] = {}
        for key, claims in doc["entries"].items():
            if not isinstance(claims, list):
                return
            entry: list[Claim] = []
            for c in claims:
                if type(c) is not list or len(c) != 4:
                    return  # not what `save` writes: none of it is used
                kind, scope, name, pointer = c
                if not (
                    type(kind) is str
                    and type(scope) is str
                    and type(name) is str
                    and type(pointer) is str
                ):
                    return
                entry.append((kind, scope, name, pointer))
            stored[key] = entry
        self._stored = stored

    def save(self) -> None:
        """Write the entries this run used, and as many others as room is left for, when
        this run made new ones or left some unused; quietly do nothing when the cache
        cannot be written (it is only a cache)."""
        if self.path is None or not self._loaded:
            return
        stale = len(self._stored) > KEEP_FACTOR * max(len(self._used), 1)
        if not self._changed and not stale:
            return
        entries = dict(self._used)
        if not stale:
            for key, claims in self._stored.items():
                entries.setdefault(key, claims)
        doc = {"format": FORMAT, "code": code_digest(), "entries": entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".names-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(doc, fh, separators=(",", ":"))
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            return
