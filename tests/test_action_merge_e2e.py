"""The merge path with the example workflows themselves, end to end under `act`.

`examples/workflows/preview.yml`, `comment.yml`, `apply.yml` and `sweep.yml` are committed
into a test repository as a team would copy them, with two edits a test needs: the action's
reference points at this checkout, and the GitHub API and token are the loopback server's
(the examples take GitHub's own). `on-removed` is set to delete in all three that take it,
as a team would.

The story: #21 comes from a fork. Its preview runs with a read-only token and keeps its plan
as an artifact; the comment workflow (`workflow_run`) posts the sticky comment from it after
computing the names itself; the merge applies it. #22 renames the bucket: the merge creates
the new one and deletes the old. #23 renames it again, and the apply is killed between the
creates and the deletes; the re-run finishes the deletes. #24 is merged without any preview
and is refused. Hostile preview artifacts are refused or rendered inert. Last, the weekly
sweep (dpn-sweep.yml) reports an old orphan, and a run by hand with "delete" ticked deletes
it.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import zipfile
from typing import Any

import pytest
from test_action_e2e import (
    ACTION_REF,
    DEFAULT_BRANCH,
    OWNER_REPO,
    ROOT,
    Repo,
    World,
    _aws,
    _examples,
    _ours,
    fork_payload,
    merged_payload,
    pr_payload,
    push_payload,
    validated,
    world,  # noqa: F401 - the module's fixture
)

from dpn_action import __version__
from dpn_action.github.comment import parse_header

FORK = "forker/Hello-World"
VARIABLES = {"DPN_AWS_REGION": "us-east-1"}

VALUES = 'version: "1.0"\ndefaults: {project: merge}\n'


def dev(purpose: str) -> str:
    return f"""version: "1.0"
metadata: {{environment: dev, project: merge, region: us-east-1}}
resources:
  aws:
    s3_buckets:
      - {{purpose: {purpose}, layer: raw}}
"""


#: the step a test adds after the action, to read its outputs (of the dev job of a matrix)
OUTPUTS_STEP = """
      - if: always() && (!matrix.environment || matrix.environment == 'dev')
        shell: bash
        env:
          OUTPUTS: ${{ toJSON(steps.dpn.outputs) }}
        run: printf '%s' "$OUTPUTS" > "$DPN_TEST_OUTPUTS"
"""


def example(name: str) -> str:
    """An example workflow as a team copies it, pointed at this checkout and the loopback
    GitHub API, with on-removed: delete; plus a last step that keeps the action's outputs
    for the test."""
    text = (ROOT / "examples" / "workflows" / name).read_text()
    pinned = f"dpn-dev/dpn@v{__version__}"
    assert pinned in text, name
    text = text.replace(pinned, ACTION_REF)
    text = text.replace("on-removed: keep", "on-removed: delete")
    text, n = re.subn(
        r"(\n(\s+)mode: \w+\n)",
        r"\1\2github-token: ${{ vars.DPN_TEST_TOKEN }}\n\2api-url: ${{ vars.DPN_TEST_API_URL }}\n",
        text,
    )
    assert n == 1, name
    if name == "preview.yml":  # a team turns it on where the job has read-only credentials
        check = "${{ vars.DPN_TEST_CLOUD_CHECK || 'false' }}"
        text = text.replace(
            "          mode: preview\n",
            f"          mode: preview\n          cloud-check: {check}\n",
        )
    if "id: dpn" not in text:
        text = re.sub(rf"(\n(\s+)- uses: {re.escape(ACTION_REF)}.*\n)", r"\1\2  id: dpn\n", text)
    assert "id: dpn" in text, name
    return text.rstrip("\n") + "\n" + OUTPUTS_STEP


def workflow_run_payload(run_id: int, head_sha: str, branch: str, head_repo: str) -> Any:
    """`workflow_run` `completed` of the preview workflow, from GitHub's example."""
    ex = next(e for e in _examples()["workflow_run"] if e["action"] == "completed")
    ex = json.loads(json.dumps(ex))
    run = ex["workflow_run"]
    run.update(
        id=run_id,
        name="dpn preview",
        event="pull_request",
        head_sha=head_sha,
        head_branch=branch,
        conclusion="success",
        pull_requests=[],  # always empty for a fork's pull request
    )
    # fields GitHub has added since the example was recorded
    run["actor"] = run["triggering_actor"] = json.loads(json.dumps(ex["sender"]))
    run["path"] = ".github/workflows/dpn-preview.yml"
    run["display_title"] = f"preview of {branch}"
    run["head_repository"]["full_name"] = head_repo
    run["head_repository"]["owner"]["login"] = head_repo.split("/")[0]
    run["repository"]["full_name"] = OWNER_REPO
    ex["workflow"]["name"] = "dpn preview"
    push = next(e for e in _examples()["push"] if e["ref"] == f"refs/heads/{DEFAULT_BRANCH}")
    ex["repository"] = json.loads(json.dumps(push["repository"]))
    ex.pop("organization", None)
    return validated(ex, "workflow_run$completed")


