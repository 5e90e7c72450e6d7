"""A synthetic, TESS-like corpus of acted emotional speech: writing and loading it.

The voices are those of :mod:`._voice`; this module draws the speakers, the
words and the utterances, writes them as WAV files with a manifest, and
loads the corpus back.
"""

import numbers
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from .._file_kinds import NotOurFileError
from .._files import atomic_write, write_text_atomically
from ._base import COMMON_COLUMNS, EMOTIONS_TESS, _as_object_strings, _check_root
from ._labels import _apply_labels, _check_labels
from ._voice import _MAX_WORDS, _draw_parameters, _emotion_profile, _make_speaker, _make_words, _synthesize

MANIFEST_NAME = "manifest.csv"
_MANIFEST_COLUMNS = ("path", "label", "speaker", "text", "gender")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
# A file of a synthetic corpus, relative to its folder: SPEAKER_emotion/SPEAKER_word_emotion.wav.
_OWN_AUDIO = re.compile(r"([FM]\d{2,})_([A-Za-z0-9][A-Za-z0-9-]*)/\1_[A-Za-z]+_\2\.wav")
# The folder a corpus is written to before its files take their places (ignored when judging what a folder holds).
_STAGING_PREFIX = ".synthetic-corpus."
_STAGING = re.compile(re.escape(_STAGING_PREFIX) + r"[A-Za-z0-9_]+\.tmp")
# A temporary file that atomic_write left beside a corpus file (corpora were once written in place).
_OWN_TEMPORARY = re.compile(r"(?:.*/)?\.(?:manifest\.csv|[^/]+\.wav)\.[a-z0-9_]{8}\.tmp")


def _check_positive_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}.")
    return int(value)


def _check_emotions(emotions):
    if isinstance(emotions, str):
        raise TypeError(f"emotions must be a sequence of str, not the str {emotions!r}.")
    emotions = tuple(emotions)
    if not emotions:
        raise ValueError("emotions must not be empty.")
    for emotion in emotions:
        if not isinstance(emotion, str) or not _NAME_PATTERN.match(emotion):
            raise ValueError(
                f"emotions must be non-empty strings of letters, digits and "
                f"'-' (they become file names), got {emotion!r}."
            )
    duplicated = sorted({e for e in emotions if emotions.count(e) > 1})
    if duplicated:
        raise ValueError(f"emotions must be unique, got {duplicated} more than once.")
    return emotions


def _as_generator(random_state):
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    if random_state is None or isinstance(
        random_state, (numbers.Integral, np.random.Generator, np.random.SeedSequence)
    ):
        return np.random.default_rng(random_state)
    raise TypeError(
        "random_state must be None, an int, a numpy.random.Generator or a "
        f"numpy.random.RandomState, got {random_state!r}."
    )


