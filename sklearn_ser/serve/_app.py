"""The HTTP service: a fitted model behind a few JSON endpoints, and one page to use it from a browser."""

from __future__ import annotations

import asyncio
import copy
import math
import os
import shutil
import tempfile
from contextlib import asynccontextmanager
from importlib import resources

try:
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect
except ImportError as exc:  # pragma: no cover - the serve extra is part of the test extra
    raise ImportError(
        "Serving a model needs FastAPI, uvicorn and python-multipart: pip install 'sklearn-ser[serve]'."
    ) from exc

from ._served_model import ServedModel
from ._uploads import RequestError, read_form

#: The defaults of the limits, each an argument of :func:`create_app` and an option of ``sklearn-ser serve``.
MAX_UPLOAD_BYTES = 50 * 2**20
MAX_DURATION_SECONDS = 600.0
QUEUE_TIMEOUT_SECONDS = 30.0
VADS = ("energy", "silero", "none")

_SPEAKER = {"type": "string", "description": "the speaker, for a model that normalizes per speaker"}


def _multipart_body(required, properties):
    """The OpenAPI description of a multipart form with these fields, for the endpoints that parse their own."""
    schema = {"type": "object", "required": [required], "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


_MULTIPART_FILES = _multipart_body(
    "files", {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}, "speaker": _SPEAKER}
)
_MULTIPART_RECORDING = _multipart_body(
    "file",
    {
        "file": {"type": "string", "format": "binary"},
        "window": {"type": "number", "description": "window length in seconds"},
        "hop": {"type": "number", "description": "seconds between window starts"},
        "vad": {"type": "string", "enum": list(VADS), "default": "energy"},
        "speaker": _SPEAKER,
    },
)


