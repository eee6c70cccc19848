"""The gateway's route handlers, one module per resource. Every /v1 route hangs off one
Router, which declares the dependencies handlers ask for (`gateway.dependencies`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router

from training_gateway.gateway.dependencies import V1_DEPENDENCIES, authenticate
from training_gateway.gateway.query import check_query
from training_gateway.gateway.routes.activities import ActivityController
from training_gateway.gateway.routes.connections import ConnectionController, connection_callback
from training_gateway.gateway.routes.health import health
from training_gateway.gateway.routes.hooks import receive_hook
from training_gateway.gateway.routes.hr_model import HrModelController, fit_activity
from training_gateway.gateway.routes.index import index
from training_gateway.gateway.routes.lab_tests import LabTestController
from training_gateway.gateway.routes.me import delete_me
from training_gateway.gateway.routes.providers import ProviderController
from training_gateway.gateway.routes.timeseries import TimeseriesController, backfill_status
from training_gateway.gateway.routes.uploads import upload_files
from training_gateway.gateway.routes.webhooks import WebhookController
from training_gateway.gateway.routes.wellness import DailyController, TraceController


async def authenticate_then_check_query(request: Request[Any, Any, Any]) -> None:
    """First who calls (401), then what they ask (400), before anything else is parsed."""
    await authenticate(request)
    check_query(request)


def route_handlers() -> list[Any]:
    """Every handler the app mounts: /health, and the /v1 router."""
    v1 = Router(
        path="/v1",
        dependencies=V1_DEPENDENCIES,
        before_request=authenticate_then_check_query,
        route_handlers=[
            ActivityController,
            ProviderController,
            LabTestController,
            DailyController,
            TraceController,
            ConnectionController,
            connection_callback,
            TimeseriesController,
            backfill_status,
            upload_files,
            HrModelController,
            fit_activity,
            receive_hook,
            WebhookController,
            delete_me,
        ],
    )
    return [index, health, v1]
