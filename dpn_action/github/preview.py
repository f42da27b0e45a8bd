"""The name diff of a change: names at the base commit and in the work tree, per environment.

Only blueprints the change touches are compared, but a change to a naming config touches
all of them (the blast radius is the point). The plan hash of an environment always covers
*every* blueprint of that environment in the work tree: it is what an apply at this commit
would converge on, and what the apply after the merge checks it against.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dpn_action.analysis import Analysis, analyse
from dpn_action.findings import Finding
from dpn_action.github.git import Repo
from dpn_action.layout import BLUEPRINTS, blueprints_in, is_config
from dpn_action.naming.config import Configs
from dpn_action.plan import EnvDiff, PlannedResource, diff, plan_hash, planned, removals
from dpn_action.source import Document
from dpn_action.tree import CommitTree, Source, Tree, WorkTree

DEFAULT_BLUEPRINTS = BLUEPRINTS


# ---------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Settings:
    blueprints: str = DEFAULT_BLUEPRINTS
    values_config: str | None = None
    patterns_config: str | None = None
    #: what a merge does with the resources a change stops describing (`plan.ON_REMOVED`)
    on_removed: str = "keep"


@dataclass
class Side:
    """The repository's naming state at one commit (or in the work tree)."""

    findings: list[Finding]
    analysis: Analysis
    items: list[PlannedResource]
    files: list[str]
    #: root-relative paths of the naming configs in the repository the blueprints used
    configs: set[str]

    def env_of(self) -> dict[str, str]:
        return {bp.doc.path: bp.environment for bp in self.analysis.blueprints}

    def hashes(
        self, removing: Mapping[str, list[PlannedResource]] | None = None, on_removed: str = "keep"
    ) -> dict[str, str]:
        """Per environment, the hash of its plan: every planned resource and, with
        `on_removed` delete or archive, the resources it removes (`removing`)."""
        gone = removing or {}
        envs = sorted({p.environment for p in self.items} | set(gone))
        return {
            e: plan_hash([p for p in self.items if p.environment == e], gone.get(e, []), on_removed)
            for e in envs
        }


@dataclass
class EnvPreview:
    """What the change does to one environment."""

    environment: str
    plan_hash: str
    total: int
    diff: EnvDiff
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: what merging does with the names it stops describing (`Settings.on_removed`)
    on_removed: str = "keep"
    #: key -> new, adopt, conflict or unknown, when the cloud was checked (`cloud-check`)
    cloud: dict[str, str] | None = None

    @property
    def removing(self) -> list[PlannedResource]:
        """The resources the change stops describing: removed, and renamed from."""
        return [*self.diff.removed, *(old for old, _ in self.diff.renamed)]

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
def _side(
    tree: Tree, repo: Repo, files: list[str], wanted: Iterable[str], settings: Settings
) -> Side:
    """Name the `wanted` blueprints (paths relative to the working directory) of `tree`,
    each with the naming configs of its own directory; every blueprint of `files` takes
    part in the uniqueness check."""
    configs = Configs(settings.values_config, settings.patterns_config, display_root=repo.cwd)
    chosen = set(wanted)
    analysis = analyse(
        configs,
        [Source(tree, repo.prefix + f) for f in files if f in chosen],
        context=[Source(tree, repo.prefix + f) for f in files],
    )
    docs = [d for c in analysis.configs for d in (c.values_doc, c.patterns_doc)]
    used = {rel for d in docs if (rel := _root_rel(repo, d)) is not None}
    return Side(analysis.findings, analysis, planned(analysis.resources), files, used)


def work_tree_side(repo: Repo, settings: Settings, targets: Iterable[str] | None = None) -> Side:
    """Names in the work tree. Findings are reported for `targets` (default: every
    blueprint); every blueprint takes part in the uniqueness check and the plan."""
    files = blueprints_in(repo.ls_files(), settings.blueprints)
    tree = WorkTree(repo.root, repo.cwd)
    return _side(tree, repo, files, files if targets is None else targets, settings)


def commit_side(
    repo: Repo,
    sha: str,
    settings: Settings,
    targets: Iterable[str] | None = None,
    context: Iterable[str] | None = None,
) -> Side:
    """Names at commit `sha`, read from git's object store (`tree.CommitTree`). Only
    `targets` (default: every blueprint at `sha`) are named; `context` (default: the
    targets) take part in the uniqueness check and the plan too."""
    files = blueprints_in(repo.ls_tree(sha), settings.blueprints)
    tree = CommitTree(repo.root, sha, repo.cwd)
    wanted = files if targets is None else sorted(set(targets) & set(files))
    everything = wanted if context is None else sorted(set(context) & set(files))
    return _side(tree, repo, everything, wanted, settings)