class Story:
    def __init__(self, on: World, repo: Repo, base: str) -> None:
        self.world = on
        self.repo = repo
        self.base = base
        self.runs: dict[str, Any] = {}
        self.shas: dict[str, str] = {}
        self.seen: dict[str, Any] = {}

    def act(self, key: str, event: str, payload: Any, run_id: int, **kw: Any) -> Any:
        kw.setdefault("variables", VARIABLES)
        self.runs[key] = self.world.act(self.repo.path, event, payload, run_id=run_id, **kw)
        return self.runs[key]

    def buckets(self) -> list[str]:
        s3 = _aws(self.world, "s3", "us-east-1")
        return sorted(
            b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("merge-")
        )


@pytest.fixture(scope="module")
def story(world: World) -> Story:  # noqa: F811 - `world` is the fixture imported above
    repo = Repo(world.tmp / "merge-repo")
    base = repo.commit(
        "dpn setup",
        {
            ".github/workflows/dpn-preview.yml": example("preview.yml"),
            ".github/workflows/dpn-comment.yml": example("comment.yml"),
            ".github/workflows/dpn-apply.yml": example("apply.yml"),
            ".github/workflows/dpn-sweep.yml": example("sweep.yml"),
            ".dpn/naming-values.yaml": VALUES,
            "README.md": "# merge\n",
        },
    )
    return Story(world, repo, base)


@pytest.fixture(scope="module")
def fork21(story: Story) -> Story:
    """#21 from a fork adds a bucket: preview (read-only), comment (workflow_run), merge."""
    state, repo = story.world.state, story.repo
    read_only = "ghs_" + secrets.token_hex(18)
    state.read_only_tokens.add(read_only)
    repo.git("checkout", "-q", "-b", "fork/landing")
    head = repo.commit("landing bucket", {"blueprints/dev.yaml": dev("landing")})
    story.shas["pr21"] = head
    story.act(
        "preview21",
        "pull_request",
        fork_payload(21, story.base, head, "fork/landing"),
        401,
        token=read_only,
    )
    story.seen["after-preview21"] = list(state.thread(21))
    state.add_open_pull(21, head, story.base, FORK, "fork/landing")
    story.act(
        "comment21", "workflow_run", workflow_run_payload(401, head, "fork/landing", FORK), 501
    )
    merge = repo.merge("fork/landing", "Merge pull request #21 from forker/fork/landing")
    state.open_pulls.clear()
    state.add_merged_pull(
        merge, merged_payload(21, story.base, head, "fork/landing", merge)["pull_request"]
    )
    story.shas["merge21"] = merge
    story.act("apply21", "push", push_payload(story.base, merge), 601)
    story.seen["buckets21"] = story.buckets()
    return story


