"""A newcomer's first run, as real processes: nothing they try by the README's hints breaks
another gateway, and every mistake gets one clear line (issue #11, "First-run traps")."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_cli import GATEWAY, start
from training_gateway.adapters._mock.server import free_loopback_port


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    """A newcomer's environment: a data directory of their own and no secret key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return {**env, "GATEWAY_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def running() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(timeout=45)


def run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GATEWAY, *args], capture_output=True, text=True, env=env, timeout=60, **kwargs
    )  # type: ignore[call-overload]


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gateway: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]


def demo(
    env: dict[str, str], running: list[subprocess.Popen[str]], port: int
) -> tuple[str, list[str]]:
    process, lines = start(["serve", "--demo", "--port", str(port)], env, "try: ")
    running.append(process)
    key = next(line.split(": ", 1)[1] for line in lines if line.startswith("api key: "))
    return key, lines


def test_the_url_is_printed_once_the_port_accepts_and_plain_serve_prints_it_too(
    fresh_env: dict[str, str], running: list[subprocess.Popen[str]]
) -> None:
    port = free_loopback_port()
    _key, lines = demo(fresh_env, running, port)
    banner = next(line for line in lines if line.startswith("gateway: "))
    assert f"http://127.0.0.1:{port}" in banner
    # No waiting: when the line is there, the gateway answers.
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    running.pop().terminate()

    plain = {**fresh_env, "GATEWAY_SECRET_KEY": run(["secret-key"], fresh_env).stdout.strip()}
    plain["GATEWAY_DATA_DIR"] = str(Path(fresh_env["GATEWAY_DATA_DIR"]).parent / "plain")
    port = free_loopback_port()
    process, lines = start(["serve", "--port", str(port)], plain, "gateway: ")
    running.append(process)
    assert lines[-1].startswith(f"gateway: http://127.0.0.1:{port}")
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200


def test_a_second_gateway_on_the_demos_data_directory_refuses_and_breaks_nothing(
    fresh_env: dict[str, str], running: list[subprocess.Popen[str]]
) -> None:
    port = free_loopback_port()
    key, _ = demo(fresh_env, running, port)
    second = run(["serve", "--demo", "--port", str(free_loopback_port())], fresh_env)
    assert_one_clear_line(second, "the demo (pid", "GATEWAY_DATA_DIR")
    with_key = {**fresh_env, "GATEWAY_SECRET_KEY": run(["secret-key"], fresh_env).stdout.strip()}
    other = run(["serve", "--port", str(free_loopback_port())], with_key)
    assert_one_clear_line(other, "the demo (pid")
    # The first demo still serves with its own key and connections.
    page = httpx.get(
        f"http://127.0.0.1:{port}/v1/activities",
        params={"limit": 5},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert page.status_code == 200 and page.json()["errors"] == []
    statuses = httpx.get(
        f"http://127.0.0.1:{port}/v1/connections", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert {c["provider"]: c["status"] for c in statuses} == {
        "astral": "active",
        "sweatstack": "active",
    }


def test_gateways_that_are_not_demos_share_a_data_directory_and_a_demo_then_refuses(
    fresh_env: dict[str, str], running: list[subprocess.Popen[str]]
) -> None:
    env = {**fresh_env, "GATEWAY_SECRET_KEY": run(["secret-key"], fresh_env).stdout.strip()}
    for _ in range(2):
        port = free_loopback_port()
        process, _lines = start(["serve", "--port", str(port)], env, "gateway: ")
        running.append(process)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    refused = run(["serve", "--demo", "--port", str(free_loopback_port())], fresh_env)
    assert_one_clear_line(refused, "another gateway is serving")


def test_the_cli_works_next_to_a_running_demo_with_the_demos_key(
    fresh_env: dict[str, str], running: list[subprocess.Popen[str]]
) -> None:
    port = free_loopback_port()
    demo(fresh_env, running, port)
    created = run(["users", "create", "alice"], fresh_env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert (
        httpx.get(
            f"http://127.0.0.1:{port}/v1/providers", headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 200
    )
    demo_key = run(["users", "key", "demo"], fresh_env).stdout.strip()
    assert (
        httpx.get(
            f"http://127.0.0.1:{port}/v1/activities",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {demo_key}"},
        ).status_code
        == 200
    )


def test_mistakes_at_start_are_one_clear_line_and_exit_2(
    fresh_env: dict[str, str], tmp_path: Path
) -> None:
    assert_one_clear_line(run(["serve"], fresh_env), "GATEWAY_SECRET_KEY is not set")
    assert_one_clear_line(
        run(["serve", "--demo"], {**fresh_env, "GATEWAY_PORT": "abc"}), "GATEWAY_PORT", "'abc'"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        clash = run(["serve", "--demo", "--port", str(port)], fresh_env)
    assert_one_clear_line(clash, f"port {port}", "--port")
    bad_key = {**fresh_env, "GATEWAY_SECRET_KEY": "not-a-fernet-key"}
    assert_one_clear_line(run(["serve"], bad_key), "GATEWAY_SECRET_KEY")


def test_the_root_leads_to_the_docs_which_work_offline(
    fresh_env: dict[str, str], running: list[subprocess.Popen[str]]
) -> None:
    port = free_loopback_port()
    demo(fresh_env, running, port)
    base = f"http://127.0.0.1:{port}"
    index = httpx.get(base + "/").json()
    assert index["docs"] == "/schema" and index["openapi"] == "/schema/openapi.json"
    page = httpx.get(base + index["docs"])
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        served = httpx.get(f"{base}/schema/assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000, asset
        assert f"/schema/assets/{asset}" in page.text
    assert httpx.get(base + index["openapi"]).json()["info"]["title"]


def test_connections_set_checks_the_token_at_the_provider(
    fresh_env: dict[str, str], running: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    mock_port = free_loopback_port()
    mock, lines = start(["mock", "astral", "--port", str(mock_port)], fresh_env, "token: ")
    running.append(mock)
    token = lines[-1].split(" ", 1)[1]
    env = {
        **fresh_env,
        "GATEWAY_SECRET_KEY": run(["secret-key"], fresh_env).stdout.strip(),
        "GATEWAY_ASTRAL_URL": f"http://127.0.0.1:{mock_port}",
    }
    assert run(["users", "create", "bob"], env).returncode == 0
    unknown = run(["connections", "set", "bob", "strava"], env, input="abc\n")
    assert unknown.returncode == 1 and "strava" in unknown.stderr
    refused = run(["connections", "set", "bob", "astral"], env, input="not-a-token\n")
    assert refused.returncode == 1 and "does not accept this token" in refused.stderr
    accepted = run(["connections", "set", "bob", "astral"], env, input=token + "\n")
    assert accepted.returncode == 0, accepted.stderr
    assert "connected bob to astral" in accepted.stdout
