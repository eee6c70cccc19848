"""The API contract, checked by schemathesis (its CLI, `--checks all`, every phase including
stateful sequences along the document's links) against a gateway served by this process in
front of both mocks. Configuration and its reasons: tests/schemathesis.toml."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.conftest import RunningGateway, serve_gateway

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def contract_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running, server = serve_gateway(tmp_path_factory.mktemp("contract"), http_timeout_s=5.0)
    try:
        yield running
    finally:
        server.stop()
        running.demo.stop()


def test_the_api_keeps_its_documented_contract(
    contract_gateway: RunningGateway, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "run",
            f"{contract_gateway.url}/schema/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {contract_gateway.key}",
            "--seed",
            "20261201",
            "--workers",
            "2",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "0 failures" in result.stdout or "passed" in result.stdout
