"""Figures of a corpus: example utterances per emotion, MFCC correlations."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ._figure import _new_figure


def _example_rows(corpus, random_state):
    """One row index per emotion, preferably one speaker saying one text in all of them."""
    from sklearn.utils import check_random_state

    for column in ("path", "label"):
        if column not in corpus:
            raise ValueError(f"corpus must have a {column!r} column (a loader's frame); it has {list(corpus.columns)}.")
    if len(corpus) == 0:
        raise ValueError("corpus is empty.")
    rng = check_random_state(random_state)
    frame = corpus.reset_index(drop=True)
    emotions = sorted(frame["label"].unique(), key=str)
    if "speaker" in frame and "text" in frame:
        complete = [
            key
            for key, group in frame.groupby(["speaker", "text"], sort=True)
            if group["label"].nunique() == len(emotions)
        ]
        if complete:
            speaker, text = complete[rng.randint(len(complete))]
            group = frame[(frame["speaker"] == speaker) & (frame["text"] == text)]
            return emotions, [group.index[group["label"] == emotion][0] for emotion in emotions]
    rows = []
    for emotion in emotions:
        candidates = frame.index[frame["label"] == emotion].to_numpy()
        candidates = candidates[np.argsort(frame.loc[candidates, "path"].astype(str).to_numpy(), kind="stable")]
        rows.append(candidates[rng.randint(len(candidates))])
    return emotions, rows


def plot_emotion_examples(corpus, *, sr=16000, n_mels=64, random_state=0):
    """Waveform and log-Mel spectrogram of one utterance per emotion.

    One row per emotion (labels sorted): the waveform on the left and its
    log-Mel spectrogram (:class:`~sklearn_ser.features.MelSpectrogram`, in
    dB) on the right. When the corpus has a speaker who says one text in
    every emotion (as in TESS), the examples are that speaker saying that
    text, drawn at random among such pairs, so that the rows differ only by
    emotion; otherwise each emotion's utterance is drawn on its own. All
    panels share one time axis, the waveforms one amplitude scale and the
    spectrograms one colour scale (a colour bar on the right), so that
    speaking rate and loudness can be compared across rows.

    Parameters
    ----------
    corpus : pandas.DataFrame
        A loader's frame, with at least ``path`` and ``label`` columns
        (``speaker`` and ``text`` are used when present).
    sr : int, default=16000
        Sampling rate the audio is decoded at.
    n_mels : int, default=64
        Mel bands of the spectrograms.
    random_state : int, RandomState instance or None, default=0
        Seeds the choice of the utterances; the same seed and corpus give
        the same figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        ``2 * n_emotions`` axes (waveform, spectrogram per emotion, row by
        row) followed by the colour bar.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_ser.datasets import make_synthetic_corpus
    >>> from sklearn_ser.plotting import plot_emotion_examples
    >>> with tempfile.TemporaryDirectory() as root:
    ...     corpus = make_synthetic_corpus(root, n_speakers=1, n_words=1, emotions=("angry", "sad"))
    ...     fig = plot_emotion_examples(corpus)
    >>> len(fig.axes), fig.axes[1].get_ylabel()
    (5, 'Frequency (Hz)')
    """
    import librosa.display

    from .._audio import load_audio
    from ..features import MelSpectrogram

    emotions, rows = _example_rows(corpus, random_state)
    frame = corpus.reset_index(drop=True)
    mel = MelSpectrogram(sr=sr, n_mels=n_mels)
    waveforms = [load_audio(frame.loc[row, "path"], sr=sr) for row in rows]
    spectrograms = mel.fit_transform(waveforms)
    peak = max(float(spectrogram.max()) for spectrogram in spectrograms)
    vmin = peak - (mel.top_db if mel.top_db is not None else 80.0)
    amplitude = max(float(np.abs(y).max()) for y in waveforms) * 1.05 or 1.0
    duration = max(len(y) for y in waveforms) / sr

    fig = _new_figure((11.0, 1.9 * len(emotions) + 0.9))
    axes = fig.subplots(len(emotions), 2, sharex=True, squeeze=False)
    mesh = None
    for (wave_ax, spec_ax), emotion, row, y, spectrogram in zip(axes, emotions, rows, waveforms, spectrograms):
        wave_ax.plot(np.arange(len(y)) / sr, y, linewidth=0.4, color="C0")
        wave_ax.set_ylim(-amplitude, amplitude)
        wave_ax.set_ylabel("Amplitude")
        details = [str(frame.loc[row, column]) for column in ("speaker", "text") if column in frame]
        wave_ax.set_title(f"{emotion}" + (f" ({', '.join(details)})" if details else ""), loc="left")
        mesh = librosa.display.specshow(
            spectrogram.T,
            sr=sr,
            hop_length=mel.hop_length,
            x_axis="time",
            y_axis="mel",
            fmin=mel.fmin,
            fmax=sr / 2 if mel.fmax is None else mel.fmax,
            vmin=vmin,
            vmax=peak,
            cmap="magma",
            ax=spec_ax,
        )
        spec_ax.set_ylabel("Frequency (Hz)")
        spec_ax.set_title(f"{emotion}: log-Mel spectrogram ({n_mels} bands)", loc="left")
    for ax in axes.ravel():
        ax.set_xlim(0, duration)
        ax.set_xlabel("")
    for ax in axes[-1]:
        ax.set_xlabel("Time (s)")
    fig.colorbar(mesh, ax=axes[:, 1].tolist(), label="Power (dB)", format="%+.0f")
    return fig


# ---------------------------------------------------------------------------
# MFCC correlation
# ---------------------------------------------------------------------------


def _as_observations(X):
    """``(matrix of observations x features, names found on X or None, pooled frames?)``."""
    names = getattr(X, "feature_names", None)
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # DataFrame
        return np.asarray(X.to_numpy(), dtype=float), np.asarray(X.columns, dtype=object), False
    if isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 2:
        return np.asarray(X, dtype=float), names, False
    is_sequences = isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 3
    if isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.dtype == object):
        is_sequences = len(X) > 0 and all(np.ndim(item) == 2 for item in X)
        if not is_sequences:
            matrix = np.asarray(X, dtype=float)
            if matrix.ndim != 2:
                raise ValueError(
                    f"X must be 2-D (utterances x features) or a list of sequences, got shape {matrix.shape}."
                )
            return matrix, names, False
    if not is_sequences:
        raise ValueError(
            "X must be a 2-D array (utterances x features) or feature sequences "
            f"(a list of (n_frames, n_features) arrays); got {type(X).__name__}."
        )
    from ..features import check_sequences

    return np.concatenate(check_sequences(X), axis=0).astype(float), names, True


def plot_mfcc_correlation(X, *, feature_names=None, title=None):
    """Heat map of the correlation matrix of MFCC coefficients.

    Pearson correlations between features, from -1 (blue) to 1 (red), with
    a colour bar and, for up to 16 features, the values written in the
    cells. A feature that never varies has no correlation: its row and
    column are left blank (with a warning).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or feature sequences
        Either a table (one row per utterance, e.g. MFCCs pooled over time;
        a DataFrame's columns name the features) or a list of
        ``(n_frames, n_mfcc)`` arrays such as the output of
        :class:`~sklearn_ser.features.MFCC`, whose frames are pooled, so
        that the correlations are between coefficients across all frames.
    feature_names : array-like of str, optional
        Tick labels, one per feature. Defaults to the names ``X`` carries
        (``FeatureSequences.feature_names``, e.g. ``mfcc_0, mfcc_1, ...``,
        or a DataFrame's columns), else the feature indices.
    title : str, optional
        Axes title; defaults to "Correlation of MFCC coefficients" with what
        the correlations are computed over.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The heat map axes and its colour bar.

    Raises
    ------
    ValueError
        If ``X`` is not a table or sequences, has fewer than two rows or
        frames, or ``feature_names`` has the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.plotting import plot_mfcc_correlation
    >>> X = np.random.default_rng(0).normal(size=(50, 4))
    >>> fig = plot_mfcc_correlation(X)
    >>> len(fig.axes), np.diag(fig.axes[0].images[0].get_array()).round(6).tolist()
    (2, [1.0, 1.0, 1.0, 1.0])
    >>> [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    ['0', '1', '2', '3']
    """
    matrix, found_names, pooled = _as_observations(X)
    n_observations, n_features = matrix.shape
    if n_features < 1:
        raise ValueError("X has no features.")
    if n_observations < 2:
        raise ValueError(
            f"At least two {'frames' if pooled else 'rows'} are needed for correlations, got {n_observations}."
        )
    if not np.isfinite(matrix).all():
        raise ValueError("X holds NaN or infinite values.")
    names = feature_names if feature_names is not None else found_names
    if names is None:
        names = [str(i) for i in range(n_features)]
    names = [str(name) for name in names]
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names but X has {n_features} features.")

    constant = np.ptp(matrix, axis=0) == 0
    if constant.any():
        warnings.warn(
            f"Features without variance have no correlation and are left blank: "
            f"{[names[i] for i in np.flatnonzero(constant)]}.",
            UserWarning,
            stacklevel=2,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        correlation = np.atleast_2d(np.corrcoef(matrix, rowvar=False))
    correlation[constant, :] = np.nan
    correlation[:, constant] = np.nan
    correlation = np.clip(correlation, -1.0, 1.0)
    diagonal = np.flatnonzero(~constant)
    correlation[diagonal, diagonal] = 1.0

    size = min(12.0, max(5.0, 0.42 * n_features + 2.5))
    fig = _new_figure((size + 1.2, size))
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(correlation), cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="Pearson correlation")
    step = max(1, math.ceil(n_features / 40))
    ticks = np.arange(0, n_features, step)
    fontsize = "small" if n_features <= 20 else "x-small"
    ax.set_xticks(ticks, [names[i] for i in ticks], rotation=90, fontsize=fontsize)
    ax.set_yticks(ticks, [names[i] for i in ticks], fontsize=fontsize)
    if n_features <= 16:
        for i in range(n_features):
            for j in range(n_features):
                value = correlation[i, j]
                if np.isfinite(value):
                    color = "white" if abs(value) > 0.6 else "black"
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", color=color, fontsize="x-small")
    if title is None:
        over = f"{n_observations} frames" if pooled else f"{n_observations} utterances"
        title = f"Correlation of MFCC coefficients ({over})"
    ax.set_title(title)
    return fig


# ---------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------
