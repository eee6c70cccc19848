"""What an operator sees of a running gateway: Prometheus metrics, JSON log lines that carry
a request id, and (optionally) OpenTelemetry traces. docs/observability.md lists them."""

from training_gateway.gateway.observability.asgi import observe_requests
from training_gateway.gateway.observability.logs import JsonFormatter, install_request_id_records
from training_gateway.gateway.observability.metrics import Metrics, ObservingTransport
from training_gateway.gateway.observability.request_id import (
    REQUEST_ID_HEADER,
    current_request_id,
    request_id_or_new,
    using_request_id,
)

__all__ = [
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "Metrics",
    "ObservingTransport",
    "current_request_id",
    "install_request_id_records",
    "observe_requests",
    "request_id_or_new",
    "using_request_id",
]
