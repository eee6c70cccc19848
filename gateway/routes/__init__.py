"""The gateway's route handlers, one module per resource."""

from __future__ import annotations

from typing import Any

from gateway.routes.activities import ActivityController
from gateway.routes.connections import ConnectionController, connection_callback
from gateway.routes.health import health
from gateway.routes.hr_model import HrModelController, fit_activity
from gateway.routes.providers import ProviderController
from gateway.routes.tests import TestController
from gateway.routes.timeseries import TimeseriesController, backfill_status
from gateway.routes.uploads import upload_files


def route_handlers() -> list[Any]:
    """Every controller and handler the app mounts."""
    return [
        health,
        ActivityController,
        ProviderController,
        TestController,
        ConnectionController,
        connection_callback,
        TimeseriesController,
        backfill_status,
        upload_files,
        HrModelController,
        fit_activity,
    ]
