"""Loader for the Toronto Emotional Speech Set (TESS)."""

import os
import re
from pathlib import Path

from ._base import _MAX_SEARCH_DEPTH, _check_root, _is_audio_file, _is_hidden
from ._labels import _check_labels, _corpus_frame

# Spellings found in public copies, lowercased, mapped to the TESS labels.
_EMOTION_SPELLINGS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "ps": "ps",
    "pleasant_surprise": "ps",
    "pleasant_surprised": "ps",
}

_FOLDER_PATTERN = re.compile(r"^(?P<speaker>oaf|yaf)_(?P<emotion>" + "|".join(_EMOTION_SPELLINGS) + r")$")
_FILE_PATTERN = re.compile(r"^(?P<prefix>[^_]+)_(?P<word>.+?)_(?P<emotion>pleasant_surprised?|[^_]+)$")


def _parse_folder_name(name):
    """Return ``(speaker, label)`` for a TESS emotion folder, else ``None``."""
    match = _FOLDER_PATTERN.match(name.lower())
    if match is None:
        return None
    return match["speaker"].upper(), _EMOTION_SPELLINGS[match["emotion"]]


def _parse_file_name(path, *, folder_label):
    """Return the target word of a TESS file, checking its emotion.

    The speaker prefix of the file name is ignored: the folder name is the
    reliable source of speaker and emotion (one original file is named
    ``OA_bite_neutral``).
    """
    match = _FILE_PATTERN.match(path.stem.lower())
    if match is None:
        raise ValueError(
            f"Cannot parse TESS file name {str(path)!r}: expected '<SPEAKER>_<word>_<emotion>' such as 'OAF_bar_angry'."
        )
    file_label = _EMOTION_SPELLINGS.get(match["emotion"])
    if file_label != folder_label:
        raise ValueError(
            f"TESS file {str(path)!r} is labelled {match['emotion']!r} in its "
            f"name but lies in a folder for emotion {folder_label!r}."
        )
    return match["word"]


def _iter_emotion_folders(root):
    """Yield ``(folder, speaker, label)`` for TESS emotion folders in ``root``."""
    root_depth = len(root.parts)
    for dirpath, dirnames, _ in os.walk(root, followlinks=True):
        folder = Path(dirpath)
        dirnames[:] = sorted(name for name in dirnames if not _is_hidden(name))
        if len(folder.parts) - root_depth >= _MAX_SEARCH_DEPTH:
            dirnames.clear()
        parsed = _parse_folder_name(folder.name)
        if parsed is not None:
            dirnames.clear()
            yield folder, *parsed


def load_tess(root, *, labels="original"):
    """Load the file list of the Toronto Emotional Speech Set (TESS).

    TESS holds 2800 recordings of two female speakers (``"OAF"``, aged 64,
    and ``"YAF"``, aged 26) saying 200 target words in the carrier phrase
    "Say the word ___" in seven emotions. Recordings are found in folders
    named ``<SPEAKER>_<emotion>`` at most a few levels below ``root``, in
    any of the public spellings: the original release and its lossless FLAC
    copy (``OAF_angry/OAF_bar_angry.wav``,
    ``YAF_pleasant_surprise/YAF_bar_ps.flac``) as well as the Kaggle copy
    (``OAF_Fear``, ``YAF_pleasant_surprised``, extra nesting), in any letter
    case. Hidden files and folders are skipped.

    Speaker and emotion are taken from the folder name, the target word from
    the middle of the file name.

    Parameters
    ----------
    root : str or path-like
        The corpus folder, or a folder containing it.
    labels : {"original", "unified"}, default="original"
        ``"original"`` keeps the TESS labels; ``"unified"`` maps them onto
        :data:`UNIFIED_LABELS` (``angry`` -> ``anger``, ``happy`` ->
        ``happiness``, ``ps`` -> ``surprise``, ``sad`` -> ``sadness``) and
        keeps the TESS label in an ``original_label`` column.

    Returns
    -------
    frame : pandas.DataFrame
        One row per audio file, sorted by path, with the columns

        - ``path``: absolute path of the audio file (str);
        - ``label``: one of ``"angry"``, ``"disgust"``, ``"fear"``,
          ``"happy"``, ``"neutral"``, ``"ps"`` (pleasant surprise), ``"sad"``;
        - ``speaker``: ``"OAF"`` or ``"YAF"``;
        - ``text``: the target word, lowercase;
        - ``corpus``: ``"tess"``;
        - ``original_label``: with ``labels="unified"`` only.

        All columns have object dtype and hold plain ``str``.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a directory.
    ValueError
        If ``labels`` is not a known label set, if no TESS audio file is
        found below ``root``, if a file name cannot be parsed or names
        another emotion than its folder, or if a recording occurs twice (for
        example two copies of the corpus below ``root``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from sklearn_ser.datasets import load_tess
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for folder, name in [("OAF_angry", "OAF_bar_angry.wav"),
    ...                          ("YAF_pleasant_surprised", "YAF_bar_ps.wav")]:
    ...         (Path(root) / folder).mkdir()
    ...         sf.write(Path(root) / folder / name, np.zeros(100), 24414)
    ...     frame = load_tess(root)
    >>> frame[["label", "speaker", "text", "corpus"]]
      label speaker text corpus
    0 angry     OAF  bar   tess
    1    ps     YAF  bar   tess
    >>> with tempfile.TemporaryDirectory() as root:
    ...     (Path(root) / "OAF_pleasant_surprised").mkdir()
    ...     sf.write(Path(root) / "OAF_pleasant_surprised" / "OAF_bar_ps.wav", np.zeros(100), 24414)
    ...     frame = load_tess(root, labels="unified")
    >>> frame[["label", "original_label"]]
          label original_label
    0  surprise             ps
    """
    _check_labels(labels)
    root = _check_root(root)
    records = []
    for folder, speaker, label in _iter_emotion_folders(root):
        for path in filter(_is_audio_file, sorted(folder.iterdir())):
            word = _parse_file_name(path, folder_label=label)
            records.append({"path": str(path), "label": label, "speaker": speaker, "text": word})
    looked_for = "folders such as 'OAF_angry' holding .wav or .flac files"
    key_columns = ("speaker", "label", "text")
    return _corpus_frame(
        records, labels, corpus="tess", name="TESS", root=root, looked_for=looked_for, key_columns=key_columns
    )
