"""Log lines as JSON objects, one a line, each with the request id of the request or job it
was logged for. Secrets never reach a log call in the first place; this only shapes lines."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import msgspec

from training_gateway.gateway.observability.request_id import current_request_id

_installed = False


def install_request_id_records() -> None:
    """Stamp every log record with the current request id where it is made (in the caller's
    context: the queue listener that writes the line later runs in another thread)."""
    global _installed
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def stamped(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        record.request_id = current_request_id()
        return record

    logging.setLogRecordFactory(stamped)


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "request_id"?, "exception"?}` per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(line).decode()
