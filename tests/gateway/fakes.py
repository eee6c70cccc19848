"""An in-memory adapter for exercising the federation logic without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from training_gateway.adapters.base import ActivityQuery, AuthKind, Capability, Credentials
from training_gateway.models.activity import Activity, ActivityStatus
from training_gateway.models.errors import ProviderError


def make_activity(provider: str, native_id: str, start: datetime, **fields: object) -> Activity:
    return Activity(
        id=f"{provider}:{native_id}",
        provider=provider,
        sport=str(fields.pop("sport", "running.road")),
        status=fields.pop("status", ActivityStatus.COMPLETED),  # type: ignore[arg-type]
        start=start,
        end=start + timedelta(minutes=30),
        duration_s=1800.0,
        **fields,  # type: ignore[arg-type]
    )


class FakeAdapter:
    """Serves a fixed list newest first (ties by id), by offset, like a provider would."""

    name: ClassVar[str] = "fake"
    display_name: ClassVar[str] = "Fake"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.LIST_ACTIVITIES})
    auth_kind: ClassVar[AuthKind] = AuthKind.NONE
    oauth_scope: ClassVar[str | None] = None
    patch_preserved_extensions: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, provider: str, activities: list[Activity], *, page_cap: int | None = None
    ) -> None:
        self.provider = provider
        self.activities = sorted(activities, key=lambda a: (-a.start.timestamp(), a.id))
        self.page_cap = page_cap
        self.calls: list[tuple[int, int]] = []
        self.fail = False

    async def list_activities(
        self, creds: Credentials, query: ActivityQuery, *, offset: int, limit: int
    ) -> list[Activity]:
        self.calls.append((offset, limit))
        if self.fail:
            raise ProviderError(
                self.provider, f"{self.provider} answered 500: boom", upstream_status=500
            )
        return self.activities[offset : offset + limit]

    async def get_activity(self, creds: Credentials, native_id: str) -> Activity:
        return next(a for a in self.activities if a.id == f"{self.provider}:{native_id}")


BASE = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
