"""The entry-point registry of provider mocks: a package adds a mock by registering a factory
under `training_gateway.mocks` (as adapters are registered under `training_gateway.adapters`):

    [project.entry-points."training_gateway.mocks"]
    myprovider = "myprovider_gateway.mock:create_mock"

This module imports no mock: a mock's package is imported when its entry point is loaded.
"""

from __future__ import annotations

from datetime import date
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from training_gateway.adapters._mock.base import MockProvider

MOCK_ENTRY_POINT_GROUP = "training_gateway.mocks"


class MockFactory(Protocol):
    """A provider's `create_mock`: a fresh mock, seeded deterministically, with `history_days`
    of training history ending on `today` (the real date when None). `today` is optional for
    a third-party mock: it is passed only when a caller pins the date."""

    def __call__(
        self, seed: int = 0, *, history_days: int = 90, today: date | None = None
    ) -> MockProvider: ...


def load_mock_factories() -> dict[str, MockFactory]:
    """Every installed mock factory, by provider name, from the `training_gateway.mocks` entry
    points."""
    found: dict[str, MockFactory] = {
        entry.name: entry.load() for entry in entry_points(group=MOCK_ENTRY_POINT_GROUP)
    }
    return dict(sorted(found.items()))
