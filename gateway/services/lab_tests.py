"""Lab-test use cases that need more than one provider call: a merge patch guarded against
lost updates, and a test with the activities that overlap it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec

from training_gateway.adapters.base import (
    Operations,
    SupportsConditionalLabTestWrite,
    capability,
)
from training_gateway.gateway.services.federation import (
    ActivityFilter,
    ProviderFailure,
    list_activities,
)
from training_gateway.gateway.services.sources import AnySource, Source
from training_gateway.gateway.wire import LabTestDetails as LabTestDetails
from training_gateway.models.activity import Activity
from training_gateway.models.decoding import decode_as
from training_gateway.models.errors import Conflict, PreconditionFailed
from training_gateway.models.lab_test import LabTest, LabTestDraft, draft_from_test, etag, overlaps
from training_gateway.models.merge_patch import apply_merge_patch
from training_gateway.models.sport import with_canonical_sport

# An activity overlapping a test began at most this long before it.
_LONGEST_ACTIVITY = timedelta(days=1)
_MAX_LINKED = 500


async def patch_test(
    source: Source, native_id: str, patch_doc: dict[str, Any], *, if_match: str | None
) -> LabTest:
    """Apply a merge patch by read-modify-write, never overwriting a change it did not see.

    `If-Match` must name the current version (else 412). The write then only lands if the test
    is still what was read: atomically where the provider can compare-and-swap (`local`),
    otherwise by reading once more just before writing (409 when it changed meanwhile).
    """
    tests = capability(source.adapter, Operations.UPDATE_TEST)
    current = await tests.get_test(source.credentials, native_id)
    if if_match is not None and if_match.strip() not in ("*", etag(current)):
        raise PreconditionFailed(
            f"test {current.id!r} is no longer at version {if_match.strip()} (now {etag(current)})",
            provider=source.name,
        )
    patched = apply_merge_patch(msgspec.to_builtins(draft_from_test(current)), patch_doc)
    decoded: LabTestDraft = decode_as(
        patched, LabTestDraft, strict=False, what="the patched test is invalid"
    )
    draft = with_canonical_sport(decoded)
    if isinstance(tests, SupportsConditionalLabTestWrite):
        return await tests.replace_test_if_unchanged(source.credentials, native_id, draft, current)
    again = await tests.get_test(source.credentials, native_id)
    if etag(again) != etag(current):
        raise Conflict(
            f"test {current.id!r} changed at {source.name} while it was being patched; "
            "read it again and re-apply the change",
            provider=source.name,
        )
    return await tests.replace_test(source.credentials, native_id, draft)


async def with_overlapping_activities(test: LabTest, sources: list[AnySource]) -> LabTestDetails:
    """The test plus every activity of `sources` (those that list activities) that overlaps it."""
    window_end = test.end or test.start
    filter_ = ActivityFilter(start=test.start - _LONGEST_ACTIVITY, end=window_end)
    found: list[Activity] = []
    errors: list[ProviderFailure] = []
    cursor: str | None = None
    while len(found) < _MAX_LINKED:
        page = await list_activities(sources, filter_, limit=100, cursor=cursor)
        found.extend(a for a in page.items if overlaps(test, a.start, a.end))
        errors.extend(e for e in page.errors if e not in errors)
        if page.next_cursor is None or page.errors:
            break
        cursor = page.next_cursor
    fields = {name: getattr(test, name) for name in LabTest.__struct_fields__}
    return LabTestDetails(**fields, activities=found, errors=errors)
