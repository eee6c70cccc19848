"""FIT uploads to any provider: forwarded where the provider takes files, otherwise decoded
by the gateway into an activity at the provider plus streams the gateway keeps."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import PurePosixPath
from typing import Annotated

import msgspec
from litestar import Response, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body
from open_sport_taxonomy import Sport

from training_gateway.adapters.base import Capability, SupportsUpload, UploadedFile, require
from training_gateway.gateway.auth import provide_state, resolve_caller
from training_gateway.gateway.federation import Source
from training_gateway.gateway.state import GatewayState
from training_gateway.gateway.storage import AnalyticsRepository, User
from training_gateway.models.activity import Activity, ActivityDraft
from training_gateway.models.errors import GatewayError, InvalidInput
from training_gateway.models.fit import MAX_FIT_BYTES, FitActivity, decode_fit

MAX_FILES = 10
# Ten files at the per-file limit, plus the multipart envelope.
MAX_UPLOAD_BODY_BYTES = MAX_FILES * MAX_FIT_BYTES + 1024 * 1024


@dataclass
class UploadForm:
    """The multipart form: one `files` part per FIT file (at most 10) and the target provider."""

    provider: str
    files: list[UploadFile] = field(default_factory=list)


class UploadAccepted(msgspec.Struct, kw_only=True):
    """A provider took the files and processes them itself (202): its source ids."""

    provider: str
    sources: list[str]


class UploadCreated(msgspec.Struct, kw_only=True):
    """The gateway decoded the files and created one activity per file (201)."""

    provider: str
    items: list[Activity]
    notes: list[str]


@post(
    "/v1/activities/upload",
    tags=["timeseries"],
    summary="Upload FIT files to a provider",
    description=(
        "Multipart: `files` (up to 10 FIT files, 25 MiB each) and `provider`. Every file is "
        "decoded and checked before anything is created: a corrupt, empty, non-FIT or too large "
        "file answers 422 naming it. Providers that take files (SweatStack) get them forwarded: "
        "202 with their source ids. For the others (Astral) the gateway creates an activity from "
        "each file's session summary and keeps its samples, so data and mean-max work: 201."
    ),
    dependencies={"caller": Provide(resolve_caller), "gw": Provide(provide_state)},
    request_max_body_size=MAX_UPLOAD_BODY_BYTES,
    status_code=202,
)
async def upload_files(
    caller: NamedDependency[User],
    gw: NamedDependency[GatewayState],
    data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Response[UploadAccepted | UploadCreated]:
    if data.provider not in gw.adapters:
        raise InvalidInput(
            "provider",
            f"unknown provider {data.provider!r}; known: {', '.join(sorted(gw.adapters))}",
        )
    files = data.files if isinstance(data.files, list) else [data.files]
    if not files:
        raise InvalidInput("files", "send at least one FIT file as a `files` part")
    if len(files) > MAX_FILES:
        raise InvalidInput("files", f"at most {MAX_FILES} files per upload, got {len(files)}")
    source = await gw.source(caller, data.provider)
    forwards = Capability.UPLOAD in source.adapter.capabilities
    if not forwards:
        require(source.adapter, Capability.CREATE_ACTIVITY)
    contents = [(_name_of(f, i), await f.read()) for i, f in enumerate(files)]
    names = [name for name, _ in contents]
    if len(set(names)) != len(names):
        raise InvalidInput("files", "two files have the same name; names identify files in answers")
    # Decode everything first (in a worker thread: decoding is CPU-bound), so a bad file
    # leaves nothing created anywhere.
    decoded = [
        await asyncio.to_thread(decode_fit, content, filename=name) for name, content in contents
    ]
    if forwards:
        require(source.adapter, Capability.UPLOAD)
        assert isinstance(source.adapter, SupportsUpload)
        ids = await source.adapter.upload_files(
            source.credentials,
            [
                UploadedFile(filename=name, content=content, content_type="application/vnd.ant.fit")
                for name, content in contents
            ],
        )
        return Response(UploadAccepted(provider=source.name, sources=ids), status_code=202)
    created, notes = await _create_from_files(
        gw, caller, source, list(zip(names, decoded, strict=True))
    )
    return Response(
        UploadCreated(provider=source.name, items=created, notes=notes), status_code=201
    )


async def _undo(
    source: Source, caller: User, repo: AnalyticsRepository, created: list[Activity]
) -> list[str]:
    """Delete every activity an upload created; the ids that could not be deleted."""
    left = []
    for activity in created:
        try:
            await source.adapter.delete_activity(source.credentials, activity.id.split(":", 1)[1])
        except GatewayError:
            left.append(activity.id)
        await repo.delete_activity(caller, activity.id)
    return left


def _name_of(upload: UploadFile, index: int) -> str:
    name = PurePosixPath(upload.filename or "").name
    return name or f"file-{index + 1}.fit"


def _draft_from(name: str, fit: FitActivity) -> tuple[ActivityDraft, str | None]:
    """An activity draft from a file's session summary; the note says what the provider keeps
    of the sport when it holds only sport families."""
    summary = fit.summary
    start = summary.start
    if summary.start_local is not None:
        offset = summary.start_local - summary.start.replace(tzinfo=None)
        start = summary.start.astimezone(timezone(timedelta(seconds=round(offset.total_seconds()))))
    elapsed = summary.elapsed_s or summary.timer_s
    if not elapsed or elapsed <= 0:
        raise InvalidInput(name, f"{name} records no elapsed time, so it holds no activity")
    family = Sport.parse(summary.sport).code.split(".")[0]
    note = None
    if family != summary.sport:
        note = f"{name}: sport {summary.sport} is stored as {family}; the provider holds sport families only"
    draft = ActivityDraft(
        sport=family,
        start=start.replace(microsecond=0),
        duration_s=float(max(1, round(elapsed))),
        name=summary.name or PurePosixPath(name).stem,
        distance_m=float(round(summary.distance_m)) if summary.distance_m is not None else None,
    )
    return draft, note


async def _create_from_files(
    gw: GatewayState, caller: User, source: Source, files: list[tuple[str, FitActivity]]
) -> tuple[list[Activity], list[str]]:
    """Create one activity per file and keep its samples; on any failure, undo what was
    created so the upload leaves nothing behind."""
    drafts = [(name, *_draft_from(name, fit), fit) for name, fit in files]
    repo = AnalyticsRepository(gw.store)
    created: list[Activity] = []
    notes = [note for _, _, note, _ in drafts if note]
    try:
        for name, draft, _, fit in drafts:
            try:
                activity = await source.adapter.create_activity(source.credentials, draft)
            except InvalidInput as exc:
                raise InvalidInput(name, f"{name}: {exc.detail} ({exc.field})") from None
            created.append(activity)
            await repo.save_streams(caller, activity.id, fit.records)
    except Exception as exc:
        left = await _undo(source, caller, repo, created)
        if left and isinstance(exc, GatewayError):
            exc.detail += f"; these activities could not be removed again: {', '.join(left)}"
        raise
    return created, notes
