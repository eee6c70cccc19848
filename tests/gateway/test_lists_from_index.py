"""Lists served from the gateway's synced index, over loopback on SQLite and PostgreSQL: a
provider whose history is indexed and recently synced is read from the index (and named in
`freshness`), by keyset, so a walk stays exact while activities come and go; `consistency=
live` and providers not yet synced are read live."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from training_gateway.gateway.storage import Store
from training_gateway.gateway.storage.tables import sync_state

from ..conftest import _drop_all
from .conftest import RunningGateway, serve_gateway
from .events_stack import wait_until


@dataclass
class IndexedStack:
    gateway: RunningGateway
    client: httpx.Client


def _stack(
    request: pytest.FixtureRequest, tmp_path: Path, **settings: Any
) -> Iterator[IndexedStack]:
    overrides: dict[str, Any] = {
        "engine": "embedded",
        "schedule_tick_s": 0.2,
        # Synced once by the backfill, then left alone for the test: an index that does not
        # move under it shows what was read from it and what was read live.
        "default_reconcile_interval_s": 3600.0,
        "backfill_pages_per_s": 100.0,
        **settings,
    }
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        asyncio.run(_drop_all(url))
        overrides["database_url"] = url
    running, server = serve_gateway(tmp_path, **overrides)
    client = running.client()
    try:
        wait_until(lambda: _synced(client), timeout_s=60, what="the backfills")
        yield IndexedStack(gateway=running, client=client)
    finally:
        client.close()
        server.stop()
        running.demo.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def indexed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexedStack]:
    yield from _stack(request, tmp_path)


def _synced(client: httpx.Client) -> bool:
    connections = client.get("/v1/connections").json()
    states = [s for c in connections for s in c["sync"]]
    return bool(states) and all(s["backfill_status"] == "done" and s["synced_at"] for s in states)


def listed(client: httpx.Client, path: str = "/v1/activities", **params: Any) -> dict[str, Any]:
    response = client.get(path, params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    assert page["errors"] == [] and page["next_cursor"] is None
    return page


def walk(client: httpx.Client, limit: int, between: Any = None) -> list[str]:
    ids: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    for number in range(1000):
        response = client.get("/v1/activities", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["errors"] == []
        ids += [a["id"] for a in page["items"]]
        if page["next_cursor"] is None:
            return ids
        params["cursor"] = page["next_cursor"]
        if between is not None:
            between(number, ids)
    raise AssertionError("the cursor never ended")


def test_lists_come_from_the_index_once_synced_and_live_on_demand(indexed: IndexedStack) -> None:
    gateway, api = indexed.gateway, indexed.client
    page = listed(api)
    assert set(page["freshness"]) == {"sweatstack", "astral"}
    for moment in page["freshness"].values():
        assert datetime.now(UTC) - datetime.fromisoformat(moment) < timedelta(minutes=5)
    live = listed(api, consistency="live")
    assert live["freshness"] == {}
    # The same records in the same order, whichever way they were read.
    assert [a["id"] for a in page["items"]] == [a["id"] for a in live["items"]]
    assert len(page["items"]) > 20

    # A change in Astral's own app (Astral sends no webhooks) is seen live at once, and from
    # the index only once a reconciliation has read it: the index answer is the index's.
    made = gateway.demo.mocks["astral"].outside.create_activity(name="Hill repeats")
    new_id = f"astral:{made.activity.activity_id}"
    assert new_id in {a["id"] for a in listed(api, consistency="live")["items"]}
    assert new_id not in {a["id"] for a in listed(api)["items"]}

    tests = listed(api, "/v1/tests")
    assert "sweatstack" in tests["freshness"]
    assert [t["id"] for t in tests["items"]] == [
        t["id"] for t in listed(api, "/v1/tests", consistency="live")["items"]
    ]


def test_a_walk_of_the_index_is_exact_while_activities_come_and_go(indexed: IndexedStack) -> None:
    """Between two pages an activity is created ahead of the cursor, one behind it, and one
    ahead is deleted, all through the gateway: the walk lists the first once, not the second,
    skips only the deleted one and repeats none."""
    api = indexed.client
    before = [a["id"] for a in listed(api)["items"]]
    created: dict[str, str] = {}
    deleted: list[str] = []

    def change(number: int, seen: list[str]) -> None:
        if number != 0:
            return
        items = {a["id"]: a for a in listed(api)["items"]}
        last = datetime.fromisoformat(items[seen[-1]]["start"])
        newest = datetime.fromisoformat(items[seen[0]]["start"])
        for where, start in (
            ("ahead", last - timedelta(minutes=7)),
            ("behind", newest + timedelta(hours=1)),
        ):
            response = api.post(
                "/v1/activities",
                json={
                    "provider": "astral",
                    "sport": "running",
                    "start": start.isoformat(),
                    "duration_s": 1200,
                    "name": f"created {where}",
                },
            )
            assert response.status_code == 201, response.text
            created[where] = response.json()["id"]
        victim = before[len(seen) + 3]
        assert api.delete(f"/v1/activities/{victim}").status_code == 204
        deleted.append(victim)

    ids = walk(api, 5, change)
    assert len(ids) == len(set(ids)), "an activity was listed twice"
    assert created["ahead"] in ids and created["behind"] not in ids
    assert deleted[0] not in ids
    assert [i for i in before if i not in deleted] == [i for i in ids if i in before]


@pytest.fixture(params=["sqlite"])
def astral_live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexedStack]:
    yield from _stack(request, tmp_path, index_freshness_s={"astral": 0.0})


def test_a_provider_configured_live_or_not_synced_is_read_live(astral_live: IndexedStack) -> None:
    gateway, api = astral_live.gateway, astral_live.client
    assert set(listed(api)["freshness"]) == {"sweatstack"}
    made = gateway.demo.mocks["astral"].outside.create_activity(name="Fartlek")
    assert f"astral:{made.activity.activity_id}" in {a["id"] for a in listed(api)["items"]}

    async def refilling(store: Store) -> None:  # a reconnect's refill has begun
        async with store.engine.begin() as conn:
            await conn.execute(
                update(sync_state)
                .where(sync_state.c.provider == "sweatstack")
                .values(backfill_status="running")
            )

    gateway.on_store(refilling)
    assert listed(api)["freshness"] == {}


def test_a_cursor_is_refused_by_a_walk_of_the_other_consistency(indexed: IndexedStack) -> None:
    api = indexed.client
    first = api.get("/v1/activities", params={"limit": 2}).json()
    answer = api.get(
        "/v1/activities",
        params={"limit": 2, "cursor": first["next_cursor"], "consistency": "live"},
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "cursor" in answer.text and "consistency=index" in answer.text
    bad = api.get("/v1/activities", params={"consistency": "eventual"})
    assert bad.status_code == 400 and "consistency" in bad.text
