"""The SweatStack adapter's lab-test calls: against respx (requests, mapping, named errors), then
against the served mock end to end."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from training_gateway.adapters.base import Credentials, LabTestQuery
from training_gateway.adapters.sweatstack import SweatStackAdapter
from training_gateway.adapters.sweatstack.client import TESTS_PAGE_SIZE, TESTS_PATH
from training_gateway.adapters.sweatstack.mock import SweatStackMock
from training_gateway.adapters.sweatstack.mock.store import LAB_APP
from training_gateway.models.errors import (
    NotFound,
    ProviderError,
    ProviderForbidden,
    ProviderRejected,
)
from training_gateway.models.lab_test import LabTestDraft, LabTestResults, Marker, draft_from_test

BASE_URL = "https://sweatstack.test"
TESTS_URL = f"{BASE_URL}/api/v1/tests/"
CREDS = Credentials(access_token="token-abc", subject="usr_1")
CEST = timezone(timedelta(hours=2))


@pytest.fixture
async def adapter() -> AsyncIterator[SweatStackAdapter]:
    async with httpx.AsyncClient() as http:
        yield SweatStackAdapter(BASE_URL + "/", http)


def _summary(test_id: str = "tst_0001", **fields: Any) -> dict[str, Any]:
    """A test as SweatStack lists it (the spec's example, stored)."""
    summary: dict[str, Any] = {
        "id": test_id,
        "tags": ["lab", "step-test"],
        "created_by": "sweatstack-lab",
        "title": "Lactate step test",
        "sport": "cycling.road",
        "start": "2026-05-06T08:00:00Z",
        "end": "2026-05-06T09:30:00Z",
        "results": {
            "first_threshold": {"power": 220, "heart_rate": 150, "lactate": 2.0},
            "second_threshold": {"power": 285, "heart_rate": 168, "lactate": 4.0},
            "vo2max": 4100.0,
        },
        "app_metadata": None,
        "start_local": "2026-05-06T10:00:00",
        "end_local": "2026-05-06T11:30:00",
    }
    summary.update(fields)
    return summary


def _page(count: int, first: int = 0) -> list[dict[str, Any]]:
    return [_summary(f"tst_{first + index:016d}") for index in range(count)]


def _draft(**fields: Any) -> LabTestDraft:
    draft: dict[str, Any] = {
        "sport": "cycling.road",
        "start": datetime(2026, 5, 6, 10, tzinfo=CEST),
    }
    draft.update(fields)
    return LabTestDraft(**draft)


def test_tests_path_and_page_size_are_sweatstacks() -> None:
    assert TESTS_PATH == "/api/v1/tests/"
    assert TESTS_PAGE_SIZE == 50


# --- listing ----------------------------------------------------------------------------


@respx.mock
async def test_list_sends_bearer_paging_and_every_filter(adapter: SweatStackAdapter) -> None:
    route = respx.get(TESTS_URL).mock(return_value=httpx.Response(200, json=[]))
    query = LabTestQuery(
        start_date=date(2026, 1, 1),
        end_date=date(2026, 5, 31),
        sports=("cycling.road", "running"),
        tags=("lab", "step-test"),
        created_by="sweatstack-lab",
    )

    assert await adapter.list_tests(CREDS, query, offset=7, limit=20) == []

    request = route.calls.last.request
    assert route.call_count == 1
    assert request.url.path == "/api/v1/tests/"
    assert request.headers["Authorization"] == "Bearer token-abc"
    assert request.url.params.multi_items() == [
        ("start", "2026-01-01"),
        ("end", "2026-05-31"),
        ("sport", "cycling.road"),
        ("sport", "running"),
        ("tags", "lab"),
        ("tags", "step-test"),
        ("created_by", "sweatstack-lab"),
        ("limit", "20"),
        ("offset", "7"),
    ]


@respx.mock
async def test_list_without_filters_sends_only_limit_and_offset(adapter: SweatStackAdapter) -> None:
    route = respx.get(TESTS_URL).mock(return_value=httpx.Response(200, json=[]))

    await adapter.list_tests(CREDS, LabTestQuery(), offset=0, limit=50)

    assert route.calls.last.request.url.params.multi_items() == [("limit", "50"), ("offset", "0")]


@respx.mock
async def test_list_pages_by_at_most_50_repeating_the_filters(adapter: SweatStackAdapter) -> None:
    pages = [_page(50, 0), _page(50, 50), _page(20, 100)]
    route = respx.get(TESTS_URL).mock(side_effect=[httpx.Response(200, json=p) for p in pages])
    query = LabTestQuery(sports=("cycling",), created_by="my-app")

    tests = await adapter.list_tests(CREDS, query, offset=10, limit=120)

    sent = [call.request.url.params.multi_items() for call in route.calls]
    assert sent == [
        [("sport", "cycling"), ("created_by", "my-app"), ("limit", "50"), ("offset", "10")],
        [("sport", "cycling"), ("created_by", "my-app"), ("limit", "50"), ("offset", "60")],
        [("sport", "cycling"), ("created_by", "my-app"), ("limit", "20"), ("offset", "110")],
    ]
    assert [test.id for test in tests] == [f"sweatstack:tst_{index:016d}" for index in range(120)]


@respx.mock
async def test_list_stops_on_a_short_page(adapter: SweatStackAdapter) -> None:
    route = respx.get(TESTS_URL).mock(
        side_effect=[httpx.Response(200, json=_page(50)), httpx.Response(200, json=_page(7, 50))]
    )

    tests = await adapter.list_tests(CREDS, LabTestQuery(), offset=0, limit=500)

    assert route.call_count == 2
    assert len(tests) == 57
    assert [call.request.url.params["offset"] for call in route.calls] == ["0", "50"]


@respx.mock
async def test_list_stops_on_an_empty_page(adapter: SweatStackAdapter) -> None:
    route = respx.get(TESTS_URL).mock(
        side_effect=[httpx.Response(200, json=_page(50)), httpx.Response(200, json=[])]
    )

    tests = await adapter.list_tests(CREDS, LabTestQuery(), offset=0, limit=100)

    assert route.call_count == 2 and len(tests) == 50


@respx.mock
async def test_list_maps_each_summary(adapter: SweatStackAdapter) -> None:
    respx.get(TESTS_URL).mock(return_value=httpx.Response(200, json=[_summary()]))

    [test] = await adapter.list_tests(CREDS, LabTestQuery(), offset=0, limit=10)

    assert test.id == "sweatstack:tst_0001"
    assert test.provider == "sweatstack"
    assert test.sport == "cycling.road"
    assert test.start == datetime(2026, 5, 6, 8, tzinfo=UTC)
    assert test.end == datetime(2026, 5, 6, 9, 30, tzinfo=UTC)
    assert test.start_local == datetime(2026, 5, 6, 10)
    assert test.end_local == datetime(2026, 5, 6, 11, 30)
    assert test.title == "Lactate step test"
    assert test.tags == ["lab", "step-test"]
    assert test.created_by == "sweatstack-lab"
    assert test.results == LabTestResults(
        first_threshold=Marker(power=220, heart_rate=150, lactate=2.0),
        second_threshold=Marker(power=285, heart_rate=168, lactate=4.0),
        vo2max=4100.0,
    )
    assert test.app_metadata is None
    assert test.extensions == {}


@respx.mock
async def test_list_of_nothing_asks_nothing(adapter: SweatStackAdapter) -> None:
    route = respx.get(TESTS_URL).mock(return_value=httpx.Response(200, json=_page(3)))

    assert await adapter.list_tests(CREDS, LabTestQuery(), offset=0, limit=0) == []
    assert not route.called


# --- one test ---------------------------------------------------------------------------


@respx.mock
async def test_get_decodes_details_keeping_traces_activity_ids_and_unknown_fields(
    adapter: SweatStackAdapter,
) -> None:
    traces = [{"id": "trc_1", "timestamp": "2026-05-06T08:10:00Z", "lactate": 1.4}]
    details = _summary(
        app_metadata={"reviewed": True},
        traces=traces,
        activities=[{"id": "act_1", "sport": "cycling.road"}, {"id": "act_2"}],
        protocol={"steps_w": [100, 140, 180]},
    )
    route = respx.get(f"{TESTS_URL}tst_0001").mock(return_value=httpx.Response(200, json=details))

    test = await adapter.get_test(CREDS, "tst_0001")

    assert route.calls.last.request.headers["Authorization"] == "Bearer token-abc"
    assert test.id == "sweatstack:tst_0001"
    assert test.app_metadata == {"reviewed": True}
    assert test.extensions == {
        "traces": traces,
        "activities": ["act_1", "act_2"],
        "protocol": {"steps_w": [100, 140, 180]},
    }
    assert test.results.first_threshold == Marker(power=220, heart_rate=150, lactate=2.0)


@respx.mock
async def test_get_quotes_the_id_into_one_path_segment(adapter: SweatStackAdapter) -> None:
    route = respx.get(url__regex=r".*").mock(return_value=httpx.Response(200, json=_summary()))

    await adapter.get_test(CREDS, "tst/../x")

    assert route.calls.last.request.url.raw_path == b"/api/v1/tests/tst%2F..%2Fx"


@respx.mock
async def test_get_of_an_unknown_test_is_not_found_naming_the_id(
    adapter: SweatStackAdapter,
) -> None:
    respx.get(f"{TESTS_URL}tst_missing").mock(
        return_value=httpx.Response(404, json={"detail": "Test not found"})
    )

    with pytest.raises(NotFound, match="tst_missing"):
        await adapter.get_test(CREDS, "tst_missing")


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"null",
        b"[]",
        json.dumps(_summary(start="2026-05-06T10:00:00")).encode(),  # a naive instant
        json.dumps({k: v for k, v in _summary().items() if k != "start_local"}).encode(),
        json.dumps(_summary(results={"ftp": 300})).encode(),  # an unknown result field
        json.dumps(_summary(results={"lt1": {"power": 200, "cadence": 90}})).encode(),
    ],
)
@respx.mock
async def test_undecodable_test_is_a_provider_error_naming_sweatstack(
    adapter: SweatStackAdapter, payload: bytes
) -> None:
    respx.get(f"{TESTS_URL}tst_0001").mock(return_value=httpx.Response(200, content=payload))

    with pytest.raises(ProviderError, match="sweatstack") as caught:
        await adapter.get_test(CREDS, "tst_0001")
    assert caught.value.provider == "sweatstack"


