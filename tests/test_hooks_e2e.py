"""The hooks end to end: the real pre-commit client, real git commits, parallel runs.

pre-commit installs the hooks from a snapshot of this repository (its files as they are in the
working tree, committed in a clone). `pre-commit run` calls share one PRE_COMMIT_HOME, so their
hook environment is built once for the module (and checked to hold dpn's core without any
cloud SDK); `pre-commit try-repo` always builds its own, so it runs once, with every hook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import LINT_HOOK, write_files

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or shutil.which("pre-commit") is None,
    reason="needs git and pre-commit on PATH",
)

VALUES = """\
version: "1.0"
defaults:
  project: dataplatform
  region: us-east-1
environments:
  dev:
    environment: dev
"""

PATTERNS = """\
version: "1.0"
patterns:
  aws_s3_bucket: "{project}-{purpose}-{layer}-{environment}-{region_short}"
"""

PATTERNS_TOO_LOOSE = PATTERNS + "validation:\n  max_length:\n    aws_s3_bucket: 80\n"
PATTERNS_STRICT = PATTERNS + "validation:\n  max_length:\n    aws_s3_bucket: 20\n"


def blueprint(tag: str, extra: str = "") -> str:
    return f"""\
version: "1.0"
metadata:
  environment: dev
  project: dataplatform
  region: us-east-1
resources:
  aws:
    s3_buckets:
      - purpose: p{tag}
        layer: raw{extra}
  databricks:
    clusters:
      - workload: w{tag}
        cluster_type: shared
"""


GOOD = blueprint("good")
#: The reserved `xn--` prefix on an explicit S3 name: DPN103 at line 11, column 15.
BAD = blueprint("bad", "\n        name: xn--bad-bucket")
BAD_AT = "11:15"
#: A misspelt top-level key: structure error DPN011 at line 6, column 1.
BROKEN = GOOD.replace("resources:", "resorces:")
BROKEN_AT = "6:1"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without git's per-repository variables or CI markers, plus `extra`;
    `dpn` of this interpreter first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "PRE_COMMIT")) and k != "GITHUB_ACTIONS"
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"] = "Test"
        env[f"GIT_{role}_EMAIL"] = "test@example.com"
    env.update(extra)
    return env


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=300
    )


def git(repo: Path, *args: str) -> str:
    proc = run(["git", *args], repo)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hook_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository holding its current files, committed (what try-repo sees)."""
    dest = tmp_path_factory.mktemp("dpn-src") / "dpn"
    cloned = run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], ROOT)
    assert cloned.returncode == 0, cloned.stderr
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        src, dst = ROOT / name, dest / name
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        elif dst.is_file():
            dst.unlink()
    git(dest, "add", "-A")
    git(dest, "commit", "--quiet", "--allow-empty", "-m", "snapshot")
    return dest


