"""The `gateway` command as a user runs it: real processes on loopback."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from training_gateway.adapters._mock.server import free_loopback_port

GATEWAY = [sys.executable, "-m", "training_gateway.gateway.cli"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    key = subprocess.run(
        [*GATEWAY, "secret-key"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {**os.environ, "GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_SECRET_KEY": key}


def start(
    args: list[str], env: dict[str, str], until: str, timeout_s: float = 60
) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [*GATEWAY, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(until):
            return process, lines
    process.kill()
    raise AssertionError(f"never printed {until!r}: {lines}")


def wait_http(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    # A gateway stops in 2-4 s on a quiet machine (the engine, then the CPU worker
    # processes); CI's parallel run can make that several times longer.
    for process in started:
        process.terminate()
        process.wait(timeout=45)


@pytest.mark.parametrize(
    ("provider", "path"), [("sweatstack", "/api/v1/activities/"), ("astral", "/api/v1/activities")]
)
def test_mock_command_prints_a_working_token(
    provider: str, path: str, env: dict[str, str], processes: list[subprocess.Popen[str]]
) -> None:
    port = free_loopback_port()
    process, lines = start(["mock", provider, "--port", str(port), "--seed", "3"], env, "token: ")
    processes.append(process)
    token = lines[-1].split(" ", 1)[1]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] and claims["exp"] > time.time()
    url = f"http://127.0.0.1:{port}{path}"
    wait_http(url)
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": "Bearer not.a.jwt"}).status_code == 401


def test_users_create_prints_a_key_and_revoke_ends_it(
    env: dict[str, str], processes: list[subprocess.Popen[str]]
) -> None:
    created = subprocess.run(
        [*GATEWAY, "users", "create", "alice"], capture_output=True, text=True, env=env, check=True
    )
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("gw_")
    duplicate = subprocess.run(
        [*GATEWAY, "users", "create", "alice"], capture_output=True, text=True, env=env
    )
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    port = free_loopback_port()
    process = subprocess.Popen([*GATEWAY, "serve", "--port", str(port)], env=env, text=True)
    processes.append(process)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/health")
    assert (
        httpx.get(base + "/v1/providers", headers={"Authorization": f"Bearer {key}"}).status_code
        == 200
    )
    subprocess.run(
        [*GATEWAY, "users", "revoke", "alice"], capture_output=True, text=True, env=env, check=True
    )
    assert (
        httpx.get(base + "/v1/providers", headers={"Authorization": f"Bearer {key}"}).status_code
        == 401
    )


def test_serve_refuses_to_start_without_a_secret_key(env: dict[str, str]) -> None:
    without = {k: v for k, v in env.items() if k != "GATEWAY_SECRET_KEY"}
    port = free_loopback_port()
    result = subprocess.run(
        [*GATEWAY, "serve", "--port", str(port)],
        capture_output=True,
        text=True,
        env=without,
        timeout=60,
    )
    assert result.returncode != 0 and "GATEWAY_SECRET_KEY" in result.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)


def test_demo_serves_both_providers_with_long_lived_connections(
    env: dict[str, str], processes: list[subprocess.Popen[str]]
) -> None:
    port = free_loopback_port()
    demo_env = {k: v for k, v in env.items() if k != "GATEWAY_SECRET_KEY"} | {
        "GATEWAY_DEMO_KEY": "gw_demo_test_key"
    }
    process, lines = start(["serve", "--demo", "--port", str(port)], demo_env, "try: ")
    processes.append(process)
    assert "api key: gw_demo_test_key" in lines
    assert any(line.startswith(f"dashboard: http://127.0.0.1:{port}/ui/") for line in lines)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/health")
    headers = {"Authorization": "Bearer gw_demo_test_key"}
    page = httpx.get(base + "/v1/activities", params={"limit": 200}, headers=headers).json()
    assert page["errors"] == []
    assert {item["provider"] for item in page["items"]} == {"sweatstack", "astral"}
    assert (Path(env["GATEWAY_DATA_DIR"]) / "secret.key").exists()
    assert (Path(env["GATEWAY_DATA_DIR"]) / "gateway.sqlite3").exists()
    for line in lines:
        if line.startswith("mock "):
            _name, url = line[len("mock ") :].split(": ", 1)
            assert url.startswith("http://127.0.0.1:"), line
    process.terminate()
    process.wait(timeout=45)
