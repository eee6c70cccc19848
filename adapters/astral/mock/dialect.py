"""How Astral's API speaks: `{status: "error", message}` errors (one table says which status
each of the store's refusals answers), `{status: "ok", data}` envelopes, query parameters
validated into 400s, bodies decoded strictly (422; malformed JSON 400), 401 for a bad token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from training_gateway.adapters._mock import TokenIssuer, TokenRejected
from training_gateway.adapters.astral.mock.store import (
    DEFAULT_LIST_LIMIT,
    LISTABLE_STATUSES,
    ActivityNotFound,
    ListFilters,
    MissingFields,
    NotPermitted,
    Refused,
)
from training_gateway.adapters.astral.wire import AstralActivityBody, AstralErrorBody

AnyRequest = Request[Any, Any, Any]
#: The list's `activity_type` values, and the stored type each selects.
LIST_TYPES: Final[dict[str, str]] = {
    "run": "RUNNING",
    "bike": "CYCLING",
    "swim": "SWIMMING",
    "walk": "WALKING",
    "hike": "HIKING",
    "workout": "WORKOUT",
}
#: The status Astral answers each of the store's refusals with.
REFUSAL_STATUS: Final[dict[type[Refused], int]] = {
    ActivityNotFound: 404,
    NotPermitted: 403,
    MissingFields: 422,
}


class AstralApiError(Exception):
    """An error Astral answers as `{status: "error", message}`."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def flag(request: AnyRequest, name: str) -> bool:
    return (request.query_params.get(name) or "").strip().lower() == "true"


def raw_format(request: AnyRequest) -> bool:
    value = request.query_params.get("format")
    if value is None:
        return False
    if value != "raw":
        raise AstralApiError(400, f"format must be raw, not {value!r}")
    return True


def _non_negative(request: AnyRequest, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):
        raise AstralApiError(400, f"{name} must be a non-negative integer, not {value!r}")
    return int(value)


def _moment(request: AnyRequest, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AstralApiError(
            400, f"{name} must be an ISO 8601 datetime such as 2025-01-01T00:00:00Z, not {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _statuses(request: AnyRequest) -> frozenset[str]:
    values = [
        part.strip() for raw in request.query_params.getall("status", []) for part in raw.split(",")
    ]
    values = [value for value in values if value]
    unknown = [value for value in values if value not in LISTABLE_STATUSES]
    if unknown:
        raise AstralApiError(
            400, f"status must be one of {', '.join(LISTABLE_STATUSES)}, not {unknown[0]!r}"
        )
    return frozenset(values or LISTABLE_STATUSES)


def _activity_type(request: AnyRequest) -> str | None:
    value = request.query_params.get("activity_type")
    if value is None:
        return None
    stored = LIST_TYPES.get(value)
    if stored is None:
        raise AstralApiError(
            400, f"activity_type must be one of: {', '.join(LIST_TYPES)}; got {value!r}"
        )
    return stored


def list_filters(request: AnyRequest, caller: str) -> ListFilters:
    """The list endpoint's query parameters, validated."""
    return ListFilters(
        owner=request.query_params.get("user_id") or caller,
        statuses=_statuses(request),
        start=_moment(request, "start_date"),
        end=_moment(request, "end_date"),
        activity_type=_activity_type(request),
        plan_instance_id=request.query_params.get("plan_instance_id"),
        limit=_non_negative(request, "limit", DEFAULT_LIST_LIMIT),
        offset=_non_negative(request, "offset", 0),
    )


async def activity_body(request: AnyRequest) -> AstralActivityBody:
    payload = await request.body()
    try:
        return msgspec.json.decode(payload, type=AstralActivityBody, strict=True)
    except msgspec.ValidationError as exc:
        raise AstralApiError(422, f"Invalid request body: {exc}") from None
    except msgspec.DecodeError:
        raise AstralApiError(400, "Request body is not valid JSON") from None


def json_response(content: Any, status_code: int = 200) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(content), status_code=status_code, media_type="application/json"
    )


def ok(data: Any, status_code: int = 200) -> Response[bytes]:
    return json_response({"status": "ok", "data": data}, status_code)


def _error(status_code: int, message: str) -> Response[bytes]:
    return json_response(AstralErrorBody(message=message), status_code)


def verified_subject(authorization: str | None, tokens: TokenIssuer) -> str:
    """The user the bearer token in `authorization` was issued to; 401 for a bad one."""
    try:
        claims = tokens.verify_authorization(authorization)
    except TokenRejected as exc:
        raise AstralApiError(401, f"Unauthorized: {exc}") from None
    subject: str = claims["sub"]
    return subject


def _on_api_error(_: AnyRequest, exc: AstralApiError) -> Response[bytes]:
    return _error(exc.status_code, exc.message)


def _on_refusal(_: AnyRequest, exc: Refused) -> Response[bytes]:
    return _error(REFUSAL_STATUS[type(exc)], str(exc))


def _on_http_error(_: AnyRequest, exc: HTTPException) -> Response[bytes]:
    return _error(exc.status_code, exc.detail)


def exception_handlers() -> ExceptionHandlersMap:
    """Every error answered in Astral's shape."""
    return {
        AstralApiError: _on_api_error,
        Refused: _on_refusal,
        HTTPException: _on_http_error,
    }