def make_synthetic_corpus(
    root,
    *,
    n_speakers=4,
    n_words=20,
    emotions=EMOTIONS_TESS,
    sr=16000,
    random_state=0,
):
    """Write a synthetic TESS-like corpus of emotional speech to ``root``.

    Every speaker says every made-up target word in the carrier phrase
    "say the word ___" once in every emotion. The audio comes from a
    source-filter voice: Rosenberg glottal pulses driven by a pitch contour
    (declination, accents, a final rise or fall), with jitter, shimmer, creak,
    aspiration noise and spectral tilt, filtered by time-varying formant
    resonators, with noise bursts for stops and fricatives and background
    noise at a random signal-to-noise ratio.

    Emotions shift the distributions, not the values, of pitch level, range
    and final contour, speaking rate, loudness and voice quality, roughly as
    acted emotions do (for example ``"angry"`` is high, wide, fast, loud and
    bright, ``"sad"`` low, narrow, slow, soft and breathy, ``"ps"`` ends in a
    rise). Emotions outside the seven TESS labels get a random profile.
    Speakers alternate female and male, and differ in pitch, vocal-tract
    length, vowel quality, recording channel and in their own way of
    expressing each emotion, so that recognizing the emotions of an unseen
    speaker is harder than of a seen one.

    The layout follows TESS: ``root/<SPEAKER>_<emotion>/<SPEAKER>_<word>_<emotion>.wav``
    (16-bit PCM), plus ``root/manifest.csv`` listing the files, which
    :func:`load_synthetic` reads. ``root`` must be new, empty, or hold a
    synthetic corpus and nothing else: that corpus is then replaced, its
    files that the new one does not have removed. Any other file is never
    replaced or removed: a folder holding one is refused. The files are
    written to a hidden folder in ``root`` first and take their places once
    all are written, the manifest last: an interrupted call leaves ``root``
    as it was.

    Parameters
    ----------
    root : str or path-like
        Folder to write to; created if missing.
    n_speakers : int, default=4
        Number of speakers, named ``"F01"``, ``"M02"``, ``"F03"``, ...
    n_words : int, default=20
        Number of target words, of one to three syllables each.
    emotions : sequence of str, default=EMOTIONS_TESS
        Emotion labels, unique, made of letters, digits and ``"-"``.
    sr : int, default=16000
        Sample rate in Hz, at least 8000.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None, default=0
        Seed of the corpus; the same seed writes the same bytes.

    Returns
    -------
    frame : pandas.DataFrame
        The corpus as returned by :func:`load_synthetic`: one row per file,
        ``n_speakers * n_words * len(emotions)`` rows.

    Raises
    ------
    TypeError
        If ``n_speakers``, ``n_words`` or ``sr`` is not an int, ``emotions``
        is a single string, or ``random_state`` has an unsupported type.
    ValueError
        If ``n_speakers`` or ``n_words`` is below 1, ``n_words`` is above
        100000, ``sr`` is below 8000, or ``emotions`` is empty, repeats a
        label or holds a label unfit for a file name; or if ``root`` holds
        files that are not a synthetic corpus's (a ``NotOurFileError``,
        naming one), before anything is written.
    NotADirectoryError
        If ``root`` exists and is not a folder.

    See Also
    --------
    load_synthetic : Read a corpus written by this function.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_ser.datasets import make_synthetic_corpus
    >>> with tempfile.TemporaryDirectory() as root:
    ...     frame = make_synthetic_corpus(
    ...         root, n_speakers=2, n_words=2, emotions=("angry", "sad"))
    >>> len(frame)
    8
    >>> sorted(frame["speaker"].unique())
    ['F01', 'M02']
    >>> frame[["label", "gender", "corpus"]].value_counts().sort_index()
    label  gender  corpus
    angry  female  synthetic    2
           male    synthetic    2
    sad    female  synthetic    2
           male    synthetic    2
    Name: count, dtype: int64
    """
    n_speakers = _check_positive_int(n_speakers, "n_speakers", 1)
    n_words = _check_positive_int(n_words, "n_words", 1)
    if n_words > _MAX_WORDS:
        raise ValueError(f"n_words must be <= {_MAX_WORDS}, got {n_words}.")
    sr = _check_positive_int(sr, "sr", 8000)
    emotions = _check_emotions(emotions)
    rng = _as_generator(random_state)

    root = Path(root).expanduser().absolute()
    check_corpus_folder(root)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=_STAGING_PREFIX, suffix=".tmp"))
    try:
        rows = _write_corpus(staging, n_speakers, n_words, emotions, sr, rng)
        _install(staging, root, [row[0] for row in rows])
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # empty once installed; the partial corpus of a failure
    return load_synthetic(root)


