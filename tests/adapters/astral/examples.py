"""Astral payloads shaped as its documentation shows them (ids, names and numbers from its
examples; the fields its sections document filled in around them)."""

from __future__ import annotations

from typing import Any

#: The body of the documentation's create example.
SPEC_CREATE_BODY: dict[str, Any] = {
    "email": "athlete@example.com",
    "username": "Jane Runner",
    "summary": {
        "activity_name": "Morning 10K",
        "activity_type": "RUNNING",
        "distance_in_meters": 10000,
        "duration_in_seconds": 3120,
    },
    "status": "completed",
    "data_source": "manual",
}

#: `data` of the documentation's get example (`act_xyz789` of `usr_abc123`), started at
#: 2025-01-01T07:00:00Z, 08:00 local time in Oslo.
SPEC_ACTIVITY: dict[str, Any] = {
    "activity_id": "act_xyz789",
    "user_id": "usr_abc123",
    "email": "athlete@example.com",
    "username": "Jane Runner",
    "status": "completed",
    "summary": {
        "activity_name": "Morning 10K",
        "activity_type": "RUNNING",
        "duration_in_seconds": 3120,
        "distance_in_meters": 10000,
        "start_time_in_seconds": 1735714800,
    },
    "data_source": "manual",
    "complete_date": 1735717920000,
    "complete_date_str": "2025-01-01T08:52:00+01:00",
    "zones": {"heart_rate": [{"zone": 1, "lower": None, "upper": 128, "seconds": 3120}]},
    "splits": {
        "unit": "km",
        "splits": [{"index": 1, "distance_in_meters": 1000, "duration_in_seconds": 312}],
    },
    "map": {
        "polyline": "_p~iF~ps|U_ulLnnqC",
        "bounding_box": {"min_lat": 38.5, "min_lng": -120.2, "max_lat": 40.7, "max_lng": -120.95},
    },
    "plan_instance_id": "pln_winter10k",
    "ai_summary": "You covered 10.00 km in 52:00. Your average pace was 5:12 per km.",
    "ai_summary_title": "Steady 10.0 km run",
    "agent_name": "Rex",
}

#: A skipped ride planned the evening before, with what a list item carries at least.
SPEC_SKIPPED_RIDE: dict[str, Any] = {
    "activity_id": "act_abc456",
    "user_id": "usr_abc123",
    "status": "skipped",
    "summary": {
        "activity_name": "Endurance ride",
        "activity_type": "CYCLING",
        "duration_in_seconds": 5400,
        "start_time_in_seconds": 1735664400,
    },
}


def envelope(data: Any) -> dict[str, Any]:
    """`data` in Astral's success envelope."""
    return {"status": "ok", "data": data}
