"""Figures of an evaluation: confusion matrices and training curves."""

from __future__ import annotations

import numpy as np

from ._figure import _new_figure, _root_figure

_HISTORY_KEYS = ("train_acc", "valid_acc", "train_loss", "valid_loss")


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
