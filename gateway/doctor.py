"""`gateway doctor`: the checks an operator runs first when something is off. Each check
answers one line saying what is wrong (or that it is fine), so a failure names its fault."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from training_gateway.adapters.base import load_adapters
from training_gateway.gateway.settings import Settings, SettingsError, load_settings, redact_url

# Above this, signed tokens and webhook timestamps start failing at the providers.
MAX_CLOCK_SKEW_S = 30.0


@dataclass(frozen=True)
class Finding:
    """One check's outcome: `ok` false is a failure, `warning` a problem that still works."""

    check: str
    ok: bool
    message: str
    warning: bool = False

    def line(self) -> str:
        mark = "ok  " if self.ok and not self.warning else ("warn" if self.ok else "FAIL")
        return f"{mark} {self.check}: {self.message}"


async def diagnose() -> list[Finding]:
    """Every check, in the order a fault would cascade: settings, key, database, providers."""
    try:
        settings = load_settings(engine="off")
    except SettingsError as exc:
        return [Finding("settings", False, str(exc))]
    findings = [Finding("settings", True, f"valid (data dir {settings.data_dir})")]
    findings.append(_secret_key(settings))
    findings.append(await _database(settings))
    async with httpx.AsyncClient(timeout=settings.http_connect_timeout_s) as client:
        installed = load_adapters()
        for provider, url in sorted(settings.provider_urls.items()):
            if provider in installed:
                findings.extend(await _provider(client, provider, url))
            else:
                # Any GATEWAY_<NAME>_URL is read as a provider's base URL; one naming no
                # installed adapter is a typo or another program's variable, never checked.
                findings.append(
                    Finding(
                        f"GATEWAY_{provider.upper()}_URL",
                        True,
                        f"names no installed provider (installed: {', '.join(installed)})",
                        warning=True,
                    )
                )
    return findings


def _secret_key(settings: Settings) -> Finding:
    from training_gateway.gateway.app import vault_for

    try:
        vault = vault_for(settings, demo_key_file=True)
        if vault.decrypt(vault.encrypt("doctor")) != "doctor":
            return Finding("secret key", False, "encrypting and decrypting do not round-trip")
    except SettingsError as exc:
        return Finding("secret key", False, str(exc))
    return Finding("secret key", True, "present and usable")


async def _database(settings: Settings) -> Finding:
    from alembic.script import ScriptDirectory
    from sqlalchemy.ext.asyncio import create_async_engine

    from training_gateway.gateway.storage.migrate import alembic_config, current_revision

    where = redact_url(settings.database_url)
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            revision = await connection.run_sync(current_revision)
    except Exception as exc:  # any driver's failure to connect is this check's answer
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Finding("database", False, f"{where} unreachable: {reason}")
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision != head:
        return Finding(
            "database", False, f"{where} at revision {revision}, not {head}: run the gateway once"
        )
    return Finding("database", True, f"{where} reachable, migrated to {head}")


async def _provider(client: httpx.AsyncClient, provider: str, url: str) -> list[Finding]:
    check = f"provider {provider}"
    sent = time.time()
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        return [Finding(check, False, f"{url} does not answer: {type(exc).__name__} {exc}")]
    received = time.time()
    found = [Finding(check, True, f"{url} answers ({response.status_code})")]
    date = response.headers.get("date")
    if date is None:
        return [*found, Finding(f"clock vs {provider}", True, "no Date header", warning=True)]
    # The Date header has whole seconds: compare with the middle of the round trip.
    skew_s = parsedate_to_datetime(date).timestamp() - (sent + received) / 2
    if abs(skew_s) > MAX_CLOCK_SKEW_S:
        return [
            *found,
            Finding(
                f"clock vs {provider}",
                False,
                f"local clock is {-skew_s:+.0f} s off {provider}'s (more than "
                f"{MAX_CLOCK_SKEW_S:.0f} s): fix NTP on this machine",
            ),
        ]
    return [*found, Finding(f"clock vs {provider}", True, f"within {abs(skew_s):.0f} s")]