def _renaming_pr(story: Story, number: int, purpose: str, run_id: int) -> tuple[str, str, Any]:
    repo = story.repo
    start = repo.git("rev-parse", DEFAULT_BRANCH)
    branch = f"feature/{purpose}"
    repo.git("checkout", "-q", "-b", branch, DEFAULT_BRANCH)
    head = repo.commit(f"rename the bucket to {purpose}", {"blueprints/dev.yaml": dev(purpose)})
    story.act(f"preview{number}", "pull_request", pr_payload(number, start, head, branch), run_id)
    merge = repo.merge(branch, f"Merge pull request #{number} from Codertocat/{branch}")
    story.world.state.add_merged_pull(
        merge, merged_payload(number, start, head, branch, merge)["pull_request"]
    )
    return start, merge, push_payload(start, merge)


@pytest.fixture(scope="module")
def rename22(fork21: Story) -> Story:
    """#22 renames the bucket; with on-removed: delete the merge deletes the old one."""
    _, _, push = _renaming_pr(fork21, 22, "intake", 402)
    fork21.act("apply22", "push", push, 602)
    fork21.seen["buckets22"] = fork21.buckets()
    return fork21


@pytest.fixture(scope="module")
def crash23(rename22: Story) -> Story:
    """#23 renames it again; the apply is killed right after the creates committed, before
    the deletes began; the re-run of the job finishes."""
    _, _, push = _renaming_pr(rename22, 23, "arrivals", 403)
    rename22.act("apply23", "push", push, 603, env={"DPN_TEST_CRASH_AT": "after-end"})
    rename22.seen["buckets23-crash"] = rename22.buckets()
    rename22.act("apply23-rerun", "push", push, 603, attempt=2)
    rename22.seen["buckets23"] = rename22.buckets()
    return rename22


@pytest.fixture(scope="module")
def unreviewed24(crash23: Story) -> Story:
    """#24 is merged without any preview."""
    repo = crash23.repo
    start = repo.git("rev-parse", DEFAULT_BRANCH)
    repo.git("checkout", "-q", "-b", "feature/quiet", DEFAULT_BRANCH)
    head = repo.commit("quiet bucket", {"blueprints/quiet.yaml": dev("quiet")})
    merge = repo.merge("feature/quiet", "Merge pull request #24 from Codertocat/feature/quiet")
    crash23.world.state.add_merged_pull(
        merge, merged_payload(24, start, head, "feature/quiet", merge)["pull_request"]
    )
    crash23.act("apply24", "push", push_payload(start, merge), 604)
    return crash23


# ------------------------------------------------------------------------------ the fork


def test_a_forks_preview_cannot_comment_and_keeps_its_plan(fork21: Story) -> None:
    run = fork21.runs["preview21"]
    assert run.rc == 0, run.log
    assert fork21.seen["after-preview21"] == []
    assert "the comment workflow (examples/workflows/comment.yml) posts it" in run.log
    (art,) = [a for a in fork21.world.state.artifacts if a.run_id == 401]
    assert art.name == "dpn-preview-all"
    data = json.loads(zipfile.ZipFile(io.BytesIO(art.data)).read("preview.json"))
    assert data["head_sha"] == fork21.shas["pr21"] and data["pull_request"] == 21


def test_the_comment_workflow_posts_the_forks_comment(fork21: Story) -> None:
    run = fork21.runs["comment21"]
    assert run.rc == 0, run.log
    assert run.outputs["mode"] == "comment"
    (comment,) = _ours(fork21.world, 21, "dev")
    header = parse_header(comment["body"]) or {}
    assert header["pr_head"] == header["commit"] == fork21.shas["pr21"]
    assert header["plan_hash"] == run.outputs["plan-hash"]
    assert "merge-landing-raw-dev-use1" in comment["body"]


def test_the_forks_merge_finds_the_approved_plan_and_applies_it(fork21: Story) -> None:
    run = fork21.runs["apply21"]
    assert run.rc == 0, run.log
    assert run.outputs["failure-reason"] == ""
    assert fork21.seen["buckets21"] == ["merge-landing-raw-dev-use1"]
    body = _ours(fork21.world, 21, "dev")[0]["body"]
    assert "#### ✅ Applied: COMMITTED" in body


