"""The version of the gateway's HTTP API, as the OpenAPI document and `GET /` state it."""

API_VERSION = "0.1.0"
