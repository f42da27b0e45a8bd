"""The write-ahead log as a workflow artifact: its name, and finding it again.

An artifact is named `dpn-wal-<environment>-<where>-<run id>-<run attempt>`, `<where>` being
`provision.scope_label` of the accounts and workspaces the run acts in, and only an artifact
of the same environment and places, uploaded by a run on the default branch of this
repository, is ever restored: a WAL tells recovery what to delete.
"""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from dpn_action.github.api import GitHub
from dpn_action.github.context import Context
from dpn_action.github.inputs import ActionError
from dpn_action.plan import PlannedResource

WAL_ARTIFACT_PREFIX = "dpn-wal-"
#: Artifacts looked at when searching for the latest WAL (100 per page).
MAX_ARTIFACT_PAGES = 10


class WalArtifacts(Context):
    """Naming this run's WAL artifact and restoring the newest one of the same places."""

    #: `provision.scope_label` of where this run acts, once known (`_prepare_wal`)
    _wal_scope = ""

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
