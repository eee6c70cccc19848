"""What every provider mock's facade shares, written once: the token issuer, the authorization
server, fault injection, the mock's clock and control routes, the ASGI app wrapping,
`token_for` and `user_claims`.

A provider's mock is a package: `store.py` holds its state (no HTTP), `api` its Litestar
controllers (which ask for the store by name), `dialect.py` its error bodies and parameter
rules, `app.py` builds the Litestar app, and `__init__.py` is a thin `ProviderMock` subclass
tying them together, with a module-level `create_mock` registered under the
`training_gateway.mocks` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    ParamSpec,
    Protocol,
    Self,
    TypeVar,
    overload,
    runtime_checkable,
)

from training_gateway.adapters._mock.clock import MockClock
from training_gateway.adapters._mock.control import clock_routes, create_control_app
from training_gateway.adapters._mock.faults import FaultInjector
from training_gateway.adapters._mock.oauth import AuthorizationServer, AuthPaths
from training_gateway.adapters._mock.tokens import TokenIssuer

if TYPE_CHECKING:
    from litestar.types import ASGIApp

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


@runtime_checkable
class MockProvider(Protocol):
    """A stateful mock of a provider's API, served over real HTTP, with fault injection."""

    name: str
    faults: FaultInjector
    tokens: TokenIssuer
    # The provider's OAuth authorization server (optional for third-party mocks).
    auth: AuthorizationServer

    def asgi_app(self) -> ASGIApp:
        """The mock's ASGI application."""
        ...

    def token_for(self, user: str | None = None) -> str:
        """A signed access token for a seeded user (the default user when None)."""
        ...


class SeededStore(Protocol):
    """What the shared facade needs of a provider's store: who its users are (the first is the
    default one) and what userinfo says of each."""

    @property
    def user_ids(self) -> Sequence[str]: ...

    def user_claims(self, user: str) -> dict[str, Any]: ...


StoreT = TypeVar("StoreT", bound=SeededStore)
StoreT_co = TypeVar("StoreT_co", bound=SeededStore, covariant=True)


class StoreFactory(Protocol[StoreT_co]):
    """How a provider's store is seeded (its class, usually)."""

    def __call__(self, seed: int, *, today: date | None, history_days: int) -> StoreT_co: ...


@dataclass(frozen=True)
class MockParts(Generic[StoreT]):
    """A provider mock's own pieces: its `store` (seeded from the mock's arguments), the `app`
    serving it (given the store, the token issuer and the authorization server), and what the
    fault injector is served behind (`outer`, nothing unless a provider says so)."""

    store: StoreFactory[StoreT]
    app: Callable[[StoreT, TokenIssuer, AuthorizationServer], Any]
    outer: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class OAuthProfile:
    """How a provider's authorization server is set up: where it serves each endpoint, whether
    it speaks OpenID Connect, the scope it grants when none is asked for, and whether the token
    endpoint insists on the authorization request's redirect_uri."""

    paths: AuthPaths
    openid: bool
    default_scope: str
    token_redirect_uri_required: bool = True


