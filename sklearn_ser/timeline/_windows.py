"""Fixed-length windows every hop, cut from a stream of audio blocks."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np


def window_samples(window, hop, sr):
    """``(length, hop)`` in samples at ``sr`` of a window and hop given in seconds, after checking them.

    Examples
    --------
    >>> window_samples(2.0, 0.5, 16000)
    (32000, 8000)
    """
    check_window_and_hop(window, hop)
    return max(1, round(window * sr)), max(1, round(hop * sr))


def check_window_and_hop(window, hop):
    """Raise a ValueError naming the parameter unless ``0 < hop <= window`` (seconds)."""
    for name, value in (("window", window), ("hop", hop)):
        if not isinstance(value, Real) or isinstance(value, (bool, np.bool_)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}.")
    if hop > window:
        raise ValueError(
            f"hop={hop!r} s exceeds window={window!r} s: the audio between windows would never be classified."
        )


def sliding_windows(blocks, length, hop):
    """Windows of ``length`` samples every ``hop`` samples, from successive blocks.

    Only the samples that a coming window (or the last one, aligned on the
    end) needs are kept: memory holds at most one block and one window, not
    the recording.

    Parameters
    ----------
    blocks : iterable of ndarray of shape (n,)
        Successive samples of the recording.
    length, hop : int
        Window length and hop in samples, ``0 < hop <= length``.

    Yields
    ------
    start : int
        The window's first sample.
    window : ndarray of shape (length,)
        Its samples (a copy), or all the samples when the recording is
        shorter than one window; placed as
        :func:`~sklearn_ser._sequences.sliding_starts` says.

    Examples
    --------
    >>> import numpy as np
    >>> blocks = np.array_split(np.arange(11.0), 3)
    >>> [(start, w.tolist()) for start, w in sliding_windows(blocks, 4, 3)]
    [(0, [0.0, 1.0, 2.0, 3.0]), (3, [3.0, 4.0, 5.0, 6.0]), (6, [6.0, 7.0, 8.0, 9.0]), (7, [7.0, 8.0, 9.0, 10.0])]
    """
    if not 0 < hop <= length:
        raise ValueError(f"Expected 0 < hop <= length, got hop={hop} and length={length}.")
    buffer = np.zeros(0, dtype=np.float32)
    offset = 0  # the sample number of buffer[0]
    next_start = 0
    last_end = 0
    for block in blocks:
        buffer = np.concatenate([buffer, block]) if len(buffer) else np.asarray(block)
        while next_start + length <= offset + len(buffer):
            begin = next_start - offset
            yield next_start, buffer[begin : begin + length].copy()
            last_end = next_start + length
            next_start += hop
        # Keep what the next window needs, and the last `length` samples for a window aligned on the end.
        keep_from = min(next_start, offset + len(buffer) - length)
        if keep_from > offset:
            buffer = buffer[keep_from - offset :]
            offset = keep_from
    total = offset + len(buffer)
    if last_end == 0 and total > 0:
        yield 0, buffer.copy()
    elif last_end < total:
        yield total - length, buffer[len(buffer) - length :].copy()


def speech_runs(speech):
    """``(begin, end)`` of every run of consecutive speech windows, ``end`` excluded.

    Examples
    --------
    >>> speech_runs([True, True, False, True])
    [(0, 2), (3, 4)]
    """
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(speech, dtype=np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))
