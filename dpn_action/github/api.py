"""A small GitHub REST client on urllib: the few calls the action makes, and nothing else.

The token is sent only to the API's own host: pagination links pointing elsewhere are not
followed, and redirects (an artifact download answers with one to a storage host) are
followed by hand without the `Authorization` header. The token never appears in `repr()`
or in an error message.

Retries never duplicate a write. A read or an edit (GET, PATCH) is retried after a server
error or a lost connection. A create (POST) is not retried blindly: after an answer that
leaves its outcome unknown (5xx, no answer) the comment is looked for first, and posted again
only if it is not there. A rate limit (403 or 429 with `Retry-After`, a secondary rate limit,
or no requests left before a reset that is near) means the request was not taken: it is
waited out and sent again, writes included.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from dpn_action import __version__

API_VERSION = "2022-11-28"
USER_AGENT = f"dpn-action/{__version__}"
#: Status codes worth a second try: the API or a proxy in front of it hiccuped.
_RETRY_STATUS = frozenset({500, 502, 503, 504})
#: A waiting time the API may ask for (Retry-After) that is still worth waiting.
_MAX_RETRY_AFTER = 60.0
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
#: The most an artifact download may weigh (a WAL is kilobytes; this is a sanity bound).
MAX_DOWNLOAD = 256 * 1024 * 1024


class GitHubError(Exception):
    """A call answered with an error status, or could not be made at all (`status` 0)."""

    def __init__(self, status: int, message: str, method: str, url: str) -> None:
        super().__init__(f"{method} {url}: {status or 'no answer'}: {message}")
        self.status = status
        self.message = message

    @property
    def forbidden(self) -> bool:
        """The token may not do this (a read-only token on a fork pull request, say)."""
        return self.status in (401, 403)

    @property
    def outcome_unknown(self) -> bool:
        """The server may or may not have done it: a server error, or no answer at all."""
        return self.status == 0 or self.status in _RETRY_STATUS


@dataclass
class Response:
    status: int
    headers: Message
    data: Any


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class GitHub:
    """The REST API of one repository, authenticated with one token."""

    def __init__(
        self,
        token: str,
        api_url: str,
        repository: str,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base = api_url.rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"api-url must be an http(s) URL, not {api_url!r}")
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repository must be owner/name, not {repository!r}")
        self._token = token
        self.api_url = base
        self.repository = repository
        self._repo_path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        self._origin = (parts.scheme, parts.netloc)
        self._timeout = timeout
        self._retries = retries
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __repr__(self) -> str:
        return f"GitHub(api_url={self.api_url!r}, repository={self.repository!r})"

    # ---------------------------------------------------------------------------- calls
    def login(self) -> str | None:
        """The login the token acts as, or None when the token may not ask (a workflow's
        `GITHUB_TOKEN` gets 403 here)."""
        try:
            data = self.request("GET", "/user").data
        except GitHubError as exc:
            if exc.forbidden:
                return None
            raise
        login = data.get("login") if isinstance(data, dict) else None
        return login if isinstance(login, str) else None

    def issue_comments(self, number: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"{self._repo_path}/issues/{int(number)}/comments"))

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        """Post a comment once. When an answer leaves it unknown whether the comment was
        made, the thread is read: a comment with exactly this body is the one just made;
        only if there is none is it posted again (at most `retries` more times)."""
        path = f"{self._repo_path}/issues/{int(number)}/comments"
        attempt = 0
        while True:
            attempt += 1
            try:
                return _object(self.request("POST", path, body={"body": body}).data)
            except GitHubError as exc:
                if not exc.outcome_unknown or attempt > self._retries:
                    raise
            self._sleep(float(attempt))
            made = [c for c in self.issue_comments(number) if c.get("body") == body]
            if made:
                return made[-1]

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        path = f"{self._repo_path}/issues/comments/{int(comment_id)}"
        return _object(self.request("PATCH", path, body={"body": body}).data)

    def pulls_for_commit(self, sha: str) -> list[dict[str, Any]]:
        return list(self.paginate(f"{self._repo_path}/commits/{quote(sha, safe='')}/pulls"))

    def open_pulls(self) -> Iterator[dict[str, Any]]:
        """The repository's open pull requests (forks' included)."""
        yield from self.paginate(f"{self._repo_path}/pulls", {"state": "open"})

    def run_artifacts(self, run_id: int) -> list[dict[str, Any]]:
        """The artifacts one workflow run uploaded."""
        path = f"{self._repo_path}/actions/runs/{int(run_id)}/artifacts"
        return list(self.paginate(path, key="artifacts"))

    def artifacts(self, name: str | None = None) -> Iterator[dict[str, Any]]:
        """The repository's artifacts, newest first (as the API lists them)."""
        query = {"name": name} if name else None
        yield from self.paginate(f"{self._repo_path}/actions/artifacts", query, key="artifacts")

    def download_artifact(self, artifact_id: int) -> bytes:
        """The artifact's zip archive. The API answers with a redirect to short-lived
        storage, which is fetched without the token."""
        path = f"{self._repo_path}/actions/artifacts/{int(artifact_id)}/zip"
        resp = self.request("GET", path, raw=True)
        if resp.status in (301, 302, 303, 307, 308):
            location = resp.headers.get("Location")
            if not location:
                raise GitHubError(resp.status, "redirect without a Location", "GET", path)
            return _fetch_plain(location, self._timeout)
        if isinstance(resp.data, bytes):
            return resp.data
        raise GitHubError(resp.status, "no archive in the answer", "GET", path)

    # ---------------------------------------------------------------------------- plumbing
    def paginate(
        self, path: str, query: dict[str, str] | None = None, *, key: str | None = None
    ) -> Iterator[Any]:
        url: str | None = self._url(path, {**(query or {}), "per_page": "100"})
        while url is not None:
            resp = self.request("GET", url)
            page = resp.data.get(key) if key and isinstance(resp.data, dict) else resp.data
            if not isinstance(page, list):
                raise GitHubError(resp.status, "expected a list in the answer", "GET", path)
            yield from page
            url = self._next_link(resp.headers.get("Link") or "")

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        raw: bool = False,
    ) -> Response:
        """One call. Errors raise `GitHubError`; with `raw` a redirect is returned, not
        followed, and the body is left as bytes. A rate limit is waited out and the call
        sent again; a server error or a lost connection is retried only for a call that
        may be repeated (not POST: see `create_comment`)."""
        url = path_or_url if "://" in path_or_url else self._url(path_or_url, query)
        shown = urlsplit(url).path
        data = json.dumps(body).encode("utf-8") if body is not None else None
        repeatable = method != "POST"
        attempt = 0
        while True:
            attempt += 1
            req = urllib.request.Request(url, data=data, method=method)
            req.add_header("Accept", "application/vnd.github+json")
            req.add_header("X-GitHub-Api-Version", API_VERSION)
            req.add_header("User-Agent", USER_AGENT)
            if self._token:
                req.add_header("Authorization", f"Bearer {self._token}")
            if data is not None:
                req.add_header("Content-Type", "application/json")
            try:
                with self._opener.open(req, timeout=self._timeout) as resp:
                    payload = resp.read()
                    return Response(resp.status, resp.headers, _decode(payload, raw))
            except urllib.error.HTTPError as exc:
                payload = exc.read()
                if raw and exc.code in (301, 302, 303, 307, 308):
                    return Response(exc.code, exc.headers, payload)
                message = _error_message(payload)
                wait = self._retry_wait(exc.code, exc.headers, message, attempt, repeatable)
                if wait is None:
                    raise GitHubError(exc.code, self._scrub(message), method, shown) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt > self._retries or not repeatable:
                    reason = getattr(exc, "reason", exc)
                    raise GitHubError(0, self._scrub(str(reason)), method, shown) from None
                wait = float(attempt)
            self._sleep(wait)

    def _retry_wait(
        self, status: int, headers: Message, message: str, attempt: int, repeatable: bool
    ) -> float | None:
        """Seconds to wait before sending the call again, or None to give up."""
        if attempt > self._retries:
            return None
        if status in _RETRY_STATUS:
            return float(attempt) if repeatable else None
        if status not in (403, 429):
            return None
        # Rate limits: the request was not taken, so even a write may be sent again.
        after = headers.get("Retry-After")
        if after and after.isdigit():
            return float(after) if float(after) <= _MAX_RETRY_AFTER else None
        if "secondary rate limit" in message.lower():
            return _MAX_RETRY_AFTER  # GitHub asks for at least a minute without a header
        if headers.get("x-ratelimit-remaining") == "0":
            reset = headers.get("x-ratelimit-reset") or ""
            left = float(reset) - time.time() if reset.isdigit() else _MAX_RETRY_AFTER + 1
            return max(1.0, left) if left <= _MAX_RETRY_AFTER else None
        return None

    def _url(self, path: str, query: dict[str, str] | None = None) -> str:
        url = self.api_url + path
        return f"{url}?{urlencode(query)}" if query else url

    def _next_link(self, header: str) -> str | None:
        m = _LINK_NEXT.search(header)
        if m is None:
            return None
        nxt = urlsplit(m.group(1))
        # The token goes only where it came from.
        return m.group(1) if (nxt.scheme, nxt.netloc) == self._origin else None

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _decode(payload: bytes, raw: bool) -> Any:
    if raw:
        return payload
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


def _error_message(payload: bytes) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")[:300]
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return str(data)[:300]


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise GitHubError(0, "expected an object in the answer", "", "")
    return data


def _fetch_plain(url: str, timeout: float) -> bytes:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise GitHubError(0, "artifact redirect to a non-http URL", "GET", parts.path)
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data: bytes = resp.read(MAX_DOWNLOAD + 1)
    except urllib.error.HTTPError as exc:
        raise GitHubError(exc.code, "artifact download failed", "GET", parts.path) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise GitHubError(0, str(getattr(exc, "reason", exc)), "GET", parts.path) from None
    if len(data) > MAX_DOWNLOAD:
        raise GitHubError(0, "artifact larger than the download limit", "GET", parts.path)
    return data
