"""The caller's provider connections: connect through OAuth (PKCE, OIDC), or with a personal
token where a provider allows one; list them; remove them."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Redirect
from msgspec import Meta

from training_gateway.gateway.dependencies import optional_caller
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.connections import (
    MAX_RETURN_TO_CHARS,
    AuthorizationStart,
    ConnectionFlow,
    ConnectionView,
    Disconnected,
)
from training_gateway.gateway.storage import User


class ConnectRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Start connecting a provider. `return_to` is where the browser goes afterwards (it must
    be allowed by GATEWAY_RETURN_TO_ALLOWLIST); `login_hint` is passed to the provider."""

    return_to: Annotated[str, Meta(pattern="^https?://", max_length=MAX_RETURN_TO_CHARS)]
    login_hint: Annotated[str, Meta(min_length=1, max_length=320)] | None = None


class BearerConnection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A personal access token the user got from the provider."""

    # Printable ASCII, as a bearer token must be to travel in a header (RFC 6750 allows less).
    access_token: Annotated[str, Meta(min_length=1, max_length=8192, pattern=r"^[\x21-\x7e]+$")]

    def __repr__(self) -> str:
        return "BearerConnection(access_token=<redacted>)"


async def provide_flow(gateway: Gateway) -> ConnectionFlow:
    return ConnectionFlow(gateway)


class ConnectionController(Controller):
    path = "/connections"
    tags = ["connections"]
    dependencies = {"flow": Provide(provide_flow)}

    @get(
        "/", summary="Your provider connections: status (active, expired, revoked), scopes, subject"
    )
    async def list_connections(
        self, caller: NamedDependency[User], flow: NamedDependency[ConnectionFlow]
    ) -> list[ConnectionView]:
        return await flow.connections(caller)

    @post(
        "/{provider:str}",
        status_code=200,
        summary="Start connecting a provider: the authorization URL to send the user to",
    )
    async def connect(
        self,
        provider: str,
        data: ConnectRequest,
        caller: NamedDependency[User],
        flow: NamedDependency[ConnectionFlow],
    ) -> AuthorizationStart:
        return await flow.begin(caller, provider, data.return_to, data.login_hint)

    @put("/{provider:str}", summary="Connect a provider with a personal access token")
    async def connect_with_token(
        self,
        provider: str,
        data: BearerConnection,
        caller: NamedDependency[User],
        flow: NamedDependency[ConnectionFlow],
    ) -> ConnectionView:
        return await flow.connect_token(caller, provider, data.access_token)

    @delete(
        "/{provider:str}",
        status_code=200,
        summary="Disconnect: revoke at the provider where it can, delete the stored tokens",
    )
    async def disconnect(
        self, provider: str, caller: NamedDependency[User], flow: NamedDependency[ConnectionFlow]
    ) -> Disconnected:
        return await flow.disconnect(caller, provider)


@get(
    "/connections/{provider:str}/callback",
    tags=["connections"],
    summary="Where the provider sends the browser back: finishes connecting, then redirects to return_to",
    # A browser redirect needs no key; when one is sent, it must be the key of the user who
    # started the connection.
    dependencies={"flow": Provide(provide_flow), "caller": Provide(optional_caller)},
    security=[],
    status_code=303,
    opt={"provider_redirect": True},
)
async def connection_callback(
    provider: str,
    flow: NamedDependency[ConnectionFlow],
    caller: NamedDependency[User | None],
    code: str | None = None,
    oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Redirect:
    target = await flow.complete(
        provider,
        code=code,
        state=oauth_state,
        error=error,
        error_description=error_description,
        caller=caller,
    )
    return Redirect(path=target, status_code=303)