# ------------------------------------------------------------------------ renames, removals


def test_the_rename_preview_says_the_old_name_is_deleted_on_merge(rename22: Story) -> None:
    body = _ours(rename22.world, 22, "dev")[0]["body"]
    assert "On merge, the 1 old name this change removes or renames are **deleted**" in body
    assert (parse_header(body) or {})["on_removed"] == "delete"


def test_a_rename_with_on_removed_delete_leaves_only_the_new_bucket(rename22: Story) -> None:
    run = rename22.runs["apply22"]
    assert run.rc == 0, run.log
    assert rename22.seen["buckets22"] == ["merge-intake-raw-dev-use1"]
    assert json.loads(run.outputs["orphans"]) == []
    wal = next(a for a in rename22.world.state.artifacts if a.run_id == 602 and "wal" in a.name)
    logs = [
        zipfile.ZipFile(io.BytesIO(wal.data)).read(n).decode()
        for n in zipfile.ZipFile(io.BytesIO(wal.data)).namelist()
    ]
    deletes = [log for log in logs if '"kind":"delete"' in log]
    assert len(deletes) == 1 and "aws_s3_bucket:merge-landing-raw-dev-use1" in deletes[0]
    assert '"status":"DELETED"' in deletes[0]


def test_a_crash_between_the_creates_and_the_deletes_is_finished_by_the_rerun(
    crash23: Story,
) -> None:
    assert crash23.runs["apply23"].rc != 0
    # killed after the create committed: both names exist
    assert crash23.seen["buckets23-crash"] == [
        "merge-arrivals-raw-dev-use1",
        "merge-intake-raw-dev-use1",
    ]
    rerun = crash23.runs["apply23-rerun"]
    assert rerun.rc == 0, rerun.log
    assert crash23.seen["buckets23"] == ["merge-arrivals-raw-dev-use1"]


def test_a_merge_without_any_preview_is_refused(unreviewed24: Story) -> None:
    run = unreviewed24.runs["apply24"]
    assert run.rc != 0
    assert run.outputs["failure-reason"] == "no-approved-plan"
    assert "merge-quiet-raw-dev-use1" not in unreviewed24.buckets()


# -------------------------------------------------------------------- hostile artifacts


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _preview(head: str, base: str, **over: Any) -> bytes:
    data = {"v": 1, "pull_request": 25, "base_sha": base, "head_sha": head, "envs": {}}
    data.update(over)
    return json.dumps(data).encode()


@pytest.fixture(scope="module")
def hostile(unreviewed24: Story) -> dict[str, Any]:
    """Comment runs over preview artifacts a hostile fork could upload instead of dpn's."""
    story, state = unreviewed24, unreviewed24.world.state
    repo = story.repo
    start = repo.git("rev-parse", DEFAULT_BRANCH)
    repo.git("checkout", "-q", "-b", "fork/hostile", DEFAULT_BRANCH)
    head = repo.commit("lake bucket", {"blueprints/lake.yaml": dev("lake")})
    state.open_pulls.clear()
    state.add_open_pull(25, head, start, FORK, "fork/hostile")
    ok = json.loads(_preview(head, start).decode())
    # the real plan hash, as dpn's preview computes it
    from dpn_action.github.git import Repo as GitRepo
    from dpn_action.github.preview import Settings, compute_preview

    pv = compute_preview(GitRepo(repo.path), start, Settings(on_removed="delete"), head_sha=head)
    ok["envs"] = {e.environment: e.plan_hash for e in pv.envs}
    cases = {
        "extra-file": _zip({"preview.json": json.dumps(ok).encode(), "run.sh": b"curl evil"}),
        "oversized": _zip({"preview.json": b" " * (300 * 1024) + json.dumps(ok).encode()}),
        "forged-hash": _zip(
            {"preview.json": json.dumps({**ok, "envs": {"dev": "0" * 64}}).encode()}
        ),
        "markup": _zip(
            {"preview.json": json.dumps({**ok, "envs": {"<img src=x>": "a" * 64}}).encode()}
        ),
        "forged-number": _zip({"preview.json": json.dumps({**ok, "pull_request": 1}).encode()}),
    }
    out: dict[str, Any] = {}
    for i, (case, blob) in enumerate(cases.items()):
        run_id = 700 + i
        state.add_artifact("dpn-preview-all", blob, run_id=run_id, head_branch="fork/hostile")
        before = len(state.thread(25))
        out[case] = story.act(
            f"hostile-{case}",
            "workflow_run",
            workflow_run_payload(run_id, head, "fork/hostile", FORK),
            800 + i,
        )
        out[f"{case}-comments"] = len(state.thread(25)) - before
    return out


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("extra-file", "preview-artifact"),
        ("oversized", "preview-artifact"),
        ("forged-hash", "preview-mismatch"),
        ("markup", "preview-mismatch"),
    ],
)
def test_a_hostile_preview_artifact_is_refused(
    hostile: dict[str, Any], case: str, reason: str
) -> None:
    run = hostile[case]
    assert run.rc != 0
    assert run.outputs["failure-reason"] == reason
    assert hostile[f"{case}-comments"] == 0


