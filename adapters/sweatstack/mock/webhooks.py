"""SweatStack's webhooks, as the mock sends them (docs "Webhooks"; the SDK's
`sweatstack/fastapi/webhooks.py` verifies them).

Each app (an OAuth client id) subscribes one or more URLs, each with its own `whsec_...`
secret. Every change the store publishes becomes, for every subscribed URL, one delivery:
a POST of `{"user_id", "event_type", "resource_id", "timestamp"}` (`WebhookEventBody`; the
event's time, UTC, with `Z`), signed in `X-Sweatstack-Signature: t=<unix>,v1=<hex>`, where
`v1` is HMAC-SHA256 with the secret (UTF-8) over `f"{t}."` and the exact body bytes.

- **Delivery.** The receiver has 2 s (`timeout_s`) to answer 2xx; a slower answer, another
  status or a connection error is a failure. A failed delivery is retried with the same body
  (re-signed with a fresh `t`) by `RetrySchedule`: 1 min after the first attempt, then 2, 4,
  8, ... min after each failure, for as long as the next attempt would fall within 24 h of the
  first; the eleventh attempt is at 17 h 3 min and the delivery is then given up.
- **Time.** Scheduling and each event's `timestamp` follow the mock's clock (`MockClock`:
  frozen and advanced, or sped up, by tests and benchmarks). The signature's `t` is the wall
  clock when the attempt is sent, since a receiver checks it against its own clock (the SDK
  refuses more than 300 s apart), which no test can move.
- **Secrets.** `roll_secret` replaces a URL's secret at once, as SweatStack's "roll" does:
  every attempt from then on, retries of earlier events included, is signed with the new
  secret only, so a receiver still holding the old one refuses them.
- **Who hears what.** Every subscribed app hears of every user's changes, and of every
  change, its own included (SweatStack documents no filter).

A background thread (started by the first subscription) sends the attempts that are due, a
few at a time; `deliveries` is the log of every delivery and its attempts, and `wait_idle()`
returns once nothing due is left to send, so a test can advance the clock and then look.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx
import msgspec

from training_gateway.adapters._mock.clock import MockClock
from training_gateway.adapters.sweatstack.mock.events import Change, ChangeFeed, EventType

SIGNATURE_HEADER = "X-Sweatstack-Signature"
SECRET_PREFIX = "whsec_"
#: How long a receiver has to answer 2xx.
DELIVERY_TIMEOUT_S = 2.0
#: The app a subscription belongs to when none is named.
DEFAULT_APP = "webhook-app"
USER_AGENT = "SweatStack-Webhooks/mock"
_MAX_PARALLEL_ATTEMPTS = 4

DeliveryState = Literal["pending", "delivered", "gave_up", "cancelled"]


class WebhookEvent(msgspec.Struct, frozen=True):
    """The body of a delivery, SweatStack's `WebhookEventBody`."""

    user_id: str
    event_type: EventType
    resource_id: str | None
    timestamp: datetime


class Webhook(msgspec.Struct, frozen=True):
    """A subscribed URL of an app, with the secret its deliveries are signed with now."""

    id: str
    app: str
    url: str
    secret: str


class Attempt(msgspec.Struct, frozen=True):
    """One try of a delivery: when (the mock's clock), what the receiver answered (`status`,
    None when it did not answer in time or at all), why it failed (`error`, None when it was
    delivered), the wall-clock seconds it took, and the signature header it carried."""

    number: int
    at: datetime
    status: int | None
    error: str | None
    elapsed_s: float
    signature: str


class Delivery(msgspec.Struct, frozen=True):
    """One event for one subscribed URL: its body (the same bytes at every attempt), its
    attempts so far, and when the next is due (None once delivered or given up)."""

    id: str
    webhook_id: str
    app: str
    url: str
    event: WebhookEvent
    body: bytes
    state: DeliveryState
    attempts: tuple[Attempt, ...]
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff: the first retry `first_delay_s` after the first attempt, each
    later pause `factor` times the one before, and no attempt more than `window_s` after the
    first."""

    first_delay_s: float = 60.0
    factor: float = 2.0
    window_s: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.first_delay_s <= 0 or self.factor < 1 or self.window_s < 0:
            raise ValueError("retries wait a while, never less than the time before")

    def next_offset_s(self, failed_attempts: int) -> float | None:
        """When the attempt after `failed_attempts` failures is due, in seconds after the
        first attempt; None when that is past the window (the delivery is given up)."""
        offset = sum(self.first_delay_s * self.factor**n for n in range(failed_attempts))
        return offset if offset <= self.window_s else None

    def offsets_s(self) -> list[float]:
        """Every attempt's offset from the first, while none succeeds."""
        offsets: list[float] = []
        for failed in itertools.count():
            offset = self.next_offset_s(failed)
            if offset is None:
                return offsets
            offsets.append(offset)
        raise AssertionError("unreachable")  # pragma: no cover (count() never ends)


