"""What kind of file an existing output is, so that only the toolkit's own kinds are ever replaced.

Each kind is recognized from the first bytes of the file, never by
unpickling or parsing it whole. An empty file holds nothing to lose and may
be replaced by any kind.
"""

from __future__ import annotations

import contextvars
import csv
import io
from contextlib import contextmanager
from pathlib import Path

_HEAD_BYTES = 4096

# Magic numbers of the streams joblib.dump writes: a pickle (protocol 2 or later) or one of its compressors.
_MODEL_MAGIC = (b"\x80", b"ZF", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x5d\x00\x00", b"\x04\x22\x4d\x18")
_ZIP_MAGIC = b"PK\x03\x04"
# The name of the safe format (sklearn_ser._safe_format.FORMAT), the first string of a safe-format file's content.
_SAFE_MODEL_MAGIC = b"sklearn-ser-safe"
_FIGURE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"%PDF-", b"%!PS", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"<?xml", b"<svg")
# The first column of every table the toolkit writes: predictions, timelines, speech segments, paper tables.
_TABLE_FIRST_COLUMNS = {"file", "start", "protocol", "epoch"}

_overwrite_allowed = contextvars.ContextVar("overwrite_allowed", default=False)


def file_head(path):
    """The first bytes of the file at ``path``, by which its kind is told."""
    with open(path, "rb") as fh:
        return fh.read(_HEAD_BYTES)


def _text_head(head):
    if b"\0" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the end of the head is still text
        return head[: exc.start].decode("utf-8") if exc.start > len(head) - 4 else None


def _is_model(head):
    return head.startswith(_MODEL_MAGIC)


def _is_zip(head):
    return head.startswith(_ZIP_MAGIC)


def is_safe_model_head(head):
    """A torch archive whose first record (the pickle of its content, stored uncompressed) names the safe format."""
    return head.startswith(_ZIP_MAGIC) and _SAFE_MODEL_MAGIC in head


def _is_figure(head):
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return True
    return head.lstrip().startswith(_FIGURE_MAGIC)


def _first_column(head):
    """The name of the first column of a CSV file's header, or None for a file that is not text."""
    text = _text_head(head)
    lines = text.lstrip("\ufeff").splitlines() if text else []
    return next(csv.reader(io.StringIO(lines[0])), [None])[0] if lines else None


def _is_table(head):
    return _first_column(head) in _TABLE_FIRST_COLUMNS


def _is_report(head):
    text = _text_head(head)
    return bool(text) and text.startswith("# ") and "sklearn-ser" in text


def _is_manifest(head):
    return _first_column(head) == "path"


def _is_onnx(head):
    """An ONNX model: a protobuf whose first field is ``ir_version`` (field 1, a small varint), then a bytes field."""
    return len(head) >= 3 and head[0] == 0x08 and 1 <= head[1] <= 30 and head[2] & 0x07 == 2


def _is_audio(head):
    return head.startswith((b"RIFF", b"fLaC", b"OggS"))


KINDS = {
    "model": ("a model file (joblib or pickle)", _is_model),
    "weights": ("a weights file (a torch or NumPy archive)", _is_zip),
    # What 'sklearn-ser fit' writes, in either format: one may replace the other.
    "fitted": (
        "a model file (joblib, pickle or sklearn-ser's safe format)",
        lambda head: _is_model(head) or is_safe_model_head(head),
    ),
    # Named by the digest of its content in the cache's own folder, a cache file is the cache's by its name: a damaged
    # one is replaced.
    "cache": ("a feature cache file", lambda head: True),
    "figure": ("an image", _is_figure),
    "table": ("a table written by sklearn-ser (CSV)", _is_table),
    "report": ("a report written by sklearn-ser (Markdown)", _is_report),
    "audio": ("an audio file", _is_audio),
    "manifest": ("a corpus manifest (CSV with a path column first)", _is_manifest),
    "onnx": ("an ONNX model", _is_onnx),
}


class NotOurFileError(ValueError):
    """An output path names an existing file that is not of the kind the toolkit would write there."""


def check_replaceable(path, kind, *, option=None):
    """Refuse to replace an existing file at ``path`` unless it is of ``kind``.

    Parameters
    ----------
    path : str or path-like
        The file about to be written. A symbolic link is judged by its target.
    kind : str
        One of :data:`KINDS`: what the writer writes there.
    option : str, optional
        How the user named the path (e.g. ``"--out"``), for the message.

    Raises
    ------
    NotOurFileError
        If ``path`` is a non-empty file that is not of ``kind``, unless
        overwriting was allowed with :func:`overwriting_allowed`.
    """
    path = Path(path)
    what, recognizes = KINDS[kind]
    if _overwrite_allowed.get() or not path.is_file():
        return
    try:
        head = file_head(path)
    except OSError:
        return  # unreadable: the write itself reports what is wrong
    if head and not recognizes(head):
        named = f"{option} {path}" if option else str(path)
        force = " or pass --force to replace it" if option else ""
        raise NotOurFileError(
            f"{named} exists and is not {what}; it is never replaced: choose another name, remove it first{force}."
        )


@contextmanager
def overwriting_allowed(allowed=True):
    """Within this context, :func:`check_replaceable` lets any file be replaced (``--force``)."""
    token = _overwrite_allowed.set(bool(allowed))
    try:
        yield
    finally:
        _overwrite_allowed.reset(token)
