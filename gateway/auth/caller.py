"""Resolving the caller of a /v1 route from `Authorization: Bearer <gateway API key>`."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException

from training_gateway.gateway.state import GatewayState
from training_gateway.gateway.storage import User


async def resolve_caller(request: Request[Any, Any, Any]) -> User:
    """The user owning the presented API key; 401 for a missing, unknown or revoked key."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthorizedException(
            detail="send your gateway API key as 'Authorization: Bearer <key>'"
        )
    state: GatewayState = request.app.state.gateway
    user = await state.store.user_for_api_key(key.strip())
    if user is None:
        raise NotAuthorizedException(detail="the API key is unknown or revoked")
    return user


async def provide_state(request: Request[Any, Any, Any]) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state
