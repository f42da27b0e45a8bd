"""Mode `preview`: names at the base and in the checkout for every affected blueprint, one
sticky comment per environment, annotations on changed lines, the whole preview in the job
summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dpn_action.github import comment as cm
from dpn_action.github.api import GitHubError
from dpn_action.github.context import Context
from dpn_action.github.event import PullRequest, pull_request, push
from dpn_action.github.git import Repo
from dpn_action.github.inputs import ActionError
from dpn_action.github.preview import EnvPreview, Preview, compute_preview
from dpn_action.plan import combined_hash

#: the preview artifact's file, and the version of its content
PREVIEW_FILE = "preview.json"
PREVIEW_VERSION = 1


class PreviewRun(Context):
    """One preview: compute, report, comment."""

    def run(self) -> int:
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
        if self.inputs.cloud_check:
            self._check_cloud(pv, pr)
        self._report_preview(repo, pv)
        hashes = {e.environment: e.plan_hash for e in pv.envs}
        self.wf.set("plan-hash", combined_hash(hashes))
        self.wf.set("has-changes", pv.has_changes)
        if pr is not None:
            self._keep_preview(pr, pv)
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

    def _check_cloud(self, pv: Preview, pr: PullRequest | None) -> None:
        """`cloud-check`: mark each planned resource of the previewed environments new,
        adopt or conflict; conflicts and failed reads become findings."""
        from dpn_action import provision

        if pr is not None and pr.from_fork:
            self.wf.command(
                "notice",
                "cloud-check is skipped for a fork's pull request: it runs without secrets.",
            )
            return
        head = pv.head
        if head is None:
            return
        envs = {e.environment for e in pv.envs}
        items = [p for p in head.items if p.environment in envs]
        docs = {bp.doc.path: bp.doc for bp in head.analysis.blueprints}
        try:
            statuses, found = provision.cloud_check(
                items, docs, max_parallel=self.inputs.max_parallel
            )
        except provision.ProviderSetupError as exc:
            raise ActionError("cloud-check", f"cloud-check could not reach a cloud: {exc}") from exc
        env_of = head.env_of()
        for e in pv.envs:
            e.cloud = {p.key: statuses[p.key] for p in items if p.environment == e.environment}
            e.findings += [f for f in found if env_of.get(f.file) == e.environment]
        pv.findings += found

    def _keep_preview(self, pr: PullRequest, pv: Preview) -> None:
        """Write the preview's plan where action.yml uploads it as an artifact
        (`DPN_PREVIEW_DIR`), for the comment workflow of a fork's pull request
        (`github/comment_run.py`), which checks it against its own computation."""
        where = self.env.get("DPN_PREVIEW_DIR")
        if not where:
            return
        directory = Path(where)
        directory.mkdir(parents=True, exist_ok=True)
        data = {
            "v": PREVIEW_VERSION,
            "pull_request": pr.number,
            "base_sha": pv.base_sha,
            "head_sha": pr.head_sha,
            "on_removed": self.inputs.on_removed,
            "envs": {e.environment: e.plan_hash for e in pv.envs},
        }
        (directory / PREVIEW_FILE).write_text(json.dumps(data, sort_keys=True), encoding="utf-8")

    def _post_preview(
        self, repo: Repo, pr: PullRequest, pv: Preview, commit: str | None = None
    ) -> None:
        gh = self.gh
        # A fork's pull request gets a read-only token; the comment workflow (mode comment)
        # writes for it with a token of its own.
        if gh is None or (pr.from_fork and self.inputs.mode != "comment"):
            why = (
                "no github-token was given"
                if gh is None
                else "this pull request comes from a fork, and its token may not comment; "
                "the comment workflow (examples/workflows/comment.yml) posts it"
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
            commit = commit or self.commit(repo)
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
            "on_removed": self.inputs.on_removed,
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
            notes=[*cm.cloud_note(e.cloud), *cm.removal_note(len(e.removing), e.on_removed)],
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
