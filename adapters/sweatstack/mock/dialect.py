"""How SweatStack's API speaks, as FastAPI does: query parameters validated into 422 `detail`
lists (`QueryParams`), body errors in the same shape, `{"detail": ...}` error answers for
every status, and 401s for a missing, bad or expired bearer token."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap
from open_sport_taxonomy import Sport

from training_gateway.adapters._mock import TokenIssuer, TokenRejected

#: Every metric name SweatStack knows (the client's `Metric` enum).
KNOWN_METRICS = (
    "duration", "lap", "power", "speed", "heart_rate", "respiration_rate", "smo2",
    "core_temperature", "elevation", "altitude", "cadence", "temperature", "distance",
    "longitude", "latitude", "lactate", "rpe", "notes",
)  # fmt: skip
T = TypeVar("T")
AnyRequest = Request[Any, Any, Any]
# OST string syntax: dotted lowercase atoms with single inner underscores, then `+modifier`s.
_ATOM = "[a-z]+(?:_[a-z]+)*"
_WELL_FORMED_SPORT = re.compile(rf"{_ATOM}(?:\.{_ATOM})*(?:\+{_ATOM})*")


class ApiError(Exception):
    """An error answer in FastAPI's shape: `{"detail": ...}` with `status`."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def field_error(kind: str, loc: list[Any], msg: str, raw: Any, **ctx: Any) -> dict[str, Any]:
    """One item of a 422 `detail` list, as pydantic reports a field it refused."""
    error: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg, "input": raw}
    if ctx:
        error["ctx"] = ctx
    return error


def body_error(kind: str, loc: list[Any], msg: str, raw: Any, **ctx: Any) -> dict[str, Any]:
    """A 422 item for the request body at `loc`."""
    return field_error(kind, ["body", *loc], msg, raw, **ctx)


def not_recorded(activity_id: str, parameter: str, metric: str) -> ApiError:
    """The 422 for a query naming a metric the activity did not record."""
    return ApiError(
        422,
        [
            field_error(
                "value_error",
                ["query", parameter],
                f"Value error, activity {activity_id} has no {metric} data",
                metric,
            )
        ],
    )


@dataclass(frozen=True)
class ListQuery:
    """The filters and the page both lists (activities and tests) take."""

    start: date | datetime | None
    end: date | datetime | None
    sports: list[Sport]
    tags: list[str]
    limit: int
    offset: int

    def page(self, found: Sequence[T]) -> Sequence[T]:
        return found[self.offset : self.offset + self.limit]


_BOOLEANS = {
    **dict.fromkeys(("1", "on", "t", "true", "y", "yes"), True),
    **dict.fromkeys(("0", "off", "f", "false", "n", "no"), False),
}


