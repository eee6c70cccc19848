"""`gateway mock NAME --client-id ...`: a standalone mock that a gateway can connect through."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from training_gateway.adapters._mock.oauth import ASTRAL_PATHS, SWEATSTACK_PATHS, AuthPaths, s256
from training_gateway.adapters._mock.server import free_loopback_port

GATEWAY = [sys.executable, "-m", "training_gateway.gateway.cli"]
CALLBACK = "http://127.0.0.1:8000/v1/connections/x/callback"
VERIFIER = "a" * 43


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(timeout=45)


def serve(args: list[str], processes: list[subprocess.Popen[str]]) -> str:
    """Start `gateway mock ...` and wait until it answers; its base URL."""
    port = free_loopback_port()
    process = subprocess.Popen(
        [*GATEWAY, "mock", *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    processes.append(process)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/.well-known/jwks.json", timeout=1)
            return url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered")


@pytest.mark.parametrize(
    ("provider", "paths"), [("sweatstack", SWEATSTACK_PATHS), ("astral", ASTRAL_PATHS)]
)
def test_mock_registers_the_oauth_client_it_is_given(
    provider: str, paths: AuthPaths, processes: list[subprocess.Popen[str]]
) -> None:
    url = serve(
        [provider, "--client-id", "gw", "--client-secret", "s3", "--redirect-uri", CALLBACK],
        processes,
    )
    authorized = httpx.get(
        url + paths.authorize,
        params={
            "client_id": "gw",
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "state": "st",
            "code_challenge": s256(VERIFIER),
            "code_challenge_method": "S256",
        },
    )
    assert authorized.status_code == 302, authorized.text
    location = authorized.headers["location"]
    assert location.startswith(CALLBACK + "?")
    code = parse_qs(urlsplit(location).query)["code"][0]

    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
        "client_id": "gw",
        "client_secret": "s3",
    }
    tokens = httpx.post(url + paths.token, data=form)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["token_type"] == "Bearer"

    unknown = httpx.get(
        url + paths.authorize, params={"client_id": "someone", "redirect_uri": CALLBACK}
    )
    assert unknown.status_code == 400


@pytest.mark.parametrize(
    "args",
    [["--client-id", "gw"], ["--redirect-uri", CALLBACK], ["--client-secret", "s"]],
    ids=["no-redirect-uri", "redirect-uri-alone", "secret-alone"],
)
def test_mock_refuses_an_incomplete_client(args: list[str]) -> None:
    port = str(free_loopback_port())
    result = subprocess.run(
        [*GATEWAY, "mock", "astral", "--port", port, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--" in result.stderr
