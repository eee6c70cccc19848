"""How Astral answers an activity: the standardized object (with what the query adds), or
with `format=raw` the Firestore document behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from training_gateway.adapters.astral.mock.samples import detail_streams, raw_streams
from training_gateway.adapters.astral.mock.store import StoredActivity


@dataclass(frozen=True)
class RenderOptions:
    """How to answer an activity: raw document, with streams, with image URLs."""

    raw: bool = False
    detail: bool = False
    include_streams: bool = False
    image_urls: bool = True


def render(stored: StoredActivity, options: RenderOptions) -> Any:
    """An activity as the API answers it: standardized (with what the options add) or raw."""
    if options.raw:
        return firestore_document(stored)
    activity = stored.activity
    changes: dict[str, Any] = {}
    if not options.image_urls:
        changes["image_urls"] = None
    if options.detail and stored.samples is not None:
        changes["streams"] = detail_streams(stored.samples)
        if options.include_streams:
            changes["raw_streams"] = raw_streams(stored.samples)
    return msgspec.structs.replace(activity, **changes) if changes else activity


def firestore_document(stored: StoredActivity) -> dict[str, Any]:
    """The stored Firestore document behind an activity."""
    activity = stored.activity
    fields = msgspec.to_builtins(activity)
    fields.pop("activity_id")
    complete_date = fields.pop("complete_date", None)
    typed = {name: firestore_value(value) for name, value in fields.items()}
    if complete_date is not None:
        typed["complete_date"] = {
            "timestampValue": _rfc3339(datetime.fromtimestamp(complete_date / 1000, UTC))
        }
    return {
        "name": f"projects/nexrex-prod/databases/(default)/documents/users/{activity.user_id}"
        f"/activities/{activity.activity_id}",
        "fields": typed,
        "createTime": _rfc3339(stored.create_time),
        "updateTime": _rfc3339(stored.update_time),
    }


def firestore_value(value: Any) -> dict[str, Any]:
    """A JSON value as a Firestore typed value."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [firestore_value(item) for item in value]}}
    if isinstance(value, dict):
        return {"mapValue": {"fields": {key: firestore_value(item) for key, item in value.items()}}}
    raise TypeError(f"no Firestore value for {type(value).__name__}")


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
