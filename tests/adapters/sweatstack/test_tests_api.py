"""The SweatStack mock's Tests API over real loopback HTTP, and the official client against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import sweatstack
from sweatstack.exceptions import SweatStackAuthError, SweatStackNotFoundError
from sweatstack.schemas import TestDetails as SdkTestDetails
from sweatstack.schemas import TestResults as SdkTestResults
from sweatstack.schemas import TestSummary as SdkTestSummary

from training_gateway.adapters._mock import MockServer, TokenIssuer, serve_mock
from training_gateway.adapters.sweatstack import wire
from training_gateway.adapters.sweatstack.client import decode_list, decode_one
from training_gateway.adapters.sweatstack.mock import StoredActivity, StoredTest, SweatStackMock
from training_gateway.adapters.sweatstack.mock.api.tests import FIRST_PARTY_APP
from training_gateway.adapters.sweatstack.mock.store import LAB_APP

from .conftest import SEED, TODAY

TESTS = "/api/v1/tests/"
CEST = timezone(timedelta(hours=2))

_HTTP = httpx.Client(timeout=10)  # one pool: a new client per request costs ~20 ms


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    _HTTP.close()


@pytest.fixture(scope="module")
def scratch(issuer: TokenIssuer) -> Iterator[tuple[SweatStackMock, str]]:
    """A served mock that this module's tests write to; each test writes only tests of its own
    (a tag or a title of its own), so they do not see each other's."""
    mock = SweatStackMock(SEED, today=TODAY, tokens=issuer)
    with serve_mock(mock.asgi_app()) as server:
        yield mock, server.url


def _call(
    method: str,
    url: str,
    path: str,
    token: str | None,
    *,
    params: Any = None,
    json: Any = None,
    content: bytes | None = None,
) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return _HTTP.request(
        method, url + path, params=params, json=json, content=content, headers=headers
    )


def _list(url: str, token: str, params: Any = None) -> list[dict[str, Any]]:
    response = _call("GET", url, TESTS, token, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def _ids(url: str, token: str, params: Any = None) -> list[str]:
    return [item["id"] for item in _list(url, token, params)]


def _body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"sport": "cycling.road", "start": "2026-05-06T10:00:00+02:00"}
    body.update(fields)
    return body


