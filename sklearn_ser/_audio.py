"""Audio input: decoding files, checking waveforms, and recognising what X holds.

Every transformer that reads audio accepts the same kinds of ``X``:

* a list, tuple, 1-D array or :class:`pandas.Series` of file paths (``str`` or
  :class:`os.PathLike`), or a single-column 2-D array of them;
* a list of 1-D floating-point waveforms, taken as sampled at the transformer's
  ``sr``;
* a 2-D floating-point array, one waveform per row.

A bare string is rejected: it is one path, not a collection of them.

Samples must be finite and at most ``MAX_AMPLITUDE`` (``2**31``) in magnitude.
Audio is expected in [-1, 1]; the limit (the full scale of 32-bit integer
audio) still admits waveforms left at an integer scale, and refuses values
whose power spectra would overflow float32 and turn into NaN features.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Sequence

import numpy as np
import soundfile
import soxr
from scipy import sparse

__all__ = ["InvalidAudioError", "load_audio", "check_audio_input"]

RESAMPLER = "soxr_hq"
MAX_AMPLITUDE = 2.0**31
# A header declaring more frames than this many per byte of the file cannot
# be trusted to size one allocation (the densest codec, FLAC on silence, stays
# well below it); such files are read block by block instead.
_MAX_FRAMES_PER_BYTE = 4096
_READ_BLOCK_FRAMES = 1 << 16

_DATA_CHUNK_SIZE = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)

# What a path may be besides a regular file or a directory, in words.
_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
# Opening a named pipe for reading would wait for a writer; with O_NONBLOCK it returns at once.
_NO_WAIT = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


class InvalidAudioError(ValueError):
    """Raised when a file or waveform cannot give a valid audio signal.

    The message names the offending file (or the index of the waveform in
    ``X``) and says what is wrong with it: not decodable, truncated, empty,
    or holding non-finite samples.
    """


def load_audio(source, *, sr):
    """Decode an audio file to a mono float32 waveform at ``sr`` Hz.

    Any format libsndfile reads is accepted (WAV, FLAC, OGG/Vorbis, MP3 with
    libsndfile >= 1.1, ...). Channels are averaged to mono and the signal is
    resampled with the SoX high-quality resampler (``soxr_hq``), exactly as
    ``librosa.load(source, sr=sr)`` does, so the samples are identical.

    Parameters
    ----------
    source : str or os.PathLike
        Path to the audio file.
    sr : int
        Target sampling rate in Hz.

    Returns
    -------
    y : ndarray of shape (n_samples,), dtype float32
        The waveform, in [-1, 1] for integer-encoded files.

    Raises
    ------
    FileNotFoundError
        If ``source`` does not exist, or is a symbolic link to nothing.
    IsADirectoryError
        If ``source`` is a directory.
    InvalidAudioError
        If ``source`` is not a regular file (a named pipe, a device or a
        socket: refused before it is opened), cannot be read (permission
        denied, a symbolic link loop, an I/O error), is empty, is not
        decodable audio, is truncated (its header declares more data than
        the file holds), has no samples, or holds NaN or infinite samples or
        samples beyond ``2**31`` in magnitude.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile
    >>> from sklearn_ser import load_audio
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = f"{tmp}/tone.wav"
    ...     t = np.arange(48000) / 48000
    ...     stereo = np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.5
    ...     soundfile.write(path, stereo, 48000)
    ...     y = load_audio(path, sr=16000)
    >>> y.shape, y.dtype
    ((16000,), dtype('float32'))
    """
    path = os.fspath(source)
    sr = _check_sr(sr)
    file_size = _stat_audio_file(path).st_size
    if file_size == 0:
        raise InvalidAudioError(f"Audio file '{path}' is empty (0 bytes).")
    try:
        # By name, not through a descriptor: libsndfile takes the format of
        # headerless files (.au, .vox, .gsm) from the name's extension.
        with soundfile.SoundFile(path) as audio:
            _check_not_truncated(audio, path)
            declared_frames = audio.frames
            native_sr = audio.samplerate
            y = _read_frames(audio, file_size)
    except soundfile.SoundFileError as exc:
        raise _open_failure(path) or InvalidAudioError(
            f"Cannot decode audio file '{path}' (not audio, corrupt or truncated): "
            f"{_libsndfile_reason(exc)}. Expected a file libsndfile reads (WAV, "
            "FLAC, OGG, MP3, ...)."
        ) from exc
    if len(y) == 0:
        raise InvalidAudioError(f"Audio file '{path}' has no samples.")
    if len(y) < declared_frames:
        raise InvalidAudioError(
            f"Audio file '{path}' is truncated: its header declares "
            f"{declared_frames} frames but only {len(y)} could be read."
        )
    _check_samples(y, f"Audio file '{path}'")
    y = y[:, 0] if y.shape[1] == 1 else y.mean(axis=1, dtype=np.float32)
    if native_sr != sr:
        y = _resample(y, native_sr, sr)
    return np.ascontiguousarray(y, dtype=np.float32)


def _resample(y, orig_sr, target_sr):
    """Resample ``y`` as ``librosa.resample(..., res_type=RESAMPLER)`` does, sample for sample.

    The same soxr call, its result zero-padded or cut to librosa's length,
    ``ceil(len(y) * target_sr / orig_sr)``. librosa's wrapper around it
    (``np.apply_along_axis``, ``np.pad``) holds the GIL for about 30 us a
    file, which serialised the threads of a parallel extraction.
    """
    n_samples = int(np.ceil(len(y) * (float(target_sr) / orig_sr)))
    resampled = soxr.resample(y, orig_sr, target_sr, quality=RESAMPLER)
    if len(resampled) >= n_samples:
        return resampled[:n_samples]
    padded = np.zeros(n_samples, dtype=resampled.dtype)
    padded[: len(resampled)] = resampled
    return padded


def check_audio_input(X):
    """Validate ``X`` and return its items as paths or checked waveforms.

    Parameters
    ----------
    X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
        See the module docstring for the accepted forms.

    Returns
    -------
    sources : list
        One item per sample: a ``str`` path, or a 1-D float32 C-contiguous
        waveform. Files are not opened here.

    Raises
    ------
    ValueError
        If ``X`` is a bare string or path, is empty, or is a 1-D numeric
        array (one waveform rather than a collection of them).
    TypeError
        If an item is neither a path nor a numeric waveform.
    InvalidAudioError
        If a waveform is not 1-D, is empty, is not floating point, or holds
        NaN or infinite values or values beyond ``2**31`` in magnitude.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser._audio import check_audio_input
    >>> sources = check_audio_input(["a.wav", np.zeros(8000)])
    >>> sources[0], sources[1].dtype
    ('a.wav', dtype('float32'))
    >>> check_audio_input("a.wav")
    Traceback (most recent call last):
    ...
    ValueError: X must be a collection of audio file paths or waveforms, got a single path 'a.wav'...
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        raise ValueError(
            "X must be a collection of audio file paths or waveforms, got a single "
            f"path {os.fsdecode(X)!r}; wrap it in a list: [{os.fsdecode(X)!r}]."
        )
    if hasattr(X, "to_numpy") and getattr(X, "ndim", 1) == 1:
        X = X.to_numpy(dtype=object)
    if sparse.issparse(X):
        raise TypeError("Sparse input is not supported: X must hold audio file paths or dense waveforms.")
    if isinstance(X, Sequence):
        items = list(X)
    elif isinstance(X, np.ndarray) or hasattr(X, "__array__"):
        items = _array_items(np.asarray(X))
    else:
        raise TypeError(
            f"X must be a list, tuple, array or Series of audio file paths or waveforms, got {type(X).__name__}."
        )
    if len(items) == 0:
        raise ValueError("X is empty: at least one audio file or waveform is required.")
    return [_check_item(item, index) for index, item in enumerate(items)]


