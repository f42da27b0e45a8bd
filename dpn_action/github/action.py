"""`dpn action`: the GitHub Action's entry.

- `pull_request` (mode `preview`): names at the base and in the checkout for every affected
  blueprint, one sticky comment per environment, annotations on changed lines, the whole
  preview in the job summary.
- `push` to the default branch (mode `apply`): find the merged pull request, refuse when
  the plan changed since its comment was written, recover an unfinished transaction from
  the latest WAL artifact, apply, and write the outcome into the comment.
- mode `recover`: only the recovery part.

Every input arrives as an environment variable (`DPN_*`, set by action.yml from the
action's inputs) or as the matching option; outputs go to `$GITHUB_OUTPUT`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sys
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dpn_action.findings import Finding
from dpn_action.github import comment as cm
from dpn_action.github.api import GitHub, GitHubError
from dpn_action.github.event import EventError, PullRequest, Push, pull_request, push, read_payload
from dpn_action.github.git import GitError, Repo
from dpn_action.github.preview import (
    DEFAULT_BLUEPRINTS,
    EnvPreview,
    Globs,
    Preview,
    Settings,
    Side,
    commit_side,
    compute_preview,
    root_relative,
    work_tree_side,
)
from dpn_action.plan import PlannedResource

if TYPE_CHECKING:
    from dpn_action.txn.model import TxnResult

MODES = ("auto", "preview", "apply", "recover")
#: The author of comments made with a workflow's GITHUB_TOKEN (which may not ask `GET /user`).
ACTIONS_BOT = "github-actions[bot]"
WAL_ARTIFACT_PREFIX = "dpn-wal-"
#: Artifacts looked at when searching for the latest WAL (100 per page).
MAX_ARTIFACT_PAGES = 10
#: Lines of a plan difference printed in the log and the comment.
MAX_DIFF_LINES = 200


class ActionError(Exception):
    """Stops the run with a message and a `failure-reason` output."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# -------------------------------------------------------------------------------- inputs
def _bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off", ""):
        return False
    raise ActionError("usage", f"{name} must be true or false, not {value!r}")


@dataclass
class Inputs:
    mode: str = "auto"
    blueprints: str = DEFAULT_BLUEPRINTS
    values_config: str | None = None
    patterns_config: str | None = None
    token: str = field(default="", repr=False)
    api_url: str = "https://api.github.com"
    max_parallel: int = 8
    dry_run: bool = False
    fail_on_plan_change: bool = True
    environment: str = ""
    wal_dir: Path = Path(".dpn-wal")

    @property
    def settings(self) -> Settings:
        return Settings(self.blueprints, self.values_config, self.patterns_config)

    @property
    def env_label(self) -> str:
        """The environment part of the WAL artifact's name."""
        return re.sub(r"[^A-Za-z0-9._-]", "_", self.environment) or "all"


def parse_inputs(argv: Sequence[str], env: Mapping[str, str]) -> Inputs:
    def e(name: str, default: str = "") -> str:
        return env.get(f"DPN_{name}", default)

    p = argparse.ArgumentParser(
        prog="dpn action",
        description="Run as the GitHub Action (see docs/github-action.md). Every option "
        "defaults to its DPN_* environment variable.",
    )
    p.add_argument("--mode", default=e("MODE", "auto") or "auto", choices=MODES)
    p.add_argument("--blueprints", default=e("BLUEPRINTS", DEFAULT_BLUEPRINTS))
    p.add_argument("--values-config", default=e("VALUES_CONFIG") or None)
    p.add_argument("--patterns-config", default=e("PATTERNS_CONFIG") or None)
    p.add_argument("--api-url", default=e("API_URL") or env.get("GITHUB_API_URL", ""))
    p.add_argument("--max-parallel", default=e("MAX_PARALLEL", "8") or "8")
    p.add_argument("--dry-run", default=e("DRY_RUN", "false"))
    p.add_argument("--fail-on-plan-change", default=e("FAIL_ON_PLAN_CHANGE", "true"))
    p.add_argument("--environment", default=e("ENVIRONMENT"))
    p.add_argument("--wal-dir", default=e("WAL_DIR", ".dpn-wal") or ".dpn-wal")
    a = p.parse_args(list(argv))
    try:
        max_parallel = int(a.max_parallel)
    except ValueError:
        raise ActionError(
            "usage", f"max-parallel must be a number, not {a.max_parallel!r}"
        ) from None
    if not 1 <= max_parallel <= 64:
        raise ActionError("usage", "max-parallel must be between 1 and 64")
    return Inputs(
        mode=a.mode,
        blueprints=a.blueprints or DEFAULT_BLUEPRINTS,
        values_config=a.values_config,
        patterns_config=a.patterns_config,
        token=e("GITHUB_TOKEN"),
        api_url=a.api_url or "https://api.github.com",
        max_parallel=max_parallel,
        dry_run=_bool(a.dry_run, "dry-run"),
        fail_on_plan_change=_bool(a.fail_on_plan_change, "fail-on-plan-change"),
        environment=a.environment.strip(),
        wal_dir=Path(a.wal_dir),
    )


