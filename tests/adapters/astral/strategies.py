"""Hypothesis strategies for Astral's wire objects and for drafts Astral can hold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from training_gateway.adapters.astral.wire import AstralActivity, AstralSummary
from training_gateway.models.activity import ActivityDraft, ActivityStatus

ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=4)

offsets = st.integers(-12 * 4, 14 * 4).map(
    lambda quarters: timezone(timedelta(minutes=15 * quarters))
)
naive_moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda moment: moment.replace(microsecond=0)
)
aware_moments = st.builds(
    lambda naive, offset: naive.replace(tzinfo=offset), naive_moments, offsets
)
complete_date_strs = st.none() | st.text(max_size=12) | aware_moments.map(datetime.isoformat)

activity_types = st.sampled_from(
    ["RUNNING", "CYCLING", "SWIMMING", "WALKING", "HIKING", "WORKOUT"]
) | st.text(max_size=8)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


astral_activities = st.builds(
    AstralActivity,
    activity_id=ids,
    user_id=ids,
    email=optional(st.emails()),
    username=optional(st.text(max_size=12)),
    status=st.sampled_from(["completed", "scheduled", "skipped", "cancelled"]),
    summary=st.builds(
        AstralSummary,
        activity_name=st.text(max_size=20),
        activity_type=activity_types,
        duration_in_seconds=st.integers(0, 86_400),
        distance_in_meters=optional(st.integers(0, 1_000_000)),
        start_time_in_seconds=st.integers(0, 2**33),
    ),
    data_source=optional(st.sampled_from(["garmin", "strava", "apple_watch", "manual"])),
    complete_date=optional(st.integers(0, 2**43)),
    complete_date_str=complete_date_strs,
    zones=optional(json_objects),
    splits=optional(json_objects),
    map=optional(json_objects),
    plan_instance_id=optional(ids),
    ai_summary=optional(st.text(max_size=20)),
    ai_summary_title=optional(st.text(max_size=10)),
    agent_name=optional(st.just("Rex")),
    image_urls=optional(st.lists(st.text(max_size=10), max_size=2)),
    streams=optional(json_objects),
    raw_streams=optional(json_objects),
)

writable_drafts = st.builds(
    ActivityDraft,
    sport=st.sampled_from(["running", "cycling", "swimming"]),
    start=aware_moments,
    duration_s=st.integers(1, 86_400).map(float),
    status=st.sampled_from(
        [ActivityStatus.COMPLETED, ActivityStatus.SCHEDULED, ActivityStatus.CANCELLED]
    ),
    name=st.text(max_size=30),
    distance_m=optional(st.integers(0, 500_000).map(float)),
    extensions=st.fixed_dictionaries(
        {},
        optional={
            "data_source": st.sampled_from(["garmin", "strava", "apple_watch", "manual"]),
            "zones": json_objects,
            "splits": json_objects,
            "map": json_objects,
        },
    ),
)
