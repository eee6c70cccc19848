"""An activity's samples as a heart-rate model session: which model sport it is, and its
time, heart-rate and speed arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from training_gateway.models.errors import InvalidInput


def model_sport(activity_sport: str) -> str:
    """The HR model's sport for an activity: cycling uses power/100 as speed; running and
    walking use speed; other sports have no model here."""
    family = activity_sport.split("+")[0].split(".")[0]
    if family == "cycling":
        return "cycling"
    if family in ("running", "walking"):
        return "running"
    raise InvalidInput(
        "sport", f"the heart-rate model covers running and cycling, not {activity_sport!r}"
    )


def session_arrays(table: pa.Table, sport: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seconds from the start, heart rate and speed (power / 100 in cycling) of the samples that
    have both; a session without them is refused naming the missing stream."""
    if "heart_rate" not in table.column_names:
        raise InvalidInput("heart_rate", "the activity has no heart-rate samples")
    driver = "power" if sport == "cycling" and "power" in table.column_names else "speed"
    if driver not in table.column_names:
        raise InvalidInput("speed", "the activity has neither speed nor power samples")
    time_s = table.column("duration").to_numpy(zero_copy_only=False).astype(np.float64)
    hr = pc.cast(table.column("heart_rate"), pa.float64()).to_numpy(zero_copy_only=False)
    drive = pc.cast(table.column(driver), pa.float64()).to_numpy(zero_copy_only=False)
    if driver == "power":
        drive = drive / 100.0
    keep = np.isfinite(time_s) & np.isfinite(hr) & np.isfinite(drive) & (hr > 0)
    return time_s[keep], hr[keep], drive[keep]
