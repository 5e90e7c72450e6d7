"""Markdown reports of evaluations and comparisons, with their figures."""

from __future__ import annotations

import datetime
import platform
import re
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from ._files import write_text_atomically

__all__ = ["markdown_table", "write_evaluation_report", "write_comparison_report"]


def markdown_table(frame, *, float_format="{:.3f}"):
    """A pandas DataFrame as a Markdown table, index included.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; a MultiIndex is written as one column per level.
    float_format : str, default="{:.3f}"
        Format of floating-point cells.

    Returns
    -------
    text : str

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ser.reports import markdown_table
    >>> print(markdown_table(pd.DataFrame({"accuracy": [0.5]}, index=pd.Index(["svm"], name="model"))))
    | model | accuracy |
    |---|---:|
    | svm | 0.500 |
    """
    frame = frame.reset_index()
    numeric = [pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes]
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---:" if is_number else "---" for is_number in numeric) + "|"
    rows = []
    for values in frame.itertuples(index=False):
        cells = [
            float_format.format(value) if isinstance(value, (float, np.floating)) else str(value) for value in values
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows])


def _header(title, lines):
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    machine = f"{platform.machine()}, Python {platform.python_version()}, sklearn-ser {__version__}"
    return [f"# {title}", "", *lines, "", f"Written {stamp} on {machine}.", ""]


def _confusion_section(result, out_dir, stem):
    from .plotting import plot_confusion_matrix, save_figure

    lines = []
    for normalize, suffix, caption in [(False, "", "counts"), (True, "_normalized", "normalized by true label")]:
        name = f"{stem}{suffix}.png"
        save_figure(plot_confusion_matrix(result, normalize=normalize), Path(out_dir) / name)
        lines.append(f"![Confusion matrix, {caption}]({name})")
    return lines


def _fold_names(result):
    """Each fold by what it held out, or by its number for a result without names."""
    if len(result.fold_names) == len(next(iter(result.scores.values()))):
        return [name if name.startswith("fold ") else f"held out: {name}" for name in result.fold_names]
    return [f"fold {k + 1}" for k in range(len(next(iter(result.scores.values()))))]


def _missing_classes_note(result):
    """A sentence on the folds whose test set lacks classes, whose balanced accuracy reads differently."""
    missing = result.missing_classes
    if not missing:
        return []
    folds = "; ".join(f"{name}: {', '.join(map(str, labels))}" for name, labels in missing.items())
    return [
        f"Some folds test no utterance of some classes ({folds}). Their balanced accuracy averages the recall "
        "of the classes they do test, and a prediction of an absent class counts only as an error on the "
        "utterance it was made for.",
        "",
    ]


def _training_section(result, out_dir, stem):
    """Training curves, only where they show a validation curve beside the training one.

    Training loss and accuracy alone reach their best on every fold and tell
    nothing of generalisation; a model trained with a validation split
    (``early_stopping=True``) records held-out curves too.
    """
    from .plotting import plot_training_curves, save_figure
    from .plotting._evaluation import _histories

    lines = []
    for fold, (estimator, fold_name) in enumerate(zip(result.estimators, _fold_names(result))):
        try:
            histories = _histories(estimator)
        except ValueError:
            return []
        if not any(any("valid_loss" in row for row in history) for _, history in histories):
            return []
        figure = plot_training_curves(estimator, title=fold_name)
        name = f"{stem}_fold{fold + 1}.png"
        save_figure(figure, Path(out_dir) / name)
        lines.append(f"![Training and validation curves, {fold_name}]({name})")
    return lines


def evaluation_sections(result, out_dir, *, stem="evaluation", heading_level=2):
    """Markdown lines for one evaluation: scores, per-class table, figures."""
    mark = "#" * heading_level
    per_fold = pd.DataFrame(result.scores)
    per_fold.index = pd.Index(_fold_names(result), name="fold")
    lines = [
        f"{mark} Scores ({result.protocol} protocol, {len(per_fold)} folds)",
        "",
        markdown_table(result.summary()),
        "",
        markdown_table(per_fold),
        "",
        *_missing_classes_note(result),
        f"{mark} Per class (pooled over folds)",
        "",
        markdown_table(result.per_class),
        "",
        f"{mark} Confusion matrix (pooled over folds)",
        "",
        markdown_table(
            pd.DataFrame(
                result.confusion_matrix,
                index=pd.Index(result.labels, name="true \\ predicted"),
                columns=result.labels,
            )
        ),
        "",
        *_confusion_section(result, out_dir, f"{stem}_confusion"),
        "",
    ]
    curves = _training_section(result, out_dir, f"{stem}_training")
    if curves:
        lines += [f"{mark} Training curves", "", *curves, ""]
    return lines


def write_evaluation_report(result, out_dir, *, title, description=()):
    """Write ``report.md`` and its figures for an :class:`~sklearn_ser.evaluation.EvaluationResult`.

    Parameters
    ----------
    result : EvaluationResult
        From :func:`sklearn_ser.evaluation.evaluate` (with
        ``keep_estimators=True`` for training curves).
    out_dir : str or path-like
        Folder to write to; created if missing.
    title : str
        Title of the report.
    description : sequence of str, default=()
        Lines written under the title (corpus, recipe, command).

    Returns
    -------
    path : pathlib.Path
        The report file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = _header(title, description) + evaluation_sections(result, out_dir)
    path = out_dir / "report.md"
    write_text_atomically(path, "\n".join(lines), replaces="report")
    return path


def write_comparison_report(results, table, tests, out_dir, *, title, description=()):
    """Write ``report.md`` and figures comparing estimators evaluated on the same folds.

    Parameters
    ----------
    results : dict of str to EvaluationResult
        From :func:`sklearn_ser.evaluation.compare`.
    table, tests : pandas.DataFrame
        The summary and the paired tests from :func:`~sklearn_ser.evaluation.compare`.
    out_dir : str or path-like
        Folder to write to; created if missing.
    title : str
        Title of the report.
    description : sequence of str, default=()
        Lines written under the title.

    Returns
    -------
    path : pathlib.Path
        The report file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = table["mean"].unstack("metric")
    lines = _header(title, description) + ["## Summary (mean over folds)", "", markdown_table(summary), ""]
    lines += ["## Standard deviation over folds", "", markdown_table(table["std"].unstack("metric")), ""]
    if len(tests):
        lines += [
            "## Paired tests over folds",
            "",
            "With few folds no test can reach significance; read the differences too.",
            "",
            markdown_table(tests.set_index(["estimator", "other", "metric"])),
            "",
        ]
    for name, result in results.items():
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("_") or "model"
        lines += [f"## {name}", ""] + evaluation_sections(result, out_dir, stem=stem, heading_level=3)
    path = out_dir / "report.md"
    write_text_atomically(path, "\n".join(lines), replaces="report")
    return path
