"""The committed OpenAPI document is the one the app serves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from training_gateway.gateway.app import openapi_document

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    committed = json.loads(COMMITTED.read_text())
    served = json.loads(json.dumps(openapi_document()))
    assert committed == served, (
        "openapi/openapi.json is stale: regenerate it with `gateway openapi > openapi/openapi.json`"
    )


def test_openapi_documents_every_route_and_problem_responses() -> None:
    paths = openapi_document()["paths"]
    assert {"/health", "/v1/providers", "/v1/activities", "/v1/activities/{activity_id}"} <= set(
        paths
    )
    assert {"get", "put", "patch", "delete"} <= set(paths["/v1/activities/{activity_id}"])
    assert (
        "application/merge-patch+json"
        in paths["/v1/activities/{activity_id}"]["patch"]["requestBody"]["content"]
    )


def test_cli_prints_the_same_document() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "training_gateway.gateway.cli", "openapi"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == json.loads(COMMITTED.read_text())


def test_every_problem_status_is_documented_with_the_problem_schema() -> None:
    document = openapi_document()
    problem = document["components"]["schemas"]["Problem"]
    assert {"title", "status"} <= set(problem["required"])
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    content = response["content"]
                    assert set(content) == {"application/problem+json"}, (method, path, status)
                    assert content["application/problem+json"]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }
    activity = document["paths"]["/v1/activities/{activity_id}"]
    assert {"401", "404", "405", "409", "502", "504"} <= set(activity["get"]["responses"])
    assert {"415", "422"} <= set(activity["patch"]["responses"])
    assert "412" in document["paths"]["/v1/tests/{test_id}"]["patch"]["responses"]
    assert "Retry-After" in activity["get"]["responses"]["429"]["headers"]


def test_open_routes_say_so_and_naive_local_times_are_not_date_times() -> None:
    document = openapi_document()
    for path in ("/", "/health", "/v1/connections/{provider}/callback"):
        assert document["paths"][path]["get"]["security"] == [], path
    assert "security" not in document["paths"]["/v1/activities"]["get"]
    local = document["components"]["schemas"]["Activity"]["properties"]["start_local"]
    arms = local.get("oneOf", [local])
    assert all(arm.get("format") != "date-time" for arm in arms)
    assert any("pattern" in arm for arm in arms)
    instant = document["components"]["schemas"]["Activity"]["properties"]["start"]
    assert instant["format"] == "date-time"


def test_request_objects_are_closed_and_enumerations_listed() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    for name in ("ActivityDraft", "ActivityCreate", "LabTestDraft", "LabTestCreate"):
        assert schemas[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in schemas["Activity"]  # answers may grow fields
    mean_max = document["paths"]["/v1/activities/{activity_id}/mean-max"]["get"]
    metric = next(p for p in mean_max["parameters"] if p["name"] == "metric")
    assert set(metric["schema"]["enum"]) == {"power", "speed", "heart_rate"}
    links = document["paths"]["/v1/activities"]["post"]["responses"]["201"]["links"]
    assert links["GetActivity"]["parameters"] == {"activity_id": "$response.body#/id"}
