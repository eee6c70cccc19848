"""The caller's providers as sources to read from and write to: one per connection, plus the
gateway's own `local` store that every user has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from training_gateway.adapters.base import Adapter, Credentials, Operation, has_capability
from training_gateway.gateway.errors import NotConnected
from training_gateway.gateway.local_provider import PROVIDER as LOCAL_PROVIDER
from training_gateway.gateway.local_provider import credentials_for as local_credentials
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.storage import User
from training_gateway.models.activity import split_federated_id
from training_gateway.models.errors import GatewayError, InvalidInput, NotFound


@dataclass(frozen=True)
class Source:
    """One provider, as one caller sees it: the adapter and the caller's fresh credentials."""

    name: str
    adapter: Adapter
    credentials: Credentials


@dataclass(frozen=True)
class UnusableSource:
    """A connection that cannot be used now (revoked, or its refresh failed), and why.

    It stays among the caller's sources so that merged answers name it in their errors
    instead of leaving the provider out silently."""

    name: str
    adapter: Adapter
    error: GatewayError


AnySource = Source | UnusableSource


class CallerSources:
    """The sources of one caller, resolved on demand."""

    def __init__(self, gateway: Gateway, user: User) -> None:
        self.gateway = gateway
        self.user = user

    async def all(self, providers: tuple[str, ...] = ()) -> list[AnySource]:
        """The caller's connections (only `providers` when given), with fresh credentials."""
        gateway, user = self.gateway, self.user
        connections = await gateway.store.connections(user)
        found: list[AnySource] = []
        for name, conn in sorted(connections.items()):
            adapter = gateway.adapters.get(name)
            if adapter is None or name == LOCAL_PROVIDER or (providers and name not in providers):
                continue
            try:
                credentials = await gateway.tokens.credentials(user, conn)
            except GatewayError as exc:
                found.append(UnusableSource(name=name, adapter=adapter, error=exc))
                continue
            found.append(Source(name=name, adapter=adapter, credentials=credentials))
        local = gateway.adapters.get(LOCAL_PROVIDER)
        if local is not None and (not providers or LOCAL_PROVIDER in providers):
            # Every user has the gateway's own store; there is nothing to connect.
            found.append(
                Source(name=LOCAL_PROVIDER, adapter=local, credentials=local_credentials(user))
            )
        return found

    async def offering(
        self, operation: Operation[Any], providers: tuple[str, ...] = ()
    ) -> list[AnySource]:
        """The caller's sources whose provider offers `operation`."""
        return [s for s in await self.all(providers) if has_capability(s.adapter, operation)]

    async def one(self, provider: str) -> Source:
        """One connected provider of the caller; NotConnected when the caller has none, the
        reason when the connection cannot be used."""
        self.gateway.adapter(provider)
        for source in await self.all((provider,)):
            match source:
                case UnusableSource(error=error):
                    raise error
                case Source():
                    return source
        raise NotConnected(provider)

    async def named_in_body(self, provider: str) -> Source:
        """The source a request body names as the provider to write to; an unknown provider
        is refused naming the body's `provider` field."""
        if provider not in self.gateway.adapters:
            known = ", ".join(sorted(self.gateway.adapters))
            raise InvalidInput("provider", f"unknown provider {provider!r}; known: {known}")
        return await self.one(provider)

    async def of_record(self, federated_id: str, *, kind: str = "activity") -> tuple[Source, str]:
        """The source and native id behind a federated id (of an activity, or of another
        `kind` of record); NotFound when the caller has none."""
        try:
            provider, native_id = split_federated_id(federated_id)
        except InvalidInput:
            raise NotFound(f"no {kind} {federated_id!r}: ids look like <provider>:<id>") from None
        if native_id in (".", ".."):  # would address the collection, not a record
            raise NotFound(f"no {kind} {federated_id!r}")
        if provider not in self.gateway.adapters:
            raise NotFound(f"no {kind} {federated_id!r}: unknown provider prefix {provider!r}")
        try:
            return await self.one(provider), native_id
        except NotConnected:
            raise NotFound(
                f"no {kind} {federated_id!r}: you have not connected {provider!r}"
            ) from None
