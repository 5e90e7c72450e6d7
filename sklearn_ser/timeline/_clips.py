"""Training windows: clips cut into the windows a timeline classifies."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import column_or_1d

from .._audio import check_audio_input, is_path
from ._stream import Recording
from ._windows import sliding_windows, window_samples


def window_clips(X, y, *, sr, window, hop):
    """Cut labelled clips into the windows :func:`predict_timeline` would cut, to fit or score a model on them.

    A model fitted on whole clips sees, in a timeline, windows of another
    length: shorter than its clips, they are out of the distribution it
    learned and it classifies them far worse than it does the clips (see
    the user guide). Fitting it on windows of the timeline's length, cut
    the same way, removes the mismatch.

    Parameters
    ----------
    X : sequence of paths, or of 1-D float waveforms sampled at ``sr``
        The clips. Files are read block by block and resampled to ``sr``
        as :func:`predict_timeline` reads a recording.
    y : array-like of shape (n_clips,)
        The label of every clip.
    sr : int
        The rate the model reads audio at (its features' ``sr``).
    window, hop : float
        Window length and hop in seconds, as in :func:`predict_timeline`. A
        clip shorter than ``window`` gives one window, the whole clip; the
        last window of a longer one ends at its end.

    Returns
    -------
    windows : list of ndarray of shape (n_samples,), dtype float32
        Every window of every clip, clip by clip.
    y_windows : ndarray of shape (n_windows,)
        The label of each window's clip.
    clip : ndarray of int, shape (n_windows,)
        The index in ``X`` of each window's clip: ``groups`` for a
        cross-validation that keeps a clip's windows together, or the index
        into per-clip metadata such as speakers (``speaker[clip]``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.timeline import window_clips
    >>> clips = [np.zeros(16000, dtype="float32"), np.zeros(40000, dtype="float32")]
    >>> windows, labels, clip = window_clips(clips, ["sad", "angry"], sr=16000, window=2.0, hop=1.0)
    >>> [len(w) for w in windows], labels.tolist(), clip.tolist()
    ([16000, 32000, 32000], ['sad', 'angry', 'angry'], [0, 1, 1])
    """
    length, step = window_samples(window, hop, sr)
    sources = check_audio_input(X)
    y = column_or_1d(y.to_numpy(dtype=object) if hasattr(y, "to_numpy") else np.asarray(y))
    if len(y) != len(sources):
        raise ValueError(f"X holds {len(sources)} clips but y {len(y)} labels.")
    windows, clip = [], []
    for index, source in enumerate(sources):
        recording = Recording(source) if is_path(source) else Recording(source, sr=sr)
        for _, samples in sliding_windows(recording.blocks(sr=sr), length, step):
            windows.append(samples)
            clip.append(index)
    clip = np.asarray(clip, dtype=np.int64)
    return windows, y[clip], clip
