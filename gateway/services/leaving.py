"""Leaving: a user's data deleted everywhere the gateway holds it (DELETE /v1/me, and
`gateway users delete NAME` for operators).

First every connection's grant is revoked at its provider, where the provider allows it,
outside any transaction (a provider's answer can take seconds, and a database transaction
must not wait on it); a provider's failure is reported by name and stops nothing. Then one
transaction deletes every row of the user (`storage.erasure`) and records the events that
announce it: a `connection.disconnected` per connection and a `user.deleted`, so the apps'
endpoints hear of it exactly when it has happened.
"""

from __future__ import annotations

import asyncio
import logging

from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.connections import ConnectionFlow, Revocation
from training_gateway.gateway.storage import User
from training_gateway.gateway.storage.erasure import erase_user
from training_gateway.gateway.wire import UserDeleted as UserDeleted
from training_gateway.models.errors import NotFound

_log = logging.getLogger("gateway.leaving")


async def delete_user(gateway: Gateway, user: User) -> UserDeleted:
    """Revoke the user's connections at their providers, then delete everything the gateway
    holds of the user, announcing it in the same transaction; NotFound when the user was
    deleted meanwhile."""
    flow = ConnectionFlow(gateway)
    tokens = await gateway.store.connection_tokens(user)
    revocations = list(
        await asyncio.gather(
            *(flow.revoke_at_provider(provider, tokens[provider]) for provider in sorted(tokens))
        )
    )
    for revocation in revocations:
        if revocation.outcome == "failed":
            _log.warning(
                "revoking a connection at %s failed: %s", revocation.provider, revocation.detail
            )
    delivery_ids: list[str] = []
    async with gateway.store.engine.begin() as conn:
        erased = await erase_user(conn, user.id)
        if erased is None:
            raise NotFound(f"no user named {user.name!r}")
        removed, providers = erased
        # A connection made after its tokens were read was deleted unrevoked: say so.
        revocations.extend(
            Revocation(
                provider=provider,
                outcome="failed",
                detail=f"connected to {provider} while the user was being deleted: "
                "its grant was not revoked there",
            )
            for provider in providers
            if provider not in tokens
        )
        revocations.sort(key=lambda revocation: revocation.provider)
        answer = UserDeleted(user=user.name, providers=revocations, removed=removed)
        for revocation in revocations:
            _, ids = await gateway.events.record(
                conn,
                "connection.disconnected",
                user_id=user.id,
                user_name=user.name,
                provider=revocation.provider,
                resource_id=revocation.provider,
                resource=revocation.disconnected(),
            )
            delivery_ids.extend(ids)
        _, ids = await gateway.events.record(
            conn,
            "user.deleted",
            user_id=user.id,
            user_name=user.name,
            provider=None,
            resource_id=user.name,
            resource=answer,
        )
        delivery_ids.extend(ids)
    await gateway.events.dispatch(delivery_ids)
    _log.info("deleted user %s and everything the gateway held of them", user.name)
    return answer
