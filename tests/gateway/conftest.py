"""A gateway served on loopback in front of both provider mocks, also on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from cryptography.fernet import Fernet

from training_gateway.adapters._mock.server import MockServer, free_loopback_port
from training_gateway.adapters.base import load_adapters
from training_gateway.gateway.app import create_app
from training_gateway.gateway.demo import Demo, start_demo
from training_gateway.gateway.serve import ProblemH11Protocol
from training_gateway.gateway.settings import Settings, load_settings
from training_gateway.gateway.storage import Store, TokenVault

T = TypeVar("T")

# The last day of every test stack's seeded history, fixed once per test process: two stacks
# started on either side of midnight would otherwise hold histories a day apart, and a test
# comparing their answers (tests/gateway/routes/test_curve_orientation.py) would see different
# activities.
TODAY = date.today()


@dataclass
class RunningGateway:
    url: str
    key: str
    demo: Demo
    data_dir: Path
    settings: Settings

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=30
        )

    def on_store(self, action: Callable[[Store], Awaitable[T]]) -> T:
        """Run `action` on the gateway's own store (as the CLI would, from outside)."""

        async def run() -> T:
            store = Store.open(self.settings.database_url, TokenVault(self.settings.secret_keys))
            try:
                return await action(store)
            finally:
                await store.close()

        return asyncio.run(run())

    def create_user(self, name: str) -> str:
        """A new gateway user with no connections; its API key."""

        async def create(store: Store) -> str:
            return await store.issue_api_key(await store.create_user(name))

        return self.on_store(create)


def serve_gateway(
    tmp_path: Path, *, http_timeout_s: float = 5.0, seed: int = 0, **overrides: object
) -> tuple[RunningGateway, MockServer]:
    """A gateway on loopback in front of a fresh demo (both mocks); `overrides` are settings.

    Its engine is off unless `engine="embedded"` is among them: DBOS runs one engine per
    process, and the tests of events start theirs one at a time."""
    overrides.setdefault("engine", "off")
    classes = load_adapters()
    demo = start_demo(classes, seed=seed, today=TODAY)
    port = free_loopback_port()
    settings = load_settings(
        {},
        data_dir=tmp_path,
        port=port,
        secret_keys=(Fernet.generate_key().decode(),),
        http_timeout_s=http_timeout_s,
        backfill_window_s=1.0,
        **overrides,
    )
    demo.configure(settings)
    app = create_app(settings, adapter_classes=classes, bootstrap=demo.bootstrap)
    server = MockServer(app, port=port, http=ProblemH11Protocol).start(timeout_s=30)
    running = RunningGateway(
        url=server.url, key=demo.key, demo=demo, data_dir=tmp_path, settings=settings
    )
    return running, server


def _observable_state(client: httpx.Client) -> dict[str, object]:
    """Everything the demo user can read that a test could change: every activity and lab
    test as listed, and the heart-rate model profiles."""
    state: dict[str, object] = {}
    for path in ("/v1/activities", "/v1/tests"):
        items, cursor = [], None
        while True:
            page = client.get(
                path, params={"limit": 1000, **({"cursor": cursor} if cursor else {})}
            )
            page.raise_for_status()
            items.extend(page.json()["items"])
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        # As a set: a list read live (before the index's first sync) and one read from the
        # index order records with the same start each their own way.
        state[path] = sorted(items, key=lambda item: item["id"])
    for sport in ("running", "cycling", "team_sports"):
        profile = client.get("/v1/hr-model/profile", params={"sport": sport})
        state[sport] = (profile.status_code, profile.json())
    return state


@pytest.fixture(scope="session")
def readonly_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """One stack shared by every test that only reads, or whose writes are all refused:
    starting a stack per test is most of the suite's time. At the end it checks that those
    tests indeed changed nothing the demo user can see."""
    running, server = serve_gateway(tmp_path_factory.mktemp("readonly"), http_timeout_s=2.0)
    try:
        with running.client() as client:
            before = _observable_state(client)
        yield running
        with running.client() as client:
            after = _observable_state(client)
        assert after == before, "a test using the shared read-only stack changed its data"
    finally:
        server.stop()
        running.demo.stop()


@pytest.fixture
def readonly_api(readonly_gateway: RunningGateway) -> Iterator[httpx.Client]:
    """A client of the shared read-only stack (see `readonly_gateway`)."""
    with readonly_gateway.client() as client:
        yield client


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    """A stack of its own, for a test that changes data, injects faults or needs fresh state."""
    running, server = serve_gateway(tmp_path, http_timeout_s=2.0)
    try:
        yield running
    finally:
        server.stop()
        running.demo.stop()


@pytest.fixture
def api(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with gateway.client() as client:
        yield client


from .events_stack import events_stack  # noqa: E402, F401  (a fixture the events tests share)
