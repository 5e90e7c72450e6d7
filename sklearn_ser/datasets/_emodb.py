"""Loader for the Berlin Database of Emotional Speech (EMO-DB)."""

import re

from ._base import (
    _check_root,
    _code_error,
    _iter_audio_files,
)
from ._labels import _check_labels, _corpus_frame

#: Speaker number -> gender, as published with the corpus.
_SPEAKER_GENDERS = {
    "03": "male",
    "08": "female",
    "09": "female",
    "10": "male",
    "11": "male",
    "12": "male",
    "13": "female",
    "14": "female",
    "15": "male",
    "16": "female",
}

#: Text code -> the German sentence spoken.
_SENTENCES = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}

#: Emotion letter (initial of the German word) -> English label.
_EMOTIONS = {
    "w": "anger",  # Ärger (Wut)
    "l": "boredom",  # Langeweile
    "e": "disgust",  # Ekel
    "a": "fear",  # Angst
    "f": "happiness",  # Freude
    "t": "sadness",  # Trauer
    "n": "neutral",
}

# Lowercased stems shaped like an EMO-DB name; the codes are checked after.
_NAME_PATTERN = re.compile(r"^(?P<speaker>\d\d)(?P<text>[a-z]\d\d)(?P<emotion>[a-z])(?P<version>[a-z])$")


def _parse_file_name(path):
    """Return the record of an EMO-DB file, ``None`` if not named like one."""
    match = _NAME_PATTERN.match(path.stem.lower())
    if match is None:
        return None
    speaker, text, emotion = match["speaker"], match["text"], match["emotion"]
    if speaker not in _SPEAKER_GENDERS:
        raise _code_error(path, "EMO-DB", "speaker", speaker, f"one of {sorted(_SPEAKER_GENDERS)}")
    if text not in _SENTENCES:
        raise _code_error(path, "EMO-DB", "text", text, f"one of {sorted(_SENTENCES)}")
    if emotion not in _EMOTIONS:
        letters = ", ".join(f"{letter.upper()} ({label})" for letter, label in _EMOTIONS.items())
        raise _code_error(path, "EMO-DB", "emotion", emotion.upper(), f"one of {letters}")
    return {
        "path": str(path),
        "label": _EMOTIONS[emotion],
        "speaker": speaker,
        "text": text,
        "gender": _SPEAKER_GENDERS[speaker],
        "version": match["version"],
        "sentence": _SENTENCES[text],
    }


def load_emodb(root, *, labels="original"):
    """Load the file list of the Berlin Database of Emotional Speech (EMO-DB).

    EMO-DB holds about 535 recordings of ten German actors (five female, five
    male) speaking ten sentences in seven emotions. Each file name codes the
    recording, for example ``03a01Fa.wav``:

    - positions 1-2, the speaker: ``03``, ``08`` to ``16``;
    - positions 3-5, the text: ``a01``, ``a02``, ``a04``, ``a05``, ``a07``,
      ``b01``, ``b02``, ``b03``, ``b09`` or ``b10``;
    - position 6, the emotion, by its German initial: ``W`` (Ärger, anger),
      ``L`` (Langeweile, boredom), ``E`` (Ekel, disgust), ``A`` (Angst,
      fear), ``F`` (Freude, happiness), ``T`` (Trauer, sadness) or ``N``
      (neutral);
    - position 7, the version: ``a``, ``b``, ... for repeated takes.

    Files named so, in any letter case, are found anywhere at most a few
    levels below ``root``, such as in the ``wav`` folder of the published
    archive. Hidden files and folders and other names are skipped.

    Parameters
    ----------
    root : str or path-like
        The corpus folder (or its ``wav`` folder), or a folder containing it.
    labels : {"original", "unified"}, default="original"
        ``"original"`` keeps the English names of the EMO-DB emotions;
        ``"unified"`` maps them onto :data:`UNIFIED_LABELS` (they are
        already spelled so) and adds the ``original_label`` column.

    Returns
    -------
    frame : pandas.DataFrame
        One row per audio file, sorted by path, with the columns

        - ``path``: absolute path of the audio file;
        - ``label``: ``"anger"``, ``"boredom"``, ``"disgust"``, ``"fear"``,
          ``"happiness"``, ``"neutral"`` or ``"sadness"``;
        - ``speaker``: the two-digit speaker number, such as ``"03"``;
        - ``text``: the text code, lowercase, such as ``"a01"``;
        - ``corpus``: ``"emodb"``;
        - ``original_label``: with ``labels="unified"`` only;
        - ``gender``: ``"female"`` or ``"male"``;
        - ``version``: the version letter, lowercase;
        - ``sentence``: the German sentence of the text code.

        All columns have object dtype and hold plain ``str``.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a directory.
    ValueError
        If ``labels`` is not a known label set, if no EMO-DB audio file is
        found, if a file name shaped like an EMO-DB name holds an unknown
        speaker, text or emotion code, or if a recording occurs twice.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from sklearn_ser.datasets import load_emodb
    >>> with tempfile.TemporaryDirectory() as root:
    ...     (Path(root) / "wav").mkdir()
    ...     for name in ["03a01Fa.wav", "16b10Lb.wav"]:
    ...         sf.write(Path(root) / "wav" / name, np.zeros(100), 16000)
    ...     frame = load_emodb(root)
    >>> frame[["label", "speaker", "text", "gender", "version"]]
           label speaker text  gender version
    0  happiness      03  a01    male       a
    1    boredom      16  b10  female       b
    """
    _check_labels(labels)
    root = _check_root(root)
    records = [record for path in _iter_audio_files(root) if (record := _parse_file_name(path)) is not None]
    return _corpus_frame(
        records,
        labels,
        corpus="emodb",
        name="EMO-DB",
        root=root,
        looked_for=".wav or .flac files named like '03a01Fa.wav'",
        key_columns=("speaker", "text", "label", "version"),
        extra_columns=("gender", "version", "sentence"),
    )
