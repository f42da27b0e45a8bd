"""`dpn fix` (and `dpn lint --fix`): what `dpn lint` checks, with the safe suggestions
applied in place (`dpn_action.fix`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dpn_action.cli.common import (
    config_options,
    context_options,
    emit,
    failed,
    findings_format_option,
    here,
    main,
    naming_configs,
    one_pass,
    repository_blueprints,
    sources,
)

if TYPE_CHECKING:
    from dpn_action.analysis import Analysis
    from dpn_action.fix import FixPlan
    from dpn_action.tree import Source, Tree


@dataclass
class LintJob:
    """What `dpn lint FILES` checks: the blueprints named (all of the repository's when
    none, or when a naming config is among them) against the repository's blueprints, each
    with the naming configs of its own directory; `run` checks them as read from a tree
    (the work tree, or the work tree with fixes applied in memory)."""

    files: tuple[Path, ...]
    values_config: str | None
    patterns_config: str | None
    overrides: tuple[str, ...]
    context_globs: tuple[str, ...] = ()
    no_context: bool = False
    targets: list[Source] = field(default_factory=list, init=False)
    repository: list[Source] = field(default_factory=list, init=False)
    named_configs: list[Source] = field(default_factory=list, init=False)
    tree: Tree = field(init=False)
    cwd_rel: str = field(init=False)

    def __post_init__(self) -> None:
        from dpn_action.layout import CONFIG_DIR, config_kind

        configs_given = [p for p in self.files if config_kind(str(p))]
        for p in configs_given:
            # a config outside a .dpn/ directory is only found when named: it is the flag
            if p.parent.name != CONFIG_DIR:
                if config_kind(str(p)) == "values":
                    self.values_config = self.values_config or str(p)
                else:
                    self.patterns_config = self.patterns_config or str(p)
        self.tree, self.cwd_rel = here()
        self.targets = sources(p for p in self.files if not config_kind(str(p)))
        self.repository = repository_blueprints(self.tree, self.context_globs)
        if not self.files or configs_given:
            # a config change affects every blueprint of the repository
            named = {s.key for s in self.targets}
            self.targets += [s for s in self.repository if s.key not in named]
            if not self.files and not self.targets:
                raise click.UsageError("no blueprints found under blueprints/; name the files")
        self.named_configs = sources(configs_given)

    def run(self, tree: Tree | None = None, *, cache: bool = False) -> Analysis:
        """Lint, reading the files of this repository from `tree` (default: the work tree).
        With `cache`, the names of the blueprints only compared against come from the
        user's cache where it holds them for exactly these files (`dpn_action.namecache`)."""
        from dpn_action.analysis import analyse
        from dpn_action.namecache import NameCache, default_directory
        from dpn_action.tree import Source

        def on(s: Source) -> Source:
            return Source(tree, s.rel) if tree is not None and self._ours(s) else s

        configs = naming_configs(self.values_config, self.patterns_config, self.overrides)
        for given in self.named_configs:
            configs.for_dir(on(given).tree, str(Path(given.rel).parent.parent))
        if not self.files:
            configs.for_dir(tree or self.tree, self.cwd_rel)
        context = [] if self.no_context else [on(s) for s in self.repository]
        names = (
            NameCache(default_directory(), self.tree.root)
            if cache and tree is None and context
            else None
        )
        return analyse(configs, [on(s) for s in self.targets], context=context, cache=names)

    def _ours(self, s: Source) -> bool:
        return s.tree.root == self.tree.root and not s.tree.label

    def fixable(self, a: Analysis) -> set[str]:
        """The files `dpn fix` may edit, as findings name them: the blueprints and naming
        configs linted that are files of this work tree (with no FILES, the naming configs
        the blueprints use, when they are in the repository)."""
        out = {s.display for s in [*self.targets, *self.named_configs] if self._ours(s)}
        if not self.files:
            for cfg in a.configs:
                for doc in (cfg.values_doc, cfg.patterns_doc):
                    if doc is not None and self.tree.rel(doc.path) is not None:
                        out.add(doc.path)
        return out


def fix_files(job: LintJob, *, write: bool, show_diff: bool) -> FixPlan:
    """Plan the fixes, print the diff (stdout) when asked, write them when asked, and say
    what was fixed and what was left alone (stderr)."""
    from dpn_action.fix import FileChanged, plan_fixes, write_fixes
    from dpn_action.inputs import InputRefused

    plan = plan_fixes(job.run, job.tree, job.fixable)
    if show_diff:
        sys.stdout.write("".join(f.diff() for f in plan.files))
        sys.stdout.flush()
    if write:
        try:
            write_fixes(plan, job.tree)
        except InputRefused as exc:
            raise click.ClickException(f"not written: {exc.message}") from exc
        except FileChanged as exc:
            raise click.ClickException(str(exc)) from exc
    _report(plan, done=write)
    return plan


def _report(plan: FixPlan, *, done: bool) -> None:
    lines = []
    verb = "fixed" if done else "would fix"
    for e in sorted(plan.edits, key=lambda e: (e.file, e.line, e.column, e.code)):
        lines.append(f"{e.file}:{e.line}:{e.column}: {e.code} {verb}: {e.describe()}")
    for s in plan.skipped:
        lines.append(f"{s.file}:{s.line}:{s.column}: {s.code} left alone: {s.reason}")
    n, files = len(plan.edits), len(plan.files)
    summary = (
        f"{'fixed' if done else 'would fix'} {n} problem{'s' * (n != 1)} "
        f"in {files} file{'s' * (files != 1)}"
        if n
        else "nothing to fix"
    )
    if plan.skipped:
        summary += f"; {len(plan.skipped)} suggestion{'s' * (len(plan.skipped) != 1)} left alone"
    lines.append(summary)
    click.echo("\n".join(lines), err=True)


@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@config_options
@findings_format_option
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@context_options
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff; write nothing.")
@click.option("--dry-run", is_flag=True, help="Say what would be fixed; write nothing.")
@one_pass
def fix(
    files: tuple[Path, ...],
    values_config: str | None,
    patterns_config: str | None,
    overrides: tuple[str, ...],
    fmt: str,
    strict: bool,
    context_globs: tuple[str, ...],
    no_context: bool,
    show_diff: bool,
    dry_run: bool,
) -> None:
    """Apply the safe suggestions of `dpn lint` in place: a mistyped key with exactly one
    close match, a value in the form its type normalises it to.

    The files are those `dpn lint` checks (with no FILES, every blueprint under blueprints/
    and the naming configs they use). Comments, key order and formatting are kept; an
    explicit `name` is never changed; a suggestion with a choice, or one that would change
    another name, is left alone and reported. Then prints what is left, as `dpn lint` does.
    Exit status: 1 when errors are left (with --diff or --dry-run, also when a file would
    change), else 0.
    """
    job = LintJob(files, values_config, patterns_config, overrides, context_globs, no_context)
    preview = show_diff or dry_run
    plan = fix_files(job, write=not preview, show_diff=show_diff)
    if not show_diff:
        emit(plan.remaining, fmt)
    left = failed(plan.remaining, strict)
    sys.exit(1 if left or (preview and plan.files) else 0)