@pytest.mark.parametrize("payload", [b"{not json", b"{}", b'[{"id": "tst_1"}]'])
@respx.mock
async def test_undecodable_list_is_a_provider_error(
    adapter: SweatStackAdapter, payload: bytes
) -> None:
    respx.get(TESTS_URL).mock(return_value=httpx.Response(200, content=payload))

    with pytest.raises(ProviderError, match="sweatstack") as caught:
        await adapter.list_tests(CREDS, LabTestQuery(), offset=0, limit=10)
    assert caught.value.provider == "sweatstack"


# --- writes -----------------------------------------------------------------------------


@respx.mock
async def test_create_posts_every_key_null_included(adapter: SweatStackAdapter) -> None:
    route = respx.post(TESTS_URL).mock(
        return_value=httpx.Response(
            201, json=_summary("tst_new", title=None, end=None, end_local=None, created_by="my-app")
        )
    )

    created = await adapter.create_test(CREDS, _draft())

    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer token-abc"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert body == {
        "title": None,
        "sport": "cycling.road",
        "start": "2026-05-06T10:00:00+02:00",
        "end": None,
        "results": {},
        "tags": [],
    }
    assert created.id == "sweatstack:tst_new"
    assert created.created_by == "my-app"
    assert created.title is None and created.end is None


