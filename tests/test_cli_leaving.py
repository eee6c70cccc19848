"""`gateway users delete NAME` as an operator runs it: a real process on the data directory of
a gateway serving the demo, whose mocks are on loopback."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.conftest import RunningGateway, serve_gateway
from tests.gateway.routes.test_me import access_works, rows_of, user_and_tokens
from tests.test_cli import GATEWAY


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunningGateway]:
    running, server = serve_gateway(tmp_path)
    try:
        yield running
    finally:
        server.stop()
        running.demo.stop()


def operator_env(gateway: RunningGateway) -> dict[str, str]:
    """The settings of the served gateway, as an operator's shell would export them."""
    settings = gateway.settings
    env = {
        **os.environ,
        "GATEWAY_DATA_DIR": str(gateway.data_dir),
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_SECRET_KEY": ",".join(settings.secret_keys),
    }
    for name, url in gateway.demo.provider_urls.items():
        client = settings.oauth_clients[name]
        env[f"GATEWAY_{name.upper()}_URL"] = url
        env[f"GATEWAY_{name.upper()}_CLIENT_ID"] = client.client_id
        env[f"GATEWAY_{name.upper()}_CLIENT_SECRET"] = client.client_secret or ""
    return env


def delete_user(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GATEWAY, "users", "delete", name], env=env, capture_output=True, text=True, timeout=120
    )


def test_users_delete_prints_each_provider_and_the_counts(served: RunningGateway) -> None:
    demo_id, tokens = user_and_tokens(served, "demo")
    held = rows_of(served, demo_id)
    served.demo.mocks["astral"].faults.fail_next(503, methods=["POST"])

    result = delete_user("demo", operator_env(served))

    # Astral's revocation failed: named, with its status; exit status 1 says so.
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "astral: failed (503): astral refused to revoke the token (503)"
    assert lines[1] == "sweatstack: revoked"
    assert lines[2].startswith("removed: api_keys 1, connections 2, pending_connections ")
    assert f"indexed_records {held['record_index']}, " in lines[2]
    assert lines[3] == "deleted user demo"
    assert "revoking at astral failed" in result.stderr
    # ... and the user is gone all the same: the key is dead at the running gateway.
    with served.client() as client:
        assert client.get("/v1/connections").status_code == 401
    left = rows_of(served, demo_id)
    assert {table: count for table, count in left.items() if count} == {"events": 3}
    assert not access_works(served, "sweatstack", tokens["sweatstack"].access_token)
    assert access_works(served, "astral", tokens["astral"].access_token)


def test_users_delete_of_an_unknown_name_fails_clearly(served: RunningGateway) -> None:
    result = delete_user("nobody", operator_env(served))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "error: no user named 'nobody'"
