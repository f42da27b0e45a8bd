"""The name diff of a change: names at the base commit and in the work tree, per environment.

Only blueprints the change touches are compared, but a change to a naming config touches
all of them (the blast radius is the point). The plan hash of an environment always covers
*every* blueprint of that environment in the work tree: it is what an apply at this commit
would converge on, and what the apply after the merge checks it against.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from dpn_action.analysis import Analysis, analyse
from dpn_action.findings import Finding
from dpn_action.github.git import Repo
from dpn_action.inputs import MAX_FILE_BYTES
from dpn_action.naming.config import PATTERNS_FILE, VALUES_FILE, discover, load_config
from dpn_action.plan import EnvDiff, PlannedResource, diff, plan_hash, planned

DEFAULT_BLUEPRINTS = "blueprints/**/*.{json,yaml,yml}"


# ------------------------------------------------------------------------------- globs
def glob_to_regex(pattern: str) -> str:
    """A path glob as a regex: `*` and `?` stay within a directory, `**` spans any number
    of them, `{a,b}` is either, `[...]` a character class."""
    pattern = pattern.strip().removeprefix("./")
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            alts = pattern[i + 1 : end].split(",")
            out.append("(?:" + "|".join(glob_to_regex(a) for a in alts) + ")")
            i = end + 1
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


class Globs:
    """One or more globs, one per line; a path matches when any of them matches."""

    def __init__(self, spec: str) -> None:
        lines = [
            g.strip() for g in spec.splitlines() if g.strip() and not g.strip().startswith("#")
        ]
        self.patterns = lines or [DEFAULT_BLUEPRINTS]
        self._re = re.compile("|".join(f"(?:{glob_to_regex(g)})" for g in self.patterns) + r"\Z")

    def match(self, path: str) -> bool:
        return self._re.match(path) is not None

    def filter(self, paths: Iterable[str]) -> list[str]:
        return sorted(p for p in paths if self.match(p))


# ---------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Settings:
    blueprints: str = DEFAULT_BLUEPRINTS
    values_config: str | None = None
    patterns_config: str | None = None


@dataclass
class Side:
    """The repository's naming state at one commit (or in the work tree)."""

    findings: list[Finding]
    analysis: Analysis
    items: list[PlannedResource]
    files: list[str]
    #: root-relative paths of the configs used (None: built-in)
    configs: tuple[str | None, str | None]

    def env_of(self) -> dict[str, str]:
        return {bp.doc.path: bp.environment for bp in self.analysis.blueprints}

    def hashes(self) -> dict[str, str]:
        envs = sorted({p.environment for p in self.items})
        return {e: plan_hash([p for p in self.items if p.environment == e]) for e in envs}


@dataclass
class EnvPreview:
    """What the change does to one environment."""

    environment: str
    plan_hash: str
    total: int
    diff: EnvDiff
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return self.diff.has_changes


@dataclass
class Preview:
    base_sha: str
    head_sha: str
    envs: list[EnvPreview]
    findings: list[Finding]
    affected: list[str]
    config_changed: bool
    #: findings on lines the change added or modified, with root-relative paths
    annotations: list[Finding]
    head: Side | None = None

    @property
    def has_changes(self) -> bool:
        return any(e.has_changes for e in self.envs)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.is_error)


# ---------------------------------------------------------------------------- the work
def work_tree_side(repo: Repo, settings: Settings, targets: Iterable[str] | None = None) -> Side:
    """Names in the work tree. Findings are reported for `targets` (default: every
    blueprint); every blueprint takes part in the uniqueness check and the plan."""
    files = Globs(settings.blueprints).filter(repo.ls_files())
    vpath, ppath = discover(repo.cwd, settings.values_config, settings.patterns_config)
    cfg, findings = load_config(vpath, ppath, display_root=repo.cwd)
    wanted = set(files) if targets is None else set(targets) & set(files)
    analysis = analyse(
        cfg,
        [repo.cwd / f for f in files if f in wanted],
        context=[repo.cwd / f for f in files],
        display_root=repo.cwd,
    )
    return Side(
        findings + analysis.findings,
        analysis,
        planned(analysis.resources),
        files,
        (_root_rel(repo, vpath), _root_rel(repo, ppath)),
    )


