"""/v1/dailies, /v1/traces and app metadata on /v1/activities over real loopback HTTP: the
gateway in front of the SweatStack mock (which keeps all three) and Astral (which keeps none),
plus the built-in `local` provider."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx

from tests.gateway.conftest import RunningGateway

TODAY = date.today()


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    return problem


def test_dailies_list_sweatstacks_series_date_keyed_and_skips_astral(
    readonly_api: httpx.Client,
) -> None:
    start = TODAY - timedelta(days=13)
    params = {
        "measure": ["resting_hr", "hrv"],
        "start": start.isoformat(),
        "end": TODAY.isoformat(),
    }

    listed = readonly_api.get("/v1/dailies", params=params)
    everything = readonly_api.get(
        "/v1/dailies", params={"start": start.isoformat(), "end": TODAY.isoformat()}
    )

    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["errors"] == []
    items = body["items"]
    assert {d["provider"] for d in items} == {"sweatstack"}
    assert {d["measure"] for d in items} == {"resting_hr", "hrv"}
    keys = [(d["date"], ["resting_hr", "hrv"].index(d["measure"]) * -1) for d in items]
    assert [d["date"] for d in items] == sorted(d["date"] for d in items)
    assert len(keys) >= 20
    for daily in items:
        assert daily["id"] == f"sweatstack:{daily['measure']}:{daily['date']}"
        assert daily["status"] == "stored" and daily["value"] is not None
        assert start.isoformat() <= daily["date"] <= TODAY.isoformat()
    assert {"body_mass", "sleep_duration"} <= {d["measure"] for d in everything.json()["items"]}


def test_interpolated_dailies_add_sweatstacks_estimates(readonly_api: httpx.Client) -> None:
    params = {
        "measure": "body_mass",
        "start": (TODAY - timedelta(days=20)).isoformat(),
        "end": TODAY.isoformat(),
    }

    stored = readonly_api.get("/v1/dailies", params=params).json()["items"]
    filled = readonly_api.get("/v1/dailies", params={**params, "interpolate": "true"}).json()[
        "items"
    ]

    assert all(d["status"] == "stored" for d in stored)
    estimated = [d for d in filled if d["status"] == "estimated"]
    assert estimated and len(filled) == len(stored) + len(estimated)
    assert {d["date"] for d in estimated}.isdisjoint(d["date"] for d in stored)


def test_bad_dailies_input_is_a_problem_naming_the_field(readonly_api: httpx.Client) -> None:
    day = TODAY.isoformat()

    unknown = readonly_api.get(
        "/v1/dailies", params={"measure": "weight", "start": day, "end": day}
    )
    no_start = readonly_api.get("/v1/dailies", params={"end": day})
    reversed_ = readonly_api.get("/v1/dailies", params={"start": day, "end": "2020-01-01"})
    too_long = readonly_api.get("/v1/dailies", params={"start": "2020-01-01", "end": day})
    typo = readonly_api.get("/v1/dailies", params={"start": day, "end": day, "measures": "hrv"})
    implausible = readonly_api.put(f"/v1/dailies/local:body_mass:{day}", json={"value": 710})
    unknown_field = readonly_api.put(
        f"/v1/dailies/local:hrv:{day}", json={"value": 60, "unit": "ms"}
    )
    fractional = readonly_api.put(
        f"/v1/dailies/local:menstrual_cycle_day:{day}", json={"value": 3.5}
    )

    assert _problem(unknown, 400)["field"] == "measure"
    assert _problem(no_start, 400)["field"] == "start"
    assert _problem(reversed_, 400)["field"] == "end"
    assert _problem(too_long, 400)["field"] == "end"
    assert _problem(typo, 400)["field"] == "measures"
    assert _problem(implausible, 422)["field"] == "value"
    assert _problem(unknown_field, 422)["field"] == "unit"
    assert _problem(fractional, 422)["field"] == "value"
    assert _problem(readonly_api.put("/v1/dailies/local:weight:2026-05-01", json={"value": 1}), 404)
    assert _problem(readonly_api.delete("/v1/dailies/local:hrv:May-1"), 404)
    assert _problem(readonly_api.delete("/v1/dailies/nowhere:hrv:2026-05-01"), 404)
    assert _problem(readonly_api.delete("/v1/dailies/local:hrv:1800-05-01"), 404)


def test_dailies_are_set_listed_and_deleted_at_each_provider(api: httpx.Client) -> None:
    day = (TODAY + timedelta(days=2)).isoformat()  # after the seeded series
    params = {"measure": "body_mass", "start": day, "end": day}

    local = api.put(f"/v1/dailies/local:body_mass:{day}", json={"value": 71.4})
    again = api.put(f"/v1/dailies/local:body_mass:{day}", json={"value": 71.2})
    remote = api.put(f"/v1/dailies/sweatstack:body_mass:{day}", json={"value": 71.6})
    listed = api.get("/v1/dailies", params=params).json()

    assert local.status_code == again.status_code == remote.status_code == 200, remote.text
    assert again.json() == {
        "id": f"local:body_mass:{day}",
        "provider": "local",
        "measure": "body_mass",
        "date": day,
        "value": 71.2,
        "status": "stored",
        "source": "manual",
        "extensions": {},
    }
    assert remote.json()["source"] == "manual" and remote.json()["provider"] == "sweatstack"
    assert [(d["provider"], d["value"]) for d in listed["items"]] == [
        ("local", 71.2),
        ("sweatstack", 71.6),
    ]
    assert api.delete(f"/v1/dailies/local:body_mass:{day}").status_code == 204
    assert api.delete(f"/v1/dailies/sweatstack:body_mass:{day}").status_code == 204
    assert api.get("/v1/dailies", params=params).json()["items"] == []
    gone = _problem(api.delete(f"/v1/dailies/sweatstack:body_mass:{day}"), 404)
    assert "sweatstack" in gone["detail"]
    _problem(api.delete(f"/v1/dailies/local:body_mass:{day}"), 404)


def test_traces_list_sweatstacks_lactate_samples_linked_to_their_test(
    readonly_api: httpx.Client,
) -> None:
    page = readonly_api.get("/v1/traces", params={"tags": "lactate", "limit": 100})

    assert page.status_code == 200, page.text
    body = page.json()
    assert body["errors"] == [] and body["next_cursor"] is None
    traces = body["items"]
    assert len(traces) == 7 and {t["provider"] for t in traces} == {"sweatstack"}
    moments = [datetime.fromisoformat(t["timestamp"]) for t in traces]
    assert moments == sorted(moments, reverse=True)
    test_ids = {t["test_id"] for t in traces}
    assert len(test_ids) == 1 and next(iter(test_ids)).startswith("sweatstack:tst_")
    assert readonly_api.get(f"/v1/tests/{next(iter(test_ids))}").status_code == 200
    assert all(t["extensions"]["test_match"] == "explicit" for t in traces)
    walked, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        listed = readonly_api.get("/v1/traces", params=params).json()
        walked.extend(t["id"] for t in listed["items"])
        cursor = listed["next_cursor"]
        if cursor is None:
            break
    assert len(walked) == len(set(walked)) >= 7 + 10


def test_bad_traces_are_problems_naming_the_field(readonly_api: httpx.Client) -> None:
    moment = "2026-05-06T10:00:00+02:00"

    def create(**fields: Any) -> httpx.Response:
        return readonly_api.post(
            "/v1/traces", json={"provider": "local", "timestamp": moment, **fields}
        )

    assert _problem(create(lactate=80), 422)["field"] == "lactate"
    assert _problem(create(timestamp="2026-05-06T10:00:00"), 422)["field"] == "timestamp"
    assert _problem(create(rpe=3.5), 422)["field"] == "rpe"
    assert _problem(create(sport="kitesurfing.nope"), 422)["field"] == "sport"
    assert _problem(create(test_id="local:missing"), 422)["field"] == "test_id"
    assert _problem(create(provider="garmin"), 422)["field"] == "provider"
    assert _problem(create(colour="red"), 422)["field"] == "colour"
    unsupported = _problem(readonly_api.get("/v1/traces/sweatstack:trc_1"), 405)
    assert (unsupported["provider"], unsupported["capability"]) == ("sweatstack", "traces:get")
    assert _problem(
        readonly_api.post("/v1/traces", json={"provider": "astral", "timestamp": moment}), 405
    )
    assert _problem(readonly_api.get("/v1/traces/local:nope"), 404)
    assert (
        _problem(readonly_api.get("/v1/traces", params={"sports": "cycling"}), 400)["field"]
        == "sports"
    )


def test_traces_have_crud_at_local_and_sweatstack(api: httpx.Client) -> None:
    lactate_test = next(
        t
        for t in api.get("/v1/tests", params={"tags": "lactate"}).json()["items"]
        if t["provider"] == "sweatstack"
    )
    local_test = api.post(
        "/v1/tests",
        json={"provider": "local", "sport": "running", "start": "2026-05-06T09:00:00+02:00"},
    ).json()
    body = {
        "timestamp": "2026-05-06T10:05:00+02:00",
        "lactate": 2.2,
        "heart_rate": 150,
        "tags": ["mine"],
    }

    local = api.post("/v1/traces", json={**body, "provider": "local", "test_id": local_test["id"]})
    remote = api.post(
        "/v1/traces",
        json={**body, "provider": "sweatstack", "test_id": lactate_test["id"], "sport": "cycling"},
    )

    assert local.status_code == remote.status_code == 201, remote.text
    assert local.headers["location"] == f"/v1/traces/{local.json()['id']}"
    assert remote.json()["id"].startswith("sweatstack:trc_")
    assert remote.json()["test_id"] == lactate_test["id"]
    assert remote.json()["timestamp"] == "2026-05-06T10:05:00+02:00"
    assert api.get(f"/v1/traces/{local.json()['id']}").json() == local.json()
    mine = api.get("/v1/traces", params={"tags": "mine"}).json()
    assert {t["id"] for t in mine["items"]} == {local.json()["id"], remote.json()["id"]}

    for created in (local.json(), remote.json()):
        replaced = api.put(
            f"/v1/traces/{created['id']}", json={"timestamp": body["timestamp"], "rpe": 6}
        )
        assert replaced.status_code == 200, replaced.text
        assert (replaced.json()["rpe"], replaced.json()["lactate"], replaced.json()["test_id"]) == (
            6,
            None,
            None,
        )
        assert replaced.json()["id"] == created["id"]
        assert api.delete(f"/v1/traces/{created['id']}").status_code == 204
        _problem(api.delete(f"/v1/traces/{created['id']}"), 404)
    assert api.get("/v1/traces", params={"tags": "mine"}).json()["items"] == []


def test_app_metadata_on_activities_at_sweatstack_natively_and_kept_locally_for_others(
    api: httpx.Client,
) -> None:
    def first_of(provider: str) -> dict[str, Any]:
        params = {"provider": provider, "limit": 1, "status": "completed"}
        found: dict[str, Any] = api.get("/v1/activities", params=params).json()["items"][0]
        return found

    sweatstack, astral = first_of("sweatstack"), first_of("astral")
    local = api.post(
        "/v1/activities",
        json={
            "provider": "local",
            "sport": "running",
            "start": "2026-05-06T07:00:00+02:00",
            "duration_s": 1800,
        },
    ).json()

    for activity in (sweatstack, astral, local):
        document = {"reviewed": True, "by": activity["provider"]}
        put = api.put(f"/v1/activities/{activity['id']}/app-metadata", json=document)
        assert put.status_code == 204, put.text
        assert (
            api.get(f"/v1/activities/{activity['id']}").json()["extensions"]["app_metadata"]
            == document
        )
    page = [
        *api.get("/v1/activities", params={"status": "completed", "limit": 1}).json()["items"],
        *(first_of(provider) for provider in ("sweatstack", "astral", "local")),
    ]
    shown = {a["id"]: a["extensions"].get("app_metadata") for a in page}
    assert shown[sweatstack["id"]] == {"reviewed": True, "by": "sweatstack"}
    assert shown[astral["id"]] == {"reviewed": True, "by": "astral"}
    assert shown[local["id"]] == {"reviewed": True, "by": "local"}

    too_big = api.put(f"/v1/activities/{astral['id']}/app-metadata", json={"blob": "x" * 2000})
    assert _problem(too_big, 422)["field"] == "body"
    _problem(api.put("/v1/activities/astral:nope/app-metadata", json={}), 404)
    for activity in (sweatstack, astral, local):
        assert api.delete(f"/v1/activities/{activity['id']}/app-metadata").status_code == 204
        extensions = api.get(f"/v1/activities/{activity['id']}").json()["extensions"]
        assert "app_metadata" not in extensions


def test_users_never_see_each_others_dailies_or_traces(gateway: RunningGateway) -> None:
    stranger = gateway.create_user("stranger")
    day = TODAY.isoformat()
    with gateway.client() as owner, gateway.client(stranger) as other:
        owner.put(f"/v1/dailies/local:hrv:{day}", json={"value": 60}).raise_for_status()
        trace = owner.post(
            "/v1/traces", json={"provider": "local", "timestamp": f"{day}T08:00:00+00:00", "rpe": 4}
        ).json()

        assert other.get("/v1/dailies", params={"start": day, "end": day}).json()["items"] == []
        assert other.get("/v1/traces").json()["items"] == []
        _problem(other.get(f"/v1/traces/{trace['id']}"), 404)
        _problem(other.delete(f"/v1/dailies/local:hrv:{day}"), 404)


def test_deep_nul_and_non_json_bodies_are_refused_on_the_new_routes(
    readonly_api: httpx.Client,
) -> None:
    activity = readonly_api.get("/v1/activities", params={"limit": 1}).json()["items"][0]
    too_deep = '{"a":' * 1000 + "1" + "}" * 1000
    json_body = {"Content-Type": "application/json"}
    for method, path in (
        ("POST", "/v1/traces"),
        ("PUT", f"/v1/dailies/local:hrv:{TODAY.isoformat()}"),
        ("PUT", f"/v1/activities/{activity['id']}/app-metadata"),
    ):
        deep = readonly_api.request(method, path, content=too_deep, headers=json_body)
        assert _problem(deep, 422)["field"] == "body"
        as_text = readonly_api.request(
            method, path, content='{"value": 1}', headers={"Content-Type": "text/plain"}
        )
        assert _problem(as_text, 415)
    nul = readonly_api.post(
        "/v1/traces",
        json={"provider": "local", "timestamp": "2026-05-06T10:00:00Z", "notes": "a\x00b"},
    )
    assert _problem(nul, 422)["field"] == "notes"
    metadata = readonly_api.put(f"/v1/activities/{activity['id']}/app-metadata", json={"k\x00": 1})
    assert _problem(metadata, 422)["field"].startswith("k")
