"""The SweatStack mock's dailies, traces and activity app metadata over loopback HTTP, driven
by the official client (0.97) as an app would use it, and by hand where the client cannot
reach (scopes, malformed input)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import sweatstack
from sweatstack.exceptions import (
    SweatStackAuthError,
    SweatStackBadRequestError,
    SweatStackNotFoundError,
)
from sweatstack.schemas import DailyResponse, TraceDetails

from training_gateway.adapters.sweatstack.mock import SweatStackMock

from .conftest import TODAY


@pytest.fixture
def app_client(
    fresh_server: tuple[SweatStackMock, str],
) -> Iterator[tuple[SweatStackMock, str, sweatstack.Client]]:
    """A fresh mock and the official client holding an app token for its first athlete."""
    mock, url = fresh_server
    with sweatstack.Client(
        api_key=mock.token_for(client_id="my-app"),
        url=url,
        ambient_credentials=False,
        max_retries=0,
    ) as client:
        yield mock, url, client


def test_official_client_lists_a_seeded_series_every_day_of_the_range(
    app_client: tuple[SweatStackMock, str, sweatstack.Client],
) -> None:
    _, _, client = app_client
    start, end = TODAY - timedelta(days=29), TODAY

    raw = client.dailies.list("resting_hr", start=start, end=end, interpolate=False)
    filled = client.dailies.list("resting_hr", start=start, end=end)  # the SDK interpolates

    assert all(isinstance(day, DailyResponse) for day in raw)
    assert [day.date for day in raw] == [start + timedelta(days=i) for i in range(30)]
    stored = [day for day in raw if day.status.value == "stored"]
    missing = [day for day in raw if day.status.value == "missing"]
    assert len(stored) >= 20 and all(30 <= (day.value or 0) <= 75 for day in stored)
    assert all(day.source is not None and day.source.value == "garmin_connect" for day in stored)
    assert all(day.value is None and day.source is None for day in missing)
    inner = [d for d in missing if raw[0].date < d.date < raw[-1].date]
    by_day = {day.date: day for day in filled}
    for day in inner:  # a gap between two stored days is estimated from them
        estimate = by_day[day.date]
        assert estimate.status.value == "estimated" and estimate.value is not None


def test_official_client_sets_replaces_and_deletes_a_day(
    app_client: tuple[SweatStackMock, str, sweatstack.Client],
) -> None:
    _, _, client = app_client
    day = TODAY + timedelta(days=1)

    first = client.dailies.set("body_mass", date=day, value=71.4)
    again = client.dailies.set("body_mass", date=day, value=71.1)
    listed = client.dailies.list("body_mass", start=day, end=day, interpolate=False)
    client.dailies.delete("body_mass", date=day)
    gone = client.dailies.list("body_mass", start=day, end=day, interpolate=False)

    assert (first.value, first.status.value, first.source.value) == (71.4, "stored", "manual")  # type: ignore[union-attr]
    assert again.value == 71.1 and [d.value for d in listed] == [71.1]
    assert gone[0].status.value == "missing" and gone[0].value is None
    with pytest.raises(SweatStackNotFoundError):
        client.dailies.delete("body_mass", date=day)


def test_dailies_need_wellness_scopes_and_the_cycle_day_reproductive_ones(
    fresh_server: tuple[SweatStackMock, str],
) -> None:
    mock, url = fresh_server
    params = {"start": "2026-05-01", "end": "2026-05-02"}

    def get(measure: str, scope: str) -> httpx.Response:
        token = mock.token_for(scope=scope)
        return httpx.get(
            f"{url}/api/v1/dailies/{measure}",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        )

    assert get("hrv", "wellness:read").status_code == 200
    assert get("hrv", "data:read").status_code == 200
    refused = get("hrv", "activities:read")
    assert refused.status_code == 403 and "wellness:read" in refused.json()["detail"]
    assert get("menstrual_cycle_day", "wellness:read").status_code == 403
    assert get("menstrual_cycle_day", "reproductive_health:read").status_code == 200
    token = mock.token_for(scope="wellness:read")
    written = httpx.post(
        f"{url}/api/v1/dailies/hrv",
        json={"date": "2026-05-01", "value": 60},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert written.status_code == 403 and "wellness:write" in written.json()["detail"]


def test_dailies_refuse_unknown_measures_and_malformed_input_as_fastapi_does(
    fresh_server: tuple[SweatStackMock, str],
) -> None:
    mock, url = fresh_server
    headers = {"Authorization": f"Bearer {mock.token_for()}"}

    unknown = httpx.get(
        f"{url}/api/v1/dailies/weight", params={"start": "2026-05-01", "end": "2026-05-02"},
        headers=headers,
    )  # fmt: skip
    no_end = httpx.get(f"{url}/api/v1/dailies/hrv", params={"start": "2026-05-01"}, headers=headers)
    bad_body = httpx.post(
        f"{url}/api/v1/dailies/hrv", json={"date": "2026-05-01", "value": "high"}, headers=headers
    )
    no_date = httpx.delete(f"{url}/api/v1/dailies/hrv", headers=headers)

    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["path", "measure"]
    assert no_end.status_code == 422 and no_end.json()["detail"][0]["loc"] == ["query", "end"]
    assert bad_body.status_code == 422 and bad_body.json()["detail"][0]["loc"] == ["body", "value"]
    assert no_date.status_code == 422 and no_date.json()["detail"][0]["loc"] == ["query", "date"]


def test_official_client_lists_seeded_traces_linked_to_their_test_and_activity(
    app_client: tuple[SweatStackMock, str, sweatstack.Client],
) -> None:
    mock, _, client = app_client
    lactate_test = next(
        t for t in mock.tests_state.of(mock.default_user) if "lactate" in (t.tags or [])
    )

    samples = client.traces.list(tags=["lactate"])
    session_rpes = client.traces.list(tags="session-rpe", limit=3)
    details = client.tests.retrieve(lactate_test.id, trace_resolution="linked")

    assert len(samples) == 7 and all(isinstance(t, TraceDetails) for t in samples)
    assert [t.timestamp for t in samples] == sorted((t.timestamp for t in samples), reverse=True)
    lactates = [t.lactate for t in reversed(samples)]
    assert lactates == sorted(lactates)  # lactate rises step by step  # type: ignore[type-var]
    assert all(t.test_id == lactate_test.id and t.test_match.value == "explicit" for t in samples)  # type: ignore[union-attr]
    assert samples[0].test is not None and samples[0].test.id == lactate_test.id
    assert len(session_rpes) == 3 and all(t.rpe is not None for t in session_rpes)
    assert {t.id for t in details.traces or []} == {t.id for t in samples}


def test_official_client_creates_replaces_and_deletes_a_trace(
    app_client: tuple[SweatStackMock, str, sweatstack.Client],
) -> None:
    mock, _, client = app_client
    activity = mock.activities_of(mock.default_user)[0]
    during = activity.start + timedelta(seconds=30)
    test = mock.tests_state.of(mock.default_user)[0]

    created = client.traces.create(
        timestamp=during, lactate=2.4, heart_rate=151, power=230, tags=["mine"], test_id=test.id
    )
    assert isinstance(created, TraceDetails) and created.id.startswith("trc_")
    assert created.timestamp == during and created.timestamp_local == during.replace(tzinfo=None)
    assert created.activity is not None and created.activity.id == activity.id
    assert created.lap is not None and created.test_id == test.id

    client.traces.replace(created.id, timestamp=during, rpe=6, notes="felt easy")
    listed = {t.id: t for t in client.traces.list(limit=100)}
    assert listed[created.id].rpe == 6 and listed[created.id].lactate is None
    assert listed[created.id].test_id is None and listed[created.id].tags is None

    client.traces.delete(created.id)
    assert created.id not in {t.id for t in client.traces.list(limit=100)}
    with pytest.raises(SweatStackNotFoundError):
        client.traces.delete(created.id)
    with pytest.raises(SweatStackNotFoundError):
        client.traces.create(timestamp=during, lactate=1.0, test_id="tst_nope")
    with pytest.raises(ValueError):
        client.traces.create(timestamp=during.replace(tzinfo=None), lactate=1.0)


def test_trace_writes_refuse_invalid_fields_naming_them(
    fresh_server: tuple[SweatStackMock, str],
) -> None:
    mock, url = fresh_server
    headers = {"Authorization": f"Bearer {mock.token_for()}"}

    naive = httpx.post(
        f"{url}/api/v1/traces/", json={"timestamp": "2026-05-01T10:00:00"}, headers=headers
    )
    negative = httpx.post(
        f"{url}/api/v1/traces/",
        json={"timestamp": "2026-05-01T10:00:00Z", "power": -5},
        headers=headers,
    )
    read_only = httpx.post(
        f"{url}/api/v1/traces/",
        json={"timestamp": "2026-05-01T10:00:00Z"},
        headers={"Authorization": f"Bearer {mock.token_for(scope='activities:read')}"},
    )

    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["body", "timestamp"]
    assert negative.status_code == 422 and negative.json()["detail"][0]["loc"] == ["body", "power"]
    assert read_only.status_code == 403 and "activities:write" in read_only.json()["detail"]


def test_official_client_sets_and_deletes_app_metadata_on_activities_and_traces(
    app_client: tuple[SweatStackMock, str, sweatstack.Client],
) -> None:
    mock, url, client = app_client
    activity = mock.activities_of(mock.default_user)[0]
    trace = client.traces.list(limit=1)[0]

    client.activities.app_metadata.set(activity.id, data={"reviewed": True})
    client.traces.app_metadata.set(trace.id, data={"flag": "outlier"})

    assert client.activities.retrieve(activity.id).app_metadata == {"reviewed": True}
    assert client.activities.list(limit=1)[0].app_metadata == {"reviewed": True}
    assert client.traces.list(limit=1)[0].app_metadata == {"flag": "outlier"}
    with sweatstack.Client(
        api_key=mock.token_for(client_id="other-app"),
        url=url,
        ambient_credentials=False,
        max_retries=0,
    ) as other:
        assert other.activities.retrieve(activity.id).app_metadata is None  # each app its own

    client.activities.app_metadata.delete(activity.id)
    client.traces.app_metadata.delete(trace.id)
    assert client.activities.retrieve(activity.id).app_metadata is None
    assert client.traces.list(limit=1)[0].app_metadata is None
    with pytest.raises(SweatStackBadRequestError):
        client.activities.app_metadata.set(activity.id, data={"blob": "x" * 2000})
    with pytest.raises(SweatStackNotFoundError):
        client.activities.app_metadata.set("act_nope", data={})
    with (
        sweatstack.Client(
            api_key=mock.token_for(), url=url, ambient_credentials=False, max_retries=0
        ) as personal,
        pytest.raises(SweatStackAuthError),
    ):
        personal.activities.app_metadata.set(activity.id, data={"reviewed": True})


def test_seeded_dailies_differ_between_athletes_and_stay_private(
    fresh_server: tuple[SweatStackMock, str],
) -> None:
    mock, url = fresh_server
    params = {"start": (TODAY - timedelta(days=13)).isoformat(), "end": TODAY.isoformat()}

    def cycle(user: str) -> list[float | None]:
        response = httpx.get(
            f"{url}/api/v1/dailies/menstrual_cycle_day",
            params=params,
            headers={"Authorization": f"Bearer {mock.token_for(user)}"},
        )
        assert response.status_code == 200
        return [day["value"] for day in response.json()]

    first, second = cycle(mock.default_user), cycle(mock.other_user)

    assert all(value is None for value in first)
    assert all(value is not None and 1 <= value <= 28 for value in second)