def _array_items(X):
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported: waveforms must be real.")
    if X.dtype == object and X.ndim == 2 and X.shape[1] > 1:
        X = X.astype(np.float64)
    if X.dtype.kind in "fiub":
        if X.ndim == 2:
            _check_not_one_recording(X)
            return list(X)
        if X.ndim == 1:
            raise ValueError(
                "X is a 1-D numeric array, which is one waveform. Reshape your data: "
                "pass a list of waveforms ([y]) or a 2-D array with one waveform per row."
            )
    elif X.ndim == 1 or (X.ndim == 2 and X.shape[1] == 1):
        return list(X.ravel())
    raise ValueError(
        f"X must be 1-D (paths or waveforms) or 2-D (one waveform per row); "
        f"got an array of shape {X.shape} and dtype {X.dtype}."
    )


# A 2-D array with at least this many rows of at most MAX_CHANNELS samples is one recording, not that many waveforms.
_ONE_RECORDING_ROWS = 1000
#: The most channels a 2-D waveform may have: beyond it, an axis cannot be told to be the channels.
MAX_CHANNELS = 8


def _check_not_one_recording(X):
    """Refuse a 2-D array laid out as one multi-channel recording, which would be read as thousands of waveforms."""
    n_rows, n_columns = X.shape
    if n_rows >= _ONE_RECORDING_ROWS and n_columns <= MAX_CHANNELS:
        raise ValueError(
            f"X has shape {X.shape}, which looks like one recording of {n_rows} samples and {n_columns} channel(s) "
            f"(as soundfile.read returns it), not {n_rows} waveforms of {n_columns} samples: a 2-D X holds one "
            "waveform per row. Pass [wave.mean(axis=1)] for one mono recording."
        )