def _write_corpus(root, n_speakers, n_words, emotions, sr, rng):
    """Write the audio files and the manifest of the corpus to the new folder ``root``; its manifest's rows."""
    profiles = {emotion: _emotion_profile(emotion, rng) for emotion in emotions}
    speakers = [_make_speaker(index, emotions, rng) for index in range(n_speakers)]
    words = _make_words(n_words, rng)
    seeds = iter(rng.integers(0, 2**63, size=n_speakers * len(emotions) * n_words))

    rows = []
    for speaker in speakers:
        for emotion in emotions:
            folder = root / f"{speaker.name}_{emotion}"
            folder.mkdir(exist_ok=True)
            for text, word in words:
                utterance_rng = np.random.default_rng(next(seeds))
                params = _draw_parameters(profiles[emotion], speaker.emotion_offsets[emotion], utterance_rng)
                waveform = _synthesize(word, speaker, params, sr=sr, rng=utterance_rng)
                path = folder / f"{speaker.name}_{text}_{emotion}.wav"
                atomic_write(
                    path, lambda fh, y=waveform: sf.write(fh, y, sr, subtype="PCM_16", format="WAV"), replaces="audio"
                )
                relative_path = path.relative_to(root).as_posix()
                rows.append((relative_path, emotion, speaker.name, text, speaker.gender))
    manifest = pd.DataFrame(rows, columns=list(_MANIFEST_COLUMNS))
    write_text_atomically(root / MANIFEST_NAME, manifest.to_csv(index=False, lineterminator="\n"), replaces="manifest")
    return rows


def _install(staging, root, files):
    """Move the corpus written in ``staging`` into ``root``, the manifest last; remove the old corpus's other files.

    ``root`` is checked again first (see :func:`check_corpus_folder`): what
    is replaced or removed is the old corpus's. The staging folders of other
    writers (running, or killed) are left alone.
    """
    old = check_corpus_folder(root)
    for relative in files:
        (root / relative).parent.mkdir(exist_ok=True)
        os.replace(staging / relative, root / relative)
    os.replace(staging / MANIFEST_NAME, root / MANIFEST_NAME)
    for relative in sorted(set(old) - set(files)):
        (root / relative).unlink(missing_ok=True)
        if (root / relative).parent != root and not any((root / relative).parent.iterdir()):
            (root / relative).parent.rmdir()


def check_corpus_folder(root):
    """Refuse ``root`` as a place to write a synthetic corpus unless it is absent, empty, or holds one alone.

    Returns
    -------
    files : list of str
        The audio files of the corpus ``root`` holds, relative to it (none
        for a folder that is absent or empty). Besides them, its manifest,
        their folders, and the temporary files and folders that writers of
        a corpus left.

    Raises
    ------
    NotADirectoryError
        If ``root`` exists and is not a folder.
    NotOurFileError
        A ``ValueError``: if ``root`` holds anything else, naming it.
    """
    root = Path(root)
    if not root.exists():
        return []
    if not root.is_dir():
        raise NotADirectoryError(f"{root} exists and is not a folder; a synthetic corpus is written to a folder.")
    entries = [entry for entry in root.iterdir() if not (_STAGING.fullmatch(entry.name) and entry.is_dir())]
    if not entries:
        return []
    listed = _own_manifest(root)
    if listed is None:
        example = min(entry.name for entry in entries)
        raise NotOurFileError(
            f"{root} is not empty and holds no synthetic corpus (no manifest.csv written by make_synthetic_corpus; "
            f"it holds '{example}'{_and_more(len(entries))}). A synthetic corpus is written only to a new or empty "
            "folder, or over a synthetic corpus: choose another folder; nothing was written."
        )
    own = {MANIFEST_NAME, *listed, *(relative.split("/")[0] for relative in listed)}
    strangers = sorted(
        relative
        for relative in (path.relative_to(root).as_posix() for path in root.rglob("*"))
        if relative not in own and not _OWN_TEMPORARY.fullmatch(relative) and not _STAGING.match(relative)
    )
    if strangers:
        raise NotOurFileError(
            f"{root} holds a synthetic corpus and other files, e.g. '{strangers[0]}'{_and_more(len(strangers))}; "
            "they are never replaced or removed: choose another folder, or move them out first; nothing was written."
        )
    return listed


def _own_manifest(root):
    """The files listed by ``root``'s manifest if make_synthetic_corpus wrote it (its columns and names), else None."""
    path = root / MANIFEST_NAME
    if not path.is_file() or path.is_symlink():
        return None
    try:
        manifest = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError):  # pandas' ParserError and EmptyDataError are ValueErrors
        return None
    if tuple(manifest.columns) != _MANIFEST_COLUMNS:
        return None
    listed = manifest["path"].tolist()
    if not all(_OWN_AUDIO.fullmatch(relative) for relative in listed):
        return None
    return listed


