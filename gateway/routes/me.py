"""The caller's own account: leaving the gateway."""

from __future__ import annotations

from litestar import delete
from litestar.di import NamedDependency

from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.leaving import UserDeleted, delete_user
from training_gateway.gateway.storage import User


@delete(
    "/me",
    tags=["account"],
    status_code=200,
    summary=(
        "Leave: revoke every connection at its provider where it allows it, delete all your "
        "data here, and say what was done per provider"
    ),
    description=(
        "Each connected provider's grant is revoked there first; a provider's failure is "
        "reported in `providers` (with its status and why) and never stops the deletion. Then "
        "your API keys, connections, `local` records, uploaded streams, cached mean-max "
        "curves, heart-rate model memories, the index of your records and your events are "
        "deleted at once, and a `connection.disconnected` event per connection and a "
        "`user.deleted` event go to the registered webhook endpoints. Your key stops working."
    ),
)
async def delete_me(
    caller: NamedDependency[User], gateway: NamedDependency[Gateway]
) -> UserDeleted:
    return await delete_user(gateway, caller)
