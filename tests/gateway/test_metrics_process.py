"""`/metrics` of a real `gateway serve --demo` process, scraped over loopback after a mixed
load: its counters equal what the test sent (issue #15, "Observability: done when")."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.routes.test_connections import _approve, _start
from tests.test_cli import GATEWAY
from tests.webhook_receiver import Answer, WebhookReceiver
from training_gateway.adapters._mock.server import MockServer, free_loopback_port

METRICS_TOKEN = "metrics-token-for-the-test-0123456789"
Sample = tuple[str, tuple[tuple[str, str], ...]]
# The providers the demo connects its user to at start.
DEMO_PROVIDERS = ("astral", "sweatstack")


@dataclass
class Demo:
    url: str
    key: str
    admin_key: str
    log: Path

    def scrape(self) -> dict[Sample, float]:
        """Every sample of /metrics: (name, sorted labels) -> value."""
        answer = httpx.get(
            f"{self.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
        }

    def settled(self) -> dict[Sample, float]:
        """A scrape once the demo's own start has been delivered: it connects its user to
        each provider, and each `connection.connected` event reaches the demo's receiver
        (`/demo/receiver`) in the background, maybe after `try:` was printed."""
        receiver = http("POST", "/demo/receiver", 204)
        delivered = ("gateway_webhook_delivery_attempts_total", (("outcome", "delivered"),))
        deadline = time.monotonic() + 30
        while True:
            samples = self.scrape()
            if samples.get(receiver, 0) == samples.get(delivered, 0) == len(DEMO_PROVIDERS):
                return samples
            assert time.monotonic() < deadline, {
                k: v for k, v in samples.items() if k in (receiver, delivered)
            }
            time.sleep(0.1)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_DATA_DIR=str(tmp_path / "data"),
        GATEWAY_METRICS_TOKEN=METRICS_TOKEN,
        GATEWAY_WEBHOOK_RETRY_SCALE="0.001",
        GATEWAY_SCHEDULE_TICK_S="0.2",
    )
    port = free_loopback_port()
    log = tmp_path / "gateway.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*GATEWAY, "serve", "--demo", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "try: " not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        lines = log.read_text().splitlines()
        key = next(line.split(": ", 1)[1] for line in lines if line.startswith("api key: "))
        admin = next(line.split(": ", 1)[1] for line in lines if line.startswith("admin key: "))
        yield Demo(f"http://127.0.0.1:{port}", key, admin.split()[0], log)
    finally:
        process.terminate()
        process.wait(timeout=20)


def delta(after: dict[Sample, float], before: dict[Sample, float], name: str) -> Counter[Sample]:
    """How much each sample of `name` grew between two scrapes (those that did)."""
    grown: Counter[Sample] = Counter()
    for sample, value in after.items():
        if sample[0] == name and value != before.get(sample, 0.0):
            grown[sample] = int(value - before.get(sample, 0.0))
    return grown


def http(method: str, route: str, status: int) -> Sample:
    labels = {"method": method, "route": route, "status": str(status)}
    return ("gateway_http_requests_total", tuple(sorted(labels.items())))


def test_metrics_after_a_mixed_load_match_it_exactly(demo: Demo) -> None:
    receiver = WebhookReceiver()
    receiver.answer_next(Answer(status=500))  # the first attempt fails, the retry delivers
    receiver_server = MockServer(receiver).start()
    api = httpx.Client(
        base_url=demo.url, headers={"Authorization": f"Bearer {demo.key}"}, timeout=30
    )
    admin = httpx.Client(
        base_url=demo.url, headers={"Authorization": f"Bearer {demo.admin_key}"}, timeout=30
    )
    try:
        endpoint = admin.post(
            "/v1/webhooks",
            json={"url": f"{receiver_server.url}/hooks", "event_types": ["webhook.test"]},
        )
        assert endpoint.status_code == 201, endpoint.text
        before = demo.settled()

        sent: Counter[Sample] = Counter()
        for _ in range(5):
            assert api.get("/v1/activities", params={"limit": 2}).status_code == 200
        sent[http("GET", "/v1/activities", 200)] += 5
        for _ in range(3):  # a provider call each, which astral answers 404
            assert api.get("/v1/activities/astral:no-such-activity").status_code == 404
        sent[http("GET", "/v1/activities/{activity_id}", 404)] += 3
        for n in range(4):
            assert api.get("/v1/activities", params={"sports": "running"}).status_code == 400
            assert api.get(f"/no/such/path/{n}").status_code == 404  # one label for all four
        sent[http("GET", "/v1/activities", 400)] += 4
        sent[http("GET", "<unmatched>", 404)] += 4
        assert httpx.get(f"{demo.url}/metrics").status_code == 401  # no token
        sent[http("GET", "/metrics", 401)] += 1
        sent[http("GET", "/metrics", 200)] += 1  # the scrape `before`
        tested = admin.post(f"/v1/webhooks/{endpoint.json()['id']}/test")
        assert tested.status_code == 202, tested.text
        sent[http("POST", "/v1/webhooks/{endpoint_id}/test", 202)] += 1
        receiver.wait_for(2)

        deadline = time.monotonic() + 30
        while True:  # the delivery job records its outcome after the receiver answered
            after = demo.scrape()
            sent_so_far = delta(after, before, "gateway_webhook_delivery_attempts_total")
            if sum(sent_so_far.values()) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        api.close()
        admin.close()
        receiver_server.stop()

    grown = delta(after, before, "gateway_http_requests_total")
    polls = grown[http("GET", "/metrics", 200)] - sent[http("GET", "/metrics", 200)]
    assert polls >= 0
    sent[http("GET", "/metrics", 200)] += polls  # the scrapes while waiting
    assert grown == sent

    deliveries = delta(after, before, "gateway_webhook_delivery_attempts_total")
    assert deliveries == {
        ("gateway_webhook_delivery_attempts_total", (("outcome", "retrying"),)): 1,
        ("gateway_webhook_delivery_attempts_total", (("outcome", "delivered"),)): 1,
    }
    provider = delta(after, before, "gateway_provider_requests_total")
    astral_404 = (
        "gateway_provider_requests_total",
        (("method", "GET"), ("provider", "astral"), ("status", "404")),
    )
    assert provider[astral_404] == 3
    # Every request is timed under its route, as many times as it is counted.
    durations = delta(after, before, "gateway_http_request_duration_seconds_count")
    assert sum(durations.values()) == sum(grown.values())
    assert ("gateway_job_queue_depth", (("queue", "deliveries"), ("state", "ENQUEUED"))) in after


def test_every_log_line_is_a_json_object_and_request_ids_are_echoed(demo: Demo) -> None:
    api = httpx.Client(base_url=demo.url, headers={"Authorization": f"Bearer {demo.key}"})
    with api:
        echoed = api.get("/v1/activities", params={"limit": 1}, headers={"X-Request-Id": "abc-1"})
        made = api.get("/nope")
        unsafe = api.get("/health", headers={"X-Request-Id": "bad id\twith spaces"})
        # Reconnecting the demo user to SweatStack logs, under the callback's request id.
        approved = _approve(_start(api, "sweatstack"))
        callback = httpx.get(
            f"{demo.url}/v1/connections/sweatstack/callback",
            params={k: v for k, v in approved.items() if not k.startswith("_")},
            headers={"X-Request-Id": "callback-9"},
        )
        assert callback.status_code == 303, callback.text
    assert echoed.headers["x-request-id"] == "abc-1"
    assert len(made.headers["x-request-id"]) == 32
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"
    printed = (
        "gateway:",
        "api docs:",
        "mock ",
        "api key:",
        "admin key:",
        "events:",
        "try:",
        "dashboard:",
    )
    logged = [
        line for line in demo.log.read_text().splitlines() if line and not line.startswith(printed)
    ]
    assert logged, "the demo logs as it connects its user"
    records = [json.loads(line) for line in logged]  # fails on any line that is not JSON
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    of_callback = [r["message"] for r in records if r.get("request_id") == "callback-9"]
    assert "user demo connected sweatstack" in of_callback, of_callback
