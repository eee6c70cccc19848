"""The domain error hierarchy. Errors say what went wrong, never which HTTP status that is:
the gateway maps them to statuses in one table (`training_gateway.gateway.errors`).

    GatewayError
    ├── InvalidInput            the caller sent a value that cannot be accepted (`field`)
    │   ├── InvalidParameter    a query parameter that is missing, unknown, malformed or out of range
    │   ├── InvalidBody         a request body that does not decode or validate
    │   ├── NotAcceptable       `Accept` names no representation on offer
    │   ├── UnsupportedMediaType  the body is sent as a media type the route does not read
    │   └── MalformedWebhook    a provider webhook whose signature or body cannot be read
    ├── WebhookRejected         a provider webhook whose signature does not check out
    ├── NotFound                the named record does not exist for this caller
    ├── Unsupported             a provider does not offer the operation (`capability`)
    ├── Conflict                the record changed under the request
    │   └── PreconditionFailed  `If-Match` named a version it no longer has
    └── ProviderError           a provider failed or answered something unusable
        ├── ProviderTimeout     ... did not answer in time
        ├── ProviderRejected    ... refused a write as invalid (the caller's input is at fault)
        ├── ProviderForbidden   ... refused the operation to this caller
        └── ProviderThrottled   ... asks the gateway to slow down (`retry_after_s`), or the
                                gateway's own request limit for it is reached
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway turns into a problem document."""

    title = "Gateway error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __reduce__(self) -> tuple[object, ...]:
        # Picklable whatever a subclass's __init__ takes: errors raised in a worker process
        # (FIT decoding, analytics) reach the request that waits for them intact.
        return (_rebuilt, (type(self), self.args, self.__dict__.copy()))


def _rebuilt(
    cls: type[GatewayError], args: tuple[object, ...], state: dict[str, object]
) -> GatewayError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class InvalidInput(GatewayError):
    """The caller sent something that cannot be accepted; `field` names where."""

    title = "Invalid input"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class InvalidParameter(InvalidInput):
    """A query parameter that is missing, unknown, malformed or out of range (a bad date, an
    unknown value of an enumeration, a tampered cursor)."""

    title = "Invalid query parameter"


class InvalidBody(InvalidInput):
    """A request body (or a document inside one) that does not decode or validate."""

    title = "Invalid body"


class NotAcceptable(InvalidInput):
    """The client accepts none of the representations a route offers."""

    title = "Not acceptable"


class UnsupportedMediaType(InvalidInput):
    """The request body is sent as a media type the route does not read."""

    title = "Unsupported media type"


class MalformedWebhook(InvalidInput):
    """A provider webhook whose signature header or body cannot even be read."""

    title = "Malformed webhook"

    def __init__(self, provider: str, field: str, detail: str) -> None:
        super().__init__(field, detail)
        self.provider = provider


class WebhookRejected(GatewayError):
    """A provider webhook whose signature does not check out, or is too old."""

    title = "Webhook signature rejected"

    def __init__(self, provider: str, detail: str) -> None:
        super().__init__(detail)
        self.provider = provider


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


class ProviderThrottled(ProviderError):
    """A provider asked the gateway to slow down (its 429), or the gateway's own request limit
    for that provider is reached; `retry_after_s` is how long to wait, when known."""

    title = "Throttled by provider"

    def __init__(
        self,
        provider: str,
        detail: str,
        *,
        retry_after_s: float | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(provider, detail, upstream_status=upstream_status)
        self.retry_after_s = retry_after_s


class Conflict(GatewayError):
    """The resource changed under the request (a lost update was prevented)."""

    title = "Conflict"

    def __init__(self, detail: str, *, provider: str | None = None) -> None:
        super().__init__(detail)
        self.provider = provider


class PreconditionFailed(Conflict):
    """`If-Match` named a version the resource no longer has."""

    title = "Precondition failed"
