"""`gateway doctor`: one line per check, and a non-zero exit naming the fault."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.test_cli import env, processes, start
from tests.test_cli_long_work import run
from training_gateway.adapters._mock.server import free_loopback_port

__all__ = ["env", "processes"]  # the fixtures these tests share with tests/test_cli.py


def _migrated(env: dict[str, str]) -> None:
    assert run(["users", "create", "doc"], env).returncode == 0  # opens and migrates the DB


def test_doctor_passes_on_a_healthy_setup(
    env: dict[str, str], processes: list[subprocess.Popen[str]]
) -> None:
    port = free_loopback_port()
    processes.append(start(["mock", "astral", "--port", str(port)], env, "token: ")[0])
    env = {
        **env,
        "GATEWAY_ASTRAL_URL": f"http://127.0.0.1:{port}",
        # Another program's variable of the same shape (CI sets this one) names no provider:
        # a warning, not a provider that fails to answer.
        "GATEWAY_TEST_POSTGRES_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    }
    _migrated(env)
    result = run(["doctor"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for check in ("settings", "secret key", "database", "provider astral", "clock vs astral"):
        assert any(line.startswith(f"ok   {check}: ") for line in lines), (check, lines)
    assert not any("test_postgres" in line and "provider" in line for line in lines), lines
    assert any(
        line.startswith("warn GATEWAY_TEST_POSTGRES_URL: names no installed provider")
        for line in lines
    ), lines


def test_doctor_names_a_provider_that_does_not_answer(env: dict[str, str]) -> None:
    port = free_loopback_port()  # nothing listens there
    env = {**env, "GATEWAY_ASTRAL_URL": f"http://127.0.0.1:{port}"}
    _migrated(env)
    result = run(["doctor"], env)
    assert result.returncode == 1
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL provider astral: ") and f"127.0.0.1:{port}" in line


def test_doctor_names_an_unreachable_database(env: dict[str, str]) -> None:
    port = free_loopback_port()
    env = {**env, "GATEWAY_DATABASE_URL": f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none"}
    result = run(["doctor"], env)
    assert result.returncode == 1
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL database: ") and "unreachable" in line
    assert "nobody" in line


def test_doctor_names_an_unmigrated_database(env: dict[str, str]) -> None:
    result = run(["doctor"], env)  # a fresh data directory: nothing has opened the DB yet
    assert result.returncode == 1
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL database: ") and "not " in line


def test_doctor_names_a_missing_secret_key(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k != "GATEWAY_SECRET_KEY"}
    result = run(["doctor"], env)
    assert result.returncode == 1
    assert any(
        line.startswith("FAIL secret key: GATEWAY_SECRET_KEY is not set")
        for line in result.stdout.splitlines()
    ), result.stdout


@pytest.fixture
def skewed_provider() -> Iterator[str]:
    """A provider whose clock is five minutes ahead (its Date header says so)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def date_time_string(self, timestamp: float | None = None) -> str:
            return formatdate(time.time() + 300, usegmt=True)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_doctor_names_clock_skew_with_a_provider(env: dict[str, str], skewed_provider: str) -> None:
    env = {**env, "GATEWAY_ASTRAL_URL": skewed_provider}
    _migrated(env)
    result = run(["doctor"], env)
    assert result.returncode == 1
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    # The Date header has whole seconds, so the skew read is 300 s give or take one.
    found = re.fullmatch(r"FAIL clock vs astral: local clock is (-\d+) s off astral's .*", line)
    assert found is not None, line
    assert -302 <= int(found[1]) <= -298, line
