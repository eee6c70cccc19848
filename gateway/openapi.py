"""The OpenAPI document as the gateway means it: Litestar generates it from the routes, and
`refine` adds what Litestar cannot know, so that the document tells the truth:

- every problem status a route can answer, as `application/problem+json` with one `Problem`
  schema (headers such as `Retry-After` and `WWW-Authenticate` included);
- naive local times as what they are (no offset, so not RFC 3339 `date-time`);
- closed request objects (`additionalProperties: false`) where the server refuses unknown
  fields;
- which routes need no key (`/`, `/health`, the OAuth callback);
- links from a created record to the operations on it, for stateful clients and tests.
"""

from __future__ import annotations

import copy
from http import HTTPStatus
from typing import Any

import msgspec

from training_gateway.gateway.encoding import ARROW_STREAM, JSON, PARQUET

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# An instant without offset: the athlete's wall clock (RFC 3339 date-time needs an offset).
NAIVE_DATETIME = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
    "description": "Local wall-clock time without an offset (ISO 8601), e.g. 2026-05-18T17:32:00",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem document, naming the field or provider at fault.",
    "required": ["title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string"},
        "provider": {"type": "string"},
        "capability": {"type": "string"},
        "retry_after": {"type": "number", "minimum": 0},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"description": "The scheme to use: Bearer", "schema": {"type": "string"}}
}
_WHY: dict[int, str] = {
    400: "A query parameter is missing, unknown, malformed or out of range (see `field`)",
    401: "No gateway API key, or one that is unknown or revoked",
    403: "The provider refused the operation to this caller",
    404: "No such record for this caller",
    405: "The provider does not offer this operation (see `provider` and `capability`)",
    406: "None of the representations in `Accept` is offered",
    409: "The provider is not connected, or its connection must be renewed",
    412: "`If-Match` names a version the record no longer has",
    413: "The body is larger than this route accepts",
    415: "The body is not sent as a media type this route reads",
    422: "The body is not valid: see `field`",
    429: "Too many requests, at the gateway or at the provider (see `provider`)",
    502: "The provider failed or answered something unusable (see `provider`)",
    503: "The gateway cannot serve this now (storage, credentials or capacity)",
    504: "The provider did not answer in time (see `provider`)",
}
_HEADERS = {401: _WWW_AUTHENTICATE, 429: _RETRY_AFTER, 503: _RETRY_AFTER}

# Routes that need no gateway key.
OPEN_PATHS = frozenset(
    {"/", "/health", "/v1/connections/{provider}/callback", "/v1/hooks/{provider}"}
)

# The created record's id, and the operations that take it.
_RECORD_LINKS: dict[tuple[str, str], tuple[str, list[tuple[str, str]]]] = {
    ("/v1/activities", "post"): (
        "activity_id",
        [
            ("GetActivity", "V1ActivitiesActivityIdGetActivity"),
            ("ReplaceActivity", "V1ActivitiesActivityIdReplaceActivity"),
            ("PatchActivity", "V1ActivitiesActivityIdPatchActivity"),
            ("DeleteActivity", "V1ActivitiesActivityIdDeleteActivity"),
        ],
    ),
    ("/v1/tests", "post"): (
        "test_id",
        [
            ("GetTest", "V1TestsTestIdGetTest"),
            ("ReplaceTest", "V1TestsTestIdReplaceTest"),
            ("PatchTest", "V1TestsTestIdPatchTest"),
            ("PutAppMetadata", "V1TestsTestIdAppMetadataPutAppMetadata"),
            ("DeleteAppMetadata", "V1TestsTestIdAppMetadataDeleteAppMetadata"),
            ("DeleteTest", "V1TestsTestIdDeleteTest"),
        ],
    ),
}


# The upload form, as `gateway.forms` reads it: up to 10 FIT files of 25 MiB, one provider.
UPLOAD_FORM_SCHEMA: dict[str, Any] = {
    "title": "UploadForm",
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {
                "type": "string",
                "format": "binary",
                "contentMediaType": "application/octet-stream",
            },
            "minItems": 1,
            "maxItems": 10,
        },
        "provider": {"type": "string", "maxLength": 256},
    },
    "required": ["provider", "files"],
    "additionalProperties": False,
}


