"""The mocks' fault control route: another process (a benchmark, an app's test suite) makes a
running mock slow or failing over loopback."""

from __future__ import annotations

import httpx
import pytest

from training_gateway.adapters._mock.faults import CONTROL_PATH, FaultInjector
from training_gateway.adapters.pytest_plugin import StartMock


@pytest.mark.parametrize(
    ("name", "path"), [("sweatstack", "/api/v1/activities/"), ("astral", "/api/v1/activities")]
)
def test_faults_are_set_over_loopback_and_apply_to_the_methods_named(
    provider_mock: StartMock, name: str, path: str
) -> None:
    running = provider_mock(name)
    headers = {"Authorization": f"Bearer {running.token}"}
    control = running.url + CONTROL_PATH
    set_ = httpx.post(control, json={"fail_next": {"status": 503, "times": 2, "methods": ["GET"]}})
    assert set_.status_code == 200 and set_.json()["fail_next"]["times"] == 2
    assert httpx.post(running.url + path, headers=headers, json={}).status_code != 503
    assert [httpx.get(running.url + path, headers=headers).status_code for _ in range(3)] == [
        503,
        503,
        200,
    ]
    httpx.post(control, json={"latency_ms": 30, "garble_next": 1})
    assert httpx.get(control).json()["latency_ms"] == 30
    garbled = httpx.get(running.url + path, headers=headers)
    assert garbled.status_code == 200 and garbled.content.startswith(b'{"unexpected"')
    httpx.post(control, json={"reset": True})
    assert httpx.get(control).json()["latency_ms"] == 0
    assert httpx.post(control, content=b'{"fail_nxt": 1}').status_code == 422


async def test_the_control_route_is_loopback_only() -> None:
    async def app(scope: dict, receive: object, send: object) -> None:  # never reached
        raise AssertionError("the API was called")

    injector = FaultInjector(app)
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b'{"latency_ms": 1000}'}

    scope = {"type": "http", "path": CONTROL_PATH, "method": "POST", "client": ("10.1.2.3", 5000)}
    await injector(scope, receive, send)
    assert sent[0]["status"] == 403 and injector.latency_s == 0


@pytest.mark.parametrize(
    ("name", "path"), [("sweatstack", "/api/v1/activities/"), ("astral", "/api/v1/activities")]
)
def test_the_other_control_routes_are_never_faulted(
    provider_mock: StartMock, name: str, path: str
) -> None:
    running = provider_mock(name)
    running.mock.faults.fail_next(503, times=1)
    running.mock.faults.latency_s = 5.0

    assert httpx.get(running.url + "/_mock/clock", timeout=2).status_code == 200
    running.mock.faults.latency_s = 0.0
    headers = {"Authorization": f"Bearer {running.token}"}
    assert httpx.get(running.url + path, headers=headers).status_code == 503


async def test_every_control_route_is_loopback_only() -> None:
    async def app(scope: dict, receive: object, send: object) -> None:  # never reached
        raise AssertionError("the API was called")

    async def control(scope: dict, receive: object, send: object) -> None:
        raise AssertionError("the control app was called")

    injector = FaultInjector(app, control=control)
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}"}

    scope = {"type": "http", "path": "/_mock/clock", "method": "POST", "client": ("10.0.0.9", 1)}
    await injector(scope, receive, send)
    assert sent[0]["status"] == 403
