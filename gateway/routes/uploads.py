"""FIT uploads to any provider (see `gateway.services.uploads`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency

from training_gateway.gateway.errors import Overloaded
from training_gateway.gateway.forms import read_form
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.sources import CallerSources
from training_gateway.gateway.services.uploads import (
    MAX_FILES,
    UploadAccepted,
    UploadCreated,
    upload,
)
from training_gateway.gateway.storage import AnalyticsRepository
from training_gateway.models.errors import InvalidBody
from training_gateway.models.fit import MAX_FIT_BYTES

# Ten files at the per-file limit, plus the multipart envelope.
MAX_UPLOAD_BODY_BYTES = MAX_FILES * MAX_FIT_BYTES + 1024 * 1024


@post(
    "/activities/upload",
    tags=["timeseries"],
    summary="Upload FIT files to a provider",
    description=(
        "Multipart: `files` (up to 10 FIT files, 25 MiB each) and `provider`. Every file is "
        "decoded and checked before anything is created: a corrupt, empty, non-FIT or too large "
        "file answers 422 naming it. Providers that take files (SweatStack) get them forwarded: "
        "202 with their source ids. For the others (Astral) the gateway creates an activity from "
        "each file's session summary and keeps its samples, so data and mean-max work: 201. "
        "Files are streamed to disk as they arrive; a gateway takes a few uploads at once "
        "(GATEWAY_MAX_CONCURRENT_UPLOADS) and answers 503 with Retry-After past that."
    ),
    request_max_body_size=MAX_UPLOAD_BODY_BYTES,
    status_code=202,
)
async def upload_files(
    request: Request[Any, Any, Any],
    gateway: NamedDependency[Gateway],
    sources: NamedDependency[CallerSources],
    analytics: NamedDependency[AnalyticsRepository],
) -> Response[UploadAccepted | UploadCreated]:
    async with _upload_slot(gateway):
        form = await read_form(
            request,
            file_field="files",
            text_fields=frozenset({"provider"}),
            max_files=MAX_FILES,
            max_file_bytes=MAX_FIT_BYTES,
        )
        try:
            provider = form.fields.get("provider")
            if provider is None:
                raise InvalidBody("provider", "name the provider to upload to (`provider`)")
            source = await sources.named_in_body(provider)
            outcome = await upload(analytics, sources.user, source, form.files)
        finally:
            form.close()
    if isinstance(outcome, UploadCreated):  # a provider that takes files announces them itself
        for created in outcome.items:
            await gateway.sync.written(sources.user, source, "activity", created)
    return Response(outcome, status_code=202 if isinstance(outcome, UploadAccepted) else 201)


@asynccontextmanager
async def _upload_slot(gateway: Gateway) -> AsyncIterator[None]:
    """One of the gateway's upload slots, waited for up to `upload_wait_s`: past that, 503."""
    slots = gateway.upload_slots
    try:
        await asyncio.wait_for(slots.acquire(), timeout=gateway.settings.upload_wait_s)
    except TimeoutError:
        raise Overloaded(
            f"the gateway is taking {gateway.settings.max_concurrent_uploads} uploads already",
            retry_after_s=max(1.0, gateway.settings.upload_wait_s),
        ) from None
    try:
        yield
    finally:
        slots.release()
