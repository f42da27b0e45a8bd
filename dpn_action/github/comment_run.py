"""Mode `comment`: the sticky comment of a fork's pull request, from a `workflow_run` job.

A pull request from a fork runs its preview with a read-only token and no secrets: it cannot
comment, so it keeps its plan as an artifact (`dpn-preview-*`, a `preview.json`). A second
workflow, on `workflow_run` of the preview, runs this mode in the base repository with a
token that may write. It never checks out or runs the pull request's code, and it treats the
artifact as untrusted data:

* the pull request is found by the run's head commit and head repository (for a fork,
  `workflow_run.pull_requests` is empty), never by a number the artifact claims;
* the artifact is size-limited, must hold exactly `preview.json`, and is validated field by
  field;
* the names are computed again here, by this repository's dpn, from the pull request's
  commit read as git objects (no checkout, no code of the pull request runs), and the
  comment shows only what was computed here, escaped as always. The artifact's plan hashes
  must equal the ones computed here, else nothing is posted (`preview-mismatch`): a preview
  whose comment shows one plan while another would be applied is impossible.

After the merge the apply finds this comment exactly as it finds one the preview wrote.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from dpn_action.github.api import GitHub
from dpn_action.github.event import EventError, PullRequest, pull_request
from dpn_action.github.git import Repo
from dpn_action.github.inputs import ActionError
from dpn_action.github.preview import compute_preview
from dpn_action.github.preview_run import PREVIEW_FILE, PREVIEW_VERSION, PreviewRun
from dpn_action.plan import combined_hash

#: the preview artifacts' name prefix (one per environment label of the preview job)
PREVIEW_ARTIFACT = "dpn-preview-"
#: the most an artifact (zip) and its preview.json may weigh
MAX_ARTIFACT_BYTES = 1024 * 1024
MAX_PREVIEW_BYTES = 256 * 1024
MAX_ENVIRONMENTS = 200
_SHA = re.compile(r"[0-9a-f]{40}")
_HASH = re.compile(r"[0-9a-f]{64}")


class CommentRun(PreviewRun):
    """Comment on a pull request for the preview run that `workflow_run` names."""

    def run(self) -> int:
        if self.event_name != "workflow_run":
            raise ActionError("usage", "mode comment runs on workflow_run")
        gh = self.gh
        if gh is None:
            raise ActionError("usage", "mode comment needs a github-token that may comment")
        run = self.payload.get("workflow_run")
        if not isinstance(run, dict) or not isinstance(run.get("id"), int):
            raise EventError("the event payload has no workflow_run.id")
        head_sha = str(run.get("head_sha") or "")
        head_repo = (run.get("head_repository") or {}).get("full_name")
        if not _SHA.fullmatch(head_sha) or not isinstance(head_repo, str):
            raise EventError("the event payload's workflow_run has no head_sha or head repository")
        pr = self._pull_request(gh, head_sha, head_repo)
        if pr is None:
            self.wf.command("notice", f"No open pull request has head {head_sha[:12]}: no comment.")
            return 0
        claimed = self._artifact_plans(gh, int(run["id"]), head_sha, pr)
        repo = Repo(self.cwd, token=self.inputs.token)
        for sha, ref in ((pr.base_sha, None), (head_sha, f"pull/{pr.number}/head")):
            if not repo.ensure_commit(sha, ref):
                raise ActionError(
                    "base-missing",
                    f"commit {sha[:12]} of pull request #{pr.number} is not in the clone "
                    "(check out with `fetch-depth: 0`)",
                )
        merge_base = repo.merge_base(pr.base_sha, head_sha) or pr.base_sha
        pv = compute_preview(repo, merge_base, self.inputs.settings, head_sha=head_sha)
        if self.inputs.environment:
            pv.envs = [e for e in pv.envs if e.environment == self.inputs.environment]
        ours = {e.environment: e.plan_hash for e in pv.envs}
        only = self.inputs.environment
        theirs = {e: h for e, h in claimed.items() if not only or e == only}
        if theirs != ours:
            raise ActionError(
                "preview-mismatch",
                f"the preview artifact of run {run['id']} does not match pull request "
                f"#{pr.number} at {head_sha[:12]} as computed here (plans {sorted(theirs)} "
                f"vs {sorted(ours)}): nothing posted",
            )
        self._report_preview(repo, pv)
        self.wf.set("plan-hash", combined_hash(ours))
        self.wf.set("has-changes", pv.has_changes)
        if pv.head is not None:
            self._post_preview(repo, pr, pv, commit=head_sha)
        return 0

    def _pull_request(self, gh: GitHub, head_sha: str, head_repo: str) -> PullRequest | None:
        """The open pull request whose head is `head_sha` in `head_repo`."""
        for found in gh.open_pulls():
            head = found.get("head") if isinstance(found, dict) else None
            repo = head.get("repo") if isinstance(head, dict) else None
            if not isinstance(head, dict) or head.get("sha") != head_sha:
                continue
            if not isinstance(repo, dict) or repo.get("full_name") != head_repo:
                continue
            return pull_request({"pull_request": found})
        return None

    def _artifact_plans(
        self, gh: GitHub, run_id: int, head_sha: str, pr: PullRequest
    ) -> dict[str, str]:
        """environment -> plan hash, from the run's preview artifacts, checked as untrusted
        data. Raises `ActionError("preview-artifact")` for anything unexpected."""
        plans: dict[str, str] = {}
        found = [
            a
            for a in gh.run_artifacts(run_id)
            if str(a.get("name", "")).startswith(PREVIEW_ARTIFACT) and not a.get("expired")
        ]
        if not found:
            raise ActionError("preview-artifact", f"run {run_id} kept no preview artifact")
        for art in found:
            if int(art.get("size_in_bytes") or 0) > MAX_ARTIFACT_BYTES:
                raise ActionError("preview-artifact", f"artifact {art.get('name')} is too large")
            data = read_preview(gh.download_artifact(int(art["id"])))
            if data["head_sha"] != head_sha:
                raise ActionError(
                    "preview-artifact",
                    f"artifact {art.get('name')} is for commit {data['head_sha'][:12]}, "
                    f"not the run's {head_sha[:12]}",
                )
            if data["pull_request"] != pr.number:
                self.wf.command(
                    "warning",
                    f"The preview artifact names pull request #{data['pull_request']}; the "
                    f"run's head commit belongs to #{pr.number}, which is used.",
                )
            plans.update(data["envs"])
        return plans


def read_preview(archive: bytes) -> dict[str, Any]:
    """The preview artifact's `preview.json`, validated: exactly one file of that name,
    within size limits, and every field of the expected type and form."""
    if len(archive) > MAX_ARTIFACT_BYTES:
        raise ActionError("preview-artifact", "the preview artifact is too large")
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            infos = zf.infolist()
            if [i.filename for i in infos] != [PREVIEW_FILE]:
                raise ActionError(
                    "preview-artifact",
                    f"the preview artifact must hold only {PREVIEW_FILE}, not "
                    + ", ".join(repr(i.filename) for i in infos[:5]),
                )
            if infos[0].file_size > MAX_PREVIEW_BYTES:
                raise ActionError("preview-artifact", f"{PREVIEW_FILE} is too large")
            with zf.open(infos[0]) as fh:
                raw = fh.read(MAX_PREVIEW_BYTES + 1)
    except zipfile.BadZipFile as exc:
        raise ActionError("preview-artifact", f"the preview artifact is not a zip: {exc}") from None
    if len(raw) > MAX_PREVIEW_BYTES:
        raise ActionError("preview-artifact", f"{PREVIEW_FILE} is too large")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ActionError("preview-artifact", f"{PREVIEW_FILE} is not JSON: {exc}") from None
    problems = _problems(data)
    if problems:
        raise ActionError("preview-artifact", f"{PREVIEW_FILE}: {problems}")
    return dict(data)


def _problems(data: Any) -> str:
    if not isinstance(data, dict):
        return "not an object"
    if data.get("v") != PREVIEW_VERSION:
        return f"version {data.get('v')!r}, expected {PREVIEW_VERSION}"
    for key in ("base_sha", "head_sha"):
        if not isinstance(data.get(key), str) or not _SHA.fullmatch(data[key]):
            return f"{key} is not a commit id"
    number = data.get("pull_request")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        return "pull_request is not a number"
    envs = data.get("envs")
    if not isinstance(envs, dict) or len(envs) > MAX_ENVIRONMENTS:
        return "envs is not a map of environments"
    for env, h in envs.items():
        if not isinstance(env, str) or len(env) > 200:
            return "an environment name is not short text"
        if not isinstance(h, str) or not _HASH.fullmatch(h):
            return f"the plan hash of {env[:40]!r} is not a SHA-256"
    return ""
