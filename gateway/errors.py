"""Every error becomes an RFC 9457 `application/problem+json` answer, here and only here."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from training_gateway.gateway.storage.vault import VaultError
from training_gateway.gateway.wire import Problem as Problem
from training_gateway.models.decoding import field_path
from training_gateway.models.errors import (
    Conflict,
    GatewayError,
    InvalidBody,
    InvalidInput,
    InvalidParameter,
    MalformedWebhook,
    NotAcceptable,
    NotFound,
    PreconditionFailed,
    ProviderError,
    ProviderForbidden,
    ProviderRejected,
    ProviderThrottled,
    ProviderTimeout,
    Unsupported,
    UnsupportedMediaType,
    WebhookRejected,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("gateway.errors")


class NotConnected(GatewayError):
    """The caller has no connection to the provider a request needs."""

    title = "Provider not connected"

    def __init__(self, provider: str) -> None:
        super().__init__(f"you have not connected provider {provider!r}")
        self.provider = provider


class ConnectionRevoked(GatewayError):
    """The caller's connection to a provider can no longer be used: reconnect to go on."""

    title = "Provider connection revoked"

    def __init__(self, provider: str, detail: str | None, *, expired: bool = False) -> None:
        reason = detail or f"{provider} revoked the connection"
        super().__init__(f"{reason}; reconnect {provider} with POST /v1/connections/{provider}")
        self.provider = provider
        self.expired = expired
        if expired:
            self.title = "Provider connection expired"


