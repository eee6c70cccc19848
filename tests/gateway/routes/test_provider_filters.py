"""Provider-scoped filters and views on /v1/activities, over loopback in front of the Astral
mock: coach access (`athlete=`), a training plan (`plan_instance_id=`) and the provider's own
documents (`view=raw`). Each reaches the provider that honours it; one that a provider in the
list cannot honour is a 400 naming it, never silently ignored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import RunningGateway
from tests.gateway.routes.test_activities import assert_problem
from training_gateway.gateway.services.connections import credentials_from_token
from training_gateway.gateway.storage import Store

ASTRAL = {"provider": "astral", "consistency": "live"}


def _mock(gateway: RunningGateway) -> Any:
    return gateway.demo.mocks["astral"]


def _all(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every activity the list answers, walking its cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = api.get(
            "/v1/activities",
            params={"limit": 40, **params, **({"cursor": cursor} if cursor else {})},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["errors"] == [], page["errors"]
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _astral_user(gateway: RunningGateway, astral_user: str) -> str:
    """A new gateway user connected to Astral as `astral_user`; its API key."""
    token = _mock(gateway).token_for(astral_user)

    async def connect(store: Store) -> str:
        user = await store.create_user(f"astral-{uuid.uuid4().hex[:8]}")
        await store.save_connection(user, "astral", credentials_from_token(token))
        return await store.issue_api_key(user)

    return gateway.on_store(connect)


def _change(gateway: RunningGateway, **change: str) -> None:
    response = httpx.post(f"{gateway.demo.servers['astral'].url}/_mock/changes", json=change)
    assert response.status_code == 200, response.text


@pytest.fixture
def coach_api(readonly_gateway: RunningGateway) -> Iterator[httpx.Client]:
    """A gateway user connected to Astral as the seeded coach of the demo's athlete."""
    with readonly_gateway.client(
        _astral_user(readonly_gateway, _mock(readonly_gateway).coach_id)
    ) as api:
        yield api


# -- coach access ------------------------------------------------------------------------------


def test_a_coach_lists_the_athletes_activities_with_athlete(
    readonly_gateway: RunningGateway, readonly_api: httpx.Client, coach_api: httpx.Client
) -> None:
    mock = _mock(readonly_gateway)

    coached = _all(coach_api, athlete=mock.athlete_id, **ASTRAL)
    own = _all(readonly_api, **ASTRAL)
    one = coach_api.get(f"/v1/activities/{coached[0]['id']}")

    assert coached and coached == own
    assert {item["extensions"]["user_id"] for item in coached} == {mock.athlete_id}
    assert one.status_code == 200 and one.json() == coached[0]


def test_athlete_of_someone_you_do_not_coach_is_astrals_403(
    readonly_gateway: RunningGateway, readonly_api: httpx.Client
) -> None:
    other = _mock(readonly_gateway).second_athlete_id

    refused = readonly_api.get("/v1/activities", params={"athlete": other, "provider": "astral"})

    body = assert_problem(refused, 403, provider="astral")
    assert "coach access" in body["detail"].lower()


def test_coach_access_follows_the_athlete_granting_and_withdrawing_it(
    readonly_gateway: RunningGateway, coach_api: httpx.Client
) -> None:
    mock = _mock(readonly_gateway)
    athlete = mock.athlete_id
    _change(readonly_gateway, kind="stop_coaching", coach=mock.coach_id, athlete=athlete)
    try:
        withdrawn = coach_api.get("/v1/activities", params={"athlete": athlete, **ASTRAL})
    finally:
        _change(readonly_gateway, kind="start_coaching", coach=mock.coach_id, athlete=athlete)
    granted = coach_api.get("/v1/activities", params={"athlete": athlete, **ASTRAL})

    assert_problem(withdrawn, 403, provider="astral")
    assert granted.status_code == 200 and granted.json()["items"]


def test_the_athlete_naming_themselves_lists_their_own(
    readonly_gateway: RunningGateway, readonly_api: httpx.Client
) -> None:
    athlete = _mock(readonly_gateway).athlete_id
    assert _all(readonly_api, athlete=athlete, **ASTRAL) == _all(readonly_api, **ASTRAL)


# -- plan instance -----------------------------------------------------------------------------