def new_secret() -> str:
    """A webhook secret shaped as SweatStack's are."""
    return SECRET_PREFIX + secrets.token_urlsafe(24)


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """The `X-Sweatstack-Signature` value of `body` signed with `secret` at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _checked_secret(secret: str) -> str:
    if not secret.startswith(SECRET_PREFIX) or len(secret) <= len(SECRET_PREFIX):
        raise ValueError(f"a webhook secret looks like {SECRET_PREFIX}..., not {secret!r}")
    return secret


def _checked_url(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = httpx.URL()
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"a webhook URL is an http(s) URL, not {url!r}")
    return url


@dataclass(eq=False)
class _Delivery:
    id: str
    webhook_id: str
    app: str
    url: str
    event: WebhookEvent
    body: bytes
    due: float | None  # the mock clock's Unix seconds
    state: DeliveryState = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    first_at: float | None = None

    def snapshot(self) -> Delivery:
        return Delivery(
            id=self.id,
            webhook_id=self.webhook_id,
            app=self.app,
            url=self.url,
            event=self.event,
            body=self.body,
            state=self.state,
            attempts=tuple(self.attempts),
            next_attempt_at=None if self.due is None else datetime.fromtimestamp(self.due, UTC),
        )


class Webhooks:
    """The webhooks of a SweatStack mock: subscriptions per app, and the deliveries of every
    change the store publishes (see the module docstring)."""

    def __init__(
        self,
        changes: ChangeFeed,
        clock: MockClock,
        *,
        schedule: RetrySchedule | None = None,
        timeout_s: float = DELIVERY_TIMEOUT_S,
    ) -> None:
        self.clock = clock
        #: When failed deliveries are tried again; may be replaced while serving.
        self.schedule = schedule or RetrySchedule()
        self.timeout_s = timeout_s
        self._webhooks: dict[str, Webhook] = {}
        self._deliveries: dict[str, _Delivery] = {}
        self._in_flight: set[str] = set()
        self._webhook_ids = itertools.count(1)
        self._delivery_ids = itertools.count(1)
        self._cond = threading.Condition()
        self._closed = False
        self._worker: threading.Thread | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._client: httpx.Client | None = None
        changes.subscribe(self._on_change)
        clock.on_change(self._wake)

    # -- subscriptions -------------------------------------------------------------------

    def subscribe(self, url: str, *, secret: str | None = None, app: str = DEFAULT_APP) -> Webhook:
        """Send `app` every change from now on, POSTed to `url` and signed with `secret` (a
        new `whsec_...` one when None); the subscription, with its secret."""
        webhook = Webhook(
            id=f"wh_{next(self._webhook_ids):04d}",
            app=app,
            url=_checked_url(url),
            secret=new_secret() if secret is None else _checked_secret(secret),
        )
        with self._cond:
            if self._closed:
                raise RuntimeError("the mock's webhooks are closed")
            self._webhooks[webhook.id] = webhook
            self._start_locked()
        return webhook

    def unsubscribe(self, webhook_id: str) -> None:
        """Stop sending to that URL: its pending deliveries are cancelled (KeyError when
        unknown)."""
        with self._cond:
            del self._webhooks[webhook_id]
            for delivery in self._deliveries.values():
                if delivery.webhook_id == webhook_id and delivery.state == "pending":
                    delivery.state, delivery.due = "cancelled", None
            self._cond.notify_all()

    def roll_secret(self, webhook_id: str) -> Webhook:
        """Give the URL a new secret, effective at once: every attempt from now on is signed
        with it alone (KeyError when unknown)."""
        with self._cond:
            rolled = msgspec.structs.replace(self._webhooks[webhook_id], secret=new_secret())
            self._webhooks[webhook_id] = rolled
        return rolled

    @property
    def webhooks(self) -> list[Webhook]:
        """Every subscription, oldest first."""
        with self._cond:
            return list(self._webhooks.values())

    # -- the log -------------------------------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery so far, in the order the changes happened, as they stand now."""
        with self._cond:
            return [delivery.snapshot() for delivery in self._deliveries.values()]

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Block until no attempt is being sent and none is due by the mock's clock (later
        ones may be scheduled); TimeoutError after `timeout_s` wall-clock seconds."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._in_flight or self._due_locked(self.clock.time()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the mock's webhook deliveries did not settle")
                self._cond.wait(min(remaining, 0.05))

    def close(self) -> None:
        """Stop delivering: what is being sent now still finishes, the rest is cancelled."""
        with self._cond:
            self._closed = True
            for delivery in self._deliveries.values():
                if delivery.state == "pending" and delivery.id not in self._in_flight:
                    delivery.state, delivery.due = "cancelled", None
            self._cond.notify_all()
            worker, pool, client = self._worker, self._pool, self._client
        if worker is not None:
            worker.join(timeout=5)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()

    # -- delivering ----------------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        now = self.clock.time()
        event = WebhookEvent(
            user_id=change.user_id,
            event_type=change.event_type,
            resource_id=change.resource_id,
            timestamp=datetime.fromtimestamp(int(now), UTC),
        )
        body = msgspec.json.encode(event)
        with self._cond:
            if self._closed:
                return
            for webhook in self._webhooks.values():
                delivery_id = f"dlv_{next(self._delivery_ids):06d}"
                self._deliveries[delivery_id] = _Delivery(
                    id=delivery_id,
                    webhook_id=webhook.id,
                    app=webhook.app,
                    url=webhook.url,
                    event=event,
                    body=body,
                    due=now,
                )
            self._cond.notify_all()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _due_locked(self, now: float) -> list[_Delivery]:
        return [
            delivery
            for delivery in self._deliveries.values()
            if delivery.state == "pending"
            and delivery.due is not None
            and delivery.due <= now
            and delivery.id not in self._in_flight
        ]

    def _start_locked(self) -> None:
        if self._worker is not None:
            return
        self._client = httpx.Client(timeout=self.timeout_s, follow_redirects=False, trust_env=False)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=_MAX_PARALLEL_ATTEMPTS, thread_name_prefix="sweatstack-webhook"
        )
        self._worker = threading.Thread(target=self._run, name="sweatstack-webhooks", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                for delivery in self._due_locked(self.clock.time()):
                    self._in_flight.add(delivery.id)
                    assert self._pool is not None
                    self._pool.submit(self._attempt, delivery.id)
                self._cond.wait(self._wait_s_locked())

    def _wait_s_locked(self) -> float | None:
        """Wall-clock seconds until the next scheduled attempt (None: until woken)."""
        waits = [
            self.clock.real_seconds_until(delivery.due)
            for delivery in self._deliveries.values()
            if delivery.state == "pending"
            and delivery.due is not None
            and delivery.id not in self._in_flight
        ]
        known = [wait for wait in waits if wait is not None]
        return min(known) if known else None

    def _attempt(self, delivery_id: str) -> None:
        with self._cond:
            delivery = self._deliveries[delivery_id]
            webhook = self._webhooks.get(delivery.webhook_id)
            client = self._client
        if webhook is None or client is None or delivery.state != "pending":
            with self._cond:
                self._in_flight.discard(delivery_id)
                self._cond.notify_all()
            return
        at = self.clock.time()
        signed = signature(delivery.body, webhook.secret, int(time.time()))
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            response = client.post(
                webhook.url,
                content=delivery.body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: signed,
                    "User-Agent": USER_AGENT,
                },
            )
            status = response.status_code
        except httpx.TimeoutException:
            error = f"no answer within {self.timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - started
        if status is not None:
            if not 200 <= status < 300:
                error = f"answered {status}"
            elif elapsed > self.timeout_s:
                error = f"answered {status} after {elapsed:.1f} s, more than {self.timeout_s:g} s"
        with self._cond:
            attempts = delivery.attempts
            attempts.append(
                Attempt(
                    number=len(attempts) + 1,
                    at=datetime.fromtimestamp(at, UTC),
                    status=status,
                    error=error,
                    elapsed_s=round(elapsed, 3),
                    signature=signed,
                )
            )
            if delivery.first_at is None:
                delivery.first_at = at
            if delivery.state != "pending":
                pass  # cancelled while it was being sent
            elif error is None:
                delivery.state, delivery.due = "delivered", None
            else:
                offset = self.schedule.next_offset_s(len(attempts))
                if offset is None:
                    delivery.state, delivery.due = "gave_up", None
                else:
                    delivery.due = delivery.first_at + offset
            self._in_flight.discard(delivery_id)
            self._cond.notify_all()
