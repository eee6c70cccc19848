"""A gateway served on loopback in front of both provider mocks, also on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from adapters._mock.server import MockServer
from adapters.base import load_adapters
from gateway.app import create_app
from gateway.demo import Demo, start_demo
from gateway.settings import load_settings


@dataclass
class RunningGateway:
    url: str
    key: str
    demo: Demo
    data_dir: Path

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=30
        )


def serve_gateway(
    tmp_path: Path, *, http_timeout_s: float = 5.0, seed: int = 0
) -> tuple[RunningGateway, MockServer]:
    classes = load_adapters()
    demo = start_demo(classes, seed=seed)
    settings = load_settings(
        {},
        data_dir=tmp_path,
        secret_keys=(Fernet.generate_key().decode(),),
        provider_urls=demo.provider_urls,
        http_timeout_s=http_timeout_s,
        backfill_window_s=1.0,
    )
    app = create_app(settings, adapter_classes=classes, bootstrap=demo.bootstrap)
    server = MockServer(app).start(timeout_s=30)
    return RunningGateway(url=server.url, key=demo.key, demo=demo, data_dir=tmp_path), server


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
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
