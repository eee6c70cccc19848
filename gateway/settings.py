"""Gateway settings, read from the environment (`GATEWAY_*`) with embedded defaults."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs


@dataclasses.dataclass(kw_only=True, frozen=True)
class OAuthClient:
    """The gateway's registration as an OAuth client at one provider."""

    client_id: str
    client_secret: str | None = None
    redirect_uri: str | None = None  # default: <public_url>/v1/connections/<provider>/callback
    scope: str | None = None  # default: the adapter's own

    def __repr__(self) -> str:
        secret = "<redacted>" if self.client_secret else None
        return f"OAuthClient(client_id={self.client_id!r}, client_secret={secret}, redirect_uri={self.redirect_uri!r})"


@dataclasses.dataclass(frozen=True)
class RateLimit:
    """At most `limit` requests in any `per_s` seconds."""

    limit: int
    per_s: int

    def __str__(self) -> str:
        unit = next(u for u, seconds in _RATE_UNITS.items() if seconds == self.per_s)
        return f"{self.limit}/{unit}"


_RATE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_rate_limits(text: str, *, name: str = "rate limit") -> tuple[RateLimit, ...]:
    """`10/s,50000/d` as rate limits (units s, m, h, d); SettingsError naming `name` otherwise."""
    found: list[RateLimit] = []
    for part in (p.strip() for p in text.split(",")):
        count, _, unit = part.partition("/")
        if not count.strip().isdigit() or int(count) < 1 or unit.strip() not in _RATE_UNITS:
            raise SettingsError(f"{name}: {part!r} is not COUNT/UNIT (a unit of s, m, h, d)")
        found.append(RateLimit(limit=int(count), per_s=_RATE_UNITS[unit.strip()]))
    if len({r.per_s for r in found}) != len(found):
        raise SettingsError(f"{name}: {text!r} names a unit twice")
    return tuple(sorted(found, key=lambda r: r.per_s))


