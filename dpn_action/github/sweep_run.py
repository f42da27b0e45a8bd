"""Mode `sweep` (a scheduled workflow): find what dpn made that no blueprint on the default
branch describes any more (`dpn_action.sweep`); report it, or with `sweep-delete`, delete
it as a logged transaction that holds the lock (`lock`) and recovers what is unfinished
first. The WAL artifact of earlier runs (and the mirror) tells which transactions are
unfinished, so what they own is never swept."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from dpn_action.extras import MissingExtra
from dpn_action.github import comment as cm
from dpn_action.github.apply_run import render_apply_summary
from dpn_action.github.git import Repo
from dpn_action.github.inputs import ActionError
from dpn_action.github.preview import work_tree_side
from dpn_action.github.wal_artifact import WalArtifacts

if TYPE_CHECKING:
    from dpn_action.plan import PlannedResource
    from dpn_action.sweep import Report
    from dpn_action.txn.model import TxnResult


class SweepRun(WalArtifacts):
    """One sweep of the places the environment's blueprints act in."""

    def run(self) -> int:
        from dpn_action import sweep as sweeping
        from dpn_action.provision import ProviderSetupError

        self.wf.set("orphans", "[]")
        self.wf.set("swept", "[]")
        self.wf.set("has-changes", False)
        self._check_branch()
        head = work_tree_side(Repo(self.cwd), self.inputs.settings)
        errors = [f for f in head.findings if f.is_error]
        if errors:
            from dpn_action.formatters import format_text

            self.wf.untrusted(format_text(errors).splitlines())
            raise ActionError(
                "findings",
                f"{len(errors)} error finding(s) in the blueprints: the sweep needs to know "
                "what they describe; nothing swept",
            )
        items = head.items
        env = self.inputs.environment
        scoped = [p for p in items if not env or p.environment == env]
        if not scoped:
            # no blueprint says which clouds to look in (nor what they describe): nothing is
            # swept, as an apply of an environment without blueprints applies nothing
            where = f" of environment {env}" if env else ""
            self.wf.command(
                "notice",
                f"No blueprint{where} matches {self.inputs.blueprints!r}: nothing swept",
            )
            return 0
        made_for = self.made_for
        providers = self._prepare_wal(scoped)
        gh = self.gh
        name = self._restore_wal(gh, self.inputs.wal_dir) if gh is not None else None
        if name:
            self.wf.echo(f"dpn: restored the WAL from artifact {name}")
        try:
            report = sweeping.scan(
                items,
                type_items=scoped,
                wal_dir=self.inputs.wal_dir,
                older_than=self.inputs.sweep_older_than,
                shared=self.shared,
                max_parallel=self.inputs.max_parallel,
                providers=providers,
                repository=made_for,
            )
        except ProviderSetupError as exc:
            raise ActionError("sweep-failed", str(exc)) from exc
        self._log(report)
        if report.errors:
            self.wf.set("failure-reason", "sweep-failed")
            self.wf.command(
                "error",
                f"The sweep could not list everything ({len(report.errors)} failure(s)); "
                + ("nothing deleted." if self.inputs.sweep_delete else "the report is partial."),
            )
        result = None
        if self.inputs.sweep_delete and report.orphans and not report.errors:
            result = self._delete(report, items)
        self._outputs(report, result)
        self.wf.summary(render_sweep_summary(report, result, self.inputs.sweep_delete))
        if result is not None:
            self.wf.summary(render_apply_summary(result, self.artifact_name, title="dpn sweep"))
        ok = not report.errors and (result is None or result.ok)
        return 0 if ok else 1

    def _check_branch(self) -> None:
        """The blueprints say what stays: only those of the default branch may."""
        branch = self._default_branch()
        ref = self.env.get("GITHUB_REF_NAME", "")
        if branch and ref and ref != branch:
            raise ActionError(
                "usage",
                f"sweep runs on the default branch ({branch}), whose blueprints say what "
                f"stays, not on {ref}",
            )

    def _default_branch(self) -> str | None:
        found = super()._default_branch()
        if found is None and self.event_name == "schedule":
            # a schedule's payload names no repository; it runs on the default branch
            ref = self.env.get("GITHUB_REF", "")
            return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
        return found

    def _log(self, report: Report) -> None:
        from dpn_action.sweep import DESCRIBED, format_age

        places = "; ".join(
            f"{cloud} " + ", ".join(f"{k} {v}" for k, v in sorted(place.items()))
            for cloud, place in sorted(report.places.items())
        )
        self.wf.echo(f"dpn: sweep in {places or 'no cloud'}: {len(report.types)} type(s) listed")
        self.wf.untrusted(
            f"dpn: {f.verdict}: {f.key} ({f.state.transaction_id}, {format_age(f.age)}): {f.note}"
            for f in report.found
            if f.verdict != DESCRIBED
        )
        by_reason: dict[str, list[str]] = {}
        for type_key, why in sorted(report.not_swept.items()):
            by_reason.setdefault(why, []).append(type_key)
        for why, keys in by_reason.items():
            self.wf.command("warning", f"Not swept: {', '.join(keys)}: {why}")
        self.wf.untrusted(f"dpn: error: {what}: {why}" for what, why in report.errors.items())
        orphans = report.orphans
        if orphans and not self.inputs.sweep_delete:
            shown = ", ".join(f.key for f in orphans[:20]) + (" ..." if len(orphans) > 20 else "")
            self.wf.command(
                "warning",
                f"{len(orphans)} resource(s) no blueprint describes, older than "
                f"{format_age(report.older_than)}: {shown} (report only; sweep-delete: true "
                "deletes them)",
            )

    def _delete(self, report: Report, items: list[PlannedResource]) -> TxnResult:
        from dpn_action import sweep as sweeping
        from dpn_action.txn.model import Cancel
        from dpn_action.txn.signals import interruptible

        self.wf.echo(f"dpn: deleting {len(report.orphans)} orphan(s)")
        cancel = Cancel()
        try:
            with interruptible(cancel) as seen:
                result = sweeping.delete(
                    report,
                    items=items,
                    wal_dir=self.inputs.wal_dir,
                    max_parallel=self.inputs.max_parallel,
                    cancel=cancel,
                    shared=self.shared,
                )
        except MissingExtra:
            raise
        except Exception as exc:  # every failure of the transaction core is reported
            raise ActionError("sweep-failed", f"the sweep could not run: {exc}") from exc
        for r in result.recovered:
            self.wf.echo(f"dpn: recovered transaction {r.txn_id}: {r.status}")
        self.wf.echo(f"dpn: transaction {result.txn_id or '-'}: {result.status}")
        if not result.ok:
            self.wf.set(
                "failure-reason", "cancelled" if seen.signum is not None else "sweep-failed"
            )
            self.wf.command("error", f"The sweep ended {result.status}: {result.error or ''}")
        return result

    def _outputs(self, report: Report, result: TxnResult | None) -> None:
        deleted = set(result.deleted) if result is not None else set()
        left = sorted(f.key for f in report.orphans if f.key not in deleted)
        self.wf.set("orphans", json.dumps(left))
        self.wf.set("swept", json.dumps(sorted(deleted)))
        self.wf.set("has-changes", bool(deleted))


