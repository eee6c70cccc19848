"""Whatever a client sends, the answer is a 4xx problem naming the field at fault: never a
500, never a provider blamed for the client's mistake (issue #11, "What was found")."""

from __future__ import annotations

import base64
import json
import socket

import httpx
import msgspec
import pytest

from tests.gateway.conftest import RunningGateway
from tests.gateway.routes.test_activities import assert_problem
from tests.gateway.routes.test_lab_tests import LACTATE, _create

MERGE = {"Content-Type": "application/merge-patch+json"}


def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def test_deeply_nested_json_is_a_422_on_every_json_route(api: httpx.Client) -> None:
    test = _create(api, "local")
    too_deep = deep(1000)
    cases = [
        ("PUT", f"/v1/tests/{test['id']}/app-metadata", too_deep, {}),
        ("PATCH", f"/v1/tests/{test['id']}", too_deep, MERGE),
        ("POST", "/v1/tests", too_deep, {}),
        ("POST", "/v1/hr-model/fit", too_deep, {}),
        ("POST", "/v1/activities", too_deep, {}),
    ]
    for method, path, body, headers in cases:
        response = api.request(
            method, path, content=body, headers={"Content-Type": "application/json", **headers}
        )
        assert_problem(response, 422, field="body")


def test_metadata_deeper_than_32_levels_is_refused_and_the_list_keeps_answering(
    api: httpx.Client,
) -> None:
    test = _create(api, "local")
    json_body = {"Content-Type": "application/json"}
    path = f"/v1/tests/{test['id']}/app-metadata"
    refused = api.put(path, content=deep(974), headers=json_body)
    assert_problem(refused, 422)
    assert refused.json()["field"].startswith("a.a.a")
    assert api.put(path, content=deep(31), headers=json_body).status_code == 204
    assert api.get("/v1/tests", params={"limit": 100}).status_code == 200
    assert api.get(f"/v1/tests/{test['id']}").status_code == 200


@pytest.mark.parametrize("provider", ["local", "astral"])
@pytest.mark.parametrize("duration", [1e12, 1.3e308])
def test_an_absurd_duration_is_a_422_naming_it(
    readonly_api: httpx.Client, provider: str, duration: float
) -> None:
    body = {"provider": provider, "sport": "running", "start": "2026-05-01T08:00:00Z"}
    response = readonly_api.post("/v1/activities", json={**body, "duration_s": duration})
    assert_problem(response, 422, field="duration_s")


@pytest.mark.parametrize(
    ("start", "field"),
    [("0001-01-01T00:00:00Z", "start"), ("9999-12-31T23:59:59Z", "start")],
)
def test_a_test_outside_the_supported_years_is_a_422_naming_it(
    readonly_api: httpx.Client, start: str, field: str
) -> None:
    for provider in ("local", "sweatstack"):
        response = readonly_api.post(
            "/v1/tests", json={**LACTATE, "provider": provider, "start": start, "end": None}
        )
        assert_problem(response, 422, field=field)
    late_end = readonly_api.post(
        "/v1/tests", json={**LACTATE, "provider": "local", "end": "9999-12-31T23:59:59Z"}
    )
    assert_problem(late_end, 422, field="end")


def test_a_test_a_provider_holds_at_year_9999_reads_without_failing(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    mock = gateway.demo.mocks["sweatstack"]
    created = httpx.post(
        gateway.demo.provider_urls["sweatstack"] + "/api/v1/tests/",
        headers={"Authorization": f"Bearer {mock.token_for()}"},
        json={
            "sport": "running",
            "start": "9999-12-31T23:59:59Z",
            "end": "9999-12-31T23:59:59Z",
            "title": "far",
            "tags": [],
        },
    )
    assert created.status_code == 201, created.text
    listed = api.get("/v1/tests", params={"limit": 1000})
    assert listed.status_code == 200 and listed.json()["errors"] == []
    far = next(t for t in listed.json()["items"] if t["title"] == "far")
    details = api.get(f"/v1/tests/{far['id']}")
    assert details.status_code == 200, details.text
    assert details.json()["errors"] == [] and details.headers["etag"]


def test_many_tags_or_joined_sports_are_the_clients_mistake_not_a_providers(
    readonly_api: httpx.Client,
) -> None:
    tags = "&".join(f"tags=t{i}" for i in range(10_000))  # longer than httpx will send
    with socket.create_connection(("127.0.0.1", readonly_api.base_url.port or 80)) as sock:
        auth = readonly_api.headers["authorization"]
        request = f"GET /v1/activities?{tags} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n"
        sock.sendall(request.encode())
        head = sock.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 400") and "application/problem+json" in head, head[:300]
    few = [f"t{i}" for i in range(500)]
    assert_problem(readonly_api.get("/v1/activities", params={"tags": few}), 400, field="tags")
    sports = ",".join(["running"] * 500)
    assert_problem(readonly_api.get("/v1/activities", params={"sport": sports}), 400, field="sport")
    long_value = "x" * 5000
    assert_problem(readonly_api.get("/v1/tests", params={"tags": long_value}), 400, field="tags")


def test_a_cursor_with_an_impossible_offset_is_refused(readonly_api: httpx.Client) -> None:
    first = readonly_api.get("/v1/activities", params={"limit": 1}).json()
    raw = json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "=="))
    raw["o"]["local"] = 2**63
    forged = base64.urlsafe_b64encode(msgspec.json.encode(raw)).decode().rstrip("=")
    response = readonly_api.get("/v1/activities", params={"limit": 1, "cursor": forged})
    assert_problem(response, 400, field="cursor")


