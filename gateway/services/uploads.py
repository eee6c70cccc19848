"""FIT uploads to any provider: decoded and checked first, then forwarded where the provider
takes files, otherwise turned into one activity per file at the provider plus the samples the
gateway keeps, all or nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec

from training_gateway.adapters.base import (
    Operations,
    SupportsImportedDrafts,
    UploadedFile,
    capability,
    has_capability,
)
from training_gateway.gateway.services.sources import Source
from training_gateway.gateway.storage import AnalyticsRepository, User
from training_gateway.models.activity import Activity
from training_gateway.models.errors import GatewayError, InvalidInput
from training_gateway.models.fit import FitActivity, decode_fit, draft_from_fit

MAX_FILES = 10
FIT_MEDIA_TYPE = "application/vnd.ant.fit"


class UploadAccepted(msgspec.Struct, kw_only=True):
    """A provider took the files and processes them itself (202): its source ids."""

    provider: str
    sources: list[str]


class UploadCreated(msgspec.Struct, kw_only=True):
    """The gateway decoded the files and created one activity per file (201)."""

    provider: str
    items: list[Activity]
    notes: list[str]


async def upload(
    repo: AnalyticsRepository, user: User, source: Source, files: Sequence[tuple[str, bytes]]
) -> UploadAccepted | UploadCreated:
    """Upload named FIT files to `source`'s provider. Every file is decoded first (off the
    event loop), so a bad one leaves nothing created anywhere."""
    check_file_count(len(files))
    names = [name for name, _ in files]
    if len(set(names)) != len(names):
        raise InvalidInput("files", "two files have the same name; names identify files in answers")
    forwards = has_capability(source.adapter, Operations.UPLOAD)
    if not forwards:
        capability(source.adapter, Operations.CREATE_ACTIVITY)
    decoded = [
        await asyncio.to_thread(decode_fit, content, filename=name) for name, content in files
    ]
    if forwards:
        ids = await capability(source.adapter, Operations.UPLOAD).upload_files(
            source.credentials,
            [UploadedFile(filename=n, content=c, content_type=FIT_MEDIA_TYPE) for n, c in files],
        )
        return UploadAccepted(provider=source.name, sources=ids)
    created, notes = await create_from_files(
        repo, user, source, list(zip(names, decoded, strict=True))
    )
    return UploadCreated(provider=source.name, items=created, notes=notes)


def check_file_count(count: int) -> None:
    """Refuse an upload of no files or of more than MAX_FILES (before reading them)."""
    if not count:
        raise InvalidInput("files", "send at least one FIT file as a `files` part")
    if count > MAX_FILES:
        raise InvalidInput("files", f"at most {MAX_FILES} files per upload, got {count}")


async def create_from_files(
    repo: AnalyticsRepository, user: User, source: Source, files: list[tuple[str, FitActivity]]
) -> tuple[list[Activity], list[str]]:
    """Create one activity per file and keep its samples; on any failure, undo what was
    created so the upload leaves nothing behind. The notes say what the provider changed of
    a file's values (`SupportsImportedDrafts`)."""
    writer = capability(source.adapter, Operations.CREATE_ACTIVITY)
    drafts = []
    notes: list[str] = []
    for name, fit in files:
        draft = draft_from_fit(fit.summary, filename=name)
        if isinstance(source.adapter, SupportsImportedDrafts):
            draft, changed = source.adapter.imported_draft(draft)
            notes.extend(f"{name}: {note}" for note in changed)
        drafts.append((name, draft, fit))
    created: list[Activity] = []
    try:
        for name, draft, fit in drafts:
            try:
                activity = await writer.create_activity(source.credentials, draft)
            except InvalidInput as exc:
                raise InvalidInput(name, f"{name}: {exc.detail} ({exc.field})") from None
            created.append(activity)
            await repo.save_streams(user, activity.id, fit.records)
    except Exception as exc:
        left = await undo(source, user, repo, created)
        if left and isinstance(exc, GatewayError):
            exc.detail += f"; these activities could not be removed again: {', '.join(left)}"
        raise
    return created, notes


async def undo(
    source: Source, user: User, repo: AnalyticsRepository, created: list[Activity]
) -> list[str]:
    """Delete every activity an upload created; the ids that could not be deleted."""
    writer = capability(source.adapter, Operations.DELETE_ACTIVITY)
    left = []
    for activity in created:
        try:
            await writer.delete_activity(source.credentials, activity.id.split(":", 1)[1])
        except GatewayError:
            left.append(activity.id)
        await repo.delete_activity(user, activity.id)
    return left
