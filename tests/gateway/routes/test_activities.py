"""The unified activity API over real HTTP: gateway on loopback in front of both mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from open_sport_taxonomy import Sport

from tests.gateway.conftest import RunningGateway

PROBLEM = "application/problem+json"


def provider_ids(gateway: RunningGateway, name: str) -> set[str]:
    """Every activity id a provider lists for the demo user, asked of the mock directly."""
    mock = gateway.demo.mocks[name]
    url = gateway.demo.provider_urls[name]
    path = "/api/v1/activities/" if name == "sweatstack" else "/api/v1/activities"
    response = httpx.get(
        url + path,
        params={"limit": 100_000},
        headers={"Authorization": f"Bearer {mock.token_for()}"},
    )
    response.raise_for_status()
    body = response.json()
    items = body["data"] if isinstance(body, dict) else body
    key = "id" if name == "sweatstack" else "activity_id"
    return {f"{name}:{item[key]}" for item in items}


def walk(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = api.get(
            "/v1/activities", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["errors"] == []
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def assert_problem(response: httpx.Response, status: int, **expected: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"]
    for key, value in expected.items():
        assert body.get(key) == value, body
    assert "Traceback" not in response.text
    return body


def test_health_answers_without_a_key(readonly_gateway: RunningGateway) -> None:
    response = httpx.get(readonly_gateway.url + "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "providers": ["astral", "local", "sweatstack"]}


def test_v1_needs_a_valid_gateway_key(readonly_gateway: RunningGateway) -> None:
    missing = httpx.get(readonly_gateway.url + "/v1/activities")
    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    with readonly_gateway.client("gw_not-a-key") as wrong:
        assert_problem(wrong.get("/v1/providers"), 401)


def test_providers_lists_capabilities_and_auth_kind(readonly_api: httpx.Client) -> None:
    providers = {p["name"]: p for p in readonly_api.get("/v1/providers").json()}
    assert set(providers) == {"astral", "local", "sweatstack"}
    assert providers["local"]["auth_kind"] == "none"
    assert "tests:create" in providers["local"]["capabilities"]
    assert "tests:create" in providers["sweatstack"]["capabilities"]
    assert not any(c.startswith("tests:") for c in providers["astral"]["capabilities"])
    assert providers["sweatstack"]["auth_kind"] == "oauth2_pkce_oidc"
    assert providers["astral"]["auth_kind"] == "oauth2_pkce_or_bearer"
    assert "activities:delete" in providers["astral"]["capabilities"]
    assert "activities:delete" not in providers["sweatstack"]["capabilities"]
    assert all(p["connected"] for p in providers.values())


def test_list_merges_both_providers_newest_first(readonly_api: httpx.Client) -> None:
    page = readonly_api.get("/v1/activities", params={"limit": 200}).json()
    assert page["errors"] == []
    items = page["items"]
    assert {i["provider"] for i in items} == {"astral", "sweatstack"}
    keys = [(-datetime.fromisoformat(i["start"]).timestamp(), i["id"]) for i in items]
    assert keys == sorted(keys)
    for item in items:
        assert item["id"].startswith(item["provider"] + ":")
        assert datetime.fromisoformat(item["start"]).tzinfo is not None


def test_cursor_walk_returns_every_activity_of_every_provider_once(
    readonly_gateway: RunningGateway, readonly_api: httpx.Client
) -> None:
    items = walk(readonly_api, limit=37)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids))
    assert set(ids) == provider_ids(readonly_gateway, "sweatstack") | provider_ids(
        readonly_gateway, "astral"
    )


def test_filters_by_parent_sport_status_provider_and_dates(readonly_api: httpx.Client) -> None:
    running = walk(readonly_api, sport="running", limit=500)
    assert running and all(
        Sport.parse(i["sport"]).is_subsport_of(Sport("running")) for i in running
    )
    assert {i["sport"] for i in running} > {"running"} or len({i["sport"] for i in running}) > 1
    scheduled = walk(readonly_api, status="scheduled", limit=500)
    assert scheduled and all(i["status"] == "scheduled" for i in scheduled)
    only_astral = walk(readonly_api, provider="astral", limit=500)
    assert only_astral and {i["provider"] for i in only_astral} == {"astral"}
    since = (datetime.now(UTC) - timedelta(days=14)).date()
    recent = walk(readonly_api, start=since.isoformat(), limit=500)
    assert recent and all(
        datetime.fromisoformat(i["start_local"] or i["start"]).date() >= since for i in recent
    )
    everything = walk(readonly_api, limit=1000)
    assert len(recent) < len(everything)


def test_tags_filter_requires_every_tag(readonly_api: httpx.Client) -> None:
    tagged = walk(readonly_api, tags="easy", limit=500)
    assert tagged and all("easy" in i["tags"] for i in tagged)
    both = walk(readonly_api, tags=["easy", "long"], limit=500)
    assert all({"easy", "long"} <= set(i["tags"]) for i in both)
    assert len(both) <= len(tagged)


def test_get_returns_the_same_activity_as_the_list(readonly_api: httpx.Client) -> None:
    for provider in ("sweatstack", "astral"):
        listed = readonly_api.get(
            "/v1/activities", params={"provider": provider, "limit": 1}
        ).json()["items"][0]
        got = readonly_api.get(f"/v1/activities/{listed['id']}")
        assert got.status_code == 200
        assert got.json()["id"] == listed["id"]
        assert got.json()["start"] == listed["start"]


def test_create_replace_patch_delete_on_astral(api: httpx.Client) -> None:
    body = {
        "provider": "astral",
        "sport": "running",
        "start": "2026-05-18T17:32:00+02:00",
        "duration_s": 2774,
        "name": "Morning 10K",
        "distance_m": 10000,
    }
    created = api.post("/v1/activities", json=body)
    assert created.status_code == 201, created.text
    activity = created.json()
    assert created.headers["location"] == f"/v1/activities/{activity['id']}"
    assert activity["id"].startswith("astral:") and activity["name"] == "Morning 10K"
    assert activity["start_local"] == "2026-05-18T17:32:00"
    assert activity["ai_summary"]  # Astral's Rex summarises completed activities of 3 km or more

    replaced = api.put(
        f"/v1/activities/{activity['id']}",
        json={
            "sport": "cycling",
            "start": "2026-05-18T18:00:00+02:00",
            "duration_s": 3600,
            "name": "Ride",
        },
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["sport"] == "cycling" and replaced.json()["name"] == "Ride"
    assert replaced.json()["distance_m"] is None  # full replace: what is omitted is cleared
    assert not replaced.json()["ai_summary"]  # no distance, so no summary from Rex
    nameless = api.put(
        f"/v1/activities/{activity['id']}",
        json={"sport": "cycling", "start": "2026-05-18T18:00:00+02:00", "duration_s": 3600},
    )
    assert_problem(nameless, 422, field="name")

    patched = api.patch(
        f"/v1/activities/{activity['id']}",
        content=b'{"name": "Evening ride", "distance_m": 30000}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Evening ride" and patched.json()["sport"] == "cycling"
    assert api.get(f"/v1/activities/{activity['id']}").json()["distance_m"] == 30000

    assert api.delete(f"/v1/activities/{activity['id']}").status_code == 204
    assert_problem(api.get(f"/v1/activities/{activity['id']}"), 404)


def test_unsupported_operations_answer_405_naming_provider_and_capability(
    readonly_api: httpx.Client,
) -> None:
    ride = readonly_api.get("/v1/activities", params={"provider": "sweatstack", "limit": 1}).json()[
        "items"
    ][0]
    body = {"sport": "cycling", "start": "2026-05-18T17:32:00+02:00", "duration_s": 60}
    assert_problem(
        readonly_api.put(f"/v1/activities/{ride['id']}", json=body),
        405,
        provider="sweatstack",
        capability="activities:update",
    )
    assert_problem(
        readonly_api.delete(f"/v1/activities/{ride['id']}"), 405, capability="activities:delete"
    )
    assert_problem(
        readonly_api.post("/v1/activities", json={**body, "provider": "sweatstack"}),
        405,
        provider="sweatstack",
        capability="activities:create",
    )


def test_failing_provider_is_reported_and_the_other_still_answers(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    gateway.demo.mocks["astral"].faults.fail_next(500, times=5)  # type: ignore[attr-defined]
    page = api.get("/v1/activities", params={"limit": 20}).json()
    assert [e["provider"] for e in page["errors"]] == ["astral"]
    assert page["errors"][0]["status"] == 502
    assert page["items"] and {i["provider"] for i in page["items"]} == {"sweatstack"}


def test_a_throttling_provider_is_a_429_naming_it_with_its_retry_after(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    run = api.get("/v1/activities", params={"provider": "astral", "limit": 1}).json()["items"][0]
    mock: Any = gateway.demo.mocks["astral"]
    seen = mock.faults.requests_seen
    # Longer than the gateway waits for a throttle to pass: passed on, not waited out.
    mock.faults.fail_next(429, times=3, headers={"Retry-After": "120"})
    response = api.get(f"/v1/activities/{run['id']}")
    problem = assert_problem(response, 429, provider="astral")
    assert response.headers["retry-after"] == "120" and problem["retry_after"] == 120
    assert mock.faults.requests_seen - seen == 1  # nothing was retried


def test_a_throttle_with_an_http_date_passes_on_the_seconds_left(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    run = api.get("/v1/activities", params={"provider": "astral", "limit": 1}).json()["items"][0]
    when = datetime.now(UTC) + timedelta(minutes=10)
    http_date = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    gateway.demo.mocks["astral"].faults.fail_next(429, headers={"Retry-After": http_date})  # type: ignore[attr-defined]
    response = api.get(f"/v1/activities/{run['id']}")
    assert_problem(response, 429, provider="astral")
    assert 590 <= int(response.headers["retry-after"]) <= 600


def test_a_throttled_write_is_a_429_not_a_rejected_input(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    body = {"provider": "astral", "sport": "running", "start": "2026-05-18T17:32:00+02:00"}
    gateway.demo.mocks["astral"].faults.fail_next(429, headers={"Retry-After": "7"})  # type: ignore[attr-defined]
    response = api.post("/v1/activities", json={**body, "duration_s": 600, "name": "Run"})
    assert_problem(response, 429, provider="astral")
    assert response.headers["retry-after"] == "7"


def test_a_throttling_provider_in_a_merged_list_says_when_to_come_back(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    gateway.demo.mocks["astral"].faults.fail_next(429, times=3, headers={"Retry-After": "90"})  # type: ignore[attr-defined]
    page = api.get("/v1/activities", params={"limit": 20}).json()
    assert page["errors"] == [
        {
            "provider": "astral",
            "status": 429,
            "detail": page["errors"][0]["detail"],
            "retry_after": 90,
        }
    ]
    assert "astral" in page["errors"][0]["detail"]
    assert page["items"] and {i["provider"] for i in page["items"]} == {"sweatstack"}
    assert page["next_cursor"] is not None  # astral keeps its place, to be retried


def test_undecodable_provider_json_is_a_502_naming_the_provider(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    ride = api.get("/v1/activities", params={"provider": "sweatstack", "limit": 1}).json()["items"][
        0
    ]
    gateway.demo.mocks["sweatstack"].faults.garble_next()  # type: ignore[attr-defined]
    assert_problem(api.get(f"/v1/activities/{ride['id']}"), 502, provider="sweatstack")


def test_slow_provider_is_a_504_naming_the_provider(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    run = api.get("/v1/activities", params={"provider": "astral", "limit": 1}).json()["items"][0]
    gateway.demo.mocks["astral"].faults.latency_s = 2.5  # type: ignore[attr-defined]
    try:
        assert_problem(api.get(f"/v1/activities/{run['id']}"), 504, provider="astral")
    finally:
        gateway.demo.mocks["astral"].faults.latency_s = 0  # type: ignore[attr-defined]


def test_bad_query_input_is_a_400_naming_the_parameter(readonly_api: httpx.Client) -> None:
    cases = {
        "start": {"start": "2026-13-45"},
        "end": {"end": "yesterday"},
        "sport": {"sport": "kitesurfing"},
        "status": {"status": "finished"},
        "provider": {"provider": "strava"},
        "limit": {"limit": "1001"},
        "cursor": {"cursor": "definitely-not-a-cursor"},
    }
    for field, params in cases.items():
        assert_problem(readonly_api.get("/v1/activities", params=params), 400, field=field)
    for bad_limit in ("0", "-3", "ten"):
        assert_problem(
            readonly_api.get("/v1/activities", params={"limit": bad_limit}), 400, field="limit"
        )
    assert_problem(
        readonly_api.get("/v1/activities", params={"start": "2026-05-02", "end": "2026-05-01"}),
        400,
        field="end",
    )


def test_cursor_of_other_filters_is_refused(readonly_api: httpx.Client) -> None:
    cursor = readonly_api.get("/v1/activities", params={"limit": 2}).json()["next_cursor"]
    assert cursor
    assert_problem(
        readonly_api.get(
            "/v1/activities", params={"limit": 2, "sport": "cycling", "cursor": cursor}
        ),
        400,
        field="cursor",
    )


def test_bad_bodies_are_a_422_naming_the_field(readonly_api: httpx.Client) -> None:
    good = {
        "provider": "astral",
        "sport": "running",
        "start": "2026-05-18T17:32:00+02:00",
        "duration_s": 600,
        "name": "Run",
    }
    cases = {
        "duration_s": {**good, "duration_s": "long"},
        "start": {**good, "start": "2026-05-18T17:32:00"},
        "sport": {**good, "sport": "kitesurfing"},
        "provider": {**good, "provider": "strava"},
        "tags": {**good, "tags": "easy"},
    }
    for field, body in cases.items():
        assert_problem(readonly_api.post("/v1/activities", json=body), 422, field=field)
    too_long = readonly_api.post("/v1/activities", json={**good, "duration_s": 90_000})
    assert_problem(too_long, 422, provider="astral")
    missing = {k: v for k, v in good.items() if k != "start"}
    assert_problem(readonly_api.post("/v1/activities", json=missing), 422, field="start")
    not_json = readonly_api.post(
        "/v1/activities", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code in (400, 422)
    assert not_json.headers["content-type"].startswith(PROBLEM)


def test_unknown_ids_and_prefixes_are_404(readonly_api: httpx.Client) -> None:
    assert_problem(readonly_api.get("/v1/activities/astral:act_does_not_exist"), 404)
    assert_problem(
        readonly_api.get("/v1/activities/sweatstack:act_00000000000000000000000000"), 404
    )
    assert_problem(readonly_api.get("/v1/activities/strava:123"), 404)
    assert_problem(readonly_api.get("/v1/activities/no-prefix"), 404)


query_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(["start", "end", "sport", "status", "provider", "tags", "limit", "cursor"]),
        query_text,
        max_size=4,
    )
)
def test_no_query_input_produces_a_server_error(
    readonly_api: httpx.Client, params: dict[str, str]
) -> None:
    response = readonly_api.get("/v1/activities", params=params)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM)


def test_patch_keeps_the_providers_own_fields_it_does_not_touch(api: httpx.Client) -> None:
    items = walk(api, provider="astral", status="completed", limit=200)
    seeded = next(i for i in items if i["extensions"].get("zones") and i["name"])
    patched = api.patch(
        f"/v1/activities/{seeded['id']}",
        content=b'{"name": "Renamed"}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    after = api.get(f"/v1/activities/{seeded['id']}").json()
    assert after["name"] == "Renamed"
    for key in ("zones", "splits", "map", "data_source"):
        assert after["extensions"].get(key) == seeded["extensions"].get(key), key
    assert after["start"] == seeded["start"] and after["distance_m"] == seeded["distance_m"]


def test_patch_needs_the_merge_patch_media_type(readonly_api: httpx.Client) -> None:
    run = readonly_api.get("/v1/activities", params={"provider": "astral", "limit": 1}).json()[
        "items"
    ][0]
    wrong = readonly_api.patch(
        f"/v1/activities/{run['id']}", content=b"name=x", headers={"Content-Type": "text/plain"}
    )
    assert wrong.status_code in (400, 415)
    assert wrong.headers["content-type"].startswith(PROBLEM)
    bad = readonly_api.patch(
        f"/v1/activities/{run['id']}",
        content=b'{"duration_s": "long"}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert_problem(bad, 422, field="duration_s")
