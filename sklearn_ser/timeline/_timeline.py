"""Emotion over time: a fitted pipeline run on the windows of a long recording."""

from __future__ import annotations

import math
from contextlib import closing, contextmanager
from itertools import islice
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._audio import check_audio_input
from .._interrupts import recording_interrupts
from .._predict import load_model
from .._routing import as_one_speaker
from .._sequences import sliding_starts
from ..features._enrolment import enrol_speaker, enrolling_speakers, speaker_normalizers
from ._model import audio_rate, audio_transformers, minimum_window
from ._smoothing import smooth_runs
from ._stream import Recording
from ._trained_on import check_window_against_training
from ._vad import make_vad
from ._windows import check_window_and_hop, sliding_windows, window_samples


def predict_timeline(
    model,
    source,
    *,
    sr=None,
    window=2.0,
    hop=1.0,
    vad="energy",
    energy_threshold=-40.0,
    min_speech=0.1,
    smooth=None,
    speaker=None,
    enrol=None,
    batch_size=64,
    verbose=0,
):
    """The emotion of every window of a recording, of any length, in bounded memory.

    The recording is read block by block (never whole), mixed to mono,
    resampled to the rate the model's features read audio at (one soxr
    stream, so block boundaries leave no seam) and cut into windows of
    ``window`` seconds every ``hop`` seconds. The windows that the voice
    activity detector finds speech in go through the model's
    ``predict_proba`` (or ``predict``) ``batch_size`` at a time, as waveforms;
    the others are marked as non-speech and not classified. Memory depends on
    ``window``, ``hop`` and ``batch_size``, not on the length of the
    recording (the returned table has one small row per window).

    Parameters
    ----------
    model : estimator or str or path-like
        A fitted pipeline from waveforms (any recipe: SVM, LSTM, fusion), or
        a model file written by ``sklearn-ser fit`` or :func:`joblib.dump`.
        A model file runs code when it is loaded: load only files you trust.
    source : str, path-like or array-like
        An audio file (any format libsndfile reads), or a waveform sampled
        at ``sr``: a 1-D float array, or ``(n_samples, n_channels)`` as
        :func:`soundfile.read` returns it (at most 8 channels). Any other
        2-D layout is refused, channels first (``librosa.load(mono=False)``)
        included: pass ``wave.T``.
    sr : int, optional
        The sampling rate of a waveform ``source``; must be None for a file.
        The recording is resampled from it to the model's rate.
    window : float, default=2.0
        Window length in seconds. At least one analysis frame of the model's
        features (``n_fft / sr`` of a spectral feature, 32 ms for the
        recipes' 512-point FFT at 16 kHz; 25 ms for a feature without
        ``n_fft``). A window as long as the clips the model was trained on
        is a sensible choice.
    hop : float, default=1.0
        Seconds between the starts of successive windows, at most
        ``window``. Windows start every ``hop`` while they fit; if the last
        one ends before the recording does, one more window ends exactly at
        the end. A recording shorter than ``window`` gives one row covering
        it all.
    vad : {"energy", "silero"} or None, default="energy"
        Voice activity detection. ``"energy"``: a 25 ms frame (every 10 ms)
        is voiced when its RMS level reaches ``energy_threshold`` dBFS; no
        model. ``"silero"``: a 32 ms frame is voiced when the Silero VAD
        model gives it a speech probability of at least 0.5; needs the
        ``silero-vad`` package (``pip install sklearn-ser[vad]``). A window
        is speech when at least ``min_speech`` of its frames are voiced.
        None: every window is speech.
    energy_threshold : float, default=-40.0
        The level in dBFS (0 dBFS: a full-scale square wave) from which a
        frame counts as voiced with ``vad="energy"``. Absolute, so that a
        window is judged without reading the rest of the recording (a level
        relative to the file's peak would need the whole file first): lower
        it for quiet recordings, raise it over a noisy background.
    min_speech : float, default=0.1
        The fraction (in (0, 1]) of a window's frames that must be voiced
        for it to be speech.
    smooth : int, optional
        Odd number of windows ``k``: each speech window's probabilities
        become the mean of those of the ``k`` windows centred on it, within
        its run of consecutive speech windows (a non-speech window breaks
        the run; fewer windows at a run's ends), and its label their
        argmax. Needs a model with ``predict_proba``.
    speaker : str, optional
        The recording's speaker, for a model that normalizes per speaker
        (see Notes); a model that does not use speaker ids refuses it.
    enrol : sequence of paths or waveforms, optional
        Utterances of ``speaker`` whose statistics normalize the windows.
        By default, a speaker the model does not know is normalized by the
        statistics of the recording's own speech windows, gathered in a
        first pass over it (twice the work). Needs ``speaker``. Files are
        resampled to the model's rate; waveforms are read at it, as the
        model reads waveforms, and are refused when the recording is at
        another rate (which of the two they are at cannot be told).
    batch_size : int, default=64
        Windows passed to the model at a time (an LSTM then batches them
        on its device).
    verbose : int, default=0
        Show a progress bar (one step per window) when positive.

    Returns
    -------
    timeline : pandas.DataFrame
        One row per window, in order: ``start`` and ``end`` (seconds),
        ``speech`` (bool), ``label`` (dtype object, None for a non-speech
        window, whichever windows are speech) and, for a model with
        ``predict_proba``, one ``prob_<class>`` column per class of
        ``model.classes_`` (float64, NaN for a non-speech window); the label
        is then the most probable class (after smoothing, if any), which for
        a calibrated model may differ from what its ``predict`` says. A
        model without ``predict_proba`` gives the labels of ``predict`` only,
        and no probability columns.

    Raises
    ------
    ValueError
        If ``window`` or ``hop`` is not positive, ``hop`` exceeds
        ``window``, ``window`` is shorter than the model's shortest analysis
        frame, another parameter is out of its range, the model reads no
        audio or reads it at several rates, or ``enrol`` holds waveforms
        while the recording is not at the model's rate.
    FileNotFoundError, IsADirectoryError, ~sklearn_ser.InvalidAudioError
        If the model file or the audio file cannot be read (the message
        names the file), or a waveform ``source`` is not one (an integer
        array, a layout other than ``(n_samples, n_channels)``, ...).
    ImportError
        If ``vad="silero"`` and ``silero-vad`` is not installed.
    KeyboardInterrupt
        On Ctrl-C, even if the model swallowed it: the file is closed and
        nothing is returned.

    See Also
    --------
    sklearn_ser.plotting.plot_timeline : Draw the timeline over the waveform.

    Notes
    -----
    Each window is classified as a clip of its own, exactly as the model
    classifies a file of that length: its features are computed from its
    waveform alone. A model that ``sklearn-ser fit`` wrote knows how long
    its training clips (or windows) were, and a ``window`` below three
    quarters of that gets a warning. The model's feature cache (``memory``)
    is set aside while the windows are classified, so that a recording's
    windows never fill it, and restored afterwards.

    A model that normalizes per speaker standardizes each window by its
    speaker's statistics. With ``speaker``, those are the model's own for a
    training speaker's id; for a new speaker, those of the ``enrol``
    utterances, or by default of all the recording's speech windows. The
    model gets them for the timeline only (they are removed afterwards).
    Without ``speaker`` such a model warns and normalizes each window alone
    (or by its training statistics), which costs much of its accuracy.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_ser import load_audio
    >>> from sklearn_ser.datasets import make_synthetic_corpus
    >>> from sklearn_ser.features import MFCC, SequencePooling
    >>> from sklearn_ser.timeline import predict_timeline
    >>> with tempfile.TemporaryDirectory() as root:
    ...     corpus = make_synthetic_corpus(root, n_speakers=1, n_words=2, emotions=("angry", "sad"))
    ...     model = make_pipeline(MFCC(), SequencePooling(), LogisticRegression())
    ...     model = model.fit(corpus["path"], corpus["label"])
    ...     clip = load_audio(corpus["path"][0], sr=16000)
    >>> silence = np.zeros(32000, dtype="float32")
    >>> recording = np.concatenate([silence, clip, silence])   # 2 s, the clip, 2 s
    >>> timeline = predict_timeline(model, recording, sr=16000, window=1.0, hop=0.5)
    >>> list(timeline.columns)
    ['start', 'end', 'speech', 'label', 'prob_angry', 'prob_sad']
    >>> timeline[["start", "end", "speech"]].head(3)
       start  end  speech
    0    0.0  1.0   False
    1    0.5  1.5   False
    2    1.0  2.0   False
    """
    pipeline = load_model(model)
    check_is_fitted(pipeline)
    _check_parameters(window, hop, energy_threshold, min_speech, smooth, batch_size)
    check_window_against_training(pipeline, window)
    rate = audio_rate(pipeline)
    shortest = minimum_window(pipeline)
    if window < shortest:
        raise ValueError(
            f"window={window!r} s is shorter than one analysis frame of the model's features "
            f"({shortest * 1000:.0f} ms); use window >= {shortest:g}."
        )
    has_proba = hasattr(pipeline, "predict_proba")
    if smooth is not None and not has_proba:
        raise ValueError(f"smooth={smooth!r} averages probabilities; the model ({type(pipeline).__name__}) has none.")
    detector = make_vad(vad, sr=rate, energy_threshold=energy_threshold, min_speech=min_speech)
    recording = Recording(source, sr=sr)
    length, step = window_samples(window, hop, rate)
    n_windows = len(sliding_starts(recording.n_samples_at(rate), length, step))
    classify = _classifier(pipeline, "predict_proba" if has_proba else "predict", speaker)

    def passes(blocks):
        """``(starts, windows, is_speech)`` of each batch of windows."""
        for batch in _batched(sliding_windows(blocks, length, step), batch_size):
            batch_starts, windows = zip(*batch)
            yield batch_starts, windows, detector(windows) if detector is not None else np.ones(len(windows), bool)

    starts, ends, speech, outputs = [], [], [], []
    with (
        _without_feature_cache(pipeline),
        _speaker_statistics(pipeline, speaker, enrol, recording, rate) as gather_from_recording,
        recording_interrupts() as interrupts,
    ):
        if gather_from_recording:  # a first pass: the speaker's statistics over the recording's speech windows
            with enrolling_speakers(), closing(recording.blocks(sr=rate)) as blocks:
                for batch_starts, windows, is_speech in passes(blocks):
                    kept = [(start, w) for start, w, keep in zip(batch_starts, windows, is_speech) if keep]
                    if kept:
                        _classified(classify, kept, rate)
                    if interrupts.received:
                        raise KeyboardInterrupt
        with (
            closing(recording.blocks(sr=rate)) as blocks,
            tqdm(total=n_windows, disable=not verbose, unit="window", desc="timeline") as progress,
        ):
            for batch_starts, windows, is_speech in passes(blocks):
                if is_speech.any():
                    kept = [(start, w) for start, w, keep in zip(batch_starts, windows, is_speech) if keep]
                    outputs.append(_classified(classify, kept, rate))
                starts.extend(batch_starts)
                ends.extend(start + len(w) for start, w in zip(batch_starts, windows))
                speech.append(is_speech)
                progress.update(len(windows))
                if interrupts.received:  # a Ctrl-C that something below swallowed
                    raise KeyboardInterrupt
    speech = np.concatenate(speech)
    frame = pd.DataFrame({"start": np.asarray(starts) / rate, "end": np.asarray(ends) / rate, "speech": speech})
    if has_proba:
        return _with_probabilities(frame, pipeline.classes_, outputs, smooth)
    labels = np.full(len(frame), None, dtype=object)
    if outputs:
        labels[speech] = np.concatenate(outputs)
    frame["label"] = _label_column(labels, frame.index)
    return frame


