"""The gateway's own persistence: users, API keys, encrypted provider connections."""

from gateway.storage.analytics import AnalyticsRepository
from gateway.storage.hr_memory import HrModelRepository as HrModelRepository
from gateway.storage.store import Connection, Store, User
from gateway.storage.vault import TokenVault, VaultError, development_key

__all__ = [
    "AnalyticsRepository",
    "Connection",
    "Store",
    "TokenVault",
    "User",
    "VaultError",
    "development_key",
]