def test_plan_instance_id_lists_only_that_plans_activities(readonly_api: httpx.Client) -> None:
    everything = _all(readonly_api, **ASTRAL)
    plans = {item["extensions"].get("plan_instance_id") for item in everything} - {None}
    plan = sorted(plans)[0]

    in_plan = _all(readonly_api, plan_instance_id=plan, **ASTRAL)
    unknown = _all(readonly_api, plan_instance_id="pln_nothing", **ASTRAL)

    expected = [i for i in everything if i["extensions"].get("plan_instance_id") == plan]
    assert in_plan == expected and 0 < len(in_plan) < len(everything)
    assert unknown == []


def test_plan_instance_id_walks_by_cursor_and_combines_with_other_filters(
    readonly_api: httpx.Client,
) -> None:
    everything = _all(readonly_api, **ASTRAL)
    plan = next(
        i["extensions"]["plan_instance_id"]
        for i in everything
        if "plan_instance_id" in i["extensions"]
    )

    paged = _all(readonly_api, plan_instance_id=plan, status="completed", limit=2, **ASTRAL)

    expected = [
        i
        for i in everything
        if i["extensions"].get("plan_instance_id") == plan and i["status"] == "completed"
    ]
    assert paged == expected and len(paged) > 2


# -- raw view ----------------------------------------------------------------------------------


def test_view_raw_adds_astrals_firestore_document_to_each_activity(
    readonly_api: httpx.Client,
) -> None:
    unified = _all(readonly_api, **ASTRAL)
    raw = _all(readonly_api, view="raw", **ASTRAL)

    documents = [item["extensions"].pop("raw_document") for item in raw]
    assert raw == unified
    for item, document in zip(unified, documents, strict=True):
        native_id = item["id"].removeprefix("astral:")
        assert document["name"].endswith(f"/activities/{native_id}")
        assert document["fields"]["status"] == {"stringValue": item["status"]}


def test_view_raw_on_one_activity(readonly_api: httpx.Client) -> None:
    first = readonly_api.get("/v1/activities", params={"limit": 1, **ASTRAL}).json()["items"][0]

    raw = readonly_api.get(f"/v1/activities/{first['id']}", params={"view": "raw"})
    plain = readonly_api.get(f"/v1/activities/{first['id']}")

    assert raw.status_code == 200, raw.text
    document = raw.json()["extensions"].pop("raw_document")
    assert raw.json() | {"extensions": plain.json()["extensions"]} == plain.json()
    assert set(document) == {"name", "fields", "createTime", "updateTime"}


def test_view_raw_of_an_activity_at_a_provider_without_one_is_400(
    readonly_api: httpx.Client,
) -> None:
    listed = readonly_api.get("/v1/activities", params={"limit": 1, "provider": "sweatstack"})
    activity_id = listed.json()["items"][0]["id"]

    refused = readonly_api.get(f"/v1/activities/{activity_id}", params={"view": "raw"})

    body = assert_problem(refused, 400, field="view")
    assert "sweatstack" in body["detail"]


# -- refused where a provider in the list cannot honour it -------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"athlete": "usr_someone"},
        {"athlete": "usr_someone", "provider": ["astral", "sweatstack"]},
        {"plan_instance_id": "pln_x", "provider": "local"},
        {"plan_instance_id": "pln_x"},
        {"view": "raw"},
        {"view": "raw", "provider": "sweatstack"},
    ],
)
def test_a_provider_scoped_parameter_on_a_list_that_cannot_honour_it_is_400(
    readonly_api: httpx.Client, params: dict[str, Any]
) -> None:
    refused = readonly_api.get("/v1/activities", params=params)

    name = next(key for key in params if key != "provider")
    body = assert_problem(refused, 400, field=name)
    assert "provider=astral" in body["detail"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"view": "xml", "provider": "astral"}, "view"),
        ({"athlete": "", "provider": "astral"}, "athlete"),
    ],
)
def test_a_malformed_provider_scoped_parameter_is_400(
    readonly_api: httpx.Client, params: dict[str, str], name: str
) -> None:
    refused = readonly_api.get("/v1/activities", params=params)
    body = assert_problem(refused, 400)
    assert name in body["detail"] or body.get("field") == name


@pytest.mark.parametrize(("astral_name", "ours"), [("format", "view"), ("user_id", "athlete")])
def test_astrals_own_parameter_names_are_refused_with_the_gateways(
    readonly_api: httpx.Client, astral_name: str, ours: str
) -> None:
    refused = readonly_api.get("/v1/activities", params={astral_name: "x", "provider": "astral"})

    body = assert_problem(refused, 400, field=astral_name)
    assert f"did you mean {ours!r}" in body["detail"]
