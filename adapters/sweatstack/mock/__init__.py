"""A stateful mock of SweatStack's activity API, served as a Litestar app.

Faithful to the documented contract (docs "Activities") and to what the official `sweatstack`
client 0.97.0 sends and validates: repeated query keys, `YYYY-MM-DD` dates, offset-aware
`start`/`end` in the athlete's local offset, naive `*_local`, ISO 8601 durations, Parquet time
series, FastAPI-style `{"detail": ...}` errors and an `x-request-id` on every response.

State is plain data (`SweatStackMock.activities`), seeded deterministically from `seed` for
two athletes, so tests can add activities and prove that users never see each other's data.
Summaries and laps are computed from the synthetic 1 Hz streams the first time they are asked
for, so starting a mock stays cheap.

Beyond activities and their data:
- `GET /api/v1/activities/{id}/mean-max` computes the curve the straightforward way
  (`models.mean_max.on_one_hz_grid` + `mean_max_reference`), so the gateway's fast
  implementation can be checked against it.
- `GET /api/v1/activities/longitudinal-data`, `longitudinal-mean-max` (by intensity or by
  duration, with fatigue states `after`) and `longitudinal-accumulated-work-duration` (each
  also without `/activities/`), and `/api/v1/activities/{id}/accumulated-work-duration`,
  with SweatStack's documented rules (`api.longitudinal`; computed by `analyses` in a thread).
- `POST /api/v1/activities/upload` takes up to `max_upload_files` FIT files (multipart field
  `files`), answers 202 with one `SourceResponse` each and decodes them in the background
  (`models.fit.decode_fit`) into activities with the recorded samples. SweatStack documents no
  endpoint to read a source back, so the mock does not invent one: tests read
  `SweatStackMock.sources` (or `source_response(id)`), whose status moves from "processing" to
  "processed" (with the activity id) or "failed" (with an error).
- `GET /api/v1/activities/backfill-status` streams NDJSON: a line every `backfill_interval_s`
  whose `backfill_loaded_until` moves from the newest activity's start towards the oldest's,
  `backfill_step` activities per line, closing after `backfill_window_s` (3 s and 60 s, as
  documented; tests shorten both). Progress is kept per user across connections; with
  `backfill_error` set, the stream sends `{"error": ...}` instead and closes.
- The profile and users endpoints the client calls (`api.profile`): `profile/status` (which
  follows the backfill), `profile/sports/`, `profile/tags/`, `profile/app-metadata` (per app,
  app tokens only), `users/` with managed users (`profiles.ProfilesState`), and
  `oauth/delegated-token` / `oauth/principal-token` (acting as a managed user and back, so
  `delegated_client()`, `users.list()` and `whoami()` work).

Webhooks and changes made outside the API:
- `mock.webhooks` (`webhooks.Webhooks`) sends SweatStack's signed webhooks for every change of
  the data (uploads processed or failed, tests created, replaced or deleted through the API by
  any app, outside changes, facade calls), retrying failures for up to 24 h on `mock.clock`;
  `subscribe(url, secret=..., app=...)`, `roll_secret`, `deliveries` (the log), `wait_idle`.
- `mock.outside` (`outside.OutsideChanges`) changes a user's data as SweatStack's own app
  would: `create_activity`, `update_activity`, `delete_activity`, `create_test`,
  `update_test`, `delete_test`.
- Loopback-only control routes, never faulted: `POST /_mock/changes` (an outside change),
  `/_mock/webhooks` (subscribe, roll, unsubscribe, the log) and `/_mock/clock`.

Where SweatStack's documentation is silent the mock chooses, and says so: a mean-max of a
metric the activity did not record is a 422 (as segmenting on it is); an activity without
samples (a FIT file with no records) serves a data table with no rows; a file is taken as FIT
when its header says so, whatever its name.

The package: `store` (the state, no HTTP) and `records` (what it stores), `events` (what the
store publishes when its data changes), `profiles` (accounts, managed users, profile app
metadata), `api` (a controller per resource: activities, tests, profile, users),
`dialect` (FastAPI-style errors and query rules), `parquet` (the Parquet answers), `outside`
(changes made in SweatStack's own app), `webhooks` (their signed deliveries) and `app` (the
Litestar app, and the webhooks' control routes); `SweatStackMock` here is the facade.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from training_gateway.adapters._mock.base import (
    MockParts,
    OAuthProfile,
    ProviderMock,
    StoreAttribute,
    store_method,
)
from training_gateway.adapters._mock.clock import MockClock
from training_gateway.adapters._mock.control import changes_route
from training_gateway.adapters._mock.oauth import SWEATSTACK_PATHS
from training_gateway.adapters._mock.tokens import TokenIssuer
from training_gateway.adapters.sweatstack.mock.api.activities import backfill_lines, is_fit
from training_gateway.adapters.sweatstack.mock.app import RequestIds, create_app, webhook_routes
from training_gateway.adapters.sweatstack.mock.outside import OutsideChanges
from training_gateway.adapters.sweatstack.mock.records import (
    StoredActivity,
    StoredSource,
    StoredTest,
)
from training_gateway.adapters.sweatstack.mock.scopes import PERSONAL_SCOPE
from training_gateway.adapters.sweatstack.mock.store import LabTestsState, SweatStackStore
from training_gateway.adapters.sweatstack.mock.webhooks import Webhooks

__all__ = [
    "DEFAULT_SCOPE",
    "ISSUER",
    "OutsideChanges",
    "StoredActivity",
    "StoredSource",
    "StoredTest",
    "SweatStackMock",
    "Webhooks",
    "create_mock",
    "is_fit",
]

ISSUER = "https://app.sweatstack.no"
DEFAULT_SCOPE = "openid profile email activities:read offline_access"


class SweatStackMock(ProviderMock[SweatStackStore]):
    """SweatStack's activity and Tests APIs with two seeded athletes; implements `MockProvider`.

    The state is the `store`'s, and public here too so tests can inspect and change it:
    `activities` (by id), `user_ids`, `sources` (uploads by source id), `tests_state`,
    `max_upload_files` and the backfill settings `backfill_interval_s`, `backfill_window_s`,
    `backfill_step`, `backfill_loaded` (progress per user) and `backfill_error`; `tokens` (the
    `TokenIssuer`) and `faults` (the `FaultInjector` around the app) as every mock has them;
    `webhooks` (subscriptions and deliveries), `outside` (changes made in SweatStack's own
    app) and `clock` (what both take as now).
    """

    name = "sweatstack"
    display_name = "SweatStack"
    issuer = ISSUER
    #: OAuth2 and OpenID Connect, at the paths the SDK uses.
    oauth = OAuthProfile(
        paths=SWEATSTACK_PATHS,
        openid=True,
        default_scope=DEFAULT_SCOPE,
        # The SDK's oauth.exchange_code sends no redirect_uri, and works against SweatStack.
        token_redirect_uri_required=False,
    )

    parts = MockParts(store=SweatStackStore, app=create_app, outer=RequestIds)

    activities = StoreAttribute[dict[str, StoredActivity]]()
    user_ids = StoreAttribute[tuple[str, ...]]()
    sources = StoreAttribute[dict[str, StoredSource]]()
    tests_state = StoreAttribute[LabTestsState]()
    max_upload_files = StoreAttribute[int]()
    backfill_interval_s = StoreAttribute[float]()
    backfill_window_s = StoreAttribute[float]()
    backfill_step = StoreAttribute[int]()
    backfill_loaded = StoreAttribute[dict[str, int]]()
    backfill_error = StoreAttribute[str | None]()
    other_user = StoreAttribute[str]()

    add_session = store_method(SweatStackStore.add_session)
    add_activity = store_method(SweatStackStore.add_activity)
    add_recording = store_method(SweatStackStore.add_recording)
    activities_of = store_method(SweatStackStore.activities_of)
    accept_upload = store_method(SweatStackStore.accept_upload)
    process_upload = store_method(SweatStackStore.process_upload)
    source_response = store_method(SweatStackStore.source_response)
    advance_backfill = store_method(SweatStackStore.advance_backfill)

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
        #: SweatStack's webhooks: subscribe apps' URLs, read the delivery log.
        self.webhooks = Webhooks(self.store.changes, self.clock)
        #: Changes made in SweatStack's own app, not through its API.
        self.outside = OutsideChanges(self.store, self.clock)

    def control_routes(self) -> list[Any]:
        """`/_mock/clock`, `/_mock/changes` and `/_mock/webhooks`."""
        return [
            *super().control_routes(),
            changes_route(self.outside.apply_json),
            *webhook_routes(self.webhooks),
        ]

    def access_claims(self, user: str) -> dict[str, Any]:
        """`token_for` gives a user's own API key: every scope but `admin` (the OAuth flow
        grants what was asked for, or `DEFAULT_SCOPE`); `token_for(scope=...)` narrows it."""
        return {"scope": PERSONAL_SCOPE}

    def close(self) -> None:
        """Stop delivering webhooks."""
        self.webhooks.close()

    def backfill_lines(self, user: str) -> AsyncIterator[bytes]:
        """The backfill stream of `user`, as `GET /api/v1/activities/backfill-status` sends it."""
        return backfill_lines(self.store, user)


def create_mock(
    seed: int = 0, *, history_days: int = 90, today: date | None = None
) -> SweatStackMock:
    """A fresh SweatStack mock, seeded with `seed`, with `history_days` of training history
    ending on `today` (the real date when None)."""
    return SweatStackMock(seed, today=today, history_days=history_days)
