"""The apps' webhook endpoints, for the gateway's operator (`Authorization: Bearer
<GATEWAY_ADMIN_KEY>`; the CLI's `gateway webhooks` does the same without the HTTP API):
register, list, remove, rotate the secret, send a test, read the delivery log, redeliver."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter

from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.events import (
    Delivery,
    DeliveryPage,
    Endpoint,
    EndpointRequest,
    EndpointWithSecret,
    Events,
)
from training_gateway.gateway.wire import EndpointList as EndpointList


async def provide_events(gateway: Gateway) -> Events:
    return gateway.events


EndpointId = Annotated[str, Parameter(description="A webhook endpoint's id", max_length=64)]
DeliveryId = Annotated[
    str, Parameter(description="A delivery's id (its webhook-id)", max_length=64)
]


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["events"]
    dependencies = {"events": Provide(provide_events)}
    opt = {"admin": True}
    security = [{"adminKey": []}]

    @post("/", summary="Register an endpoint for unified events (its secret is shown once)")
    async def create_endpoint(
        self, events: NamedDependency[Events], data: EndpointRequest
    ) -> Response[EndpointWithSecret]:
        created = await events.create_endpoint(data)
        return Response(
            created, status_code=201, headers={"Location": f"/v1/webhooks/{created.id}"}
        )

    @get("/", summary="The registered endpoints")
    async def list_endpoints(self, events: NamedDependency[Events]) -> EndpointList:
        return EndpointList(items=await events.endpoints())

    @get("/{endpoint_id:str}", summary="One endpoint")
    async def get_endpoint(
        self, events: NamedDependency[Events], endpoint_id: EndpointId
    ) -> Endpoint:
        return await events.endpoint(endpoint_id)

    @delete(
        "/{endpoint_id:str}", summary="Remove an endpoint and its delivery log", status_code=204
    )
    async def delete_endpoint(
        self, events: NamedDependency[Events], endpoint_id: EndpointId
    ) -> None:
        await events.delete_endpoint(endpoint_id)

    @post(
        "/{endpoint_id:str}/rotate-secret",
        summary="A new signing secret; the old one signs too for 24 hours",
        status_code=200,
    )
    async def rotate_secret(
        self, events: NamedDependency[Events], endpoint_id: EndpointId
    ) -> EndpointWithSecret:
        return await events.rotate_secret(endpoint_id)

    @post(
        "/{endpoint_id:str}/enable",
        summary="Enable an endpoint again after it was disabled for failing",
        status_code=200,
    )
    async def enable_endpoint(
        self, events: NamedDependency[Events], endpoint_id: EndpointId
    ) -> Endpoint:
        return await events.enable_endpoint(endpoint_id)

    @post(
        "/{endpoint_id:str}/test",
        summary="Send a webhook.test event to this endpoint",
        status_code=202,
    )
    async def send_test(self, events: NamedDependency[Events], endpoint_id: EndpointId) -> Delivery:
        delivery_id = await events.send_test(endpoint_id)
        return await events.delivery(endpoint_id, delivery_id)

    @get(
        "/{endpoint_id:str}/deliveries",
        summary="The delivery log: newest first, with every attempt's status code and latency",
    )
    async def list_deliveries(
        self,
        events: NamedDependency[Events],
        endpoint_id: EndpointId,
        status: Annotated[
            Literal["pending", "delivered", "failed"] | None,
            Parameter(description="Only deliveries in this state"),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=500, description="At most this many")] = 50,
    ) -> DeliveryPage:
        return DeliveryPage(items=await events.deliveries(endpoint_id, limit=limit, status=status))

    @get("/{endpoint_id:str}/deliveries/{delivery_id:str}", summary="One delivery")
    async def get_delivery(
        self, events: NamedDependency[Events], endpoint_id: EndpointId, delivery_id: DeliveryId
    ) -> Delivery:
        return await events.delivery(endpoint_id, delivery_id)

    @post(
        "/{endpoint_id:str}/deliveries/{delivery_id:str}/redeliver",
        summary="Send a delivery again now, with the same webhook-id, on a fresh schedule",
        status_code=202,
    )
    async def redeliver(
        self, events: NamedDependency[Events], endpoint_id: EndpointId, delivery_id: DeliveryId
    ) -> Delivery:
        return await events.redeliver(endpoint_id, delivery_id)
