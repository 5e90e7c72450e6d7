"""The figure of an emotion timeline: the recording's envelope above the class probabilities over time."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ._figure import _new_figure

_REQUIRED_COLUMNS = ("start", "end", "speech", "label")
_ENVELOPE_BINS = 4000
_SPEECH_COLOUR = "#cfe8cf"
_CLOCK_STEPS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)  # seconds between time ticks


def plot_timeline(timeline, source=None, *, sr=None, title=None, reference=None, speech=None):
    """The emotion of a long recording over time, under its waveform.

    From top to bottom: the waveform's envelope (its minimum and maximum in
    each of a few thousand bins, read block by block, so that an hour-long
    file costs the memory of one block) with the speech regions shaded; a
    strip of the predicted label of every window; and the class
    probabilities stacked over time (each window drawn over the time
    closest to its centre, non-speech windows left blank). Without
    probability columns, the labels fill the probability panel.

    Parameters
    ----------
    timeline : pandas.DataFrame
        The output of :func:`sklearn_ser.timeline.predict_timeline`.
    source : str, path-like or array-like, optional
        The recording: an audio file, or a waveform (1-D, or
        ``(n_samples, n_channels)``) sampled at ``sr``. Without it the
        figure has no waveform panel.
    sr : int, optional
        The sampling rate of a waveform ``source``.
    title : str, optional
        Figure title; by default the file name of a ``source`` file, and
        none for a waveform. ``""`` draws none.
    reference : str, path-like or pandas.DataFrame, optional
        Reference labels of the recording (a CSV file or a frame with
        ``start``, ``end`` in seconds and ``label``), drawn as a strip under
        the predicted labels, in the same colours; the strip's title gives
        the agreement of the speech windows with them (see
        :func:`sklearn_ser.timeline.timeline_agreement`).
    speech : pandas.DataFrame, optional
        Stretches of speech (``start``, ``end`` in seconds), as
        :func:`sklearn_ser.timeline.speech_segments` gives them at the voice
        activity detector's own resolution: the waveform panel shades them
        instead of the speech windows, so that pauses shorter than a window
        show.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Axes from top to bottom: the waveform (if ``source`` is given), the
        label strip, the reference strip (with ``reference``) and the
        probabilities.

    Raises
    ------
    ValueError
        If ``timeline`` lacks a column of ``predict_timeline``'s output or
        has no rows.

    See Also
    --------
    sklearn_ser.timeline.predict_timeline : Compute the timeline.
    save_figure : Write the figure to a file.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn_ser.plotting import plot_timeline
    >>> timeline = pd.DataFrame({
    ...     "start": [0.0, 1.0, 2.0], "end": [2.0, 3.0, 4.0], "speech": [True, True, False],
    ...     "label": ["angry", "sad", None], "prob_angry": [0.8, 0.3, np.nan], "prob_sad": [0.2, 0.7, np.nan]})
    >>> waveform = np.random.default_rng(0).normal(0, 0.1, 4 * 16000).astype("float32")
    >>> fig = plot_timeline(timeline, waveform, sr=16000)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['Amplitude', '', 'Probability']
    """
    from ..timeline._reference import label_text, read_reference, timeline_agreement

    speech_stretches = speech
    classes, proba = _class_probabilities(timeline)
    segments = read_reference(reference) if reference is not None else None
    if segments is not None:
        known = {label_text(label) for label in classes}
        classes = classes + sorted({label_text(label) for label in segments["label"]} - known)
        proba = np.hstack([proba, np.zeros((len(proba), len(classes) - proba.shape[1]))])
    starts, ends = timeline["start"].to_numpy(float), timeline["end"].to_numpy(float)
    speech = timeline["speech"].to_numpy(bool)
    edges = _cell_edges(starts, ends)
    colours = _class_colours(len(classes))
    duration = float(ends.max())

    rows = ([2.0] if source is not None else []) + [0.35] + ([0.35] if segments is not None else []) + [3.0]
    fig = _new_figure((12.0, 1.6 * sum(rows) + 0.8))
    axes = list(fig.subplots(len(rows), 1, sharex=True, gridspec_kw={"height_ratios": rows}, squeeze=False)[:, 0])
    label_ax, proba_ax = axes[1 if source is not None else 0], axes[-1]

    if source is not None:
        duration = max(duration, _draw_envelope(axes[0], source, sr))
        if speech_stretches is None:
            _shade_speech(axes[0], edges, speech, label="speech")
        else:
            for index, (begin, end) in enumerate(zip(speech_stretches["start"], speech_stretches["end"])):
                axes[0].axvspan(begin, end, color=_SPEECH_COLOUR, zorder=0, label="speech" if index == 0 else None)
        axes[0].legend(loc="upper right", fontsize="small")

    labels = timeline["label"].to_numpy(object)
    for index, label in enumerate(classes):
        cells = np.asarray([not pd.isna(value) and label_text(value) == label_text(label) for value in labels])
        label_ax.stairs(cells.astype(float), edges, fill=True, color=colours[index], linewidth=0)
    label_ax.set_ylim(0, 1)
    label_ax.set_yticks([])
    label_ax.set_title("Predicted label", loc="left", fontsize="small")
    if segments is not None:
        reference_ax = axes[-2]
        for index, label in enumerate(classes):
            chosen = segments[segments["label"].map(label_text) == label_text(label)]
            reference_ax.broken_barh(
                list(zip(chosen["start"], chosen["end"] - chosen["start"])), (0, 1), color=colours[index], linewidth=0
            )
        reference_ax.set_ylim(0, 1)
        reference_ax.set_yticks([])
        agreement, n_windows = timeline_agreement(timeline, segments)
        agrees = f"{agreement:.0%} of {n_windows} speech windows agree" if n_windows else "no speech window inside"
        reference_ax.set_title(f"Reference label ({agrees})", loc="left", fontsize="small")
        duration = max(duration, float(segments["end"].max()))

    lower = np.zeros(len(proba))
    for index, label in enumerate(classes):
        upper = lower + np.nan_to_num(proba[:, index])
        proba_ax.stairs(upper, edges, baseline=lower, fill=True, color=colours[index], label=str(label), linewidth=0)
        lower = upper
    proba_ax.set_ylim(0, 1)
    proba_ax.set_ylabel("Probability")
    proba_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="Emotion", fontsize="small")
    proba_ax.set_xlim(0, duration)
    proba_ax.set_xlabel("Time (s)" if duration <= 120 else "Time (h:mm:ss)")
    if duration > 120:
        from matplotlib.ticker import FuncFormatter, MultipleLocator

        proba_ax.xaxis.set_major_locator(MultipleLocator(_clock_step(duration)))
        proba_ax.xaxis.set_major_formatter(FuncFormatter(lambda seconds, _: _clock(seconds)))
    if title is None and isinstance(source, (str, os.PathLike)):
        title = Path(source).name
    if title:
        fig.suptitle(title)
    return fig


def _class_probabilities(timeline):
    """The class names and a (n_windows, n_classes) probability array: the columns, or one-hot labels."""
    missing = [column for column in _REQUIRED_COLUMNS if column not in timeline]
    if missing:
        raise ValueError(
            f"timeline lacks the columns {missing} of predict_timeline's output; it has {list(timeline.columns)}."
        )
    if len(timeline) == 0:
        raise ValueError("timeline has no rows.")
    columns = [column for column in timeline.columns if str(column).startswith("prob_")]
    if columns:
        return [column[len("prob_") :] for column in columns], timeline[columns].to_numpy(float)
    labels = timeline["label"].to_numpy(object)
    classes = sorted({label for label in labels if label is not None and label == label}, key=str)
    return classes, np.array([[float(label == name) for name in classes] for label in labels]).reshape(len(labels), -1)


def _cell_edges(starts, ends):
    """Edges of the cell each window is drawn over: between the centres of its neighbours and its own."""
    centres = (starts + ends) / 2
    return np.concatenate([[starts[0]], (centres[1:] + centres[:-1]) / 2, [ends[-1]]])


def _shade_speech(ax, edges, speech, *, label):
    from ..timeline._windows import speech_runs

    for run, (begin, end) in enumerate(speech_runs(speech)):
        ax.axvspan(edges[begin], edges[end], color=_SPEECH_COLOUR, zorder=0, label=label if run == 0 else None)


def _draw_envelope(ax, source, sr):
    """Draw the minimum and maximum of the recording in bins; return its duration in seconds."""
    from ..timeline._stream import Recording

    recording = Recording(source, sr=sr)
    per_bin = max(1, math.ceil(recording.n_frames / _ENVELOPE_BINS))
    lows, highs, carry = [], [], np.zeros(0, dtype=np.float32)
    for block in recording.blocks():
        samples = np.concatenate([carry, block]) if len(carry) else block
        whole = len(samples) - len(samples) % per_bin
        bins = samples[:whole].reshape(-1, per_bin)
        lows.append(bins.min(axis=1))
        highs.append(bins.max(axis=1))
        carry = samples[whole:]
    if len(carry):
        lows.append(carry.min(keepdims=True))
        highs.append(carry.max(keepdims=True))
    low, high = np.concatenate(lows), np.concatenate(highs)
    times = np.arange(len(low)) * per_bin / recording.samplerate
    ax.fill_between(times, low, high, step="post", color="0.35", linewidth=0)
    peak = float(max(np.abs(low).max(), np.abs(high).max())) * 1.05 or 1.0
    ax.set_ylim(-peak, peak)
    ax.set_ylabel("Amplitude")
    return recording.duration


def _class_colours(n_classes):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n_classes <= 10 else "tab20"]
    return [cmap(index % cmap.N) for index in range(n_classes)]


def _clock_step(duration, max_ticks=10):
    return next((step for step in _CLOCK_STEPS if duration / step <= max_ticks), _CLOCK_STEPS[-1])


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