@dataclasses.dataclass(kw_only=True)
class Settings:
    """Everything the gateway needs to start. Secrets are kept out of `repr`."""

    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = False
    demo_key: str | None = None
    secret_keys: tuple[str, ...] = ()
    provider_urls: dict[str, str] = dataclasses.field(default_factory=dict)
    http_timeout_s: float = 10.0
    http_connect_timeout_s: float = 3.0
    max_connections_per_provider: int = 50
    # SweatStack closes its backfill stream after 60 s; the merged stream does the same.
    backfill_window_s: float = 60.0
    # OAuth: the gateway's client at each provider (GATEWAY_<PROVIDER>_CLIENT_ID, ...).
    oauth_clients: dict[str, OAuthClient] = dataclasses.field(default_factory=dict)
    # Where browsers reach the gateway (callback URLs); default http://<host>:<port>.
    public_url: str | None = None
    # URL prefixes `return_to` may point at after a connection (GATEWAY_RETURN_TO_ALLOWLIST).
    return_to_allowlist: tuple[str, ...] = ()
    # Refresh an access token this long before it expires.
    refresh_skew_s: float = 60.0
    # After a failed refresh, callers get that failure at once for this long, doubling with
    # each further failure (up to a minute); then one refresh is tried again.
    refresh_backoff_s: float = 1.0
    # Idempotent provider GETs: tries in all, on connect errors and 502/503/504, with
    # jittered exponential backoff from retry_backoff_s.
    retry_attempts: int = 3
    retry_backoff_s: float = 0.1
    # A provider 429 whose Retry-After is at most this is waited out and retried once.
    retry_after_budget_s: float = 1.0
    # The gateway's own request limits per provider (GATEWAY_<PROVIDER>_RATE_LIMIT), shared
    # by every replica through the database; a request waits up to rate_limit_wait_s for room.
    rate_limits: dict[str, tuple[RateLimit, ...]] = dataclasses.field(default_factory=dict)
    rate_limit_wait_s: float = 1.0
    # How long a started connection (its state, nonce and PKCE verifier) stays valid.
    oauth_state_ttl_s: float = 600.0
    # Leeway for ID-token `exp`/`iat` checks.
    id_token_leeway_s: int = 60
    # The background engine (docs/engine.md): "embedded" runs a worker inside `gateway serve`;
    # "off" leaves the work to `gateway worker` processes (API replicas only enqueue).
    engine: str = "embedded"
    # This process's name among the engine's workers (default: host and pid).
    worker_id: str | None = None
    # How often each provider's connections are reconciled (GATEWAY_<P>_RECONCILE_INTERVAL_S),
    # over how many past days, and how often a worker looks for work that is due.
    reconcile_interval_s: dict[str, float] = dataclasses.field(default_factory=dict)
    default_reconcile_interval_s: float = 300.0
    reconcile_window_days: int = 30
    schedule_tick_s: float = 5.0
    # How old a connection's synced index may be for lists to be served from it
    # (GATEWAY_<P>_INDEX_FRESHNESS_S per provider; 0 reads that provider live always).
    index_freshness_s: dict[str, float] = dataclasses.field(default_factory=dict)
    default_index_freshness_s: float = 900.0
    # Provider webhook secrets (GATEWAY_<P>_WEBHOOK_SECRET: current first, then the one being
    # rolled out), so both verify during a roll.
    webhook_secrets: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # Let webhook endpoints be loopback or private addresses outside demo mode
    # (GATEWAY_WEBHOOK_ALLOW_PRIVATE=1), for a gateway whose receivers are on its network.
    webhook_allow_private: bool = False
    # Ask a provider that computes longitudinal curves itself (SweatStack) for them where
    # every matching activity is there (GATEWAY_PROVIDER_CURVES=1); else the gateway computes.
    provider_curves: bool = False
    # The operator's key for /v1/webhooks (GATEWAY_ADMIN_KEY).
    admin_key: str | None = None
    # How long a receiver has to answer a delivery (GATEWAY_WEBHOOK_TIMEOUT_S).
    webhook_timeout_s: float = 10.0
    # Scales every delay of the delivery schedule and the 5-day disabling window (tests).
    webhook_retry_scale: float = 1.0
    # Backfill pace: pages of a provider's history read per second.
    backfill_pages_per_s: float = 2.0
    # Uploads taken at once by one gateway process (GATEWAY_MAX_CONCURRENT_UPLOADS), and how
    # long a further one waits for a slot before a 503 (GATEWAY_UPLOAD_WAIT_S).
    max_concurrent_uploads: int = 2
    upload_wait_s: float = 10.0
    # Who may read /metrics (GATEWAY_METRICS): "off", "loopback" (clients on this host; the
    # default) or "token" (Authorization: Bearer GATEWAY_METRICS_TOKEN; the default once a
    # token is set). docs/observability.md.
    metrics: str = "loopback"
    metrics_token: str | None = None
    # Log lines as JSON objects (GATEWAY_LOG_FORMAT=json, the default) or plain text.
    log_format: str = "json"
    # OpenTelemetry traces of requests (GATEWAY_OTEL=1; needs the `otel` extra).
    otel: bool = False

    @property
    def base_url(self) -> str:
        """The gateway's public base URL, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def redirect_uri(self, provider: str) -> str:
        """The callback URL registered at `provider` for this gateway."""
        client = self.oauth_clients.get(provider)
        if client is not None and client.redirect_uri:
            return client.redirect_uri
        return f"{self.base_url}/v1/connections/{provider}/callback"

    def __repr__(self) -> str:
        return (
            f"Settings(data_dir={str(self.data_dir)!r}, database_url={redact_url(self.database_url)!r}, "
            f"host={self.host!r}, port={self.port}, demo={self.demo}, providers={sorted(self.provider_urls)})"
        )


_NOT_PROVIDER_URLS = frozenset({"GATEWAY_DATABASE_URL", "GATEWAY_PUBLIC_URL"})


def redact_url(url: str) -> str:
    """A database URL with any password replaced, for logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def default_data_dir() -> Path:
    """A per-user data directory (e.g. ~/.local/share/training-gateway)."""
    return Path(platformdirs.user_data_dir("training-gateway", appauthor=False))


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'gateway.sqlite3'}"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and says what it must be."""


