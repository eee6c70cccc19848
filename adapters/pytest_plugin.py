"""A pytest plugin (entry point `pytest11`) for other projects' test suites: fixtures that
start a provider mock on a free loopback port and give its URL and a token.

    def test_my_app_reads_activities(sweatstack_mock):
        client = MyApp(base_url=sweatstack_mock.url, token=sweatstack_mock.token)

`sweatstack_mock.mock` is the mock itself: its state, `faults`, `clock`, `outside` (changes
made in the provider's own app) and, for SweatStack, `webhooks`; a mock's background work
(webhook deliveries) stops with the test.

pytest imports this module into every test session of every project that installs the
package, most of which never start a mock: so it imports nothing of ours at the top (no
Litestar, numpy, pyarrow, mocks or adapters). The fixtures import what they start, and
nothing here needs the test extras (the official `sweatstack` client, pandas).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from training_gateway.adapters._mock.base import MockProvider
    from training_gateway.adapters._mock.server import MockServer


@dataclass
class RunningMock:
    """A mock serving on 127.0.0.1: its base URL, a token for its seeded user, and its state."""

    name: str
    url: str
    token: str
    mock: MockProvider
    server: MockServer


StartMock = Callable[..., RunningMock]


@pytest.fixture
def provider_mock() -> Iterator[StartMock]:
    """A factory: `provider_mock("astral", seed=3)` starts that provider's mock for this test."""
    # Here, not at the top: starting a mock is what loads the mocks and the server.
    from training_gateway.adapters._mock.registry import load_mock_factories
    from training_gateway.adapters._mock.server import MockServer

    started: list[tuple[MockServer, MockProvider]] = []
    factories = load_mock_factories()

    def start(name: str, seed: int = 0) -> RunningMock:
        if name not in factories:
            raise LookupError(f"no installed provider {name!r}; installed: {', '.join(factories)}")
        mock = factories[name](seed)
        server = MockServer(mock.asgi_app()).start()
        started.append((server, mock))
        return RunningMock(
            name=name, url=server.url, token=mock.token_for(), mock=mock, server=server
        )

    yield start
    for server, mock in started:
        server.stop()
        close = getattr(mock, "close", None)  # background work, e.g. webhook deliveries
        if close is not None:
            close()


@pytest.fixture
def sweatstack_mock(provider_mock: StartMock) -> RunningMock:
    """The SweatStack mock, seeded with 0."""
    return provider_mock("sweatstack")


@pytest.fixture
def astral_mock(provider_mock: StartMock) -> RunningMock:
    """The Astral (nexrex) mock, seeded with 0."""
    return provider_mock("astral")
