"""Helpers shared by the corpus loaders."""

import os
from pathlib import Path

import pandas as pd

#: Columns every corpus loader returns, in this order.
COMMON_COLUMNS = ("path", "label", "speaker", "text", "corpus")

#: The seven emotion labels of the Toronto Emotional Speech Set.
EMOTIONS_TESS = ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")


def _check_root(root):
    """Return ``root`` as an absolute :class:`~pathlib.Path` to a directory.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` exists but is not a directory.
    """
    root = Path(os.path.abspath(Path(root).expanduser()))
    if not root.exists():
        raise FileNotFoundError(f"Corpus root {str(root)!r} does not exist.")
    if not root.is_dir():
        raise NotADirectoryError(f"Corpus root {str(root)!r} is not a directory.")
    return root


def _as_object_strings(frame):
    """Convert every string column of ``frame`` to object dtype, in place.

    pandas 3 stores strings in a dedicated string dtype by default; object
    columns keep ``frame[col].to_numpy()`` an array of plain ``str``, which is
    what scikit-learn's indexing utilities expect.
    """
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column].dtype):
            frame[column] = frame[column].astype(object)
    return frame


def _build_frame(records, *, corpus, extra_columns=()):
    """Build the loader DataFrame from one mapping per audio file.

    Parameters
    ----------
    records : list of dict
        Each with at least the keys ``path``, ``label``, ``speaker`` and
        ``text``, plus the keys named in ``extra_columns``.
    corpus : str
        Value of the ``corpus`` column.
    extra_columns : sequence of str, default=()
        Further keys of ``records`` to keep, after the common columns.

    Returns
    -------
    frame : pandas.DataFrame
        Rows sorted by path, with a default RangeIndex and string columns of
        object dtype.
    """
    columns = [*COMMON_COLUMNS, *extra_columns]
    frame = pd.DataFrame.from_records([{**record, "corpus": corpus} for record in records], columns=columns)
    for column in COMMON_COLUMNS:
        frame[column] = frame[column].astype(str)
    frame = frame.sort_values("path", kind="stable", ignore_index=True)
    return _as_object_strings(frame)