def render_sweep_summary(report: Report, result: TxnResult | None, deleting: bool) -> str:
    """The job summary: every orphan, what is kept and why (but what a blueprint
    describes), the types not swept, and failures."""
    from dpn_action.sweep import DESCRIBED, ORPHAN, format_age

    deleted = set(result.deleted) if result is not None else set()
    lines = ["## dpn sweep", ""]
    places = ", ".join(
        f"{cloud} " + " ".join(cm.code(str(v)) for _, v in sorted(place.items()))
        for cloud, place in sorted(report.places.items())
    )
    orphans = report.orphans
    mode = "deleted when dpn's mark is still on them" if deleting else "report only"
    lines += [
        f"In {places or 'no cloud'}: {len(report.types)} type(s) listed, "
        f"{len(report.found)} resource(s) with dpn's mark, {len(orphans)} orphan(s) older "
        f"than {format_age(report.older_than)} ({mode}).",
        "",
    ]
    rows = [f for f in report.found if f.verdict != DESCRIBED]
    if rows:
        lines += ["| resource | verdict | transaction | age | why |", "|---|---|---|---|---|"]
        for f in rows:
            verdict = "deleted" if f.key in deleted else f.verdict
            if f.verdict == ORPHAN and result is not None and f.key not in deleted:
                verdict = "orphan: kept"
            lines.append(
                f"| {cm.code(f.key, table=True)} | {verdict} | "
                f"{cm.code(str(f.state.transaction_id), table=True)} | {format_age(f.age)} | "
                f"{cm.code(f.note, table=True)} |"
            )
        lines.append("")
    if report.not_swept:
        lines += ["**Not swept**", ""]
        lines += [f"- {cm.code(t)}: {why}" for t, why in sorted(report.not_swept.items())]
        lines.append("")
    if report.errors:
        lines += ["**Failures**", ""]
        lines += [
            f"- {cm.code(w)}: {cm.code(why, limit=500)}" for w, why in sorted(report.errors.items())
        ]
        lines.append("")
    return "\n".join(lines)
