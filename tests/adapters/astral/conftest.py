"""Fixtures for the Astral adapter tests: served mocks pinned to one day, tokens, clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from training_gateway.adapters._mock import TokenIssuer, serve_mock
from training_gateway.adapters.astral.mock import ISSUER, AstralMock

#: The mocks' "today", pinned so their histories do not depend on the day the tests run.
TODAY = date(2025, 3, 14)
SEED = 5


@dataclass
class Served:
    """A mock serving on 127.0.0.1 and its base URL."""

    mock: AstralMock
    url: str

    def client(self, user: str | None = None, *, token: str | None = None) -> httpx.Client:
        """A client signed in as `user` (the athlete by default), or with `token` as given."""
        bearer = token if token is not None else self.mock.token_for(user)
        # Plain HTTP on loopback: skipping the CA bundle makes a client cheap to create.
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {bearer}"},
            verify=False,
            trust_env=False,
        )


class AppSlot:
    """An ASGI app forwarding to whichever mock a test put in it, so that one loopback server
    serves a fresh mock to each test (starting and stopping uvicorn costs more than a test)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the server's, not any one mock's
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def issuer() -> TokenIssuer:
    """One RSA key for every mock in the run (generating one costs more than a test)."""
    return TokenIssuer(ISSUER)


@pytest.fixture(scope="session")
def make_mock(issuer: TokenIssuer) -> Callable[..., AstralMock]:
    """A factory of fresh mocks pinned to TODAY and sharing the run's signing key."""

    def make(seed: int = SEED) -> AstralMock:
        return AstralMock(seed, today=TODAY, tokens=issuer)

    return make


@pytest.fixture(scope="session")
def shared(make_mock: Callable[..., AstralMock]) -> Iterator[Served]:
    """A served mock that tests only read from; tests that write use `fresh`."""
    mock = make_mock()
    with serve_mock(mock.asgi_app()) as server:
        yield Served(mock, server.url)


@pytest.fixture(scope="session")
def slot_url() -> Iterator[tuple[AppSlot, str]]:
    slot = AppSlot()
    with serve_mock(slot) as server:
        yield slot, server.url


@pytest.fixture
def serve(slot_url: tuple[AppSlot, str]) -> Callable[[AstralMock], Served]:
    """Serve a mock on the session's loopback server for the rest of the test."""
    slot, url = slot_url

    def put(mock: AstralMock) -> Served:
        slot.app = mock.asgi_app()
        return Served(mock, url)

    return put


@pytest.fixture
def fresh(make_mock: Callable[..., AstralMock], serve: Callable[[AstralMock], Served]) -> Served:
    """A fresh mock served for one test."""
    return serve(make_mock())
