"""FIT uploads to any provider: decoded and checked first, then forwarded where the provider
takes files, otherwise turned into one activity per file at the provider plus the samples the
gateway keeps, all or nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from training_gateway.adapters.base import (
    Operations,
    SupportsImportedDrafts,
    UploadedFile,
    capability,
    has_capability,
)
from training_gateway.gateway import workers
from training_gateway.gateway.forms import FormFile
from training_gateway.gateway.services.sources import Source
from training_gateway.gateway.storage import AnalyticsRepository, User
from training_gateway.gateway.wire import UploadAccepted as UploadAccepted
from training_gateway.gateway.wire import UploadCreated as UploadCreated
from training_gateway.models.activity import Activity
from training_gateway.models.errors import GatewayError, InvalidInput
from training_gateway.models.fit import FitActivity, FitSummary, decode_fit, draft_from_fit

MAX_FILES = 10
FIT_MEDIA_TYPE = "application/vnd.ant.fit"


async def upload(
    repo: AnalyticsRepository, user: User, source: Source, files: Sequence[FormFile]
) -> UploadAccepted | UploadCreated:
    """Upload FIT files (spooled to disk by `gateway.forms`) to `source`'s provider. Every
    file is decoded first, in a worker process, so a bad one leaves nothing created anywhere
    and the event loop keeps serving meanwhile."""
    check_file_count(len(files))
    names = [file.name for file in files]
    if len(set(names)) != len(names):
        raise InvalidInput("files", "two files have the same name; names identify files in answers")
    forwards = has_capability(source.adapter, Operations.UPLOAD)
    if not forwards:
        capability(source.adapter, Operations.CREATE_ACTIVITY)
    if forwards:
        # The provider decodes the files itself: checking them here needs only the summary,
        # and the files are streamed to it from disk.
        for file in files:
            await workers.run(check_fit_file, str(file.path), file.name)
        with contextlib.ExitStack() as opened:
            uploads = [
                UploadedFile(
                    filename=file.name,
                    content=opened.enter_context(file.path.open("rb")),
                    content_type=FIT_MEDIA_TYPE,
                )
                for file in files
            ]
            ids = await capability(source.adapter, Operations.UPLOAD).upload_files(
                source.credentials, uploads
            )
        return UploadAccepted(provider=source.name, sources=ids)
    decoded = [await workers.run(decode_fit_file, str(file.path), file.name) for file in files]
    created, notes = await create_from_files(
        repo, user, source, list(zip(names, decoded, strict=True))
    )
    return UploadCreated(provider=source.name, items=created, notes=notes)


def decode_fit_file(path: str, filename: str) -> FitActivity:
    """`decode_fit` of a file on disk (run in a worker process: see `gateway.workers`)."""
    return decode_fit(Path(path).read_bytes(), filename=filename)


def check_fit_file(path: str, filename: str) -> FitSummary:
    """Decode a file to check it, answering only its summary (the samples stay behind)."""
    return decode_fit_file(path, filename).summary


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
