"""Loader for the Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS)."""

import re

from ._base import (
    _check_root,
    _code_error,
    _iter_audio_files,
)
from ._labels import _check_labels, _corpus_frame

_MODALITIES = {"01": "full-AV", "02": "video-only", "03": "audio-only"}
_AUDIO_ONLY = "03"
_CHANNELS = {"01": "speech", "02": "song"}
_EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
# The song recordings cover neutral, calm, happy, sad, angry and fearful only.
_SONG_EMOTIONS = frozenset({"01", "02", "03", "04", "05", "06"})
_NEUTRAL = "01"
_INTENSITIES = {"01": "normal", "02": "strong"}
_STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
_REPETITIONS = {"01": "1", "02": "2"}
_ACTORS = tuple(f"{actor:02d}" for actor in range(1, 25))

_CHANNEL_CHOICES = ("speech", "song", "all")

_NAME_PATTERN = re.compile(r"^\d\d(?:-\d\d){6}$")
_ACTOR_FOLDER_PATTERN = re.compile(r"^actor_(?P<actor>\d+)$")


def _expected(codes):
    return ", ".join(f"{code} ({meaning})" for code, meaning in codes.items())


def _parse_file_name(path):
    """Return the record of a RAVDESS file, ``None`` if not named like one.

    The record also holds the ``modality`` code, for filtering.
    """
    if _NAME_PATTERN.match(path.stem) is None:
        return None
    modality, channel, emotion, intensity, statement, repetition, actor = path.stem.split("-")
    checks = [
        ("modality", modality, _MODALITIES),
        ("vocal channel", channel, _CHANNELS),
        ("emotion", emotion, _EMOTIONS),
        ("intensity", intensity, _INTENSITIES),
        ("statement", statement, _STATEMENTS),
        ("repetition", repetition, _REPETITIONS),
    ]
    for field, code, codes in checks:
        if code not in codes:
            raise _code_error(path, "RAVDESS", field, code, f"one of {_expected(codes)}")
    if actor not in _ACTORS:
        raise _code_error(path, "RAVDESS", "actor", actor, "01 to 24")
    if emotion == _NEUTRAL and _INTENSITIES[intensity] == "strong":
        raise _code_error(path, "RAVDESS", "intensity", intensity, "01 (normal) for neutral, which has no strong")
    if _CHANNELS[channel] == "song" and emotion not in _SONG_EMOTIONS:
        song = {code: _EMOTIONS[code] for code in sorted(_SONG_EMOTIONS)}
        raise _code_error(path, "RAVDESS", "emotion", emotion, f"one of {_expected(song)} for a song")
    folder = _ACTOR_FOLDER_PATTERN.match(path.parent.name.lower())
    if folder is not None and int(folder["actor"]) != int(actor):
        raise ValueError(
            f"RAVDESS file {str(path)!r} is by actor {actor} in its name but lies in the folder {path.parent.name!r}."
        )
    return {
        "path": str(path),
        "label": _EMOTIONS[emotion],
        "speaker": actor,
        "text": _STATEMENTS[statement],
        "gender": "male" if int(actor) % 2 else "female",
        "intensity": _INTENSITIES[intensity],
        "repetition": _REPETITIONS[repetition],
        "channel": _CHANNELS[channel],
        "modality": modality,
    }


