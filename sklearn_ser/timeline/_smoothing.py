"""Smoothing class probabilities over neighbouring speech windows."""

from __future__ import annotations

import numpy as np

from ._windows import speech_runs


def smooth_runs(proba, speech, k):
    """Centred moving average of ``proba`` over ``k`` windows, within each run of speech windows.

    A non-speech window breaks a run: speech on either side of a silence is
    not averaged together. At the ends of a run the average is over the
    windows that exist (fewer than ``k``).

    Parameters
    ----------
    proba : ndarray of shape (n_windows, n_classes)
        Probabilities; rows of non-speech windows are ignored and returned
        as they are.
    speech : ndarray of bool, shape (n_windows,)
    k : int
        Odd number of windows averaged.

    Returns
    -------
    smoothed : ndarray of shape (n_windows, n_classes)

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [np.nan, np.nan], [0.0, 1.0]])
    >>> speech = np.array([True, True, True, False, True])
    >>> smooth_runs(proba, speech, 3).round(2).tolist()
    [[0.5, 0.5], [0.67, 0.33], [0.5, 0.5], [nan, nan], [0.0, 1.0]]
    """
    smoothed = np.array(proba, dtype=float, copy=True)
    half = k // 2
    for begin, end in speech_runs(speech):
        run = proba[begin:end]
        sums = np.concatenate([np.zeros((1, run.shape[1])), np.cumsum(run, axis=0)])
        rows = np.arange(len(run))
        low, high = np.maximum(rows - half, 0), np.minimum(rows + half + 1, len(run))
        smoothed[begin:end] = (sums[high] - sums[low]) / (high - low)[:, np.newaxis]
    return smoothed
