"""The client's tests run against the demo stack over loopback: the fixtures of
tests/gateway/conftest.py, and clients of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.conftest import RunningGateway, gateway, readonly_api, readonly_gateway
from training_gateway.gateway.client import GatewayClient

__all__ = ["gateway", "readonly_api", "readonly_gateway"]


@pytest.fixture
def client(readonly_gateway: RunningGateway) -> Iterator[GatewayClient]:
    """A client of the shared read-only stack: reads, and writes the gateway refuses."""
    with GatewayClient(readonly_gateway.url, api_key=readonly_gateway.key) as client:
        yield client


@pytest.fixture
def own_client(gateway: RunningGateway) -> Iterator[GatewayClient]:
    """A client of a stack of the test's own, for writes."""
    with GatewayClient(gateway.url, api_key=gateway.key) as client:
        yield client
