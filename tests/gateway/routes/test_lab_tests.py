"""/v1/tests over real loopback HTTP: the gateway in front of the SweatStack mock (which has
a Tests API) and Astral (which has none), plus the built-in `local` provider."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import RunningGateway

MERGE = {"Content-Type": "application/merge-patch+json"}
LACTATE = {
    "sport": "cycling.road",
    "start": "2026-05-06T10:00:00+02:00",
    "end": "2026-05-06T11:30:00+02:00",
    "title": "Lactate step test",
    "results": {
        "first_threshold": {"power": 220, "heart_rate": 150, "lactate": 2.0},
        "second_threshold": {"power": 285, "heart_rate": 168, "lactate": 4.0},
        "vo2max": 4100,
    },
    "tags": ["lab", "step-test"],
}


def _create(api: httpx.Client, provider: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/tests", json={**LACTATE, "provider": provider, **fields})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/tests/{response.json()['id']}"
    created: dict[str, Any] = response.json()
    return created


def _walk(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.get("/v1/tests", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["errors"] == []
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_the_list_merges_sweatstack_and_local_newest_first_and_skips_astral(
    api: httpx.Client,
) -> None:
    local = _create(api, "local")
    page = api.get("/v1/tests", params={"limit": 100}).json()
    assert page["errors"] == []
    providers = {t["provider"] for t in page["items"]}
    assert providers == {"sweatstack", "local"}
    assert local["id"] in {t["id"] for t in page["items"]}
    keys = [(-datetime.fromisoformat(t["start"]).timestamp(), t["id"]) for t in page["items"]]
    assert keys == sorted(keys)
    lactate = next(
        t for t in page["items"] if t["provider"] == "sweatstack" and "lactate" in t["tags"]
    )
    assert lactate["results"]["first_threshold"]["lactate"] == 2.0
    assert lactate["created_by"] == "sweatstack-lab"


def test_a_cursor_walk_returns_every_test_once(api: httpx.Client) -> None:
    for day in range(5):
        _create(api, "local", start=f"2026-05-0{day + 1}T10:00:00+02:00", end=None)
    everything = api.get("/v1/tests", params={"limit": 1000}).json()["items"]
    walked = _walk(api, limit=2)
    assert [t["id"] for t in walked] == [t["id"] for t in everything]
    assert len({t["id"] for t in walked}) == len(walked) >= 8


def test_filters_apply_exactly(api: httpx.Client) -> None:
    run = _create(
        api, "local", sport="running.road", tags=["field"], start="2026-03-01T08:00:00+01:00"
    )
    by_sport = {t["id"] for t in _walk(api, sport="running")}
    assert run["id"] in by_sport
    assert all(t["sport"].startswith("running") for t in _walk(api, sport="running"))
    assert {t["id"] for t in _walk(api, tags="field")} == {run["id"]}
    assert {t["id"] for t in _walk(api, start="2026-03-01", end="2026-03-01")} == {run["id"]}
    assert all(t["provider"] == "sweatstack" for t in _walk(api, provider="sweatstack"))
    assert all(t["created_by"] == "demo" for t in _walk(api, created_by="demo"))
    assert _walk(api, provider="astral") == []


def test_creating_at_a_provider_without_tests_is_405_and_unknown_is_422(
    readonly_api: httpx.Client,
) -> None:
    astral = readonly_api.post("/v1/tests", json={**LACTATE, "provider": "astral"})
    assert astral.status_code == 405
    assert (astral.json()["provider"], astral.json()["capability"]) == ("astral", "tests:create")
    unknown = readonly_api.post("/v1/tests", json={**LACTATE, "provider": "nowhere"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "provider"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sport": None}, "sport"),
        ({"start": None}, "start"),
        ({"start": "2026-05-06T10:00:00"}, "start"),
        (
            {"results": {"first_threshold": {"heart_rate": 400}}},
            "results.first_threshold.heart_rate",
        ),
        ({"results": {"lt1": {"lactate": 31}}}, "results.lt1.lactate"),
        ({"results": {"mlss": {"power": 2600}}}, "results.mlss.power"),
        ({"results": {"vo2max": 20000}}, "results.vo2max"),
        ({"results": {"ftp": 300}}, "results.ftp"),
        ({"sport": "underwater-chess"}, "sport"),
    ],
)
def test_bad_tests_are_422_naming_the_field(
    readonly_api: httpx.Client, change: dict[str, Any], field: str
) -> None:
    body = {**LACTATE, "provider": "local", **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = readonly_api.post("/v1/tests", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


@pytest.mark.parametrize("provider", ["local", "sweatstack"])
def test_crud_with_full_replace_and_app_metadata(api: httpx.Client, provider: str) -> None:
    created = _create(api, provider)
    test_id = created["id"]
    if provider == "sweatstack":
        assert created["created_by"] == "training-gateway-demo"
    read = api.get(f"/v1/tests/{test_id}")
    assert read.status_code == 200 and read.json()["title"] == "Lactate step test"
    replaced = api.put(
        f"/v1/tests/{test_id}", json={"sport": "running", "start": "2026-05-07T09:00:00+02:00"}
    )
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert (body["title"], body["end"], body["tags"]) == (None, None, [])
    assert body["results"] == {}
    assert body["start_local"] == "2026-05-07T09:00:00"
    assert api.put(f"/v1/tests/{test_id}/app-metadata", json={"reviewed": True}).status_code == 204
    assert api.get(f"/v1/tests/{test_id}").json()["app_metadata"] == {"reviewed": True}
    assert api.delete(f"/v1/tests/{test_id}/app-metadata").status_code == 204
    assert api.get(f"/v1/tests/{test_id}").json()["app_metadata"] is None
    assert api.delete(f"/v1/tests/{test_id}").status_code == 204
    assert api.get(f"/v1/tests/{test_id}").status_code == 404


@pytest.mark.parametrize("provider", ["local", "sweatstack"])
def test_patch_merges_and_if_match_guards(api: httpx.Client, provider: str) -> None:
    test_id = _create(api, provider)["id"]
    etag = api.get(f"/v1/tests/{test_id}").headers["etag"]
    patched = api.patch(
        f"/v1/tests/{test_id}",
        json={"title": "revised", "results": {"second_threshold": {"power": 290}, "vo2max": None}},
        headers={**MERGE, "If-Match": etag},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["title"] == "revised"
    assert body["results"]["second_threshold"] == {
        "power": 290.0,
        "heart_rate": 168.0,
        "lactate": 4.0,
    }
    assert "vo2max" not in body["results"]
    assert body["start_local"] == "2026-05-06T10:00:00"  # the athlete's wall clock survives
    assert patched.headers["etag"] != etag
    stale = api.patch(
        f"/v1/tests/{test_id}", json={"title": "lost"}, headers={**MERGE, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["provider"] == provider
    assert api.get(f"/v1/tests/{test_id}").json()["title"] == "revised"


def test_a_change_between_read_and_write_at_sweatstack_is_409_never_overwritten(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    mock: Any = gateway.demo.mocks["sweatstack"]
    test_id = _create(api, "sweatstack")["id"]
    native = test_id.split(":", 1)[1]
    stored = mock.tests_state.tests[native]
    # Another app writes right after the gateway's read, before its write.
    mock.tests_state.after_read(
        native, lambda t: mock.tests_state.change(t, title="the other app's")
    )
    response = api.patch(f"/v1/tests/{test_id}", json={"tags": ["mine"]}, headers=MERGE)
    assert response.status_code == 409, response.text
    assert response.json()["provider"] == "sweatstack"
    assert stored.title == "the other app's"
    assert stored.tags == ["lab", "step-test"]
    assert api.get(f"/v1/tests/{test_id}").json()["title"] == "the other app's"


def test_racing_patches_on_local_let_exactly_one_win(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    test_id = _create(api, "local")["id"]
    etag = api.get(f"/v1/tests/{test_id}").headers["etag"]

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=gateway.url, headers={"Authorization": f"Bearer {gateway.key}"}, timeout=30
        ) as client:
            return await asyncio.gather(
                *(
                    client.patch(
                        f"/v1/tests/{test_id}",
                        json={"title": f"writer {n}"},
                        headers={**MERGE, "If-Match": etag},
                    )
                    for n in range(8)
                )
            )

    responses = asyncio.run(race())
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409, 412}
    winner = next(r for r in responses if r.status_code == 200).json()["title"]
    assert api.get(f"/v1/tests/{test_id}").json()["title"] == winner


def test_another_apps_sweatstack_test_is_403_and_unknown_is_404(readonly_api: httpx.Client) -> None:
    seeded = next(
        t for t in _walk(readonly_api, provider="sweatstack") if t["created_by"] == "sweatstack-lab"
    )
    for response in (
        readonly_api.put(
            f"/v1/tests/{seeded['id']}", json={"sport": "cycling", "start": seeded["start"]}
        ),
        readonly_api.delete(f"/v1/tests/{seeded['id']}"),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["provider"] == "sweatstack"
    assert readonly_api.get("/v1/tests/sweatstack:tst_nope").status_code == 404
    assert readonly_api.get("/v1/tests/local:0123").status_code == 404
    assert readonly_api.get("/v1/tests/astral:x").status_code == 405


def test_get_includes_the_overlapping_activities_of_every_provider(api: httpx.Client) -> None:
    activity = next(
        a
        for a in api.get("/v1/activities", params={"provider": "sweatstack", "limit": 20}).json()[
            "items"
        ]
    )
    start = datetime.fromisoformat(activity["start"])
    inside = _create(
        api,
        "local",
        start=(start + timedelta(minutes=5)).isoformat(),
        end=(start + timedelta(minutes=10)).isoformat(),
    )
    details = api.get(f"/v1/tests/{inside['id']}").json()
    assert details["errors"] == []
    assert activity["id"] in {a["id"] for a in details["activities"]}
    for linked in details["activities"]:
        assert datetime.fromisoformat(linked["start"]) <= start + timedelta(minutes=10)
        assert datetime.fromisoformat(linked["end"]) >= start + timedelta(minutes=5)
    far = _create(api, "local", start="2001-01-01T10:00:00+00:00", end="2001-01-01T11:00:00+00:00")
    assert api.get(f"/v1/tests/{far['id']}").json()["activities"] == []


def test_users_never_see_each_others_tests(gateway: RunningGateway, api: httpx.Client) -> None:
    mine = _create(api, "local")["id"]
    key = gateway.create_user("second")
    with gateway.client(key) as other:
        assert other.get("/v1/tests").json()["items"] == []
        assert other.get(f"/v1/tests/{mine}").status_code == 404
        assert (
            other.patch(f"/v1/tests/{mine}", json={"title": "x"}, headers=MERGE).status_code == 404
        )
        assert other.delete(f"/v1/tests/{mine}").status_code == 404
        own = other.post("/v1/tests", json={**LACTATE, "provider": "local"})
        assert own.status_code == 201  # every user can record tests locally
        providers = {p["name"]: p for p in other.get("/v1/providers").json()}
        assert providers["local"]["connected"] is True
        assert providers["sweatstack"]["connected"] is False
    assert api.get(f"/v1/tests/{mine}").status_code == 200
    assert own.json()["id"] not in {t["id"] for t in _walk(api, provider="local")}


def test_local_activities_have_full_crud_and_merge_into_the_list(api: httpx.Client) -> None:
    created = api.post(
        "/v1/activities",
        json={
            "provider": "local",
            "sport": "rowing",
            "start": "2026-11-20T07:00:00+01:00",
            "duration_s": 3600,
        },
    )
    assert created.status_code == 201, created.text
    activity_id = created.json()["id"]
    assert activity_id.startswith("local:")
    assert api.get(f"/v1/activities/{activity_id}").json()["start_local"] == "2026-11-20T07:00:00"
    patched = api.patch(f"/v1/activities/{activity_id}", json={"name": "erg"}, headers=MERGE)
    assert patched.status_code == 200 and patched.json()["name"] == "erg"
    replaced = api.put(
        f"/v1/activities/{activity_id}",
        json={"sport": "rowing", "start": "2026-11-20T07:00:00+01:00", "duration_s": 1800},
    )
    assert replaced.json()["name"] is None and replaced.json()["duration_s"] == 1800
    listed = {
        a["id"]
        for a in api.get(
            "/v1/activities", params={"start": "2026-11-20", "end": "2026-11-20"}
        ).json()["items"]
    }
    assert activity_id in listed
    assert api.delete(f"/v1/activities/{activity_id}").status_code == 204
    assert api.get(f"/v1/activities/{activity_id}").status_code == 404
