"""Parsing query parameters into domain values, naming the parameter when one is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from litestar import Request

from training_gateway.models.activity import MAX_YEAR, MIN_YEAR, ActivityStatus
from training_gateway.models.curves import CURVE_ORIENTATIONS, CurveOrientation
from training_gateway.models.errors import InvalidInput, InvalidParameter, UnsupportedMediaType
from training_gateway.models.segmentation import SEGMENTATION_METRICS
from training_gateway.models.sport import canonical_sport
from training_gateway.models.timeseries import parse_metrics


def parse_bound(raw: str | None, name: str) -> date | datetime | None:
    """A date (YYYY-MM-DD) or an ISO 8601 datetime; a naive datetime is taken as UTC."""
    if raw is None or raw == "":
        return None
    text = raw.strip().upper()  # ISO 8601 lets `t` and `z` be lowercase
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            _check_year(day, name, raw)
            return day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidParameter(
            name, f"{name}={raw!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime"
        ) from None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    _check_year(moment, name, raw)
    return moment


def _check_year(bound: date, name: str, raw: str) -> None:
    if not MIN_YEAR <= bound.year <= MAX_YEAR:
        raise InvalidParameter(name, f"{name}={raw!r} lies outside the years {MIN_YEAR}-{MAX_YEAR}")


def check_order(start: date | datetime | None, end: date | datetime | None) -> None:
    """Refuse a range whose end lies before its start (a date spans its whole day)."""
    if start is None or end is None:
        return
    first = start if isinstance(start, datetime) else datetime.combine(start, time.min, UTC)
    last = end if isinstance(end, datetime) else datetime.combine(end, time.max, UTC)
    if first > last:
        raise InvalidParameter("end", "end lies before start")


def split_repeated(values: list[str] | None) -> list[str]:
    """A repeatable parameter, also accepting comma-separated values."""
    out: list[str] = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


def parse_sports(values: list[str] | None) -> tuple[str, ...]:
    return tuple(canonical_sport_param(s) for s in split_repeated(values))


def canonical_sport_param(raw: str) -> str:
    try:
        return canonical_sport(raw)
    except InvalidInput as exc:
        raise InvalidParameter("sport", exc.detail) from None


def parse_statuses(values: list[str] | None) -> tuple[ActivityStatus, ...]:
    statuses = []
    for raw in split_repeated(values):
        try:
            statuses.append(ActivityStatus(raw))
        except ValueError:
            allowed = ", ".join(s.value for s in ActivityStatus)
            raise InvalidParameter("status", f"unknown status {raw!r}; one of {allowed}") from None
    return tuple(statuses)


def parse_providers(values: list[str] | None, known: set[str]) -> tuple[str, ...]:
    providers = split_repeated(values)
    for name in providers:
        if name not in known:
            raise InvalidParameter(
                "provider", f"unknown provider {name!r}; known: {', '.join(sorted(known))}"
            )
    return tuple(sorted(set(providers)))


MAX_DURATIONS = 5000
MAX_DURATION_S = 7 * 86400
MAX_AFTER_VALUES = 5
MAX_AFTER_RANGE_DAYS = 366


def parse_durations(raw: str | None) -> Sequence[int] | str | None:
    """`durations`: comma-separated whole seconds (1 s to 7 days), or `all`."""
    if raw is None or raw.strip() == "":
        return None
    if raw.strip().lower() == "all":
        return "all"
    values: list[int] = []
    for part in raw.split(","):
        try:
            value = int(part.strip())
        except ValueError:
            raise InvalidParameter(
                "durations", f"{part.strip()!r} is not a whole number of seconds"
            ) from None
        if not 1 <= value <= MAX_DURATION_S:
            raise InvalidParameter("durations", f"{value} is outside 1 s to 7 days")
        values.append(value)
    if len(values) > MAX_DURATIONS:
        raise InvalidParameter("durations", f"at most {MAX_DURATIONS} durations")
    return values


def parse_metrics_parameter(raw: list[str] | None) -> tuple[str, ...]:
    """`metrics`: timeseries metrics, repeatable or comma-separated; default all."""
    try:
        return parse_metrics(raw)
    except InvalidInput as exc:
        raise InvalidParameter(exc.field, exc.detail) from None


def parse_segmentation_on(raw: str | None) -> str | None:
    """`segmentation_on`: the metric to segment on, power or speed; None: not segmented."""
    if raw is None:
        return None
    if raw not in SEGMENTATION_METRICS:
        raise InvalidParameter(
            "segmentation_on",
            f"segmentation is on {' or '.join(SEGMENTATION_METRICS)}, not {raw!r}",
        )
    return raw


def parse_metric(raw: str, allowed: Sequence[str]) -> str:
    if raw not in allowed:
        raise InvalidParameter("metric", f"unknown metric {raw!r}; one of {', '.join(allowed)}")
    return raw


def parse_orientation(raw: str | None) -> CurveOrientation | None:
    """`by`: `duration` or `intensity` (None when not given)."""
    if raw is None:
        return None
    if raw not in CURVE_ORIENTATIONS:
        raise InvalidParameter("by", f"by must be 'duration' or 'intensity', not {raw!r}")
    return cast(CurveOrientation, raw)


def parse_afters(raw: list[str] | None) -> list[float]:
    """`after`: amounts of prior work (kJ or m), repeatable or comma-separated, at most 5."""
    values: list[float] = []
    for part in (part for item in raw or [] for part in item.split(",")):
        try:
            value = float(part)
        except ValueError:
            raise InvalidParameter(
                "after", f"{part!r} is not a number (kJ for power, m for speed)"
            ) from None
        if not (value >= 0 and value < 1e7):
            raise InvalidParameter("after", f"{part!r} must be a non-negative amount of work")
        values.append(value)
    if len(values) > MAX_AFTER_VALUES:
        raise InvalidParameter("after", f"at most {MAX_AFTER_VALUES} after values")
    return sorted(set(values))


def check_after_range(start: date | datetime | None, end: date | datetime | None) -> None:
    """With `after`, the range is capped at a year, as SweatStack caps it."""

    def as_moment(bound: date | datetime | None, default: datetime) -> datetime:
        if isinstance(bound, datetime):
            return bound
        if isinstance(bound, date):
            return datetime.combine(bound, time.min, UTC)
        return default

    now = datetime.now(UTC)
    first = as_moment(start, now - timedelta(days=MAX_AFTER_RANGE_DAYS))
    last = as_moment(end, now)
    if last - first > timedelta(days=MAX_AFTER_RANGE_DAYS):
        raise InvalidParameter("start", "with after, the date range is capped at one year")


def require_json_body(request: Request[Any, Any, Any], preferred: str) -> None:
    """A merge patch must come as `preferred` (or plain JSON); UnsupportedMediaType otherwise."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (preferred, "application/json"):
        raise UnsupportedMediaType("Content-Type", f"send the patch as {preferred}")
