"""Activity writes at the provider that holds the activity: drafts in canonical form, merge
patches that keep the provider's own fields, and deletes that forget what the gateway kept."""

from __future__ import annotations

from typing import Any

from training_gateway.adapters.base import Operations, capability, has_capability
from training_gateway.gateway.services.sources import Source
from training_gateway.gateway.storage import AnalyticsRepository, User
from training_gateway.models.activity import (
    Activity,
    ActivityDraft,
    draft_from_activity,
    draft_to_builtins,
)
from training_gateway.models.decoding import decode_as
from training_gateway.models.errors import InvalidParameter
from training_gateway.models.merge_patch import apply_merge_patch
from training_gateway.models.sport import with_canonical_sport


async def get_activity(source: Source, native_id: str) -> Activity:
    reader = capability(source.adapter, Operations.GET_ACTIVITY)
    return await reader.get_activity(source.credentials, native_id)


async def get_raw_activity(source: Source, native_id: str) -> Activity:
    """The activity with the provider's own document (`view=raw`); InvalidParameter naming
    `view` when its provider has no raw view."""
    if not has_capability(source.adapter, Operations.RAW_VIEW):
        raise InvalidParameter(
            "view",
            f"view=raw is provider-scoped ({Operations.RAW_VIEW.capability.value}) and "
            f"{source.name} cannot honour it",
        )
    raw = capability(source.adapter, Operations.RAW_VIEW)
    return await raw.get_raw_activity(source.credentials, native_id)


async def create_activity(source: Source, draft: ActivityDraft) -> Activity:
    writer = capability(source.adapter, Operations.CREATE_ACTIVITY)
    return await writer.create_activity(source.credentials, with_canonical_sport(draft))


async def replace_activity(source: Source, native_id: str, draft: ActivityDraft) -> Activity:
    writer = capability(source.adapter, Operations.UPDATE_ACTIVITY)
    return await writer.replace_activity(source.credentials, native_id, with_canonical_sport(draft))


async def patch_activity(source: Source, native_id: str, patch_doc: dict[str, Any]) -> Activity:
    """Apply a JSON merge patch to the activity's writable fields; the provider's own fields
    it names (`patch_preserved_extensions`) are carried over unless the patch changes them."""
    writer = capability(source.adapter, Operations.UPDATE_ACTIVITY)
    current = await get_activity(source, native_id)
    preserved = source.adapter.patch_preserved_extensions
    patched = apply_merge_patch(
        draft_to_builtins(draft_from_activity(current, keep_extensions=preserved)), patch_doc
    )
    draft: ActivityDraft = decode_as(
        patched, ActivityDraft, strict=False, what="the patched activity is invalid"
    )
    return await writer.replace_activity(source.credentials, native_id, with_canonical_sport(draft))


async def delete_activity(
    repo: AnalyticsRepository, user: User, source: Source, activity_id: str, native_id: str
) -> None:
    """Delete at the provider, then forget the streams and curves the gateway kept of it."""
    writer = capability(source.adapter, Operations.DELETE_ACTIVITY)
    await writer.delete_activity(source.credentials, native_id)
    await repo.delete_activity(user, activity_id)