def load_ravdess(root, *, labels="original", channel="speech"):
    """Load the audio file list of RAVDESS.

    The Ryerson Audio-Visual Database of Emotional Speech and Song holds
    recordings of 24 actors (12 female, 12 male) saying two statements, and
    singing them, in several emotions. Each file name is a seven-part code,
    for example ``Actor_12/03-01-05-01-02-01-12.wav``:

    1. modality: ``01`` full audio-video, ``02`` video-only, ``03`` audio-only;
    2. vocal channel: ``01`` speech, ``02`` song;
    3. emotion: ``01`` neutral, ``02`` calm, ``03`` happy, ``04`` sad,
       ``05`` angry, ``06`` fearful, ``07`` disgust, ``08`` surprised (the
       songs have no disgust nor surprised);
    4. intensity: ``01`` normal, ``02`` strong (neutral has no strong);
    5. statement: ``01`` "Kids are talking by the door", ``02`` "Dogs are
       sitting by the door";
    6. repetition: ``01`` or ``02``;
    7. actor: ``01`` to ``24``; odd numbers are male, even numbers female.

    Audio files named so are found anywhere at most a few levels below
    ``root``, such as in the ``Actor_01`` ... ``Actor_24`` folders of the
    speech and song archives. Only the audio-only recordings (modality
    ``03``) are kept: the other modalities are video files of the same takes.
    Hidden files and folders, other names and video files are skipped.

    Parameters
    ----------
    root : str or path-like
        The corpus folder, an actor folder, or a folder containing them.
    labels : {"original", "unified"}, default="original"
        ``"original"`` keeps the RAVDESS emotion names; ``"unified"`` maps
        them onto :data:`UNIFIED_LABELS` (``happy`` -> ``happiness``,
        ``sad`` -> ``sadness``, ``angry`` -> ``anger``, ``fearful`` ->
        ``fear``, ``surprised`` -> ``surprise``) and adds the
        ``original_label`` column.
    channel : {"speech", "song", "all"}, default="speech"
        Which vocal channel to keep.

    Returns
    -------
    frame : pandas.DataFrame
        One row per audio file, sorted by path, with the columns

        - ``path``: absolute path of the audio file;
        - ``label``: ``"neutral"``, ``"calm"``, ``"happy"``, ``"sad"``,
          ``"angry"``, ``"fearful"``, ``"disgust"`` or ``"surprised"``;
        - ``speaker``: the two-digit actor number, such as ``"12"``;
        - ``text``: the statement, such as ``"Kids are talking by the door"``;
        - ``corpus``: ``"ravdess"``;
        - ``original_label``: with ``labels="unified"`` only;
        - ``gender``: ``"female"`` or ``"male"``;
        - ``intensity``: ``"normal"`` or ``"strong"``;
        - ``repetition``: ``"1"`` or ``"2"``;
        - ``channel``: ``"speech"`` or ``"song"``.

        All columns have object dtype and hold plain ``str``.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a directory.
    ValueError
        If ``labels`` or ``channel`` is not one of the values above, if no
        RAVDESS audio file of the channel is found, if a file name holds a
        code RAVDESS never uses (naming the file), if a file lies in the
        folder of another actor, or if a recording occurs twice (for
        example both copies in the Kaggle archive: point ``root`` at one).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from sklearn_ser.datasets import load_ravdess
    >>> with tempfile.TemporaryDirectory() as root:
    ...     (Path(root) / "Actor_12").mkdir()
    ...     for name in ["03-01-05-01-02-01-12.wav", "03-02-04-02-01-02-12.wav"]:
    ...         sf.write(Path(root) / "Actor_12" / name, np.zeros(100), 48000)
    ...     frame = load_ravdess(root)
    >>> frame[["label", "speaker", "text", "gender", "intensity", "channel"]]
       label speaker                          text  gender intensity channel
    0  angry      12  Dogs are sitting by the door  female    normal  speech
    """
    _check_labels(labels)
    if not isinstance(channel, str) or channel not in _CHANNEL_CHOICES:
        raise ValueError(f"channel must be one of {list(_CHANNEL_CHOICES)}, got {channel!r}.")
    root = _check_root(root)
    records = []
    skipped = 0
    for path in _iter_audio_files(root):
        record = _parse_file_name(path)
        if record is None:
            continue
        if record.pop("modality") != _AUDIO_ONLY or channel not in ("all", record["channel"]):
            skipped += 1
            continue
        records.append(record)
    wanted = "" if channel == "all" else f"{channel} "
    skipped = f"; skipped {skipped} of another modality or vocal channel" if skipped else ""
    return _corpus_frame(
        records,
        labels,
        corpus="ravdess",
        name="RAVDESS",
        what=f"audio-only {wanted}files",
        root=root,
        looked_for=f".wav or .flac files named like '03-01-05-01-02-01-12.wav'{skipped}",
        key_columns=("speaker", "channel", "label", "intensity", "text", "repetition"),
        extra_columns=("gender", "intensity", "repetition", "channel"),
    )
