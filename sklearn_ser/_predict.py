"""Fitting a recipe on a corpus, and predicting files with a saved model."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn
import soundfile
from tqdm.auto import tqdm

from ._audio import InvalidAudioError
from ._files import atomic_write
from ._routing import as_one_speaker, consumed
from .datasets import corpus_arrays

UNREADABLE = (ValueError, OSError)  # InvalidAudioError is a ValueError
# What reading an audio file raises for that file (see sklearn_ser._audio); anything else is the model's.
FILE_ERRORS = (InvalidAudioError, FileNotFoundError, IsADirectoryError)
PROBE_SECONDS = 1.0  # of the waveform that tells a model failing on every input from one failing on a file
AUDIO_SUFFIXES = frozenset(f".{extension.lower()}" for extension in soundfile.available_formats()) | {".wav"}
PREDICT_CHUNK = 64
MIN_SPEAKER_FILES = 5  # fewer make per-speaker statistics unreliable


def load_corpora(specs, *, labels="original", speakers=None, exclude_speakers=None):
    """The corpora named by ``KIND:PATH`` specifications, joined into one frame.

    ``speakers`` keeps only the files of those speakers, ``exclude_speakers``
    leaves those speakers' files out; a speaker the corpora do not have is
    an error naming the speakers they have.
    """
    from .datasets import load_corpus

    frames = [load_corpus(spec, labels=labels) for spec in specs]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    for option, chosen, keep in (("--speakers", speakers, True), ("--exclude-speakers", exclude_speakers, False)):
        if chosen is None:
            continue
        present = sorted(set(frame["speaker"]))
        unknown = [speaker for speaker in chosen if speaker not in present]
        if unknown:
            raise ValueError(f"{option}: no speaker {unknown[0]!r} in {' + '.join(specs)}; its speakers are {present}.")
        frame = frame[frame["speaker"].isin(chosen) == keep].reset_index(drop=True)
    if frame.empty:
        raise ValueError(f"No file of {' + '.join(specs)} is left once speakers are chosen and excluded.")
    return frame


def fit_recipe(
    corpora,
    recipe,
    out,
    *,
    overrides=None,
    labels="original",
    speakers=None,
    exclude_speakers=None,
    window=None,
    hop=None,
    format="joblib",
    out_stream=print,
):
    """Fit ``recipe`` on the corpora ``KIND:PATH`` (those speakers' files) and save it to ``out``.

    ``format="joblib"`` saves it with joblib (a pickle); ``format="safe"``
    in the safe format of :func:`sklearn_ser.persistence.save_safe`, which
    loads without running code from the file. A model that the safe format
    cannot express is refused before any corpus is read.

    With ``window`` (seconds), the pipeline is fitted on the windows of
    every clip that a timeline would cut (every ``hop`` seconds, by default
    half a window), each with its clip's label and speaker. The model
    records how long its training clips or windows were.
    """
    from ._safe_format import check_expressible, save_safe
    from .recipes import get_recipe
    from .timeline._trained_on import record_trained_on

    if format not in ("joblib", "safe"):
        raise ValueError(f"format must be 'joblib' or 'safe', got {format!r}.")
    pipeline = get_recipe(recipe, **(overrides or {}))  # a wrong name or option before any corpus is read
    if format == "safe":
        check_expressible(pipeline)  # what the unfitted pipeline holds already (e.g. a function) is refused now
    frame = load_corpora(corpora, labels=labels, speakers=speakers, exclude_speakers=exclude_speakers)
    X, y, metadata = corpus_arrays(frame)
    durations = _durations(X)
    if window is not None:
        hop = window / 2 if hop is None else hop
        X, y, metadata = _windows_of(pipeline, X, y, metadata, window, hop)
        durations = [window]
        out_stream(f"Cut {len(frame)} files into {len(X)} windows of {window:g} s every {hop:g} s")
    units = "windows" if window is not None else "files"
    out_stream(f"Fitting {recipe!r} on {len(X)} {units} of {' + '.join(corpora)} ({frame['label'].nunique()} labels)")
    start = time.perf_counter()
    with sklearn.config_context(enable_metadata_routing=True):
        pipeline.fit(X, y, **consumed(pipeline, "fit", metadata))
    record_trained_on(pipeline, durations, window=window, hop=hop, recipe=recipe)
    if format == "safe":
        save_safe(pipeline, out)
    else:
        atomic_write(out, lambda fh: joblib.dump(pipeline, fh), replaces="fitted")
    out_stream(f"Saved to {out} after {time.perf_counter() - start:.1f} s")
    return pipeline


def _durations(paths):
    """The durations in seconds of the files that can be read (fitting names the others, with its own error)."""
    durations = []
    for path in paths:
        try:
            durations.append(soundfile.info(path).duration)
        except (RuntimeError, OSError, ValueError):  # libsndfile's errors, a missing file
            continue
    return durations or [float("nan")]


def _windows_of(pipeline, X, y, metadata, window, hop):
    """The windows of every clip at the rate the pipeline reads, with each clip's label and metadata."""
    from sklearn.exceptions import NotFittedError

    from .timeline import window_clips
    from .timeline._model import audio_rate, audio_transformers

    try:
        rate = audio_rate(pipeline)
    except NotFittedError:  # a rate that only the fitted step knows (a speech model's): load it
        for transformer in audio_transformers(pipeline):
            transformer.fit(X[:1])
        rate = audio_rate(pipeline)
    windows, y_windows, clip = window_clips(X, y, sr=rate, window=window, hop=hop)
    as_array = np.empty(len(windows), dtype=object)
    as_array[:] = windows
    return as_array, y_windows, {key: np.asarray(value)[clip] for key, value in metadata.items()}


def audio_files(inputs):
    """The files named in ``inputs``, with directories expanded to the audio files below them.

    Returns
    -------
    files : list of str
        Every named file (whether or not it exists: reading it reports what
        is wrong) and everything with an audio file's suffix below a named
        directory but folders (reading refuses a pipe or a device by name).
    problems : dict of str to str
        Directories without audio files, with the reason.
    """
    files, problems = [], {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and not p.is_dir())
            if not found:
                problems[str(path)] = "a directory without audio files"
            files.extend(map(str, found))
        else:
            files.append(str(path))
    return files, problems


def load_model(model):
    """The fitted model saved in the file ``model`` (an object is returned as is).

    Two formats are read, told apart by the file's content, never by its
    name: a safe-format file (``sklearn-ser fit --format safe``,
    :func:`sklearn_ser.persistence.save_safe`; a torch archive whose first
    record names the format) is rebuilt by
    :func:`sklearn_ser.persistence.load_safe`, which runs no code from the
    file; anything else is unpickled by ``joblib.load``, which runs whatever
    code the file holds: load those only from sources you trust.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    IsADirectoryError
        If ``model`` is a directory.
    ValueError
        If the file cannot be unpickled (not a joblib file, damaged, or
        needing a module that is not installed), or holds no model with a
        ``predict`` method; if a safe-format file is refused (see
        :func:`~sklearn_ser.persistence.load_safe`); or if it is a weights
        file of :func:`~sklearn_ser.persistence.save_weights`, which needs a
        pipeline to fill. The message names the file.
    """
    if not isinstance(model, (str, os.PathLike)):
        return model
    path = os.fspath(model)
    if os.path.isdir(path):
        raise IsADirectoryError(f"'{path}' is a directory, not a model file.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"Model file not found: '{path}'.")
    from ._file_kinds import file_head
    from ._safe_format import is_safe_head, load_safe

    try:
        head = file_head(path)  # the format is told by content (a torch archive names its format first)
    except OSError:
        head = b""  # joblib's reading names the problem
    if is_safe_head(head):
        try:
            loaded = load_safe(path)
        except ImportError as exc:
            raise ValueError(f"Cannot load the model in '{path}': {exc}") from exc
        if not hasattr(loaded, "predict"):
            raise ValueError(f"'{path}' holds a {type(loaded).__name__}, not a fitted model with a predict method.")
        return loaded
    if head.startswith(b"PK\x03\x04") and b"sklearn-ser-weights" in head:
        raise ValueError(
            f"'{path}' is a weights file of sklearn_ser.persistence.save_weights, which holds no pipeline: load it "
            "with load_weights into the pipeline it was saved from, or save the model with 'sklearn-ser fit "
            "--format safe' (sklearn_ser.persistence.save_safe)."
        )
    try:
        loaded = joblib.load(path)
    except Exception as exc:  # unpickling raises whatever the damaged stream leads it to
        reason = str(exc).strip().rstrip(".") or "no details"
        raise ValueError(
            f"Cannot load a model from '{path}' ({type(exc).__name__}: {reason}). "
            "Expected a file written by 'sklearn-ser fit' or joblib.dump."
        ) from exc
    if not hasattr(loaded, "predict"):
        raise ValueError(f"'{path}' holds a {type(loaded).__name__}, not a fitted model with a predict method.")
    return loaded


def check_predicting_model(pipeline, *, name="The model"):
    """Refuse a model that cannot predict audio files, before any file is read.

    Parameters
    ----------
    pipeline : estimator
        The loaded model.
    name : str, default="The model"
        How messages name it, e.g. ``"The model in 'ser.joblib'"``.

    Raises
    ------
    ValueError
        If the model reads no audio: none of its steps (anywhere in it:
        pipeline steps, union parts, ensemble members) is an audio feature
        transformer, the package's protocol for a step that takes audio
        files or waveforms (:class:`~sklearn_ser.features.MFCC`,
        :class:`~sklearn_ser.features.SpeechEmbedder`, ...); or if it is
        not fitted.
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from .timeline._model import audio_transformers

    if not audio_transformers(pipeline):
        raise ValueError(
            f"{name} is a {_described(pipeline)}, which does not read audio: none of its steps takes audio files "
            "or waveforms (an audio feature transformer such as MFCC, MelSpectrogram or SpeechEmbedder). "
            "Predict with a model fitted on audio, e.g. by 'sklearn-ser fit'."
        )
    try:
        check_is_fitted(pipeline)
    except NotFittedError:
        raise ValueError(
            f"{name} is a {_described(pipeline)} that is not fitted: fit it on audio files before predicting "
            "('sklearn-ser fit', or its fit method and joblib.dump)."
        ) from None


def _described(model):
    """``Pipeline(StandardScaler, SVC)`` for a pipeline, the class name for any other model."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and all(isinstance(step, tuple) and len(step) == 2 for step in steps):
        return f"{type(model).__name__}({', '.join(type(step).__name__ for _, step in steps)})"
    return type(model).__name__


def predict_files(model, inputs, *, speaker=None, speaker_of=None, progress=None):
    """Predicted label and class probabilities of every readable audio file in ``inputs``.

    A file that cannot be read (missing, not audio, damaged, unreadable) does
    not stop the others: it is left out of the table and reported with its
    reason.

    Parameters
    ----------
    model : str, os.PathLike or estimator
        A model file (see :func:`load_model`) or a fitted pipeline.
    inputs : sequence of str
        Audio files and folders of them.
    speaker : str or None, default=None
        The speaker of every file. A model that normalizes per speaker
        (e.g. the ``best`` recipe) then standardizes the files by their own
        statistics, as in training (by the stored ones if it is a training
        speaker's id), so they are predicted together, not in chunks, and
        without a progress bar; give many files of the speaker, covering
        several emotions (a single file warns). Without it such a model
        falls back to other statistics and warns. A model that does not use
        speaker ids refuses it.
    speaker_of : callable or None, default=None
        The speaker of each file instead (not with ``speaker``): a function
        of the file's path returning its speaker id, or None for a file
        without one, which is then reported as a failure. The files of each
        speaker are predicted together, as with ``speaker``.
    progress : bool or None, default=None
        Show a progress bar (by default for more than 64 files, without
        ``speaker``).

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``file``, (with ``speaker_of``) ``speaker``, ``label`` and,
        for a model with ``predict_proba``, ``prob_<class>`` for each class;
        one row per readable file, in the order of ``inputs``.
    failures : dict of str to str
        Each input that gave no prediction, with the reason.

    Raises
    ------
    ValueError
        As :func:`load_model` and :func:`check_predicting_model` do, before
        any file is read; or if the model fails while predicting whatever
        its input (not a file that cannot be read: that file is a failure),
        naming the model and its error.
    """
    pipeline = load_model(model)
    name = f"The model in '{os.fspath(model)}'" if isinstance(model, (str, os.PathLike)) else "The model"
    check_predicting_model(pipeline, name=name)
    files, failures = audio_files(inputs)
    method = "predict_proba" if hasattr(pipeline, "predict_proba") else "predict"
    predict = getattr(pipeline, method)
    if speaker is not None and speaker_of is not None:
        raise ValueError("Give either one speaker for all files or a speaker per file, not both.")
    blame = _Blame(pipeline, name)
    if speaker is not None:
        predicted, outputs = _predict_as_one_speaker(pipeline, method, speaker, files, failures, blame)
        return _prediction_table(pipeline, predicted, outputs), failures
    if speaker_of is not None:
        return _predict_per_speaker(pipeline, method, speaker_of, files, failures, blame), failures
    show = len(files) > PREDICT_CHUNK if progress is None else progress
    predicted, outputs = [], []
    with tqdm(total=len(files), disable=not show, unit="file", desc="predict") as bar:
        for start in range(0, len(files), PREDICT_CHUNK):
            chunk = files[start : start + PREDICT_CHUNK]
            for file, output in _predict_readable(predict, chunk, failures, blame):
                predicted.append(file)
                outputs.append(output)
            bar.update(len(chunk))
    return _prediction_table(pipeline, predicted, outputs), failures


def _predict_as_one_speaker(pipeline, method, speaker, files, failures, blame):
    """Predict the readable ``files`` in one call, with ``speaker`` routed to the steps that use it."""
    predict = as_one_speaker(pipeline, method, speaker)
    known_failures = len(failures)
    predicted = list(_predict_readable(predict, files, failures, blame))
    readable = [file for file, _ in predicted]
    if len(failures) > known_failures and readable:
        # Found file by file: predict the others together again, so that their statistics are the speaker's.
        predicted = list(zip(readable, predict(readable)))
    if len(readable) < MIN_SPEAKER_FILES:
        files_word = "file" if len(readable) == 1 else "files"
        warnings.warn(
            f"Speaker {speaker!r} has {len(readable)} {files_word}: statistics of so few utterances remove much of "
            "what tells their emotions apart. Give each speaker's files together, many of them, covering several "
            "emotions.",
            UserWarning,
            stacklevel=3,
        )
    return readable, [output for _, output in predicted]


def _predict_per_speaker(pipeline, method, speaker_of, files, failures, blame):
    """The table of ``files`` predicted speaker by speaker, in their order, with a ``speaker`` column."""
    by_speaker = {}
    for file in files:
        owner = speaker_of(file)
        if owner is None:
            failures[file] = "without a speaker id (not in the speaker table, or not matched by the pattern)"
        else:
            by_speaker.setdefault(owner, []).append(file)
    tables = []
    for owner, group in by_speaker.items():
        predicted, outputs = _predict_as_one_speaker(pipeline, method, owner, group, failures, blame)
        table = _prediction_table(pipeline, predicted, outputs)
        table.insert(1, "speaker", owner)
        tables.append(table)
    if not tables:
        return _prediction_table(pipeline, [], []).assign(speaker=[])
    order = {file: index for index, file in enumerate(files)}
    joined = pd.concat(tables, ignore_index=True)
    return joined.sort_values("file", key=lambda column: column.map(order), kind="stable").reset_index(drop=True)


def _predict_readable(predict, files, failures, blame):
    """``(file, output)`` for the files of ``files`` that ``predict`` can read; the others go to ``failures``.

    An error that is not a file's (see :data:`FILE_ERRORS`) is the model's
    when the model fails on any input: ``blame`` raises it then, once.
    """
    try:
        outputs = predict(files)
    except UNREADABLE as exc:
        if not _is_file_error(exc, files):
            blame.check_model(predict, exc)
    else:
        blame.model_works = True
        yield from zip(files, outputs)
        return
    for file in files:
        try:
            output = predict([file])[0]
        except UNREADABLE as exc:
            if not _is_file_error(exc, [file]):
                blame.check_model(predict, exc)
            failures[file] = str(exc)
        else:
            blame.model_works = True
            yield file, output


def _is_file_error(exc, files):
    """Whether ``exc`` is what reading one of ``files`` raises: undecodable audio, or a file that is not there."""
    if isinstance(exc, InvalidAudioError):
        return True
    return isinstance(exc, FILE_ERRORS) and any(file in str(exc) for file in files)


class _Blame:
    """Tells the model's errors from the files': a model that fails on a plain waveform too is at fault.

    Until the model has predicted something, an error that is not a file's
    is checked once by predicting a short synthetic waveform at the model's
    rate: if that fails too, the model's error is raised (one line naming the
    model), instead of every file being reported unreadable.
    """

    def __init__(self, pipeline, name):
        self.pipeline = pipeline
        self.name = name
        self.model_works = False

    def check_model(self, predict, exc):
        if self.model_works:
            return
        try:
            with warnings.catch_warnings():  # the probe's own warnings (one utterance, no speaker) are no one's
                warnings.simplefilter("ignore")
                predict([self._probe()])
        except Exception:  # the model fails whatever its input: the error is its own
            reason = " ".join(str(exc).split()).rstrip(".") or "no details"
            raise ValueError(
                f"{self.name} fails while predicting, whatever the audio ({type(exc).__name__}: {reason}); "
                "no file was predicted."
            ) from exc
        self.model_works = True

    def _probe(self):
        from .timeline._model import audio_rate

        try:
            rate = audio_rate(self.pipeline)
        except ValueError:  # several rates: each reader takes a waveform at its own rate, any makes a probe
            rate = 16000
        t = np.arange(int(PROBE_SECONDS * rate)) / rate
        noise = np.random.default_rng(0).standard_normal(len(t))
        return (0.1 * np.sin(2 * np.pi * 220 * t) + 0.01 * noise).astype(np.float32)


def _prediction_table(pipeline, files, outputs):
    if not hasattr(pipeline, "predict_proba"):
        return pd.DataFrame({"file": files, "label": np.asarray(outputs, dtype=object) if outputs else []})
    classes = pipeline.classes_
    proba = np.asarray(outputs).reshape(len(files), len(classes))
    frame = pd.DataFrame({"file": files, "label": classes[proba.argmax(axis=1)] if files else []})
    for column, label in enumerate(classes):
        frame[f"prob_{label}"] = proba[:, column]
    return frame
