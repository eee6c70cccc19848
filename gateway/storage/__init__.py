"""The gateway's own persistence: users, API keys, encrypted provider connections."""

from training_gateway.gateway.storage.analytics import AnalyticsRepository
from training_gateway.gateway.storage.hr_memory import HrModelRepository as HrModelRepository
from training_gateway.gateway.storage.store import Connection, Store, User
from training_gateway.gateway.storage.vault import TokenVault, VaultError, development_key

__all__ = [
    "AnalyticsRepository",
    "Connection",
    "Store",
    "TokenVault",
    "User",
    "VaultError",
    "development_key",
]
