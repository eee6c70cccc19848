"""Multipart uploads read as they arrive: each file part is written to a temporary file chunk
by chunk (the `multipart` package's push parser, Litestar's own dependency), so a 250 MB
upload never sits in memory, and limits are checked while reading, not after."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from litestar import Request
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from training_gateway.models.errors import InvalidBody, InvalidInput, UnsupportedMediaType

# The longest value of a text field (the provider's name).
MAX_TEXT_FIELD_BYTES = 256


@dataclass
class FormFile:
    """One uploaded file: its (path-less) name and where its bytes are on disk."""

    name: str
    path: Path
    size: int
    content_type: str


@dataclass
class Form:
    """The text fields and files of a multipart form; `close()` deletes the files."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[FormFile] = field(default_factory=list)
    directory: Path | None = None

    def close(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


async def read_form(
    request: Request[Any, Any, Any],
    *,
    file_field: str,
    text_fields: frozenset[str],
    max_files: int,
    max_file_bytes: int,
) -> Form:
    """The form of a multipart/form-data request, its files spooled to a temporary directory.
    A field the route does not know, a repeated text field, more than `max_files` files or a
    file over `max_file_bytes` is refused as soon as it is seen. The caller closes the form."""
    media_type, options = request.content_type
    boundary = options.get("boundary")
    if media_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "Content-Type", f"send the files as multipart/form-data, not {media_type or 'nothing'}"
        )
    if not boundary:
        raise InvalidBody("Content-Type", "multipart/form-data needs a boundary parameter")
    form = Form(directory=Path(tempfile.mkdtemp(prefix="gateway-upload-")))
    try:
        await _parse(request, boundary, form, file_field, text_fields, max_files, max_file_bytes)
    except BaseException:
        form.close()
        raise
    return form


async def _parse(
    request: Request[Any, Any, Any],
    boundary: str,
    form: Form,
    file_field: str,
    text_fields: frozenset[str],
    max_files: int,
    max_file_bytes: int,
) -> None:
    assert form.directory is not None
    parser = PushMultipartParser(boundary, max_segment_count=max_files + len(text_fields) + 1)
    part: _Part | None = None
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            for event in parser.parse(chunk):
                if isinstance(event, MultipartSegment):
                    part = _Part.start(event, form, file_field, text_fields, max_files)
                elif event is None:
                    assert part is not None
                    part.finish(form)
                    part = None
                else:
                    assert part is not None
                    part.write(event, max_file_bytes)
        for event in parser.parse(b""):  # the end of input: an unfinished form is an error
            if event is None and part is not None:
                part.finish(form)
                part = None
    except ParserLimitReached:
        raise InvalidInput(file_field, f"at most {max_files} files per upload") from None
    except ParserError as exc:
        raise InvalidBody("body", f"not a readable multipart/form-data body: {exc}") from None
    finally:
        if part is not None:
            part.abort()
    if not parser.closed:
        raise InvalidBody("body", "the multipart/form-data body ends before its last boundary")


@dataclass
class _Part:
    name: str
    filename: str | None
    content_type: str
    path: Path | None
    size: int = 0
    text: bytearray = field(default_factory=bytearray)
    handle: BinaryIO | None = None

    @classmethod
    def start(
        cls,
        segment: MultipartSegment,
        form: Form,
        file_field: str,
        text_fields: frozenset[str],
        max_files: int,
    ) -> _Part:
        assert form.directory is not None
        if segment.name == file_field:
            if len(form.files) >= max_files:
                raise InvalidInput(file_field, f"at most {max_files} files per upload")
            index = len(form.files) + 1
            name = PurePosixPath((segment.filename or "").replace("\\", "/")).name
            path = form.directory / f"{index}.part"
            part = cls(
                name=segment.name,
                filename=name or f"file-{index}.fit",
                content_type=segment.content_type or "application/octet-stream",
                path=path,
            )
            part.handle = path.open("wb")
            return part
        if segment.name in text_fields:
            if segment.name in form.fields:
                raise InvalidBody(segment.name, f"`{segment.name}` is given more than once")
            return cls(name=segment.name, filename=None, content_type="text/plain", path=None)
        known = ", ".join(sorted({file_field, *text_fields}))
        raise InvalidBody(segment.name, f"unknown form field {segment.name!r} (known: {known})")

    def write(self, chunk: bytes | bytearray, max_file_bytes: int) -> None:
        self.size += len(chunk)
        if self.path is None:
            if self.size > MAX_TEXT_FIELD_BYTES:
                raise InvalidBody(
                    self.name, f"`{self.name}` is longer than {MAX_TEXT_FIELD_BYTES} bytes"
                )
            self.text += chunk
            return
        if self.size > max_file_bytes:
            mib = max_file_bytes // (1024 * 1024)
            raise InvalidInput(
                self.filename or self.name,
                f"the file is over the {max_file_bytes} byte ({mib} MiB) limit",
            )
        assert self.handle is not None
        self.handle.write(chunk)

    def finish(self, form: Form) -> None:
        if self.path is None:
            try:
                form.fields[self.name] = self.text.decode()
            except UnicodeDecodeError:
                raise InvalidBody(self.name, f"`{self.name}` is not UTF-8 text") from None
            return
        assert self.handle is not None
        self.handle.close()
        self.handle = None
        form.files.append(
            FormFile(
                name=self.filename or self.name,
                path=self.path,
                size=self.size,
                content_type=self.content_type,
            )
        )

    def abort(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
