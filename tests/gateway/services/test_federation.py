"""The merged list: order, exact filters, and cursors that walk every item exactly once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.fakes import BASE, FakeAdapter, make_activity
from training_gateway.adapters.base import Credentials
from training_gateway.gateway.errors import status_for
from training_gateway.gateway.services.federation import (
    ActivityFilter,
    IndexedListing,
    WalkPosition,
    decode_cursor,
    encode_cursor,
    list_activities,
)
from training_gateway.gateway.services.sources import AnySource, Source
from training_gateway.models.activity import Activity, ActivityStatus
from training_gateway.models.errors import InvalidInput

CREDS = Credentials(access_token="t")


def sources_of(adapters: dict[str, FakeAdapter]) -> list[AnySource]:
    return [Source(name=name, adapter=a, credentials=CREDS) for name, a in adapters.items()]  # type: ignore[arg-type]


async def walk(
    sources: list[AnySource], filter_: ActivityFilter, limit: int
) -> list[list[Activity]]:
    pages, cursor = [], None
    for _ in range(10_000):
        page = await list_activities(sources, filter_, limit=limit, cursor=cursor)
        assert not page.errors
        pages.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


def expected_order(activities: list[Activity]) -> list[str]:
    return [a.id for a in sorted(activities, key=lambda a: (-a.start.timestamp(), a.id))]


# Few distinct start minutes, so equal start times (ties) are common and page boundaries split them.
provider_lists = st.dictionaries(
    keys=st.sampled_from(["alpha", "beta", "gamma"]),
    values=st.lists(st.integers(min_value=0, max_value=12), max_size=40),
    min_size=1,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lists=provider_lists,
    limit=st.integers(min_value=1, max_value=17),
    tagged_every=st.integers(1, 4),
)
async def test_cursor_walk_yields_every_activity_exactly_once_in_order(
    lists: dict[str, list[int]], limit: int, tagged_every: int
) -> None:
    adapters, everything = {}, []
    for name, minutes in lists.items():
        acts = [
            make_activity(
                name,
                f"n{i:03d}",
                BASE + timedelta(minutes=m),
                tags=["x"] if i % tagged_every == 0 else [],
            )
            for i, m in enumerate(minutes)
        ]
        adapters[name] = FakeAdapter(name, acts)
        everything += acts
    for filter_, wanted in (
        (ActivityFilter(), everything),
        (ActivityFilter(tags=("x",)), [a for a in everything if "x" in a.tags]),
    ):
        pages = await walk(sources_of(adapters), filter_, limit)
        ids = [a.id for page in pages for a in page]
        assert ids == expected_order(wanted)
        assert all(len(page) <= limit for page in pages)
        assert all(len(page) == limit for page in pages[:-1])


async def test_list_merges_providers_by_start_desc_with_ties_by_id() -> None:
    a = FakeAdapter(
        "alpha",
        [make_activity("alpha", "2", BASE), make_activity("alpha", "1", BASE - timedelta(hours=1))],
    )
    b = FakeAdapter(
        "beta",
        [make_activity("beta", "1", BASE), make_activity("beta", "0", BASE + timedelta(hours=1))],
    )
    page = await list_activities(
        sources_of({"alpha": a, "beta": b}), ActivityFilter(), limit=10, cursor=None
    )
    assert [x.id for x in page.items] == ["beta:0", "alpha:2", "beta:1", "alpha:1"]
    assert page.next_cursor is None


async def test_failing_provider_is_named_and_the_others_still_answer() -> None:
    good = FakeAdapter("alpha", [make_activity("alpha", "1", BASE)])
    bad = FakeAdapter("beta", [make_activity("beta", "1", BASE)])
    bad.fail = True
    page = await list_activities(
        sources_of({"alpha": good, "beta": bad}), ActivityFilter(), limit=10, cursor=None
    )
    assert [x.id for x in page.items] == ["alpha:1"]
    assert [(e.provider, e.status) for e in page.errors] == [("beta", 502)]
    assert "boom" in page.errors[0].detail


async def test_filters_are_applied_exactly_whatever_the_provider_returns() -> None:
    acts = [
        make_activity("alpha", "ride", BASE, sport="cycling.road"),
        make_activity("alpha", "run", BASE, sport="running.trail"),
        make_activity("alpha", "plan", BASE + timedelta(days=2), status=ActivityStatus.SCHEDULED),
        make_activity("alpha", "old", BASE - timedelta(days=40)),
    ]
    src = sources_of({"alpha": FakeAdapter("alpha", acts)})
    run = await list_activities(src, ActivityFilter(sports=("running",)), limit=10, cursor=None)
    assert {a.id for a in run.items} == {"alpha:run", "alpha:plan", "alpha:old"}
    planned = await list_activities(
        src, ActivityFilter(statuses=(ActivityStatus.SCHEDULED,)), limit=10, cursor=None
    )
    assert [a.id for a in planned.items] == ["alpha:plan"]
    window = ActivityFilter(start=date(2026, 5, 30), end=BASE.date())
    dated = await list_activities(src, window, limit=10, cursor=None)
    assert {a.id for a in dated.items} == {"alpha:ride", "alpha:run"}


async def test_providers_are_read_concurrently_in_chunks_not_item_by_item() -> None:
    acts = [make_activity("alpha", f"{i:03d}", BASE - timedelta(minutes=i)) for i in range(120)]
    fake = FakeAdapter("alpha", acts)
    await walk(sources_of({"alpha": fake}), ActivityFilter(), 100)
    assert len(fake.calls) <= 4


def test_cursor_from_other_filters_or_tampered_is_refused() -> None:
    position = WalkPosition(offsets={"alpha": 3}, indexed=["beta"], key=(BASE, "beta:7"))
    token = encode_cursor(ActivityFilter(), position, "index")
    assert decode_cursor(token, ActivityFilter(), "index") == position
    with pytest.raises(InvalidInput) as other:
        decode_cursor(token, ActivityFilter(tags=("x",)), "index")
    assert other.value.field == "cursor"
    with pytest.raises(InvalidInput) as mode:
        decode_cursor(token, ActivityFilter(), "live")
    assert mode.value.field == "cursor" and "consistency=index" in mode.value.detail
    for bad in ("not-a-cursor!", "e30", token[:-3]):
        with pytest.raises(InvalidInput) as exc:
            decode_cursor(bad, ActivityFilter(), "index")
        assert exc.value.field == "cursor" and status_for(exc.value) == 400


class MemoryIndex(IndexedListing):
    """The index of providers' records, in memory: every provider named is fresh."""

    def __init__(self, records: dict[str, list[Activity]]) -> None:
        super().__init__(None, "u", {}, 900.0)  # type: ignore[arg-type]
        self.held = records
        self.synced = datetime.now(UTC) - timedelta(minutes=1)

    async def synced_at(self, kind: Any, providers: list[str]) -> dict[str, datetime]:
        return {p: self.synced for p in providers if p in self.held}

    async def records(
        self, provider: str, filter_: Any, after: tuple[datetime, str] | None, limit: int
    ) -> list[Activity]:
        ordered = sorted(self.held[provider], key=lambda a: (-a.start.timestamp(), a.id))
        if after is not None:
            key = (-after[0].timestamp(), after[1])
            ordered = [a for a in ordered if (-a.start.timestamp(), a.id) > key]
        return ordered[:limit]


