"""Mode `apply` (a push to the default branch) and mode `recover`: find the merged pull
request, refuse when the plan changed since its comment was written, recover an unfinished
transaction from the latest WAL artifact, apply, and write the outcome into the comment."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from dpn_action.extras import MissingExtra
from dpn_action.findings import Finding
from dpn_action.github import comment as cm
from dpn_action.github.api import GitHub, GitHubError
from dpn_action.github.event import Push, push
from dpn_action.github.git import Repo
from dpn_action.github.inputs import ActionError
from dpn_action.github.preview import Side, commit_side, root_relative, work_tree_side
from dpn_action.github.wal_artifact import WalArtifacts
from dpn_action.layout import Globs
from dpn_action.plan import PlannedResource, combined_hash, plan_difference, removals

if TYPE_CHECKING:
    from dpn_action.txn.model import TxnResult


class ApplyRun(WalArtifacts):
    """One apply on a push, or one recovery of the latest WAL artifact."""

    #: the providers `_transact` set up (the removals use them too)
    _providers: Mapping[str, Any] | None = None

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
        removing = self._removing(repo, ev, head)
        hashes = head.hashes(removing, self.inputs.on_removed)
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
            unapproved = sorted(self._changed_envs(repo, ev, hashes) - set(approved))
            if unapproved:
                shown = ", ".join(e or "(no environment)" for e in unapproved)
                if self.inputs.fail_on_plan_change:
                    raise ActionError(
                        "no-approved-plan",
                        f"pull request #{pr_number} changes the plan of {shown}, but no dpn "
                        "preview of it was found on the pull request (from a fork, the comment "
                        "needs the comment workflow: examples/workflows/comment.yml; if the "
                        "comment was deleted, run the preview again); nothing applied",
                    )
                self.wf.command(
                    "warning",
                    f"No approved plan for {shown}; applying anyway (fail-on-plan-change: false).",
                )
                envs = sorted(set(envs) | set(unapproved))
            if not envs:
                self.wf.echo(f"dpn: pull request #{pr_number} changed no names in scope")
                self.wf.set("has-changes", False)
                return 0
        current = {env: hashes.get(env, _empty_hash()) for env in envs}
        if approved is not None:
            approved = {e: a for e, a in approved.items() if e in envs}
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
                if env in approved and approved[env][1].get("plan_hash") != current[env]
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
        gone = [p for env in envs for p in removing.get(env, [])]
        result = self._transact(items, gone)
        removed = self._settle_removed(gone, result)
        ok = result.ok and (removed is None or removed.ok)
        if approved is not None:
            section = self._outcome_section(result, removed)
            self._update_comments(gh, approved, envs, section, current, applied=result)
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

    def _removing(self, repo: Repo, ev: Push, head: Side) -> dict[str, list[PlannedResource]]:
        """Per environment, what the push stops describing: planned at the commit before it
        and not now (removed entries, the old names of renamed ones)."""
        if not repo.ensure_commit(ev.before):
            return {}
        old = commit_side(repo, ev.before, self.inputs.settings).items
        out: dict[str, list[PlannedResource]] = {}
        for p in removals(old, head.items):
            out.setdefault(p.environment, []).append(p)
        return out

    def _settle_removed(self, gone: list[PlannedResource], created: TxnResult) -> TxnResult | None:
        """After the creates committed: delete (or archive) what the push stops describing,
        as a transaction of its own (`on-removed` delete or archive), or report it (keep).
        Whatever stays is in the `orphans` output, the summary and a warning."""
        from dpn_action import provision

        self.wf.set("orphans", "[]")
        mode = self.inputs.on_removed
        if not gone or not created.ok:
            return None
        if mode == "keep" or self.inputs.dry_run:
            self._report_orphans(
                {p.key: "no blueprint describes it (on-removed: keep)" for p in gone}
            )
            return None
        self.wf.echo(f"dpn: removing {len(gone)} resource(s) no blueprint describes ({mode})")
        try:
            result = provision.delete_plan(
                gone,
                wal_dir=self.inputs.wal_dir,
                archive=mode == "archive",
                max_parallel=self.inputs.max_parallel,
                providers=self._providers,
                shared=self.shared,
            )
        except Exception as exc:
            raise ActionError("apply-failed", f"removing old resources failed: {exc}") from exc
        self.wf.echo(f"dpn: transaction {result.txn_id or '-'}: {result.status}")
        left = {k: why for k, why in result.kept.items()}
        left.update(result.not_ours)
        left.update({x.key: x.reason for x in result.left})
        self._report_orphans(left)
        if not result.ok:
            self.wf.set("failure-reason", "apply-failed")
            self.wf.command(
                "error", f"Removing old resources ended {result.status}: {result.error or ''}"
            )
        self.wf.summary(
            render_apply_summary(result, self.artifact_name, title="dpn apply: removed")
        )
        return result

    def _report_orphans(self, orphans: Mapping[str, str]) -> None:
        import json

        self.wf.set("orphans", json.dumps(sorted(orphans)))
        if not orphans:
            return
        self.wf.untrusted(
            [f"dpn: left in the cloud: {k} ({why})" for k, why in sorted(orphans.items())]
        )
        self.wf.command(
            "warning",
            f"{len(orphans)} resource(s) no blueprint describes are left in the cloud: "
            + ", ".join(sorted(orphans)[:20])
            + (" ..." if len(orphans) > 20 else ""),
        )
        lines = ["## dpn: left in the cloud", "", "| resource | why |", "|---|---|"]
        lines += [
            f"| {cm.code(k, table=True)} | {cm.code(v, table=True)} |"
            for k, v in sorted(orphans.items())
        ]
        self.wf.summary("\n".join(lines) + "\n")

    def _changed_envs(self, repo: Repo, ev: Push, hashes: Mapping[str, str]) -> set[str]:
        """The environments in scope whose plan this push changes: their hash before it
        differs from the hash now (every one in scope when the commit before is missing)."""
        if not repo.ensure_commit(ev.before):
            return set(self._scoped(hashes)) if self._push_touches_blueprints(repo, ev) else set()
        before = commit_side(repo, ev.before, self.inputs.settings).hashes()
        return {
            env
            for env in self._scoped({**before, **hashes})
            if before.get(env, _empty_hash()) != hashes.get(env, _empty_hash())
        }

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

    def _transact(
        self, items: list[PlannedResource], gone: Sequence[PlannedResource] = ()
    ) -> TxnResult:
        from dpn_action import provision
        from dpn_action.txn.model import Cancel
        from dpn_action.txn.signals import interruptible

        wal_dir = self.inputs.wal_dir
        providers = self._providers = self._prepare_wal([*items, *gone])
        if not self.inputs.dry_run:
            self._restore_and_recover(wal_dir)
        self.wf.echo(
            f"dpn: applying {len(items)} resource(s)"
            + (" (dry run)" if self.inputs.dry_run else "")
        )
        cancel = Cancel()
        made_for = self.made_for
        try:
            with interruptible(cancel) as seen:
                result = provision.apply_plan(
                    items,
                    wal_dir=wal_dir,
                    max_parallel=self.inputs.max_parallel,
                    dry_run=self.inputs.dry_run,
                    providers=providers,
                    cancel=cancel,
                    shared=self.shared,
                    repository=made_for,
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
        """Fetch the latest WAL artifact of earlier runs and finish what it left unfinished;
        with `wal-mirror`, also what only the mirror holds (a runner lost before its upload).
        The local log comes first, then the artifact, then the mirror (`txn.mirror`)."""
        from dpn_action.txn import TxnStatus, status

        gh = self.gh
        name = self._restore_wal(gh, wal_dir) if gh is not None else None
        if name:
            self.wf.echo(f"dpn: restored the WAL from artifact {name}")
        pending = [
            r for r in status(wal_dir) if r.status in (TxnStatus.UNFINISHED, TxnStatus.CORRUPT)
        ]
        shared = self.shared
        if not pending and (shared is None or shared.mirror is None):
            return
        from dpn_action import provision

        if pending:
            self.wf.echo(f"dpn: recovering {len(pending)} unfinished transaction(s)")
        try:
            results = provision.recover(
                wal_dir=wal_dir, max_parallel=self.inputs.max_parallel, shared=shared
            )
        except MissingExtra:
            raise
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

    def _outcome_section(self, result: TxnResult, removed: TxnResult | None = None) -> list[str]:
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
        if removed is not None:
            verb = "archived" if removed.archived else "deleted"
            left = len(removed.kept) + len(removed.not_ours) + len(removed.left)
            icon = "✅" if removed.ok else "❌"
            lines += [
                f"{icon} Old names: {len(removed.deleted)} {verb}, {left} left "
                f"(`on-removed: {self.inputs.on_removed}`) · transaction "
                f"{cm.code(str(removed.txn_id or '-'))}",
                "",
            ]
        return lines

    def _print_findings(self, findings: list[Finding]) -> None:
        from dpn_action.formatters import format_text

        self.wf.untrusted(format_text(findings).splitlines())

    def recover_only(self) -> int:
        wal_dir = self.inputs.wal_dir
        gh = self.gh
        if gh is not None and not self.inputs.wal_mirror and not self._wal_artifacts(gh):
            # nothing of this environment to recover: no need to reach any cloud
            self.wf.echo("dpn: no WAL artifact of this environment: nothing left unfinished")
            return 0
        head = work_tree_side(Repo(self.cwd), self.inputs.settings)
        envs = set(self._scoped({p.environment: "" for p in head.items}))
        self._prepare_wal([p for p in head.items if p.environment in envs])
        self._restore_and_recover(wal_dir)
        self.wf.echo("dpn: nothing left unfinished")
        return 0


def _sha(sha: str) -> str:
    return f"`{sha[:12]}`" if re.fullmatch(r"[0-9a-f]{7,40}", sha) else "HEAD"


def _empty_hash() -> str:
    from dpn_action.plan import plan_hash

    return plan_hash([])


def _root_of(repo: Repo, flag: str | None) -> str | None:
    return root_relative(repo, flag) if flag else None


def render_apply_summary(result: TxnResult, artifact: str, title: str = "dpn apply") -> str:
    lines = [
        f"## {title}",
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
        ("archived" if result.archived else "deleted", result.deleted),
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
