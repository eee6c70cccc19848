"""Heart-rate model memories per user and sport, and the history of the fits behind them."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from sqlalchemy import (
    and_,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from training_gateway.gateway.storage.store import Store, User
from training_gateway.gateway.storage.tables import hr_model_history, hr_model_memories
from training_gateway.models.hr_model.memory import decay
from training_gateway.models.hr_model.wire import (
    HrMemory,
    HrModelEstimate,
    HrModelFit,
    HrModelHistoryEntry,
    HrModelProfile,
)

_memory_decoder = msgspec.json.Decoder(HrMemory)
_entry_decoder = msgspec.json.Decoder(HrModelHistoryEntry)


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class HrModelRepository:
    """A user's heart-rate model memory per sport and its history; never another user's."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def load_memory(self, user: User, sport: str) -> HrMemory | None:
        """The memory the last stored fit left for this user and sport, if any."""
        query = select(hr_model_memories.c.memory).where(
            hr_model_memories.c.user_id == user.id, hr_model_memories.c.sport == sport
        )
        async with self.store.engine.connect() as conn:
            raw = (await conn.execute(query)).scalar_one_or_none()
        return None if raw is None else _memory_decoder.decode(raw)

    async def save_fit(
        self, user: User, sport: str, fit: HrModelFit, *, fitted_at: datetime | None = None
    ) -> None:
        """Keep `fit.memory` as the user's memory for `sport` and append the fit to the history."""
        memory, result = fit.memory, fit.result
        true_values = (
            result.true_endurance,
            result.true_vmax,
            result.true_v5,
            result.true_hr_max_bpm,
            result.true_confidence,
        )
        if memory is None or None in true_values:
            raise ValueError("only a fit that produced a memory (and its estimates) can be saved")
        true_e, true_vmax, true_v5, true_p, true_confidence = (
            v for v in true_values if v is not None
        )
        moment = fitted_at or datetime.now(UTC)
        entry = HrModelHistoryEntry(
            fitted_at=moment,
            endurance=result.endurance,
            vmax=result.vmax,
            v5=result.v5,
            hr_max_bpm=result.hr_max_bpm,
            confidence=result.confidence,
            rmse_bpm=result.rmse_bpm,
            true_endurance=true_e,
            true_vmax=true_vmax,
            true_v5=true_v5,
            true_hr_max_bpm=true_p,
            true_confidence=true_confidence,
        )
        values = {
            "memory": msgspec.json.encode(memory).decode(),
            "secs_since_epoch": memory.secs_since_epoch,
            "endurance": entry.true_endurance,
            "v5": entry.true_v5,
            "vmax": entry.true_vmax,
            "hr_max_bpm": entry.true_hr_max_bpm,
            "confidence": entry.true_confidence,
            "updated_at": moment,
        }
        key = and_(hr_model_memories.c.user_id == user.id, hr_model_memories.c.sport == sport)
        for attempt in range(2):
            try:
                async with self.store.engine.begin() as conn:
                    changed = await conn.execute(
                        update(hr_model_memories).where(key).values(**values)
                    )
                    if not changed.rowcount:
                        await conn.execute(
                            insert(hr_model_memories).values(user_id=user.id, sport=sport, **values)
                        )
                    await conn.execute(
                        insert(hr_model_history).values(
                            user_id=user.id,
                            sport=sport,
                            fitted_at=moment,
                            entry=msgspec.json.encode(entry).decode(),
                        )
                    )
                return
            except IntegrityError:
                # Another request inserted this user's first memory for the sport meanwhile.
                if attempt:
                    raise

    async def profile(
        self, user: User, sport: str, *, limit: int = 100, now: datetime | None = None
    ) -> HrModelProfile | None:
        """Current estimates (confidence decayed to `now`) and the latest fits, newest first."""
        memories, history = hr_model_memories, hr_model_history
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(memories).where(memories.c.user_id == user.id, memories.c.sport == sport)
                )
            ).first()
            if row is None:
                return None
            entries = (
                (
                    await conn.execute(
                        select(history.c.entry)
                        .where(history.c.user_id == user.id, history.c.sport == sport)
                        .order_by(history.c.seq.desc())
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
        moment = now or datetime.now(UTC)
        elapsed = moment.timestamp() - row.secs_since_epoch
        current = HrModelEstimate(
            endurance=row.endurance,
            vmax=row.vmax,
            v5=row.v5,
            hr_max_bpm=row.hr_max_bpm,
            confidence=round(row.confidence * decay(elapsed), 4),
            updated_at=_aware(row.updated_at),
        )
        return HrModelProfile(
            sport=sport,
            current=current,
            history=[_entry_decoder.decode(raw) for raw in entries],
        )
