"""`dpn action`: the GitHub Action's entry.

- `pull_request` (mode `preview`, `github/preview_run.py`): names at the base and in the
  checkout for every affected blueprint, one sticky comment per environment, annotations on
  changed lines, the whole preview in the job summary.
- `push` to the default branch (mode `apply`, `github/apply_run.py`): find the merged pull
  request, refuse when the plan changed since its comment was written, recover an unfinished
  transaction from the latest WAL artifact (`github/wal_artifact.py`), apply, and write the
  outcome into the comment.
- mode `recover`: only the recovery part.
- `workflow_run` of the preview (mode `comment`, `github/comment_run.py`): the sticky
  comment of a fork's pull request, from the preview's artifact, checked against this
  repository's own computation.
- mode `sweep` (a scheduled workflow, `github/sweep_run.py`): what dpn made that no
  blueprint describes any more, reported, or deleted with `sweep-delete`.

Every input arrives as an environment variable (`DPN_*`, set by action.yml from the
action's inputs) or as the matching option (`github/inputs.py`); outputs go to
`$GITHUB_OUTPUT` (`github/workflow.py`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from dpn_action.extras import MissingExtra
from dpn_action.github.api import GitHubError
from dpn_action.github.apply_run import ApplyRun
from dpn_action.github.comment_run import CommentRun
from dpn_action.github.context import Context
from dpn_action.github.event import EventError
from dpn_action.github.git import GitError
from dpn_action.github.inputs import ActionError, parse_inputs
from dpn_action.github.preview_run import PreviewRun
from dpn_action.github.sweep_run import SweepRun
from dpn_action.github.workflow import Workflow


def mode_of(ctx: Context) -> str:
    """The mode to run: the input, or for `auto` the one the event calls for."""
    mode = ctx.inputs.mode
    if mode != "auto":
        return mode
    if ctx.event_name in ("pull_request", "pull_request_target"):
        return "preview"
    if ctx.event_name == "push":
        return "apply"
    raise ActionError(
        "usage",
        f"mode auto handles pull_request and push events, not {ctx.event_name or 'none'}; "
        "set the mode input",
    )


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    wf = Workflow(env)
    wf.mask(env.get("DPN_GITHUB_TOKEN", ""))
    try:
        inputs = parse_inputs(list(argv or []), env)
        mode = mode_of(Context(inputs, env, wf))
        wf.set("mode", mode)
        if mode == "preview":
            code = PreviewRun(inputs, env, wf).run()
        elif mode == "comment":
            code = CommentRun(inputs, env, wf).run()
        elif mode == "apply":
            code = ApplyRun(inputs, env, wf).apply()
        elif mode == "sweep":
            code = SweepRun(inputs, env, wf).run()
        else:
            code = ApplyRun(inputs, env, wf).recover_only()
    except ActionError as exc:
        wf.set("failure-reason", exc.reason)
        wf.command("error", str(exc))
        code = 2 if exc.reason == "usage" else 1
    except MissingExtra as exc:  # installed without a cloud's SDK: exit 2, like `dpn create`
        wf.set("failure-reason", "usage")
        wf.command("error", str(exc))
        code = 2
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