class QueryParams:
    """Reads query parameters the way FastAPI validates them, collecting every error as a 422."""

    def __init__(self, request: AnyRequest) -> None:
        self._params = request.query_params
        self.errors: list[dict[str, Any]] = []

    def error(self, name: str, kind: str, msg: str, raw: Any, **ctx: Any) -> None:
        """Record a 422 item for the parameter `name`."""
        self.errors.append(field_error(kind, ["query", name], msg, raw, **ctx))

    def strings(self, *names: str, split: bool = False) -> list[str]:
        """Every value of the repeatable parameters `names`; comma-joined values split if asked."""
        values = [value for name in names for value in self._params.getall(name, [])]
        if split:
            values = [part.strip() for value in values for part in value.split(",")]
        return [value for value in values if value]

    def integer(self, name: str, default: int, *, ge: int) -> int:
        raw = self._params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.error(
                name,
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
                raw,
            )
            return default
        if value < ge:
            self.error(
                name,
                "greater_than_equal",
                f"Input should be greater than or equal to {ge}",
                raw,
                ge=ge,
            )
            return default
        return value

    def boolean(self, names: Sequence[str], default: bool = False) -> bool:
        """The first of `names` present, as pydantic reads a boolean (true/false, 1/0, yes/no,
        on/off, t/f, y/n, any case)."""
        for name in names:
            raw = self._params.get(name)
            if raw is None:
                continue
            value = _BOOLEANS.get(raw.strip().lower())
            if value is None:
                self.error(
                    name,
                    "bool_parsing",
                    "Input should be a valid boolean, unable to interpret input",
                    raw,
                )
                return default
            return value
        return default

    def moment(self, name: str) -> date | datetime | None:
        """A `YYYY-MM-DD` date, or a full ISO 8601 datetime."""
        raw = self._params.get(name)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw) if len(raw) == 10 else datetime.fromisoformat(raw)
        except ValueError:
            self.error(
                name, "date_parsing", "Input should be a valid date or datetime (YYYY-MM-DD)", raw
            )
            return None

    def sports(self) -> list[Sport]:
        """`sport` (repeatable) and the legacy comma-joined `sports`.

        Well-formed unknown sports are accepted and match only themselves and their
        sub-sports, as SweatStack keeps unknown OST strings; malformed ones are a 422.
        """
        parsed: list[Sport] = []
        for raw in self.strings("sport", "sports", split=True):
            if not _WELL_FORMED_SPORT.fullmatch(raw):
                self.error("sport", "value_error", f"Value error, malformed sport {raw!r}", raw)
                continue
            parsed.append(Sport.parse(raw))
        return parsed

    def choice(self, names: Sequence[str], allowed: Sequence[str]) -> str | None:
        """The first of `names` present, which must be one of `allowed`."""
        for name in names:
            raw = self._params.get(name)
            if raw is None:
                continue
            if raw not in allowed:
                self.error(name, "enum", _enum_message(allowed), raw, expected=_enum_list(allowed))
                return None
            return raw
        return None

    def required_choice(self, name: str, allowed: Sequence[str]) -> str | None:
        """A required parameter that must be one of `allowed`."""
        if self._params.get(name) is None:
            self.error(name, "missing", "Field required", None)
            return None
        return self.choice((name,), allowed)

    def durations(self, name: str = "durations") -> Sequence[int] | Literal["all"] | None:
        """Mean-max durations: `all`, or comma-separated whole seconds (at least 1)."""
        raw = self._params.get(name)
        if raw is None:
            return None
        if raw.strip() == "all":
            return "all"
        parts = [part.strip() for part in raw.split(",")]
        if parts and all(part.isascii() and part.isdigit() and int(part) >= 1 for part in parts):
            return [int(part) for part in parts]
        self.error(
            name,
            "value_error",
            "Value error, durations must be 'all' or comma-separated whole seconds (at least 1)",
            raw,
        )
        return None

    def metrics(self, default: Sequence[str]) -> list[str]:
        requested = self.strings("metrics", split=True) or list(default)
        for raw in requested:
            if raw not in KNOWN_METRICS:
                self.error("metrics", "enum", _enum_message(KNOWN_METRICS), raw)
        return list(dict.fromkeys(name for name in requested if name in KNOWN_METRICS))

    def listing(self, default_limit: int) -> ListQuery:
        """`start`, `end`, `sport`, `tags`, `limit` (at least 1) and `offset` (at least 0)."""
        start, end = self.moment("start"), self.moment("end")
        sports = self.sports()
        tags = self.strings("tags")
        limit = self.integer("limit", default_limit, ge=1)
        offset = self.integer("offset", 0, ge=0)
        return ListQuery(start, end, sports, tags, limit, offset)

    def check(self) -> None:
        if self.errors:
            raise ApiError(422, self.errors)


def _enum_list(allowed: Sequence[str]) -> str:
    quoted = [f"'{value}'" for value in allowed]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _enum_message(allowed: Sequence[str]) -> str:
    return f"Input should be {_enum_list(allowed)}"


def json_response(value: Any, status: int = 200) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(value), media_type="application/json", status_code=status
    )


def verified_claims(authorization: str | None, tokens: TokenIssuer) -> dict[str, Any]:
    """The claims of the bearer token in `authorization`; 401 for a missing, bad or expired one."""
    try:
        return tokens.verify_authorization(authorization)
    except TokenRejected as exc:
        detail = (
            "Not authenticated"
            if "missing" in str(exc)
            else f"Could not validate credentials: {exc}"
        )
        raise ApiError(401, detail, {"WWW-Authenticate": "Bearer"}) from None


def detail_response(status: int, detail: Any, headers: Any = None) -> Response[bytes]:
    """An error in FastAPI's shape: `{"detail": ...}`."""
    return Response(
        content=msgspec.json.encode({"detail": detail}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _api_error_response(_: AnyRequest, exc: ApiError) -> Response[bytes]:
    return detail_response(exc.status, exc.detail, exc.headers)


def _http_exception_response(_: AnyRequest, exc: HTTPException) -> Response[bytes]:
    return detail_response(exc.status_code, exc.detail, exc.headers)


def _internal_error_response(_: AnyRequest, exc: Exception) -> Response[bytes]:
    return detail_response(500, "Internal Server Error")


def exception_handlers() -> ExceptionHandlersMap:
    """Every error answered in FastAPI's shape."""
    return {
        ApiError: _api_error_response,
        HTTPException: _http_exception_response,
        Exception: _internal_error_response,
    }