def create_app(
    model,
    *,
    max_upload_bytes=MAX_UPLOAD_BYTES,
    max_duration=MAX_DURATION_SECONDS,
    max_concurrent=None,
    queue_timeout=QUEUE_TIMEOUT_SECONDS,
    cors_origins=None,
    temporary_folder=None,
):
    """An ASGI application that serves ``model``: JSON endpoints and a page for the browser.

    The model is loaded once, here, from the path the operator gives; no
    request can name another. Predictions run in worker threads, at most
    ``max_concurrent`` at a time, so that ``/health`` answers while a long
    timeline is computed; requests beyond the limit wait up to
    ``queue_timeout`` seconds, then get 503. Every upload is streamed into
    a temporary folder of its request, removed when the request ends,
    whether it succeeded, failed or the client went away.

    Endpoints: ``GET /`` (the page), ``GET /health``, ``GET /model``,
    ``POST /predict`` (field ``files``, one or more; optional ``speaker``),
    ``POST /timeline`` (field ``file``; optional ``window``, ``hop``,
    ``vad``, ``speaker``), and the OpenAPI documentation at ``/docs``. Errors are JSON
    objects ``{"error": "..."}`` with a 4xx status naming the problem (503
    when busy).

    Parameters
    ----------
    model : str, path-like or estimator
        A model file written by ``sklearn-ser fit`` or :func:`joblib.dump`
        (it runs code when loaded: serve only files you trust), or a fitted
        estimator that reads audio.
    max_upload_bytes : int, default=50 MiB
        The largest request body; a larger one gets 413.
    max_duration : float, default=600
        The longest recording, in seconds: a file over it is refused (an
        error entry of ``/predict``, 413 from ``/timeline``).
    max_concurrent : int, optional
        Predictions computed at the same time; by default the number of CPU
        cores.
    queue_timeout : float, default=30
        Seconds a request waits for a free slot before it gets 503.
    cors_origins : list of str, optional
        Origins allowed to call the service from another site's pages (CORS);
        none by default.
    temporary_folder : str or path-like, optional
        Where the requests' temporary folders are made; by default a new
        folder in the system's temporary folder, removed at shutdown.

    Returns
    -------
    app : fastapi.FastAPI

    Raises
    ------
    ValueError, OSError
        If the model cannot be loaded, is not fitted or does not read audio,
        or a limit is not a positive number.

    Examples
    --------
    >>> import tempfile
    >>> from fastapi.testclient import TestClient
    >>> from sklearn_ser.datasets import make_synthetic_corpus
    >>> from sklearn_ser.recipes import get_recipe
    >>> from sklearn_ser.serve import create_app
    >>> corpus = make_synthetic_corpus(tempfile.mkdtemp(), n_speakers=2, n_words=2, emotions=("angry", "sad"))
    >>> model = get_recipe("svm-mfcc", probability=True).fit(corpus["path"], corpus["label"])
    >>> with TestClient(create_app(model)) as client, open(corpus["path"][0], "rb") as audio:
    ...     answer = client.post("/predict", files={"files": ("clip.wav", audio, "audio/wav")}).json()
    >>> answer["predictions"][0]["label"] in ("angry", "sad")
    True
    """
    limits = _checked_limits(max_upload_bytes, max_duration, max_concurrent, queue_timeout)
    served = ServedModel(model)
    slots = asyncio.Semaphore(limits["max_concurrent"])
    own_folder = temporary_folder is None
    root = tempfile.mkdtemp(prefix="sklearn-ser-serve-") if own_folder else os.fspath(temporary_folder)
    os.makedirs(root, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            if own_folder:
                shutil.rmtree(root, ignore_errors=True)

    app = FastAPI(
        title="sklearn-ser",
        summary=f"Speech emotion recognition with {served.recipe or 'a fitted model'}",
        lifespan=lifespan,
    )
    app.state.served = served
    app.state.limits = limits
    app.state.temporary_folder = root
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"])

    @app.exception_handler(RequestError)
    async def refused(request, exc):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(_page())

    @app.get("/health")
    async def health():
        """Whether the service is up: ``{"status": "ok"}``."""
        return {"status": "ok"}

    @app.get("/model")
    async def describe_model():
        """The model's classes, sampling rate, recipe, whether it wants speaker ids, and the service's limits."""
        return {**served.describe(), "limits": limits}

    @app.post("/predict", openapi_extra=_MULTIPART_FILES)
    async def predict(request: Request):
        """The label and class probabilities of each uploaded file; an error entry for a file that cannot be read."""
        async with _request_folder(root) as folder:
            fields, uploads = await _read(request, folder, limits)
            _check_fields(fields, allowed={"speaker"})
            files = _files_of(uploads, field="files")
            speaker = _speaker(fields, served)
            predictions = await _in_slot(slots, limits, _predict_uploads, served, files, speaker, limits)
        if not any("label" in entry for entry in predictions):
            reason = "; ".join(f"{entry['file']}: {entry['error']}" for entry in predictions)
            return JSONResponse({"error": f"No file could be predicted ({reason})", "predictions": predictions}, 422)
        return {"predictions": predictions}

    @app.post("/timeline", openapi_extra=_MULTIPART_RECORDING)
    async def timeline(request: Request):
        """The emotion of every window of one recording, and its stretches of speech."""
        async with _request_folder(root) as folder:
            fields, uploads = await _read(request, folder, limits)
            _check_fields(fields, allowed={"window", "hop", "vad", "speaker"})
            (upload,) = _files_of(uploads, field="file", single=True)
            window = _number(fields, "window", served.window)
            hop = _number(fields, "hop", served.hop if "window" not in fields else min(served.hop, window))
            vad = fields.get("vad", "energy")
            if vad not in VADS:
                raise RequestError(422, f"vad must be one of {', '.join(VADS)}; got {vad!r}.")
            speaker = _speaker(fields, served)
            return await _in_slot(slots, limits, _timeline_of, served, upload, window, hop, vad, speaker, limits)

    return app


def _checked_limits(max_upload_bytes, max_duration, max_concurrent, queue_timeout):
    limits = {
        "max_upload_bytes": max_upload_bytes,
        "max_duration_seconds": max_duration,
        "max_concurrent": (os.cpu_count() or 1) if max_concurrent is None else max_concurrent,
        "queue_timeout_seconds": queue_timeout,
    }
    for name, value in limits.items():
        integral = name in ("max_upload_bytes", "max_concurrent")
        valid = isinstance(value, int) if integral else isinstance(value, (int, float)) and math.isfinite(value)
        if isinstance(value, bool) or not valid or value <= 0:
            kind = "a positive integer" if integral else "a positive number"
            raise ValueError(f"{name} must be {kind}, got {value!r}.")
    return limits


@asynccontextmanager
async def _request_folder(root):
    """A temporary folder for one request, removed when the request ends, however it ends."""
    folder = tempfile.mkdtemp(dir=root, prefix="request-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _read(request, folder, limits):
    try:
        return await read_form(request, folder, max_bytes=limits["max_upload_bytes"])
    except ClientDisconnect:
        raise RequestError(400, "The client went away before its upload was complete.") from None


def _check_fields(fields, *, allowed):
    unknown = sorted(set(fields) - allowed)
    if unknown:
        expected = ", ".join(sorted(allowed))
        raise RequestError(400, f"Unknown form field {unknown[0]!r}; this endpoint takes {expected} besides its audio.")


def _files_of(uploads, *, field, single=False):
    """The uploads of ``field``; a 400 naming the field expected when there are none or others."""
    strays = sorted({upload.field for upload in uploads if upload.field != field})
    if strays:
        raise RequestError(400, f"Unknown file field {strays[0]!r}: send the audio as the field {field!r}.")
    files = [upload for upload in uploads if upload.field == field]
    if not files:
        what = "one recording" if single else "one or more audio files"
        raise RequestError(400, f"No audio file in the request: send {what} as the multipart field {field!r}.")
    if single and len(files) > 1:
        raise RequestError(400, f"{len(files)} files in the field {field!r}: a timeline is of one recording.")
    return files


def _speaker(fields, served):
    speaker = fields.get("speaker") or None
    if speaker is not None and not served.wants_speaker:
        raise RequestError(422, "speaker: this model does not normalize per speaker; send no speaker.")
    return speaker


def _number(fields, name, default):
    if name not in fields:
        return default
    try:
        value = float(fields[name])
    except ValueError:
        raise RequestError(422, f"{name} must be a number of seconds; got {fields[name]!r}.") from None
    if not math.isfinite(value) or value <= 0:
        raise RequestError(422, f"{name} must be a positive number of seconds; got {fields[name]!r}.")
    return value


async def _in_slot(slots, limits, function, *args):
    """``function(*args)`` in a worker thread, once one of the ``max_concurrent`` slots is free."""
    try:
        await asyncio.wait_for(slots.acquire(), timeout=limits["queue_timeout_seconds"])
    except TimeoutError:
        raise RequestError(
            503, f"The service is busy: no prediction slot came free within {limits['queue_timeout_seconds']:g} s."
        ) from None
    try:
        return await run_in_threadpool(function, *args)
    finally:
        slots.release()


def _duration(path):
    """The length in seconds of the audio file at ``path`` from its header, or None if it cannot be read here."""
    import soundfile

    try:
        return float(soundfile.info(path).duration)
    except (RuntimeError, OSError, ValueError):
        return None  # the model's own reading names what is wrong


def _duration_problem(duration, limits):
    """Why audio of ``duration`` seconds (None: unknown) is refused before decoding (too long), or None."""
    if duration is not None and duration > limits["max_duration_seconds"]:
        return f"{duration:.1f} s of audio, longer than the service's limit of {limits['max_duration_seconds']:g} s"
    return None


def _predict_uploads(served, uploads, speaker, limits):
    from .._predict import predict_files

    entries = {}
    readable = []
    for upload in uploads:
        problem = _duration_problem(_duration(upload.path), limits)
        if problem:
            entries[upload.path] = {"file": upload.filename, "error": problem}
        else:
            readable.append(upload)
    if readable:
        try:
            frame, failures = predict_files(served.pipeline, [upload.path for upload in readable], speaker=speaker)
        except ValueError as exc:
            raise RequestError(422, _without_paths(str(exc), readable)) from None
        rows = {row["file"]: row for row in frame.to_dict("records")}
        for upload in readable:
            if upload.path in rows:
                entries[upload.path] = _prediction(upload.filename, rows[upload.path], served)
            else:
                reason = failures.get(upload.path, "it could not be read")
                entries[upload.path] = {"file": upload.filename, "error": _without_paths(reason, [upload])}
    return [entries[upload.path] for upload in uploads]


def _prediction(filename, row, served):
    probabilities = (
        {str(label): float(row[f"prob_{label}"]) for label in served.classes} if served.has_probabilities else None
    )
    return {"file": filename, "label": _json_label(row["label"]), "probabilities": probabilities}


def _timeline_of(served, upload, window, hop, vad, speaker, limits):
    from ..timeline import predict_timeline, speech_segments

    duration = _duration(upload.path)
    problem = _duration_problem(duration, limits)
    if problem:
        raise RequestError(413, f"{upload.filename}: {problem}.")
    detector = None if vad == "none" else vad
    # A new speaker's statistics are stored in the model while its timeline runs: on a copy, so that the
    # requests running beside it never see them.
    pipeline = copy.deepcopy(served.pipeline) if speaker is not None else served.pipeline
    try:
        frame = predict_timeline(pipeline, upload.path, window=window, hop=hop, vad=detector, speaker=speaker)
        stretches = speech_segments(upload.path, vad=detector) if detector else None
    except (ValueError, OSError) as exc:
        raise RequestError(422, _without_paths(str(exc), [upload])) from None
    except ImportError as exc:
        raise RequestError(422, f"vad={vad!r} is not available on this server ({exc}).") from None
    columns = {column: str(column)[len("prob_") :] for column in frame.columns if str(column).startswith("prob_")}
    rows = [
        {
            "start": float(row["start"]),
            "end": float(row["end"]),
            "speech": bool(row["speech"]),
            "label": _json_label(row["label"]),
            "probabilities": (
                {label: float(row[column]) for column, label in columns.items()} if columns and row["speech"] else None
            ),
        }
        for row in frame.to_dict("records")
    ]
    speech = [] if stretches is None else [{"start": float(s), "end": float(e)} for s, e in stretches.to_numpy()]
    return {"file": upload.filename, "duration": duration, "rows": rows, "speech": speech}


def _json_label(label):
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return None
    return label.item() if hasattr(label, "item") else label


def _without_paths(message, uploads):
    """``message`` with the server's temporary paths replaced by the names the client gave the files."""
    for upload in uploads:
        message = message.replace(upload.path, upload.filename)
    return message


def _page():
    return resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")
