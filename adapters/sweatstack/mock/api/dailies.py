"""`/api/v1/dailies/{measure}`: one value per measure per day, listed for every day of a range
(`start`, `end`, both required; `interpolate` fills gaps with an estimate, off by default as in
the API), set by `POST {date, value}` (an upsert, stored as `manual`) and deleted by
`DELETE ?date=` (404 when the day has no value).

Scopes: the wellness scopes (`wellness:read`, `wellness:write`), except `menstrual_cycle_day`,
which needs the reproductive-health ones; the routes declare the read or write scope any
token needs for the measure it names (see `_measure_scope`), checked in the handler since the
measure is only known there.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from training_gateway.adapters.sweatstack import wire
from training_gateway.adapters.sweatstack.mock.dialect import (
    AnyRequest,
    ApiError,
    QueryParams,
    body_error,
    field_error,
    json_response,
)
from training_gateway.adapters.sweatstack.mock.scopes import (
    ANY_SCOPE,
    REPRODUCTIVE_HEALTH_READ,
    REPRODUCTIVE_HEALTH_WRITE,
    WELLNESS_READ,
    WELLNESS_WRITE,
    require_scope,
)
from training_gateway.adapters.sweatstack.mock.store import SweatStackStore
from training_gateway.adapters.sweatstack.mock.wellness import MEASURES, REPRODUCTIVE_MEASURES

Store = NamedDependency[SweatStackStore]
Claims = NamedDependency[dict[str, Any]]
#: The longest range one list may span (SweatStack documents none; the mock's bound).
MAX_RANGE_DAYS = 3660
_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True}
_BOOLEANS.update({"false": False, "0": False, "no": False, "off": False})


def _measure(measure: str) -> str:
    if measure not in MEASURES:
        expected = ", ".join(f"'{m}'" for m in MEASURES[:-1]) + f" or '{MEASURES[-1]}'"
        raise ApiError(
            422,
            [
                field_error(
                    "enum",
                    ["path", "measure"],
                    f"Input should be {expected}",
                    measure,
                    expected=expected,
                )
            ],
        )
    return measure


def _measure_scope(claims: dict[str, Any], measure: str, *, write: bool) -> None:
    """The caller's token must grant the scope the measure needs (SweatStack's 403 otherwise)."""
    if measure in REPRODUCTIVE_MEASURES:
        needed = REPRODUCTIVE_HEALTH_WRITE if write else REPRODUCTIVE_HEALTH_READ
    else:
        needed = WELLNESS_WRITE if write else WELLNESS_READ
    require_scope(claims, needed)


def _required_date(request: AnyRequest, query: QueryParams, name: str) -> date | None:
    """A required `YYYY-MM-DD` query parameter (a 422 item when missing or malformed)."""
    raw = request.query_params.get(name)
    if raw is None:
        query.error(name, "missing", "Field required", None)
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    query.error(name, "date_parsing", "Input should be a valid date in the format YYYY-MM-DD", raw)
    return None


class DailiesController(Controller):
    """`/api/v1/dailies/{measure}`: list a range, set a day, delete a day."""

    path = "/api/v1/dailies"

    @get("/{measure:str}", required_scope=ANY_SCOPE)
    async def list_dailies(
        self, request: AnyRequest, store: Store, claims: Claims, measure: FromPath[str]
    ) -> Response[bytes]:
        """One `DailyResponse` per day from `start` to `end` (both included)."""
        _measure_scope(claims, _measure(measure), write=False)
        query = QueryParams(request)
        start, end = _required_date(request, query, "start"), _required_date(request, query, "end")
        interpolate = False
        raw = request.query_params.get("interpolate")
        if raw is not None:
            if raw.lower() not in _BOOLEANS:
                query.error(
                    "interpolate",
                    "bool_parsing",
                    "Input should be a valid boolean, unable to interpret input",
                    raw,
                )
            interpolate = _BOOLEANS.get(raw.lower(), False)
        query.check()
        assert isinstance(start, date) and isinstance(end, date)  # check() raised otherwise
        if end < start:
            raise ApiError(422, "end must not be before start")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise ApiError(422, f"A range spans at most {MAX_RANGE_DAYS} days")
        user = str(claims["sub"])
        return json_response(
            store.dailies_state.series(user, measure, start, end, interpolate=interpolate)
        )

    @post("/{measure:str}", status_code=200, required_scope=ANY_SCOPE)
    async def set_daily(
        self, request: AnyRequest, store: Store, claims: Claims, measure: FromPath[str]
    ) -> Response[bytes]:
        """Create or replace the day's value (stored as `manual`); the stored value."""
        _measure_scope(claims, _measure(measure), write=True)
        body = _daily_body(await request.body())
        user = str(claims["sub"])
        store.dailies_state.put(user, measure, body.date, body.value)
        return json_response(
            store.dailies_state.series(user, measure, body.date, body.date, interpolate=False)[0]
        )

    @delete("/{measure:str}", status_code=204, required_scope=ANY_SCOPE)
    async def delete_daily(
        self, request: AnyRequest, store: Store, claims: Claims, measure: FromPath[str]
    ) -> None:
        _measure_scope(claims, _measure(measure), write=True)
        query = QueryParams(request)
        day = _required_date(request, query, "date")
        query.check()
        assert isinstance(day, date)
        if not store.dailies_state.remove(str(claims["sub"]), measure, day):
            raise ApiError(404, f"No {measure} value on {day.isoformat()}")


def _daily_body(raw: bytes) -> wire.DailyWrite:
    """`{date, value}`, validated as FastAPI would: a 422 listing what is wrong."""
    try:
        obj = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        raise ApiError(422, [body_error("json_invalid", [], "JSON decode error", None)]) from None
    if not isinstance(obj, dict):
        raise ApiError(
            422,
            [body_error("model_attributes_type", [], "Input should be a valid dictionary", obj)],
        )
    errors = [
        body_error("missing", [name], "Field required", obj)
        for name in ("date", "value")
        if obj.get(name) is None
    ]
    if errors:
        raise ApiError(422, errors)
    try:
        return msgspec.convert(
            {"date": obj["date"], "value": obj["value"]}, wire.DailyWrite, strict=False
        )
    except msgspec.ValidationError as exc:
        where = "date" if "$.date" in str(exc) else "value"
        raise ApiError(
            422, [body_error("value_error", [where], str(exc), obj.get(where))]
        ) from None
