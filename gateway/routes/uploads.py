"""FIT uploads to any provider (see `gateway.services.uploads`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Annotated

from litestar import Response, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body

from training_gateway.gateway.services.sources import CallerSources
from training_gateway.gateway.services.uploads import (
    MAX_FILES,
    UploadAccepted,
    UploadCreated,
    check_file_count,
    upload,
)
from training_gateway.gateway.storage import AnalyticsRepository
from training_gateway.models.fit import MAX_FIT_BYTES

# Ten files at the per-file limit, plus the multipart envelope.
MAX_UPLOAD_BODY_BYTES = MAX_FILES * MAX_FIT_BYTES + 1024 * 1024


@dataclass
class UploadForm:
    """The multipart form: one `files` part per FIT file (at most 10) and the target provider."""

    provider: str
    files: list[UploadFile] = field(default_factory=list)


@post(
    "/activities/upload",
    tags=["timeseries"],
    summary="Upload FIT files to a provider",
    description=(
        "Multipart: `files` (up to 10 FIT files, 25 MiB each) and `provider`. Every file is "
        "decoded and checked before anything is created: a corrupt, empty, non-FIT or too large "
        "file answers 422 naming it. Providers that take files (SweatStack) get them forwarded: "
        "202 with their source ids. For the others (Astral) the gateway creates an activity from "
        "each file's session summary and keeps its samples, so data and mean-max work: 201."
    ),
    request_max_body_size=MAX_UPLOAD_BODY_BYTES,
    status_code=202,
)
async def upload_files(
    sources: NamedDependency[CallerSources],
    analytics: NamedDependency[AnalyticsRepository],
    data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Response[UploadAccepted | UploadCreated]:
    source = await sources.named_in_body(data.provider)
    parts = data.files if isinstance(data.files, list) else [data.files]
    check_file_count(len(parts))
    files = [(_name_of(part, i), await part.read()) for i, part in enumerate(parts)]
    outcome = await upload(analytics, sources.user, source, files)
    return Response(outcome, status_code=202 if isinstance(outcome, UploadAccepted) else 201)


def _name_of(upload: UploadFile, index: int) -> str:
    name = PurePosixPath(upload.filename or "").name
    return name or f"file-{index + 1}.fit"
