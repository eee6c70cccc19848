"""Fixtures for the SweatStack adapter tests: the spec's example, a served mock, tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from training_gateway.adapters._mock import MockServer, TokenIssuer, serve_mock
from training_gateway.adapters.sweatstack.mock import ISSUER, SweatStackMock

#: The mocks' "today", pinned so their histories do not depend on the day the tests run.
TODAY = date(2026, 5, 20)
SEED = 11


@pytest.fixture(scope="session")
def spec_list_payload() -> bytes:
    """The example response of `GET /api/v1/activities/` from SweatStack's documentation."""
    return (Path(__file__).parent / "spec_activities.json").read_bytes()


@pytest.fixture(scope="session")
def issuer() -> TokenIssuer:
    """One RSA key for every mock in the run (generating one costs more than a test)."""
    return TokenIssuer(ISSUER)


@pytest.fixture(scope="session")
def shared_mock(issuer: TokenIssuer) -> SweatStackMock:
    """A mock that tests only read from; tests that add activities use `make_mock`."""
    return SweatStackMock(SEED, today=TODAY, tokens=issuer)


@pytest.fixture(scope="session")
def shared_server(shared_mock: SweatStackMock) -> Iterator[MockServer]:
    with serve_mock(shared_mock.asgi_app()) as server:
        yield server


@pytest.fixture
def make_mock(issuer: TokenIssuer) -> Callable[..., SweatStackMock]:
    """A factory of fresh mocks (pinned to TODAY, sharing the session's signing key)."""

    def make(seed: int = SEED) -> SweatStackMock:
        return SweatStackMock(seed, today=TODAY, tokens=issuer)

    return make


@pytest.fixture
def fresh_server(make_mock: Callable[..., SweatStackMock]) -> Iterator[tuple[SweatStackMock, str]]:
    """A fresh mock served for one test, with its base URL."""
    mock = make_mock()
    with serve_mock(mock.asgi_app()) as server:
        yield mock, server.url
