"""The GitHub client never duplicates a write, and waits out rate limits.

Against the loopback GitHub API (`github_api_server.py`), whose requests and answers are
checked against GitHub's OpenAPI description, and which can lose the answer to a write it
did, or refuse a write as a rate limit would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from github_api_server import GitHubServer, State

from dpn_action.github.api import GitHub, GitHubError

REPO = "Codertocat/Hello-World"
RATE_LIMITED = "You have exceeded a secondary rate limit. Please wait a few minutes."


@pytest.fixture
def api() -> Iterator[tuple[State, GitHub, list[float]]]:
    state = State(tokens={"t"})
    waits: list[float] = []
    with GitHubServer(state) as server:
        yield state, GitHub("t", server.url, REPO, sleep=waits.append), waits


def posts(state: State) -> list[int]:
    return [status for method, path, status in state.calls if method == "POST"]


@pytest.mark.parametrize("lost", [502, 500, 503, 504])
def test_a_comment_whose_answer_is_lost_is_not_posted_twice(
    api: tuple[State, GitHub, list[float]], lost: int
) -> None:
    state, gh, _ = api
    state.lost_answers.append(lost)  # the server stores the comment, then answers 5xx

    made = gh.create_comment(7, "the preview")

    assert [c["body"] for c in state.thread(7)] == ["the preview"]
    assert made["id"] == state.thread(7)[0]["id"]
    assert posts(state) == [lost]  # found by reading the thread, never sent again


def test_a_comment_refused_before_it_was_made_is_posted_again(
    api: tuple[State, GitHub, list[float]],
) -> None:
    state, gh, _ = api
    state.refusals.append((502, {}, "Bad Gateway"))  # refused without storing anything

    gh.create_comment(7, "the preview")

    assert [c["body"] for c in state.thread(7)] == ["the preview"]
    assert posts(state) == [502, 201]


def test_a_comment_that_keeps_failing_gives_up_with_the_error(
    api: tuple[State, GitHub, list[float]],
) -> None:
    state, gh, _ = api
    state.refusals.extend([(502, {}, "Bad Gateway")] * 5)

    with pytest.raises(GitHubError) as caught:
        gh.create_comment(7, "the preview")

    assert caught.value.status == 502 and caught.value.outcome_unknown
    assert state.thread(7) == [] and len(posts(state)) == 3


def test_an_edit_whose_answer_is_lost_is_simply_sent_again(
    api: tuple[State, GitHub, list[float]],
) -> None:
    state, gh, _ = api
    comment = state.add_comment(7, "old")
    state.lost_answers.append(502)

    gh.update_comment(int(comment["id"]), "new")

    assert [c["body"] for c in state.thread(7)] == ["new"]
    # the edit was sent twice: once answered with the lost answer's 502, then again
    assert [status for method, _, status in state.calls if method == "PATCH"] == [502, 200]


def test_retry_after_is_honoured_even_for_a_write(api: tuple[State, GitHub, list[float]]) -> None:
    state, gh, waits = api
    state.refusals.append((429, {"Retry-After": "7"}, "rate limited"))

    gh.create_comment(7, "the preview")

    assert waits == [7.0]
    assert len(state.thread(7)) == 1 and posts(state) == [429, 201]


def test_a_secondary_rate_limit_without_retry_after_waits_a_minute(
    api: tuple[State, GitHub, list[float]],
) -> None:
    state, gh, waits = api
    state.refusals.append((403, {}, RATE_LIMITED))

    gh.create_comment(7, "the preview")

    assert waits == [60.0] and len(state.thread(7)) == 1


def test_a_rate_limit_far_in_the_future_is_an_error_not_a_long_sleep(
    api: tuple[State, GitHub, list[float]],
) -> None:
    state, gh, waits = api
    state.refusals.append((429, {"Retry-After": "3600"}, "rate limited"))

    with pytest.raises(GitHubError, match="429"):
        gh.create_comment(7, "the preview")

    assert waits == [] and state.thread(7) == []


def test_a_forbidden_write_is_not_retried(api: tuple[State, GitHub, list[float]]) -> None:
    state, gh, waits = api
    state.refusals.append((403, {}, "Resource not accessible by integration"))

    with pytest.raises(GitHubError) as caught:
        gh.create_comment(7, "the preview")

    assert caught.value.forbidden and not caught.value.outcome_unknown
    assert waits == [] and posts(state) == [403]