@pytest.fixture(scope="module")
def hook_home(hook_source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A PRE_COMMIT_HOME with this repository's hooks installed (`pre-commit install-hooks`,
    which builds the hook environment as a user's first commit does), and the configuration
    that names them: the snapshot as a remote repository at its commit, as a user's
    `.pre-commit-config.yaml` does."""
    tmp = tmp_path_factory.mktemp("pre-commit")
    home = tmp / "home"
    config = tmp / "pre-commit-config.yaml"
    rev = git(hook_source, "rev-parse", "HEAD").strip()
    hook_ids = ("dpn-lint", "dpn-validate-blueprint", "dpn-validate-config")
    config.write_text(
        f"repos:\n- repo: {hook_source}\n  rev: {rev}\n  hooks:\n"
        + "".join(f"  - id: {hook_id}\n" for hook_id in hook_ids)
    )
    scratch = tmp / "scratch"
    scratch.mkdir()
    git(scratch, "init", "--quiet")
    env = clean_env(PRE_COMMIT_HOME=str(home))
    installed = run(["pre-commit", "install-hooks", "--config", str(config)], scratch, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return home, config


@pytest.fixture(scope="module")
def pre_commit(hook_home: tuple[Path, Path]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`pre_commit(repo, hook_id, *files, **env)`: `pre-commit run` of one of this repository's
    hooks in `repo`, on `files` (all files when none are given). The configuration lives
    outside `repo`; every call shares one PRE_COMMIT_HOME, so the hook environment is built
    once."""
    home, config = hook_home

    def call(
        repo: Path, hook_id: str, *files: str, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        where = ["--all-files"] if not files else ["--files", *files]
        cmd = ["pre-commit", "run", hook_id, "--config", str(config), "--color=never", *where]
        return run(cmd, repo, clean_env(PRE_COMMIT_HOME=str(home), **extra))

    return call


PreCommit = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A user's repository: both configs and one good blueprint, committed."""
    user = tmp_path / "user"
    user.mkdir()
    git(user, "init", "--quiet")
    write_files(
        user,
        {
            ".dpn/naming-values.yaml": VALUES,
            ".dpn/naming-patterns.yaml": PATTERNS,
            "blueprints/good.yaml": GOOD,
        },
    )
    git(user, "add", "-A")
    git(user, "commit", "--quiet", "-m", "start")
    return user


# --- pre-commit try-repo --------------------------------------------------------------------


def test_try_repo_runs_the_hooks_of_this_repository(
    repo: Path, hook_source: Path, tmp_path: Path
) -> None:
    # try-repo builds its environment in a store of its own (PRE_COMMIT_HOME is not used),
    # so it runs once here, with every hook of the manifest; `pre-commit run` below reuses
    # one shared environment for the hooks one at a time.
    write_files(repo, {"blueprints/bad.yaml": BAD})
    files = ["blueprints/good.yaml", "blueprints/bad.yaml"]
    cmd = ["pre-commit", "try-repo", str(hook_source), "--color=never", "--files", *files]
    proc = run(cmd, repo, clean_env(PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home")))
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert re.search(r"^dpn validate blueprint \(structure only\)\.+Passed$", out, re.M)
    assert re.search(r"^dpn validate naming configs\.+\(no files to check\)Skipped$", out, re.M)
    assert re.search(r"^dpn lint .*\.+Failed$", out, re.M)
    assert f"blueprints/bad.yaml:{BAD_AT}: DPN103 " in out
    assert "blueprints/good.yaml:" not in out


# --- the hook environment -----------------------------------------------------------------


def test_the_hook_environment_installs_the_core_without_any_cloud_sdk(
    hook_home: tuple[Path, Path],
) -> None:
    """`language: python` installs the distribution's core dependencies: a commit hook never
    downloads, installs or imports boto3 or databricks-sdk."""
    home, _ = hook_home
    envs = sorted(home.glob("repo*/py_env-*"))
    assert len(envs) == 1, envs
    python = envs[0] / "bin" / "python"
    code = (
        "import importlib.metadata as m, importlib.util as u, json\n"
        "print(json.dumps({'dists': sorted(d.metadata['Name'].lower() for d in m.distributions()),"
        " 'modules': [n for n in ('boto3', 'botocore', 'databricks') if u.find_spec(n)]}))"
    )
    proc = run([str(python), "-c", code], home)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert {"dpn-action", "pyyaml", "pydantic", "click", "filelock"} <= set(found["dists"])
    cloud_only = {"boto3", "botocore", "s3transfer", "databricks-sdk", "rich"}
    assert set(found["dists"]) & cloud_only == set()
    assert found["modules"] == []


# --- pre-commit run, hook by hook -----------------------------------------------------------


def test_dpn_lint_passes_good_files_and_fails_a_bad_one_at_its_position(
    repo: Path, pre_commit: PreCommit
) -> None:
    ok = pre_commit(repo, "dpn-lint", "blueprints/good.yaml", ".dpn/naming-values.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Passed" in ok.stdout
    write_files(repo, {"blueprints/bad.yaml": BAD})
    bad = pre_commit(repo, "dpn-lint", "blueprints/good.yaml", "blueprints/bad.yaml")
    assert bad.returncode == 1
    assert f"blueprints/bad.yaml:{BAD_AT}: DPN103 " in bad.stdout
    assert "  hint: " in bad.stdout


def test_dpn_validate_blueprint_checks_structure_only(repo: Path, pre_commit: PreCommit) -> None:
    write_files(repo, {"blueprints/bad.yaml": BAD, "blueprints/broken.yaml": BROKEN})
    ok = pre_commit(repo, "dpn-validate-blueprint", "blueprints/good.yaml", "blueprints/bad.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = pre_commit(repo, "dpn-validate-blueprint", "blueprints/broken.yaml")
    assert broken.returncode == 1
    assert f"blueprints/broken.yaml:{BROKEN_AT}: DPN011 " in broken.stdout


def test_dpn_validate_config_passes_good_configs_and_names_the_clouds_limit(
    repo: Path, pre_commit: PreCommit
) -> None:
    configs = (".dpn/naming-values.yaml", ".dpn/naming-patterns.yaml")
    ok = pre_commit(repo, "dpn-validate-config", *configs)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    write_files(repo, {".dpn/naming-patterns.yaml": PATTERNS_TOO_LOOSE})
    bad = pre_commit(repo, "dpn-validate-config", *configs)
    assert bad.returncode == 1
    assert ".dpn/naming-patterns.yaml:6:20: DPN200 " in bad.stdout
    assert "limit of 63" in bad.stdout


def test_inside_github_actions_findings_are_annotations(repo: Path, pre_commit: PreCommit) -> None:
    write_files(repo, {"blueprints/bad.yaml": BAD})
    line, col = BAD_AT.split(":")
    proc = pre_commit(repo, "dpn-lint", "blueprints/bad.yaml", GITHUB_ACTIONS="true")
    assert proc.returncode == 1
    assert f"::error file=blueprints/bad.yaml,line={line},col={col},title=DPN103::" in proc.stdout


def test_all_files_in_parallel_batches_report_each_finding_once(
    repo: Path, pre_commit: PreCommit
) -> None:
    # 12 blueprints: pre-commit splits dpn-validate-blueprint's files over its processes;
    # dpn-lint runs as one process (its work is repository-wide anyway).
    write_files(repo, {f"blueprints/b{i:02d}.yaml": blueprint(f"n{i}") for i in range(10)})
    write_files(repo, {"blueprints/bad.yaml": BAD, "blueprints/broken.yaml": BROKEN})
    git(repo, "add", "-A")
    lint = pre_commit(repo, "dpn-lint")
    assert lint.returncode == 1
    assert lint.stdout.count(f"blueprints/bad.yaml:{BAD_AT}: DPN103 ") == 1
    assert lint.stdout.count(f"blueprints/broken.yaml:{BROKEN_AT}: DPN011 ") == 1
    validate = pre_commit(repo, "dpn-validate-blueprint")
    assert validate.returncode == 1
    assert validate.stdout.count(f"blueprints/broken.yaml:{BROKEN_AT}: DPN011 ") == 1
    assert "DPN103" not in validate.stdout


# --- the plain git hook ---------------------------------------------------------------------


@pytest.fixture
def hooked(repo: Path) -> Path:
    """`repo` with hooks/pre-commit installed the documented way."""
    (repo / "hooks").mkdir()
    shutil.copy2(ROOT / "hooks" / "pre-commit", repo / "hooks" / "pre-commit")
    git(repo, "config", "core.hooksPath", "hooks")
    return repo


def commit(repo: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`git commit`; git shows a hook's output on stderr, so `stdout` here is both streams."""
    proc = run(["git", "commit", "--quiet", "-m", "change"], repo, clean_env(**env))
    proc.stdout += proc.stderr
    return proc


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def test_git_hook_blocks_a_commit_of_a_bad_blueprint(hooked: Path) -> None:
    before = head(hooked)
    write_files(hooked, {"blueprints/bad.yaml": BAD})
    git(hooked, "add", "blueprints/bad.yaml")
    proc = commit(hooked)
    assert proc.returncode != 0
    assert f"blueprints/bad.yaml:{BAD_AT}: DPN103 " in proc.stdout
    assert "commit blocked" in proc.stderr
    assert head(hooked) == before


def test_git_hook_lets_a_good_blueprint_through(hooked: Path) -> None:
    before = head(hooked)
    write_files(hooked, {"blueprints/more.yaml": blueprint("more")})
    git(hooked, "add", "blueprints/more.yaml")
    proc = commit(hooked)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert head(hooked) != before


def test_git_hook_checks_the_staged_content_not_the_working_tree(hooked: Path) -> None:
    write_files(hooked, {"blueprints/x.yaml": BAD})
    git(hooked, "add", "blueprints/x.yaml")
    write_files(hooked, {"blueprints/x.yaml": blueprint("x")})  # fixed, but not staged
    assert commit(hooked).returncode != 0
    git(hooked, "add", "blueprints/x.yaml")
    write_files(hooked, {"blueprints/x.yaml": BAD})  # broken again, but not staged
    assert commit(hooked).returncode == 0
    assert git(hooked, "show", "HEAD:blueprints/x.yaml") == blueprint("x")


def test_git_hook_relints_every_blueprint_when_a_config_is_staged(hooked: Path) -> None:
    write_files(hooked, {".dpn/naming-patterns.yaml": PATTERNS_STRICT})
    git(hooked, "add", ".dpn/naming-patterns.yaml")
    proc = commit(hooked)
    assert proc.returncode != 0
    assert "blueprints/good.yaml:" in proc.stdout
    assert "DPN120" in proc.stdout


def test_git_hook_blocks_a_name_already_used_by_a_committed_blueprint(hooked: Path) -> None:
    write_files(hooked, {"blueprints/copy.yaml": GOOD})
    git(hooked, "add", "blueprints/copy.yaml")
    proc = commit(hooked)
    assert proc.returncode != 0
    assert "blueprints/copy.yaml:" in proc.stdout
    assert "DPN130" in proc.stdout


def test_git_hook_ignores_commits_without_blueprints_or_configs(hooked: Path) -> None:
    before = head(hooked)
    write_files(hooked, {"README.md": "hello\n", "other/x.json": "{not json"})
    git(hooked, "add", "README.md", "other/x.json")
    # `dpn` cannot be found: the commit goes through only because the hook never runs it
    assert commit(hooked, DPN="dpn-is-not-needed-here").returncode == 0
    assert head(hooked) != before


def test_git_hook_says_clearly_when_dpn_is_not_installed(hooked: Path) -> None:
    write_files(hooked, {"blueprints/more.yaml": blueprint("more")})
    git(hooked, "add", "blueprints/more.yaml")
    proc = commit(hooked, DPN="dpn-not-installed-anywhere")
    assert proc.returncode != 0
    assert "'dpn-not-installed-anywhere' command was not found" in proc.stderr
    assert "pip install dpn-action" in proc.stderr


# --- parallel runs --------------------------------------------------------------------------


def snapshot_tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_four_hook_processes_at_once_give_each_its_own_correct_result(
    repo: Path, tmp_path: Path
) -> None:
    files = {
        "blueprints/a.yaml": blueprint("a"),
        "blueprints/b.yaml": BAD,
        "blueprints/c.yaml": blueprint("c"),
        "blueprints/d.yaml": BROKEN,
    }
    write_files(repo, files)
    before = snapshot_tree(repo)
    env = clean_env()
    procs = {
        name: subprocess.Popen(
            [*LINT_HOOK, name],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in files
    }
    results = {name: (p.wait(timeout=120), p.communicate()[0]) for name, p in procs.items()}
    assert results["blueprints/a.yaml"] == (0, "no problems found\n")
    assert results["blueprints/c.yaml"] == (0, "no problems found\n")
    assert results["blueprints/b.yaml"][0] == 1
    assert f"blueprints/b.yaml:{BAD_AT}: DPN103 " in results["blueprints/b.yaml"][1]
    assert results["blueprints/d.yaml"][0] == 1
    assert f"blueprints/d.yaml:{BROKEN_AT}: DPN011 " in results["blueprints/d.yaml"][1]
    for name, (_, out) in results.items():
        others = set(files) - {name}
        assert not any(o in out for o in others), (name, out)
    assert snapshot_tree(repo) == before  # nothing written, nothing half-written


def test_four_git_hook_runs_at_once_leave_no_temporary_tree_behind(
    hooked: Path, tmp_path: Path
) -> None:
    write_files(hooked, {"blueprints/bad.yaml": BAD, "blueprints/more.yaml": blueprint("more")})
    git(hooked, "add", "-A")
    before = snapshot_tree(hooked)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = clean_env(TMPDIR=str(scratch))
    procs = [
        subprocess.Popen(
            ["bash", "hooks/pre-commit"],
            cwd=hooked,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [(p.wait(timeout=120), p.communicate()[0]) for p in procs]
    assert all(rc == 1 for rc, _ in outputs)
    assert len({out for _, out in outputs}) == 1  # the same findings, whole, in every run
    assert f"blueprints/bad.yaml:{BAD_AT}: DPN103 " in outputs[0][1]
    assert list(scratch.iterdir()) == []
    assert snapshot_tree(hooked) == before