class AuthorizationFailed(GatewayError):
    """Connecting a provider failed: the callback, the code exchange or the ID token did not
    check out. Nothing was stored."""

    title = "Connecting the provider failed"

    def __init__(self, provider: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.provider = provider
        self.field = field


class ConnectMethodUnavailable(InvalidInput):
    """The provider cannot be connected the way the caller asked (no OAuth client configured,
    or it takes OAuth only): the request conflicts with how the gateway is set up."""

    title = "Connection method unavailable"

    def __init__(self, provider: str, detail: str) -> None:
        super().__init__("provider", detail)
        self.provider = provider


class AdminKeyRejected(GatewayError):
    """An operator's route called without the gateway's admin key (or with another key)."""

    title = "Admin key required"


class MetricsTokenRejected(GatewayError):
    """`/metrics` asked for without the metrics token (GATEWAY_METRICS=token)."""

    title = "Metrics token required"


class MetricsNotLocal(GatewayError):
    """`/metrics` asked for from off this host while it serves loopback clients only."""

    title = "Metrics served on this host only"


class AdminDisabled(GatewayError):
    """An operator's route on a gateway with no admin key set: use the CLI, or set one."""

    title = "Admin API disabled"

    def __init__(self) -> None:
        super().__init__(
            "this gateway has no GATEWAY_ADMIN_KEY, so its admin API is off; set one, or use "
            "the CLI (`gateway webhooks ...`)"
        )


class WebhooksNotConfigured(GatewayError):
    """A provider webhook arrived for a provider whose webhook secret the gateway lacks: it
    cannot verify it, so it takes none (the provider retries once it is configured)."""

    title = "Provider webhooks not configured"

    def __init__(self, provider: str) -> None:
        super().__init__(
            f"the gateway has no webhook secret for {provider} "
            f"(GATEWAY_{provider.upper()}_WEBHOOK_SECRET), so it cannot verify its webhooks"
        )
        self.provider = provider


class Overloaded(GatewayError):
    """The gateway cannot take this request now (its upload slots are taken, a worker process
    died): nothing was done; `retry_after_s` says when to try again."""

    title = "Service Unavailable"

    def __init__(self, detail: str, *, retry_after_s: float) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class BodyTooLarge(InvalidInput):
    """A request body over the route's limit."""

    title = "Request body too large"


# Domain error -> HTTP status: the one place statuses are chosen. An error resolves to the
# entry of the nearest class along its MRO; one with no entry is a bug, answered as a 500.
STATUS_OF: dict[type[GatewayError], int] = {
    InvalidInput: 422,
    InvalidBody: 422,
    InvalidParameter: 400,
    NotAcceptable: 406,
    UnsupportedMediaType: 415,
    NotFound: 404,
    Unsupported: 405,
    Conflict: 409,
    PreconditionFailed: 412,
    ProviderError: 502,
    ProviderTimeout: 504,
    ProviderRejected: 422,
    ProviderForbidden: 403,
    ProviderThrottled: 429,
    NotConnected: 409,
    ConnectionRevoked: 409,
    ConnectMethodUnavailable: 409,
    AuthorizationFailed: 400,
    MalformedWebhook: 400,
    WebhookRejected: 401,
    AdminKeyRejected: 401,
    AdminDisabled: 403,
    MetricsTokenRejected: 401,
    MetricsNotLocal: 403,
    WebhooksNotConfigured: 503,
    BodyTooLarge: 413,
    Overloaded: 503,
}


def status_for(exc: GatewayError) -> int:
    """The HTTP status of a domain error (see STATUS_OF); 500 for an error it does not list."""
    for cls in type(exc).__mro__:
        status = STATUS_OF.get(cls)
        if status is not None:
            return status
    _log.error("no HTTP status is defined for %s", type(exc).__name__)
    return HTTP_500_INTERNAL_SERVER_ERROR


def _problem_type(kind: type[GatewayError]) -> str:
    return f"https://training-gateway.dev/problems/{kind.__name__.lower()}"


def _retry_after(exc: ProviderThrottled | Overloaded) -> dict[str, str]:
    if exc.retry_after_s is None:
        return {}
    return {"Retry-After": str(max(0, math.ceil(exc.retry_after_s)))}  # delta-seconds: whole


# Domain error -> the response headers it adds (resolved along the MRO, like STATUS_OF).
HEADERS_OF: dict[type[GatewayError], Callable[[Any], dict[str, str]]] = {
    ProviderThrottled: _retry_after,
    Overloaded: _retry_after,
}


def headers_for(exc: GatewayError) -> dict[str, str]:
    """The headers a domain error's problem response carries (see HEADERS_OF)."""
    for cls in type(exc).__mro__:
        contribute = HEADERS_OF.get(cls)
        if contribute is not None:
            return contribute(exc)
    return {}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _gateway_error(request: Request[Any, Any, Any], exc: GatewayError) -> Response[Any]:
    status = status_for(exc)
    problem = Problem(
        type=_problem_type(type(exc)),
        title=exc.title,
        status=status,
        detail=exc.detail,
        instance=request.url.path,
        field=getattr(exc, "field", None),
        provider=getattr(exc, "provider", None),
        capability=getattr(exc, "capability", None),
        retry_after=getattr(exc, "retry_after_s", None),
    )
    return problem_response(problem, headers=headers_for(exc) or None)


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's parameter and body validation: name each field, 422 for bodies, else 400."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [dict(e) for e in extra if isinstance(e, dict)]
    for error in errors:
        if error.get("message") == "'data'":
            # Litestar leaves `data` out when there is no body at all, and reports the KeyError.
            error["message"] = "the request needs a JSON body"
            error["source"] = "body"
        if error.get("source") == "body" or error.get("key") in (None, "data"):
            # Litestar names the parameter (`data` for the body); msgspec's message the path.
            key = str(error.get("key") or "")
            error["key"] = field_path(
                str(error.get("message", "")), "" if key in ("", "data", "body") else key
            ) or ("body" if key in ("", "data") else key)
    fields = [str(e.get("key")) for e in errors if e.get("key")]
    missing = _MISSING_PARAMETER.search(exc.detail or "")
    if not fields and missing:
        fields = [missing.group(1)]
    in_body = any(e.get("source") == "body" for e in errors)
    messages = (
        "; ".join(f"{e.get('key') or 'body'}: {e.get('message')}" for e in errors) or exc.detail
    )
    kind = InvalidBody if in_body else InvalidParameter
    problem = Problem(
        type=_problem_type(kind),
        title=kind.title,
        status=STATUS_OF[kind],
        detail=messages,
        instance=request.url.path,
        field=fields[0] if fields else ("body" if in_body else None),
        errors=[
            {"field": e.get("key"), "source": e.get("source"), "message": e.get("message")}
            for e in errors
        ]
        or None,
    )
    return problem_response(problem)


_MISSING_PARAMETER = re.compile(r"Missing required \w+ parameter '([^']+)'")


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="training-gateway"')
    problem = Problem(
        title=_title_for(exc.status_code),
        status=exc.status_code,
        detail=exc.detail,
        instance=request.url.path,
    )
    return problem_response(problem, headers=headers or None)


def _vault_error(request: Request[Any, Any, Any], exc: VaultError) -> Response[Any]:
    # The stored tokens cannot be decrypted: GATEWAY_SECRET_KEY lost an old key. Not a bug.
    _log.error("stored provider tokens cannot be decrypted: check GATEWAY_SECRET_KEY")
    problem = Problem(
        title="Service unavailable",
        status=503,
        detail="stored provider credentials cannot be decrypted with the configured keys",
        instance=request.url.path,
    )
    return problem_response(problem)


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Logged with its type only: a trace could carry request data; the caller gets no details.
    _log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    problem = Problem(
        title="Internal error",
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        detail="the gateway failed unexpectedly; this is a bug",
        instance=request.url.path,
    )
    return problem_response(problem)


def _title_for(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    GatewayError: _gateway_error,
    VaultError: _vault_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    Exception: _unexpected_error,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_MEDIA_TYPE",
    "AuthorizationFailed",
    "ConnectionRevoked",
    "MediaType",
    "NotConnected",
    "Problem",
    "headers_for",
    "status_for",
]
