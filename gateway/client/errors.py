"""The client's errors, built from the gateway's RFC 9457 problem documents.

    GatewayError                 status, title, detail, field, provider, capability, problem
    ├── GatewayUnreachable       no answer at all (connect error, timeout): status None
    ├── ListingIncomplete        a cursor walk ended with providers still failing (`failures`)
    ├── ValidationError          the request was wrong
    │   ├── InvalidParameter     400: something in the URL (a query parameter)
    │   └── InvalidBody          422: something in the body
    ├── Unauthorized             401: no key, or a key the gateway does not know
    ├── Forbidden                403: a provider refused, or the admin API is off
    ├── NotFound                 404
    ├── Unsupported              405: the provider does not offer the operation
    ├── NotAcceptable            406
    ├── Conflict                 409: not connected, a lost update, a revoked connection
    ├── PreconditionFailed       412: If-Match did not match
    ├── PayloadTooLarge          413
    ├── UnsupportedMediaType     415
    ├── RateLimited              429: `retry_after` seconds, from Retry-After or the problem
    ├── ServerError              500, and any other 5xx not below
    ├── ProviderError            502: a provider failed or answered nonsense
    │   └── ProviderTimeout      504: a provider did not answer in time
    └── ServiceUnavailable       503: the gateway is busy; `retry_after` seconds

The status picks the class in one table (`ERROR_OF_STATUS`); nothing else does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import httpx
import msgspec

from training_gateway.gateway.wire import Problem, ProviderFailure

PROBLEM_MEDIA_TYPE = "application/problem+json"
# A body that is not a problem document is quoted in `detail` up to this many characters.
_MAX_QUOTED_CHARS = 500


class GatewayError(Exception):
    """An answer of the gateway that is not a success, or no answer at all."""

    def __init__(
        self,
        title: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        field: str | None = None,
        provider: str | None = None,
        capability: str | None = None,
        problem: Problem | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if status else f"{title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
        self.provider = provider
        self.capability = capability
        self.problem = problem

    @classmethod
    def from_problem(cls, problem: Problem, **extra: object) -> GatewayError:
        error = cls(
            problem.title,
            status=problem.status,
            detail=problem.detail,
            field=problem.field,
            provider=problem.provider,
            capability=problem.capability,
            problem=problem,
        )
        for name, value in extra.items():
            setattr(error, name, value)
        return error


class GatewayUnreachable(GatewayError):
    """The request got no answer: the gateway could not be reached, or did not answer in time."""


class ListingIncomplete(GatewayError):
    """A cursor walk came to its end while providers still failed: every item the others had
    was yielded; `failures` says which providers are missing and why."""

    def __init__(self, failures: Sequence[ProviderFailure]) -> None:
        named = ", ".join(f"{f.provider} ({f.status}: {f.detail})" for f in failures)
        super().__init__("Listing incomplete", detail=f"providers still failing: {named}")
        self.failures = list(failures)


class ValidationError(GatewayError):
    """The gateway refused the request as it was sent; `field` names what was wrong."""


class InvalidParameter(ValidationError):
    """400: a query parameter was missing, unknown, malformed or out of range."""


class InvalidBody(ValidationError):
    """422: the body was not what the route takes (a field missing, unknown, out of range)."""


class Unauthorized(GatewayError):
    """401: no API key, an unknown one, or (for the admin routes) not the admin key."""


class Forbidden(GatewayError):
    """403: the provider refused the caller, or the gateway's admin API is off."""


class NotFound(GatewayError):
    """404: no such resource (or route)."""


class Unsupported(GatewayError):
    """405: the provider does not offer this operation (`capability` names it)."""


class NotAcceptable(GatewayError):
    """406: the gateway offers none of the media types asked for."""


class Conflict(GatewayError):
    """409: the provider is not connected, the connection is revoked, or a change was lost."""


class PreconditionFailed(GatewayError):
    """412: the resource changed since the ETag sent in If-Match."""


class PayloadTooLarge(GatewayError):
    """413: a body over the route's limit."""


class UnsupportedMediaType(GatewayError):
    """415: the body was not sent as the route takes it."""


class RateLimited(GatewayError):
    """429: a provider is throttling; `retry_after` is the wait in seconds, when known."""

    retry_after: float | None = None


class ServerError(GatewayError):
    """500 (and any 5xx without a class of its own): the gateway failed."""


class ProviderError(GatewayError):
    """502: a provider failed, or answered what the gateway could not use."""


class ProviderTimeout(ProviderError):
    """504: a provider did not answer in time."""


class ServiceUnavailable(GatewayError):
    """503: the gateway cannot take the request now; `retry_after` seconds, when known."""

    retry_after: float | None = None


# Status -> error class: the one place a status picks a class.
ERROR_OF_STATUS: dict[int, type[GatewayError]] = {
    400: InvalidParameter,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: Unsupported,
    406: NotAcceptable,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: InvalidBody,
    429: RateLimited,
    500: ServerError,
    502: ProviderError,
    503: ServiceUnavailable,
    504: ProviderTimeout,
}


def _class_of(status: int) -> type[GatewayError]:
    found = ERROR_OF_STATUS.get(status)
    if found is not None:
        return found
    if 400 <= status < 500:
        return ValidationError
    return ServerError


def error_for(response: httpx.Response) -> GatewayError:
    """The typed error of a failed answer (its body already read)."""
    problem = _problem_of(response)
    kind = _class_of(response.status_code)
    extra: dict[str, object] = {}
    if issubclass(kind, RateLimited | ServiceUnavailable):
        extra["retry_after"] = _retry_after(response, problem)
    return kind.from_problem(problem, **extra)


def _problem_of(response: httpx.Response) -> Problem:
    """The answer's problem document; for an answer that has none (a proxy's page), one made
    of its status and the start of its body."""
    try:
        problem = msgspec.json.decode(response.content, type=Problem)
    except (msgspec.DecodeError, msgspec.ValidationError):
        problem = None
    if problem is not None and problem.status == response.status_code:
        return problem
    try:
        title = HTTPStatus(response.status_code).phrase
    except ValueError:
        title = "Error"
    quoted = response.text[:_MAX_QUOTED_CHARS].strip() or None
    return Problem(title=title, status=response.status_code, detail=quoted)


def _retry_after(response: httpx.Response, problem: Problem) -> float | None:
    """Seconds to wait: the problem's exact `retry_after`, else the Retry-After header (delta
    seconds or an HTTP date)."""
    if problem.retry_after is not None:
        return problem.retry_after
    header = response.headers.get("retry-after")
    if header is None:
        return None
    if header.strip().isdigit():
        return float(header)
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    date = response.headers.get("date")
    now = parsedate_to_datetime(date) if date else datetime.now(UTC)
    return max(0.0, (moment - now).total_seconds())


def unreachable(exc: httpx.TransportError) -> GatewayUnreachable:
    """A transport failure as the client's error (the cause chained by the caller)."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
    return GatewayUnreachable(f"The gateway {kind}", detail=f"{type(exc).__name__}: {exc}")