async def walk_changing(
    sources: list[AnySource],
    index: IndexedListing,
    limit: int,
    change: Callable[[int], None],
) -> list[str]:
    """The ids a walk hands out, `change(page number)` running between pages."""
    ids: list[str] = []
    cursor = None
    for number in range(10_000):
        page = await list_activities(
            sources, ActivityFilter(), limit=limit, cursor=cursor, index=index
        )
        assert not page.errors
        ids += [a.id for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return ids
        change(number)
    raise AssertionError("the cursor never ended")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lists=provider_lists,
    indexed=st.sets(st.sampled_from(["alpha", "beta", "gamma"])),
    limit=st.integers(min_value=1, max_value=9),
    created=st.lists(st.integers(min_value=0, max_value=12), max_size=6),
    deleted=st.lists(st.integers(min_value=0, max_value=40), max_size=6),
)
async def test_a_walk_of_the_index_is_exact_while_records_come_and_go(
    lists: dict[str, list[int]],
    indexed: set[str],
    limit: int,
    created: list[int],
    deleted: list[int],
) -> None:
    """Providers read from the index walk by keyset: records created or deleted between pages
    are never listed twice, and hide no record that stayed, at any page size, ties included."""
    held: dict[str, list[Activity]] = {}
    adapters: dict[str, FakeAdapter] = {}
    for name, minutes in lists.items():
        acts = [
            make_activity(name, f"n{i:03d}", BASE + timedelta(minutes=m))
            for i, m in enumerate(minutes)
        ]
        if name in indexed:
            held[name] = acts
        adapters[name] = FakeAdapter(name, acts if name not in indexed else [])
    index = MemoryIndex(held)
    changed: set[str] = set()
    seen = {a.id: (-a.start.timestamp(), a.id) for acts in held.values() for a in acts}
    seen |= {a.id: (-a.start.timestamp(), a.id) for f in adapters.values() for a in f.activities}

    def change(number: int) -> None:
        if not held:
            return
        name = sorted(held)[number % len(held)]
        if number < len(created):
            new = make_activity(name, f"c{number:03d}", BASE + timedelta(minutes=created[number]))
            held[name].append(new)
            changed.add(new.id)
            seen[new.id] = (-new.start.timestamp(), new.id)
        if number < len(deleted) and held[name]:
            gone = held[name].pop(deleted[number] % len(held[name]))
            changed.add(gone.id)

    ids = await walk_changing(sources_of(adapters), index, limit, change)
    assert len(ids) == len(set(ids)), "a record was listed twice"
    stayed = {a.id for acts in held.values() for a in acts} - changed
    stayed |= {a.id for name, a_list in adapters.items() for a in a_list.activities}
    assert stayed <= set(ids), f"records that stayed were not listed: {stayed - set(ids)}"
    keys = [seen[i] for i in ids]
    assert keys == sorted(keys), "the walk went back in the merged order"


