"""Calling a provider over HTTP: one place that turns transport and decode failures into
named provider errors, so no adapter swallows one and no route sees httpx."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import httpx2
import msgspec

from training_gateway.models.errors import (
    NotFound,
    ProviderError,
    ProviderForbidden,
    ProviderRejected,
    ProviderThrottled,
    ProviderTimeout,
)

T = TypeVar("T")

_MAX_DETAIL_CHARS = 300
# A Retry-After further away than this is taken as this: a day is already "not now".
MAX_RETRY_AFTER_S = 86_400.0


def _upstream_detail(response: httpx.Response) -> str:
    """A short, safe excerpt of what the provider said (never the request's credentials)."""
    text = response.text.strip().replace("\n", " ")
    try:
        header = response.request.headers.get("authorization", "")
    except RuntimeError:  # a response built without a request (tests)
        header = ""
    token = header.partition(" ")[2].strip()
    if len(token) >= 8:  # a provider that echoes the token must not pass it on to the caller
        text = text.replace(token, "<redacted>")
    if len(text) > _MAX_DETAIL_CHARS:
        text = text[:_MAX_DETAIL_CHARS] + "..."
    return text or response.reason_phrase


# The exceptions of a request that got no answer, from either HTTP client the gateway uses
# (httpx for the providers' APIs, httpx2 under Authlib for their OAuth endpoints).
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.RequestError, httpx2.RequestError)
_TIMEOUTS: tuple[type[Exception], ...] = (httpx.TimeoutException, httpx2.TimeoutException)


def transport_error(provider: str, exc: Exception, *, what: str | None = None) -> ProviderError:
    """The named error for a request to `provider` (for `what`, e.g. "its JWKS") that got no
    answer: ProviderTimeout when it timed out, else ProviderError saying it was unreachable."""
    target = f"{provider}" if what is None else f"{provider} ({what})"
    if isinstance(exc, _TIMEOUTS):
        return ProviderTimeout(provider, f"{target} did not answer in time")
    return ProviderError(provider, f"{target} could not be reached: {type(exc).__name__}")


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 §10.2.3: delta-seconds or an HTTP
    date), at most MAX_RETRY_AFTER_S; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        return min(float(digits[:12]), MAX_RETRY_AFTER_S)  # 12 digits are past the cap already
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # an HTTP date is always GMT
        moment = moment.replace(tzinfo=UTC)
    wait = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(wait, 0.0), MAX_RETRY_AFTER_S)


def raise_for_status(
    provider: str, response: httpx.Response, method: str, *, not_found: str | None = None
) -> None:
    """Raise the named error a provider's error status means (a read body is needed).

    404 becomes NotFound (with `not_found` as the detail when given), 403 ProviderForbidden,
    429 ProviderThrottled (with the provider's Retry-After), 401 and 5xx ProviderError, other
    4xx on writes ProviderRejected (the caller's input is at fault).
    """
    status = response.status_code
    if status < 400:
        return
    detail = _upstream_detail(response)
    if status == 429:  # whatever the method: the provider did not take the request on
        raise ProviderThrottled(
            provider,
            f"{provider} is throttling requests ({status}): {detail}",
            retry_after_s=retry_after_s(response.headers.get("retry-after")),
            upstream_status=status,
        )
    if status == 404:
        raise NotFound(not_found or f"{provider}: {detail}")
    if status == 403:  # the credentials are fine, this operation is not allowed to them
        raise ProviderForbidden(
            provider,
            f"{provider} refused the operation ({status}): {detail}",
            upstream_status=status,
        )
    if status == 401:
        raise ProviderError(
            provider,
            f"{provider} refused the credentials ({status}): {detail}",
            upstream_status=status,
        )
    if status < 500 and method.upper() != "GET":
        raise ProviderRejected(
            provider,
            f"{provider} rejected the request ({status}): {detail}",
            upstream_status=status,
        )
    raise ProviderError(provider, f"{provider} answered {status}: {detail}", upstream_status=status)


async def call_provider(
    http: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    *,
    token: str,
    params: Any = None,
    json: Any = None,
    files: Any = None,
    headers: dict[str, str] | None = None,
    not_found: str | None = None,
) -> httpx.Response:
    """Send one request to a provider and return its successful response; every failure is
    raised as a named error (see `raise_for_status` and `transport_error`)."""
    content = msgspec.json.encode(json) if json is not None else None
    sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
    if content is not None:
        sent["Content-Type"] = "application/json"
    try:
        response = await http.request(
            method, url, params=params, content=content, files=files, headers=sent
        )
    except TRANSPORT_ERRORS as exc:
        raise transport_error(provider, exc) from None
    raise_for_status(provider, response, method, not_found=not_found)
    return response


def decode_provider(provider: str, payload: bytes, type_: type[T]) -> T:
    """Decode a provider's JSON strictly into its wire Struct, or fail naming the provider."""
    try:
        return msgspec.json.decode(payload, type=type_, strict=True)
    except msgspec.DecodeError as exc:
        raise ProviderError(
            provider, f"{provider} sent a response that does not decode: {exc}"
        ) from None
