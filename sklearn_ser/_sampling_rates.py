"""Sampling rates: the rate each step of a model reads audio at, and checks that steps fed the same audio agree.

A step reads audio at ``sr`` when it has an integer ``sr`` attribute: the
audio feature transformers' parameter, a :class:`WaveformAugmenter`'s, a
fitted :class:`~sklearn_ser.features.SpeechEmbedder`'s model rate (unknown,
None, before it is fitted), or a third-party step's that follows the same
convention. A waveform carries no rate of its own: every step that receives
it takes it as sampled at its own ``sr``, so two steps that read the same
waveform at different rates cannot both be right. A file path is decoded and
resampled by each step to its own rate, so paths may go to steps of
different rates.
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np

from ._estimator_tree import named_estimators


def reading_rate(estimator):
    """The sampling rate (Hz) at which ``estimator`` itself reads audio, or None when it reads none (or not yet).

    Parameters
    ----------
    estimator : object

    Returns
    -------
    sr : int or None
    """
    if isinstance(estimator, type):
        return None
    sr = getattr(estimator, "sr", None)  # an unfitted SpeechEmbedder's NotFittedError is an AttributeError
    if isinstance(sr, Integral) and not isinstance(sr, (bool, np.bool_)):
        return int(sr)
    return None


def audio_readers(model, name=""):
    """Every estimator of ``model`` (itself included) that reads audio at a known rate, in the order of the steps.

    The tree is walked as :func:`sklearn_ser._estimator_tree.named_estimators` walks it.

    Parameters
    ----------
    model : estimator
    name : str, default=""
        The name of ``model`` itself, which prefixes the paths.

    Returns
    -------
    readers : list of (str, estimator, int)
        ``(path, estimator, sr)``: where the estimator is, as a parameter
        name (``"features__mfcc"``; ``name`` for ``model`` itself), the
        estimator, and the rate it reads at.
    """
    readers = [(path, estimator, reading_rate(estimator)) for path, estimator in named_estimators(model, name)]
    return [reader for reader in readers if reader[2] is not None]


def holds_waveforms(X):
    """Whether ``X`` holds waveforms (an item that is not a file path) rather than file paths only.

    Parameters
    ----------
    X : sequence of paths or waveforms, or array

    Returns
    -------
    bool
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        return False
    if hasattr(X, "to_numpy"):
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray):
        if X.dtype != object:
            return X.dtype.kind in "biufc"
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
    return any(not isinstance(item, (str, bytes, os.PathLike)) for item in X)


def check_shared_waveform_rate(X, parts, *, owner, part_kind):
    """Refuse waveforms that parts of ``owner`` which all receive ``X`` would read at different rates.

    Parameters
    ----------
    X : sequence of paths or waveforms, or array
        What every part receives.
    parts : iterable of (str, estimator)
        The named parts (union transformers, ensemble members).
    owner : str
        The name of the estimator holding them, for the message.
    part_kind : str
        What a part is called in the message (``"transformer"``, ``"member"``).

    Raises
    ------
    ValueError
        If ``X`` holds waveforms and two parts read audio at different
        rates, naming both, where they read and at what rate.
    """
    readers = [(name, *reader) for name, part in parts for reader in audio_readers(part, name)]
    for index, first in enumerate(readers):
        for second in readers[index + 1 :]:
            if first[0] == second[0] or first[3] == second[3]:
                continue
            if not holds_waveforms(X):
                return
            raise ValueError(
                f"{owner} got waveforms, which have a single sampling rate, but its {part_kind}s read them at "
                f"different rates: {_describe(part_kind, first)} and {_describe(part_kind, second)}, so one of "
                "them would compute its features from audio at the wrong rate. Give them the same sr, or pass "
                f"audio file paths, which each {part_kind} decodes and resamples to its own rate."
            )


def _describe(part_kind, reader):
    name, path, estimator, rate = reader
    where = type(estimator).__name__ if path == name else f"its step {path!r}, {type(estimator).__name__}"
    return f"{part_kind} {name!r} ({where}) at sr={rate} Hz"
