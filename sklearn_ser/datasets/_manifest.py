"""A corpus listed in a CSV manifest: one row per file with its label and, optionally, its speaker and text."""

from __future__ import annotations

from pathlib import Path

from .._csv_tables import read_csv_table
from ._base import _build_frame
from ._labels import UNIFIED_LABELS, _check_labels

REQUIRED_COLUMNS = ("path", "label")
OPTIONAL_COLUMNS = {"speaker": "unknown", "text": ""}


def load_manifest(manifest, *, labels="original"):
    """Load a corpus listed in a CSV file with the columns ``path,label[,speaker][,text]``.

    For any collection of audio files, or a subset of a corpus: a row per
    file. Relative paths are relative to the manifest's folder. A manifest
    without a ``speaker`` column gives every file the speaker
    ``"unknown"`` (the speaker protocols then need one), without ``text``
    the text ``""``. Other columns are kept after the common ones.

    Parameters
    ----------
    manifest : str or path-like
        The CSV file.
    labels : {"original", "unified"}, default="original"
        The manifest's labels as they are; ``"unified"`` requires them to be
        :data:`UNIFIED_LABELS` already (a manifest names no corpus whose
        labels could be mapped).

    Returns
    -------
    frame : pandas.DataFrame
        ``path`` (absolute), ``label``, ``speaker``, ``text``, ``corpus``
        (``"manifest"``) and the manifest's other columns; sorted by path.

    Raises
    ------
    ValueError
        If the manifest cannot be read, lacks ``path`` or ``label``, lists
        no file, a file twice or a file that does not exist, or has labels
        outside :data:`UNIFIED_LABELS` with ``labels="unified"``; the
        message names the manifest.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, soundfile
    >>> from sklearn_ser.datasets import load_manifest
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a.wav", "b.wav"):
    ...     soundfile.write(folder / name, np.zeros(1600), 16000)
    >>> _ = (folder / "manifest.csv").write_text("path,label,speaker\\na.wav,happy,s1\\nb.wav,sad,s2\\n")
    >>> load_manifest(folder / "manifest.csv")[["label", "speaker", "corpus"]].values.tolist()
    [['happy', 's1', 'manifest'], ['sad', 's2', 'manifest']]
    """
    _check_labels(labels)
    manifest = Path(manifest).expanduser()
    table = read_csv_table(
        manifest, columns=REQUIRED_COLUMNS, what="manifest", layout="a header path,label (and optionally speaker, text)"
    )
    if table.empty:
        raise ValueError(f"The manifest '{manifest}' lists no file.")
    folder = manifest.resolve().parent
    table["path"] = [str((folder / path).resolve()) for path in table["path"]]
    repeated = table["path"][table["path"].duplicated()]
    if len(repeated):
        raise ValueError(f"The manifest '{manifest}' lists '{repeated.iloc[0]}' more than once.")
    absent = [path for path in table["path"] if not Path(path).is_file()]
    if absent:
        raise ValueError(
            f"The manifest '{manifest}' lists {len(absent)} file(s) that do not exist, e.g. '{absent[0]}' "
            "(relative paths are relative to the manifest's folder)."
        )
    if labels == "unified":
        unknown = sorted(set(table["label"]) - set(UNIFIED_LABELS))
        if unknown:
            raise ValueError(
                f"The manifest '{manifest}' has labels {unknown} outside the unified set {list(UNIFIED_LABELS)}; "
                "relabel them, or use labels='original'."
            )
    for column, default in OPTIONAL_COLUMNS.items():
        if column not in table.columns:
            table[column] = default
    extra = [column for column in table.columns if column not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "corpus")]
    return _build_frame(table.to_dict("records"), corpus="manifest", extra_columns=extra)
