"""The metrics a gateway keeps, part by part: the engine's queues read from its database,
/metrics access as configured, request ids into provider calls, JSON log lines."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import _drop_all
from training_gateway.gateway.jobs import DELIVERY_QUEUE, QUEUES, SYNC_QUEUE, Jobs
from training_gateway.gateway.observability import (
    JsonFormatter,
    Metrics,
    ObservingTransport,
    install_request_id_records,
    request_id_or_new,
    using_request_id,
)
from training_gateway.gateway.observability.metrics import JobQueueCollector
from training_gateway.gateway.settings import SettingsError, load_settings


def _depths(collector: JobQueueCollector) -> dict[tuple[str, ...], float]:
    return {
        (sample.name, *sample.labels.values()): sample.value
        for family in collector.collect()
        for sample in family.samples
    }


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gateway.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_drop_all(url))
    return url


def test_queue_depth_and_age_are_read_from_the_engines_database(
    tmp_path: Path, database_url: str
) -> None:
    settings = load_settings(
        {},
        data_dir=tmp_path,
        database_url=database_url,
        secret_keys=(Fernet.generate_key().decode(),),
    )
    jobs = Jobs(settings)
    collector = JobQueueCollector(jobs.url, QUEUES)
    assert _depths(collector)[("gateway_job_queue_depth", DELIVERY_QUEUE, "ENQUEUED")] == 0

    async def enqueue() -> None:  # no engine runs here: the jobs stay where they are put
        await jobs.enqueue("deliver", DELIVERY_QUEUE, "job-1", [("d1", 1)])
        await jobs.enqueue("deliver", DELIVERY_QUEUE, "job-2", [("d2", 1)])
        await jobs.enqueue("deliver", DELIVERY_QUEUE, "job-2", [("d2", 1)])  # the same job
        await jobs.enqueue("reconcile", SYNC_QUEUE, "job-3", "u", "p", delay_s=3600)

    asyncio.run(enqueue())
    jobs.close()
    try:
        found = _depths(collector)
    finally:
        collector.close()
    assert found[("gateway_job_queue_depth", DELIVERY_QUEUE, "ENQUEUED")] == 2
    assert found[("gateway_job_queue_depth", SYNC_QUEUE, "DELAYED")] == 1
    assert found[("gateway_job_queue_depth", SYNC_QUEUE, "ENQUEUED")] == 0
    assert 0 <= found[("gateway_job_queue_oldest_age_seconds", DELIVERY_QUEUE)] < 60
    assert {key[1] for key in found} == set(QUEUES)


def test_metrics_access_settings_default_to_loopback_and_a_token_means_token() -> None:
    assert load_settings({}).metrics == "loopback"
    token = load_settings({"GATEWAY_METRICS_TOKEN": "t0ken"})
    assert (token.metrics, token.metrics_token) == ("token", "t0ken")
    assert "t0ken" not in repr(token)
    with pytest.raises(SettingsError, match="GATEWAY_METRICS_TOKEN"):
        load_settings({"GATEWAY_METRICS": "token"})
    with pytest.raises(SettingsError, match="GATEWAY_METRICS must be"):
        load_settings({"GATEWAY_METRICS": "public"})


async def test_provider_calls_carry_the_request_id_and_are_counted_per_provider() -> None:
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503 if request.url.path == "/down" else 200)

    metrics = Metrics()
    transport = ObservingTransport(
        httpx.MockTransport(provider), metrics, {"astral": "http://astral.test/api"}
    )
    async with httpx.AsyncClient(transport=transport) as client:
        with using_request_id("req-42"):
            await client.get("http://astral.test/api/activities")
            await client.get("http://astral.test/down")  # not under astral's base URL
        await client.get("http://astral.test/api/x")
    assert [r.headers.get("x-request-id") for r in seen] == ["req-42", "req-42", None]
    counted = metrics.provider_requests
    assert counted.labels("astral", "GET", "200")._value.get() == 2
    assert counted.labels("other", "GET", "503")._value.get() == 1


def test_an_offered_request_id_is_kept_only_when_it_is_safe() -> None:
    assert request_id_or_new("01HZX.trace:span-9") == "01HZX.trace:span-9"
    for unsafe in ("", "has space", "new\nline", "x" * 129, '"quoted"'):
        made = request_id_or_new(unsafe)
        assert made != unsafe and len(made) == 32


def test_json_log_lines_carry_the_request_id() -> None:
    install_request_id_records()
    with using_request_id("req-7"):
        record = logging.getLogger("gateway.test").makeRecord(
            "gateway.test", logging.INFO, __file__, 1, "hello %s", ("there",), None
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello there" and line["request_id"] == "req-7"
    assert line["level"] == "INFO" and line["logger"] == "gateway.test"


@pytest.mark.parametrize(
    ("env", "headers", "status"),
    [
        ({"GATEWAY_METRICS": "off"}, {}, 404),
        # Litestar's test client calls from the host "testclient", which is not loopback.
        ({}, {}, 403),
        ({"GATEWAY_METRICS_TOKEN": "s3cret-token"}, {}, 401),
        ({"GATEWAY_METRICS_TOKEN": "s3cret-token"}, {"Authorization": "Bearer wrong"}, 401),
        ({"GATEWAY_METRICS_TOKEN": "s3cret-token"}, {"Authorization": "Bearer s3cret-token"}, 200),
    ],
)
def test_metrics_are_served_only_as_the_operator_configured(
    tmp_path: Path, env: dict[str, str], headers: dict[str, str], status: int
) -> None:
    from litestar.testing import TestClient

    from training_gateway.gateway.app import create_app

    settings = load_settings(
        {**env, "GATEWAY_ENGINE": "off"},
        data_dir=tmp_path,
        secret_keys=(Fernet.generate_key().decode(),),
    )
    with TestClient(create_app(settings, adapter_classes={})) as client:
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == status, answer.text
        if status == 200:
            assert "gateway_http_requests_total" in answer.text
            refused = client.get("/metrics", params={"format": "json"}, headers=headers)
            assert refused.status_code == 400 and refused.json()["field"] == "format"
        else:
            assert answer.headers["content-type"] == "application/problem+json"
            assert "s3cret-token" not in answer.text


def test_tracing_is_off_by_default_and_gateway_otel_makes_a_span_per_request(
    tmp_path: Path,
) -> None:
    from litestar.plugins.opentelemetry import OpenTelemetryPlugin
    from litestar.testing import TestClient
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from training_gateway.gateway.app import create_app

    keys = (Fernet.generate_key().decode(),)
    off = load_settings({"GATEWAY_ENGINE": "off"}, data_dir=tmp_path, secret_keys=keys)
    assert off.otel is False
    assert not [
        p for p in create_app(off, adapter_classes={}).plugins if isinstance(p, OpenTelemetryPlugin)
    ]

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    on = load_settings(
        {"GATEWAY_ENGINE": "off", "GATEWAY_OTEL": "1"}, data_dir=tmp_path, secret_keys=keys
    )
    with TestClient(create_app(on, adapter_classes={})) as client:
        assert client.get("/health").status_code == 200
    spans = [span.name for span in exporter.get_finished_spans()]
    assert any("/health" in name for name in spans), spans


def test_tracing_without_opentelemetry_installed_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from training_gateway.gateway.app import create_app

    monkeypatch.setitem(sys.modules, "litestar.plugins.opentelemetry", None)  # not installed
    settings = load_settings(
        {"GATEWAY_OTEL": "1"}, data_dir=tmp_path, secret_keys=(Fernet.generate_key().decode(),)
    )
    with pytest.raises(SettingsError, match="`otel` extra"):
        create_app(settings, adapter_classes={})


def test_metrics_are_not_in_the_public_api_document() -> None:
    from training_gateway.gateway.app import openapi_document

    assert "/metrics" not in openapi_document()["paths"]


async def test_rate_limit_waits_and_refusals_are_counted() -> None:
    from pyrate_limiter import InMemoryBucket

    from training_gateway.gateway.rate_limits import ProviderRateLimit, _rates
    from training_gateway.gateway.settings import parse_rate_limits
    from training_gateway.models.errors import ProviderThrottled

    metrics = Metrics()
    limits = parse_rate_limits("2/s")
    limit = ProviderRateLimit(
        "astral", "k", limits, InMemoryBucket(_rates(limits)), max_wait_s=1.5, metrics=metrics
    )
    await limit.acquire()
    await limit.acquire()
    await limit.acquire()  # waits for the first two to leave the window
    await limit.acquire()  # the window holds one: room at once
    limit.max_wait_s = 0
    with pytest.raises(ProviderThrottled):
        await limit.acquire()
    waits = metrics.registry.get_sample_value
    assert waits("gateway_rate_limit_wait_seconds_count", {"provider": "astral"}) == 4
    assert waits("gateway_rate_limit_wait_seconds_bucket", {"provider": "astral", "le": "0.1"}) == 3
    assert waits("gateway_rate_limit_refusals_total", {"provider": "astral"}) == 1
