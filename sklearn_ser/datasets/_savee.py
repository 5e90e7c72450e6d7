"""Loader for the Surrey Audio-Visual Expressed Emotion (SAVEE) database."""

import re

from ._base import (
    _check_root,
    _code_error,
    _iter_audio_files,
)
from ._labels import _check_labels, _corpus_frame

_SPEAKERS = ("DC", "JE", "JK", "KL")

#: Emotion prefix of the file names -> label.
_EMOTIONS = {
    "a": "anger",
    "d": "disgust",
    "f": "fear",
    "h": "happiness",
    "n": "neutral",
    "sa": "sadness",
    "su": "surprise",
}
# Sentences per emotion and speaker: 15, and 30 neutral ones (the 3 common
# and the 2 x 6 emotion-specific sentences were also recorded as neutral).
_SENTENCE_COUNTS = {prefix: 30 if prefix == "n" else 15 for prefix in _EMOTIONS}

# Lowercased stems: 'DC_a01' in the flat layout, 'a01' in a speaker folder.
_FLAT_PATTERN = re.compile(r"^(?P<speaker>dc|je|jk|kl)_(?P<emotion>[a-z]{1,2})(?P<number>\d\d)$")
_NESTED_PATTERN = re.compile(r"^(?P<emotion>[a-z]{1,2})(?P<number>\d\d)$")


def _parse_file_name(path):
    """Return the record of a SAVEE file, ``None`` if not named like one."""
    stem = path.stem.lower()
    folder = path.parent.name.upper()
    match = _FLAT_PATTERN.match(stem)
    if match is not None:
        speaker = match["speaker"].upper()
        if folder in _SPEAKERS and folder != speaker:
            raise ValueError(
                f"SAVEE file {str(path)!r} is by speaker {speaker} in its name but lies in the folder "
                f"{path.parent.name!r}."
            )
    elif folder in _SPEAKERS:
        match = _NESTED_PATTERN.match(stem)
        if match is None:
            return None
        speaker = folder
    else:
        return None
    emotion, number = match["emotion"], match["number"]
    if emotion not in _EMOTIONS:
        prefixes = ", ".join(f"{prefix} ({label})" for prefix, label in _EMOTIONS.items())
        raise _code_error(path, "SAVEE", "emotion", emotion, f"one of {prefixes}")
    if not 1 <= int(number) <= _SENTENCE_COUNTS[emotion]:
        raise ValueError(
            f"SAVEE file {str(path)!r} has the impossible sentence number {number!r}; expected 01 to "
            f"{_SENTENCE_COUNTS[emotion]:02d} for the emotion prefix {emotion!r}."
        )
    return {
        "path": str(path),
        "label": _EMOTIONS[emotion],
        "speaker": speaker,
        "text": emotion + number,
        "gender": "male",
    }


def load_savee(root, *, labels="original"):
    """Load the audio file list of the SAVEE database.

    The Surrey Audio-Visual Expressed Emotion database holds 480 recordings
    of four male British English speakers (``DC``, ``JE``, ``JK``, ``KL``)
    reading TIMIT sentences in seven emotions: 15 sentences per emotion, 30
    in neutral. The sentences differ between emotions, so the sentence id
    only names a sentence together with its emotion prefix. Two layouts of
    the file names are found, in any letter case, at most a few levels below
    ``root``:

    - the published one, a folder per speaker (``AudioData/DC/a01.wav``);
    - the flat one of the Kaggle copy (``ALL/DC_a01.wav``).

    The emotion prefix is ``a`` (anger), ``d`` (disgust), ``f`` (fear),
    ``h`` (happiness), ``n`` (neutral), ``sa`` (sadness) or ``su``
    (surprise), followed by the two-digit sentence number. Hidden files and
    folders and other names are skipped.

    Parameters
    ----------
    root : str or path-like
        The corpus folder, a speaker folder, or a folder containing them.
    labels : {"original", "unified"}, default="original"
        ``"original"`` keeps the SAVEE emotion names; ``"unified"`` maps them
        onto :data:`UNIFIED_LABELS` (they are already spelled so) and adds
        the ``original_label`` column.

    Returns
    -------
    frame : pandas.DataFrame
        One row per audio file, sorted by path, with the columns

        - ``path``: absolute path of the audio file;
        - ``label``: ``"anger"``, ``"disgust"``, ``"fear"``,
          ``"happiness"``, ``"neutral"``, ``"sadness"`` or ``"surprise"``;
        - ``speaker``: ``"DC"``, ``"JE"``, ``"JK"`` or ``"KL"``;
        - ``text``: the sentence id within the emotion, lowercase, such as
          ``"a01"`` or ``"sa15"``;
        - ``corpus``: ``"savee"``;
        - ``original_label``: with ``labels="unified"`` only;
        - ``gender``: ``"male"``.

        All columns have object dtype and hold plain ``str``.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a directory.
    ValueError
        If ``labels`` is not a known label set, if no SAVEE audio file is
        found, if a file of a speaker holds an unknown emotion prefix or a
        sentence number out of range (naming the file), if a file lies in
        the folder of another speaker, or if a recording occurs twice.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from sklearn_ser.datasets import load_savee
    >>> with tempfile.TemporaryDirectory() as root:
    ...     (Path(root) / "AudioData" / "DC").mkdir(parents=True)
    ...     (Path(root) / "ALL").mkdir()
    ...     sf.write(Path(root) / "AudioData" / "DC" / "sa03.wav", np.zeros(100), 44100)
    ...     sf.write(Path(root) / "ALL" / "KL_su15.wav", np.zeros(100), 44100)
    ...     frame = load_savee(root)
    >>> frame[["label", "speaker", "text", "gender"]]
          label speaker  text gender
    0  surprise      KL  su15   male
    1   sadness      DC  sa03   male
    """
    _check_labels(labels)
    root = _check_root(root)
    records = [record for path in _iter_audio_files(root) if (record := _parse_file_name(path)) is not None]
    return _corpus_frame(
        records,
        labels,
        corpus="savee",
        name="SAVEE",
        root=root,
        looked_for=".wav or .flac files named like 'DC/a01.wav' or 'DC_a01.wav'",
        key_columns=("speaker", "text"),
        extra_columns=("gender",),
    )
