"""Helpers shared by the corpus loaders."""

import os
from pathlib import Path

import pandas as pd

#: Columns every corpus loader returns, in this order.
COMMON_COLUMNS = ("path", "label", "speaker", "text", "corpus")

#: The seven emotion labels of the Toronto Emotional Speech Set.
EMOTIONS_TESS = ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")

#: How many directory levels below ``root`` the loaders look for corpus files.
_MAX_SEARCH_DEPTH = 5

_AUDIO_SUFFIXES = frozenset({".wav", ".flac"})


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


def _is_hidden(name):
    # Also skips the '__MACOSX' folders and '._*' files of zips made on macOS.
    return name.startswith((".", "__MACOSX"))


def _is_audio_file(path):
    """Whether ``path`` is a visible .wav or .flac file."""
    return not _is_hidden(path.name) and path.suffix.lower() in _AUDIO_SUFFIXES and path.is_file()


def _iter_audio_files(root, *, max_depth=_MAX_SEARCH_DEPTH):
    """Yield the audio files at most ``max_depth`` folders below ``root``.

    Files directly in ``root`` are at depth 0. Hidden files and folders are
    skipped; folders and files are visited in sorted order.
    """
    root_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        folder = Path(dirpath)
        dirnames[:] = sorted(name for name in dirnames if not _is_hidden(name))
        if len(folder.parts) - root_depth >= max_depth:
            dirnames.clear()
        yield from filter(_is_audio_file, (folder / name for name in sorted(filenames)))


def _check_unique_recordings(records, *, key_columns, corpus):
    """Raise if two files hold the same recording, as told by ``key_columns``."""
    seen = {}
    for record in sorted(records, key=lambda record: record["path"]):
        key = tuple(record[column] for column in key_columns)
        if key in seen:
            raise ValueError(
                f"{corpus} recording {dict(zip(key_columns, key))} found twice: {seen[key]!r} and "
                f"{record['path']!r}. Point root at a single copy of the corpus."
            )
        seen[key] = record["path"]


def _code_error(path, corpus, field, code, expected):
    """The error for a file name holding a code the corpus never uses."""
    return ValueError(f"{corpus} file {str(path)!r} has the impossible {field} code {code!r}; expected {expected}.")


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
