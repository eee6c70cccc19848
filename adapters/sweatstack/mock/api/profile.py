"""`/api/v1/profile/...` (the user a token acts as: account status, sports, tags, app
metadata), `/api/v1/users/...` (the users a caller can access, and the managed users it
creates) and `/api/v1/oauth/delegated-token` / `principal-token` (acting as a managed user, and
back), as the official client 0.97 calls them.

A delegated token's `sub` is the user it acts as; its `act` claim (RFC 8693) names the
principal and the principal's scope, which `principal-token` restores. A delegated token
holds only the delegable scopes (activities, wellness, reproductive health, workouts) the
principal's token held. The mock has no shares or teams: a principal may delegate to its
managed users only (anyone else, or any `team_id`, is SweatStack's 403).

Scopes, where SweatStack documents them: `profile/status` takes any valid token whatever its
scopes; `users/` needs no `profile` scope (the client's `whoami` relies on it). Where it is
silent the mock chooses, and says so: sports and tags reveal activity data, so they need
`activities:read`; the users routes and the token exchanges take any valid token; app
metadata takes any valid *app* token (a personal token is SweatStack's 403, as on tests).

`profile/status` follows the mock's state: `activity_history` is `syncing` (with a
`sync_pending` issue) until the backfill has loaded every activity of the user
(`store.backfill_loaded`), then `ready`; `activities` is `ready`; `wellness` and `workouts`
are `unavailable` (no source of the seeded athletes provides them).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from training_gateway.adapters._mock.oauth import AuthorizationServer
from training_gateway.adapters.sweatstack.mock.dialect import (
    AnyRequest,
    ApiError,
    QueryParams,
    body_error,
    json_response,
)
from training_gateway.adapters.sweatstack.mock.profiles import Account
from training_gateway.adapters.sweatstack.mock.scopes import (
    ACTIVITIES_READ,
    ALL_SCOPES,
    ANY_SCOPE,
    DELEGABLE_SCOPES,
    granted_scopes,
)
from training_gateway.adapters.sweatstack.mock.store import SweatStackStore, ulid_like

MAX_PROFILE_APP_METADATA_BYTES: Final = 4096
MAX_APP_METADATA_DEPTH: Final = 32

Store = NamedDependency[SweatStackStore]
Claims = NamedDependency[dict[str, Any]]


def _caller(claims: dict[str, Any]) -> str:
    return str(claims["sub"])


def _actor(claims: dict[str, Any]) -> dict[str, Any] | None:
    """A delegated token's `act` claim (the principal), None for a principal's token."""
    act = claims.get("act")
    return act if isinstance(act, dict) and act.get("sub") else None


def _principal(claims: dict[str, Any]) -> tuple[str, str]:
    """The signed-in user behind a token and the scope of their own token (for a delegated
    token, what its `act` claim says)."""
    act = _actor(claims)
    if act is not None:
        return str(act["sub"]), str(act.get("scope", ""))
    return _caller(claims), str(claims.get("scope") or "")


class _DelegationRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sub: str
    team_id: str | None = None


def _flag(request: AnyRequest, query: QueryParams, name: str, default: bool) -> bool:
    """A boolean query parameter as FastAPI reads one (a bad value is a 422 item)."""
    values = request.query_params.getall(name, [])
    if not values:
        return default
    value = values[-1].strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    query.error(
        name, "bool_parsing", "Input should be a valid boolean, unable to interpret input", value
    )
    return default


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def app_metadata_document(raw: bytes, *, max_bytes: int) -> dict[str, Any]:
    """An app-metadata body: a JSON object of at most `max_bytes` (compact) and 32 levels;
    422 (not an object, not JSON, too deep) or 413 (too large) in SweatStack's shape."""
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise ApiError(422, [body_error("json_invalid", [], "JSON decode error", None)]) from None
    if not isinstance(data, dict):
        raise ApiError(
            422, [body_error("dict_type", [], "Input should be a valid dictionary", data)]
        )
    if len(msgspec.json.encode(data)) > max_bytes:
        raise ApiError(413, f"App metadata is limited to {max_bytes // 1024} KB")
    if _depth(data) > MAX_APP_METADATA_DEPTH:
        raise ApiError(
            422,
            [
                body_error(
                    "value_error", [], "Value error, app metadata is limited to 32 levels", None
                )
            ],
        )
    return data