# ---------------------------------------------------------------------- workflow commands
class Workflow:
    """The runner's side channels: outputs, the job summary, annotations, log groups."""

    def __init__(self, env: Mapping[str, str], out: Any = None) -> None:
        self.env = env
        self.out = out or sys.stdout
        self.outputs: dict[str, str] = {}
        self.in_actions = env.get("GITHUB_ACTIONS") == "true"

    def echo(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def untrusted(self, lines: Iterable[str]) -> None:
        """Print repository text with workflow commands switched off, so a line of it that
        looks like `::set-output` or `::add-mask` is only text."""
        shown = [part for line in lines for part in line.splitlines()]
        if not shown:
            return
        token = secrets.token_hex(16)
        self.echo(f"::stop-commands::{token}")
        for line in shown:
            self.echo(line)
        self.echo(f"::{token}::")

    def command(self, kind: str, message: str, title: str = "dpn") -> None:
        from dpn_action.formatters import escape_github_data, escape_github_property

        self.echo(f"::{kind} title={escape_github_property(title)}::{escape_github_data(message)}")

    def mask(self, secret: str) -> None:
        if secret and self.in_actions:
            self.echo(f"::add-mask::{secret}")

    def set(self, name: str, value: str | int | bool) -> None:
        self.outputs[name] = str(value).lower() if isinstance(value, bool) else str(value)

    def write_outputs(self) -> None:
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            return
        with open(path, "a", encoding="utf-8") as fh:
            for k, v in self.outputs.items():
                delim = f"dpn_{secrets.token_hex(8)}"
                fh.write(f"{k}<<{delim}\n{v}\n{delim}\n")

    def summary(self, markdown: str) -> None:
        path = self.env.get("GITHUB_STEP_SUMMARY")
        text = cm.fit(
            markdown,
            cm.SUMMARY_LIMIT,
            cm.cut_notice("summary", "Run `dpn plan preview` on the blueprints for every name."),
            measure=cm.utf8_len,
        )
        if path:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(text)
        elif not self.in_actions:
            self.echo(text)


# ------------------------------------------------------------------------------- the run
class Action:
    def __init__(self, inputs: Inputs, env: Mapping[str, str], wf: Workflow) -> None:
        self.inputs = inputs
        self.env = env
        self.wf = wf
        self.cwd = Path.cwd()
        self.event_name = env.get("GITHUB_EVENT_NAME", "")
        self.repository = env.get("GITHUB_REPOSITORY", "")
        self._gh: GitHub | None = None
        self._author: str | None = None
        self._payload: dict[str, Any] | None = None
        #: `provision.scope_label` of where this run acts, once known (`_prepare_wal`)
        self._wal_scope = ""

    # ------------------------------------------------------------------------- helpers
    @property
    def payload(self) -> dict[str, Any]:
        if self._payload is None:
            path = self.env.get("GITHUB_EVENT_PATH")
            if not path:
                raise ActionError("usage", "GITHUB_EVENT_PATH is not set: run inside GitHub")
            self._payload = read_payload(path)
        return self._payload

    @property
    def gh(self) -> GitHub | None:
        if self._gh is None and self.inputs.token and self.repository:
            self._gh = GitHub(self.inputs.token, self.inputs.api_url, self.repository)
        return self._gh

    def author(self, gh: GitHub) -> str:
        if self._author is None:
            self._author = gh.login() or ACTIONS_BOT
        return self._author

    @property
    def summary_url(self) -> str | None:
        server = self.env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        run_id = self.env.get("GITHUB_RUN_ID", "")
        if not self.repository or not run_id.isdigit():
            return None
        return f"{server}/{quote(self.repository)}/actions/runs/{run_id}"

    @property
    def artifact_name(self) -> str:
        """This run's WAL artifact: `dpn-wal-<environment>-<where>-<run id>-<run attempt>`,
        `<where>` being `provision.scope_label` of the accounts and workspaces the run acts
        in. dpn sets it (output `wal-artifact`) before it writes any log; until then the
        name action.yml made, without `<where>`, stands."""
        run_id = re.sub(r"\D", "", self.env.get("GITHUB_RUN_ID", "")) or "0"
        attempt = re.sub(r"\D", "", self.env.get("GITHUB_RUN_ATTEMPT", "")) or "1"
        if self._wal_scope:
            return f"{self.artifact_prefix}{run_id}-{attempt}"
        given = self.env.get("DPN_WAL_ARTIFACT", "")
        if re.fullmatch(r"dpn-wal-[A-Za-z0-9._-]+-\d+-\d+", given):
            return given
        return f"{WAL_ARTIFACT_PREFIX}{self.inputs.env_label}-{run_id}-{attempt}"

    @property
    def artifact_prefix(self) -> str:
        """What this run's WAL artifact's name starts with."""
        return f"{WAL_ARTIFACT_PREFIX}{self.inputs.env_label}-{self._wal_scope}-"

    def _same_places(self, name: str) -> bool:
        """Whether an artifact holds a WAL of this environment's runs in the same accounts
        and workspaces (`provision.same_places`)."""
        from dpn_action.provision import same_places

        env = re.escape(f"{WAL_ARTIFACT_PREFIX}{self.inputs.env_label}-")
        found = re.fullmatch(env + r"([A-Za-z0-9._]+)-\d+-\d+", name)
        return found is not None and same_places(found.group(1), self._wal_scope)

    def _prepare_wal(self, items: Sequence[PlannedResource]) -> Mapping[str, Any]:
        """Set up the providers the planned resources need, learn where they act, and name
        the WAL artifact after it, before any log is written. Returns the providers."""
        from dpn_action import provision

        try:
            providers = provision.build_providers({p.provider for p in items})
            self._wal_scope = provision.scope_label(provision.where(providers))
        except provision.ProviderSetupError as exc:
            raise ActionError("apply-failed", str(exc)) from exc
        self.wf.set("wal-artifact", self.artifact_name)
        # action.yml reads it from here for the upload, whatever becomes of this process
        wal_dir = self.inputs.wal_dir
        wal_dir.mkdir(parents=True, exist_ok=True)
        (wal_dir / ".artifact-name").write_text(self.artifact_name + "\n", encoding="utf-8")
        return providers

    def commit(self, repo: Repo) -> str:
        sha = self.env.get("GITHUB_SHA", "")
        return sha if re.fullmatch(r"[0-9a-f]{40}", sha) else repo.head()

    def mode(self) -> str:
        mode = self.inputs.mode
        if mode != "auto":
            return mode
        if self.event_name in ("pull_request", "pull_request_target"):
            return "preview"
        if self.event_name == "push":
            return "apply"
        raise ActionError(
            "usage",
            f"mode auto handles pull_request and push events, not {self.event_name or 'none'}; "
            "set the mode input",
        )

    def run(self) -> int:
        mode = self.mode()
        self.wf.set("mode", mode)
        if mode == "preview":
            return self.preview()
        if mode == "apply":
            return self.apply()
        return self.recover_only()

    # ------------------------------------------------------------------------- preview
    def preview(self) -> int:
        repo = Repo(self.cwd)
        pr: PullRequest | None = None
        if self.event_name in ("pull_request", "pull_request_target"):
            pr = pull_request(self.payload)
            base = pr.base_sha
        elif self.event_name == "push":
            base = push(self.payload).before
        else:
            raise ActionError("usage", "preview needs a pull_request or push event")
        if not repo.ensure_commit(base):
            raise ActionError(
                "base-missing",
                f"the base commit {base[:12]} is not in the clone; check out with "
                "`fetch-depth: 0` so the names at the base can be computed",
            )
        merge_base = repo.merge_base(base) or base
        pv = compute_preview(repo, merge_base, self.inputs.settings)
        if self.inputs.environment:
            pv.envs = [e for e in pv.envs if e.environment == self.inputs.environment]
        self._report_preview(repo, pv)
        hashes = {e.environment: e.plan_hash for e in pv.envs}
        self.wf.set("plan-hash", combined_hash(hashes))
        self.wf.set("has-changes", pv.has_changes)
        if pr is not None and pv.head is not None:
            self._post_preview(repo, pr, pv)
        if pv.errors:
            self.wf.set("failure-reason", "findings")
            self.wf.echo(f"dpn: {pv.errors} error finding(s) in the affected blueprints")
            return 1
        return 0

    def _report_preview(self, repo: Repo, pv: Preview) -> None:
        from dpn_action.formatters import format_github

        what = "a naming config changed: every blueprint" if pv.config_changed else "changed files"
        self.wf.echo(
            f"dpn: {len(pv.affected)} blueprint(s) affected ({what}), "
            f"{pv.base_sha[:12]}..{pv.head_sha[:12]}"
        )
        # Environment names come from blueprints: printed with workflow commands off.
        self.wf.untrusted(
            f"dpn: {e.environment or '(no environment)'}: {len(e.diff.renamed)} renamed, "
            f"{len(e.diff.added)} added, {len(e.diff.removed)} removed, plan {e.plan_hash[:12]}"
            for e in pv.envs
        )
        if pv.annotations:
            self.wf.out.write(format_github(pv.annotations))
        self.wf.summary(render_preview_summary(pv))

    def _post_preview(self, repo: Repo, pr: PullRequest, pv: Preview) -> None:
        gh = self.gh
        if pr.from_fork or gh is None:
            why = (
                "this pull request comes from a fork, and its token may not comment"
                if pr.from_fork
                else "no github-token was given"
            )
            self.wf.command("notice", f"The name preview is in the job summary: {why}.")
            return
        try:
            author = self.author(gh)
            comments = gh.issue_comments(pr.number)
            existing = cm.headers_by_environment(comments, author=author)
            head = pv.head
            assert head is not None
            hashes = head.hashes()
            commit = self.commit(repo)
            bodies: dict[str, str] = {}
            for e in pv.envs:
                bodies[e.environment] = self._comment_body(e, pr, pv, commit)
            for env in existing:
                if env not in bodies and (
                    not self.inputs.environment or env == self.inputs.environment
                ):
                    bodies[env] = self._no_longer_body(env, pr, pv, commit, hashes)
            for env, body in bodies.items():
                found = existing.get(env)
                if found is None:
                    made = gh.create_comment(pr.number, body)
                    self.wf.echo(f"dpn: commented on #{pr.number} ({made.get('html_url', '')})")
                elif found[0].get("body") != body:
                    gh.update_comment(int(found[0]["id"]), body)
                    self.wf.echo(f"dpn: updated the comment on #{pr.number}")
        except GitHubError as exc:
            if not exc.forbidden:
                raise
            self.wf.command(
                "notice",
                f"The name preview is in the job summary: the token may not comment ({exc}).",
            )

    def _header(
        self, env: str, plan_hash: str, total: int, pr: PullRequest, pv: Preview, commit: str
    ) -> dict[str, Any]:
        return {
            "v": cm.HEADER_VERSION,
            "environment": env,
            "plan_hash": plan_hash,
            "resources": total,
            "commit": commit,
            "base": pv.base_sha,
            "pr_head": pr.head_sha,
        }

    def _comment_body(self, e: EnvPreview, pr: PullRequest, pv: Preview, commit: str) -> str:
        d = e.diff
        return cm.render_comment(
            self._header(e.environment, e.plan_hash, e.total, pr, pv, commit),
            environment=e.environment,
            stats=cm.stats_line(
                len(d.renamed), len(d.added), len(d.removed), d.unchanged, e.total, e.plan_hash
            ),
            findings=e.findings,
            diff=list(cm.diff_lines(d.renamed, d.added, d.removed)),
            footer=cm.footer_line(commit, self.summary_url),
            summary_url=self.summary_url,
        )

    def _no_longer_body(
        self, env: str, pr: PullRequest, pv: Preview, commit: str, hashes: dict[str, str]
    ) -> str:
        from dpn_action.plan import plan_hash

        h = hashes.get(env, plan_hash([]))
        head = pv.head
        total = sum(1 for p in head.items if p.environment == env) if head else 0
        return cm.render_comment(
            self._header(env, h, total, pr, pv, commit),
            environment=env,
            stats=f"This pull request no longer changes names here · plan `{h[:12]}`",
            findings=[],
            diff=[],
            footer=cm.footer_line(commit, self.summary_url),
            summary_url=self.summary_url,
        )

    # --------------------------------------------------------------------------- apply
    def apply(self) -> int:
        if self.event_name != "push":
            raise ActionError("usage", "apply runs on a push to the default branch")
        ev = push(self.payload)
        if not ev.to_default_branch or ev.deleted:
            self.wf.command(
                "notice",
                f"{ev.ref} is not the default branch ({ev.default_branch}): nothing applied",
            )
            self.wf.set("has-changes", False)
            return 0
        repo = Repo(self.cwd)
        head = work_tree_side(repo, self.inputs.settings)
        hashes = head.hashes()
        gh = self.gh
        pr_number, approved = self._approved(gh, ev)
        if approved is None:
            # No merged pull request: a direct push.
            if not self._push_touches_blueprints(repo, ev):
                self.wf.echo("dpn: the push changes no blueprint or naming config")
                self.wf.set("has-changes", False)
                self.wf.set("plan-hash", combined_hash(self._scoped(hashes)))
                return 0
            if self.inputs.fail_on_plan_change:
                raise ActionError(
                    "no-approved-plan",
                    f"no merged pull request with a dpn preview was found for {ev.after[:12]}; "
                    "nothing applied (set fail-on-plan-change: false to apply unreviewed pushes)",
                )
            envs = sorted(self._scoped(hashes))
            if not envs:
                self.wf.echo("dpn: no blueprint in scope")
                self.wf.set("has-changes", False)
                return 0
        else:
            envs = sorted(self._scoped({k: "" for k in approved}))
            if not envs:
                self.wf.echo(f"dpn: pull request #{pr_number} changed no names in scope")
                self.wf.set("has-changes", False)
                return 0
        current = {env: hashes.get(env, _empty_hash()) for env in envs}
        self.wf.set("plan-hash", combined_hash(current))
        # Errors block the environments applied here; a broken blueprint of another
        # environment (or a config error, which affects every one) is reported as well.
        env_of = head.env_of()
        blocking = [f for f in head.findings if f.is_error and env_of.get(f.file, envs[0]) in envs]
        if blocking:
            self._print_findings(blocking)
            raise ActionError(
                "findings", f"{len(blocking)} error finding(s) at HEAD: nothing applied"
            )
        if approved is not None:
            changed = {
                env: approved[env][1].get("plan_hash")
                for env in envs
                if approved[env][1].get("plan_hash") != current[env]
            }
            if changed:
                lines = self._plan_difference(repo, head, changed, approved, current)
                self.wf.untrusted(lines)
                if self.inputs.fail_on_plan_change:
                    section = [
                        "",
                        "#### ⛔ Not applied: the plan changed since this preview",
                        "",
                        f"The plan at {_sha(ev.after)} differs from the one approved here "
                        f"(see the [run log]({self.summary_url or ''})). "
                        "Open a new pull request to review the change.",
                        "",
                    ]
                    self._update_comments(gh, approved, envs, section, current, applied=None)
                    raise ActionError(
                        "plan-changed",
                        "the plan changed since it was approved in pull request "
                        f"#{pr_number}: nothing applied",
                    )
                self.wf.command(
                    "warning",
                    "The plan changed since it was approved; applying anyway "
                    "(fail-on-plan-change: false).",
                )
        items = [p for p in head.items if p.environment in set(envs)]
        result = self._transact(items)
        ok = result.ok
        if approved is not None:
            self._update_comments(
                gh, approved, envs, self._outcome_section(result), current, applied=result
            )
        return 0 if ok else 1

    def _scoped(self, hashes: Mapping[str, str]) -> dict[str, str]:
        """The environments this run is about: the `environment` input, else all."""
        if self.inputs.environment:
            return {k: v for k, v in hashes.items() if k == self.inputs.environment}
        return dict(hashes)

    def _approved(
        self, gh: GitHub | None, ev: Push
    ) -> tuple[int | None, dict[str, tuple[dict[str, Any], dict[str, Any]]] | None]:
        """The merged pull request of this push and its preview comments by environment."""
        if gh is None:
            return None, None
        pulls = gh.pulls_for_commit(ev.after)
        merged = [p for p in pulls if p.get("merged_at")]
        merged.sort(key=lambda p: (p.get("merge_commit_sha") != ev.after, -int(p.get("number", 0))))
        if not merged:
            return None, None
        number = int(merged[0]["number"])
        self.wf.echo(f"dpn: {ev.after[:12]} merged pull request #{number}")
        comments = gh.issue_comments(number)
        return number, cm.headers_by_environment(comments, author=self.author(gh))

    def _push_touches_blueprints(self, repo: Repo, ev: Push) -> bool:
        if not repo.ensure_commit(ev.before):
            return True
        globs = Globs(self.inputs.settings.blueprints)
        changed = repo.changed_files(ev.before)
        prefix = repo.prefix
        for c in changed:
            rel = c[len(prefix) :] if c.startswith(prefix) else None
            if rel is not None and globs.match(rel):
                return True
            if PurePosixPath(c).name in ("naming-values.yaml", "naming-patterns.yaml"):
                return True
            if c in {
                _root_of(repo, self.inputs.values_config),
                _root_of(repo, self.inputs.patterns_config),
            }:
                return True
        return False

    def _plan_difference(
        self,
        repo: Repo,
        head: Side,
        changed: dict[str, Any],
        approved: dict[str, tuple[dict[str, Any], dict[str, Any]]],
        current: dict[str, str],
    ) -> list[str]:
        lines: list[str] = []
        for env, old_hash in changed.items():
            header = approved[env][1]
            lines.append(
                f"The plan for {env or '(no environment)'} changed since it was approved: "
                f"approved {str(old_hash)[:12]}, now {current[env][:12]}"
            )
            at = next(
                (
                    c
                    for c in (header.get("commit"), header.get("pr_head"))
                    if isinstance(c, str)
                    and re.fullmatch(r"[0-9a-f]{40}", c)
                    and repo.ensure_commit(c)
                ),
                None,
            )
            if at is None:
                lines.append(
                    "  (the approved commit is not in the clone; compare `dpn plan preview` "
                    "at both commits)"
                )
                continue
            old = commit_side(repo, at, self.inputs.settings)
            lines.append(f"  approved at {at[:12]}; difference (- approved, + now):")
            lines.extend(
                "  " + line
                for line in plan_difference(
                    [p for p in old.items if p.environment == env],
                    [p for p in head.items if p.environment == env],
                )
            )
        return lines

    def _transact(self, items: list[PlannedResource]) -> TxnResult:
        from dpn_action import provision
        from dpn_action.txn.model import Cancel
        from dpn_action.txn.signals import interruptible

        wal_dir = self.inputs.wal_dir
        providers = self._prepare_wal(items)
        if not self.inputs.dry_run:
            self._restore_and_recover(wal_dir)
        self.wf.echo(
            f"dpn: applying {len(items)} resource(s)"
            + (" (dry run)" if self.inputs.dry_run else "")
        )
        cancel = Cancel()
        try:
            with interruptible(cancel) as seen:
                result = provision.apply_plan(
                    items,
                    wal_dir=wal_dir,
                    max_parallel=self.inputs.max_parallel,
                    dry_run=self.inputs.dry_run,
                    providers=providers,
                    cancel=cancel,
                )
        except Exception as exc:  # every failure of the transaction core is reported
            raise ActionError("apply-failed", f"the transaction could not run: {exc}") from exc
        created = result.kept_created
        self.wf.set("created", len(created))
        self.wf.set("has-changes", bool(created or result.to_create))
        status = str(result.status)
        self.wf.echo(
            f"dpn: transaction {result.txn_id or '-'}: {status}, "
            f"{len(created)} created, {len(result.adopted)} adopted"
        )
        if not result.ok:
            reason = "conflict" if status == "CONFLICT" else "apply-failed"
            if seen.signum is not None:
                reason = "cancelled"
            self.wf.set("failure-reason", reason)
            self.wf.command(
                "error", f"Nothing is left half-done: {status}. {result.error or ''}".strip()
            )
        self.wf.summary(render_apply_summary(result, self.artifact_name))
        return result

    def _restore_and_recover(self, wal_dir: Path) -> None:
        """Fetch the latest WAL artifact of earlier runs and finish what it left unfinished."""
        from dpn_action.txn import TxnStatus, status

        gh = self.gh
        name = self._restore_wal(gh, wal_dir) if gh is not None else None
        if name:
            self.wf.echo(f"dpn: restored the WAL from artifact {name}")
        pending = [
            r for r in status(wal_dir) if r.status in (TxnStatus.UNFINISHED, TxnStatus.CORRUPT)
        ]
        if not pending:
            return
        from dpn_action import provision

        self.wf.echo(f"dpn: recovering {len(pending)} unfinished transaction(s)")
        try:
            results = provision.recover(wal_dir=wal_dir, max_parallel=self.inputs.max_parallel)
        except Exception as exc:
            raise ActionError("recover-failed", f"recovery failed: {exc}") from exc
        for r in results:
            self.wf.echo(f"dpn: recovered transaction {r.txn_id}: {r.status}")
        stuck = [r for r in results if r.status is TxnStatus.ROLLBACK_FAILED]
        if stuck:
            raise ActionError(
                "recover-failed",
                "an earlier transaction could not be rolled back: "
                + ", ".join(str(r.txn_id) for r in stuck)
                + "; run `dpn recover --continue-rollback` with its WAL",
            )

    def _restore_wal(self, gh: GitHub, wal_dir: Path) -> str | None:
        """Unpack the newest WAL artifact of this environment's runs in the same accounts
        and workspaces (`_same_places`) on the default branch of this repository. Artifacts
        from other places, branches or forks are never used: a WAL tells recovery what to
        delete."""
        found = [a for a in self._wal_artifacts(gh) if self._same_places(str(a["name"]))]
        if not found:
            return None
        best = max(found, key=lambda a: (a.get("created_at") or "", a.get("id", 0)))
        extract_wal(gh.download_artifact(int(best["id"])), wal_dir)
        return str(best["name"])

    def _wal_artifacts(self, gh: GitHub) -> list[dict[str, Any]]:
        """WAL artifacts of this environment that runs on the default branch of this
        repository (not a fork) uploaded and that have not expired."""
        branch = self._default_branch()
        repo_id = self.payload.get("repository", {}).get("id")
        prefix = f"{WAL_ARTIFACT_PREFIX}{self.inputs.env_label}-"
        out: list[dict[str, Any]] = []
        for i, art in enumerate(gh.artifacts()):
            if i >= MAX_ARTIFACT_PAGES * 100:
                break
            name = art.get("name")
            if not isinstance(name, str) or not name.startswith(prefix) or art.get("expired"):
                continue
            run = art.get("workflow_run")
            if not isinstance(run, dict) or not branch or run.get("head_branch") != branch:
                continue
            if repo_id is not None and repo_id not in (
                run.get("head_repository_id"),
                run.get("repository_id"),
            ):
                continue
            if run.get("head_repository_id") != run.get("repository_id"):
                continue
            out.append(art)
        return out

    def _default_branch(self) -> str | None:
        repo = self.payload.get("repository")
        if isinstance(repo, dict):
            b = repo.get("default_branch") or repo.get("master_branch")
            return b if isinstance(b, str) else None
        return None

    def _update_comments(
        self,
        gh: GitHub | None,
        approved: dict[str, tuple[dict[str, Any], dict[str, Any]]],
        envs: Sequence[str],
        section: list[str],
        current: dict[str, str],
        applied: TxnResult | None,
    ) -> None:
        if gh is None:
            return
        for env in envs:
            if env not in approved:
                continue
            c, header = approved[env]
            header = dict(header)
            if applied is not None:
                header["applied"] = {
                    "status": str(applied.status),
                    "txn": applied.txn_id,
                    "artifact": None if self.inputs.dry_run else self.artifact_name,
                    "run": self.env.get("GITHUB_RUN_ID", ""),
                    "plan_hash": current.get(env),
                }
            else:
                header["refused"] = {
                    "plan_hash": current.get(env),
                    "run": self.env.get("GITHUB_RUN_ID", ""),
                }
            body = cm.replace_apply_section(
                str(c.get("body") or ""), header, section, self.summary_url
            )
            try:
                gh.update_comment(int(c["id"]), body)
            except GitHubError as exc:
                if not exc.forbidden:
                    raise
                self.wf.command("warning", f"Could not update the pull request comment: {exc}")

    def _outcome_section(self, result: TxnResult) -> list[str]:
        status = str(result.status)
        ok = result.ok
        created = result.kept_created
        adopted = result.adopted
        to_create = result.to_create
        icon = "✅" if ok else "❌"
        parts = [f"{len(created)} created", f"{len(adopted)} adopted"]
        if self.inputs.dry_run:
            parts = [f"dry run: {len(to_create)} would be created", f"{len(adopted)} adopted"]
        txn = result.txn_id
        if txn:
            parts.append(f"transaction {cm.code(str(txn))}")
        if not self.inputs.dry_run:
            parts.append(f"WAL artifact {cm.code(self.artifact_name)}")
        if self.summary_url:
            parts.append(f"[run]({self.summary_url})")
        title = f"Applied: {status}" if ok else f"Not applied: {status}"
        lines = ["", f"#### {icon} {title}", "", " · ".join(parts), ""]
        error = result.error
        if error and not ok:
            lines += [f"Error: {cm.code(str(error), limit=500)}", ""]
        return lines

    def _print_findings(self, findings: list[Finding]) -> None:
        from dpn_action.formatters import format_text

        self.wf.untrusted(format_text(findings).splitlines())

    # ------------------------------------------------------------------------- recover
    def recover_only(self) -> int:
        wal_dir = self.inputs.wal_dir
        gh = self.gh
        if gh is not None and not self._wal_artifacts(gh):
            # nothing of this environment to recover: no need to reach any cloud
            self.wf.echo("dpn: no WAL artifact of this environment: nothing left unfinished")
            return 0
        head = work_tree_side(Repo(self.cwd), self.inputs.settings)
        envs = set(self._scoped({p.environment: "" for p in head.items}))
        self._prepare_wal([p for p in head.items if p.environment in envs])
        self._restore_and_recover(wal_dir)
        self.wf.echo("dpn: nothing left unfinished")
        return 0


# ------------------------------------------------------------------------------ helpers
def _sha(sha: str) -> str:
    return f"`{sha[:12]}`" if re.fullmatch(r"[0-9a-f]{7,40}", sha) else "HEAD"


def _empty_hash() -> str:
    from dpn_action.plan import plan_hash

    return plan_hash([])


def _root_of(repo: Repo, flag: str | None) -> str | None:
    return root_relative(repo, flag) if flag else None


def combined_hash(hashes: Mapping[str, str]) -> str:
    """One environment: its plan hash. Several: the SHA-256 of their sorted JSON map."""
    if not hashes:
        return ""
    if len(hashes) == 1:
        return next(iter(hashes.values()))
    raw = json.dumps(dict(sorted(hashes.items())), separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def plan_difference(old: list[PlannedResource], new: list[PlannedResource]) -> list[str]:
    """Lines `- key`, `+ key`, `~ key (what changed)` between two plans."""
    a = {p.key: p.canonical() for p in old}
    b = {p.key: p.canonical() for p in new}
    lines = [f"- {k}" for k in sorted(set(a) - set(b))]
    lines += [f"+ {k}" for k in sorted(set(b) - set(a))]
    for k in sorted(set(a) & set(b)):
        if a[k] != b[k]:
            fields = sorted(f for f in set(a[k]) | set(b[k]) if a[k].get(f) != b[k].get(f))
            lines.append(f"~ {k} ({', '.join(fields)} changed)")
    if not lines:
        lines.append("(the same resources; the difference is in their order or encoding)")
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... and {len(lines) - MAX_DIFF_LINES} more"]
    return lines


def extract_wal(archive: bytes, wal_dir: Path) -> list[Path]:
    """Unpack a WAL artifact: only plain `txn-*.jsonl` files, never a path outside."""
    from dpn_action.txn.wal import WAL_PREFIX, WAL_SUFFIX

    out: list[Path] = []
    wal_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename).name
            if info.is_dir() or not (name.startswith(WAL_PREFIX) and name.endswith(WAL_SUFFIX)):
                continue
            if "/" in name or "\\" in name or name in (".", ".."):
                continue
            dest = wal_dir / name
            with zf.open(info) as src, open(dest, "wb") as fh:
                shutil.copyfileobj(src, fh)
            out.append(dest)
    return out


def render_preview_summary(pv: Preview) -> str:
    lines = ["## dpn name preview", ""]
    if not pv.affected:
        lines += ["No blueprint or naming config is affected by this change.", ""]
        return "\n".join(lines)
    scope = (
        "A naming config changed, so every blueprint is affected"
        if pv.config_changed
        else f"{len(pv.affected)} blueprint(s) affected"
    )
    lines += [f"{scope}. Base `{pv.base_sha[:12]}`, head `{pv.head_sha[:12]}`.", ""]
    for e in pv.envs:
        d = e.diff
        lines += [
            f"### {cm.env_label(e.environment)}",
            "",
            cm.stats_line(
                len(d.renamed), len(d.added), len(d.removed), d.unchanged, e.total, e.plan_hash
            ),
            "",
        ]
        if e.findings:
            lines += [cm.findings_summary(e.findings), "", *cm.findings_rows(e.findings, None), ""]
        lines += list(cm.diff_lines(d.renamed, d.added, d.removed))
    return "\n".join(lines) + "\n"


def render_apply_summary(result: TxnResult, artifact: str) -> str:
    lines = [
        "## dpn apply",
        "",
        f"Transaction {cm.code(str(result.txn_id or '-'))}: "
        f"**{result.status}** · WAL artifact {cm.code(artifact)}",
        "",
    ]
    for label, keys in (
        ("created", result.created),
        ("adopted", result.adopted),
        ("would create", result.to_create),
        ("rolled back", result.rolled_back),
        ("not ours: kept", list(result.not_ours)),
        ("left", [x.key for x in result.left]),
    ):
        if keys:
            lines += [f"**{label}** ({len(keys)})", ""]
            lines += [f"- {cm.code(k)}" for k in keys]
            lines.append("")
    if result.errors:
        lines += ["**errors**", ""]
        lines += [f"- {cm.code(k)}: {cm.code(v, limit=500)}" for k, v in result.errors.items()]
        lines.append("")
    if result.error:
        lines += [f"Error: {cm.code(str(result.error), limit=2000)}", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    wf = Workflow(env)
    wf.mask(env.get("DPN_GITHUB_TOKEN", ""))
    try:
        inputs = parse_inputs(list(argv or []), env)
        code = Action(inputs, env, wf).run()
    except ActionError as exc:
        wf.set("failure-reason", exc.reason)
        wf.command("error", str(exc))
        code = 2 if exc.reason == "usage" else 1
    except (EventError, GitError) as exc:
        wf.set("failure-reason", "input")
        wf.command("error", str(exc))
        code = 1
    except GitHubError as exc:
        wf.set("failure-reason", "github-api")
        wf.command("error", f"GitHub API: {exc}")
        code = 1
    finally:
        wf.write_outputs()
    return code