def _check_item(item, index):
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    if isinstance(item, bytes):
        raise TypeError(f"X[{index}] is bytes; pass file paths as str or pathlib.Path and waveforms as float arrays.")
    try:
        y = np.asarray(item)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"X[{index}] is neither a file path nor a waveform.") from exc
    if y.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: X[{index}] must be a real waveform.")
    if y.dtype.kind not in "fiub" or y.dtype == bool:
        raise TypeError(
            f"X[{index}] is neither a file path nor a numeric waveform (got {type(item).__name__} of dtype {y.dtype})."
        )
    return check_waveform(y, name=f"X[{index}]")


def check_waveform(y, *, name="waveform"):
    """Return ``y`` as a 1-D float32 C-contiguous waveform after checking it.

    Integer arrays are refused: their scale (int16 full scale is 32767) is
    ambiguous, and silently treating them as floats would give wrong numbers.
    Values beyond ``MAX_AMPLITUDE`` are refused before the conversion to
    float32, which would turn float64 values beyond its range into infinities.
    """
    y = np.asarray(y)
    if y.dtype.kind != "f":
        raise InvalidAudioError(
            f"{name} has dtype {y.dtype}; waveforms must be floating point in [-1, 1] (for int16 audio use y / 32768)."
        )
    if y.ndim != 1:
        raise InvalidAudioError(
            f"{name} must be a 1-D mono waveform, got shape {y.shape}; mix channels down first: y.mean(axis=1) "
            "for (n_samples, n_channels) as soundfile.read returns it, y.mean(axis=0) for (n_channels, n_samples) "
            "as librosa.load(mono=False) does."
        )
    if y.size == 0:
        raise InvalidAudioError(f"{name} has no samples.")
    _check_samples(y, name)
    return np.ascontiguousarray(y, dtype=np.float32)


def _check_samples(y, name):
    """Refuse NaN, infinite, and absurdly large samples, without a copy of ``y``."""
    low, high = float(y.min()), float(y.max())  # NaN propagates through both
    if not (np.isfinite(low) and np.isfinite(high)):
        raise InvalidAudioError(f"{name} holds NaN or infinite samples.")
    peak = max(-low, high)
    if peak > MAX_AMPLITUDE:
        raise InvalidAudioError(
            f"{name} holds samples of magnitude up to {peak:.3g}, beyond the limit of {MAX_AMPLITUDE:.0f} "
            "(2**31); audio is expected in [-1, 1]."
        )


def _read_frames(audio, file_size):
    """All frames of an open file as a float32 ``(n_frames, n_channels)`` array.

    One allocation of the declared size when the header is plausible; block
    by block otherwise, so that a corrupt header declaring billions of frames
    costs the memory of the frames actually present, not a MemoryError.
    """
    if audio.frames <= _MAX_FRAMES_PER_BYTE * file_size:
        return audio.read(dtype="float32", always_2d=True)
    blocks = []
    while True:
        block = audio.read(_READ_BLOCK_FRAMES, dtype="float32", always_2d=True)
        blocks.append(block)
        if len(block) < _READ_BLOCK_FRAMES:
            return np.concatenate(blocks)


def _stat_audio_file(path):
    """``os.stat(path)`` of a regular file; a clear error naming ``path`` otherwise.

    Nothing is opened, so a named pipe (whose opening waits for a writer) or
    a device such as ``/dev/zero`` (whose reading never ends) is refused at
    once, by what it is.

    Parameters
    ----------
    path : str
        The audio file.

    Returns
    -------
    status : os.stat_result

    Raises
    ------
    FileNotFoundError, IsADirectoryError, InvalidAudioError
        As :func:`load_audio` does for a file that cannot be read.
    """
    try:
        status = os.stat(path)
    except OSError as exc:
        raise _file_error(path, exc) from None
    _check_regular_file(path, status.st_mode)
    return status


