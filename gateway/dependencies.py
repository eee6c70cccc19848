"""What handlers ask for, declared once for the /v1 router (Litestar dependency injection):
the caller, their sources, the repositories, and the query parameters lists share.

This module does not use `from __future__ import annotations`: the parameter factories below
put a description into each provider's annotations, which must be evaluated where they are
written, for Litestar to document the query parameters they read.
"""

import hmac
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.params import Parameter

from training_gateway.gateway.errors import AdminDisabled, AdminKeyRejected
from training_gateway.gateway.params import (
    check_order,
    parse_bound,
    parse_providers,
    parse_sports,
    split_repeated,
)
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.federation import DEFAULT_LIMIT, MAX_LIMIT, Consistency
from training_gateway.gateway.services.sources import CallerSources
from training_gateway.gateway.storage import AnalyticsRepository, HrModelRepository, Store, User


async def provide_gateway(state: State) -> Gateway:
    gateway: Gateway = state.gateway
    return gateway


async def authenticate(request: Request[Any, Any, Any]) -> None:
    """Before a /v1 route parses anything: who is calling (401 for a missing, unknown or
    revoked key), so a caller without a key learns that first, whatever else is wrong. The
    routes a provider redirects a browser to need no key."""
    opt = request.route_handler.opt
    if request.method == "OPTIONS" or opt.get("provider_redirect"):
        return
    if opt.get("signed_by_provider"):  # a provider's webhook: its signature is checked
        return
    if opt.get("admin"):
        check_admin(request, request.app.state.gateway)
        return
    request.state.caller = await resolve_caller(request, request.app.state.gateway)


def check_admin(request: Request[Any, Any, Any], gateway: Gateway) -> None:
    """The operator's routes take the gateway's admin key (compared in constant time), and
    answer 403 on a gateway that has none."""
    admin_key = gateway.settings.admin_key
    if not admin_key:
        raise AdminDisabled()
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AdminKeyRejected("send the gateway's admin key as 'Authorization: Bearer <key>'")
    if not hmac.compare_digest(key.strip().encode(), admin_key.encode()):
        raise AdminKeyRejected("this is not the gateway's admin key")


async def provide_caller(request: Request[Any, Any, Any], gateway: Gateway) -> User:
    """The caller `authenticate` found (resolved again where it did not run)."""
    caller = request.state.get("caller")
    if isinstance(caller, User):
        return caller
    return await resolve_caller(request, gateway)


async def resolve_caller(request: Request[Any, Any, Any], gateway: Gateway) -> User:
    """The user owning the presented API key; 401 for a missing, unknown or revoked key."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthorizedException(
            detail="send your gateway API key as 'Authorization: Bearer <key>'"
        )
    user = await gateway.store.user_for_api_key(key.strip())
    if user is None:
        raise NotAuthorizedException(detail="the API key is unknown or revoked")
    return user


async def optional_caller(request: Request[Any, Any, Any], gateway: Gateway) -> User | None:
    """The caller when a key is sent, else None (the OAuth callback is a browser redirect and
    needs no key; when one is sent it must be valid)."""
    if not request.headers.get("authorization"):
        return None
    return await resolve_caller(request, gateway)


async def provide_sources(gateway: Gateway, caller: User) -> CallerSources:
    return CallerSources(gateway, caller)


async def provide_store(gateway: Gateway) -> Store:
    return gateway.store


async def provide_analytics(gateway: Gateway) -> AnalyticsRepository:
    return AnalyticsRepository(gateway.store)


async def provide_hr_models(gateway: Gateway) -> HrModelRepository:
    return HrModelRepository(gateway.store)


# A date, or an ISO 8601 date and time (a naive one is UTC), as `start`/`end` take them.
BOUND = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})?)?$"


class Span:
    """The `start` and `end` bounds of a query: a date (a local calendar day) or a datetime.

    A plain class, not a dataclass: Litestar passes it to handlers as it is."""

    __slots__ = ("end", "start")

    def __init__(self, start: date | datetime | None, end: date | datetime | None) -> None:
        self.start = start
        self.end = end


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None


def span_parameters(description: str) -> Provide:
    """`start` and `end`, parsed and in order, documented with `description`."""

    async def provide_span(
        start: Annotated[str | None, Parameter(description=description, pattern=BOUND)] = None,
        end: Annotated[str | None, Parameter(description=description, pattern=BOUND)] = None,
    ) -> Span:
        span = Span(start=parse_bound(start, "start"), end=parse_bound(end, "end"))
        check_order(span.start, span.end)
        return span

    return Provide(provide_span)


def sport_parameter(description: str) -> Provide:
    """`sport`, repeatable: canonical Open Sport Taxonomy codes."""

    async def provide_sports(
        sport: Annotated[list[str] | None, Parameter(description=description)] = None,
    ) -> tuple[str, ...]:
        return parse_sports(sport)

    return Provide(provide_sports)


def provider_parameter(description: str) -> Provide:
    """`provider`, repeatable: names of providers this gateway serves."""

    async def provide_providers(
        gateway: Gateway,
        provider: Annotated[list[str] | None, Parameter(description=description)] = None,
    ) -> tuple[str, ...]:
        return parse_providers(provider, set(gateway.adapters))

    return Provide(provide_providers)


async def provide_tags(
    tags: Annotated[
        list[str] | None, Parameter(description="Tag, repeatable; all must be present")
    ] = None,
) -> tuple[str, ...]:
    return tuple(sorted(set(split_repeated(tags))))


async def provide_page(
    limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Parameter(description="`next_cursor` of the previous page")
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


async def provide_consistency(
    consistency: Annotated[
        Consistency,
        Parameter(
            description=(
                "`index` (the default): providers whose records the gateway has indexed and "
                "synced recently are read from its index, by keyset, and named in `freshness` "
                "with when they were synced; the others are read live. `live`: every provider "
                "is read live."
            )
        ),
    ] = "index",
) -> Consistency:
    return consistency


# The /v1 router's dependencies. Lists of records (activities, lab tests) read their filters
# through `span`, `sports`, `providers`, `wanted_tags` and `page`.
V1_DEPENDENCIES: dict[str, Provide] = {
    "gateway": Provide(provide_gateway),
    "caller": Provide(provide_caller),
    "sources": Provide(provide_sources),
    "store": Provide(provide_store),
    "analytics": Provide(provide_analytics),
    "hr_models": Provide(provide_hr_models),
    "span": span_parameters("Date (local calendar day, inclusive) or ISO 8601 datetime"),
    "sports": sport_parameter(
        "Open Sport Taxonomy code, repeatable; a parent matches its sub-sports"
    ),
    "providers": provider_parameter("Provider name, repeatable"),
    "wanted_tags": Provide(provide_tags),
    "page": Provide(provide_page),
    "read_consistency": Provide(provide_consistency),
}

# Longitudinal queries document their bounds more briefly.
LONGITUDINAL_DEPENDENCIES: dict[str, Provide] = {
    "span": span_parameters("Date or datetime, inclusive"),
    "sports": sport_parameter("OST sport, repeatable"),
    "providers": provider_parameter("Provider, repeatable"),
}
