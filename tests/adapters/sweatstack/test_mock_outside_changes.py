"""Changes made "in SweatStack's own app", which no API client made: through the loopback-only
`POST /_mock/changes` (and `mock.outside`), seen through the mock's public API."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from training_gateway.adapters._mock import serve_mock
from training_gateway.adapters.sweatstack.client import decode_details, decode_summaries
from training_gateway.adapters.sweatstack.mock import SweatStackMock

LIST = "/api/v1/activities/"
CHANGES = "/_mock/changes"


@pytest.fixture
def served(make_mock: Callable[..., SweatStackMock]) -> Iterator[tuple[SweatStackMock, str]]:
    mock = make_mock()
    with serve_mock(mock.asgi_app()) as server:
        yield mock, server.url
    mock.close()


def _api(mock: SweatStackMock, url: str, **token: Any) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {mock.token_for(**token)}"}
    )


def _change(url: str, **change: Any) -> dict[str, Any]:
    response = httpx.post(url + CHANGES, json=change)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _listed_ids(api: httpx.Client, **params: Any) -> list[str]:
    response = api.get(LIST, params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return [item.id for item in decode_summaries(response.content)]


def test_an_activity_created_outside_is_listed_with_samples_like_the_seeded_ones(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, url = served
    api = _api(mock, url)
    seeded_ride = next(
        a for a in mock.activities_of(mock.default_user) if a.sport == "cycling.road"
    )
    start = "2026-05-21T07:30:00+02:00"

    made = _change(
        url,
        kind="create_activity",
        sport="cycling.road",
        start=start,
        duration_s=1800,
        tags=["long"],
    )

    assert made["kind"] == "create_activity" and made["user_id"] == mock.default_user
    activity_id = made["resource_id"]
    assert _listed_ids(api)[0] == activity_id  # the newest
    assert activity_id in _listed_ids(api, sport="cycling", tags="long")
    details = decode_details(api.get(f"{LIST}{activity_id}").content)
    assert details.start == datetime.fromisoformat(start)
    assert details.duration == timedelta(minutes=30) and len(details.laps or []) == 3
    assert set(details.metrics) == set(
        decode_details(api.get(f"{LIST}{seeded_ride.id}").content).metrics
    )
    assert details.summary is not None and details.summary.power is not None
    data = pq.read_table(io.BytesIO(api.get(f"{LIST}{activity_id}/data").content))
    assert data.num_rows == 1800 and data.column("heart_rate").null_count == 0


def test_an_activity_created_outside_without_a_start_just_finished_by_the_mocks_clock(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, _ = served
    mock.clock.freeze()
    mock.clock.advance(3600.5)
    activity = mock.outside.create_activity(duration_s=600)
    assert activity.session.end == mock.clock.now().replace(microsecond=0)
    assert activity.start.utcoffset() in (timedelta(hours=1), timedelta(hours=2))


def test_an_update_outside_changes_what_the_list_shows_and_keeps_the_samples(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, url = served
    api = _api(mock, url)
    run = next(a for a in mock.activities_of(mock.default_user) if a.sport == "running.road")
    data_before = api.get(f"{LIST}{run.id}/data").content
    assert run.id not in _listed_ids(api, sport="running.trail")

    _change(
        url,
        kind="update_activity",
        activity_id=run.id,
        sport="running.trail",
        tags=["race", "hills"],
    )

    assert run.id in _listed_ids(api, sport="running.trail", tags=["race", "hills"])
    assert run.id not in _listed_ids(api, sport="running.road")
    listed = next(
        item
        for item in decode_summaries(api.get(LIST, params={"limit": 1000}).content)
        if item.id == run.id
    )
    assert (listed.sport, listed.tags) == ("running.trail", ["hills", "race"])
    assert api.get(f"{LIST}{run.id}/data").content == data_before


def test_a_delete_outside_removes_the_activity(served: tuple[SweatStackMock, str]) -> None:
    mock, url = served
    api = _api(mock, url)
    doomed = _listed_ids(api)[3]

    _change(url, kind="delete_activity", activity_id=doomed)

    assert api.get(f"{LIST}{doomed}").status_code == 404
    assert doomed not in _listed_ids(api)
    assert (
        httpx.post(
            url + CHANGES, json={"kind": "delete_activity", "activity_id": doomed}
        ).status_code
        == 404
    )


def test_tests_changed_outside_belong_to_sweatstacks_own_app(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, url = served
    app = _api(mock, url, client_id="gateway-app")

    made = _change(
        url,
        kind="create_test",
        user=mock.other_user,
        sport="running",
        start="2026-05-10T09:00:00+01:00",
        title="Field test",
        results={"critical_speed": 4.6, "d_prime": 210.0},
        tags=["field"],
    )
    test_id = made["resource_id"]
    assert made["user_id"] == mock.other_user
    other = _api(mock, url, user=mock.other_user, client_id="gateway-app")
    shown = other.get(f"/api/v1/tests/{test_id}").json()
    assert (shown["created_by"], shown["title"], shown["results"]) == (
        "sweatstack-web",
        "Field test",
        {"critical_speed": 4.6, "d_prime": 210.0},
    )
    assert shown["end"] == "2026-05-10T11:00:00Z"  # three hours, as SweatStack defaults it
    assert app.get(f"/api/v1/tests/{test_id}").status_code == 404  # another user's
    body = {"sport": "running", "start": "2026-05-10T09:00:00+01:00"}
    assert other.put(f"/api/v1/tests/{test_id}", json=body).status_code == 403

    _change(url, kind="update_test", test_id=test_id, title="Field test (redone)", tags=None)
    renamed = other.get(f"/api/v1/tests/{test_id}").json()
    assert (renamed["title"], renamed["tags"], renamed["sport"]) == (
        "Field test (redone)",
        None,
        "running",
    )
    _change(url, kind="delete_test", test_id=test_id)
    assert other.get(f"/api/v1/tests/{test_id}").status_code == 404


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"kind": "rename_everything"}, 422),
        ({"kind": "create_activity", "colour": "red"}, 422),
        ({"kind": "create_activity", "start": "2026-05-01T10:00:00"}, 422),  # naive
        ({"kind": "create_activity", "sport": "Running!"}, 422),
        ({"kind": "create_activity", "duration_s": 0}, 422),
        ({"kind": "create_activity", "user": "usr_nobody"}, 404),
        ({"kind": "update_activity", "activity_id": "act_nothing"}, 404),
        ({"kind": "update_test", "test_id": "tst_nothing", "title": "x"}, 404),
        ({"kind": "create_test", "results": {"vo2max": "lots"}}, 422),
        ({"kind": "delete_test"}, 422),
    ],
)
def test_a_change_the_mock_cannot_make_is_refused_and_changes_nothing(
    served: tuple[SweatStackMock, str], change: dict[str, Any], status: int
) -> None:
    mock, url = served
    before = (set(mock.activities), set(mock.tests_state.tests))
    response = httpx.post(url + CHANGES, json=change)
    assert response.status_code == status and response.json()["detail"]
    assert (set(mock.activities), set(mock.tests_state.tests)) == before


def test_outside_changes_are_not_spent_by_injected_faults(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, url = served
    api = _api(mock, url)
    mock.faults.fail_next(503, times=1)
    made = _change(url, kind="create_activity", start=datetime.now(UTC).isoformat())
    assert api.get(LIST).status_code == 503  # the fault was left for the API
    assert made["resource_id"] in _listed_ids(api)


async def test_the_changes_route_is_loopback_only(make_mock: Callable[..., SweatStackMock]) -> None:
    mock = make_mock()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b'{"kind": "create_activity"}'}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    before = len(mock.activities)
    scope = {
        "type": "http",
        "path": CHANGES,
        "method": "POST",
        "headers": [],
        "client": ("192.0.2.7", 5000),
        "query_string": b"",
    }
    await mock.asgi_app()(scope, receive, send)
    assert sent[0]["status"] == 403 and len(mock.activities) == before