def _app_of(claims: dict[str, Any]) -> str:
    app = claims.get("client_id")
    if not app:
        raise ApiError(403, "App metadata needs an app token")
    return str(app)


class ProfileController(Controller):
    """/api/v1/profile: status, sports, tags and app metadata of the user the token acts as."""

    path = "/api/v1/profile"

    @get("/status", required_scope=ANY_SCOPE)
    async def status(self, store: Store, claims: Claims) -> Response[bytes]:
        user = _caller(claims)
        total = len(store.activities_of(user))
        loaded = store.backfill_loaded.get(user, 0)
        syncing = loaded < total
        issue = (
            {
                "code": "sync_pending",
                "status": "syncing",
                "message": f"Your activity history is still arriving ({loaded} of {total}).",
                "destination": None,
            }
            if syncing
            else None
        )
        return json_response(
            {
                "issue": issue,
                "capabilities": {
                    "activities": "ready",
                    "activity_history": "syncing" if syncing else "ready",
                    "wellness": "unavailable",
                    "workouts": "unavailable",
                },
            }
        )

    @get(["/sports/", "/sports"], required_scope=ACTIVITIES_READ)
    async def profile_sports(
        self, request: AnyRequest, store: Store, claims: Claims
    ) -> Response[bytes]:
        query = QueryParams(request)
        only_root = _flag(request, query, "only_root", False)
        query.check()
        sports = {stored.sport for stored in store.activities_of(_caller(claims))}
        if only_root:
            sports = {sport.split(".", 1)[0] for sport in sports}
        return json_response(sorted(sports))

    @get(["/tags/", "/tags"], required_scope=ACTIVITIES_READ)
    async def profile_tags(self, store: Store, claims: Claims) -> Response[bytes]:
        user = _caller(claims)
        tags = {tag for stored in store.activities_of(user) for tag in stored.tags}
        tags |= {tag for test in store.tests_state.of(user) for tag in test.tags or ()}
        return json_response(sorted(tags))

    @put("/app-metadata", status_code=204, required_scope=ANY_SCOPE)
    async def put_app_metadata(self, request: AnyRequest, store: Store, claims: Claims) -> None:
        app = _app_of(claims)
        data = app_metadata_document(await request.body(), max_bytes=MAX_PROFILE_APP_METADATA_BYTES)
        store.profiles.set_app_metadata(_caller(claims), app, data)

    @delete("/app-metadata", status_code=204, required_scope=ANY_SCOPE)
    async def delete_app_metadata(self, store: Store, claims: Claims) -> None:
        store.profiles.set_app_metadata(_caller(claims), _app_of(claims), None)


class _UserCreate(msgspec.Struct, kw_only=True):
    first_name: str
    last_name: str | None = None


_created = itertools.count(1)


def _managed_or_404(store: SweatStackStore, claims: dict[str, Any], user_id: str) -> Account:
    account = store.profiles.managed(_caller(claims), user_id)
    if account is None:
        raise ApiError(404, "User not found")
    return account