def _number(env: Mapping[str, str], name: str, default: str, kind: type[int] | type[float]) -> Any:
    raw = env.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{name} must be {what}, not {raw!r}") from None
    if value < 0 or value != value or value == float("inf"):
        raise SettingsError(f"{name} must be a finite, non-negative number, not {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: str = "0") -> bool:
    raw = env.get(name, default).strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be 1 or 0, not {raw!r}")


def _per_provider(env: Mapping[str, str], suffix: str) -> dict[str, str]:
    return {
        key[len("GATEWAY_") : -len(suffix)].lower(): value
        for key, value in env.items()
        if key.startswith("GATEWAY_")
        and key.endswith(suffix)
        and len(key) > len("GATEWAY_") + len(suffix)
        and value.strip()
    }


def _engine_settings(env: Mapping[str, str]) -> dict[str, Any]:
    engine = env.get("GATEWAY_ENGINE", "embedded").strip().lower()
    if engine not in ("embedded", "off"):
        raise SettingsError(f"GATEWAY_ENGINE must be embedded or off, not {engine!r}")
    intervals = {
        provider: _number({"v": raw}, "v", "0", float)
        for provider, raw in _per_provider(env, "_RECONCILE_INTERVAL_S").items()
    }
    freshness = {
        provider: _number(env, f"GATEWAY_{provider.upper()}_INDEX_FRESHNESS_S", "0", float)
        for provider in _per_provider(env, "_INDEX_FRESHNESS_S")
    }
    return {
        "engine": engine,
        "worker_id": env.get("GATEWAY_WORKER_ID") or None,
        "reconcile_interval_s": intervals,
        "index_freshness_s": freshness,
        "default_index_freshness_s": _number(env, "GATEWAY_INDEX_FRESHNESS_S", "900", float),
        "default_reconcile_interval_s": _number(env, "GATEWAY_RECONCILE_INTERVAL_S", "300", float),
        "reconcile_window_days": _number(env, "GATEWAY_RECONCILE_WINDOW_DAYS", "30", int),
        "schedule_tick_s": _number(env, "GATEWAY_SCHEDULE_TICK_S", "5", float),
        "webhook_secrets": {
            provider: tuple(s.strip() for s in raw.split(",") if s.strip())
            for provider, raw in _per_provider(env, "_WEBHOOK_SECRET").items()
        },
        "admin_key": env.get("GATEWAY_ADMIN_KEY") or None,
        "webhook_allow_private": _flag(env, "GATEWAY_WEBHOOK_ALLOW_PRIVATE"),
        "provider_curves": _flag(env, "GATEWAY_PROVIDER_CURVES"),
        "webhook_retry_scale": _number(env, "GATEWAY_WEBHOOK_RETRY_SCALE", "1", float),
        "webhook_timeout_s": _number(env, "GATEWAY_WEBHOOK_TIMEOUT_S", "10", float),
        "backfill_pages_per_s": _number(env, "GATEWAY_BACKFILL_PAGES_PER_S", "2", float),
        "max_concurrent_uploads": max(1, _number(env, "GATEWAY_MAX_CONCURRENT_UPLOADS", "2", int)),
        "upload_wait_s": _number(env, "GATEWAY_UPLOAD_WAIT_S", "10", float),
    }


def _observability_settings(env: Mapping[str, str]) -> dict[str, Any]:
    token = env.get("GATEWAY_METRICS_TOKEN", "").strip() or None
    mode = env.get("GATEWAY_METRICS", "").strip().lower() or ("token" if token else "loopback")
    if mode not in ("off", "loopback", "token"):
        raise SettingsError(f"GATEWAY_METRICS must be off, loopback or token, not {mode!r}")
    if mode == "token" and token is None:
        raise SettingsError("GATEWAY_METRICS=token needs GATEWAY_METRICS_TOKEN")
    log_format = env.get("GATEWAY_LOG_FORMAT", "json").strip().lower()
    if log_format not in ("json", "text"):
        raise SettingsError(f"GATEWAY_LOG_FORMAT must be json or text, not {log_format!r}")
    return {
        "metrics": mode,
        "metrics_token": token,
        "log_format": log_format,
        "otel": _flag(env, "GATEWAY_OTEL"),
    }


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from `env` (default: the process environment), then explicit overrides;
    SettingsError naming a setting that cannot be used.

    Provider base URLs come from `GATEWAY_<PROVIDER>_URL`; signing keys for the token vault
    from `GATEWAY_SECRET_KEY` (comma-separated, newest first, for rotation).
    """
    env = os.environ if env is None else env
    data_dir = Path(env.get("GATEWAY_DATA_DIR") or default_data_dir())
    provider_urls = {
        key[len("GATEWAY_") : -len("_URL")].lower(): value.rstrip("/")
        for key, value in env.items()
        if key.startswith("GATEWAY_")
        and key.endswith("_URL")
        and key not in _NOT_PROVIDER_URLS
        and value
    }
    oauth_clients = {
        key[len("GATEWAY_") : -len("_CLIENT_ID")].lower(): OAuthClient(
            client_id=value,
            client_secret=env.get(key[: -len("_ID")] + "_SECRET") or None,
            redirect_uri=env.get(key[: -len("_CLIENT_ID")] + "_REDIRECT_URI") or None,
            scope=env.get(key[: -len("_CLIENT_ID")] + "_SCOPE") or None,
        )
        for key, value in env.items()
        if key.startswith("GATEWAY_") and key.endswith("_CLIENT_ID") and value
    }
    rate_limits = {
        key[len("GATEWAY_") : -len("_RATE_LIMIT")].lower(): parse_rate_limits(value, name=key)
        for key, value in env.items()
        if key.startswith("GATEWAY_") and key.endswith("_RATE_LIMIT") and value.strip()
    }
    secret = env.get("GATEWAY_SECRET_KEY", "")
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": env.get("GATEWAY_DATABASE_URL") or sqlite_url(data_dir),
        "host": env.get("GATEWAY_HOST", "127.0.0.1"),
        "port": _number(env, "GATEWAY_PORT", "8000", int),
        "demo_key": env.get("GATEWAY_DEMO_KEY") or None,
        "secret_keys": tuple(k.strip() for k in secret.split(",") if k.strip()),
        "provider_urls": provider_urls,
        "http_timeout_s": _number(env, "GATEWAY_HTTP_TIMEOUT_S", "10", float),
        "oauth_clients": oauth_clients,
        "public_url": env.get("GATEWAY_PUBLIC_URL") or None,
        "return_to_allowlist": tuple(
            u.strip() for u in env.get("GATEWAY_RETURN_TO_ALLOWLIST", "").split(",") if u.strip()
        ),
        "refresh_skew_s": _number(env, "GATEWAY_REFRESH_SKEW_S", "60", float),
        "refresh_backoff_s": _number(env, "GATEWAY_REFRESH_BACKOFF_S", "1", float),
        "retry_attempts": max(1, _number(env, "GATEWAY_RETRY_ATTEMPTS", "3", int)),
        "retry_backoff_s": _number(env, "GATEWAY_RETRY_BACKOFF_S", "0.1", float),
        "retry_after_budget_s": _number(env, "GATEWAY_RETRY_AFTER_BUDGET_S", "1", float),
        "rate_limits": rate_limits,
        "rate_limit_wait_s": _number(env, "GATEWAY_RATE_LIMIT_WAIT_S", "1", float),
        **_engine_settings(env),
        **_observability_settings(env),
    }
    values.update(overrides)
    values["data_dir"] = Path(values["data_dir"])
    if (
        "database_url" not in overrides
        and "data_dir" in overrides
        and not env.get("GATEWAY_DATABASE_URL")
    ):
        values["database_url"] = sqlite_url(values["data_dir"])
    return Settings(**values)
