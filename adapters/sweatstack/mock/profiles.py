"""The SweatStack mock's accounts, without HTTP: the seeded athletes' names, the managed users
each account created (accounts without a login of their own, which their manager acts for),
and each app's metadata on a user (`PUT /api/v1/profile/app-metadata`).

Managed users are created, renamed and deleted through `/api/v1/users/`; an account sees
only the managed users it created. Nobody shares their account in the seeded state, so a
user's list holds themselves and their managed users.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

#: When the seeded athletes registered (the mock's userinfo says the same).
SEEDED_REGISTERED_AT: Final = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class Account:
    """A SweatStack account: its names and, for a managed one, the account managing it."""

    id: str
    first_name: str | None
    last_name: str | None
    registered_at: datetime
    managed_by: str | None = None

    @property
    def display_name(self) -> str:
        """First and last name as SweatStack shows them (the id when it has neither)."""
        return " ".join(n for n in (self.first_name, self.last_name) if n) or self.id

    def summary(self, scopes: list[str]) -> dict[str, Any]:
        """`UserSummary`, with the scopes the caller holds for this account."""
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "scopes": scopes,
            "display_name": self.display_name,
            "is_managed": self.managed_by is not None,
        }

    def response(self) -> dict[str, Any]:
        """`UserResponse`."""
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "admin": False,
            "registered_at": self.registered_at.isoformat().replace("+00:00", "Z"),
            "display_name": self.display_name,
            "is_managed": self.managed_by is not None,
        }


class ProfilesState:
    """Accounts by id and each (user, app)'s metadata on the user."""

    def __init__(self, seeded: dict[str, tuple[str, str]]) -> None:
        """`seeded`: each seeded athlete's id and (first name, last name)."""
        self.accounts: dict[str, Account] = {
            user: Account(
                id=user, first_name=first, last_name=last, registered_at=SEEDED_REGISTERED_AT
            )
            for user, (first, last) in seeded.items()
        }
        #: (user, app) -> that app's metadata on the user.
        self.app_metadata: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.RLock()

    def visible_to(self, caller: str, *, managed: bool = True) -> list[Account]:
        """The caller's own account first, then the managed users it created, oldest first."""
        with self._lock:
            own = [self.accounts[caller]] if caller in self.accounts else []
            created = [a for a in self.accounts.values() if a.managed_by == caller]
        return own + (sorted(created, key=lambda a: (a.registered_at, a.id)) if managed else [])

    def create_managed(
        self, manager: str, user_id: str, first_name: str, last_name: str | None
    ) -> Account:
        """A new managed user of `manager`."""
        account = Account(
            id=user_id,
            first_name=first_name,
            last_name=last_name,
            registered_at=datetime.now(UTC).replace(microsecond=0),
            managed_by=manager,
        )
        with self._lock:
            self.accounts[user_id] = account
        return account

    def managed(self, manager: str, user_id: str) -> Account | None:
        """A managed user of `manager`, or None (unknown, or not theirs to manage)."""
        with self._lock:
            account = self.accounts.get(user_id)
        return account if account is not None and account.managed_by == manager else None

    def rename(self, account: Account, first_name: str | None, last_name: str | None) -> None:
        """Change the names given (None leaves one unchanged)."""
        with self._lock:
            if first_name is not None:
                account.first_name = first_name
            if last_name is not None:
                account.last_name = last_name

    def delete(self, account: Account) -> None:
        with self._lock:
            del self.accounts[account.id]
            for key in [k for k in self.app_metadata if k[0] == account.id]:
                del self.app_metadata[key]

    def set_app_metadata(self, user: str, app: str, data: dict[str, Any] | None) -> None:
        """Replace (None: delete) `app`'s metadata on `user`."""
        with self._lock:
            if data is None:
                self.app_metadata.pop((user, app), None)
            else:
                self.app_metadata[(user, app)] = data
