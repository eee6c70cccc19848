"""What a running gateway holds: settings, store, the pooled HTTP client, the adapters and the
OAuth clients. Built once by the app's lifespan; routes receive it by dependency injection."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from training_gateway.adapters.base import Adapter
from training_gateway.gateway.auth.oauth import ProviderOAuth
from training_gateway.gateway.auth.tokens import TokenManager
from training_gateway.gateway.demo_receiver import DemoInbox
from training_gateway.gateway.observability import Metrics
from training_gateway.gateway.settings import Settings
from training_gateway.gateway.storage import Store
from training_gateway.models.errors import NotFound

if TYPE_CHECKING:
    from training_gateway.gateway.jobs import Jobs
    from training_gateway.gateway.services.events import Events
    from training_gateway.gateway.services.sync import Sync


@dataclass
class Gateway:
    store: Store
    http: httpx.AsyncClient
    adapters: dict[str, Adapter]
    adapter_classes: dict[str, type[Adapter]]
    settings: Settings
    tokens: TokenManager
    # The gateway's OAuth client at each provider that has one configured.
    oauth: dict[str, ProviderOAuth] = field(default_factory=dict)
    # What the demo's own event receiver got (demo mode only).
    demo_inbox: DemoInbox = field(default_factory=DemoInbox)
    # What /metrics reports of this gateway.
    metrics: Metrics = field(default_factory=Metrics)
    # Uploads taken at once (settings.max_concurrent_uploads), set from the settings.
    upload_slots: asyncio.Semaphore = field(init=False)
    if TYPE_CHECKING:
        # The engine's queues, the events out and the record index, set once the rest is
        # built (they need it). Declared for the type checker only: Litestar reads this
        # class's annotations when it injects it, and these would not resolve at run time.
        jobs: Jobs = field(init=False)
        events: Events = field(init=False)
        sync: Sync = field(init=False)

    def __post_init__(self) -> None:
        self.upload_slots = asyncio.Semaphore(self.settings.max_concurrent_uploads)

    def adapter(self, provider: str) -> Adapter:
        """The adapter of a provider this gateway serves; NotFound for an unknown provider."""
        try:
            return self.adapters[provider]
        except KeyError:
            raise NotFound(f"unknown provider {provider!r}") from None
