"""Heart-rate model memories and history on SQLite and PostgreSQL, per user and sport."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from tests.models.hr_simulation import interval_speeds, simulate
from training_gateway.gateway.storage import Store
from training_gateway.gateway.storage.hr_memory import HrModelRepository
from training_gateway.models.hr_model import HrModelSettings, decay, fit_session
from training_gateway.models.hr_model.memory import SECONDS_PER_YEAR
from training_gateway.models.hr_model.wire import HrModelFit

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SETTINGS = HrModelSettings(
    fixed_speed=False, fit=True, e_constraints=[0.5, 0.7, 0.01], p_constraints=[175, 195, 1]
)


def a_fit(seed: int, memory=None) -> HrModelFit:  # type: ignore[no-untyped-def]
    speed = interval_speeds(0.6, 5.03, seed=seed, duration_s=600)
    time_s, hr, speed = simulate(0.6, 5.03, 185.0, speed, seed=seed + 1)
    return fit_session(SETTINGS, time_s, hr, speed, memory, now_s=NOW.timestamp())


async def test_memory_is_kept_per_user_and_sport_with_its_history(store: Store) -> None:
    alice, bob = await store.create_user("alice"), await store.create_user("bob")
    repository = HrModelRepository(store)
    assert await repository.load_memory(alice, "running") is None
    assert await repository.profile(alice, "running") is None

    first = a_fit(1)
    await repository.save_fit(alice, "running", first, fitted_at=NOW)
    kept = await repository.load_memory(alice, "running")
    assert kept is not None and msgspec.json.encode(kept) == msgspec.json.encode(first.memory)
    assert await repository.load_memory(alice, "cycling") is None
    assert await repository.load_memory(bob, "running") is None
    assert await repository.profile(bob, "running") is None

    second = a_fit(5, kept)
    await repository.save_fit(alice, "running", second, fitted_at=NOW + timedelta(days=1))
    profile = await repository.profile(alice, "running", now=NOW + timedelta(days=1))
    assert profile is not None and profile.sport == "running"
    assert [entry.endurance for entry in profile.history] == [
        second.result.endurance,
        first.result.endurance,
    ]
    assert profile.history[0].fitted_at == NOW + timedelta(days=1)
    assert profile.current.endurance == second.result.true_endurance
    assert profile.current.v5 == second.result.true_v5
    assert profile.current.updated_at == NOW + timedelta(days=1)
    # the memory was written at NOW; a day later its confidence has decayed a little
    assert profile.current.confidence == pytest.approx(
        second.result.true_confidence * decay(86_400), abs=1e-3
    )
    assert len((await repository.profile(alice, "running", limit=1)).history) == 1  # type: ignore[union-attr]

    later = await repository.profile(
        alice, "running", now=NOW + timedelta(seconds=SECONDS_PER_YEAR)
    )
    assert later is not None
    assert later.current.confidence == pytest.approx(second.result.true_confidence / 2, abs=1e-3)


async def test_a_fit_without_memory_cannot_be_saved(store: Store) -> None:
    alice = await store.create_user("alice")
    fitted = a_fit(1)
    with pytest.raises(ValueError):
        await HrModelRepository(store).save_fit(
            alice, "running", HrModelFit(result=fitted.result, memory=None)
        )