@respx.mock
async def test_create_sends_results_with_whole_power_and_heart_rates(
    adapter: SweatStackAdapter,
) -> None:
    route = respx.post(TESTS_URL).mock(return_value=httpx.Response(201, json=_summary()))
    draft = _draft(
        title="Lactate step test",
        end=datetime(2026, 5, 6, 11, 30, tzinfo=CEST),
        results=LabTestResults(
            first_threshold=Marker(power=220.4, heart_rate=149.6, lactate=2.0),
            vo2max=4100.5,
            heart_rate_max=190,
            critical_power=300,
            w_prime=18.5,
        ),
        tags=["lab"],
    )

    await adapter.create_test(CREDS, draft)

    body = json.loads(route.calls.last.request.content)
    assert body == {
        "title": "Lactate step test",
        "sport": "cycling.road",
        "start": "2026-05-06T10:00:00+02:00",
        "end": "2026-05-06T11:30:00+02:00",
        "results": {
            "first_threshold": {"power": 220, "heart_rate": 150, "lactate": 2.0},
            "vo2max": 4100.5,
            "heart_rate_max": 190,
            "critical_power": 300,
            "w_prime": 18.5,
        },
        "tags": ["lab"],
    }


@respx.mock
async def test_replace_puts_the_full_body_then_reads_the_test_back(
    adapter: SweatStackAdapter,
) -> None:
    put = respx.put(f"{TESTS_URL}tst_0001").mock(
        return_value=httpx.Response(200, json=_summary(title="what PUT answered"))
    )
    get = respx.get(f"{TESTS_URL}tst_0001").mock(
        return_value=httpx.Response(
            200, json=_summary(title="Renamed", activities=[{"id": "act_9"}], traces=[])
        )
    )

    replaced = await adapter.replace_test(CREDS, "tst_0001", _draft(title="Renamed"))

    assert put.call_count == get.call_count == 1
    calls = respx.calls
    assert [call.request.method for call in calls] == ["PUT", "GET"]
    body = json.loads(put.calls.last.request.content)
    assert set(body) == {"title", "sport", "start", "end", "results", "tags"}
    assert body["title"] == "Renamed" and body["end"] is None
    assert replaced.title == "Renamed"
    assert replaced.extensions == {"traces": [], "activities": ["act_9"]}


