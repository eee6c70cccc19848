"""The gateway's route handlers, one module per resource."""

from __future__ import annotations

from typing import Any

from training_gateway.gateway.routes.activities import ActivityController
from training_gateway.gateway.routes.connections import ConnectionController, connection_callback
from training_gateway.gateway.routes.health import health
from training_gateway.gateway.routes.hr_model import HrModelController, fit_activity
from training_gateway.gateway.routes.providers import ProviderController
from training_gateway.gateway.routes.tests import TestController
from training_gateway.gateway.routes.timeseries import TimeseriesController, backfill_status
from training_gateway.gateway.routes.uploads import upload_files


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