def _with_probabilities(frame, classes, outputs, smooth):
    classes = np.asarray(classes)
    speech = frame["speech"].to_numpy()
    proba = np.full((len(frame), len(classes)), np.nan)
    if outputs:
        proba[speech] = np.concatenate(outputs)
    if smooth is not None:
        proba = smooth_runs(proba, speech, smooth)
    labels = np.full(len(frame), None, dtype=object)
    labels[speech] = classes[proba[speech].argmax(axis=1)]
    frame["label"] = _label_column(labels, frame.index)
    for column, label in enumerate(classes):
        frame[f"prob_{label}"] = proba[:, column]
    return frame


def _label_column(labels, index):
    """The labels as an object column that keeps None (pandas 3 makes strings and None a ``str`` column of NaN)."""
    return pd.Series(labels, index=index, dtype=object)


def _classified(classify, windows, rate):
    """``classify`` of the ``(start, waveform)`` windows; a model's ValueError names the first window that raises it."""
    try:
        return classify([waveform for _, waveform in windows])
    except ValueError:
        for start, waveform in windows:
            try:
                classify([waveform])
            except ValueError as exc:
                raise ValueError(
                    f"The model cannot classify the window {start / rate:.2f}-{(start + len(waveform)) / rate:.2f} s: "
                    f"{exc}"
                ) from exc
        raise


