"""The SweatStack adapter's dailies, traces and activity app-metadata calls against respx:
what it sends, how it maps the answers, and which named error a failure becomes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from training_gateway.adapters.base import Credentials, TraceQuery
from training_gateway.adapters.sweatstack import SweatStackAdapter
from training_gateway.models.daily import DailyMeasure, DailyStatus
from training_gateway.models.errors import InvalidInput, NotFound, ProviderError
from training_gateway.models.trace import TraceDraft

BASE_URL = "https://sweatstack.test"
CREDS = Credentials(access_token="token-abc", subject="usr_1")
CEST = timezone(timedelta(hours=2))


@pytest.fixture
async def adapter() -> AsyncIterator[SweatStackAdapter]:
    async with httpx.AsyncClient() as http:
        yield SweatStackAdapter(BASE_URL + "/", http)


def _trace(trace_id: str = "trc_1", **fields: Any) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "id": trace_id,
        "tags": ["lab"],
        "test_id": "tst_9",
        "timestamp": "2026-05-06T08:10:00Z",
        "timestamp_local": "2026-05-06T10:10:00",
        "lactate": 2.1,
        "rpe": None,
        "notes": None,
        "power": 220,
        "speed": None,
        "heart_rate": 151,
        "vo2": None,
        "lap": None,
        "activity": {"id": "act_7", "sport": "cycling.road"},
        "test": {"id": "tst_9"},
        "test_match": "explicit",
        "sport": "cycling.road",
        "app_metadata": None,
    }
    trace.update(fields)
    return trace


@respx.mock
async def test_list_dailies_asks_one_measure_and_keeps_only_days_with_a_value(
    adapter: SweatStackAdapter,
) -> None:
    route = respx.get(f"{BASE_URL}/api/v1/dailies/hrv").respond(
        200,
        json=[
            {"date": "2026-05-01", "value": 61.5, "status": "stored", "source": "garmin_connect"},
            {"date": "2026-05-02", "value": None, "status": "missing", "source": None},
            {"date": "2026-05-03", "value": 63.0, "status": "estimated", "source": None},
        ],
    )

    days = await adapter.list_dailies(
        CREDS, DailyMeasure.HRV, date(2026, 5, 1), date(2026, 5, 3), interpolate=True
    )

    sent = route.calls.last.request
    assert dict(sent.url.params) == {
        "start": "2026-05-01",
        "end": "2026-05-03",
        "interpolate": "true",
    }
    assert sent.headers["authorization"] == "Bearer token-abc"
    assert [(d.id, d.value, d.status, d.source) for d in days] == [
        ("sweatstack:hrv:2026-05-01", 61.5, DailyStatus.STORED, "garmin_connect"),
        ("sweatstack:hrv:2026-05-03", 63.0, DailyStatus.ESTIMATED, None),
    ]


@respx.mock
async def test_set_daily_posts_date_and_value_and_maps_the_stored_day(
    adapter: SweatStackAdapter,
) -> None:
    route = respx.post(f"{BASE_URL}/api/v1/dailies/body_mass").respond(
        200, json={"date": "2026-05-01", "value": 71.4, "status": "stored", "source": "manual"}
    )

    stored = await adapter.set_daily(CREDS, DailyMeasure.BODY_MASS, date(2026, 5, 1), 71.4)

    assert json.loads(route.calls.last.request.content) == {"date": "2026-05-01", "value": 71.4}
    assert (stored.id, stored.provider, stored.measure, stored.value) == (
        "sweatstack:body_mass:2026-05-01",
        "sweatstack",
        DailyMeasure.BODY_MASS,
        71.4,
    )


@respx.mock
async def test_delete_daily_sends_the_date_and_names_a_missing_day(
    adapter: SweatStackAdapter,
) -> None:
    route = respx.delete(f"{BASE_URL}/api/v1/dailies/resting_hr").mock(
        side_effect=[httpx.Response(204), httpx.Response(404, json={"detail": "No value"})]
    )

    await adapter.delete_daily(CREDS, DailyMeasure.RESTING_HR, date(2026, 5, 1))
    with pytest.raises(NotFound, match="resting_hr on 2026-05-01"):
        await adapter.delete_daily(CREDS, DailyMeasure.RESTING_HR, date(2026, 5, 1))

    assert dict(route.calls[0].request.url.params) == {"date": "2026-05-01"}


@respx.mock
async def test_a_daily_answer_that_does_not_decode_is_a_provider_error(
    adapter: SweatStackAdapter,
) -> None:
    respx.get(f"{BASE_URL}/api/v1/dailies/hrv").respond(200, json=[{"date": "May 1"}])

    with pytest.raises(ProviderError) as failed:
        await adapter.list_dailies(
            CREDS, DailyMeasure.HRV, date(2026, 5, 1), date(2026, 5, 1), interpolate=False
        )
    assert failed.value.provider == "sweatstack"


@respx.mock
async def test_list_traces_pages_by_100_and_maps_links_and_local_offset(
    adapter: SweatStackAdapter,
) -> None:
    first = [_trace(f"trc_{i:03d}") for i in range(100)]
    route = respx.get(f"{BASE_URL}/api/v1/traces/").mock(
        side_effect=[httpx.Response(200, json=first), httpx.Response(200, json=[_trace("trc_x")])]
    )

    traces = await adapter.list_traces(
        CREDS,
        TraceQuery(start_date=date(2026, 5, 1), sports=("cycling",), tags=("lab",)),
        offset=0,
        limit=150,
    )

    assert len(traces) == 101
    params = [call.request.url.params for call in route.calls]
    assert [(p["limit"], p["offset"]) for p in params] == [("100", "0"), ("50", "100")]
    assert params[0].get_list("sport") == ["cycling"] and params[0]["start"] == "2026-05-01"
    trace = traces[0]
    assert (trace.id, trace.test_id, trace.activity_id) == (
        "sweatstack:trc_000",
        "sweatstack:tst_9",
        "sweatstack:act_7",
    )
    assert trace.timestamp == datetime(2026, 5, 6, 10, 10, tzinfo=CEST)
    assert trace.timestamp.utcoffset() == timedelta(hours=2)
    assert trace.extensions["test_match"] == "explicit"
    assert trace.extensions["activity"] == {"id": "act_7", "sport": "cycling.road"}


@respx.mock
async def test_create_trace_sends_every_field_and_a_native_test_id(
    adapter: SweatStackAdapter,
) -> None:
    route = respx.post(f"{BASE_URL}/api/v1/traces/").respond(201, json=_trace("trc_new"))
    draft = TraceDraft(
        timestamp=datetime(2026, 5, 6, 10, 10, tzinfo=CEST),
        lactate=2.1,
        heart_rate=151,
        power=220,
        tags=["lab"],
        test_id="sweatstack:tst_9",
    )

    created = await adapter.create_trace(CREDS, draft)

    body = json.loads(route.calls.last.request.content)
    assert body == {
        "timestamp": "2026-05-06T10:10:00+02:00",
        "sport": None,
        "lactate": 2.1,
        "rpe": None,
        "notes": None,
        "power": 220,
        "speed": None,
        "heart_rate": 151,
        "vo2": None,
        "tags": ["lab"],
        "test_id": "tst_9",
    }
    assert created.id == "sweatstack:trc_new"


async def test_a_trace_linked_to_another_providers_test_is_refused_naming_test_id(
    adapter: SweatStackAdapter,
) -> None:
    draft = TraceDraft(timestamp=datetime(2026, 5, 6, tzinfo=CEST), test_id="local:abc")

    with pytest.raises(InvalidInput) as refused:
        await adapter.create_trace(CREDS, draft)
    assert refused.value.field == "test_id"


@respx.mock
async def test_replace_trace_puts_then_reads_it_back_from_its_days_list(
    adapter: SweatStackAdapter,
) -> None:
    put = respx.put(f"{BASE_URL}/api/v1/traces/trc_1").respond(200, json={})
    listed = respx.get(f"{BASE_URL}/api/v1/traces/").respond(
        200, json=[_trace("trc_0"), _trace("trc_1", rpe=6, lactate=None)]
    )
    draft = TraceDraft(timestamp=datetime(2026, 5, 6, 10, 10, tzinfo=CEST), rpe=6)

    replaced = await adapter.replace_trace(CREDS, "trc_1", draft)

    assert json.loads(put.calls.last.request.content)["rpe"] == 6
    params = listed.calls.last.request.url.params
    assert (params["start"], params["end"]) == ("2026-05-05", "2026-05-07")
    assert replaced.id == "sweatstack:trc_1" and replaced.rpe == 6 and replaced.lactate is None


@respx.mock
async def test_trace_writes_name_a_missing_trace(adapter: SweatStackAdapter) -> None:
    respx.delete(f"{BASE_URL}/api/v1/traces/trc_gone").respond(404, json={"detail": "Not found"})

    with pytest.raises(NotFound, match="trc_gone"):
        await adapter.delete_trace(CREDS, "trc_gone")


@respx.mock
async def test_activity_app_metadata_is_put_as_the_document_and_deleted(
    adapter: SweatStackAdapter,
) -> None:
    put = respx.put(f"{BASE_URL}/api/v1/activities/act_7/app-metadata").respond(204)
    removed = respx.delete(f"{BASE_URL}/api/v1/activities/act_7/app-metadata").respond(204)

    await adapter.put_activity_app_metadata(CREDS, "act_7", {"reviewed": True})
    await adapter.delete_activity_app_metadata(CREDS, "act_7")

    assert json.loads(put.calls.last.request.content) == {"reviewed": True}
    assert removed.called
    with pytest.raises(NotFound):
        await adapter.put_activity_app_metadata(CREDS, "latest", {})
