"""A gateway with its engine running, a receiver app registered for its events, and the
helpers the events tests share."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from standardwebhooks import Webhook

from training_gateway.adapters._mock.server import MockServer

from ..conftest import _drop_all
from ..webhook_receiver import Received, WebhookReceiver
from .conftest import RunningGateway, serve_gateway

T = TypeVar("T")
RECEIVER_PATH = "/hooks/app"

# The engine's pace in the tests: a tick every 0.2 s, a reconciliation every second, the
# delivery schedule 10 000 times faster (the 5 days before disabling: 43 s).
ENGINE_SETTINGS: dict[str, Any] = {
    "engine": "embedded",
    "schedule_tick_s": 0.2,
    "default_reconcile_interval_s": 1.0,
    "webhook_retry_scale": 0.0001,
    "webhook_timeout_s": 2.0,
    "backfill_pages_per_s": 100.0,
}


@dataclass
class EventsStack:
    gateway: RunningGateway
    receiver: WebhookReceiver
    receiver_url: str
    client: httpx.Client
    admin: httpx.Client

    def register(self, **body: Any) -> dict[str, Any]:
        """Register the test's receiver for events (all types unless `event_types`)."""
        response = self.admin.post("/v1/webhooks", json={"url": self.receiver_url, **body})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def events(
        self,
        secret: str,
        *,
        wanted: Callable[[dict[str, Any]], bool],
        path: str = RECEIVER_PATH,
    ) -> list[Any]:
        """Every verified event the receiver got at `path` that `wanted` keeps, in order."""
        return [event for _, event in self.verified(secret, path=path) if wanted(event)]

    def verified(
        self, secret: str, *, path: str = RECEIVER_PATH
    ) -> list[tuple[Received, dict[str, Any]]]:
        """(request, event) of every request the receiver got at `path`, each verified by
        the standardwebhooks package with `secret`, as an app's receiver would."""
        found = []
        for request in self.receiver.received:
            if request.path != path:
                continue
            event = Webhook(secret).verify(request.body, dict(request.headers))
            found.append((request, event))
        return found


def wait_until(check: Callable[[], T | None], *, timeout_s: float = 20.0, what: str = "") -> T:
    """`check()`'s first truthy answer, polled until `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.05)


def of_type(type_: str, resource_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def wanted(event: dict[str, Any]) -> bool:
        return event["type"] == type_ and (
            resource_id is None or event["data"]["id"] == resource_id
        )

    return wanted


@pytest.fixture(params=["sqlite", "postgres"])
def events_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventsStack]:
    """The demo stack with its engine embedded, on SQLite and on PostgreSQL, and a receiver."""
    overrides = dict(ENGINE_SETTINGS)
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        asyncio.run(_drop_all(url))
        overrides["database_url"] = url
    receiver = WebhookReceiver()
    receiver_server = MockServer(receiver).start()
    running, server = serve_gateway(tmp_path, **overrides)
    client = httpx.Client(
        base_url=running.url, headers={"Authorization": f"Bearer {running.key}"}, timeout=30
    )
    admin = httpx.Client(
        base_url=running.url,
        headers={"Authorization": f"Bearer {running.settings.admin_key}"},
        timeout=30,
    )
    try:
        yield EventsStack(
            gateway=running,
            receiver=receiver,
            receiver_url=receiver_server.url + RECEIVER_PATH,
            client=client,
            admin=admin,
        )
    finally:
        client.close()
        admin.close()
        server.stop()
        running.demo.stop()
        receiver_server.stop()


def backfilled(stack: EventsStack) -> list[dict[str, Any]]:
    """The demo user's connections, once every backfill has finished."""

    def done() -> list[dict[str, Any]] | None:
        connections: list[dict[str, Any]] = stack.client.get("/v1/connections").json()
        states = [s["backfill_status"] for c in connections for s in c["sync"]]
        return connections if states and all(s == "done" for s in states) else None

    return wait_until(done, what="the backfills")


def body_of(request: Received) -> Any:
    return json.loads(request.body)