def commit_side(
    repo: Repo, sha: str, settings: Settings, targets: Iterable[str] | None = None
) -> Side:
    """Names at commit `sha`, read with git into a scratch directory. Only `targets`
    (default: every blueprint at `sha`) are named."""
    files = Globs(settings.blueprints).filter(repo.ls_tree(sha))
    wanted = files if targets is None else sorted(set(targets) & set(files))
    configs = _configs_at(repo, sha, settings)
    with tempfile.TemporaryDirectory(prefix="dpn-base-") as tmp:
        root = Path(tmp).resolve()
        here = root / repo.prefix
        requested = [repo.prefix + f for f in wanted] + [c for c in configs if c]
        blobs = read_files_at(repo, sha, requested)
        for rel, data in blobs.items():
            if data is not None:
                dest = root / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
        here.mkdir(parents=True, exist_ok=True)
        vpath = _at(root, configs[0], settings.values_config, here)
        ppath = _at(root, configs[1], settings.patterns_config, here)
        cfg, findings = load_config(vpath, ppath, display_root=here)
        targets_paths = [here / f for f in wanted if blobs.get(repo.prefix + f) is not None]
        analysis = analyse(cfg, targets_paths, display_root=here)
        items = planned(analysis.resources)
    return Side(findings + analysis.findings, analysis, items, files, configs)


#: links followed, one after the other, before a committed link counts as a loop
MAX_LINK_HOPS = 8
_FILE_MODES = ("100644", "100755")
_LINK_MODE = "120000"


def read_files_at(repo: Repo, sha: str, paths: list[str]) -> dict[str, bytes | None]:
    """Root-relative path -> its content at `sha`, as the work tree would hold it, for the
    files dpn reads (None for the others): a file of at most `MAX_FILE_BYTES`, or a
    committed symbolic link whose target, resolved within the commit, is such a file inside
    the repository. A link is never followed out of the repository (its target is only a
    path, read from the commit, never from this machine). What is left out here is reported
    by the work tree's side."""
    entries = repo.file_entries(sha)
    source = {p: p for p in paths}
    for _ in range(MAX_LINK_HOPS):
        links = sorted({q for q in source.values() if entries.get(q, ("",))[0] == _LINK_MODE})
        if not links:
            break
        targets = repo.read_blobs(sha, links)
        for p, q in source.items():
            if q in links:
                source[p] = _link_target(q, targets.get(q))
    readable = {
        p: q
        for p, q in source.items()
        if entries.get(q, ("", 0))[0] in _FILE_MODES and entries[q][1] <= MAX_FILE_BYTES
    }
    blobs = repo.read_blobs(sha, sorted(set(readable.values())))
    return {p: blobs.get(readable[p]) if p in readable else None for p in paths}


def _link_target(link: str, target: bytes | None) -> str:
    """The root-relative path a committed link points at ("" when it leaves the root)."""
    if target is None or len(target) > 4096:
        return ""
    text = target.decode("utf-8", "surrogateescape")
    if text.startswith("/"):
        return ""
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(link), text))
    return "" if joined == ".." or joined.startswith("../") else joined


def _at(root: Path, rel: str | None, flag: str | None, here: Path) -> Path | None:
    if rel is not None:
        return root / rel
    if flag and Path(flag).is_absolute():
        return Path(flag)  # outside the repository: the same file at every commit
    return None


