"""Figures built without pyplot, and written to disk atomically."""

from __future__ import annotations

from pathlib import Path

from .._files import atomic_write


def _new_figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _root_figure(ax):
    figure = ax.figure
    return getattr(figure, "figure", figure)  # a SubFigure's root figure; a Figure's .figure is itself


# ---------------------------------------------------------------------------
# Confusion matrix
# ---------------------------------------------------------------------------


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
    atomic_write(
        path, lambda fh: fig.savefig(fh, format=path.suffix[1:], dpi=dpi, bbox_inches="tight"), replaces="figure"
    )
    return path
