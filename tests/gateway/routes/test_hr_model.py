"""Heart-rate model fitting and profiles over real HTTP: gateway on loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from cryptography.fernet import Fernet

from tests.gateway.conftest import RunningGateway
from tests.models.hr_simulation import interval_speeds, simulate
from training_gateway.gateway.settings import sqlite_url
from training_gateway.gateway.storage import Store, TokenVault

PROBLEM = "application/problem+json"
MEMORY_FIELDS = {
    "secsSinceEpoch",
    "confidence",
    "minKey",
    "minValue",
    "cutoffValue",
    "keys",
    "errorsX1000",
}


def session_rows(seed: int = 1, seconds: int = 900) -> list[dict[str, float]]:
    speed = interval_speeds(0.6, 5.03, seed=seed, duration_s=seconds)
    time_s, hr, speed = simulate(0.6, 5.03, 185.0, speed, seed=seed + 1)
    return [
        {"time": float(t), "hr": round(float(h), 1), "speed": round(float(v), 3)}
        for t, h, v in zip(time_s, hr, speed, strict=True)
    ]


SETTINGS = {
    "fixedSpeed": False,
    "fit": True,
    "returnStats": True,
    "Econstraints": [0.5, 0.7, 0.01],
    "Pconstraints": [175, 195, 1],
}


def fit(api: httpx.Client, body: dict[str, Any], **params: Any) -> httpx.Response:
    return api.post("/v1/hr-model/fit", json=body, params=params)


def assert_problem(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = response.json()
    assert problem["field"] == field, problem
    assert "Traceback" not in response.text
    return problem


def test_fit_answers_in_the_documented_shape_and_the_profile_follows(api: httpx.Client) -> None:
    settings, data = json.dumps(SETTINGS), json.dumps(session_rows())
    first = fit(api, {"settings": settings, "data": data})
    assert first.status_code == 200, first.text[:300]
    body = first.json()
    assert body["settings"] == settings and body["data"] == data  # echoed as sent
    assert isinstance(body["memory"], str)
    memory = json.loads(body["memory"])
    assert set(memory) == MEMORY_FIELDS and isinstance(memory["minKey"], str)
    result = body["result"]
    for name in (
        "E",
        "Vmax",
        "V5",
        "P",
        "confidence",
        "dataQualityCriterion",
        "fitQualityCriterion",
    ):
        assert isinstance(result[name], float), name
    assert {"trueE", "trueVmax", "trueV5", "trueP", "trueConfidence", "stats"} <= set(result)
    assert "prediction" not in result and "errors" not in result
    assert abs(result["P"] - 185) <= 2 and abs(result["E"] - 0.6) <= 0.03

    second = fit(
        api, {"settings": settings, "data": json.dumps(session_rows(7)), "memory": body["memory"]}
    )
    assert second.status_code == 200, second.text[:300]
    assert second.json()["result"]["trueConfidence"] > result["trueConfidence"]

    profile = api.get("/v1/hr-model/profile", params={"sport": "running"})
    assert profile.status_code == 200, profile.text[:300]
    doc = profile.json()
    assert doc["sport"] == "running" and len(doc["history"]) == 2
    latest = second.json()["result"]
    assert doc["history"][0]["trueE"] == latest["trueE"] and doc["history"][0]["E"] == latest["E"]
    assert doc["history"][1]["E"] == result["E"]
    assert doc["current"]["E"] == latest["trueE"] and doc["current"]["P"] == latest["trueP"]
    assert 0 < doc["current"]["confidence"] <= latest["trueConfidence"]
    assert api.get("/v1/hr-model/profile", params={"sport": "cycling"}).status_code == 404
    assert_problem(api.get("/v1/hr-model/profile", params={"sport": "chess"}), 400, "sport")


def test_plain_objects_are_accepted_and_answered_as_objects(api: httpx.Client) -> None:
    rows = session_rows(seconds=400)
    settings = {**SETTINGS, "returnPrediction": True, "returnErrors": True, "sport": "cycling"}
    response = fit(api, {"settings": settings, "data": rows})
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert isinstance(body["memory"], dict) and set(body["memory"]) == MEMORY_FIELDS
    assert len(body["result"]["prediction"]) == len(rows)
    assert body["result"]["errors"]["minKey"] in {str(k) for k in body["result"]["errors"]["keys"]}
    assert api.get("/v1/hr-model/profile", params={"sport": "cycling"}).status_code == 200


def test_fit_false_evaluates_without_storing(api: httpx.Client) -> None:
    settings = {"fixedSpeed": False, "fit": False, "E": 0.5, "Vmax": 6.2, "P": 180}
    response = fit(
        api, {"settings": json.dumps(settings), "data": json.dumps(session_rows(seconds=300))}
    )
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert body["memory"] is None
    assert (body["result"]["E"], body["result"]["Vmax"], body["result"]["P"]) == (0.5, 6.2, 180.0)
    assert api.get("/v1/hr-model/profile", params={"sport": "running"}).status_code == 404


def test_use_stored_memory_continues_from_the_kept_one(api: httpx.Client) -> None:
    settings = json.dumps(SETTINGS)
    first = fit(api, {"settings": settings, "data": json.dumps(session_rows(seconds=400))}).json()
    again = fit(
        api,
        {"settings": settings, "data": json.dumps(session_rows(3, seconds=400))},
        use_stored_memory=True,
    ).json()
    assert again["result"]["trueConfidence"] > first["result"]["trueConfidence"]
    fresh = fit(
        api, {"settings": settings, "data": json.dumps(session_rows(3, seconds=400))}
    ).json()
    assert fresh["result"]["trueConfidence"] == fresh["result"]["confidence"]


def test_another_users_memory_is_never_visible(gateway: RunningGateway, api: httpx.Client) -> None:
    assert (
        fit(
            api, {"settings": json.dumps(SETTINGS), "data": json.dumps(session_rows(seconds=300))}
        ).status_code
        == 200
    )

    async def new_user_key() -> str:
        store = Store.open(
            sqlite_url(gateway.data_dir), TokenVault([Fernet.generate_key().decode()])
        )
        try:
            return await store.issue_api_key(await store.create_user("bob"))
        finally:
            await store.close()

    with gateway.client(asyncio.run(new_user_key())) as bob:
        assert bob.get("/v1/hr-model/profile", params={"sport": "running"}).status_code == 404
        assert bob.post("/v1/hr-model/fit", json={}).status_code == 422
    assert httpx.post(gateway.url + "/v1/hr-model/fit", json={}).status_code == 401


def test_bad_input_is_a_422_naming_the_field(readonly_api: httpx.Client) -> None:
    rows = session_rows(seconds=120)
    settings = json.dumps(SETTINGS)

    def with_rows(changed: list[dict[str, Any]], raw_settings: str = settings) -> httpx.Response:
        return fit(readonly_api, {"settings": raw_settings, "data": json.dumps(changed)})

    assert_problem(with_rows(rows[:59]), 422, "data")
    assert_problem(
        with_rows([{k: v for k, v in r.items() if k != "speed"} for r in rows]),
        422,
        "data[0].speed",
    )
    backwards = [dict(r) for r in rows]
    backwards[10]["time"] = 3.0
    assert_problem(with_rows(backwards), 422, "data[10].time")
    high = [dict(r) for r in rows]
    high[4]["hr"] = 260
    assert_problem(with_rows(high), 422, "data[4].hr")
    nan = [dict(r) for r in rows]
    nan[4]["hr"] = float("nan")
    assert_problem(with_rows(nan), 422, "data[4].hr")
    for name, bad in (("Econstraints", [0.7, 0.5, 0.01]), ("Pconstraints", [150, 190, 0])):
        raw = json.dumps({**SETTINGS, name: bad})
        assert_problem(with_rows(rows, raw), 422, f"settings.{name}")
    huge = json.dumps(
        {**SETTINGS, "Econstraints": [0.01, 0.99, 0.01], "V5constraints": [3, 27, 0.03]}
    )
    assert_problem(with_rows(rows, huge), 422, "settings")
    broken_memory = {"settings": settings, "data": json.dumps(rows), "memory": '{"keys": [1]}'}
    assert_problem(fit(readonly_api, broken_memory), 422, "memory.secsSinceEpoch")
    assert_problem(fit(readonly_api, {"settings": settings}), 422, "data")
    assert_problem(fit(readonly_api, {"settings": "{", "data": "[]"}), 422, "settings")


def test_openapi_documents_the_hr_model_routes() -> None:
    from training_gateway.gateway.app import openapi_document

    paths = openapi_document()["paths"]
    assert "post" in paths["/v1/hr-model/fit"] and "get" in paths["/v1/hr-model/profile"]


def test_fit_from_an_activity_of_each_provider_keeps_the_memory(api: httpx.Client) -> None:
    from tests.gateway.routes.test_activities import walk

    for provider, sport in (("sweatstack", "cycling"), ("astral", "running")):
        activity = next(
            a
            for a in walk(api, provider=provider, sport=sport, status="completed", limit=50)
            if a["duration_s"] >= 1200
        )
        first = api.post(f"/v1/activities/{activity['id']}/hr-model", json={})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["sport"] == sport and body["samples"] > 600
        result = body["result"]
        assert (
            0 < result["E"] < 1 and 140 <= result["P"] <= 220 and result["Vmax"] > result["V5"] > 0
        )
        assert body["memory"]["keys"]
        profile = api.get("/v1/hr-model/profile", params={"sport": sport}).json()
        history_before = len(profile["history"])
        again = api.post(
            f"/v1/activities/{activity['id']}/hr-model", json={"use_stored_memory": True}
        )
        assert again.status_code == 200
        assert again.json()["result"]["trueConfidence"] >= result["trueConfidence"]
        assert (
            len(api.get("/v1/hr-model/profile", params={"sport": sport}).json()["history"])
            == history_before + 1
        )


def test_fit_from_an_activity_refuses_what_it_cannot_fit(readonly_api: httpx.Client) -> None:
    from tests.gateway.routes.test_activities import assert_problem, walk

    swim = walk(readonly_api, sport="swimming", status="completed", limit=20)[0]
    assert_problem(
        readonly_api.post(f"/v1/activities/{swim['id']}/hr-model", json={}), 422, field="sport"
    )
    planned = walk(readonly_api, provider="astral", sport="running", status="scheduled", limit=5)[0]
    assert_problem(readonly_api.post(f"/v1/activities/{planned['id']}/hr-model", json={}), 404)
    ride = walk(readonly_api, provider="sweatstack", sport="cycling", limit=1)[0]
    assert_problem(
        readonly_api.post(f"/v1/activities/{ride['id']}/hr-model", json={"settings": "{"}),
        422,
        field="settings",
    )
    assert_problem(readonly_api.post("/v1/activities/astral:nope/hr-model", json={}), 404)
    # The sport comes from the activity: another one would be ignored, so it is refused.
    problem = assert_problem(
        readonly_api.post(
            f"/v1/activities/{ride['id']}/hr-model",
            json={"settings": {"sport": "team_sports"}},
        ),
        422,
        field="settings.sport",
    )
    assert "not supported" in problem["detail"]


# Every documented setting has its effect over HTTP, or is refused naming it. `fit: false`
# stores nothing, so these run on the shared read-only stack.
EVALUATE = {"fixedSpeed": False, "fit": False, "E": 0.6, "Vmax": 5.6, "P": 185}


def evaluated(api: httpx.Client, rows: list[dict[str, float]], **changes: Any) -> dict[str, Any]:
    response = fit(api, {"settings": json.dumps({**EVALUATE, **changes}), "data": json.dumps(rows)})
    assert response.status_code == 200, response.text[:300]
    assert response.json()["memory"] is None
    result: dict[str, Any] = response.json()["result"]
    return result


def test_each_documented_input_has_its_effect_over_http(readonly_api: httpx.Client) -> None:
    rows = session_rows(seconds=300)
    base = evaluated(readonly_api, rows, returnStats=True)["stats"]
    assert base["demographics"]["defaulted"] == ["weight", "height", "age", "gender"]
    assert base["rzi"] is None and base["running"] and base["team_sports"] is None

    def stats(**changes: Any) -> dict[str, Any]:
        found: dict[str, Any] = evaluated(readonly_api, rows, returnStats=True, **changes)["stats"]
        return found

    heavy = stats(weight=90)
    assert heavy["energy"]["session_calories"] > base["energy"]["session_calories"]
    assert heavy["body"]["bmi"] > base["body"]["bmi"]
    assert stats(height=190)["energy"]["rmr_kcal_day"] > base["energy"]["rmr_kcal_day"]
    assert stats(age=60)["energy"]["rmr_kcal_day"] < base["energy"]["rmr_kcal_day"]
    female = stats(gender="female")
    assert female["body"]["fat_pct"] > base["body"]["fat_pct"]
    assert female["demographics"]["gender"] == "female"

    cycling = stats(sport="cycling")
    assert cycling["cycling"]["threshold_power_w"] and cycling["running"] is None
    assert cycling["energy"]["session_calories"] != base["energy"]["session_calories"]
    team = stats(sport="team_sports", squadMeanE=0.3, squadMeanVmax=5.6)
    assert team["team_sports"]["archetype"] == "Endurance-dominant"
    assert team["team_sports"]["sprint_count"] >= 1
    fast_squad = stats(sport="team_sports", squadMeanE=0.6, squadMeanVmax=8.0)
    assert fast_squad["team_sports"]["archetype"] == "All-rounder"

    low, high = stats(measuredRHR=45), stats(measuredRHR=72)
    assert low["resting_hr_bpm"] == 45 and 0 <= low["rzi"] < high["rzi"] <= 3
    # measuredRHR is the model's resting heart rate: the prediction moves with it.
    assert (
        evaluated(readonly_api, rows, measuredRHR=45)["rmseBpm"]
        != evaluated(readonly_api, rows)["rmseBpm"]
    )
    assert {"energy", "recovery", "hr_zones", "metabolic_zones", "vo2max_ml_kg_min"} <= set(base)


def test_inputs_that_would_have_no_effect_are_refused_over_http(
    readonly_api: httpx.Client,
) -> None:
    rows = json.dumps(session_rows(seconds=120))
    cases = [
        ({"weight": 80}, "settings.weight"),
        ({"gender": "female"}, "settings.gender"),
        ({"returnStats": True, "squadMeanE": 0.5, "squadMeanVmax": 6}, "settings.squadMeanE"),
        ({"sport": "team_sports", "squadMeanVmax": 6}, "settings.squadMeanVmax"),
        ({"returnStats": True, "sport": "team_sports", "squadMeanE": 0.5}, "settings.squadMeanE"),
        ({"fit": True, "E": 0.5}, "settings.E"),
        ({"Econstraints": [0.5, 0.6, 0.01]}, "settings.Econstraints"),
        ({"returnErrors": True}, "settings.returnErrors"),
        ({"speed": 3.0}, "settings.speed"),
    ]
    for change, field in cases:
        raw = {**EVALUATE, **change}
        if raw["fit"]:
            raw = {k: v for k, v in raw.items() if k not in ("Vmax", "P")}
        problem = assert_problem(
            fit(readonly_api, {"settings": json.dumps(raw), "data": rows}), 422, field
        )
        assert "not supported" in problem["detail"] or "only" in problem["detail"], problem
    treadmill = {"fixedSpeed": True, "speed": 3.0, "fit": False}
    problem = assert_problem(
        fit(readonly_api, {"settings": json.dumps(treadmill), "data": rows}), 422, "data[0].speed"
    )
    assert "not supported" in problem["detail"]


def test_a_memory_shaped_as_the_page_example_round_trips(api: httpx.Client) -> None:
    settings = json.dumps(SETTINGS)
    first = fit(api, {"settings": settings, "data": json.dumps(session_rows(seconds=400))})
    assert first.status_code == 200, first.text[:300]
    full = json.loads(first.json()["memory"])
    page_shaped = {k: full[k] for k in ("secsSinceEpoch", "confidence", "minKey", "keys")}
    page_shaped["errorsX1000"] = full["errorsX1000"]
    second = fit(
        api,
        {
            "settings": settings,
            "data": json.dumps(session_rows(5, seconds=400)),
            "memory": json.dumps(page_shaped),
        },
    )
    assert second.status_code == 200, second.text[:300]
    kept = json.loads(second.json()["memory"])
    assert set(kept) == MEMORY_FIELDS
    result = second.json()["result"]
    assert result["trueConfidence"] > result["confidence"]
    profile = api.get("/v1/hr-model/profile", params={"sport": "running"}).json()
    assert profile["current"]["E"] == result["trueE"] and len(profile["history"]) == 2
    # The kept memory continues from where the page-shaped one left off.
    third = fit(
        api,
        {"settings": settings, "data": json.dumps(session_rows(9, seconds=400))},
        use_stored_memory=True,
    )
    assert third.status_code == 200, third.text[:300]
    assert third.json()["result"]["trueConfidence"] > result["trueConfidence"]
    literal = (
        '{"secsSinceEpoch":1712000000,"confidence":3.5,"minKey":"18504265",'
        '"keys":[18504265,18504266,18604265],"errorsX1000":[12500,13200,14100]}'
    )
    evaluated_with_it = fit(
        api,
        {
            "settings": json.dumps({**EVALUATE}),
            "data": json.dumps(session_rows(seconds=120)),
            "memory": literal,
        },
    )
    assert evaluated_with_it.status_code == 200, evaluated_with_it.text[:300]
    assert evaluated_with_it.json()["result"]["trueP"] == 185
    # Evaluating stores nothing: the memory comes back as it was sent.
    assert json.loads(evaluated_with_it.json()["memory"]) == json.loads(literal)