def _root_rel(repo: Repo, doc: Document | None) -> str | None:
    """A config document's path (shown relative to the working directory) relative to the
    root, or None for the built-in defaults and files outside the repository."""
    if doc is None:
        return None
    rel = root_relative(repo, doc.path)
    return rel if _inside(rel) else None


def root_relative(repo: Repo, shown: str) -> str:
    """A finding's file (shown relative to the working directory) relative to the root,
    as GitHub wants it in annotations."""
    if not shown:
        return shown
    path = Path(shown) if Path(shown).is_absolute() else repo.cwd / shown
    try:
        return Path(os.path.normpath(path)).relative_to(repo.root).as_posix()
    except ValueError:
        return shown


def _config_reach(repo: Repo, settings: Settings, changed_root: Iterable[str]) -> set[str]:
    """The directories (root-relative, "" for the root) whose blueprints a change to the
    naming configs may rename: a changed `.dpn/naming-*.yaml` reaches everything below the
    directory that holds its `.dpn/`; a changed config named by a flag reaches every
    blueprint."""
    flags = {_flag_rel(repo, f) for f in (settings.values_config, settings.patterns_config)}
    reach: set[str] = set()
    for c in changed_root:
        if c in flags:
            return {""}
        if is_config(c):
            reach.add(posixpath.dirname(posixpath.dirname(c)))
    return reach


def _flag_rel(repo: Repo, flag: str | None) -> str | None:
    if not flag:
        return None
    rel = root_relative(repo, flag)
    return rel if _inside(rel) else None


def _below(rel: str, directory: str) -> bool:
    return directory == "" or rel.startswith(directory + "/")


def _inside(rel: str) -> bool:
    return bool(rel) and not rel.startswith(("/", "../")) and rel != ".."


def compute_preview(
    repo: Repo, base: str, settings: Settings, head_sha: str | None = None
) -> Preview:
    """The preview of the change from `base` to the work tree, or to commit `head_sha`
    (read from git's object store: nothing is checked out)."""
    if head_sha is None:
        changed_root = repo.changed_files(base)
        head_listing = repo.ls_files()
    else:
        changed_root = repo.changed_between(base, head_sha)
        head_listing = repo.ls_tree(head_sha)
    prefix = repo.prefix
    changed = {c[len(prefix) :] for c in changed_root if c.startswith(prefix)}
    head_files = blueprints_in(head_listing, settings.blueprints)
    base_files = blueprints_in(repo.ls_tree(base), settings.blueprints)
    everything = set(head_files) | set(base_files)
    reach = _config_reach(repo, settings, changed_root)
    config_changed = bool(reach)
    in_reach = {f for f in everything if any(_below(prefix + f, d) for d in reach)}
    affected = sorted((everything & changed) | in_reach)
    if head_sha is None:
        head = work_tree_side(repo, settings, targets=affected)
    else:
        head = commit_side(repo, head_sha, settings, targets=affected, context=head_files)
    preview = Preview(base, head_sha or repo.head(), [], [], affected, config_changed, [], head)
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
    mode = settings.on_removed
    removing = {
        env: removals([p for p in old.items if p.environment == env], head.items) for env in envs
    }
    hashes = head.hashes(removing, mode)
    for env in sorted(envs):
        h = hashes.get(env, plan_hash([]))
        d = diffs.get(env) or EnvDiff(env, [], [], [], 0, h)
        mine = [f for f in reported if env_of.get(f.file, env) == env]
        files = sorted(f for f in affected if env_of.get(f, old_env.get(f)) == env)
        total = sum(1 for p in head.items if p.environment == env)
        preview.envs.append(EnvPreview(env, h, total, d, mine, files, mode))
    preview.findings = reported
    if head_sha is not None:
        return preview  # annotations go on lines of the work tree's files only
    paths = {root_relative(repo, f.file) for f in reported}
    lines = repo.changed_lines(base, sorted(p for p in paths if _inside(p)))
    for f in reported:
        rel = root_relative(repo, f.file)
        if f.line > 0 and f.line in lines.get(rel, ()):
            preview.annotations.append(replace(f, file=rel))
    return preview
