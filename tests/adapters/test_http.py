"""Calling a provider: a 429 is a throttle naming the provider with its Retry-After, whatever
the method; Retry-After is read as seconds or as an HTTP date."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx

from training_gateway.adapters.http import MAX_RETRY_AFTER_S, call_provider, retry_after_s
from training_gateway.models.errors import ProviderRejected, ProviderThrottled

NOW = datetime(2026, 5, 18, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),
        (" 0 ", 0.0),
        ("Mon, 18 May 2026 12:01:30 GMT", 90.0),
        ("Mon, 18 May 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("1" + "0" * 400, MAX_RETRY_AFTER_S),
        ("0000000000000000007", 7.0),
        (None, None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    header: str | None, seconds: float | None
) -> None:
    assert retry_after_s(header, now=NOW) == seconds


@respx.mock
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_a_429_is_a_throttle_naming_the_provider(method: str) -> None:
    respx.route(method=method, url="https://provider.example/things").respond(
        429, headers={"Retry-After": "12"}, json={"detail": "slow down"}
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(ProviderThrottled) as throttled:
            await call_provider(
                http, "example", method, "https://provider.example/things", token="t"
            )
    assert not isinstance(throttled.value, ProviderRejected)
    assert throttled.value.provider == "example"
    assert throttled.value.retry_after_s == 12.0
    assert throttled.value.upstream_status == 429
    assert "slow down" in throttled.value.detail