def _create(url: str, token: str, **fields: Any) -> dict[str, Any]:
    response = _call("POST", url, TESTS, token, json=_body(**fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _seeded(mock: SweatStackMock, user: str | None = None) -> list[StoredTest]:
    """The lactate, VO2max and FTP tests the mock seeded for `user`, newest first."""
    stored = mock.tests_state.of(user or mock.default_user)
    return [test for test in stored if test.created_by == LAB_APP]


def _details(url: str, token: str, test_id: str) -> dict[str, Any]:
    response = _call("GET", url, TESTS + test_id, token)
    assert response.status_code == 200, response.text
    details: dict[str, Any] = response.json()
    return details


# --- listing ----------------------------------------------------------------------------


def test_seeded_tests_are_listed_newest_first_per_user(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    mine = _list(shared_server.url, shared_mock.token_for())
    theirs = _ids(shared_server.url, shared_mock.token_for(shared_mock.other_user))

    stored = shared_mock.tests_state.of(shared_mock.default_user)
    assert [item["id"] for item in mine] == [test.id for test in stored]
    assert [item["title"] for item in mine] == ["Lactate step test", "VO2max ramp test", "FTP test"]
    starts = [datetime.fromisoformat(item["start"]) for item in mine]
    assert starts == sorted(starts, reverse=True)
    assert all(item["created_by"] == LAB_APP for item in mine)
    assert all(item["start"].endswith("Z") for item in mine)
    assert len(theirs) == 3 and set(theirs).isdisjoint(item["id"] for item in mine)
    assert _ids(shared_server.url, shared_mock.token_for(), None) == _ids(
        shared_server.url.rstrip("/"), shared_mock.token_for()
    )
    no_slash = _call("GET", shared_server.url, TESTS.rstrip("/"), shared_mock.token_for())
    assert [item["id"] for item in no_slash.json()] == [test.id for test in stored]


def test_summary_json_has_utc_instants_and_local_wall_clocks(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    [lactate, *_] = _list(shared_server.url, shared_mock.token_for())
    stored = shared_mock.tests_state.tests[lactate["id"]]
    assert stored.end is not None

    assert set(lactate) == {
        "id",
        "tags",
        "created_by",
        "title",
        "sport",
        "start",
        "end",
        "results",
        "app_metadata",
        "start_local",
        "end_local",
    }
    assert datetime.fromisoformat(lactate["start"]) == stored.start
    assert datetime.fromisoformat(lactate["end"]) == stored.end
    assert lactate["start_local"] == stored.start.replace(tzinfo=None).isoformat()
    assert lactate["end_local"] == stored.end.replace(tzinfo=None).isoformat()
    assert lactate["results"]["first_threshold"]["lactate"] == 2.0
    assert lactate["app_metadata"] is None
    # the wire Structs decode the mock's JSON strictly
    assert [
        t.id
        for t in decode_list(
            _call("GET", shared_server.url, TESTS, shared_mock.token_for()).content,
            wire.LabTestSummary,
        )
    ] == [item["id"] for item in _list(shared_server.url, shared_mock.token_for())]


def test_start_and_end_filter_by_inclusive_local_dates(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    url, token = shared_server.url, shared_mock.token_for()
    lactate, vo2max, ftp = (
        test.id for test in shared_mock.tests_state.of(shared_mock.default_user)
    )
    day = (TODAY - timedelta(days=40)).isoformat()  # the VO2max test's local date

    assert _ids(url, token, {"start": day}) == [lactate, vo2max]
    assert _ids(url, token, {"end": day}) == [vo2max, ftp]
    assert _ids(url, token, {"start": day, "end": day}) == [vo2max]
    next_day = (TODAY - timedelta(days=39)).isoformat()
    assert (
        _ids(url, token, {"start": next_day, "end": (TODAY - timedelta(days=13)).isoformat()}) == []
    )


def test_sport_filter_matches_sub_sports_and_repeats_as_a_union(
    scratch: tuple[SweatStackMock, str],
) -> None:
    mock, url = scratch
    token = mock.token_for(mock.other_user, client_id="sport-filter-app")
    run = _create(url, token, sport="running.road", tags=["sport-filter"])
    seeded = [test.id for test in _seeded(mock, mock.other_user)]

    assert _ids(url, token, [("sport", "cycling")]) == seeded
    assert _ids(url, token, [("sport", "cycling.road")]) == seeded
    assert _ids(url, token, [("sport", "running")]) == [run["id"]]
    assert _ids(url, token, [("sport", "running.trail")]) == []
    assert sorted(_ids(url, token, [("sport", "cycling"), ("sport", "running")])) == sorted(
        [*seeded, run["id"]]
    )
    assert _ids(url, token, [("sport", "rowing")]) == []


def test_tags_must_all_be_present_and_created_by_names_the_app(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    url, token = shared_server.url, shared_mock.token_for()
    lactate, vo2max, ftp = (
        test.id for test in shared_mock.tests_state.of(shared_mock.default_user)
    )

    assert _ids(url, token, [("tags", "lab")]) == [lactate, vo2max, ftp]
    assert _ids(url, token, [("tags", "lab"), ("tags", "vo2max")]) == [vo2max]
    assert _ids(url, token, [("tags", "vo2max"), ("tags", "ftp")]) == []
    assert _ids(url, token, {"created_by": LAB_APP}) == [lactate, vo2max, ftp]
    assert _ids(url, token, {"created_by": FIRST_PARTY_APP}) == []
    assert _ids(url, token, {"sport": "cycling", "tags": "ftp", "created_by": LAB_APP}) == [ftp]


def test_created_by_filter_tells_apps_apart(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    first = _create(url, mock.token_for(client_id="filter-app-a"), tags=["created-by-filter"])
    second = _create(url, mock.token_for(client_id="filter-app-b"), tags=["created-by-filter"])
    token = mock.token_for()

    assert _ids(url, token, {"created_by": "filter-app-a"}) == [first["id"]]
    assert _ids(url, token, {"created_by": "filter-app-b"}) == [second["id"]]
    both = _ids(url, token, {"tags": "created-by-filter"})
    assert sorted(both) == sorted([first["id"], second["id"]])


@pytest.mark.parametrize(
    ("value", "kind", "message", "ctx"),
    [
        ("51", "less_than_equal", "Input should be less than or equal to 50", {"le": 50}),
        ("0", "greater_than_equal", "Input should be greater than or equal to 1", {"ge": 1}),
    ],
)
def test_limit_outside_1_to_50_is_a_fastapi_422(
    shared_mock: SweatStackMock,
    shared_server: MockServer,
    value: str,
    kind: str,
    message: str,
    ctx: dict[str, int],
) -> None:
    response = _call(
        "GET", shared_server.url, TESTS, shared_mock.token_for(), params={"limit": value}
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"type": kind, "loc": ["query", "limit"], "msg": message, "input": value, "ctx": ctx}
        ]
    }


def test_limit_50_is_allowed_and_negative_offset_is_422(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    token = shared_mock.token_for()
    assert len(_list(shared_server.url, token, {"limit": 50})) == 3
    response = _call("GET", shared_server.url, TESTS, token, params={"offset": "-1"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "offset"]


def test_paging_by_limit_and_offset_visits_every_test_once(
    fresh_server: tuple[SweatStackMock, str],
) -> None:
    mock, url = fresh_server
    token = mock.token_for(client_id="paging-app")
    same_start = "2026-05-01T08:00:00+02:00"  # ties are ordered by id
    for index in range(9):
        start = same_start if index < 4 else f"2026-04-{10 + index:02d}T08:00:00+01:00"
        _create(url, token, start=start, title=f"paged {index}")

    everything = _ids(url, token, {"limit": 50})
    pages = [_ids(url, token, {"limit": 5, "offset": offset}) for offset in range(0, 20, 5)]

    assert len(everything) == 12
    assert [test_id for page in pages for test_id in page] == everything
    assert [len(page) for page in pages] == [5, 5, 2, 0]
    assert len(set(everything)) == 12
    ties = [item["id"] for item in _list(url, token) if item["start"] == "2026-05-01T06:00:00Z"]
    assert ties == sorted(ties) and len(ties) == 4


def test_missing_token_is_401(shared_server: MockServer) -> None:
    response = _call("GET", shared_server.url, TESTS, None)
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


# --- one test ---------------------------------------------------------------------------


def _overlapping(mock: SweatStackMock, start: datetime, end: datetime) -> set[str]:
    return {
        activity.id
        for activity in mock.activities_of(mock.default_user)
        if activity.start <= end and activity.session.end >= start
    }


def test_details_include_the_activities_the_test_overlaps(
    scratch: tuple[SweatStackMock, str],
) -> None:
    mock, url = scratch
    token = mock.token_for(client_id="details-app")
    activity: StoredActivity = mock.activities_of(mock.default_user)[5]
    start = activity.start + timedelta(minutes=10)
    end = activity.session.end + timedelta(minutes=5)
    created = _create(url, token, start=start.isoformat(), end=end.isoformat(), title="overlap")

    details = _details(url, token, created["id"])

    linked = [item["id"] for item in details["activities"]]
    assert activity.id in linked
    assert set(linked) == _overlapping(mock, start, end)
    in_window = {  # traces without a test, timed within this one (a seeded session RPE)
        t.id
        for t in mock.store.traces_state.of(mock.default_user)
        if t.test_id is None and start <= t.timestamp <= end
    }
    assert {trace["id"] for trace in details["traces"]} == in_window
    assert all(trace["test_match"] == "window" for trace in details["traces"])
    assert {
        key: value for key, value in details.items() if key not in ("traces", "activities")
    } == (created)
    decoded = decode_one(
        _call("GET", url, TESTS + created["id"], token).content, wire.LabTestDetails
    )
    assert isinstance(decoded, wire.LabTestDetails) and decoded.unknown_fields == {}
    assert [item["id"] for item in decoded.activities or []] == linked


def test_details_of_a_test_between_activities_link_none(
    scratch: tuple[SweatStackMock, str],
) -> None:
    mock, url = scratch
    token = mock.token_for(client_id="details-app")
    start = datetime.combine(TODAY + timedelta(days=30), datetime.min.time(), CEST)
    created = _create(url, token, start=start.isoformat(), title="no activities")

    details = _details(url, token, created["id"])

    assert details["activities"] == []
    assert details["end_local"] == (start + timedelta(hours=3)).replace(tzinfo=None).isoformat()


def test_created_without_end_ends_three_hours_after_start(
    scratch: tuple[SweatStackMock, str],
) -> None:
    mock, url = scratch
    created = _create(url, mock.token_for(client_id="end-app"), title="no end given")

    assert created["end"] == "2026-05-06T11:00:00Z"
    assert created["end_local"] == "2026-05-06T13:00:00"


@pytest.mark.parametrize("resolution", ["auto", "linked"])
def test_details_take_a_trace_resolution(
    shared_mock: SweatStackMock, shared_server: MockServer, resolution: str
) -> None:
    seeded = _seeded(shared_mock)[0]
    path = TESTS + seeded.id
    token = shared_mock.token_for()

    response = _call("GET", shared_server.url, path, token, params={"traces": resolution})
    unknown = _call("GET", shared_server.url, path, token, params={"traces": "all"})

    naming = {
        t.id for t in shared_mock.store.traces_state.of(seeded.user) if t.test_id == seeded.id
    }
    end = seeded.end or seeded.start
    timed = {
        t.id
        for t in shared_mock.store.traces_state.of(seeded.user)
        if t.test_id is None and seeded.start <= t.timestamp <= end
    }
    assert response.status_code == 200 and naming
    expected = naming if resolution == "linked" else naming | timed
    assert {trace["id"] for trace in response.json()["traces"]} == expected
    assert unknown.status_code == 422
    [error] = unknown.json()["detail"]
    assert (error["type"], error["loc"]) == ("enum", ["query", "traces"])


def test_unknown_test_is_404(shared_mock: SweatStackMock, shared_server: MockServer) -> None:
    response = _call("GET", shared_server.url, TESTS + "tst_unknown", shared_mock.token_for())
    assert response.status_code == 404
    assert "detail" in response.json()


# --- creating ---------------------------------------------------------------------------


def test_post_requires_sport_and_start_naming_each(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    token = shared_mock.token_for()

    nothing = _call("POST", shared_server.url, TESTS, token, json={"title": "x"})
    no_start = _call("POST", shared_server.url, TESTS, token, json={"sport": "running"})
    null_sport = _call(
        "POST",
        shared_server.url,
        TESTS,
        token,
        json={"sport": None, "start": "2026-05-06T10:00:00Z"},
    )

    assert nothing.status_code == no_start.status_code == null_sport.status_code == 422
    errors = nothing.json()["detail"]
    assert [(e["type"], e["loc"]) for e in errors] == [
        ("missing", ["body", "sport"]),
        ("missing", ["body", "start"]),
    ]
    assert all(e["msg"] == "Field required" for e in errors)
    assert [e["loc"] for e in no_start.json()["detail"]] == [["body", "start"]]
    assert [e["loc"] for e in null_sport.json()["detail"]] == [["body", "sport"]]
    assert shared_mock.tests_state.of(shared_mock.default_user)[0].title == "Lactate step test"


@pytest.mark.parametrize("name", ["start", "end"])
def test_naive_moments_are_422(
    shared_mock: SweatStackMock, shared_server: MockServer, name: str
) -> None:
    body = _body(end="2026-05-06T11:00:00+02:00")
    body[name] = "2026-05-06T10:30:00"

    response = _call("POST", shared_server.url, TESTS, shared_mock.token_for(), json=body)

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", name]
    assert error["type"] == "timezone_aware"


def test_unknown_result_field_and_unknown_sport_are_422(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    token = shared_mock.token_for()
    unknown_result = _call(
        "POST", shared_server.url, TESTS, token, json=_body(results={"ftp": 300})
    )
    malformed_json = _call("POST", shared_server.url, TESTS, token, content=b"{not json")
    assert unknown_result.status_code == 422
    assert malformed_json.status_code == 422
    assert malformed_json.json()["detail"][0]["type"] == "json_invalid"


def test_created_by_is_the_tokens_client_id(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    results = {
        "first_threshold": {"power": 220, "heart_rate": 150, "lactate": 2.0},
        "second_threshold": {"power": 285, "heart_rate": 168, "lactate": 4.0},
        "vo2max": 4100.0,
    }

    by_app = _create(
        url,
        mock.token_for(client_id="my-app"),
        title="Lactate step test",
        end="2026-05-06T11:30:00+02:00",
        results=results,
        tags=["lab", "step-test"],
    )
    first_party = _create(url, mock.token_for(), title="from the web app")

    assert by_app["created_by"] == "my-app"
    assert first_party["created_by"] == FIRST_PARTY_APP
    assert by_app["id"].startswith("tst_") and by_app["id"] != first_party["id"]
    assert by_app["start"] == "2026-05-06T08:00:00Z"
    assert by_app["start_local"] == "2026-05-06T10:00:00"
    assert by_app["end"] == "2026-05-06T09:30:00Z"
    assert by_app["end_local"] == "2026-05-06T11:30:00"
    assert by_app["results"] == results
    assert by_app["tags"] == ["lab", "step-test"]
    assert by_app["app_metadata"] is None
    stored = mock.tests_state.tests[by_app["id"]]
    assert stored.user == mock.default_user and stored.created_by == "my-app"


# --- replacing and deleting ---------------------------------------------------------------


def test_put_by_another_app_is_403_and_changes_nothing(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    owner = mock.token_for(client_id="owner-app")
    created = _create(url, owner, title="owned")
    seeded = _seeded(mock)[-1]

    for token, test_id in (
        (mock.token_for(client_id="intruder-app"), created["id"]),
        (mock.token_for(), created["id"]),  # the first-party web app is another app too
        (owner, seeded.id),
    ):
        put = _call("PUT", url, TESTS + test_id, token, json=_body(title="taken over"))
        delete = _call("DELETE", url, TESTS + test_id, token)
        assert put.status_code == delete.status_code == 403
        assert set(put.json()) == {"detail"} and isinstance(put.json()["detail"], str)
        assert set(delete.json()) == {"detail"}

    assert _details(url, owner, created["id"])["title"] == "owned"
    assert mock.tests_state.tests[seeded.id].title == "FTP test"


def test_put_and_delete_of_another_users_test_are_404(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    created = _create(url, mock.token_for(client_id="owner-app"), title="mine")
    stranger = mock.token_for(mock.other_user, client_id="owner-app")  # same app, other athlete

    assert _call("GET", url, TESTS + created["id"], stranger).status_code == 404
    assert _call("PUT", url, TESTS + created["id"], stranger, json=_body()).status_code == 404
    assert _call("DELETE", url, TESTS + created["id"], stranger).status_code == 404
    assert _call("PUT", url, TESTS + "tst_unknown", stranger, json=_body()).status_code == 404
    assert created["id"] in mock.tests_state.tests


def test_put_is_a_full_replace(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    token = mock.token_for(client_id="replace-app")
    created = _create(
        url,
        token,
        title="before",
        end="2026-05-06T11:00:00+02:00",
        results={"vo2max": 4000.0},
        tags=["replace"],
    )

    response = _call(
        "PUT",
        url,
        TESTS + created["id"],
        token,
        json={"sport": "running.road", "start": "2026-05-07T09:00:00+01:00"},
    )

    assert response.status_code == 200, response.text
    after = _details(url, token, created["id"])
    assert response.json() == {k: v for k, v in after.items() if k not in ("traces", "activities")}
    assert after["id"] == created["id"] and after["created_by"] == "replace-app"
    assert after["sport"] == "running.road"
    assert after["start"] == "2026-05-07T08:00:00Z"
    assert after["start_local"] == "2026-05-07T09:00:00"
    for cleared in ("title", "results", "tags", "end", "end_local"):
        assert after[cleared] is None, cleared


def test_put_validates_its_body_like_post(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    token = mock.token_for(client_id="replace-app")
    created = _create(url, token, title="kept")

    response = _call("PUT", url, TESTS + created["id"], token, json={"title": "no sport"})

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "sport"], ["body", "start"]]
    assert _details(url, token, created["id"])["title"] == "kept"


def test_delete_is_204_then_404(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    token = mock.token_for(client_id="delete-app")
    created = _create(url, token, tags=["to-delete"])

    deleted = _call("DELETE", url, TESTS + created["id"], token)

    assert deleted.status_code == 204 and deleted.content == b""
    assert _call("GET", url, TESTS + created["id"], token).status_code == 404
    assert _call("DELETE", url, TESTS + created["id"], token).status_code == 404
    assert _call("PUT", url, TESTS + created["id"], token, json=_body()).status_code == 404
    assert _ids(url, token, {"tags": "to-delete"}) == []


# --- app metadata -------------------------------------------------------------------------


def test_app_metadata_is_stored_per_app_and_seen_only_by_that_app(
    scratch: tuple[SweatStackMock, str],
) -> None:
    mock, url = scratch
    app_a = mock.token_for(client_id="meta-app-a")
    app_b = mock.token_for(client_id="meta-app-b")
    created = _create(url, app_a, tags=["metadata"])
    path = TESTS + created["id"] + "/app-metadata"

    first = _call("PUT", url, path, app_a, json={"reviewed": True, "nested": {"n": [1, 2]}})
    other = _call("PUT", url, path, app_b, json={"colour": "red"})

    assert first.status_code == other.status_code == 204
    assert first.content == b""
    assert _details(url, app_a, created["id"])["app_metadata"] == {
        "reviewed": True,
        "nested": {"n": [1, 2]},
    }
    assert _details(url, app_b, created["id"])["app_metadata"] == {"colour": "red"}
    assert _details(url, mock.token_for(), created["id"])["app_metadata"] is None
    assert (
        _details(url, mock.token_for(client_id="meta-app-c"), created["id"])["app_metadata"] is None
    )
    [listed] = _list(url, app_a, {"tags": "metadata"})
    assert listed["app_metadata"] == {"reviewed": True, "nested": {"n": [1, 2]}}

    # a PUT replaces the whole dict, no merge
    assert _call("PUT", url, path, app_a, json={"score": 3}).status_code == 204
    assert _details(url, app_a, created["id"])["app_metadata"] == {"score": 3}


def test_app_metadata_may_be_attached_to_another_apps_test(
    scratch: tuple[SweatStackMock, str],
) -> None:
    mock, url = scratch
    seeded = _seeded(mock)[1]
    token = mock.token_for(client_id="annotating-app")

    response = _call("PUT", url, f"{TESTS}{seeded.id}/app-metadata", token, json={"seen": 1})

    assert response.status_code == 204
    assert _details(url, token, seeded.id)["app_metadata"] == {"seen": 1}
    assert _details(url, token, seeded.id)["created_by"] == LAB_APP


def test_app_metadata_needs_an_app_token(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    created = _create(url, mock.token_for(), tags=["metadata-first-party"])
    path = TESTS + created["id"] + "/app-metadata"

    put = _call("PUT", url, path, mock.token_for(), json={"a": 1})
    delete = _call("DELETE", url, path, mock.token_for())

    assert put.status_code == delete.status_code == 403
    assert set(put.json()) == {"detail"} and set(delete.json()) == {"detail"}
    assert mock.tests_state.tests[created["id"]].app_metadata == {}


def _nested(levels: int) -> dict[str, Any]:
    """A JSON object `levels` objects deep."""
    nested: dict[str, Any] = {}
    for _ in range(levels - 1):
        nested = {"d": nested}
    return nested


def test_app_metadata_over_1_kb_is_413_and_over_32_levels_422(
    scratch: tuple[SweatStackMock, str],
) -> None:
    mock, url = scratch
    token = mock.token_for(client_id="meta-limits-app")
    created = _create(url, token, tags=["metadata-limits"])
    path = TESTS + created["id"] + "/app-metadata"

    def put(content: bytes) -> httpx.Response:
        return _call("PUT", url, path, token, content=content)

    kilobyte = b'{"blob":"' + b"x" * (1024 - 11) + b'"}'
    assert len(kilobyte) == 1024
    too_big = put(kilobyte[:-2] + b'x"}')
    too_deep = put(json.dumps(_nested(33)).encode())
    not_an_object = put(b"[1, 2]")
    not_json = put(b"{oops")

    assert too_big.status_code == 413, too_big.text
    assert set(too_big.json()) == {"detail"} and isinstance(too_big.json()["detail"], str)
    for refused in (too_deep, not_an_object, not_json):
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body"]
    assert mock.tests_state.tests[created["id"]].app_metadata == {}

    # the limit is on the JSON itself: a client's spacing does not count
    spaced = b'{ "blob" : "' + b"x" * (1024 - 11) + b'" }'
    assert len(spaced) > 1024 and put(spaced).status_code == 204
    assert put(kilobyte).status_code == 204
    assert _details(url, token, created["id"])["app_metadata"] == json.loads(kilobyte)
    assert put(json.dumps(_nested(32)).encode()).status_code == 204
    assert _details(url, token, created["id"])["app_metadata"] == _nested(32)


def test_delete_app_metadata_removes_only_this_apps(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    app_a = mock.token_for(client_id="meta-del-a")
    app_b = mock.token_for(client_id="meta-del-b")
    created = _create(url, app_a, tags=["metadata-delete"])
    path = TESTS + created["id"] + "/app-metadata"
    _call("PUT", url, path, app_a, json={"a": 1})
    _call("PUT", url, path, app_b, json={"b": 2})

    deleted = _call("DELETE", url, path, app_a)

    assert deleted.status_code == 204
    assert _details(url, app_a, created["id"])["app_metadata"] is None
    assert _details(url, app_b, created["id"])["app_metadata"] == {"b": 2}
    assert _call("DELETE", url, path, app_a).status_code == 204  # nothing left: still fine


def test_app_metadata_of_an_unknown_test_is_404(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    token = mock.token_for(client_id="meta-app-a")
    path = TESTS + "tst_unknown/app-metadata"
    assert _call("PUT", url, path, token, json={"a": 1}).status_code == 404
    assert _call("DELETE", url, path, token).status_code == 404


# --- hooks and versions -------------------------------------------------------------------


def test_after_read_runs_once_right_after_the_next_get(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    token = mock.token_for(client_id="hook-app")
    created = _create(url, token, title="as read")
    ran: list[str] = []

    def other_app_writes(test: StoredTest) -> None:
        ran.append(test.id)
        mock.tests_state.change(test, title="changed by another app")

    mock.tests_state.after_read(created["id"], other_app_writes)
    assert ran == []  # registering does not run it

    first = _details(url, token, created["id"])
    second = _details(url, token, created["id"])
    third = _details(url, token, created["id"])

    assert first["title"] == "as read"  # the read is served before the hook's write
    assert second["title"] == third["title"] == "changed by another app"
    assert ran == [created["id"]]


def test_after_read_does_not_run_on_lists_or_other_tests(
    scratch: tuple[SweatStackMock, str],
) -> None:
    mock, url = scratch
    token = mock.token_for(client_id="hook-app")
    watched = _create(url, token, title="watched", tags=["hook-scope"])
    other = _create(url, token, title="other", tags=["hook-scope"])
    ran: list[str] = []
    mock.tests_state.after_read(watched["id"], lambda test: ran.append(test.id))

    _list(url, token, {"tags": "hook-scope"})
    _details(url, token, other["id"])
    assert ran == []
    _details(url, token, watched["id"])
    assert ran == [watched["id"]]


def test_versions_increase_on_every_change(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    token = mock.token_for(client_id="version-app")
    created = _create(url, token, title="v1")
    stored = mock.tests_state.tests[created["id"]]
    assert stored.version == 1

    assert (
        _call("PUT", url, TESTS + created["id"], token, json=_body(title="v2")).status_code == 200
    )
    assert stored.version == 2
    mock.tests_state.change(stored, title="v3")
    assert stored.version == 3 and stored.title == "v3"
    assert (
        _call("PUT", url, TESTS + created["id"], token, json=_body(title="v4")).status_code == 200
    )
    assert stored.version == 4
    _details(url, token, created["id"])  # a read changes nothing
    assert stored.version == 4
    metadata = TESTS + created["id"] + "/app-metadata"
    assert _call("PUT", url, metadata, token, json={"a": 1}).status_code == 204
    assert stored.version == 5
    assert _call("DELETE", url, metadata, token).status_code == 204
    assert stored.version == 6
    assert _call("DELETE", url, metadata, token).status_code == 204  # nothing left to remove
    assert stored.version == 6
    assert _call("PUT", url, TESTS + created["id"], token, json={"a": 1}).status_code == 422
    assert (
        _call("PUT", url, TESTS + created["id"], mock.token_for(), json=_body()).status_code == 403
    )
    assert stored.version == 6  # refused writes change nothing


# --- the official client ------------------------------------------------------------------


@pytest.fixture
def lab(
    fresh_server: tuple[SweatStackMock, str],
) -> Iterator[tuple[SweatStackMock, sweatstack.Client]]:
    """A fresh mock and the official client holding an app token for it (the SDK wants a JWT
    with `sub` and `exp`, which `token_for` gives)."""
    mock, url = fresh_server
    with sweatstack.Client(
        api_key=mock.token_for(client_id="my-app"),
        url=url,
        ambient_credentials=False,
        max_retries=0,
    ) as client:
        yield mock, client


def test_official_client_lists_and_filters(lab: tuple[SweatStackMock, sweatstack.Client]) -> None:
    mock, client = lab
    lactate, vo2max, ftp = (test.id for test in mock.tests_state.of(mock.default_user))

    listed = client.tests.list()

    assert all(isinstance(test, SdkTestSummary) for test in listed)
    assert [test.id for test in listed] == [lactate, vo2max, ftp]
    assert listed[0].start.utcoffset() == timedelta(0) and listed[0].start_local.tzinfo is None
    assert listed[0].results is not None and listed[0].results.lt2 is not None
    assert [t.id for t in client.tests.list(sport="cycling", tags=["lab", "ftp"])] == [ftp]
    assert [t.id for t in client.tests.list(created_by=LAB_APP, limit=2, offset=1)] == [vo2max, ftp]
    day = TODAY - timedelta(days=40)
    assert [t.id for t in client.tests.list(start=day, end=day)] == [vo2max]
    assert client.tests.list(sport="running") == []


def test_official_client_pages_past_50(lab: tuple[SweatStackMock, sweatstack.Client]) -> None:
    mock, client = lab
    first = datetime(2026, 1, 1, 8, 0, tzinfo=CEST)
    for index in range(57):
        mock.tests_state.add(
            StoredTest(
                id=f"tst_{index:016x}",
                user=mock.default_user,
                created_by="my-app",
                sport="running.road",
                start=first - timedelta(days=index),
                end=None,
                title=f"paged {index}",
                results=None,
                tags=["paged"],
            )
        )

    paged = client.tests.list(tags="paged", limit=100)

    assert [test.id for test in paged] == [f"tst_{index:016x}" for index in range(57)]
    assert len(client.tests.list(limit=60)) == 60


def test_official_client_create_retrieve_replace_delete(
    lab: tuple[SweatStackMock, sweatstack.Client],
) -> None:
    mock, client = lab
    activity = mock.activities_of(mock.default_user)[2]

    created = client.tests.create(
        sport="cycling.road",
        start=activity.start,
        end=activity.session.end,
        title="Lactate step test",
        results=SdkTestResults.model_validate(
            {
                "first_threshold": {"power": 210, "heart_rate": 148, "lactate": 2.0},
                "second_threshold": {"power": 285, "lactate": 4.0},
                "vo2max": 4100.0,
            }
        ),
        tags=["lab"],
    )
    details = client.tests.retrieve(created.id)

    assert isinstance(created, SdkTestSummary) and created.created_by == "my-app"
    assert created.start == activity.start
    assert isinstance(details, SdkTestDetails)
    assert details.results is not None and details.results.first_threshold is not None
    assert details.results.first_threshold.power == 210
    assert details.results.second_threshold is not None
    assert details.results.second_threshold.heart_rate is None
    assert activity.id in [linked.id for linked in details.activities or []]
    linked_only = client.tests.retrieve(created.id, trace_resolution="linked")
    assert linked_only.traces == [] and linked_only.id == created.id
    untimed = client.tests.create(sport="running", start=activity.start)
    assert untimed.end == activity.start + timedelta(hours=3)  # the SDK's documented default

    assert (
        client.tests.replace(
            created.id, sport="running.road", start=activity.start, title="Renamed"
        )
        is None
    )
    replaced = client.tests.retrieve(created.id)
    assert (replaced.title, replaced.results, replaced.tags, replaced.end) == (
        "Renamed",
        None,
        None,
        None,
    )
    assert str(replaced.sport) == "running.road"

    client.tests.delete(created.id)
    with pytest.raises(SweatStackNotFoundError):
        client.tests.retrieve(created.id)
    with pytest.raises(SweatStackNotFoundError):
        client.tests.delete(created.id)


def test_official_client_app_metadata_set_and_delete(
    lab: tuple[SweatStackMock, sweatstack.Client],
) -> None:
    mock, client = lab
    seeded = mock.tests_state.of(mock.default_user)[0]

    client.tests.app_metadata.set(seeded.id, data={"reviewed": True})
    assert client.tests.retrieve(seeded.id).app_metadata == {"reviewed": True}
    assert client.tests.list(limit=1)[0].app_metadata == {"reviewed": True}

    client.tests.app_metadata.delete(seeded.id)
    assert client.tests.retrieve(seeded.id).app_metadata is None


def test_official_client_sees_403_on_another_apps_test(
    lab: tuple[SweatStackMock, sweatstack.Client], fresh_server: tuple[SweatStackMock, str]
) -> None:
    mock, client = lab
    seeded = mock.tests_state.of(mock.default_user)[0]

    with pytest.raises(SweatStackAuthError) as refused:
        client.tests.replace(seeded.id, sport="cycling", start=datetime.now(UTC))
    with pytest.raises(SweatStackAuthError):
        client.tests.delete(seeded.id)
    assert refused.value.status_code == 403
    assert mock.tests_state.tests[seeded.id].title == "Lactate step test"

    with (
        sweatstack.Client(
            api_key=mock.token_for(),  # a personal token: no app metadata
            url=fresh_server[1],
            ambient_credentials=False,
            max_retries=0,
        ) as personal,
        pytest.raises(SweatStackAuthError),
    ):
        personal.tests.app_metadata.set(seeded.id, data={"a": 1})