@respx.mock
async def test_delete_sends_delete(adapter: SweatStackAdapter) -> None:
    route = respx.delete(f"{TESTS_URL}tst_0001").mock(return_value=httpx.Response(204))

    await adapter.delete_test(CREDS, "tst_0001")

    assert route.called
    assert route.calls.last.request.headers["Authorization"] == "Bearer token-abc"


@respx.mock
async def test_app_metadata_put_and_delete_paths_and_body(adapter: SweatStackAdapter) -> None:
    url = f"{TESTS_URL}tst_0001/app-metadata"
    put = respx.put(url).mock(return_value=httpx.Response(204))
    delete = respx.delete(url).mock(return_value=httpx.Response(204))

    await adapter.put_test_app_metadata(CREDS, "tst_0001", {"reviewed": True, "n": [1, 2]})
    await adapter.delete_test_app_metadata(CREDS, "tst_0001")

    request = put.calls.last.request
    assert request.url.path == "/api/v1/tests/tst_0001/app-metadata"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer token-abc"
    assert json.loads(request.content) == {"reviewed": True, "n": [1, 2]}
    assert delete.calls.last.request.url.path == "/api/v1/tests/tst_0001/app-metadata"
    assert delete.calls.last.request.content == b""


@respx.mock
async def test_empty_app_metadata_is_still_sent_as_an_object(adapter: SweatStackAdapter) -> None:
    put = respx.put(f"{TESTS_URL}tst_0001/app-metadata").mock(return_value=httpx.Response(204))

    await adapter.put_test_app_metadata(CREDS, "tst_0001", {})

    assert put.calls.last.request.content == b"{}"


_FORBIDDEN = {"detail": "This test was created by another app; your token has no access"}


async def _replace(adapter: SweatStackAdapter) -> object:
    return await adapter.replace_test(CREDS, "tst_0001", _draft())


async def _delete(adapter: SweatStackAdapter) -> None:
    await adapter.delete_test(CREDS, "tst_0001")


async def _put_metadata(adapter: SweatStackAdapter) -> None:
    await adapter.put_test_app_metadata(CREDS, "tst_0001", {"a": 1})


async def _delete_metadata(adapter: SweatStackAdapter) -> None:
    await adapter.delete_test_app_metadata(CREDS, "tst_0001")


_WRITES = [
    ("PUT", "tst_0001", _replace),
    ("DELETE", "tst_0001", _delete),
    ("PUT", "tst_0001/app-metadata", _put_metadata),
    ("DELETE", "tst_0001/app-metadata", _delete_metadata),
]


@pytest.mark.parametrize(("method", "path", "write"), _WRITES)
@respx.mock
async def test_403_is_provider_forbidden_naming_sweatstack(
    adapter: SweatStackAdapter, method: str, path: str, write: Any
) -> None:
    respx.route(method=method, url=TESTS_URL + path).mock(
        return_value=httpx.Response(403, json=_FORBIDDEN)
    )
    read_back = respx.get(f"{TESTS_URL}tst_0001").mock(
        return_value=httpx.Response(200, json=_summary())
    )

    with pytest.raises(ProviderForbidden, match="sweatstack") as caught:
        await write(adapter)

    assert caught.value.provider == "sweatstack"
    assert caught.value.upstream_status == 403
    assert "another app" in caught.value.detail
    assert not read_back.called


