"""`gateway mock sweatstack --webhook-url U --webhook-secret S`: a standalone mock, as its own
process, that sends signed webhooks to a loopback receiver for changes made outside the API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from training_gateway.adapters._mock import serve_mock
from training_gateway.adapters._mock.server import free_loopback_port

from .adapters.sweatstack.official_webhooks import WebhookVerificationError, official_payload
from .webhook_receiver import WebhookReceiver

GATEWAY = [sys.executable, "-m", "training_gateway.gateway.cli"]
CALLBACK = "http://127.0.0.1:8000/v1/connections/sweatstack/callback"


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    receiver = WebhookReceiver()
    with serve_mock(receiver) as server:
        yield receiver, server.url


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(timeout=45)


def _start(args: list[str], processes: list[subprocess.Popen[str]]) -> tuple[str, list[str]]:
    """Start `gateway mock ...`; its URL and what it printed up to its token line."""
    port = free_loopback_port()
    process = subprocess.Popen(
        [*GATEWAY, "mock", *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    processes.append(process)
    assert process.stdout is not None
    printed = []
    for line in process.stdout:
        printed.append(line.rstrip("\n"))
        if line.startswith("token: "):
            break
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/_mock/clock", timeout=1)
            return url, printed
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered")


def test_the_standalone_mock_delivers_signed_webhooks_to_each_url_it_is_given(
    receiver: tuple[WebhookReceiver, str], processes: list[subprocess.Popen[str]]
) -> None:
    hooks, base = receiver
    first, second = "whsec_cli_first_secret", None  # the second is generated and printed
    url, printed = _start(
        [
            "sweatstack",
            "--client-id", "my-gateway", "--redirect-uri", CALLBACK,
            "--webhook-url", base + "/one", "--webhook-secret", first,
            "--webhook-url", base + "/two",
        ],
        processes,
    )  # fmt: skip
    announced = [line.split() for line in printed if line.startswith("webhook: ")]
    assert [(words[1], words[3]) for words in announced] == [
        (base + "/one", "my-gateway"),
        (base + "/two", "my-gateway"),
    ]
    assert announced[0][5] == first
    second = announced[1][5]
    assert second.startswith("whsec_") and second != first
    token = printed[-1].removeprefix("token: ")

    made = httpx.post(url + "/_mock/changes", json={"kind": "create_activity"}).json()
    heard = {r.path: r for r in hooks.wait_for(2)}

    for path, secret in (("/one", first), ("/two", second)):
        payload = official_payload(heard[path].headers, heard[path].body, secret)
        assert (payload.event_type, payload.resource_id, payload.user_id) == (
            "activity_created",
            made["resource_id"],
            made["user_id"],
        )
    with pytest.raises(WebhookVerificationError):
        official_payload(heard["/one"].headers, heard["/one"].body, second)
    api = httpx.get(
        url + f"/api/v1/activities/{made['resource_id']}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 200
    shown = httpx.get(url + "/_mock/webhooks").json()
    assert [json.loads(d["body"])["event_type"] for d in shown["deliveries"]] == [
        "activity_created",
        "activity_created",
    ]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["sweatstack", "--webhook-secret", "whsec_x"], "--webhook-url"),
        (
            ["sweatstack", "--webhook-url", "http://127.0.0.1:9/h", "--webhook-secret", "x"],
            "whsec_",
        ),
        (["sweatstack", "--webhook-url", "not a url"], "http(s)"),
        (["astral", "--webhook-url", "http://127.0.0.1:9/h"], "no webhooks"),
    ],
    ids=["secret-alone", "bad-secret", "bad-url", "astral"],
)
def test_the_mock_refuses_webhooks_it_cannot_send(args: list[str], complaint: str) -> None:
    result = subprocess.run(
        [*GATEWAY, "mock", *args, "--port", str(free_loopback_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert complaint in result.stderr