def test_a_forged_pull_request_number_is_ignored_for_the_head_commits_own(
    hostile: dict[str, Any], unreviewed24: Story
) -> None:
    run = hostile["forged-number"]
    assert run.rc == 0, run.log
    assert "names pull request #1; the run's head commit belongs to #25" in run.log
    assert unreviewed24.world.state.thread(1) == []
    assert len(_ours(unreviewed24.world, 25, "dev")) == 1


# ------------------------------------------------------------------------ cloud check


@pytest.fixture(scope="module")
def cloud26(unreviewed24: Story) -> Story:
    """#26 adds three buckets; before its preview (with cloud-check) one name is taken by
    someone else's bucket and one by a bucket that carries dpn's mark."""
    story = unreviewed24
    repo = story.repo
    s3 = _aws(story.world, "s3", "us-east-1")
    s3.create_bucket(Bucket="merge-held-raw-dev-use1")
    s3.create_bucket(Bucket="merge-ours-raw-dev-use1")
    s3.put_bucket_tagging(
        Bucket="merge-ours-raw-dev-use1",
        Tagging={"TagSet": [{"Key": "managed-by", "Value": "dpn"}]},
    )
    start = repo.git("rev-parse", DEFAULT_BRANCH)
    repo.git("checkout", "-q", "-b", "feature/three", DEFAULT_BRANCH)
    three = "".join(dev(p).split("s3_buckets:\n")[1] for p in ("held", "ours", "fresh"))
    text = dev("x").split("    s3_buckets:\n")[0] + "    s3_buckets:\n" + three
    head = repo.commit("three buckets", {"blueprints/three.yaml": text})
    story.act(
        "preview26",
        "pull_request",
        pr_payload(26, start, head, "feature/three"),
        405,
        variables={**VARIABLES, "DPN_TEST_CLOUD_CHECK": "true"},
    )
    repo.git("checkout", "-q", DEFAULT_BRANCH)
    return story


def test_cloud_check_marks_a_taken_name_a_conflict_in_the_comment(cloud26: Story) -> None:
    run = cloud26.runs["preview26"]
    assert run.rc != 0 and run.outputs["failure-reason"] == "findings"
    body = _ours(cloud26.world, 26, "dev")[0]["body"]
    # every planned resource of dev: fresh and #24's unapplied quiet are new; the applied
    # arrivals bucket and the marked one are dpn's; held is someone else's
    assert (
        "Cloud check: 2 new · 2 already dpn's (adopted on merge) · **1 held by something else**"
        in body
    )
    assert "DPN140" in body and "merge-held-raw-dev-use1" in body
    # a preview only reads: nothing was created
    assert "merge-fresh-raw-dev-use1" not in cloud26.buckets()


