"""The `local` provider's dailies and traces, and the app metadata the gateway keeps, on the
store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

import pytest

from training_gateway.adapters.base import TraceQuery
from training_gateway.gateway.local_provider import LocalAdapter, credentials_for
from training_gateway.gateway.storage import Store
from training_gateway.gateway.storage.local import LocalAppMetadata
from training_gateway.models.daily import DailyMeasure
from training_gateway.models.errors import InvalidInput, NotFound
from training_gateway.models.lab_test import LabTestDraft
from training_gateway.models.trace import TraceDraft

OSLO = timezone(timedelta(hours=2))
DAY = date(2026, 5, 6)


async def test_a_day_is_set_replaced_listed_by_range_and_deleted(store: Store) -> None:
    adapter = LocalAdapter(store)
    creds = credentials_for(await store.create_user("athlete"))
    other = credentials_for(await store.create_user("someone-else"))
    mass = DailyMeasure.BODY_MASS

    first = await adapter.set_daily(creds, mass, DAY, 71.4)
    await adapter.set_daily(creds, mass, DAY, 71.1)
    await adapter.set_daily(creds, mass, DAY + timedelta(days=3), 70.9)
    await adapter.set_daily(creds, DailyMeasure.HRV, DAY, 64.0)
    await adapter.set_daily(other, mass, DAY, 90.0)

    listed = await adapter.list_dailies(creds, mass, DAY, DAY + timedelta(days=2), interpolate=True)
    assert first.id == "local:body_mass:2026-05-06" and first.source == "manual"
    assert [(d.date, d.value) for d in listed] == [(DAY, 71.1)]  # no estimates, other users'
    await adapter.delete_daily(creds, mass, DAY)
    assert await adapter.list_dailies(creds, mass, DAY, DAY, interpolate=False) == []
    with pytest.raises(NotFound):
        await adapter.delete_daily(creds, mass, DAY)
    assert [
        d.value for d in await adapter.list_dailies(other, mass, DAY, DAY, interpolate=False)
    ] == [90.0]


async def test_concurrent_writes_of_one_day_leave_one_of_them(store: Store) -> None:
    adapter = LocalAdapter(store)
    creds = credentials_for(await store.create_user("athlete"))

    await asyncio.gather(
        *(adapter.set_daily(creds, DailyMeasure.RESTING_HR, DAY, 40.0 + i) for i in range(8))
    )

    (day,) = await adapter.list_dailies(creds, DailyMeasure.RESTING_HR, DAY, DAY, interpolate=False)
    assert day.value in {40.0 + i for i in range(8)}


async def test_traces_round_trip_page_newest_first_and_link_only_local_tests(store: Store) -> None:
    adapter = LocalAdapter(store)
    creds = credentials_for(await store.create_user("athlete"))
    test = await adapter.create_test(
        creds, LabTestDraft(sport="cycling", start=datetime(2026, 5, 6, 9, 0, tzinfo=OSLO))
    )
    moments = [datetime(2026, 5, 6, 10, minute, tzinfo=OSLO) for minute in (5, 10, 15)]
    created = [
        await adapter.create_trace(
            creds, TraceDraft(timestamp=moment, lactate=1.0 + i, test_id=test.id, tags=["lab"])
        )
        for i, moment in enumerate(moments)
    ]

    first_page = await adapter.list_traces(creds, TraceQuery(), offset=0, limit=2)
    rest = await adapter.list_traces(creds, TraceQuery(), offset=2, limit=2)
    assert [t.id for t in first_page + rest] == [t.id for t in reversed(created)]
    assert first_page[0].timestamp == moments[-1] and first_page[0].timestamp_local == datetime(
        2026, 5, 6, 10, 15
    )
    native = created[0].id.removeprefix("local:")
    replaced = await adapter.replace_trace(creds, native, TraceDraft(timestamp=moments[0], rpe=7))
    fetched = await adapter.get_trace(creds, native)
    assert fetched == replaced and (fetched.rpe, fetched.lactate, fetched.test_id) == (
        7,
        None,
        None,
    )
    with pytest.raises(InvalidInput) as refused:
        await adapter.create_trace(
            creds, TraceDraft(timestamp=moments[0], test_id="sweatstack:tst_1")
        )
    assert refused.value.field == "test_id"
    await adapter.delete_trace(creds, native)
    with pytest.raises(NotFound):
        await adapter.get_trace(creds, native)


async def test_app_metadata_is_kept_per_user_and_record(store: Store) -> None:
    kept = LocalAppMetadata(store)
    user = (await store.create_user("athlete")).id
    other = (await store.create_user("someone-else")).id

    await kept.put(user, "astral:a1", {"reviewed": True})
    await kept.put(user, "astral:a1", {"reviewed": False, "by": ["coach"]})
    await kept.put(other, "astral:a1", {"mine": 1})

    assert await kept.of(user, ["astral:a1", "astral:a2"]) == {
        "astral:a1": {"reviewed": False, "by": ["coach"]}
    }
    await kept.remove(user, "astral:a1")
    await kept.remove(user, "astral:a1")  # idempotent
    assert await kept.of(user, ["astral:a1"]) == {}
    assert await kept.of(other, ["astral:a1"]) == {"astral:a1": {"mine": 1}}
