"""The built-in `local` provider on the store, on SQLite and PostgreSQL: tests and activities
per user, stable paging, full replace, and compare-and-swap writes that never lose an update."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training_gateway.adapters.base import (
    ActivityQuery,
    LabTestQuery,
    SupportsConditionalLabTestWrite,
    SupportsLabTests,
)
from training_gateway.gateway.local_provider import LocalAdapter, credentials_for
from training_gateway.gateway.storage import Store
from training_gateway.models.activity import ActivityDraft
from training_gateway.models.errors import Conflict, NotFound
from training_gateway.models.lab_test import LabTestDraft, LabTestResults, Marker, etag

OSLO = timezone(timedelta(hours=1))
START = datetime(2026, 5, 6, 10, 0, tzinfo=OSLO)


def _draft(**fields: object) -> LabTestDraft:
    values: dict[str, object] = {
        "sport": "cycling.road",
        "start": START,
        "end": START + timedelta(minutes=90),
        "title": "Lactate step test",
        "results": LabTestResults(
            first_threshold=Marker(power=220, heart_rate=150, lactate=2.0),
            second_threshold=Marker(power=285, heart_rate=168, lactate=4.0),
            vo2max=4100,
        ),
        "tags": ["lab"],
    }
    values.update(fields)
    return LabTestDraft(**values)  # type: ignore[arg-type]


async def test_local_is_a_tests_provider_with_compare_and_swap(store: Store) -> None:
    adapter = LocalAdapter(store)
    assert isinstance(adapter, SupportsLabTests)
    assert isinstance(adapter, SupportsConditionalLabTestWrite)


async def test_a_test_round_trips_with_its_local_time(store: Store) -> None:
    adapter = LocalAdapter(store)
    creds = credentials_for(await store.create_user("coach"))
    created = await adapter.create_test(creds, _draft())
    assert created.id.startswith("local:")
    assert created.created_by == "coach"
    assert created.start_local == datetime(2026, 5, 6, 10, 0)
    native = created.id.split(":", 1)[1]
    read = await adapter.get_test(creds, native)
    assert read == created
    assert read.results.second_threshold == Marker(power=285, heart_rate=168, lactate=4.0)


async def test_put_is_a_full_replace_keeping_creator_and_app_metadata(store: Store) -> None:
    adapter = LocalAdapter(store)
    creds = credentials_for(await store.create_user("coach"))
    native = (await adapter.create_test(creds, _draft())).id.split(":", 1)[1]
    await adapter.put_test_app_metadata(creds, native, {"reviewed": True})
    replaced = await adapter.replace_test(creds, native, LabTestDraft(sport="running", start=START))
    assert (replaced.title, replaced.end, replaced.tags) == (None, None, [])
    assert replaced.results == LabTestResults()
    assert replaced.created_by == "coach"
    assert replaced.app_metadata == {"reviewed": True}
    await adapter.delete_test_app_metadata(creds, native)
    assert (await adapter.get_test(creds, native)).app_metadata is None


async def test_one_user_never_reaches_another_users_records(store: Store) -> None:
    adapter = LocalAdapter(store)
    alice = credentials_for(await store.create_user("alice"))
    bob = credentials_for(await store.create_user("bob"))
    native = (await adapter.create_test(alice, _draft())).id.split(":", 1)[1]
    assert await adapter.list_tests(bob, LabTestQuery(), offset=0, limit=10) == []
    with pytest.raises(NotFound):
        await adapter.get_test(bob, native)
    with pytest.raises(NotFound):
        await adapter.replace_test(bob, native, _draft(title="hijacked"))
    with pytest.raises(NotFound):
        await adapter.delete_test(bob, native)
    assert (await adapter.get_test(alice, native)).title == "Lactate step test"


async def test_a_stale_conditional_write_is_refused(store: Store) -> None:
    adapter = LocalAdapter(store)
    creds = credentials_for(await store.create_user("coach"))
    native = (await adapter.create_test(creds, _draft())).id.split(":", 1)[1]
    read = await adapter.get_test(creds, native)
    await adapter.replace_test(creds, native, _draft(title="someone else's change"))
    with pytest.raises(Conflict):
        await adapter.replace_test_if_unchanged(creds, native, _draft(title="mine"), read)
    assert (await adapter.get_test(creds, native)).title == "someone else's change"


async def test_racing_conditional_writes_from_one_read_let_exactly_one_win(store: Store) -> None:
    adapter = LocalAdapter(store)
    creds = credentials_for(await store.create_user("coach"))
    native = (await adapter.create_test(creds, _draft())).id.split(":", 1)[1]
    read = await adapter.get_test(creds, native)

    async def write(n: int) -> str:
        try:
            await adapter.replace_test_if_unchanged(
                creds, native, _draft(title=f"writer {n}"), read
            )
        except Conflict:
            return "conflict"
        return f"writer {n}"

    outcomes = await asyncio.gather(*(write(n) for n in range(10)))
    winners = [o for o in outcomes if o != "conflict"]
    assert len(winners) == 1
    final = await adapter.get_test(creds, native)
    assert final.title == winners[0]
    assert etag(final) != etag(read)


async def test_activities_created_locally_list_newest_first(store: Store) -> None:
    adapter = LocalAdapter(store)
    creds = credentials_for(await store.create_user("runner"))
    for hours in (0, 48, 24):
        await adapter.create_activity(
            creds,
            ActivityDraft(
                sport="running.road", start=START + timedelta(hours=hours), duration_s=1800
            ),
        )
    listed = await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=10)
    assert [a.start for a in listed] == sorted((a.start for a in listed), reverse=True)
    first = listed[0]
    assert first.end - first.start == timedelta(seconds=1800)
    native = first.id.split(":", 1)[1]
    replaced = await adapter.replace_activity(
        creds,
        native,
        ActivityDraft(sport="running.trail", start=START, duration_s=60, name="hills"),
    )
    assert (await adapter.get_activity(creds, native)) == replaced
    await adapter.delete_activity(creds, native)
    assert len(await adapter.list_activities(creds, ActivityQuery(), offset=0, limit=10)) == 2


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hours=st.lists(st.integers(min_value=-2000, max_value=2000), min_size=0, max_size=25),
    page=st.integers(min_value=1, max_value=7),
)
async def test_paging_by_offset_visits_every_test_once(
    store: Store, hours: list[int], page: int
) -> None:
    adapter = LocalAdapter(store)
    user = await store.create_user(f"pager-{uuid.uuid4().hex}")  # one store for all examples
    creds = credentials_for(user)
    created = [
        (await adapter.create_test(creds, _draft(start=START + timedelta(hours=h), end=None))).id
        for h in hours
    ]
    seen: list[str] = []
    offset = 0
    while True:
        chunk = await adapter.list_tests(creds, LabTestQuery(), offset=offset, limit=page)
        seen.extend(t.id for t in chunk)
        offset += len(chunk)
        if len(chunk) < page:
            break
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))
    listed = await adapter.list_tests(creds, LabTestQuery(), offset=0, limit=len(hours) or 1)
    keys = [(-t.start.astimezone(UTC).timestamp(), t.id) for t in listed]
    assert keys == sorted(keys)


def test_a_draft_survives_json_unchanged() -> None:
    draft = _draft()
    assert msgspec.json.decode(msgspec.json.encode(draft), type=LabTestDraft) == draft