def _check_regular_file(path, mode):
    """Raise unless ``mode`` (an ``st_mode``) is that of a regular file; the error names ``path``."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"'{path}' is a directory, not an audio file.")
    kind = next((kind for is_kind, kind in _SPECIAL_FILES if is_kind(mode)), "a special file")
    raise InvalidAudioError(f"Audio file '{path}' is {kind}, not a regular file; only regular files are read.")


def open_regular_file(path):
    """``path`` opened for binary reading, once known to be a regular file.

    The path is checked with :func:`_stat_audio_file` before it is opened,
    and the open file again, in case the path was replaced in between; the
    open itself never waits (``O_NONBLOCK``).

    Returns
    -------
    file : io.BufferedReader

    Raises
    ------
    FileNotFoundError, IsADirectoryError, InvalidAudioError
        As :func:`load_audio` does for a file that cannot be read.
    """
    _stat_audio_file(path)
    try:
        file = open(path, "rb", opener=lambda name, flags: os.open(name, flags | _NO_WAIT))
    except OSError as exc:
        raise _file_error(path, exc) from None
    try:
        _check_regular_file(path, os.fstat(file.fileno()).st_mode)
    except BaseException:
        file.close()
        raise
    return file


def _file_error(path, exc):
    """The error to raise for the ``OSError`` ``exc`` met reading the audio file ``path``.

    A missing file stays a :class:`FileNotFoundError` and a directory an
    :class:`IsADirectoryError`; anything else becomes an
    :class:`InvalidAudioError`. Each message names the file and the reason
    in words (permission denied, a symbolic link loop, ...).
    """
    if exc.errno == errno.ENOENT:
        target = _dangling_link_target(path)
        if target is not None:
            return FileNotFoundError(
                f"Audio file not found: '{path}' is a symbolic link to '{target}', which does not exist."
            )
        return FileNotFoundError(f"Audio file not found: '{path}'.")
    if exc.errno == errno.ENOTDIR:
        return FileNotFoundError(f"Audio file not found: '{path}' (a part of its path is a file, not a folder).")
    if exc.errno == errno.EISDIR:
        return IsADirectoryError(f"'{path}' is a directory, not an audio file.")
    if exc.errno == errno.ELOOP:
        return InvalidAudioError(
            f"Audio file '{path}' cannot be resolved: it is a symbolic link loop (or a chain of too many links)."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return InvalidAudioError(f"Cannot read audio file '{path}': permission denied.")
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    return InvalidAudioError(f"Cannot read audio file '{path}': {reason}.")


def _dangling_link_target(path):
    """Where the symbolic link ``path`` points, if it is one; None otherwise."""
    try:
        return os.readlink(path) if os.path.islink(path) else None
    except OSError:
        return None


def _open_failure(path):
    """The error opening ``path`` gives, if any: what libsndfile reports only as a "System error"."""
    try:
        os.close(os.open(path, os.O_RDONLY | _NO_WAIT))
    except OSError as exc:
        return _file_error(path, exc)
    return None


def _check_sr(sr):
    if isinstance(sr, (bool, np.bool_)) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ValueError(f"sr must be a positive integer sampling rate in Hz, got {sr!r}.")
    return int(sr)


def _check_not_truncated(audio, path):
    """Catch WAV-family files whose data chunk is shorter than declared.

    libsndfile decodes such files without an error, silently returning only
    the samples present; its header report names the mismatch.
    """
    match = _DATA_CHUNK_SIZE.search(audio.extra_info)
    if match and int(match.group(2)) < int(match.group(1)):
        raise InvalidAudioError(
            f"Audio file '{path}' is truncated: its header declares "
            f"{match.group(1)} bytes of audio data but the file holds "
            f"{match.group(2)}."
        )


def _libsndfile_reason(exc):
    message = str(exc)
    reason = message.split(": ", 1)[-1] if message.startswith("Error opening") else message
    return reason.strip().rstrip(".") or f"libsndfile error {getattr(exc, 'code', '?')}"


def is_path(source):
    """Whether an item returned by :func:`check_audio_input` is a file path."""
    return isinstance(source, str)