class UsersController(Controller):
    """/api/v1/users: the users the caller can access; managed users' create, read, rename
    (form-encoded, as the client sends it) and delete."""

    path = "/api/v1/users"

    @get(["/", ""], required_scope=ANY_SCOPE)
    async def list_users(
        self, request: AnyRequest, store: Store, claims: Claims
    ) -> Response[bytes]:
        if _actor(claims) is not None:
            raise ApiError(403, "This endpoint does not accept delegated tokens")
        query = QueryParams(request)
        managed = _flag(request, query, "include_managed", True)
        _flag(request, query, "include_shared", True)  # nobody shares in the mock's state
        name = request.query_params.get("name")
        query.check()
        held = granted_scopes(claims)
        own_scopes: list[str] = [scope for scope in ALL_SCOPES if scope in held]
        users = [
            account.summary(own_scopes if account.managed_by is None else list(DELEGABLE_SCOPES))
            for account in store.profiles.visible_to(_caller(claims), managed=managed)
        ]
        if name is not None:
            users = [u for u in users if name.casefold() in u["display_name"].casefold()]
        return json_response(users)

    @post(["/", ""], status_code=201, required_scope=ANY_SCOPE)
    async def create_user(
        self, request: AnyRequest, store: Store, claims: Claims
    ) -> Response[bytes]:
        try:
            body = msgspec.json.decode(await request.body(), type=_UserCreate)
        except msgspec.ValidationError as exc:
            raise ApiError(422, [body_error("value_error", [], str(exc), None)]) from None
        except msgspec.DecodeError:
            raise ApiError(
                422, [body_error("json_invalid", [], "JSON decode error", None)]
            ) from None
        manager = _caller(claims)
        user_id = "usr_" + ulid_like(datetime.now(UTC), manager, "managed", next(_created))
        account = store.profiles.create_managed(manager, user_id, body.first_name, body.last_name)
        return json_response(account.response(), 201)

    @get("/{user_id:str}", required_scope=ANY_SCOPE)
    async def retrieve_user(
        self, store: Store, claims: Claims, user_id: FromPath[str]
    ) -> Response[bytes]:
        return json_response(_managed_or_404(store, claims, user_id).response())

    @put("/{user_id:str}", required_scope=ANY_SCOPE)
    async def update_user(
        self, request: AnyRequest, store: Store, claims: Claims, user_id: FromPath[str]
    ) -> Response[bytes]:
        account = _managed_or_404(store, claims, user_id)
        form = await request.form()
        store.profiles.rename(account, form.get("first_name"), form.get("last_name"))
        return json_response(account.response())

    @delete("/{user_id:str}", status_code=204, required_scope=ANY_SCOPE)
    async def delete_user(self, store: Store, claims: Claims, user_id: FromPath[str]) -> None:
        store.profiles.delete(_managed_or_404(store, claims, user_id))


def token_exchange_routes(auth: AuthorizationServer) -> list[Any]:
    """`POST /api/v1/oauth/delegated-token` (act as a managed user) and `GET
    /api/v1/oauth/principal-token` (a fresh grant for the signed-in user, also from a
    delegated token), each a real grant of the authorization server (refreshable, revocable)."""

    @post("/api/v1/oauth/delegated-token", status_code=200, required_scope=ANY_SCOPE)
    async def delegated_token(request: AnyRequest, store: Store, claims: Claims) -> Response[bytes]:
        try:
            body = msgspec.json.decode(await request.body(), type=_DelegationRequest)
        except msgspec.ValidationError as exc:
            raise ApiError(422, [body_error("value_error", [], str(exc), None)]) from None
        except msgspec.DecodeError:
            raise ApiError(
                422, [body_error("json_invalid", [], "JSON decode error", None)]
            ) from None
        principal, principal_scope = _principal(claims)
        if body.team_id is not None:
            raise ApiError(403, f"You have no access to {body.sub} through team {body.team_id}")
        if store.profiles.managed(principal, body.sub) is None:
            raise ApiError(403, f"You have no access to user {body.sub}")
        held = granted_scopes({"scope": principal_scope})
        grant = auth.issue_grant(
            body.sub,
            client_id=str(claims.get("client_id") or ""),
            scope=" ".join(scope for scope in DELEGABLE_SCOPES if scope in held),
            claims={"act": {"sub": principal, "scope": principal_scope}},
        )
        return json_response(grant)

    @get("/api/v1/oauth/principal-token", required_scope=ANY_SCOPE)
    async def principal_token(claims: Claims) -> Response[bytes]:
        principal, scope = _principal(claims)
        grant = auth.issue_grant(
            principal, client_id=str(claims.get("client_id") or ""), scope=scope
        )
        return json_response(grant)

    return [delegated_token, principal_token]
