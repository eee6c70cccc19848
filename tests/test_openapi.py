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