@pytest.mark.parametrize(("method", "path", "write"), _WRITES)
@respx.mock
async def test_404_is_not_found_naming_the_test(
    adapter: SweatStackAdapter, method: str, path: str, write: Any
) -> None:
    respx.route(method=method, url=TESTS_URL + path).mock(
        return_value=httpx.Response(404, json={"detail": "Test not found"})
    )

    with pytest.raises(NotFound, match="tst_0001"):
        await write(adapter)


@respx.mock
async def test_create_refused_as_invalid_is_provider_rejected(adapter: SweatStackAdapter) -> None:
    detail = [{"type": "missing", "loc": ["body", "start"], "msg": "Field required"}]
    respx.post(TESTS_URL).mock(return_value=httpx.Response(422, json={"detail": detail}))

    with pytest.raises(ProviderRejected, match="sweatstack") as caught:
        await adapter.create_test(CREDS, _draft())
    assert caught.value.upstream_status == 422


@respx.mock
async def test_created_test_that_does_not_decode_is_a_provider_error(
    adapter: SweatStackAdapter,
) -> None:
    respx.post(TESTS_URL).mock(return_value=httpx.Response(201, content=b"<html>oops</html>"))

    with pytest.raises(ProviderError, match="sweatstack"):
        await adapter.create_test(CREDS, _draft())


# --- against the served mock --------------------------------------------------------------


@pytest.fixture
async def served(
    fresh_server: tuple[SweatStackMock, str],
) -> AsyncIterator[tuple[SweatStackMock, SweatStackAdapter]]:
    mock, url = fresh_server
    async with httpx.AsyncClient(timeout=10) as http:
        yield mock, SweatStackAdapter(url, http)


def _native(test_id: str) -> str:
    provider, _, native = test_id.partition(":")
    assert provider == "sweatstack"
    return native


async def test_create_get_replace_list_delete_against_the_mock(
    served: tuple[SweatStackMock, SweatStackAdapter],
) -> None:
    mock, adapter = served
    creds = Credentials(access_token=mock.token_for(client_id="my-app"), subject=mock.default_user)
    activity = mock.activities_of(mock.default_user)[3]
    results = LabTestResults(
        first_threshold=Marker(power=220, heart_rate=150, lactate=2.0),
        second_threshold=Marker(power=285, heart_rate=168, lactate=4.0),
        vo2max=4100.0,
        critical_power=290,
    )
    draft = LabTestDraft(
        sport="cycling.road",
        start=activity.start,
        end=activity.session.end,
        title="Lactate step test",
        results=results,
        tags=["lab", "e2e"],
    )

    created = await adapter.create_test(creds, draft)
    native = _native(created.id)
    fetched = await adapter.get_test(creds, native)

    assert created.created_by == fetched.created_by == "my-app"
    assert fetched.start == activity.start and fetched.end == activity.session.end
    assert fetched.start_local == activity.start.replace(tzinfo=None)
    assert fetched.results == results
    assert fetched.tags == ["lab", "e2e"]
    assert activity.id in fetched.extensions["activities"]
    assert fetched.extensions["traces"] == []

    replaced = await adapter.replace_test(
        creds,
        native,
        LabTestDraft(sport="running.road", start=activity.start),
    )
    assert replaced.id == created.id
    assert replaced.sport == "running.road"
    assert replaced.title is None and replaced.end is None and replaced.end_local is None
    assert replaced.results == LabTestResults()
    assert replaced.tags == []
    assert replaced.created_by == "my-app"

    mine = await adapter.list_tests(creds, LabTestQuery(created_by="my-app"), offset=0, limit=10)
    running = await adapter.list_tests(creds, LabTestQuery(sports=("running",)), offset=0, limit=10)
    everything = await adapter.list_tests(creds, LabTestQuery(), offset=0, limit=100)
    assert [test.id for test in mine] == [created.id]
    assert [test.id for test in running] == [created.id]
    assert len(everything) == 4
    assert [test.start for test in everything] == sorted(
        (test.start for test in everything), reverse=True
    )

    await adapter.delete_test(creds, native)
    with pytest.raises(NotFound, match=native):
        await adapter.get_test(creds, native)
    with pytest.raises(NotFound):
        await adapter.delete_test(creds, native)
    assert (
        await adapter.list_tests(creds, LabTestQuery(created_by="my-app"), offset=0, limit=10) == []
    )