def test_a_query_parameter_the_route_does_not_read_is_a_400_with_a_hint(
    readonly_api: httpx.Client,
) -> None:
    body = assert_problem(
        readonly_api.get("/v1/activities", params={"sports": "running"}), 400, field="sports"
    )
    assert "'sport'" in body["detail"]
    assert_problem(readonly_api.get("/v1/tests", params={"offset": "10"}), 400, field="offset")
    assert_problem(
        readonly_api.get(
            "/v1/activities/longitudinal-mean-max", params={"metric": "power", "x": "1"}
        ),
        400,
        field="x",
    )


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_json_body_under_another_content_type_is_a_415(
    readonly_api: httpx.Client, content_type: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps({**LACTATE, "provider": "local"})
    response = readonly_api.post("/v1/tests", content=body, headers=headers)
    if content_type:
        assert_problem(response, 415, field="Content-Type")
    else:  # httpx sends no Content-Type: still not JSON as far as HTTP is concerned
        assert_problem(response, 415)


def test_nul_characters_are_refused_in_text(readonly_api: httpx.Client) -> None:
    response = readonly_api.post(
        "/v1/tests", json={**LACTATE, "provider": "local", "title": "step\x00test"}
    )
    assert_problem(response, 422, field="title")
    tagged = readonly_api.post(
        "/v1/tests", json={**LACTATE, "provider": "local", "tags": ["a\x00"]}
    )
    assert_problem(tagged, 422, field="tags[0]")
    assert_problem(readonly_api.get("/v1/activities", params={"tags": "a\x00b"}), 400, field="tags")


def test_a_missing_body_is_named_not_a_leaked_key(readonly_api: httpx.Client) -> None:
    activity = readonly_api.get("/v1/activities", params={"limit": 1}).json()["items"][0]
    for path in (f"/v1/activities/{activity['id']}/hr-model", "/v1/hr-model/fit", "/v1/tests"):
        body = assert_problem(
            readonly_api.post(path, headers={"Content-Type": "application/json"}),
            422,
            field="body",
        )
        assert "'data'" not in body["detail"] and "JSON body" in body["detail"]


def test_one_rule_for_400_and_422_and_titles_that_match(
    readonly_api: httpx.Client, readonly_gateway: RunningGateway
) -> None:
    path = "/v1/activities/longitudinal-mean-max"
    missing = assert_problem(readonly_api.get(path), 400, field="metric")
    unknown = assert_problem(
        readonly_api.get(path, params={"metric": "torque"}), 400, field="metric"
    )
    assert missing["title"] == unknown["title"] == "Invalid query parameter"
    body = assert_problem(
        readonly_api.post("/v1/tests", json={**LACTATE, "provider": "local", "vo2": 1}),
        422,
        field="vo2",
    )
    assert body["title"] == "Invalid body"
    # A conflict with how the gateway is set up is a 409, and says so in its title.
    oauth_only = readonly_api.put("/v1/connections/sweatstack", json={"access_token": "abc"})
    conflict = assert_problem(oauth_only, 409, provider="sweatstack")
    assert conflict["title"] == "Connection method unavailable"


def test_return_to_is_capped_and_keeps_its_fragment(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    from tests.gateway.routes.test_connections import _approve, _callback

    too_long = "http://127.0.0.1:3000/" + "a" * 5000
    assert_problem(
        api.post("/v1/connections/astral", json={"return_to": too_long}), 422, field="return_to"
    )
    start = api.post(
        "/v1/connections/astral", json={"return_to": "http://127.0.0.1:3000/settings#providers"}
    )
    assert start.status_code == 200, start.text
    landed = _callback(gateway, "astral", _approve(start.json()["authorization_url"]))
    assert landed.status_code == 303
    assert landed.headers["location"] == "http://127.0.0.1:3000/settings?connected=astral#providers"


def test_litestar_refusals_on_uploads_do_not_blame_json(readonly_api: httpx.Client) -> None:
    response = readonly_api.post(
        "/v1/activities/upload",
        content=b"--x\r\nnot a part",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "JSON" not in response.json().get("detail", "")


def test_a_token_that_cannot_travel_in_a_header_is_refused(readonly_api: httpx.Client) -> None:
    refused = readonly_api.put("/v1/connections/astral", json={"access_token": "tökén"})
    assert_problem(refused, 422, field="access_token")
