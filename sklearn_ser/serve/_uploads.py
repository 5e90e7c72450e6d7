"""Multipart uploads streamed into a request's own temporary folder, within a size limit."""

from __future__ import annotations

import os
import re

from python_multipart import create_form_parser
from python_multipart.exceptions import FormParserError

# A client's file name keeps its extension (which tells the decoder the format) only if it looks like one.
_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


class RequestError(Exception):
    """A request the service refuses: ``status`` (a 4xx or 5xx code) and a message naming the problem."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Upload:
    """One uploaded file: the name the client gave it and where it was saved."""

    def __init__(self, field, filename, path):
        self.field = field
        self.filename = filename
        self.path = path


async def read_form(request, folder, *, max_bytes):
    """The form fields and uploaded files of a multipart ``request``, its files saved in ``folder``.

    Parameters
    ----------
    request : starlette.requests.Request
    folder : str
        The request's own temporary folder: every byte of an upload lands
        there and nowhere else.
    max_bytes : int
        The largest request body accepted.

    Returns
    -------
    fields : dict of str to str
    uploads : list of Upload

    Raises
    ------
    RequestError
        400 for a body that is not multipart form data or is malformed, 413
        for one larger than ``max_bytes`` (refused as soon as it is known,
        from its Content-Length or while it streams in).
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise RequestError(
            400, f"Expected multipart/form-data (an upload of audio files), got {content_type or 'no content type'!r}."
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    fields, files = {}, []
    config = {"UPLOAD_DIR": folder, "MAX_MEMORY_FILE_SIZE": 0, "UPLOAD_DELETE_TMP": False}

    def on_field(field):
        fields[_text(field.field_name)] = _text(field.value or b"")

    try:
        parser = create_form_parser({"Content-Type": content_type}, on_field, files.append, config=config)
    except ValueError as exc:
        raise RequestError(400, f"The multipart form cannot be read: {exc}") from None
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise _too_large(max_bytes)
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise RequestError(400, f"The multipart form is malformed: {exc}") from None
    finally:
        for file in files:
            file.close()
    return fields, [_saved(file, folder, index) for index, file in enumerate(files)]


def _saved(file, folder, index):
    """The upload of ``file`` as a file of ours in ``folder``, named by its position and a safe extension."""
    filename = _text(file.file_name or b"") or f"file {index + 1}"
    suffix = os.path.splitext(filename)[1]
    path = os.path.join(folder, f"upload-{index}{suffix if _SAFE_SUFFIX.fullmatch(suffix) else ''}")
    if file.in_memory:  # only an empty upload stays in memory (any byte goes to the disk)
        open(path, "wb").close()
    else:
        os.replace(os.fsdecode(file.actual_file_name), path)
    return Upload(_text(file.field_name or b""), filename, path)


def _text(value):
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _too_large(max_bytes):
    return RequestError(413, f"The upload is larger than the service's limit of {_size(max_bytes)}.")


def _size(n_bytes):
    return f"{n_bytes / 2**20:g} MB" if n_bytes >= 2**20 else f"{n_bytes} bytes"