def _and_more(count):
    return f" and {count - 1} more" if count > 1 else ""


def _read_manifest(root):
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise FileNotFoundError(f"No manifest {str(manifest_path)!r}; write the corpus with make_synthetic_corpus.")
    manifest = pd.read_csv(manifest_path, dtype=str, keep_default_na=False)
    missing = [column for column in COMMON_COLUMNS[:4] if column not in manifest]
    if missing:
        raise ValueError(f"Manifest {str(manifest_path)!r} lacks the columns {missing}.")
    if manifest.empty:
        raise ValueError(f"Manifest {str(manifest_path)!r} lists no files.")
    duplicated = manifest["path"][manifest["path"].duplicated()]
    if not duplicated.empty:
        raise ValueError(f"Manifest {str(manifest_path)!r} lists {duplicated.iloc[0]!r} more than once.")
    return manifest


def _absolute_audio_path(root, relative):
    path = Path(relative)
    if not relative or path.is_absolute() or ".." in path.parts:
        raise ValueError(
            f"Manifest {str(root / MANIFEST_NAME)!r} lists {relative!r}; "
            "paths must be relative to the corpus folder and stay inside it."
        )
    path = root / path
    if not path.is_file():
        raise FileNotFoundError(f"Audio file {str(path)!r} listed in the manifest is missing.")
    return str(path)


def load_synthetic(root, *, labels="original"):
    """Load a corpus written by :func:`make_synthetic_corpus`.

    Parameters
    ----------
    root : str or path-like
        The folder holding ``manifest.csv`` and the audio files.
    labels : {"original", "unified"}, default="original"
        ``"original"`` keeps the emotion names the corpus was written with;
        ``"unified"`` maps them onto :data:`UNIFIED_LABELS` (the default
        emotions as for TESS: ``angry`` -> ``anger``, ``ps`` -> ``surprise``,
        ...) and keeps the written name in an ``original_label`` column.

    Returns
    -------
    frame : pandas.DataFrame
        One row per audio file, sorted by path, with the columns ``path``
        (absolute), ``label``, ``speaker``, ``text`` (the target word),
        ``corpus`` (``"synthetic"``) and ``gender`` (``"female"`` or
        ``"male"``), plus any further manifest column; with
        ``labels="unified"``, ``original_label`` after ``corpus``. String
        columns have object dtype and hold plain ``str``.

    Raises
    ------
    FileNotFoundError
        If ``root``, its manifest or a listed audio file is missing.
    NotADirectoryError
        If ``root`` is not a directory.
    ValueError
        If the manifest lacks a required column, lists no files, lists a
        file twice, or lists a path that is absolute or leaves ``root``; if
        ``labels`` is not a known label set, or is ``"unified"`` and an
        emotion name has no unified label.

    See Also
    --------
    make_synthetic_corpus : Write such a corpus.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_ser.datasets import load_synthetic, make_synthetic_corpus
    >>> with tempfile.TemporaryDirectory() as root:
    ...     written = make_synthetic_corpus(
    ...         root, n_speakers=1, n_words=2, emotions=("happy", "neutral"))
    ...     frame = load_synthetic(root)
    >>> frame.equals(written)
    True
    >>> frame.columns.tolist()
    ['path', 'label', 'speaker', 'text', 'corpus', 'gender']
    >>> bool(frame["path"].str.endswith(".wav").all())
    True
    """
    _check_labels(labels)
    root = _check_root(root)
    manifest = _read_manifest(root)
    manifest["path"] = [_absolute_audio_path(root, path) for path in manifest["path"]]
    manifest["corpus"] = "synthetic"
    extra = [column for column in manifest.columns if column not in COMMON_COLUMNS]
    frame = manifest[[*COMMON_COLUMNS, *extra]]
    frame = frame.sort_values("path", kind="stable", ignore_index=True)
    return _apply_labels(_as_object_strings(frame), labels)
