"""Sports as Open Sport Taxonomy strings, with the sub-sport containment rule used by filters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

import msgspec
from open_sport_taxonomy import Sport

from training_gateway.models.errors import InvalidInput


def parse_sport_filter(raw: str, *, field: str = "sport") -> Sport:
    """Parse a sport that a caller asks for; unknown codes and modifiers are refused."""
    try:
        return Sport(raw.strip())
    except (ValueError, TypeError) as exc:
        raise InvalidInput(field, f"unknown sport {raw!r}: {exc}") from None


def parse_provider_sport(raw: str) -> Sport:
    """Parse a sport a provider sent; unknown codes are preserved, never dropped."""
    return Sport.parse(raw)


def sport_matches(sport: str, wanted: Iterable[Sport]) -> bool:
    """True when `sport` equals or is a sub-sport of any of `wanted` (an empty filter matches)."""
    filters = list(wanted)
    if not filters:
        return True
    try:
        candidate = Sport.parse(sport)
    except (ValueError, TypeError):
        return False
    return any(candidate.is_subsport_of(parent) for parent in filters)


def canonical_sport(raw: str) -> str:
    """The canonical string of a known sport (modifiers sorted), refusing unknown ones."""
    return str(parse_sport_filter(raw))


class _HasSport(Protocol):
    sport: str


DraftT = TypeVar("DraftT", bound=_HasSport)


def with_canonical_sport(draft: DraftT) -> DraftT:
    """A draft (a msgspec Struct with a `sport`) with its sport in canonical form; an unknown
    sport is refused naming `sport`."""
    return msgspec.structs.replace(draft, sport=canonical_sport(draft.sport))  # type: ignore[type-var]
