"""The unified schema and pure analytics. No HTTP, no I/O."""

from training_gateway.models.activity import (
    Activity,
    ActivityCreate,
    ActivityDraft,
    ActivityStatus,
    Lap,
    MetricStats,
    Summary,
    federated_id,
    split_federated_id,
)
from training_gateway.models.errors import (
    GatewayError,
    InvalidInput,
    NotFound,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    Unsupported,
)

__all__ = [
    "Activity",
    "ActivityCreate",
    "ActivityDraft",
    "ActivityStatus",
    "GatewayError",
    "InvalidInput",
    "Lap",
    "MetricStats",
    "NotFound",
    "ProviderError",
    "ProviderRejected",
    "ProviderTimeout",
    "Summary",
    "Unsupported",
    "federated_id",
    "split_federated_id",
]