class ProviderMock(Generic[StoreT]):
    """A provider's mock: its store behind its Litestar app, behind a `FaultInjector`, with the
    provider's authorization server and a `TokenIssuer` signing its tokens; implements
    `MockProvider`.

    A provider says what differs in class attributes (`name`, `display_name`, `issuer`,
    `oauth`, `parts`) and, where its tokens differ, by overriding `access_claims`; it adds
    control routes (under `/_mock/`) by overriding `control_routes`. `store`, `tokens`, `auth`,
    `app`, `faults` and `clock` are public so tests can inspect and change the state.
    """

    name: str
    display_name: str
    #: The `iss` of the tokens it signs (unless a shared `TokenIssuer` is given).
    issuer: str
    oauth: OAuthProfile
    parts: MockParts[StoreT]

    def __init__(
        self,
        seed: int = 0,
        *,
        today: date | None = None,
        tokens: TokenIssuer | None = None,
        history_days: int = 90,
        clock: MockClock | None = None,
    ) -> None:
        """`today` pins the seeded history's last day; `tokens` lets mocks share a signing key;
        `history_days` is how far back the default user's history goes; `clock` is what the
        mock's scheduled work and outside changes take as now (the wall clock when None)."""
        self.seed = seed
        #: What the mock's own work takes as now: freeze, advance or speed it up in tests.
        self.clock = clock or MockClock()
        self.store = self.parts.store(seed, today=today, history_days=history_days)
        self.tokens = tokens or TokenIssuer(self.issuer)
        self.auth = AuthorizationServer(
            self.tokens,
            paths=self.oauth.paths,
            openid=self.oauth.openid,
            users=lambda: self.store.user_ids,
            user_claims=self.user_claims,
            default_scope=self.oauth.default_scope,
            token_redirect_uri_required=self.oauth.token_redirect_uri_required,
        )
        self.app = self.parts.app(self.store, self.tokens, self.auth)
        self._control_app: Any = None
        self.faults = FaultInjector(self.app, control=self._serve_control)
        outer = self.parts.outer
        self._asgi_app = self.faults if outer is None else outer(self.faults)

    def access_claims(self, user: str) -> dict[str, Any]:
        """What an access token from `token_for` says besides who it is for and when it
        expires: the provider's default scope, unless a provider says otherwise."""
        return {"scope": self.oauth.default_scope}

    @property
    def default_user(self) -> str:
        return self.store.user_ids[0]

    def asgi_app(self) -> Any:
        """The ASGI app to serve: fault injection around the Litestar app (inside whatever
        `parts.outer` puts around it)."""
        return self._asgi_app

    def user_claims(self, user: str) -> dict[str, Any]:
        """What userinfo (and an ID token) say of a seeded user."""
        return self.store.user_claims(user)

    def control_routes(self) -> list[Any]:
        """The Litestar handlers of the mock's control routes (under `/_mock/`, loopback only,
        never faulted): `/_mock/clock` here; a provider adds its own."""
        return clock_routes(self.clock)

    async def _serve_control(self, scope: Any, receive: Any, send: Any) -> None:
        # Built on first use: most mocks are never driven from outside.
        if self._control_app is None:
            self._control_app = create_control_app(self.control_routes())
        await self._control_app(scope, receive, send)

    def close(self) -> None:
        """Stop whatever the mock runs in the background (nothing, unless a provider says)."""

    def token_for(
        self,
        user: str | None = None,
        *,
        ttl_s: int | None = None,
        client_id: str | None = None,
        scope: str | None = None,
    ) -> str:
        """A signed access token whose `sub` is `user` (the default user when None); with
        `client_id`, an app's token (as the OAuth flow issues them); with `scope`, one
        granting only that (space-separated) instead of what `access_claims` says."""
        subject = user or self.default_user
        if subject not in self.store.user_ids:
            raise KeyError(f"unknown {self.display_name} mock user {subject!r}")
        claims = self.access_claims(subject)
        if client_id:
            claims["client_id"] = client_id
        if scope is not None:
            claims["scope"] = scope
        return self.tokens.issue(subject, ttl_s=ttl_s, **claims)


class StoreAttribute(Generic[T]):
    """A facade attribute that is its store's, read and written through: the facade keeps a
    provider's public API (`mock.backfill_step = 1`) while the state lives in the store."""

    def __init__(self, method: Callable[..., Any] | None = None) -> None:
        self._method = method
        self.__doc__ = method.__doc__ if method is not None else None

    def __set_name__(self, owner: type, name: str) -> None:
        if self._method is not None and self._method.__name__ != name:
            raise TypeError(f"{owner.__name__}.{name} would forward {self._method.__name__}")
        self.name = name

    @overload
    def __get__(self, facade: None, owner: type) -> Self: ...

    @overload
    def __get__(self, facade: ProviderMock[Any], owner: type) -> T: ...

    def __get__(self, facade: ProviderMock[Any] | None, owner: type) -> Self | T:
        if facade is None:
            return self
        value: T = getattr(facade.store, self.name)
        return value

    def __set__(self, facade: ProviderMock[Any], value: T) -> None:
        setattr(facade.store, self.name, value)


def store_method(method: Callable[Concatenate[Any, P], R]) -> StoreAttribute[Callable[P, R]]:
    """A facade method that is the store's method of the same name (with its signature)."""
    return StoreAttribute[Callable[P, R]](method)
