"""The mock's backfill status stream over loopback: NDJSON lines moving from the newest activity
back to the oldest, closing after the window; shortened interval and window keep it fast."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sweatstack
from sweatstack.schemas import BackfillStatus

from training_gateway.adapters._mock import TokenIssuer, serve_mock
from training_gateway.adapters.sweatstack.mock import SweatStackMock

from .conftest import SEED, TODAY

BACKFILL = "/api/v1/activities/backfill-status"
INTERVAL_S = 0.015
WINDOW_S = 0.12


@pytest.fixture(scope="module")
def server(issuer: TokenIssuer) -> Iterator[tuple[SweatStackMock, str]]:
    mock = SweatStackMock(SEED, today=TODAY, tokens=issuer)
    with serve_mock(mock.asgi_app()) as running:
        yield mock, running.url


@pytest.fixture
def served(server: tuple[SweatStackMock, str]) -> tuple[SweatStackMock, str]:
    """The module's mock with its backfill started afresh, on a short interval and window."""
    mock, _ = server
    mock.backfill_interval_s, mock.backfill_window_s, mock.backfill_step = INTERVAL_S, WINDOW_S, 9
    mock.backfill_loaded.clear()
    mock.backfill_error = None
    return server


def _stream(url: str, token: str) -> tuple[httpx.Response, list[dict[str, Any]], float]:
    """The lines of one backfill stream, and how long the server kept it open."""
    began = time.monotonic()
    with (
        httpx.Client(timeout=httpx.Timeout(5, read=None)) as http,
        http.stream(
            "GET", url + BACKFILL, headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        lines = [json.loads(line) for line in response.iter_lines() if line.strip()]
    return response, lines, time.monotonic() - began


def _moments(lines: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(line["backfill_loaded_until"]) for line in lines]


def test_lines_move_back_from_the_newest_to_the_oldest_activity_and_the_stream_closes(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, url = served
    starts = [stored.start for stored in mock.activities_of(mock.default_user)]

    response, lines, open_s = _stream(url, mock.token_for())

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert WINDOW_S <= open_s < WINDOW_S + 1.0  # closed by the server, after the window
    assert WINDOW_S / INTERVAL_S / 2 <= len(lines) <= WINDOW_S / INTERVAL_S + 1
    assert all(set(line) == {"backfill_loaded_until"} for line in lines)
    assert all(line["backfill_loaded_until"].endswith("Z") for line in lines)  # offset-aware
    moments = _moments(lines)
    assert moments[0] == starts[0]  # the newest activity first
    assert moments[1:] == [starts[min(9 * k, len(starts) - 1)] for k in range(1, len(moments))]
    assert moments == sorted(moments, reverse=True)
    assert moments[1] < moments[0]


def test_a_reconnect_continues_where_the_backfill_had_reached(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, url = served
    mock.backfill_step = 1
    oldest = mock.activities_of(mock.default_user)[-1].start

    _, first, _ = _stream(url, mock.token_for())
    _, second, _ = _stream(url, mock.token_for())

    assert _moments(second)[0] < _moments(first)[-1]
    mock.backfill_step = 10_000  # everything loaded: the oldest activity, line after line
    _, third, _ = _stream(url, mock.token_for())
    assert set(_moments(third)[1:]) == {oldest.astimezone(UTC)}


def test_users_are_backfilled_separately_and_one_without_activities_reads_null(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, url = served
    if "usr_new" not in mock.user_ids:
        mock.user_ids = (*mock.user_ids, "usr_new")
    newest_other = mock.activities_of(mock.other_user)[0].start

    _, other, _ = _stream(url, mock.token_for(mock.other_user))
    _, new, _ = _stream(url, mock.token_for("usr_new"))

    assert _moments(other)[0] == newest_other
    assert new and all(line == {"backfill_loaded_until": None} for line in new)


def test_an_error_is_a_single_error_line(served: tuple[SweatStackMock, str]) -> None:
    mock, url = served
    mock.backfill_error = "backfill status unavailable"
    # A window far longer than the client waits for a line: only a stream that closes right
    # after its error line can be read to the end (a timing-free check that it does).
    mock.backfill_window_s = 60.0

    with (
        httpx.Client(timeout=httpx.Timeout(5, read=5)) as http,
        http.stream(
            "GET", url + BACKFILL, headers={"Authorization": f"Bearer {mock.token_for()}"}
        ) as response,
    ):
        lines = [json.loads(line) for line in response.iter_lines() if line.strip()]

    assert lines == [{"error": "backfill status unavailable"}]


def test_without_a_token_it_is_401(served: tuple[SweatStackMock, str]) -> None:
    _, url = served
    response = httpx.get(url + BACKFILL, timeout=5)
    assert response.status_code == 401


def test_the_official_client_watches_and_reads_the_status(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, url = served
    starts = [stored.start for stored in mock.activities_of(mock.default_user)]
    client = sweatstack.Client(
        api_key=mock.token_for(), url=url, ambient_credentials=False, max_retries=0
    )

    first = client.activities.backfill_status()
    watched = list(client.activities.watch_backfill_status())

    assert isinstance(first, BackfillStatus)
    assert first.backfill_loaded_until == starts[0]
    assert len(watched) >= 2
    assert all(status.backfill_loaded_until is not None for status in watched)
    moments = [status.backfill_loaded_until for status in watched]
    assert moments == sorted(moments, reverse=True)
    assert moments[0] < starts[0]  # it went on from where the first read left it
