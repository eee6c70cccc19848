"""Changes made "in Astral's own app", which no API client made: through the loopback-only
`POST /_mock/changes` (and `mock.outside`), seen through the mock's public API. Astral sends
no webhooks, so a gateway can only find these by reading again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest

from training_gateway.adapters.astral.mock import AstralMock
from training_gateway.adapters.astral.wire import FirestoreDocumentEnvelope

from .conftest import Served

ACTIVITIES = "/api/v1/activities"
CHANGES = "/_mock/changes"


@pytest.fixture
def served(fresh: Served) -> Served:
    """A fresh mock, served for one test."""
    return fresh


def _change(served: Served, **change: Any) -> dict[str, Any]:
    response = httpx.post(served.url + CHANGES, json=change)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _listed(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"{ACTIVITIES}/", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def test_an_activity_created_outside_is_listed_with_samples_like_the_seeded_ones(
    served: Served,
) -> None:
    made = _change(
        served,
        kind="create_activity",
        activity_type="CYCLING",
        start="2025-03-14T21:05:00+01:00",
        duration_s=3600,
    )

    assert made["user_id"] == served.mock.athlete_id and made["kind"] == "create_activity"
    with served.client() as api:
        newest = _listed(api, status="completed")[0]  # the planned ones come later
        full = api.get(
            f"{ACTIVITIES}/{made['resource_id']}",
            params={"detail": "true", "include_streams": "true"},
        ).json()["data"]
    assert newest["activity_id"] == made["resource_id"]
    assert newest["status"] == "completed" and newest["data_source"] == "garmin"
    summary = newest["summary"]
    assert (summary["activity_type"], summary["activity_name"]) == ("CYCLING", "Afternoon ride")
    assert summary["start_time_in_seconds"] == int(
        datetime(2025, 3, 14, 20, 5, tzinfo=UTC).timestamp()
    )
    assert summary["distance_in_meters"] > 20_000  # an hour's ride
    for derived in ("zones", "splits", "map", "ai_summary"):
        assert newest[derived], derived
    series = full["raw_streams"]["series"]
    assert {"heart_rate", "power", "speed_in_meters_per_second"} <= set(series)
    assert all(len(values) == 3600 for values in series.values())


def test_an_update_outside_renames_retypes_or_cancels_and_moves_update_time(
    served: Served,
) -> None:
    served.mock.clock.freeze()
    served.mock.clock.advance(86400)
    with served.client() as api:
        run = next(
            i
            for i in _listed(api, status="completed")
            if i["summary"]["activity_type"] == "RUNNING"
        )
        streams_before = api.get(
            f"{ACTIVITIES}/{run['activity_id']}", params={"detail": "true"}
        ).json()["data"]["streams"]

        _change(served, kind="update_activity", activity_id=run["activity_id"], name="Hill repeats")
        renamed = next(i for i in _listed(api) if i["activity_id"] == run["activity_id"])
        raw = api.get(f"{ACTIVITIES}/{run['activity_id']}", params={"format": "raw"})
        document = msgspec.json.decode(raw.content, type=FirestoreDocumentEnvelope).data
        streams_after = api.get(
            f"{ACTIVITIES}/{run['activity_id']}", params={"detail": "true"}
        ).json()["data"]["streams"]
        _change(served, kind="update_activity", activity_id=run["activity_id"], status="cancelled")
        listed_ids = {i["activity_id"] for i in _listed(api)}

    assert renamed["summary"]["activity_name"] == "Hill repeats"
    assert renamed["summary"]["duration_in_seconds"] == run["summary"]["duration_in_seconds"]
    assert streams_after == streams_before
    updated = datetime.fromisoformat(document.updateTime)
    assert updated == served.mock.clock.now()
    assert updated - datetime.fromisoformat(document.createTime) > timedelta(hours=23)
    assert run["activity_id"] not in listed_ids  # the list never shows cancelled ones


def test_a_delete_outside_removes_the_activity(served: Served) -> None:
    with served.client() as api:
        doomed = _listed(api)[2]["activity_id"]
        _change(served, kind="delete_activity", activity_id=doomed)
        assert api.get(f"{ACTIVITIES}/{doomed}").status_code == 404
        assert doomed not in {i["activity_id"] for i in _listed(api)}


def test_changes_may_be_made_for_another_user(served: Served) -> None:
    mock = served.mock
    made = _change(served, kind="create_activity", user=mock.second_athlete_id)
    with served.client(mock.second_athlete_id) as theirs, served.client() as mine:
        assert made["resource_id"] in {i["activity_id"] for i in _listed(theirs)}
        assert mine.get(f"{ACTIVITIES}/{made['resource_id']}").status_code == 404


def test_an_athlete_grants_and_withdraws_coach_access_in_the_app(served: Served) -> None:
    mock = served.mock
    athlete, other = mock.athlete_id, mock.second_athlete_id
    with served.client(other) as coach, served.client() as own:
        before = coach.get(f"{ACTIVITIES}/", params={"user_id": athlete})
        granted = _change(served, kind="start_coaching", coach=other, athlete=athlete)
        coached = _listed(coach, user_id=athlete)
        one = coach.get(f"{ACTIVITIES}/{coached[0]['activity_id']}")
        _change(served, kind="stop_coaching", coach=other, athlete=athlete)
        after = coach.get(f"{ACTIVITIES}/", params={"user_id": athlete})
        again = coach.get(f"{ACTIVITIES}/{coached[0]['activity_id']}")
        mine = _listed(own)

    assert before.status_code == 403 and "coach" in before.json()["message"].lower()
    assert granted == {"kind": "start_coaching", "user_id": athlete, "resource_id": other}
    assert coached == mine and one.status_code == 200
    assert after.status_code == 403 and again.status_code == 404


def test_the_seeded_coach_loses_access_when_the_athlete_withdraws_it(served: Served) -> None:
    mock = served.mock
    with served.client(mock.coach_id) as coach:
        assert coach.get(f"{ACTIVITIES}/", params={"user_id": mock.athlete_id}).status_code == 200
        _change(served, kind="stop_coaching", coach=mock.coach_id, athlete=mock.athlete_id)
        refused = coach.get(f"{ACTIVITIES}/", params={"user_id": mock.athlete_id})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"kind": "start_coaching", "coach": "usr_nobody", "athlete": "{athlete}"}, 404),
        ({"kind": "start_coaching", "coach": "{athlete}", "athlete": "{athlete}"}, 422),
        ({"kind": "stop_coaching", "coach": "{second}", "athlete": "{athlete}"}, 404),
        ({"kind": "start_coaching", "coach": "{second}"}, 422),
    ],
)
def test_a_coaching_change_the_mock_cannot_make_is_refused(
    served: Served, change: dict[str, Any], status: int
) -> None:
    ids = {"athlete": served.mock.athlete_id, "second": served.mock.second_athlete_id}
    body = {key: value.format(**ids) for key, value in change.items()}
    before = {coach: set(athletes) for coach, athletes in served.mock.store.coached.items()}
    response = httpx.post(served.url + CHANGES, json=body)
    assert response.status_code == status and response.json()["detail"]
    assert served.mock.store.coached == before


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"kind": "create_activity", "activity_type": "YOGA"}, 422),
        ({"kind": "create_activity", "start": "2025-03-01T10:00:00"}, 422),
        ({"kind": "create_activity", "user": "usr_nobody"}, 404),
        ({"kind": "update_activity", "activity_id": "act_nothing", "name": "x"}, 404),
        ({"kind": "update_activity", "activity_id": "act_nothing", "status": "lost"}, 422),
        ({"kind": "create_test"}, 422),  # Astral holds no tests
    ],
)
def test_a_change_the_mock_cannot_make_is_refused_and_changes_nothing(
    served: Served, change: dict[str, Any], status: int
) -> None:
    before = set(served.mock.store.activities)
    response = httpx.post(served.url + CHANGES, json=change)
    assert response.status_code == status and response.json()["detail"]
    assert set(served.mock.store.activities) == before


def test_astral_has_no_webhooks_to_manage(served: Served) -> None:
    assert httpx.get(served.url + "/_mock/webhooks").status_code == 404
    assert not hasattr(served.mock, "webhooks")


async def test_the_changes_route_is_loopback_only(make_mock: Callable[..., AstralMock]) -> None:
    mock = make_mock()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b'{"kind": "create_activity"}'}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    before = len(mock.store.activities)
    scope = {
        "type": "http",
        "path": CHANGES,
        "method": "POST",
        "headers": [],
        "client": ("198.51.100.4", 5000),
        "query_string": b"",
    }
    await mock.asgi_app()(scope, receive, send)
    assert sent[0]["status"] == 403 and len(mock.store.activities) == before