# ------------------------------------------------------------------------------ the sweep

#: a transaction of years ago, as the mark of a long-lost run's resource carries it
OLD_TXN = "20200102T030405060708Z-0badc0de"


@pytest.fixture(scope="module")
def sweep27(cloud26: Story) -> Story:
    """An orphan of a long-lost run: a bucket with dpn's mark of years ago that no blueprint
    describes. The Monday schedule of dpn-sweep.yml reports it; a run by hand with "delete"
    ticked deletes it. Everything else dpn made in this account is younger than 6 hours,
    and what carries dpn's mark without a transaction (#26's `ours`) has no age."""
    story = cloud26
    s3 = _aws(story.world, "s3", "us-east-1")
    s3.create_bucket(Bucket="merge-old-raw-dev-use1")
    marks = [{"Key": "managed-by", "Value": "dpn"}, {"Key": "dpn-transaction", "Value": OLD_TXN}]
    s3.put_bucket_tagging(Bucket="merge-old-raw-dev-use1", Tagging={"TagSet": marks})
    only_dev = ("--matrix", "environment:dev")
    story.act("sweep27", "schedule", {"schedule": "17 3 * * 1"}, 901, args=only_dev)
    story.seen["buckets27-report"] = story.buckets()
    dispatch = next(iter(_examples()["workflow_dispatch"]))
    dispatch = json.loads(json.dumps(dispatch))
    dispatch["ref"] = f"refs/heads/{DEFAULT_BRANCH}"
    # the repository as the push example (which the schema takes) has it: default branch too
    push = next(e for e in _examples()["push"] if e["ref"] == f"refs/heads/{DEFAULT_BRANCH}")
    dispatch["repository"] = json.loads(json.dumps(push["repository"]))
    dispatch["inputs"] = {"delete": "true", "older-than": "6h"}
    dispatch["workflow"] = ".github/workflows/dpn-sweep.yml"
    dispatch = validated(dispatch, "workflow_dispatch$event")
    story.act("sweep27-delete", "workflow_dispatch", dispatch, 902, args=only_dev)
    story.seen["buckets27"] = story.buckets()
    return story


def test_the_weekly_sweep_reports_an_old_orphan_and_deletes_nothing(sweep27: Story) -> None:
    run = sweep27.runs["sweep27"]
    assert run.rc == 0, run.log
    assert run.outputs["mode"] == "sweep"
    assert json.loads(run.outputs["orphans"]) == ["aws_s3_bucket:merge-old-raw-dev-use1"]
    assert run.outputs["swept"] == "[]"
    assert "1 resource(s) no blueprint describes, older than 6h" in run.log
    # the job summary, as act prints it
    assert "| `aws_s3_bucket:merge-old-raw-dev-use1` | orphan |" in run.log
    assert "| `aws_s3_bucket:merge-ours-raw-dev-use1` | undated |" in run.log
    assert "merge-old-raw-dev-use1" in sweep27.seen["buckets27-report"]


def test_a_sweep_run_by_hand_with_delete_ticked_deletes_the_orphan_only(sweep27: Story) -> None:
    run = sweep27.runs["sweep27-delete"]
    assert run.rc == 0, run.log
    assert json.loads(run.outputs["swept"]) == ["aws_s3_bucket:merge-old-raw-dev-use1"]
    assert run.outputs["orphans"] == "[]"
    before = set(sweep27.seen["buckets27-report"])
    assert set(sweep27.seen["buckets27"]) == before - {"merge-old-raw-dev-use1"}
    # its log is kept as the environment's WAL artifact, like an apply's
    (wal,) = [a for a in sweep27.world.state.artifacts if a.run_id == 902 and "wal" in a.name]
    logs = [
        zipfile.ZipFile(io.BytesIO(wal.data)).read(n).decode()
        for n in zipfile.ZipFile(io.BytesIO(wal.data)).namelist()
    ]
    assert any('"sweep":true' in log and '"status":"DELETED"' in log for log in logs)