async def test_the_index_answer_names_each_provider_it_read_and_when_it_synced() -> None:
    alpha = [make_activity("alpha", f"{i}", BASE - timedelta(minutes=i)) for i in range(3)]
    beta = FakeAdapter("beta", [make_activity("beta", "0", BASE + timedelta(minutes=1))])
    sources = sources_of({"alpha": FakeAdapter("alpha", []), "beta": beta})
    index = MemoryIndex({"alpha": alpha})
    page = await list_activities(sources, ActivityFilter(), limit=10, cursor=None, index=index)
    assert [a.id for a in page.items] == ["beta:0", "alpha:0", "alpha:1", "alpha:2"]
    assert page.freshness == {"alpha": index.synced}
    index.synced -= timedelta(hours=1)  # older than the 900 s allowed: alpha is read live
    stale = await list_activities(sources, ActivityFilter(), limit=10, cursor=None, index=index)
    assert [a.id for a in stale.items] == ["beta:0"] and stale.freshness == {}
    live = await list_activities(
        sources,
        ActivityFilter(),
        limit=10,
        cursor=None,
        index=MemoryIndex({"alpha": alpha}),
        consistency="live",
    )
    assert [a.id for a in live.items] == ["beta:0"] and live.freshness == {}


async def test_a_failed_provider_keeps_a_cursor_to_resume_from() -> None:
    acts = [make_activity("alpha", f"{i:02d}", BASE - timedelta(minutes=i)) for i in range(6)]
    fake = FakeAdapter("alpha", acts)
    first = await list_activities(
        sources_of({"alpha": fake}), ActivityFilter(), limit=4, cursor=None
    )
    fake.fail = True
    failed = await list_activities(
        sources_of({"alpha": fake}), ActivityFilter(), limit=4, cursor=first.next_cursor
    )
    assert failed.items == [] and failed.errors and failed.next_cursor is not None
    fake.fail = False
    resumed = await list_activities(
        sources_of({"alpha": fake}), ActivityFilter(), limit=4, cursor=failed.next_cursor
    )
    assert [a.id for a in first.items + resumed.items] == [a.id for a in acts]


async def test_an_adapter_bug_is_reported_as_that_providers_failure() -> None:
    class Broken(FakeAdapter):
        async def list_activities(self, *args: object, **kwargs: object) -> list[Activity]:
            raise TypeError("bug")

    good = FakeAdapter("alpha", [make_activity("alpha", "1", BASE)])
    page = await list_activities(
        sources_of({"alpha": good, "beta": Broken("beta", [])}),
        ActivityFilter(),
        limit=5,
        cursor=None,
    )
    assert [a.id for a in page.items] == ["alpha:1"]
    assert [(e.provider, e.status) for e in page.errors] == [("beta", 502)]


async def test_a_live_walk_by_offset_repeats_or_skips_when_the_provider_changes() -> None:
    """What the README says the live path cannot promise: offsets shift under changes."""
    acts = [make_activity("alpha", f"{i:02d}", BASE - timedelta(minutes=i)) for i in range(6)]
    fake = FakeAdapter("alpha", acts)
    sources = sources_of({"alpha": fake})
    first = await list_activities(sources, ActivityFilter(), limit=3, cursor=None)
    fake.activities.insert(0, make_activity("alpha", "new", BASE + timedelta(minutes=1)))
    second = await list_activities(sources, ActivityFilter(), limit=3, cursor=first.next_cursor)
    assert first.items[-1].id == second.items[0].id == "alpha:02"  # listed again

    first = await list_activities(sources, ActivityFilter(), limit=3, cursor=None)
    del fake.activities[0]  # behind the cursor
    second = await list_activities(sources, ActivityFilter(), limit=3, cursor=first.next_cursor)
    assert [a.id for a in first.items + second.items] == [
        "alpha:new",
        "alpha:00",
        "alpha:01",
        "alpha:03",
        "alpha:04",
        "alpha:05",
    ]  # alpha:02 skipped