def problem_statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The problem statuses an operation can answer, by what it is: which routes call a
    provider, take a body, address a record, negotiate a representation."""
    if path in ("/", "/health"):
        return [400, 503] if path == "/health" else [400]
    if path == "/v1/hooks/{provider}":  # signed by the provider; answered without calling it
        return [400, 401, 404, 413, 503]
    if path == "/v1/me":  # a provider's failure is in the answer, never its status
        return [400, 401, 404, 503]
    if path.startswith("/v1/webhooks"):  # the operator's: the admin key, no provider call
        statuses = {400, 401, 403, 503}
        if "{" in path:
            statuses.add(404)
        if path.endswith("/test"):
            statuses.add(409)
        if "requestBody" in operation:
            statuses |= {413, 415, 422}
        return sorted(statuses)
    statuses = {400, 429, 503}
    if path not in OPEN_PATHS:
        statuses.add(401)
    calls_provider = not path.startswith(("/v1/hr-model/fit", "/v1/hr-model/profile"))
    if calls_provider:
        statuses |= {409, 502, 504}
    if "{" in path:
        statuses |= {404, 405}
    if "requestBody" in operation:
        statuses |= {413, 415, 422}
    if method in ("post", "put", "patch") and path.startswith(
        ("/v1/activities", "/v1/tests", "/v1/traces")
    ):
        statuses |= {405, 422}
    if path.startswith("/v1/tests") or path == "/v1/activities/upload":
        statuses.add(403)
    if method == "patch" and path.startswith("/v1/tests/"):
        statuses.add(412)
    if path.endswith(("/data", "/longitudinal-data")):
        statuses.add(406)
    if path == "/v1/hr-model/profile":
        statuses.add(404)
    if path.startswith("/v1/connections"):
        statuses |= {404, 409, 422}
    return sorted(statuses)


def refine(document: dict[str, Any], closed: set[str]) -> dict[str, Any]:
    """The document Litestar generated, made true (see the module docstring); `closed` names
    the component schemas of request objects that refuse unknown fields."""
    doc = copy.deepcopy(document)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name, schema in schemas.items():
        _naive_local_times(schema)
        if name in closed and schema.get("type") == "object":
            schema["additionalProperties"] = False
    upload = doc.get("paths", {}).get("/v1/activities/upload", {}).get("post")
    if upload is not None:  # the route reads its multipart body as a stream (gateway.forms)
        schemas["UploadForm"] = UPLOAD_FORM_SCHEMA
        upload["requestBody"] = {
            "content": {
                "multipart/form-data": {"schema": {"$ref": "#/components/schemas/UploadForm"}}
            },
            "required": True,
        }
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _problems(operation, problem_statuses(path, method, operation))
            if path in OPEN_PATHS:
                operation["security"] = []
            if path.endswith(("/data",)) and "200" in operation["responses"]:
                operation["responses"]["200"]["content"] = {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in (PARQUET, ARROW_STREAM)
                } | {JSON: {"schema": _columnar_json_schema()}}
            if path.endswith("/longitudinal-data") and "200" in operation["responses"]:
                operation["responses"]["200"]["content"] = {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in (PARQUET, ARROW_STREAM)
                }
            links = _RECORD_LINKS.get((path, method))
            if links is not None:
                _link(operation, *links)
    return doc


def _problems(operation: dict[str, Any], statuses: list[int]) -> None:
    responses = operation["responses"]
    for status in statuses:
        response: dict[str, Any] = {
            "description": _WHY.get(status) or HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}},
        }
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        responses[str(status)] = response


def _naive_local_times(schema: Any) -> None:
    """Properties the Structs declare as naive datetimes are documented as such."""
    if isinstance(schema, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if name.endswith("_local"):
                _make_naive(prop)
        for value in schema.values():
            if isinstance(value, dict | list):
                _naive_local_times(value)
    elif isinstance(schema, list):
        for value in schema:
            _naive_local_times(value)


def _make_naive(prop: dict[str, Any]) -> None:
    if prop.get("format") == "date-time":
        prop.pop("format")
        prop.update(NAIVE_DATETIME)
    for arm in prop.get("oneOf", []) + prop.get("anyOf", []):
        if isinstance(arm, dict):
            _make_naive(arm)


def _columnar_json_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["columns", "data"],
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "data": {"type": "object", "additionalProperties": {"type": "array"}},
        },
    }


def _link(operation: dict[str, Any], parameter: str, targets: list[tuple[str, str]]) -> None:
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            response["links"] = {
                name: {
                    "operationId": operation_id,
                    "parameters": {parameter: "$response.body#/id"},
                }
                for name, operation_id in targets
            }


def closed_schemas(types: list[type]) -> set[str]:
    """The component names of the given Structs that refuse unknown fields."""
    return {
        t.__name__
        for t in types
        if issubclass(t, msgspec.Struct) and t.__struct_config__.forbid_unknown_fields
    }
