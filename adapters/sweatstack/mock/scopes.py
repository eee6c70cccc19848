"""Which OAuth scope each route of the SweatStack mock needs, checked in one guard.

A route declares its scope where it is declared, as a route option:

    @get("/", required_scope=ACTIVITIES_READ)
    @post("/upload", required_scope=ACTIVITIES_WRITE)
    @get("/status", required_scope=ANY_SCOPE)   # any valid token, whatever its scopes

`scope_guard` (put on every API route by `app.create_app`) verifies the bearer token (401 in
FastAPI's shape for a missing, bad or expired one) and answers SweatStack's 403 when the
token's `scope` claim does not grant what the route declared. `undeclared_routes` lists the
API routes that declare nothing, and `app.create_app` refuses to build an app with any, so a
new route cannot forget its scope.

The scopes are the client's `Scope` enum. The legacy `data:read` and `data:write` grant
every read and every write scope of the user's data (activities, wellness, reproductive
health, workouts), so a token issued for the old scopes works where SweatStack documents
them: uploads and test writes "require data:write". Tests have no scope of their own in the
new set, so their writes need `data:write` itself; their reads need `activities:read`, as the
client's default scope holds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from training_gateway.adapters._mock import TokenIssuer
from training_gateway.adapters.sweatstack.mock.dialect import ApiError, verified_claims

#: The route option that names the scope a route needs.
REQUIRED_SCOPE: Final = "required_scope"
#: Where the guard leaves the verified claims for the handlers' `claims` dependency.
CLAIMS_STATE_KEY: Final = "sweatstack_claims"

ACTIVITIES_READ: Final = "activities:read"
ACTIVITIES_WRITE: Final = "activities:write"
WELLNESS_READ: Final = "wellness:read"
WELLNESS_WRITE: Final = "wellness:write"
REPRODUCTIVE_HEALTH_READ: Final = "reproductive_health:read"
REPRODUCTIVE_HEALTH_WRITE: Final = "reproductive_health:write"
WORKOUTS_READ: Final = "workouts:read"
WORKOUTS_WRITE: Final = "workouts:write"
SHARING_READ: Final = "sharing:read"
SHARING_WRITE: Final = "sharing:write"
PROFILE: Final = "profile"
ADMIN: Final = "admin"
DATA_READ: Final = "data:read"
DATA_WRITE: Final = "data:write"
#: Declared by a route any valid token may call, whatever its scopes.
ANY_SCOPE: Final = ""

#: Every scope SweatStack knows (the client's `Scope` enum, in its order).
ALL_SCOPES: Final = (
    ACTIVITIES_READ, ACTIVITIES_WRITE, WELLNESS_READ, WELLNESS_WRITE,
    REPRODUCTIVE_HEALTH_READ, REPRODUCTIVE_HEALTH_WRITE, WORKOUTS_READ, WORKOUTS_WRITE,
    SHARING_READ, SHARING_WRITE, "openid", PROFILE, "email", "offline_access", ADMIN,
    DATA_READ, DATA_WRITE,
)  # fmt: skip
#: The scopes a delegated token (a coach or team acting for a user) can carry.
DELEGABLE_SCOPES: Final = (
    ACTIVITIES_READ, ACTIVITIES_WRITE, WELLNESS_READ, WELLNESS_WRITE,
    REPRODUCTIVE_HEALTH_READ, REPRODUCTIVE_HEALTH_WRITE, WORKOUTS_READ, WORKOUTS_WRITE,
)  # fmt: skip
#: What a user's own API key holds: everything but `admin`.
PERSONAL_SCOPE: Final = " ".join(scope for scope in ALL_SCOPES if scope != ADMIN)

#: The legacy umbrella scopes, and the scopes each grants besides itself.
_UMBRELLAS: Final[dict[str, frozenset[str]]] = {
    DATA_READ: frozenset({ACTIVITIES_READ, WELLNESS_READ, REPRODUCTIVE_HEALTH_READ, WORKOUTS_READ}),
    DATA_WRITE: frozenset(
        {ACTIVITIES_WRITE, WELLNESS_WRITE, REPRODUCTIVE_HEALTH_WRITE, WORKOUTS_WRITE}
    ),
}


def granted_scopes(claims: dict[str, Any]) -> frozenset[str]:
    """The scopes a token's `scope` claim (space-separated) grants, umbrellas expanded."""
    held = frozenset(str(claims.get("scope") or "").split())
    return held.union(*(_UMBRELLAS[scope] for scope in held if scope in _UMBRELLAS))


def satisfying(scope: str) -> tuple[str, ...]:
    """The scopes a token may hold to be granted `scope`: itself and its legacy umbrella."""
    return (scope, *(umbrella for umbrella, grants in _UMBRELLAS.items() if scope in grants))


def insufficient_scope(scope: str) -> ApiError:
    """SweatStack's 403 for a token without `scope`: FastAPI's `{"detail": ...}` with an RFC
    6750 challenge naming the scope."""
    accepted = satisfying(scope)
    named = " or ".join(accepted)
    return ApiError(
        403,
        f"Not enough permissions: this endpoint requires the {named} scope",
        {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
    )


def require_scope(claims: dict[str, Any], scope: str) -> None:
    """Raise SweatStack's 403 unless the token's claims grant `scope` (ANY_SCOPE: any token)."""
    if scope != ANY_SCOPE and scope not in granted_scopes(claims):
        raise insufficient_scope(scope)


def scope_guard(tokens: TokenIssuer) -> Any:
    """The guard every API route runs: a valid bearer token (401 otherwise) that grants the
    route's `required_scope` (403 otherwise). The verified claims are left in the request's
    state for the `claims` dependency."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if REQUIRED_SCOPE not in handler.opt:
            # create_app refuses such routes; a route built around it must not slip through.
            raise ApiError(500, "Internal Server Error")
        claims = verified_claims(connection.headers.get("authorization"), tokens)
        require_scope(claims, str(handler.opt[REQUIRED_SCOPE]))
        connection.state[CLAIMS_STATE_KEY] = claims

    return guard


def undeclared_routes(handlers: Iterable[BaseRouteHandler]) -> list[str]:
    """`METHOD path` of each handler that declares no `required_scope`."""
    missing: list[str] = []
    for handler in handlers:
        if REQUIRED_SCOPE not in handler.opt:
            methods = sorted(getattr(handler, "http_methods", ()) or ("WS",))
            missing.extend(f"{method} {path}" for method in methods for path in handler.paths)
    return missing
