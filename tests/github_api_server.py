"""A stateful loopback GitHub REST API for the action's tests.

It serves the few endpoints the action calls (comments, pull requests of a commit,
artifacts) and checks every request it receives and every response it sends against
GitHub's official OpenAPI description (npm `@octokit/openapi`), cut down to the served
paths so that `openapi-core` loads it in well under a second. Anything that does not match
the description is recorded in `state.violations`; tests assert that list stays empty.

Response bodies start from the description's own examples, so they carry every field
GitHub sends. Behaviour follows what a workflow's `GITHUB_TOKEN` sees: `GET /user` is 403
and comments are authored by `github-actions[bot]`; a token marked read-only (a fork's
pull request) gets 403 on every write.

Besides the API there are two test-only routes: `POST /_test/artifacts` (the stand-in for
actions/upload-artifact stores a zip there) and `GET /_blobs/<id>` (where the artifact
download redirects to, like GitHub's storage; it records whether a token was sent).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

NODE = Path(__file__).parent / "node" / "node_modules"
SPEC_PATH = NODE / "@octokit" / "openapi" / "generated" / "api.github.com.json"
SPEC_HOST = "https://api.github.com"

#: (path template, method) of every endpoint served
SERVED: dict[str, tuple[str, ...]] = {
    "/user": ("get",),
    "/repos/{owner}/{repo}/issues/{issue_number}/comments": ("get", "post"),
    "/repos/{owner}/{repo}/issues/comments/{comment_id}": ("patch",),
    "/repos/{owner}/{repo}/commits/{commit_sha}/pulls": ("get",),
    "/repos/{owner}/{repo}/actions/artifacts": ("get",),
    "/repos/{owner}/{repo}/pulls": ("get",),
    "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts": ("get",),
    "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}": ("get",),
}
BOT = "github-actions[bot]"
FORBIDDEN = "Resource not accessible by integration"


@cache
def _full_spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return data


def cut_spec(full: dict[str, Any], served: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The description with only `served` operations and the components they reach."""
    out: dict[str, Any] = {
        "openapi": full["openapi"],
        "info": full["info"],
        "servers": full["servers"],
        "paths": {p: {m: full["paths"][p][m] for m in ms} for p, ms in served.items()},
        "components": {},
    }
    seen: set[tuple[str, str]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/"):
                _, _, kind, name = ref.split("/", 3)
                if (kind, name) not in seen:
                    seen.add((kind, name))
                    value = full["components"][kind][name]
                    out["components"].setdefault(kind, {})[name] = value
                    walk(value)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(out["paths"])
    return out


@cache
def openapi() -> Any:
    from openapi_core import OpenAPI

    return OpenAPI.from_dict(cut_spec(_full_spec(), SERVED))


def example(name: str) -> Any:
    return copy.deepcopy(_full_spec()["components"]["examples"][name]["value"])


def _now(offset: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Artifact:
    id: int
    name: str
    data: bytes
    run_id: int
    head_branch: str
    head_repository_id: int
    created_at: str
    retention_days: int


@dataclass
class State:
    owner: str = "Codertocat"
    repo: str = "Hello-World"
    repo_id: int = 186853002
    tokens: set[str] = field(default_factory=set)
    read_only_tokens: set[str] = field(default_factory=set)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: issue number -> comment ids in creation order
    threads: dict[int, list[int]] = field(default_factory=dict)
    #: commit sha -> pull requests (pull-request-simple objects)
    pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: open pull requests (pull-request-simple objects), as `GET .../pulls` lists them
    open_pulls: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    #: (method, path, status) of every call, in order
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    #: whether any request for an artifact's storage blob carried an Authorization header
    blob_saw_token: bool = False
    #: statuses to answer the next writes (POST, PATCH) with *after* doing them, as a proxy
    #: that loses the answer does; and statuses to answer with *instead* of doing them
    lost_answers: list[int] = field(default_factory=list)
    refusals: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    next_id: int = 1_000_000
    lock: threading.RLock = field(default_factory=threading.RLock)

    # ------------------------------------------------------------------------ seeding
    def new_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id

    def user(self, login: str) -> dict[str, Any]:
        u = example("issue-comment")["user"]
        uid = 41898282 if login == BOT else (abs(hash(login)) % 10_000_000) + 1
        u.update(
            login=login,
            id=uid,
            node_id=f"MDQ6VXNlcj{uid}",
            type="Bot" if login.endswith("[bot]") else "User",
            html_url=f"https://github.com/{login}",
            url=f"https://api.github.com/users/{login}",
        )
        return u

    def add_comment(self, number: int, body: str, login: str = BOT) -> dict[str, Any]:
        with self.lock:
            cid = self.new_id()
            c = example("issue-comment")
            base = f"https://api.github.com/repos/{self.owner}/{self.repo}"
            c.update(
                id=cid,
                node_id=f"IC_{cid}",
                body=body,
                user=self.user(login),
                url=f"{base}/issues/comments/{cid}",
                html_url=f"https://github.com/{self.owner}/{self.repo}/pull/{number}#issuecomment-{cid}",
                issue_url=f"{base}/issues/{number}",
                created_at=_now(),
                updated_at=_now(),
            )
            self.comments[cid] = c
            self.threads.setdefault(number, []).append(cid)
            return c

    def add_open_pull(
        self, number: int, head_sha: str, base_sha: str, head_repo: str, branch: str = "feature"
    ) -> dict[str, Any]:
        """An open pull request whose head is `head_sha` in repository `head_repo`
        (`owner/name`: another owner's for a fork)."""
        pr = example("pull-request-simple-items")[0]
        base = f"https://api.github.com/repos/{self.owner}/{self.repo}"
        pr.update(
            number=number,
            state="open",
            merged_at=None,
            closed_at=None,
            merge_commit_sha=None,
            url=f"{base}/pulls/{number}",
            html_url=f"https://github.com/{self.owner}/{self.repo}/pull/{number}",
            issue_url=f"{base}/issues/{number}",
            comments_url=f"{base}/issues/{number}/comments",
        )
        pr["requested_teams"] = []
        pr["head"]["sha"], pr["head"]["ref"] = head_sha, branch
        pr["head"]["repo"]["full_name"] = head_repo
        pr["head"]["repo"]["owner"]["login"] = head_repo.split("/")[0]
        pr["head"]["label"] = f"{head_repo.split('/')[0]}:{branch}"
        pr["base"]["sha"] = base_sha
        pr["base"]["repo"]["full_name"] = f"{self.owner}/{self.repo}"
        with self.lock:
            self.open_pulls.append(pr)
        return pr

    def add_merged_pull(
        self, sha: str, pull: dict[str, Any] | int, base_ref: str = "main"
    ) -> dict[str, Any]:
        """Make `sha` the merge commit of a merged pull request. `pull` is the webhook's
        `pull_request` object (its number, refs, head and merge time are used) or a number."""
        pr = example("pull-request-simple-items")[0]
        src: dict[str, Any] = pull if isinstance(pull, dict) else {"number": pull}
        number = int(src["number"])
        base = f"https://api.github.com/repos/{self.owner}/{self.repo}"
        pr.update(
            number=number,
            state="closed",
            merged_at=src.get("merged_at") or _now(),
            closed_at=src.get("closed_at") or _now(),
            merge_commit_sha=sha,
            url=f"{base}/pulls/{number}",
            html_url=f"https://github.com/{self.owner}/{self.repo}/pull/{number}",
            issue_url=f"{base}/issues/{number}",
            comments_url=f"{base}/issues/{number}/comments",
        )
        # The description's example predates the now-required `type` of a team.
        pr["requested_teams"] = []
        pr["base"]["ref"] = src.get("base", {}).get("ref", base_ref)
        if "head" in src:
            pr["head"]["ref"] = src["head"]["ref"]
            pr["head"]["sha"] = src["head"]["sha"]
        with self.lock:
            self.pulls.setdefault(sha, []).append(pr)
        return pr

    def add_artifact(
        self,
        name: str,
        data: bytes,
        *,
        run_id: int,
        head_branch: str = "main",
        head_repository_id: int | None = None,
        retention_days: int = 90,
    ) -> Artifact:
        with self.lock:
            art = Artifact(
                self.new_id(),
                name,
                data,
                run_id,
                head_branch,
                self.repo_id if head_repository_id is None else head_repository_id,
                _now(len(self.artifacts)),
                retention_days,
            )
            self.artifacts.append(art)
            return art

    def thread(self, number: int) -> list[dict[str, Any]]:
        with self.lock:
            return [self.comments[i] for i in self.threads.get(number, [])]

    def artifact_json(self, a: Artifact, api: str) -> dict[str, Any]:
        base = f"{api}/repos/{self.owner}/{self.repo}/actions/artifacts/{a.id}"
        created = datetime.strptime(a.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return {
            "id": a.id,
            "node_id": f"MDg6QXJ0aWZhY3Q{a.id}",
            "name": a.name,
            "size_in_bytes": len(a.data),
            "url": base,
            "archive_download_url": f"{base}/zip",
            "expired": False,
            "created_at": a.created_at,
            "updated_at": a.created_at,
            "expires_at": (created + timedelta(days=a.retention_days)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "digest": None,
            "workflow_run": {
                "id": a.run_id,
                "repository_id": self.repo_id,
                "head_repository_id": a.head_repository_id,
                "head_branch": a.head_branch,
                "head_sha": "0" * 40,
            },
        }


_ROUTES: list[tuple[str, re.Pattern[str], str]] = []
for _template, _methods in SERVED.items():
    _rx = re.compile("^" + re.sub(r"\{[a-z_]+\}", r"([^/]+)", _template) + "$")
    for _m in _methods:
        _ROUTES.append((_m.upper(), _rx, _template))


def _route(method: str, path: str) -> tuple[str, tuple[str, ...]] | None:
    for m, rx, template in _ROUTES:
        match = rx.match(path)
        if m == method and match:
            return template, match.groups()
    return None


class _Handler(BaseHTTPRequestHandler):
    server: GitHubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        raw = (
            b""
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        self.send_response(status)
        ctype = (
            "application/json; charset=utf-8" if not isinstance(body, bytes) else "application/zip"
        )
        if body is not None:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if parts.path.startswith("/_test/") or parts.path.startswith("/_blobs/"):
            self._test_route(method, parts.path, query, body)
            return
        route = _route(method, parts.path)
        if route is None:
            state.violations.append(f"{method} {parts.path}: not an endpoint this server serves")
            self._send(
                404, {"message": "Not Found", "documentation_url": "https://docs.github.com"}
            )
            return
        template, groups = route
        request = self._openapi_request(method, parts.path, query, body)
        errors = list(openapi().iter_request_errors(request))
        if errors:
            state.violations.append(f"{method} {parts.path}: request: {errors[0]}")
        status, payload, headers = self._handle(method, template, groups, query, body)
        with state.lock:
            state.calls.append((method, parts.path, status))
        raw = b"" if payload is None else json.dumps(payload).encode()
        from openapi_core.testing import MockResponse

        response = MockResponse(raw, status_code=status, headers=headers or {})
        rerrors = list(openapi().iter_response_errors(request, response))
        if rerrors:
            state.violations.append(f"{method} {parts.path}: response {status}: {rerrors[0]}")
        self._send(status, payload, headers)

    def _openapi_request(self, method: str, path: str, query: dict[str, str], body: bytes) -> Any:
        from openapi_core.testing import MockRequest

        return MockRequest(
            SPEC_HOST,
            method.lower(),
            path,
            args=query,
            headers={k: v for k, v in self.headers.items()},
            data=body or None,
            content_type=(self.headers.get("Content-Type") or "application/json").split(";")[0],
        )

    # ------------------------------------------------------------------------- the API
    def _handle(
        self, method: str, template: str, args: tuple[str, ...], query: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str] | None]:
        state = self.server.state
        auth = self.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ").removeprefix("token ").strip()
        if token not in state.tokens and token not in state.read_only_tokens:
            if template == "/user":
                return 401, {"message": "Bad credentials", "documentation_url": "x"}, None
            return 404, {"message": "Not Found", "documentation_url": "x"}, None
        if template == "/user":
            return 403, {"message": FORBIDDEN, "documentation_url": "x"}, None
        owner, repo = args[0], args[1]
        if (owner, repo) != (state.owner, state.repo):
            return 404, {"message": "Not Found", "documentation_url": "x"}, None
        writing = method in ("POST", "PATCH")
        if writing and token in state.read_only_tokens:
            return 403, {"message": FORBIDDEN, "documentation_url": "x"}, None
        if writing:
            with state.lock:
                refusal = state.refusals.pop(0) if state.refusals else None
            if refusal is not None:
                status, headers, message = refusal
                return status, {"message": message, "documentation_url": "x"}, headers
            answer = self._handle_call(template, args, query, body)
            with state.lock:
                lost = state.lost_answers.pop(0) if state.lost_answers else None
            if lost is not None and 200 <= answer[0] < 300:
                return lost, {"message": "Server Error", "documentation_url": "x"}, None
            return answer
        return self._handle_call(template, args, query, body)

    def _handle_call(
        self, template: str, args: tuple[str, ...], query: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str] | None]:
        state = self.server.state
        method = self.command
        if template.endswith("/issues/{issue_number}/comments"):
            number = int(args[2])
            if method == "POST":
                text = json.loads(body or b"{}").get("body", "")
                if len(text) > 65536:
                    return 422, {"message": "Validation Failed", "documentation_url": "x"}, None
                return 201, state.add_comment(number, text), None
            return self._page(state.thread(number), query)
        if template.endswith("/issues/comments/{comment_id}"):
            cid = int(args[2])
            with state.lock:
                c = state.comments.get(cid)
                if c is None:
                    return 422, {"message": "Validation Failed", "documentation_url": "x"}, None
                text = json.loads(body or b"{}").get("body", "")
                if len(text) > 65536:
                    return 422, {"message": "Validation Failed", "documentation_url": "x"}, None
                c["body"] = text
                c["updated_at"] = _now()
                return 200, c, None
        if template.endswith("/{repo}/pulls"):
            with state.lock:
                return self._page(list(state.open_pulls), query)
        if template.endswith("/actions/runs/{run_id}/artifacts"):
            api_base = f"http://{self.headers.get('Host')}"
            with state.lock:
                arts = [a for a in state.artifacts if a.run_id == int(args[2])]
                items = [state.artifact_json(a, api_base) for a in arts]
            status, page, headers = self._page(items, query)
            return status, {"total_count": len(items), "artifacts": page}, headers
        if template.endswith("/commits/{commit_sha}/pulls"):
            with state.lock:
                return self._page(list(state.pulls.get(args[2], [])), query)
        api = f"http://{self.headers.get('Host')}"
        if template.endswith("/actions/artifacts"):
            with state.lock:
                arts = sorted(state.artifacts, key=lambda a: (a.created_at, a.id), reverse=True)
                if query.get("name"):
                    arts = [a for a in arts if a.name == query["name"]]
                items = [state.artifact_json(a, api) for a in arts]
            status, page, headers = self._page(items, query)
            return status, {"total_count": len(items), "artifacts": page}, headers
        if template.endswith("/{archive_format}"):
            with state.lock:
                found = [a for a in state.artifacts if a.id == int(args[2])]
            if not found or args[3] != "zip":
                return 410, {"message": "Gone", "documentation_url": "x"}, None
            return 302, None, {"Location": f"{api}/_blobs/{found[0].id}"}
        raise AssertionError(template)  # pragma: no cover

    def _page(
        self, items: list[Any], query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str] | None]:
        per = min(int(query.get("per_page", "30")), 100)
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * per : page * per]
        headers = None
        if page * per < len(items):
            parts = urlsplit(self.path)
            rest = {k: v for k, v in parse_qs(parts.query).items() if k != "page"}
            q = "&".join(f"{k}={v[-1]}" for k, v in rest.items())
            nxt = f"http://{self.headers.get('Host')}{parts.path}?{q}&page={page + 1}"
            headers = {"Link": f'<{nxt}>; rel="next"'}
        return 200, chunk, headers

    # --------------------------------------------------------------------- test routes
    def _test_route(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        state = self.server.state
        if method == "POST" and path == "/_test/artifacts":
            art = state.add_artifact(
                query["name"],
                body,
                run_id=int(query.get("run_id", "1")),
                head_branch=query.get("head_branch", "main"),
                retention_days=int(query.get("retention_days", "90")),
            )
            self._send(201, {"id": art.id, "name": art.name})
            return
        if method == "GET" and path.startswith("/_blobs/"):
            if self.headers.get("Authorization"):
                state.blob_saw_token = True
            aid = int(path.rsplit("/", 1)[1])
            found = [a for a in state.artifacts if a.id == aid]
            if found:
                self._send(200, found[0].data)
                return
        self._send(404, {"message": "Not Found"})


class GitHubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> GitHubServer:
        openapi()  # load the description before the first request
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def main() -> None:  # pragma: no cover - for trying the server by hand
    import sys

    state = State(tokens={sys.argv[1] if len(sys.argv) > 1 else "test-token"})
    with GitHubServer(state) as srv:
        print(srv.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
