"""The CSV tables users give the toolkit (manifests, speaker tables, reference labels), read with named errors."""

from __future__ import annotations

import os

import pandas as pd


def read_csv_table(source, *, columns, what, layout):
    """``source`` (a CSV file, or a DataFrame) as strings, checked to have ``columns``.

    Parameters
    ----------
    source : str, path-like or pandas.DataFrame
    columns : sequence of str
        The columns it must have.
    what : str
        What the table is, for messages (``"manifest"``).
    layout : str
        What it should look like, for messages (``"a header path,label"``).

    Raises
    ------
    ValueError
        If the file cannot be read as CSV or a column is missing; the
        message names the table and the file.
    """
    name = f"The {what} '{os.fspath(source)}'" if isinstance(source, (str, os.PathLike)) else f"The {what}"
    if isinstance(source, (str, os.PathLike)):
        try:
            source = pd.read_csv(source, dtype=str, keep_default_na=False)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{name} cannot be read: {exc}") from exc
    missing = [column for column in columns if column not in source.columns]
    if missing:
        raise ValueError(
            f"{name} has no column {missing[0]!r}: it needs {layout}; its columns are {list(source.columns)}."
        )
    return source
