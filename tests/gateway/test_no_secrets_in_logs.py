"""No secret reaches the gateway's logs: every log record the gateway's thread emits, at
DEBUG on every logger, during a connection, a refresh, a 401 replay and a disconnect, as its
message and as the JSON line the gateway writes of it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import RunningGateway, serve_gateway
from tests.gateway.routes.test_connections import _approve, _callback, _start
from training_gateway.gateway.observability import JsonFormatter
from training_gateway.gateway.storage import Store

_LOGGERS = ("", "gateway", "litestar", "httpx", "httpcore", "authlib", "uvicorn", "sqlalchemy")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.json_lines: list[str] = []
        self._json = JsonFormatter()
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        line = f"{record.name} {record.threadName}: {text}"
        with self._lock:
            self.lines.append(line)
            self.json_lines.append(f"{line}\n{self._json.format(record)}")


@pytest.fixture
def captured(tmp_path: Path) -> Iterator[tuple[RunningGateway, _Capture]]:
    running, server = serve_gateway(tmp_path)
    capture = _Capture()
    saved: dict[str, int] = {}
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.addHandler(capture)
        logger.setLevel(logging.DEBUG)
    try:
        yield running, capture
    finally:
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            logger.removeHandler(capture)
            logger.setLevel(saved[name])
        server.stop()
        running.demo.stop()


async def _tokens(store: Store, name: str) -> list[str]:
    user = await store.user_by_name(name)
    async with store.locked_connection(user, "sweatstack") as locked:
        assert locked is not None
        return [t for t in (locked.tokens.access_token, locked.tokens.refresh_token) if t]


def test_no_secret_in_the_logs(captured: tuple[RunningGateway, _Capture]) -> None:
    gateway, capture = captured
    mock: Any = gateway.demo.mocks["sweatstack"]
    key = gateway.create_user("logged")
    secrets = {key, gateway.demo.key}
    client_secret = gateway.settings.oauth_clients["sweatstack"].client_secret
    assert client_secret
    secrets.add(client_secret)
    with gateway.client(key) as client:
        mock.tokens.default_ttl_s = 30  # due for refresh right away
        approved = _approve(_start(client, "sweatstack"))
        secrets.update({approved["code"], approved["state"]})
        assert _callback(gateway, "sweatstack", approved).status_code == 303
        mock.tokens.default_ttl_s = 3600
        secrets.update(gateway.on_store(lambda store: _tokens(store, "logged")))
        assert client.get("/v1/activities", params={"limit": 2}).status_code == 200  # refresh
        secrets.update(gateway.on_store(lambda store: _tokens(store, "logged")))
        mock.auth.rotate_signing_key()
        mock.auth.retire_old_keys()
        assert client.get("/v1/activities", params={"limit": 2}).status_code == 200  # 401 replay
        secrets.update(gateway.on_store(lambda store: _tokens(store, "logged")))
        assert (
            client.put(
                "/v1/connections/astral", json={"access_token": "bogus-token-value"}
            ).status_code
            == 422
        )
        secrets.add("bogus-token-value")
        assert client.delete("/v1/connections/sweatstack").status_code == 200
    assert mock.auth.grant_counts["refresh_token"] >= 2
    # Each refresh at the token endpoint is counted, as /metrics (loopback by default) says.
    scraped = httpx.get(f"{gateway.url}/metrics")
    assert scraped.status_code == 200
    refreshed = {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        if sample.name == "gateway_token_refreshes_total"
        and sample.labels["provider"] == "sweatstack"
    }
    assert refreshed == {"refreshed": mock.auth.grant_counts["refresh_token"]}
    gateway_thread = f"mock:{gateway.settings.port}"
    lines = [line for line in capture.json_lines if f" {gateway_thread}:" in line]
    assert any("connected sweatstack" in line for line in lines), "the capture saw the gateway log"
    assert any("refreshed" in line for line in lines)
    assert any('"request_id":' in line for line in lines), "lines carry their request's id"
    leaks = [(secret[:6], line) for line in lines for secret in secrets if secret in line]
    assert leaks == []
