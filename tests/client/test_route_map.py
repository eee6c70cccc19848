"""The client covers the published API: every route of openapi/openapi.json has a method on
both clients, the async client is what the sync one makes, and the client stays light."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from training_gateway.gateway.client import ROUTES, AsyncGatewayClient, GatewayClient, _unasync

OPENAPI = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def published_routes() -> set[tuple[str, str]]:
    document = json.loads(OPENAPI.read_text())
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in METHODS
    }


def test_every_published_route_has_a_client_method() -> None:
    missing = published_routes() - set(ROUTES)
    assert not missing, f"routes without a client method (add them to calls.ROUTES): {missing}"


def test_the_client_maps_no_route_the_api_does_not_publish() -> None:
    assert set(ROUTES) - published_routes() == set()


@pytest.mark.parametrize("name", sorted(set(ROUTES.values())))
def test_each_mapped_method_exists_on_both_clients_with_one_signature(name: str) -> None:
    sync, asynchronous = getattr(GatewayClient, name), getattr(AsyncGatewayClient, name)
    assert not inspect.iscoroutinefunction(sync) and not inspect.isasyncgenfunction(sync)
    assert inspect.iscoroutinefunction(asynchronous) or inspect.isasyncgenfunction(asynchronous)
    assert str(inspect.signature(sync)) == str(inspect.signature(asynchronous)).replace(
        "AsyncIterator[", "Iterator["
    )


def test_the_async_client_is_generated_from_the_sync_one() -> None:
    assert _unasync.ASYNC.read_text() == _unasync.generated(), (
        "aio.py is out of date: python -m training_gateway.gateway.client._unasync"
    )


def test_importing_the_client_loads_none_of_the_server() -> None:
    probe = (
        "import sys\n"
        "import training_gateway.gateway.client\n"
        "server = ('litestar', 'sqlalchemy', 'uvicorn', 'dbos', 'alembic', 'authlib',\n"
        "          'training_gateway.gateway.app', 'training_gateway.gateway.services')\n"
        "print(sorted(m for m in server if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
