"""Parsing query parameters into domain values, naming the parameter when one is wrong."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from training_gateway.models.activity import ActivityStatus
from training_gateway.models.errors import InvalidInput
from training_gateway.models.sport import canonical_sport


def parse_bound(raw: str | None, name: str) -> date | datetime | None:
    """A date (YYYY-MM-DD) or an ISO 8601 datetime; a naive datetime is taken as UTC."""
    if raw is None or raw == "":
        return None
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            _check_year(day, name, raw)
            return day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            name, f"{name}={raw!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime", status=400
        ) from None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    _check_year(moment, name, raw)
    return moment


# Training data lies well inside these years; outside them date arithmetic would overflow.
MIN_YEAR, MAX_YEAR = 1900, 2200


def _check_year(bound: date, name: str, raw: str) -> None:
    if not MIN_YEAR <= bound.year <= MAX_YEAR:
        raise InvalidInput(
            name, f"{name}={raw!r} lies outside the years {MIN_YEAR}-{MAX_YEAR}", status=400
        )


def check_order(start: date | datetime | None, end: date | datetime | None) -> None:
    """Refuse a range whose end lies before its start (a date spans its whole day)."""
    if start is None or end is None:
        return
    first = start if isinstance(start, datetime) else datetime.combine(start, time.min, UTC)
    last = end if isinstance(end, datetime) else datetime.combine(end, time.max, UTC)
    if first > last:
        raise InvalidInput("end", "end lies before start", status=400)


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
        raise InvalidInput("sport", exc.detail, status=400) from None


def parse_statuses(values: list[str] | None) -> tuple[ActivityStatus, ...]:
    statuses = []
    for raw in split_repeated(values):
        try:
            statuses.append(ActivityStatus(raw))
        except ValueError:
            allowed = ", ".join(s.value for s in ActivityStatus)
            raise InvalidInput(
                "status", f"unknown status {raw!r}; one of {allowed}", status=400
            ) from None
    return tuple(statuses)


def parse_providers(values: list[str] | None, known: set[str]) -> tuple[str, ...]:
    providers = split_repeated(values)
    for name in providers:
        if name not in known:
            raise InvalidInput(
                "provider",
                f"unknown provider {name!r}; known: {', '.join(sorted(known))}",
                status=400,
            )
    return tuple(sorted(set(providers)))
