"""Figures of "Mel-Spectrograms Based LSTM Model for Speech Emotion Recognition".

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (except when drawing into axes you pass), so the figures work on
headless machines, are never registered with ``pyplot`` and leave its
backend alone. Return one from a notebook cell to show it, or write it to
disk with :func:`save_figure` (or ``fig.savefig``).

* :func:`plot_confusion_matrix`: counts, or recall per true label, of an
  evaluation's pooled predictions.
* :func:`plot_training_curves`: accuracy and loss per epoch of a fitted
  :class:`~sklearn_ser.models.LSTMClassifier` (train and, with early
  stopping, validation), or of each scale of a
  :class:`~sklearn_ser.models.MultiscaleLSTMClassifier`.
* :func:`plot_emotion_examples`: waveform and log-Mel spectrogram of one
  utterance per emotion.
* :func:`plot_mfcc_correlation`: correlation matrix of MFCC coefficients.
* :func:`plot_search`: Optuna's figures of a search (drawn by Optuna, through
  ``pyplot``: close them when saved).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from ._files import atomic_write

__all__ = [
    "plot_confusion_matrix",
    "plot_training_curves",
    "plot_emotion_examples",
    "plot_mfcc_correlation",
    "plot_search",
    "save_figure",
]

_HISTORY_KEYS = ("train_acc", "valid_acc", "train_loss", "valid_loss")


def _new_figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _root_figure(ax):
    figure = ax.figure
    return getattr(figure, "figure", figure)  # a SubFigure's root figure; a Figure's .figure is itself


# ---------------------------------------------------------------------------
# Confusion matrix
# ---------------------------------------------------------------------------


def plot_confusion_matrix(result=None, *, y_true=None, y_pred=None, labels=None, normalize=False, title=None, ax=None):
    """Confusion matrix of pooled predictions, as counts or recall per true label.

    Rows are true labels and columns predicted labels; every cell is
    annotated with its value. With ``normalize=True`` each row is divided by
    its total, so the diagonal shows the recall of each emotion and every
    row (with any utterance) sums to 1.

    Parameters
    ----------
    result : EvaluationResult, optional
        The output of :func:`sklearn_ser.evaluation.evaluate`; its pooled
        ``y_true``, ``y_pred`` and ``labels`` are used. Give either
        ``result`` or both ``y_true`` and ``y_pred``.
    y_true, y_pred : array-like of shape (n_samples,), optional
        True and predicted labels, when no ``result`` is given.
    labels : array-like, optional
        Labels to show, in this order. Defaults to ``result.labels``, or to
        the sorted labels found in ``y_true`` and ``y_pred``.
    normalize : bool, default=False
        Show each row divided by its total (recall per true label) instead
        of counts. Rows of labels with no utterance show zeros.
    title : str, optional
        Axes title; defaults to "Confusion matrix", with the protocol of
        ``result`` and the normalisation named.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is made when None.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the matrix axes and its colour bar.

    See Also
    --------
    sklearn.metrics.ConfusionMatrixDisplay : The display used to draw it.

    Examples
    --------
    >>> from sklearn_ser.plotting import plot_confusion_matrix
    >>> fig = plot_confusion_matrix(y_true=["angry", "sad", "sad"], y_pred=["angry", "angry", "sad"])
    >>> type(fig).__name__, len(fig.axes)
    ('Figure', 2)
    >>> [text.get_text() for text in fig.axes[0].texts]
    ['1', '0', '1', '1']
    >>> fig = plot_confusion_matrix(y_true=["angry", "sad", "sad"], y_pred=["angry", "angry", "sad"], normalize=True)
    >>> [text.get_text() for text in fig.axes[0].texts]
    ['1.00', '0.00', '0.50', '0.50']
    """
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix
    from sklearn.utils.multiclass import unique_labels

    if result is not None:
        if y_true is not None or y_pred is not None:
            raise ValueError("Give either an EvaluationResult or y_true and y_pred, not both.")
        missing = [name for name in ("y_true", "y_pred") if not hasattr(result, name)]
        if missing:
            raise TypeError(
                f"result must be an EvaluationResult (with y_true, y_pred and labels), got {type(result).__name__}."
            )
        y_true, y_pred = result.y_true, result.y_pred
        if labels is None:
            labels = getattr(result, "labels", None)
    elif y_true is None or y_pred is None:
        raise ValueError("Give an EvaluationResult, or both y_true and y_pred.")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D and of the same length, got shapes {y_true.shape} and {y_pred.shape}."
        )
    labels = unique_labels(y_true, y_pred) if labels is None else np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("No labels to show: y_true and y_pred are empty.")

    counts = confusion_matrix(y_true, y_pred, labels=labels)
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        matrix = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
        values_format, im_kw = ".2f", {"vmin": 0.0, "vmax": 1.0}
    else:
        matrix, values_format, im_kw = counts, "d", {}

    if ax is None:
        size = max(4.5, 0.65 * len(labels) + 2.5)
        fig = _new_figure((size + 1.0, size))
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    display = ConfusionMatrixDisplay(matrix, display_labels=[str(label) for label in labels])
    display.plot(ax=ax, cmap="Blues", values_format=values_format, im_kw=im_kw, colorbar=True)
    for tick in ax.get_xticklabels():
        tick.set(rotation=45, ha="right", rotation_mode="anchor")
    if normalize:
        display.im_.colorbar.set_label("Recall (share of the true label)")
    else:
        display.im_.colorbar.set_label("Utterances")
    if title is None:
        title = "Confusion matrix"
        protocol = getattr(result, "protocol", None)
        if protocol:
            title += f" ({protocol} protocol)"
        if normalize:
            title += "\nnormalized over true labels"
    ax.set_title(title)
    return fig


# ---------------------------------------------------------------------------
# Training curves
# ---------------------------------------------------------------------------


def _is_history(obj):
    try:
        from skorch.history import History
    except ImportError:  # pragma: no cover - skorch is a dependency
        return False
    return isinstance(obj, History)


def _histories(model):
    """``[(label or None, skorch History), ...]`` of a fitted model."""
    if _is_history(model):
        return [(None, model)]
    name = type(model).__name__
    if hasattr(model, "steps") and model.steps:  # Pipeline: its final estimator
        return _histories(model.steps[-1][1])
    if hasattr(model, "best_estimator_"):  # a refitted search
        return _histories(model.best_estimator_)
    if hasattr(model, "segment_frames"):  # MultiscaleLSTMClassifier
        if not hasattr(model, "estimators_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"This {name} is not fitted yet: fit it before plotting its training curves.")
        lengths = list(model.segment_frames)
        if len(lengths) != len(model.estimators_):
            lengths = list(range(len(model.estimators_)))
        pairs = []
        for length, estimator in zip(lengths, model.estimators_):
            pairs.extend((f"{length} frames", history) for _, history in _histories(estimator))
        return pairs
    try:
        history = model.history_
    except AttributeError as exc:
        from sklearn.exceptions import NotFittedError

        if isinstance(exc, NotFittedError):
            raise NotFittedError(f"This {name} is not fitted yet: fit it before plotting its training curves.") from exc
        history = getattr(model, "history", None)  # a bare skorch net
        if not _is_history(history):
            raise ValueError(
                f"{name} has no training history to plot: expected an LSTMClassifier, a Pipeline ending "
                "in one, a MultiscaleLSTMClassifier or a skorch History."
            ) from None
    return [(None, history)]


def _curve(history, key):
    """Epochs and values of ``key``, or None when no epoch recorded it."""
    rows = [row for row in history if key in row]
    if not rows:
        return None
    epochs = np.array([row.get("epoch", index + 1) for index, row in enumerate(rows)], dtype=float)
    return epochs, np.array([row[key] for row in rows], dtype=float)


def plot_training_curves(model, *, title=None):
    """Accuracy and loss per epoch, on the training and the validation data.

    Two panels: accuracy (left) and loss (right) per epoch. Training curves
    are solid; validation curves, recorded only by an
    :class:`~sklearn_ser.models.LSTMClassifier` fitted with
    ``early_stopping=True``, are dashed, and a dotted vertical line marks the
    epoch of lowest validation loss (whose weights early stopping restores).

    Parameters
    ----------
    model : estimator or skorch History
        A fitted :class:`~sklearn_ser.models.LSTMClassifier`, a fitted
        Pipeline whose last step is one, a fitted
        :class:`~sklearn_ser.models.MultiscaleLSTMClassifier` (one colour
        per scale, labelled by its segment length in frames), or a skorch
        ``History`` (such as ``clf.history_``).
    title : str, optional
        Figure title.

    Returns
    -------
    fig : matplotlib.figure.Figure
        A figure with two axes, accuracy then loss.

    Raises
    ------
    ValueError
        If ``model`` has no training history (e.g. an SVM pipeline), or the
        history holds neither accuracy nor loss.
    sklearn.exceptions.NotFittedError
        If ``model`` is an unfitted LSTMClassifier.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.models import LSTMClassifier
    >>> from sklearn_ser.plotting import plot_training_curves
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(5, 2)).astype("float32") for _ in range(8)]
    >>> clf = LSTMClassifier(hidden_size=4, max_epochs=2, random_state=0).fit(X, [0, 1] * 4)
    >>> fig = plot_training_curves(clf)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['Accuracy', 'Loss']
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['train']
    """
    histories = _histories(model)
    curves = [(label, {key: _curve(history, key) for key in _HISTORY_KEYS}) for label, history in histories]
    if not any(value is not None for _, found in curves for value in found.values()):
        raise ValueError(
            "The training history holds no accuracy or loss: expected per-epoch 'train_loss', 'train_acc', "
            "'valid_loss' or 'valid_acc' (an empty or unfinished fit?)."
        )

    fig = _new_figure((11.0, 4.2))
    acc_ax, loss_ax = fig.subplots(1, 2)
    from matplotlib.ticker import MaxNLocator

    best_marked = False
    for index, (label, found) in enumerate(curves):
        color = f"C{index}"
        prefix = "" if label is None else f"{label}, "
        for ax, metric in ((acc_ax, "acc"), (loss_ax, "loss")):
            for split, style, name in (("train", "-", "train"), ("valid", "--", "validation")):
                curve = found[f"{split}_{metric}"]
                if curve is not None:
                    marker = "o" if len(curve[0]) < 30 else None
                    ax.plot(*curve, linestyle=style, marker=marker, markersize=3, color=color, label=prefix + name)
        valid_loss = found["valid_loss"]
        if valid_loss is not None and np.isfinite(valid_loss[1]).any():
            best = valid_loss[0][np.nanargmin(valid_loss[1])]
            for ax in (acc_ax, loss_ax):
                ax.axvline(
                    best,
                    color=color,
                    linestyle=":",
                    linewidth=1,
                    label=None if best_marked else "lowest validation loss",
                )
            best_marked = True

    for ax, name in ((acc_ax, "Accuracy"), (loss_ax, "Loss")):
        ax.set_title(name)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, f"no {name.lower()} recorded", ha="center", va="center", transform=ax.transAxes)
    acc_ax.set_ylim(-0.02, 1.02)
    if title is not None:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------
# Waveforms and spectrograms of the emotions
# ---------------------------------------------------------------------------


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

    from ._audio import load_audio
    from .features import MelSpectrogram

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
    from .features import check_sequences

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


def plot_search(study):
    """Optuna's matplotlib figures of a search: history, importances, learning curves.

    Parameters
    ----------
    study : optuna.Study or OptunaSearch
        A study, or a fitted :class:`~sklearn_ser.model_selection.OptunaSearch`
        (its ``study_``).

    Returns
    -------
    figures : dict of str to matplotlib.figure.Figure
        ``"history"``: score of every trial and the best so far
        (``optuna.visualization.matplotlib.plot_optimization_history``);
        ``"importances"``: importance of each parameter, by Optuna's default
        evaluator (``plot_param_importances``), when at least two trials completed
        with different parameters; ``"intermediate_values"``: the scores
        reported to the pruner, per epoch or fold, of every trial
        (``plot_intermediate_values``). Optuna draws them with ``pyplot``:
        close them (``matplotlib.pyplot.close(fig)``) once saved.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import optuna
    >>> from sklearn_ser.plotting import plot_search
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    >>> study.optimize(lambda trial: -(trial.suggest_float("x", -1, 1) ** 2), n_trials=8)
    >>> sorted(plot_search(study))
    ['history', 'importances', 'intermediate_values']
    """
    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    study = getattr(study, "study_", study)
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    plots = {"history": optuna_plots.plot_optimization_history}
    if len({tuple(sorted(trial.params.items())) for trial in completed}) >= 2:
        plots["importances"] = optuna_plots.plot_param_importances
    plots["intermediate_values"] = optuna_plots.plot_intermediate_values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return {name: _figure_of(plot(study)) for name, plot in plots.items()}


def _figure_of(axes):
    axes = np.ravel(axes)[0] if isinstance(axes, np.ndarray) else axes
    return axes.figure


def save_figure(fig, path, *, dpi=150):
    """Write a figure to an image file, creating its folder.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, e.g. from one of the ``plot_*`` functions.
    path : str or path-like
        Where to write. The format follows the suffix (``.png``, ``.pdf``,
        ``.svg``, ...); a path without a suffix gets ``.png``.
    dpi : float, default=150
        Resolution of raster formats, in dots per inch.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_ser.plotting import plot_confusion_matrix, save_figure
    >>> fig = plot_confusion_matrix(y_true=[0, 1, 1], y_pred=[0, 1, 0])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_figure(fig, Path(tmp) / "figures" / "confusion")
    ...     path.name, path.read_bytes()[:8]
    ('confusion.png', b'\\x89PNG\\r\\n\\x1a\\n')
    """
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    atomic_write(path, lambda fh: fig.savefig(fh, format=path.suffix[1:], dpi=dpi, bbox_inches="tight"))
    return path
