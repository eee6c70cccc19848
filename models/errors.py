"""The domain error hierarchy. The gateway maps these to HTTP in exactly one place."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway turns into a problem document."""

    title = "Gateway error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(GatewayError):
    """The caller sent something that cannot be accepted; `field` names where."""

    title = "Invalid input"

    def __init__(self, field: str, detail: str, *, status: int = 422) -> None:
        super().__init__(detail)
        self.field = field
        self.status = status


class NotFound(GatewayError):
    """The named resource does not exist for this caller."""

    title = "Not found"


class Unsupported(GatewayError):
    """A provider does not offer the operation that was asked of it."""

    title = "Operation not supported by provider"

    def __init__(self, provider: str, capability: str) -> None:
        super().__init__(f"provider {provider!r} does not support {capability!r}")
        self.provider = provider
        self.capability = capability


class ProviderError(GatewayError):
    """A provider failed, answered something unusable, or refused a request."""

    title = "Provider error"

    def __init__(self, provider: str, detail: str, *, upstream_status: int | None = None) -> None:
        super().__init__(detail)
        self.provider = provider
        self.upstream_status = upstream_status


class ProviderTimeout(ProviderError):
    """A provider did not answer in time."""

    title = "Provider timeout"


class ProviderRejected(ProviderError):
    """A provider refused a write as invalid (its 4xx); the caller's input is at fault."""

    title = "Rejected by provider"


class ProviderForbidden(ProviderError):
    """A provider refused the operation to this caller (its 403), e.g. a record another app
    created."""

    title = "Forbidden by provider"


class Conflict(GatewayError):
    """The resource changed under the request (a lost update was prevented)."""

    title = "Conflict"

    def __init__(self, detail: str, *, provider: str | None = None) -> None:
        super().__init__(detail)
        self.provider = provider


class PreconditionFailed(Conflict):
    """`If-Match` named a version the resource no longer has."""

    title = "Precondition failed"
