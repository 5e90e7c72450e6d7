"""Loader for the Crowd-sourced Emotional Multimodal Actors Dataset (CREMA-D)."""

import re

from ._base import (
    _check_root,
    _code_error,
    _iter_audio_files,
)
from ._labels import _check_labels, _corpus_frame

_ACTORS = range(1001, 1092)

#: Sentence code -> the sentence spoken.
_SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
_EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
_LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
# Copies made before October 2022 (the Kaggle one among them) hold
# '1040_ITH_SAD_X.wav', since renamed '1040_ITH_SAD_XX.wav' upstream.
_LEVEL_MISSPELLINGS = {"X": "XX"}

_NAME_PATTERN = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{1,2})$")


def _expected(codes):
    return ", ".join(f"{code} ({meaning})" for code, meaning in codes.items())


def _parse_file_name(path):
    """Return the record of a CREMA-D file, ``None`` if not named like one."""
    match = _NAME_PATTERN.match(path.stem.upper())
    if match is None:
        return None
    actor, sentence, emotion = match["actor"], match["sentence"], match["emotion"]
    level = _LEVEL_MISSPELLINGS.get(match["level"], match["level"])
    if int(actor) not in _ACTORS:
        raise _code_error(path, "CREMA-D", "actor", actor, f"{_ACTORS[0]} to {_ACTORS[-1]}")
    if sentence not in _SENTENCES:
        raise _code_error(path, "CREMA-D", "sentence", sentence, f"one of {', '.join(_SENTENCES)}")
    if emotion not in _EMOTIONS:
        raise _code_error(path, "CREMA-D", "emotion", emotion, f"one of {_expected(_EMOTIONS)}")
    if level not in _LEVELS:
        raise _code_error(path, "CREMA-D", "emotion level", match["level"], f"one of {_expected(_LEVELS)}")
    return {
        "path": str(path),
        "label": _EMOTIONS[emotion],
        "speaker": actor,
        "text": sentence,
        "intensity": _LEVELS[level],
        "sentence": _SENTENCES[sentence],
    }


def load_crema_d(root, *, labels="original"):
    """Load the audio file list of CREMA-D.

    The Crowd-sourced Emotional Multimodal Actors Dataset holds 7442
    recordings of 91 actors (numbered 1001 to 1091) speaking 12 sentences in
    six emotions. Each file name codes the recording, for example
    ``AudioWAV/1001_DFA_ANG_XX.wav``: the actor, the sentence code (``IEO``,
    ``TIE``, ``IOM``, ``IWW``, ``TAI``, ``MTI``, ``IWL``, ``ITH``, ``DFA``,
    ``ITS``, ``TSI``, ``WSI``), the emotion (``ANG``, ``DIS``, ``FEA``,
    ``HAP``, ``NEU``, ``SAD``) and the emotion level (``LO``, ``MD``,
    ``HI``, or ``XX`` for unspecified). Audio files named so, in any letter
    case, are found anywhere at most a few levels below ``root``, such as in
    the ``AudioWAV`` folder; the MP3 copies are skipped, as are hidden files
    and folders and other names. The level ``X`` of one misnamed file of
    older copies (``1040_ITH_SAD_X.wav``) is read as ``XX``.

    The actors' gender is published in a separate demographics table, not
    in the file names, so it is not returned.

    Parameters
    ----------
    root : str or path-like
        The corpus folder (or its ``AudioWAV`` folder), or a folder
        containing it.
    labels : {"original", "unified"}, default="original"
        ``"original"`` keeps the CREMA-D emotion names; ``"unified"`` maps
        them onto :data:`UNIFIED_LABELS` (``happy`` -> ``happiness``,
        ``sad`` -> ``sadness``) and adds the ``original_label`` column.

    Returns
    -------
    frame : pandas.DataFrame
        One row per audio file, sorted by path, with the columns

        - ``path``: absolute path of the audio file;
        - ``label``: ``"anger"``, ``"disgust"``, ``"fear"``, ``"happy"``,
          ``"neutral"`` or ``"sad"``;
        - ``speaker``: the actor number, such as ``"1001"``;
        - ``text``: the sentence code, uppercase, such as ``"DFA"``;
        - ``corpus``: ``"crema-d"``;
        - ``original_label``: with ``labels="unified"`` only;
        - ``intensity``: ``"low"``, ``"medium"``, ``"high"`` or
          ``"unspecified"``;
        - ``sentence``: the sentence of the code, such as ``"Don't forget
          a jacket"``.

        All columns have object dtype and hold plain ``str``.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a directory.
    ValueError
        If ``labels`` is not a known label set, if no CREMA-D audio file is
        found, if a file name shaped like a CREMA-D name holds an unknown
        actor, sentence, emotion or level code (naming the file), or if a
        recording occurs twice.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from sklearn_ser.datasets import load_crema_d
    >>> with tempfile.TemporaryDirectory() as root:
    ...     (Path(root) / "AudioWAV").mkdir()
    ...     for name in ["1001_DFA_ANG_XX.wav", "1091_IEO_HAP_HI.wav"]:
    ...         sf.write(Path(root) / "AudioWAV" / name, np.zeros(100), 16000)
    ...     frame = load_crema_d(root, labels="unified")
    >>> frame[["label", "speaker", "text", "original_label", "intensity"]]
           label speaker text original_label    intensity
    0      anger    1001  DFA          anger  unspecified
    1  happiness    1091  IEO          happy         high
    """
    _check_labels(labels)
    root = _check_root(root)
    records = [record for path in _iter_audio_files(root) if (record := _parse_file_name(path)) is not None]
    return _corpus_frame(
        records,
        labels,
        corpus="crema-d",
        name="CREMA-D",
        root=root,
        looked_for=".wav or .flac files named like '1001_DFA_ANG_XX.wav'",
        key_columns=("speaker", "text", "label", "intensity"),
        extra_columns=("intensity", "sentence"),
    )