def _classifier(pipeline, method, speaker):
    """``pipeline``'s ``method`` on a list of windows, with ``speaker`` routed to every window when given."""
    return getattr(pipeline, method) if speaker is None else as_one_speaker(pipeline, method, speaker)


@contextmanager
def _speaker_statistics(pipeline, speaker, enrol, recording, rate):
    """The speaker's statistics in the model while the timeline runs, removed afterwards if they were new.

    Yields whether they are still to be gathered from the recording itself.
    """
    if speaker is None:
        if enrol is not None:
            raise ValueError("enrol gives the utterances of a speaker: name the speaker too (speaker=).")
        yield False
        return
    if enrol is not None:
        enrol = _checked_enrolment(enrol, recording, rate)
    normalizers = speaker_normalizers(pipeline)
    new = [normalizer for normalizer in normalizers if speaker not in normalizer.speaker_statistics_]
    try:
        if new and enrol is not None:
            enrol_speaker(pipeline, enrol, speaker)
        yield bool(new) and enrol is None
    finally:
        for normalizer in new:
            normalizer.speaker_statistics_.pop(speaker, None)


def _checked_enrolment(enrol, recording, rate):
    """The enrolment's paths and waveforms; waveforms only if the recording is at the model's ``rate``.

    The model reads a waveform at its own rate. A waveform beside a
    recording at another rate may be at either: refused, not guessed.
    """
    sources = check_audio_input(enrol)
    waveforms = [index for index, source in enumerate(sources) if not isinstance(source, str)]
    if waveforms and recording.samplerate != rate:
        native = recording.samplerate
        how = (
            f"sklearn_ser.load_audio(path, sr={rate})"
            if recording.is_file
            else f"librosa.resample(wave, orig_sr={native}, target_sr={rate})"
        )
        raise ValueError(
            f"enrol[{waveforms[0]}] is a waveform, which the model reads at its own rate ({rate} Hz, its features' "
            f"sr), but the recording ({recording.name}) is at {native} Hz: which of the two the enrolment "
            f"waveforms are at cannot be told. Pass enrol as audio files, or the recording at {rate} Hz (e.g. "
            f"{how}, then sr={rate}) with enrolment waveforms at {rate} Hz."
        )
    return sources


@contextmanager
def _without_feature_cache(pipeline):
    """The audio transformers of ``pipeline`` without their feature cache, restored on the way out."""
    cached = [(transformer, transformer.memory) for transformer in audio_transformers(pipeline)]
    for transformer, _ in cached:
        transformer.memory = None
    try:
        yield
    finally:
        for transformer, memory in cached:
            transformer.memory = memory


def _batched(items, size):
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _check_parameters(window, hop, energy_threshold, min_speech, smooth, batch_size):
    check_window_and_hop(window, hop)
    if not _is_real(energy_threshold) or not math.isfinite(energy_threshold):
        raise ValueError(f"energy_threshold must be a level in dBFS (a finite number), got {energy_threshold!r}.")
    if not _is_real(min_speech) or not 0 < min_speech <= 1:
        raise ValueError(f"min_speech must be a fraction in (0, 1], got {min_speech!r}.")
    if smooth is not None and (not _is_int(smooth) or smooth < 1 or smooth % 2 == 0):
        raise ValueError(f"smooth must be None or an odd number of windows (1, 3, 5, ...), got {smooth!r}.")
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))
