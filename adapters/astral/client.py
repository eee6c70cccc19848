"""The Astral adapter: the Activities API over httpx, mapped onto the unified schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar
from urllib.parse import quote

import httpx
import pyarrow as pa

from training_gateway.adapters.astral.mapping import (
    PROVIDER,
    create_body,
    imported_draft,
    list_params,
    raw_to_unified,
    replace_body,
    requested_metrics,
    streams_to_unified,
    to_unified,
)
from training_gateway.adapters.astral.wire import (
    AstralActivity,
    AstralActivityEnvelope,
    AstralActivityList,
    AstralActivityListEnvelope,
    AstralDeleted,
    FirestoreDocument,
    FirestoreDocumentEnvelope,
    FirestoreDocumentList,
    FirestoreDocumentListEnvelope,
)
from training_gateway.adapters.base import (
    ActivityQuery,
    AuthKind,
    Capability,
    Credentials,
)
from training_gateway.adapters.http import call_provider, decode_provider
from training_gateway.models.activity import Activity, ActivityDraft
from training_gateway.models.errors import NotFound, ProviderError

ACTIVITIES_PATH = "/api/v1/activities"


class AstralAdapter:
    """Astral (nexrex): list, get, create, replace and delete activities, and read their
    1 Hz samples; list an athlete's activities as their coach (`user_id`), one training
    plan's (`plan_instance_id`), and read the Firestore documents (`format=raw`). Astral has
    no mean-max, upload or backfill API."""

    name: ClassVar[str] = PROVIDER
    display_name: ClassVar[str] = "Astral (nexrex)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIST_ACTIVITIES,
            Capability.GET_ACTIVITY,
            Capability.CREATE_ACTIVITY,
            Capability.UPDATE_ACTIVITY,
            Capability.DELETE_ACTIVITY,
            Capability.ACTIVITY_DATA,
            Capability.COACH_ACCESS,
            Capability.PLAN_FILTER,
            Capability.RAW_VIEW,
        }
    )
    auth_kind: ClassVar[AuthKind] = AuthKind.OAUTH2_PKCE_OR_BEARER
    # What the gateway asks for when it connects a user (GATEWAY_ASTRAL_SCOPE overrides).
    oauth_scope: ClassVar[str] = "activities:read activities:write"
    # Derived fields (complete_date*) are recomputed from `start`; these are the athlete's own.
    patch_preserved_extensions: ClassVar[frozenset[str]] = frozenset(
        {"data_source", "zones", "splits", "map"}
    )

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    async def list_activities(
        self, creds: Credentials, query: ActivityQuery, *, offset: int, limit: int
    ) -> list[Activity]:
        """Up to `limit` activities from `offset`, in Astral's order (newest first)."""
        content = await self._list(creds, query, offset=offset, limit=limit, raw=False)
        if content is None:
            return []
        # decode_provider is typed for one class, but msgspec decodes this union as documented.
        listed: list[AstralActivity] | AstralActivityListEnvelope = decode_provider(
            PROVIDER,
            content,
            AstralActivityList,  # type: ignore[arg-type]
        )
        wires = listed.data if isinstance(listed, AstralActivityListEnvelope) else listed
        return [to_unified(wire) for wire in wires]

    async def list_raw_activities(
        self, creds: Credentials, query: ActivityQuery, *, offset: int, limit: int
    ) -> list[Activity]:
        """`list_activities` with `format=raw`: each carries its Firestore document."""
        content = await self._list(creds, query, offset=offset, limit=limit, raw=True)
        if content is None:
            return []
        listed: list[FirestoreDocument] | FirestoreDocumentListEnvelope = decode_provider(
            PROVIDER,
            content,
            FirestoreDocumentList,  # type: ignore[arg-type]
        )
        documents = listed.data if isinstance(listed, FirestoreDocumentListEnvelope) else listed
        return [raw_to_unified(document) for document in documents]

    async def _list(
        self, creds: Credentials, query: ActivityQuery, *, offset: int, limit: int, raw: bool
    ) -> bytes | None:
        filters = list_params(query)
        if filters is None or limit <= 0:
            return None
        # image_urls makes a listed activity carry what a fetched one does.
        params = [*filters, ("offset", str(offset)), ("limit", str(limit)), ("image_urls", "true")]
        if raw:
            params.append(("format", "raw"))
        response = await call_provider(
            self.http, PROVIDER, "GET", self._url(), token=creds.access_token, params=params
        )
        return response.content

    async def get_activity(self, creds: Credentials, native_id: str) -> Activity:
        """One activity by Astral's id; NotFound when Astral has none for this user."""
        response = await call_provider(
            self.http,
            PROVIDER,
            "GET",
            self._url(native_id),
            token=creds.access_token,
            not_found=_not_found(native_id),
        )
        return to_unified(decode_provider(PROVIDER, response.content, AstralActivityEnvelope).data)

    async def get_raw_activity(self, creds: Credentials, native_id: str) -> Activity:
        """`get_activity` with `format=raw`: it carries its Firestore document."""
        response = await call_provider(
            self.http,
            PROVIDER,
            "GET",
            self._url(native_id),
            token=creds.access_token,
            params=[("format", "raw")],
            not_found=_not_found(native_id),
        )
        envelope = decode_provider(PROVIDER, response.content, FirestoreDocumentEnvelope)
        return raw_to_unified(envelope.data)

    def imported_draft(self, draft: ActivityDraft) -> tuple[ActivityDraft, list[str]]:
        """What Astral keeps of a recording's draft (see `mapping.imported_draft`)."""
        return imported_draft(draft)

    async def create_activity(self, creds: Credentials, draft: ActivityDraft) -> Activity:
        """Store a draft at Astral for the authenticated user."""
        response = await call_provider(
            self.http,
            PROVIDER,
            "POST",
            self._url(),
            token=creds.access_token,
            json=create_body(draft, creds),
        )
        if response.status_code != httpx.codes.CREATED:
            raise ProviderError(
                PROVIDER,
                f"{PROVIDER} answered {response.status_code} to a create instead of 201",
                upstream_status=response.status_code,
            )
        return to_unified(decode_provider(PROVIDER, response.content, AstralActivityEnvelope).data)

    async def replace_activity(
        self, creds: Credentials, native_id: str, draft: ActivityDraft
    ) -> Activity:
        """Replace an activity with a draft (every field sent, since Astral's PUT is partial)."""
        response = await call_provider(
            self.http,
            PROVIDER,
            "PUT",
            self._url(native_id),
            token=creds.access_token,
            json=replace_body(draft, creds),
            not_found=_not_found(native_id),
        )
        return to_unified(decode_provider(PROVIDER, response.content, AstralActivityEnvelope).data)

    async def delete_activity(self, creds: Credentials, native_id: str) -> None:
        """Delete an activity (Astral also removes it from its training plan)."""
        response = await call_provider(
            self.http,
            PROVIDER,
            "DELETE",
            self._url(native_id),
            token=creds.access_token,
            not_found=_not_found(native_id),
        )
        decode_provider(PROVIDER, response.content, AstralDeleted)

    async def activity_data(
        self, creds: Credentials, native_id: str, metrics: Sequence[str]
    ) -> pa.Table:
        """The activity's raw 1 Hz streams in the unified schema, with the requested metrics
        they carry; NotFound when the activity does not exist or has no streams."""
        wanted = requested_metrics(metrics)  # refuse an unknown metric before asking Astral
        response = await call_provider(
            self.http,
            PROVIDER,
            "GET",
            self._url(native_id),
            token=creds.access_token,
            params=[("detail", "true"), ("include_streams", "true")],
            not_found=_not_found(native_id),
        )
        activity = decode_provider(PROVIDER, response.content, AstralActivityEnvelope).data
        table = streams_to_unified(activity, wanted)
        if table.num_rows == 0:
            raise NotFound(
                f"astral activity {native_id!r} has no streams "
                f"(a {activity.status} activity without recorded samples)"
            )
        return table

    def _url(self, native_id: str | None = None) -> str:
        if native_id is None:
            return f"{self.base_url}{ACTIVITIES_PATH}"
        return f"{self.base_url}{ACTIVITIES_PATH}/{quote(native_id, safe='')}"


def _not_found(native_id: str) -> str:
    return f"astral has no activity {native_id!r}"
