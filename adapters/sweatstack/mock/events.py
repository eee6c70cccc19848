"""What changed in the SweatStack mock's data, as SweatStack names it in its webhooks: the store
publishes a `Change` on its `ChangeFeed` whenever an activity, a test or an uploaded source
changes, whoever changed it (an app through the API, the user in SweatStack's own app, a
test through the facade); `webhooks` turns each into deliveries."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal, get_args

import msgspec

#: SweatStack's `WebhookEventType` (the SDK's `openapi_schemas.py`, 0.97).
EventType = Literal[
    "activity_created",
    "activity_updated",
    "activity_deleted",
    "test_created",
    "test_updated",
    "test_deleted",
    "source_processed",
    "source_failed",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)


class Change(msgspec.Struct, frozen=True):
    """One change of a user's data: what happened, to whose record, which record."""

    event_type: EventType
    user_id: str
    resource_id: str


class ChangeFeed:
    """Where the store publishes its changes; listeners are called on the publishing thread,
    so they must be quick (the webhook dispatcher only queues)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Change], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[Change], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def publish(self, event_type: EventType, user_id: str, resource_id: str) -> None:
        change = Change(event_type=event_type, user_id=user_id, resource_id=resource_id)
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(change)
