"""Retrying provider calls: idempotent GETs on connect errors and 502/503/504 a few times;
writes only when nothing was sent; a 429 once, when its Retry-After fits the budget. Unit
tests on an in-process transport, then over loopback against the mocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import RunningGateway
from tests.gateway.routes.test_activities import assert_problem
from training_gateway.gateway.retries import RetryingTransport, RetryPolicy

FAST = RetryPolicy(attempts=3, backoff_s=0.001, max_backoff_s=0.002, retry_after_budget_s=1.0)
Outcome = int | tuple[int, dict[str, str]] | type[Exception]


def _scripted(outcomes: list[Outcome]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering each request with the next outcome (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        outcome = outcomes[min(len(seen), len(outcomes)) - 1]
        if isinstance(outcome, type):
            raise outcome("scripted", request=request)
        status, headers = outcome if isinstance(outcome, tuple) else (outcome, {})
        return httpx.Response(status, headers=headers, json={"n": len(seen)})

    return httpx.MockTransport(handle), seen


async def _send(
    outcomes: list[Outcome], method: str = "GET", policy: RetryPolicy = FAST
) -> tuple[httpx.Response | Exception, list[httpx.Request]]:
    inner, seen = _scripted(outcomes)
    async with httpx.AsyncClient(transport=RetryingTransport(inner, policy)) as http:
        try:
            content = b'{"a": 1}' if method != "GET" else None
            response = await http.request(method, "https://provider.example/x", content=content)
        except httpx.HTTPError as exc:
            return exc, seen
    return response, seen


def _status(outcome: httpx.Response | Exception) -> int | str:
    return outcome.status_code if isinstance(outcome, httpx.Response) else type(outcome).__name__


@pytest.mark.parametrize(
    ("outcomes", "method", "expected", "tries"),
    [
        ([httpx.ConnectError, httpx.ConnectError, 200], "GET", 200, 3),
        ([httpx.ConnectError], "GET", "ConnectError", 3),
        ([httpx.ConnectTimeout, 200], "GET", 200, 2),
        ([503, 502, 200], "GET", 200, 3),
        ([504], "GET", 504, 3),
        ([500], "GET", 500, 1),
        ([404], "GET", 404, 1),
        ([httpx.ReadTimeout], "GET", "ReadTimeout", 1),
        # Writes: again only when the connection never opened (nothing was sent).
        ([httpx.ConnectError, 201], "POST", 201, 2),
        ([httpx.ConnectError, 204], "DELETE", 204, 2),
        ([503, 200], "POST", 503, 1),
        ([502, 200], "PUT", 502, 1),
        ([504, 200], "PATCH", 504, 1),
        ([httpx.ReadTimeout, 201], "POST", "ReadTimeout", 1),
        ([httpx.RemoteProtocolError, 201], "POST", "RemoteProtocolError", 1),
    ],
)
async def test_what_is_retried(
    outcomes: list[Outcome], method: str, expected: int | str, tries: int
) -> None:
    outcome, seen = await _send(outcomes, method)
    assert (_status(outcome), len(seen)) == (expected, tries)


async def test_a_retried_write_sends_the_same_body() -> None:
    outcome, seen = await _send([httpx.ConnectError, 201], "POST")
    assert _status(outcome) == 201
    assert [request.content for request in seen] == [b'{"a": 1}', b'{"a": 1}']


@pytest.mark.parametrize(
    ("outcomes", "method", "expected", "tries"),
    [
        ([(429, {"Retry-After": "0"}), 200], "GET", 200, 2),
        # Once only: a second 429 goes back to the caller.
        ([(429, {"Retry-After": "0"})], "GET", 429, 2),
        # A wait past the budget, or none said: straight back to the caller.
        ([(429, {"Retry-After": "5"}), 200], "GET", 429, 1),
        ([429, 200], "GET", 429, 1),
        ([(429, {"Retry-After": "0"}), 200], "POST", 429, 1),
        # Waiting out a throttle does not use up a try.
        ([503, (429, {"Retry-After": "0"}), 503, 200], "GET", 200, 4),
    ],
)
async def test_a_throttle_is_waited_out_once_within_the_budget(
    outcomes: list[Outcome], method: str, expected: int, tries: int
) -> None:
    outcome, seen = await _send(outcomes, method)
    assert (_status(outcome), len(seen)) == (expected, tries)


async def test_no_try_starts_past_the_deadline() -> None:
    policy = RetryPolicy(attempts=5, backoff_s=1.0, max_backoff_s=1.0, deadline_s=0.0)
    outcome, seen = await _send([503, 200], "GET", policy)
    assert (_status(outcome), len(seen)) == (503, 1)


def test_pauses_are_jittered_exponential_and_bounded() -> None:
    policy = RetryPolicy(backoff_s=0.1, max_backoff_s=0.3)
    pauses = {retry: [policy.pause_s(retry) for _ in range(200)] for retry in (1, 2, 3, 6)}
    for retry, ceiling in ((1, 0.1), (2, 0.2), (3, 0.3), (6, 0.3)):
        assert all(0 <= pause <= ceiling for pause in pauses[retry])
        assert len(set(pauses[retry])) > 100  # jittered, not one fixed pause
    assert max(pauses[2]) > 0.1  # the ceiling grows


# --- over loopback, against the mocks -----------------------------------------------------


def _one_ride(api: httpx.Client) -> str:
    page = api.get("/v1/activities", params={"provider": "sweatstack", "limit": 1}).json()
    return str(page["items"][0]["id"])


def _counting(gateway: RunningGateway, name: str) -> tuple[Any, Callable[[], int]]:
    mock: Any = gateway.demo.mocks[name]
    start = mock.faults.requests_seen
    return mock, lambda: int(mock.faults.requests_seen - start)


def test_a_read_survives_two_unavailable_answers(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    ride = _one_ride(api)
    mock, requests = _counting(gateway, "sweatstack")
    mock.faults.fail_next(503, times=2)
    response = api.get(f"/v1/activities/{ride}")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == ride
    assert requests() == 3


def test_a_read_gives_up_after_three_tries(gateway: RunningGateway, api: httpx.Client) -> None:
    ride = _one_ride(api)
    mock, requests = _counting(gateway, "sweatstack")
    mock.faults.fail_next(503, times=10)
    assert_problem(api.get(f"/v1/activities/{ride}"), 502, provider="sweatstack")
    assert requests() == 3


def test_a_short_throttle_is_waited_out(gateway: RunningGateway, api: httpx.Client) -> None:
    ride = _one_ride(api)
    mock, requests = _counting(gateway, "sweatstack")
    mock.faults.fail_next(429, headers={"Retry-After": "1"})
    response = api.get(f"/v1/activities/{ride}")
    assert response.status_code == 200, response.text
    assert requests() == 2


def test_a_write_is_not_retried_after_it_was_sent(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    mock, requests = _counting(gateway, "astral")
    mock.faults.fail_next(503, times=1)
    body = {
        "provider": "astral",
        "sport": "running",
        "start": "2026-05-18T17:32:00+02:00",
        "duration_s": 600,
        "name": "Run",
    }
    assert_problem(api.post("/v1/activities", json=body), 502, provider="astral")
    assert requests() == 1
