"""A stateful mock of Astral's Activities API (nexrex), faithful to its documented contract.

Three seeded users: the athlete (about 90 days of history plus planned sessions from
`synthesize_history(seed + 1000)`), a second athlete (isolation) and a coach who may read the
athlete. Tokens are RS256 JWTs whose `sub` is the user id. The state lives in plain attributes
of `AstralStore`; `AstralMock.add_activity` puts an activity in verbatim.

Where the spec is silent the mock chooses, and says so here:
- `limit` defaults to 50 and has no maximum; bad `limit`/`offset`/dates/filters answer 400.
- Bodies are decoded strictly: a wrong type, an unknown field or a value outside the documented
  set answers 422, as does a missing required field on create; malformed JSON answers 400.
- Another user's activity reads as 404 unless the caller coaches its owner; a coach may read,
  not write (403).
- `detail=true` and `image_urls=true` apply to the list; a single activity always carries its
  `image_urls`, and `include_streams` (get only) needs `detail=true`.
- `summary.duration_in_seconds` defaults to 0 and `summary.start_time_in_seconds` to the time
  of creation.

Astral sends no webhooks. `mock.outside` (`outside.OutsideChanges`) changes a user's data as
Astral's own app would (`create_activity`, `update_activity`, `delete_activity`, and an
athlete granting or withdrawing coach access: `start_coaching`, `stop_coaching`), also from
another process through the loopback-only `POST /_mock/changes`; a gateway learns of such
changes only by reading again.

The package: `store` (the state and its rules, no HTTP), `samples` (what is derived from 1 Hz
samples), `render` (how an activity is answered), `api` (the controller), `dialect` (Astral's
errors and query rules), `outside` (changes made in Astral's own app) and `app` (the Litestar
app); `AstralMock` here is the facade.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

import numpy as np

from training_gateway.adapters._mock.base import MockParts, OAuthProfile, ProviderMock
from training_gateway.adapters._mock.clock import MockClock
from training_gateway.adapters._mock.control import changes_route
from training_gateway.adapters._mock.oauth import ASTRAL_PATHS
from training_gateway.adapters._mock.tokens import TokenIssuer
from training_gateway.adapters.astral.mock.app import create_app
from training_gateway.adapters.astral.mock.outside import OutsideChanges
from training_gateway.adapters.astral.mock.samples import DETAIL_RESOLUTION_S
from training_gateway.adapters.astral.mock.store import AstralStore, StoredActivity
from training_gateway.adapters.astral.wire import AstralActivity

__all__ = [
    "DEFAULT_SCOPE",
    "DETAIL_RESOLUTION_S",
    "ISSUER",
    "AstralMock",
    "AstralStore",
    "OutsideChanges",
    "StoredActivity",
    "create_mock",
]

ISSUER: Final = "https://app.nexrex.ai"
DEFAULT_SCOPE: Final = "activities:read activities:write"


class AstralMock(ProviderMock[AstralStore]):
    """Astral's API as a seeded, stateful mock: serve `asgi_app()` and sign in with `token_for()`.

    `faults` (a FaultInjector wrapping the app) adds latency or forces failures; `store` holds
    the state; `add_activity` stores an activity verbatim; `outside` changes a user's data as
    Astral's own app would, at `clock`'s now.
    """

    name = "astral"
    display_name = "Astral"
    issuer = ISSUER
    #: OAuth2 with PKCE (no OpenID Connect): metadata at the RFC 8414 path.
    oauth = OAuthProfile(paths=ASTRAL_PATHS, openid=False, default_scope=DEFAULT_SCOPE)
    parts = MockParts(store=AstralStore, app=create_app)

    def __init__(
        self,
        seed: int = 0,
        *,
        today: date | None = None,
        tokens: TokenIssuer | None = None,
        history_days: int = 90,
        clock: MockClock | None = None,
    ) -> None:
        super().__init__(seed, today=today, tokens=tokens, history_days=history_days, clock=clock)
        #: Changes made in Astral's own app, not through its API.
        self.outside = OutsideChanges(self.store, self.clock)

    def control_routes(self) -> list[Any]:
        """`/_mock/clock` and `/_mock/changes`."""
        return [*super().control_routes(), changes_route(self.outside.apply_json)]

    def access_claims(self, user: str) -> dict[str, Any]:
        """Astral's access tokens carry the account's email and name, and no scope."""
        account = self.store.users[user]
        return {"email": account.email, "name": account.username}

    @property
    def athlete_id(self) -> str:
        return self.store.athlete.user_id

    @property
    def second_athlete_id(self) -> str:
        return self.store.second_athlete.user_id

    @property
    def coach_id(self) -> str:
        return self.store.coach.user_id

    def add_activity(
        self, activity: AstralActivity, *, samples: Mapping[str, np.ndarray] | None = None
    ) -> AstralActivity:
        """Store an activity as given (its owner is `activity.user_id`); `samples` are 1 Hz
        series named as `synthesize_history` names them, served by `detail=true`."""
        return self.store.add(activity, samples=samples).activity


def create_mock(seed: int = 0, *, history_days: int = 90, today: date | None = None) -> AstralMock:
    """A fresh Astral mock, seeded with `seed`, with `history_days` of the athlete's history
    ending on `today` (the real date when None)."""
    return AstralMock(seed, today=today, history_days=history_days)
