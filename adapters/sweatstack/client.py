"""The SweatStack adapter: calls SweatStack's activity API and maps it into the unified schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote

import httpx
import msgspec

from adapters.base import ActivityQuery, AuthKind, Capability, Credentials
from adapters.http import call_provider, decode_provider
from adapters.sweatstack import mapping, wire
from models.activity import Activity, ActivityDraft, ActivityStatus
from models.errors import NotFound, Unsupported

if TYPE_CHECKING:
    from adapters.sweatstack.mock import SweatStackMock

PROVIDER = mapping.PROVIDER
ACTIVITIES_PATH = "/api/v1/activities/"

# Path segments under /activities/ that are endpoints, not activity ids: asking for an
# activity called "latest" must not silently return the latest activity.
_RESERVED_IDS = frozenset(
    {
        "latest",
        "upload",
        "backfill-status",
        "longitudinal-data",
        "longitudinal-mean-max",
        "longitudinal-accumulated-work-duration",
    }
)


class SweatStackAdapter:
    """SweatStack (app.sweatstack.no): recorded activities, read only."""

    name: ClassVar[str] = PROVIDER
    display_name: ClassVar[str] = "SweatStack"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LIST_ACTIVITIES, Capability.GET_ACTIVITY}
    )
    auth_kind: ClassVar[AuthKind] = AuthKind.OAUTH2_PKCE_OIDC
    patch_preserved_extensions: ClassVar[frozenset[str]] = frozenset()
    #: The most activities asked for in one request; larger limits are paged.
    page_size: int = 100

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    @classmethod
    def create_mock(cls, seed: int = 0) -> SweatStackMock:
        """A fresh, deterministically seeded mock of SweatStack's API."""
        from adapters.sweatstack.mock import SweatStackMock

        return SweatStackMock(seed)

    async def list_activities(
        self, creds: Credentials, query: ActivityQuery, *, offset: int, limit: int
    ) -> list[Activity]:
        """Up to `limit` activities from `offset`, newest first, ties by id (SweatStack's order)."""
        if limit <= 0 or (query.statuses and ActivityStatus.COMPLETED not in query.statuses):
            return []  # SweatStack only holds completed activities
        filters = list_params(query)
        activities: list[Activity] = []
        while len(activities) < limit:
            page_limit = min(self.page_size, limit - len(activities))
            params = [
                *filters,
                ("limit", str(page_limit)),
                ("offset", str(offset + len(activities))),
            ]
            response = await call_provider(
                self.http,
                self.name,
                "GET",
                self.base_url + ACTIVITIES_PATH,
                token=creds.access_token,
                params=params,
            )
            page = decode_summaries(response.content)
            activities.extend(mapping.to_unified(item) for item in page)
            if len(page) < page_limit:
                break
        return activities[:limit]

    async def get_activity(self, creds: Credentials, native_id: str) -> Activity:
        """One activity with its summary, laps and devices; NotFound naming the id otherwise."""
        missing = f"sweatstack activity {native_id!r} not found"
        if not native_id or native_id in _RESERVED_IDS:
            raise NotFound(missing)
        response = await call_provider(
            self.http,
            self.name,
            "GET",
            f"{self.base_url}{ACTIVITIES_PATH}{quote(native_id, safe='')}",
            token=creds.access_token,
            not_found=missing,
        )
        return mapping.to_unified(decode_details(response.content))

    async def create_activity(self, creds: Credentials, draft: ActivityDraft) -> Activity:
        raise Unsupported(self.name, Capability.CREATE_ACTIVITY.value)

    async def replace_activity(
        self, creds: Credentials, native_id: str, draft: ActivityDraft
    ) -> Activity:
        raise Unsupported(self.name, Capability.UPDATE_ACTIVITY.value)

    async def delete_activity(self, creds: Credentials, native_id: str) -> None:
        raise Unsupported(self.name, Capability.DELETE_ACTIVITY.value)


def list_params(query: ActivityQuery) -> list[tuple[str, str]]:
    """The query filters SweatStack evaluates itself: dates, repeated `sport` and `tags`."""
    params: list[tuple[str, str]] = []
    if query.start_date is not None:
        params.append(("start", query.start_date.isoformat()))
    if query.end_date is not None:
        params.append(("end", query.end_date.isoformat()))
    params.extend(("sport", sport) for sport in query.sports)
    params.extend(("tags", tag) for tag in query.tags)
    return params


def decode_summaries(payload: bytes) -> list[wire.ActivitySummary]:
    """SweatStack's activity list, strictly typed, each item keeping its unknown fields.

    Anything that does not decode raises ProviderError naming sweatstack.
    """
    items = decode_provider(PROVIDER, payload, list[dict[str, msgspec.Raw]])
    split = [wire.split_fields(item, wire.ActivitySummary) for item in items]
    declared = msgspec.json.encode([known for known, _ in split])
    typed = decode_provider(PROVIDER, declared, list[wire.ActivitySummary])
    return [
        msgspec.structs.replace(item, unknown_fields=unknown)
        for item, (_, unknown) in zip(typed, split, strict=True)
    ]


def decode_details(payload: bytes) -> wire.ActivityDetails:
    """One activity's details, strictly typed, keeping its unknown fields (or ProviderError)."""
    obj = decode_provider(PROVIDER, payload, dict[str, msgspec.Raw])
    known, unknown = wire.split_fields(obj, wire.ActivityDetails)
    typed = decode_provider(PROVIDER, msgspec.json.encode(known), wire.ActivityDetails)
    return msgspec.structs.replace(typed, unknown_fields=unknown)