async def test_list_pages_through_the_mock_past_50(
    served: tuple[SweatStackMock, SweatStackAdapter],
) -> None:
    mock, adapter = served
    creds = Credentials(access_token=mock.token_for(client_id="my-app"))
    first = datetime(2026, 1, 1, 9, tzinfo=CEST)
    for index in range(60):
        await adapter.create_test(
            creds, LabTestDraft(sport="rowing", start=first - timedelta(days=index), tags=["bulk"])
        )

    bulk = await adapter.list_tests(creds, LabTestQuery(tags=("bulk",)), offset=0, limit=1000)
    shifted = await adapter.list_tests(creds, LabTestQuery(tags=("bulk",)), offset=5, limit=52)

    assert len(bulk) == 60 and len({test.id for test in bulk}) == 60
    assert [test.start for test in bulk] == [first - timedelta(days=i) for i in range(60)]
    assert [test.id for test in shifted] == [test.id for test in bulk[5:57]]


async def test_another_apps_test_is_forbidden_but_takes_app_metadata(
    served: tuple[SweatStackMock, SweatStackAdapter],
) -> None:
    mock, adapter = served
    creds = Credentials(access_token=mock.token_for(client_id="my-app"))
    seeded = next(t for t in mock.tests_state.of(mock.default_user) if t.created_by == LAB_APP)

    with pytest.raises(ProviderForbidden, match="sweatstack"):
        await adapter.replace_test(creds, seeded.id, _draft())
    with pytest.raises(ProviderForbidden, match="sweatstack"):
        await adapter.delete_test(creds, seeded.id)

    await adapter.put_test_app_metadata(creds, seeded.id, {"reviewed": True})
    assert (await adapter.get_test(creds, seeded.id)).app_metadata == {"reviewed": True}
    personal = Credentials(access_token=mock.token_for())
    assert (await adapter.get_test(personal, seeded.id)).app_metadata is None
    with pytest.raises(ProviderForbidden):
        await adapter.put_test_app_metadata(personal, seeded.id, {"a": 1})

    await adapter.delete_test_app_metadata(creds, seeded.id)
    assert (await adapter.get_test(creds, seeded.id)).app_metadata is None


async def test_another_users_test_is_not_found(
    served: tuple[SweatStackMock, SweatStackAdapter],
) -> None:
    mock, adapter = served
    creds = Credentials(access_token=mock.token_for(client_id="my-app"))
    theirs = mock.tests_state.of(mock.other_user)[0]

    with pytest.raises(NotFound, match=theirs.id):
        await adapter.get_test(creds, theirs.id)
    with pytest.raises(NotFound, match=theirs.id):
        await adapter.replace_test(creds, theirs.id, _draft())
    with pytest.raises(NotFound, match=theirs.id):
        await adapter.put_test_app_metadata(creds, theirs.id, {"a": 1})


async def test_writing_back_an_unchanged_read_keeps_the_athletes_local_wall_clock(
    served: tuple[SweatStackMock, SweatStackAdapter],
) -> None:
    """A merge patch (gateway.lab_tests.patch_test) writes `draft_from_test(current)` back;
    a test that was not changed must keep its local start and end."""
    mock, adapter = served
    creds = Credentials(access_token=mock.token_for(client_id="my-app"))
    start = datetime(2026, 5, 6, 10, tzinfo=CEST)
    created = await adapter.create_test(
        creds, _draft(start=start, end=start + timedelta(hours=1), title="as recorded")
    )
    native = _native(created.id)
    current = await adapter.get_test(creds, native)
    assert current.start_local == datetime(2026, 5, 6, 10)

    again = await adapter.replace_test(creds, native, draft_from_test(current))

    assert again.start == current.start
    assert again.start_local == datetime(2026, 5, 6, 10)
    assert again.end_local == datetime(2026, 5, 6, 11)