def _root_rel(repo: Repo, path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return Path(os.path.realpath(path)).relative_to(repo.root).as_posix()
    except ValueError:
        return None


def _configs_at(repo: Repo, sha: str, settings: Settings) -> tuple[str | None, str | None]:
    """Root-relative config paths at `sha`, found the way `discover` finds them in the
    work tree: an explicit path, else `.dpn/` in the directory or its nearest parent
    that has one."""
    here = PurePosixPath(repo.prefix.rstrip("/")) if repo.prefix else PurePosixPath("")
    dirs = [here, *here.parents] if str(here) not in ("", ".") else [PurePosixPath("")]
    candidates: list[str] = []
    for d in dirs:
        base = "" if str(d) in ("", ".") else f"{d}/"
        candidates += [f"{base}.dpn", f"{base}.dpn/{VALUES_FILE}", f"{base}.dpn/{PATTERNS_FILE}"]
    flags = [settings.values_config, settings.patterns_config]
    explicit = [_explicit(repo, f) for f in flags]
    kinds = repo.kinds(sha, candidates + [e for e in explicit if e])
    out: list[str | None] = []
    for flag_rel, flag, fname in zip(explicit, flags, (VALUES_FILE, PATTERNS_FILE), strict=True):
        if flag:
            out.append(flag_rel if flag_rel and kinds.get(flag_rel) == "blob" else None)
            continue
        hit: str | None = None
        for d in dirs:
            base = "" if str(d) in ("", ".") else f"{d}/"
            if kinds.get(f"{base}.dpn") == "tree":
                path = f"{base}.dpn/{fname}"
                hit = path if kinds.get(path) == "blob" else None
                break
        out.append(hit)
    return out[0], out[1]


def _explicit(repo: Repo, flag: str | None) -> str | None:
    if not flag:
        return None
    path = Path(flag) if Path(flag).is_absolute() else repo.cwd / flag
    try:
        return Path(_normpath(path)).relative_to(repo.root).as_posix()
    except ValueError:
        return None


def _normpath(path: Path) -> str:
    return os.path.normpath(str(path))


def root_relative(repo: Repo, shown: str) -> str:
    """A finding's file (shown relative to the working directory) relative to the root,
    as GitHub wants it in annotations."""
    if not shown:
        return shown
    path = Path(shown) if Path(shown).is_absolute() else repo.cwd / shown
    try:
        return Path(_normpath(path)).relative_to(repo.root).as_posix()
    except ValueError:
        return shown


def _inside(rel: str) -> bool:
    return bool(rel) and not rel.startswith(("/", "../")) and rel != ".."


def compute_preview(repo: Repo, base: str, settings: Settings) -> Preview:
    """The preview of the change from `base` to the work tree."""
    changed_root = repo.changed_files(base)
    prefix = repo.prefix
    changed = {c[len(prefix) :] for c in changed_root if c.startswith(prefix)}
    globs = Globs(settings.blueprints)
    head_files = globs.filter(repo.ls_files())
    base_files = globs.filter(repo.ls_tree(base))
    head_cfg = discover(repo.cwd, settings.values_config, settings.patterns_config)
    configs = {_root_rel(repo, p) for p in head_cfg} | set(_configs_at(repo, base, settings))
    configs.discard(None)
    config_changed = any(c in configs for c in changed_root)
    everything = set(head_files) | set(base_files)
    affected = sorted(everything if config_changed else everything & changed)
    head = work_tree_side(repo, settings, targets=affected)
    preview = Preview(base, repo.head(), [], [], affected, config_changed, [], head)
    if not affected:
        return preview
    old = commit_side(repo, base, settings, targets=affected)
    wanted = set(affected)
    diffs = diff(old.items, [p for p in head.items if p.file in wanted])
    env_of = head.env_of()
    old_env = old.env_of()
    envs = set(diffs) | {env_of[f] for f in affected if f in env_of}
    envs |= {old_env[f] for f in affected if f in old_env}
    reported = head.findings
    if reported and not envs:
        envs.add("")
    hashes = head.hashes()
    for env in sorted(envs):
        d = diffs.get(env) or EnvDiff(env, [], [], [], 0, hashes.get(env, plan_hash([])))
        mine = [f for f in reported if env_of.get(f.file, env) == env]
        files = sorted(f for f in affected if env_of.get(f, old_env.get(f)) == env)
        total = sum(1 for p in head.items if p.environment == env)
        preview.envs.append(EnvPreview(env, hashes.get(env, plan_hash([])), total, d, mine, files))
    preview.findings = reported
    paths = {root_relative(repo, f.file) for f in reported}
    lines = repo.changed_lines(base, sorted(p for p in paths if _inside(p)))
    for f in reported:
        rel = root_relative(repo, f.file)
        if f.line > 0 and f.line in lines.get(rel, ()):
            preview.annotations.append(replace(f, file=rel))
    return preview
