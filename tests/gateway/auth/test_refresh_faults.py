"""A token endpoint that fails, hangs, throttles or answers garbage, over real loopback HTTP
against the SweatStack mock's authorization server: one refresh attempt per connection however
many requests wait for it, its failure shared and remembered, and a rotated refresh token never
lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import RunningGateway, serve_gateway
from tests.gateway.routes.test_connections import _connect, _connections
from training_gateway.adapters._mock.oauth import TokenEndpointFault

TIMEOUT_S = 1.0


def _stack(tmp_path: Path, timeout_s: float) -> Iterator[RunningGateway]:
    running, server = serve_gateway(tmp_path, http_timeout_s=timeout_s, refresh_backoff_s=0.5)
    try:
        yield running
    finally:
        running.demo.mocks["sweatstack"].auth.token_fault = None  # type: ignore[attr-defined]
        server.stop()
        running.demo.stop()


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[RunningGateway]:
    """A gateway whose provider calls time out after 1 s and whose failed refreshes are
    remembered for 0.5 s (doubling)."""
    yield from _stack(tmp_path, TIMEOUT_S)


@pytest.fixture
def patient(tmp_path: Path) -> Iterator[RunningGateway]:
    """The same with a 10 s timeout, for tests of answers rather than of hangs: on a loaded CI
    machine a healthy list can take longer than 1 s."""
    yield from _stack(tmp_path, 10.0)


def _expired_connection(gateway: RunningGateway, name: str) -> str:
    """A user connected to SweatStack whose access token has expired: every call needs a
    refresh first."""
    mock: Any = gateway.demo.mocks["sweatstack"]
    key = gateway.create_user(name)
    mock.tokens.default_ttl_s = 2  # time enough to connect (userinfo takes the token)
    try:
        with gateway.client(key) as client:
            connected = _connect(gateway, client, "sweatstack")
            assert connected.status_code == 303, connected.text
    finally:
        mock.tokens.default_ttl_s = 3600
    time.sleep(2.2)
    return key


async def _waiters(gateway: RunningGateway, key: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=gateway.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        return await asyncio.gather(
            *(
                client.get("/v1/activities", params={"provider": "sweatstack", "limit": 2})
                for _ in range(count)
            )
        )


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (TokenEndpointFault(hang_s=2.5 * TIMEOUT_S, status=503), 504),
        (TokenEndpointFault(status=503), 502),
        (TokenEndpointFault(status=429, retry_after="30"), 429),
    ],
    ids=["hanging", "failing", "throttling"],
)
@pytest.mark.parametrize("waiters", [10, 20])
def test_waiters_on_a_failing_token_endpoint_share_one_request(
    impatient: RunningGateway, fault: TokenEndpointFault, status: int, waiters: int
) -> None:
    mock: Any = impatient.demo.mocks["sweatstack"]
    key = _expired_connection(impatient, f"herd-{waiters}")
    fault.times, fault.grant_type = 1000, "refresh_token"
    mock.auth.token_fault = fault
    before = mock.auth.token_requests["refresh_token"]

    began = time.monotonic()
    pages = asyncio.run(_waiters(impatient, key, waiters))
    elapsed = time.monotonic() - began

    assert mock.auth.token_requests["refresh_token"] - before == 1
    for page in pages:
        assert page.status_code == 200, page.text
        [failure] = page.json()["errors"]
        assert (failure["provider"], failure["status"]) == ("sweatstack", status)
        if status == 429:
            assert failure["retry_after"] == 30
        else:
            assert "retry_after" not in failure
    # One attempt, not one per waiter one after another (that took waiters x timeout).
    assert elapsed < 2 * TIMEOUT_S

    # Remembered: a call now gets the same failure at once, with no new token request.
    with impatient.client(key) as client:
        one = client.get("/v1/activities/sweatstack:anything")
    assert one.status_code == status, one.text
    assert one.json()["provider"] == "sweatstack"
    if status == 429:
        assert one.headers["retry-after"] == "30" and one.json()["retry_after"] == 30
    assert mock.auth.token_requests["refresh_token"] - before == 1
    assert _connections(impatient.client(key))["sweatstack"]["status"] == "active"


@pytest.mark.parametrize(
    "fields",
    [
        {"expires_in": "1e30"},
        {"expires_in": "1e400"},
        {"expires_in": "1" + "0" * 400},
        {"expires_in": "-5"},
        {"expires_in": "null", "expires_at": "1e20"},
        {"access_token": '""'},
    ],
    ids=[
        "expires_in-1e30",
        "expires_in-1e400",
        "expires_in-10^400",
        "negative",
        "expires_at-1e20",
        "no-access-token",
    ],
)
def test_a_garbage_refresh_answer_is_a_named_error_and_keeps_the_rotated_token(
    patient: RunningGateway, fields: dict[str, str]
) -> None:
    mock: Any = patient.demo.mocks["sweatstack"]
    key = _expired_connection(patient, "garbage")
    grants = mock.auth.grant_counts["refresh_token"]
    # The grant is served (the refresh token rotates, the old one is spent), the answer is not
    # usable.
    mock.auth.token_fault = TokenEndpointFault(answer_json=fields, grant_type="refresh_token")
    with patient.client(key) as client:
        one = client.get("/v1/activities/sweatstack:anything")
        assert one.status_code == 502, one.text
        assert one.json()["provider"] == "sweatstack" and "garbage" in one.json()["detail"]
        assert mock.auth.grant_counts["refresh_token"] == grants + 1

        time.sleep(0.6)  # past the backoff
        # The next refresh presents the rotated refresh token: the provider's reuse detection
        # does not fire, and the connection lives on.
        page = client.get("/v1/activities", params={"provider": "sweatstack", "limit": 2})
        assert page.status_code == 200 and page.json()["errors"] == [], page.text
        assert len(page.json()["items"]) == 2
        assert mock.auth.grant_counts["refresh_token"] == grants + 2
        assert _connections(client)["sweatstack"]["status"] == "active"


def test_a_garbage_merged_list_answer_names_the_provider(patient: RunningGateway) -> None:
    mock: Any = patient.demo.mocks["sweatstack"]
    key = _expired_connection(patient, "merged")
    mock.auth.token_fault = TokenEndpointFault(
        answer_json={"expires_in": "1e30"}, grant_type="refresh_token"
    )
    with patient.client(key) as client:
        page = client.get("/v1/activities", params={"limit": 5})
    assert page.status_code == 200, page.text
    assert [(e["provider"], e["status"]) for e in page.json()["errors"]] == [("sweatstack", 502)]
    assert {item["provider"] for item in page.json()["items"]} <= {"astral", "local"}


def test_failures_in_a_row_back_off_longer(patient: RunningGateway) -> None:
    mock: Any = patient.demo.mocks["sweatstack"]
    key = _expired_connection(patient, "streak")
    mock.auth.token_fault = TokenEndpointFault(status=503, times=1000, grant_type="refresh_token")
    before = mock.auth.token_requests["refresh_token"]
    with patient.client(key) as client:
        assert client.get("/v1/activities/sweatstack:x").status_code == 502
        time.sleep(0.6)  # past the first backoff (0.5 s): a second attempt, which fails
        assert client.get("/v1/activities/sweatstack:x").status_code == 502
        assert mock.auth.token_requests["refresh_token"] - before == 2
        time.sleep(0.6)  # not past the second backoff (1 s): remembered still
        assert client.get("/v1/activities/sweatstack:x").status_code == 502
        assert mock.auth.token_requests["refresh_token"] - before == 2
        mock.auth.token_fault = None
        time.sleep(0.5)  # past it: the endpoint works again, so does the connection
        page = client.get("/v1/activities", params={"provider": "sweatstack", "limit": 1})
        assert page.status_code == 200 and page.json()["errors"] == [], page.text
        assert mock.auth.token_requests["refresh_token"] - before == 3
