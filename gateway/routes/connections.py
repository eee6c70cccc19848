"""The caller's provider connections: connect through OAuth (PKCE, OIDC), or with a personal
token where a provider allows one; list them; remove them."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Redirect

from training_gateway.gateway.dependencies import optional_caller
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.connections import (
    AuthorizationStart,
    ConnectionFlow,
    ConnectionView,
    Disconnected,
)
from training_gateway.gateway.storage import User
from training_gateway.gateway.wire import BearerConnection as BearerConnection
from training_gateway.gateway.wire import ConnectRequest as ConnectRequest


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
