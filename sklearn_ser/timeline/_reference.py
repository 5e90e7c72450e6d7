"""Reference labels of a recording (``start,end,label`` segments), and how far a timeline agrees with them."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .._csv_tables import read_csv_table

REFERENCE_COLUMNS = ("start", "end", "label")


def read_reference(reference):
    """Reference segments as a frame ``start, end, label`` sorted by start, from a CSV file or a DataFrame.

    Raises
    ------
    ValueError
        If a column is missing, a time is not a number, a segment ends
        before it starts, or segments overlap; a file is named.
    """
    name = f"'{os.fspath(reference)}'" if isinstance(reference, (str, os.PathLike)) else "reference"
    reference = read_csv_table(
        reference,
        columns=REFERENCE_COLUMNS,
        what="reference labels",
        layout="start,end,label (seconds, seconds, label)",
    )
    segments = reference[list(REFERENCE_COLUMNS)].copy()
    for column in ("start", "end"):
        segments[column] = pd.to_numeric(segments[column], errors="coerce")
    bad = segments[segments["start"].isna() | segments["end"].isna() | (segments["end"] <= segments["start"])]
    if len(bad):
        row = bad.index[0]
        raise ValueError(
            f"The reference labels {name}: row {row + 1} ({reference.loc[row, 'start']!r} to "
            f"{reference.loc[row, 'end']!r}) is not a segment of positive length in seconds."
        )
    segments = segments.sort_values("start", ignore_index=True)
    overlap = np.flatnonzero(segments["start"].to_numpy()[1:] < segments["end"].to_numpy()[:-1])
    if len(overlap):
        first = segments.iloc[overlap[0]]
        raise ValueError(f"The reference labels {name}: the segment from {first['start']:g} s overlaps the next one.")
    segments["label"] = np.array([label_text(label) for label in segments["label"]], dtype=object)
    return segments


def label_text(label):
    """A label as the text it is compared by: ``str``, but a whole float as the integer it was.

    pandas reads an integer column with missing values as floats: integer
    labels read back from a timeline's CSV (whose non-speech rows have no
    label) are ``1.0``, ``2.0``, to be compared as ``"1"``, ``"2"``.
    """
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        return str(int(label))
    return str(label)


def reference_at_windows(timeline, reference):
    """The reference label at the centre of each window of ``timeline`` (None where no segment covers it)."""
    segments = read_reference(reference)
    centres = ((timeline["start"].to_numpy(float) + timeline["end"].to_numpy(float)) / 2)[:, None]
    inside = (segments["start"].to_numpy()[None, :] <= centres) & (centres < segments["end"].to_numpy()[None, :])
    labels = np.full(len(timeline), None, dtype=object)
    covered = inside.any(axis=1)
    labels[covered] = segments["label"].to_numpy(object)[inside[covered].argmax(axis=1)]
    return labels


def timeline_agreement(timeline, reference):
    """How often a timeline's speech windows carry the reference label at their centre.

    Parameters
    ----------
    timeline : pandas.DataFrame
        The output of :func:`predict_timeline`, or that table read back
        from its CSV (``pandas.read_csv``: missing labels become NaN, and
        integer labels floats, which are compared as the integers).
    reference : str, path-like or pandas.DataFrame
        Reference segments: a CSV file or a frame with the columns
        ``start`` and ``end`` (seconds) and ``label``; segments must not
        overlap, and gaps between them are unlabelled.

    Returns
    -------
    agreement : float
        The fraction of speech windows whose centre lies in a reference
        segment and whose predicted label equals its label (compared as
        strings); NaN when no speech window lies in one.
    n_windows : int
        How many windows were compared.

    Raises
    ------
    ValueError
        If the reference labels are malformed (see the message).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ser.timeline import timeline_agreement
    >>> timeline = pd.DataFrame({"start": [0.0, 1.0, 2.0, 3.0], "end": [2.0, 3.0, 4.0, 5.0],
    ...                          "speech": [True, True, True, False], "label": ["sad", "happy", "angry", None]})
    >>> reference = pd.DataFrame({"start": [0.0, 2.0], "end": [2.0, 4.5], "label": ["sad", "happy"]})
    >>> timeline_agreement(timeline, reference)
    (0.6666666666666666, 3)
    """
    expected = reference_at_windows(timeline, reference)
    compared = timeline["speech"].to_numpy(bool) & np.array([label is not None for label in expected])
    if not compared.any():
        return float("nan"), 0
    predicted = np.array([label_text(label) for label in timeline["label"].to_numpy(object)[compared]], dtype=object)
    return float(np.mean(predicted == expected[compared])), int(compared.sum())
