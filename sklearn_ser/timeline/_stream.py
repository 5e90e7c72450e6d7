"""A recording read block by block: mono, resampled without seams, in bounded memory."""

from __future__ import annotations

import math
import os

import numpy as np
import soundfile
import soxr

from .._audio import (
    MAX_CHANNELS,
    InvalidAudioError,
    _check_not_truncated,
    _check_samples,
    _libsndfile_reason,
    _open_failure,
    _stat_audio_file,
)

#: Frames read from the file at a time (about 4 s at 16 kHz).
BLOCK_FRAMES = 1 << 16
_SOXR_QUALITY = "HQ"  # the quality of load_audio's "soxr_hq"
_LAYOUTS = (
    f"A waveform must be 1-D (mono) or of shape (n_samples, n_channels) as soundfile.read returns it, "
    f"with at most {MAX_CHANNELS} channels and more than {MAX_CHANNELS} samples"
)


class Recording:
    """An audio file or an in-memory waveform, read block by block.

    A file's header is read (and checked as :func:`~sklearn_ser.load_audio`
    checks it) when the recording is made; its samples only by
    :meth:`blocks`, one block at a time.

    Parameters
    ----------
    source : str, path-like or array-like
        An audio file, or a waveform: a 1-D float array, or a 2-D one of
        shape ``(n_samples, n_channels)`` as :func:`soundfile.read` returns,
        with at most :data:`MAX_CHANNELS` channels and more samples than
        that; any other 2-D layout (channels first, as
        ``librosa.load(mono=False)`` returns) is refused, naming the shape
        expected.
    sr : int or None
        The sampling rate of a waveform; must be None for a file, whose
        header gives it.

    Attributes
    ----------
    name : str
        How messages name the recording: ``'path'`` or ``the waveform``.
    samplerate : int
        The native sampling rate.
    n_frames : int
        Samples per channel.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.timeline._stream import Recording
    >>> recording = Recording(np.zeros((48000, 2), dtype="float32"), sr=48000)
    >>> blocks = list(recording.blocks(sr=16000, block_frames=20000))
    >>> recording.duration, len(blocks) > 1, sum(len(block) for block in blocks)
    (1.0, True, 16000)
    """

    def __init__(self, source, *, sr=None):
        if isinstance(source, (str, os.PathLike)):
            if sr is not None:
                raise ValueError(f"sr={sr!r} is only for a waveform source; a file's header gives its sampling rate.")
            self._path = os.fspath(source)
            self._waveform = None
            self.name = f"'{self._path}'"
            self.samplerate, self.n_frames = self._read_header()
        else:
            self._path = None
            self._waveform = _checked_waveform(source)
            self.name = "the waveform"
            self.samplerate = _checked_rate(sr)
            self.n_frames = len(self._waveform)

    @property
    def is_file(self):
        """Whether the recording is an audio file (not a waveform)."""
        return self._path is not None

    @property
    def duration(self):
        """Length in seconds."""
        return self.n_frames / self.samplerate

    def n_samples_at(self, sr):
        """Samples of the recording resampled to ``sr`` (as :func:`~sklearn_ser.load_audio` gives)."""
        return self.n_frames if sr == self.samplerate else math.ceil(self.n_frames * (float(sr) / self.samplerate))

    def blocks(self, *, sr=None, block_frames=None):
        """Mono float32 blocks of the recording, resampled to ``sr`` (native when None).

        Channels are averaged. Resampling is one soxr stream over the whole
        recording, so the blocks joined equal :func:`~sklearn_ser.load_audio`'s
        waveform sample for sample, whatever ``block_frames``. At most
        ``block_frames`` native frames (default :data:`BLOCK_FRAMES`) are in
        memory at once.

        Yields
        ------
        block : ndarray of shape (n,), dtype float32
            Successive samples; blocks may be empty while the resampler fills.
        """
        block_frames = BLOCK_FRAMES if block_frames is None else block_frames
        native = self._file_blocks(block_frames) if self._path else self._waveform_blocks(block_frames)
        mono = (block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32) for block in native)
        if sr is None or sr == self.samplerate:
            yield from mono
            return
        yield from _resampled(mono, self.samplerate, sr, self.n_samples_at(sr))

    def _read_header(self):
        file_size = _stat_audio_file(self._path).st_size
        if file_size == 0:
            raise InvalidAudioError(f"Audio file {self.name} is empty (0 bytes).")
        with self._open() as audio:
            _check_not_truncated(audio, self._path)
            if audio.frames == 0:
                raise InvalidAudioError(f"Audio file {self.name} has no samples.")
            return audio.samplerate, audio.frames

    def _open(self):
        try:
            return soundfile.SoundFile(self._path)
        except soundfile.SoundFileError as exc:
            raise self._decode_error(exc) from exc

    def _decode_error(self, exc):
        return _open_failure(self._path) or InvalidAudioError(
            f"Cannot decode audio file {self.name} (not audio, corrupt or truncated): "
            f"{_libsndfile_reason(exc)}. Expected a file libsndfile reads (WAV, FLAC, OGG, MP3, ...)."
        )

    def _file_blocks(self, block_frames):
        read = 0
        with self._open() as audio:
            while True:
                try:
                    block = audio.read(block_frames, dtype="float32", always_2d=True)
                except soundfile.SoundFileError as exc:
                    raise self._decode_error(exc) from exc
                if len(block) == 0:
                    break
                _check_samples(block, f"Audio file {self.name} (at {read / self.samplerate:.2f} s)")
                read += len(block)
                yield block
        if read < self.n_frames:
            raise InvalidAudioError(
                f"Audio file {self.name} is truncated: its header declares "
                f"{self.n_frames} frames but only {read} could be read."
            )

    def _waveform_blocks(self, block_frames):
        for start in range(0, self.n_frames, block_frames):
            yield self._waveform[start : start + block_frames]


def _resampled(blocks, orig_sr, target_sr, n_samples):
    """``blocks`` through one soxr stream, padded or cut to ``n_samples`` as load_audio's resampling."""
    stream = soxr.ResampleStream(orig_sr, target_sr, 1, dtype="float32", quality=_SOXR_QUALITY)
    remaining = n_samples
    for block in blocks:
        out = stream.resample_chunk(block, last=False)[:remaining]
        remaining -= len(out)
        yield out
    out = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)[:remaining]
    remaining -= len(out)
    yield out
    if remaining > 0:
        yield np.zeros(remaining, dtype=np.float32)


def _checked_waveform(y):
    y = np.asarray(y)
    if y.dtype.kind != "f":
        raise InvalidAudioError(
            f"The waveform has dtype {y.dtype}; waveforms must be floating point in [-1, 1] "
            "(for int16 audio use y / 32768)."
        )
    if y.size == 0:
        raise InvalidAudioError("The waveform has no samples.")
    if y.ndim == 1:
        y = y[:, np.newaxis]
    elif y.ndim == 2:
        _check_layout(y.shape)
    else:
        raise InvalidAudioError(f"{_LAYOUTS}; got shape {y.shape}.")
    _check_samples(y, "The waveform")
    return y.astype(np.float32, copy=False)


def _check_layout(shape):
    """Refuse a 2-D waveform unless it is unmistakably ``(n_samples, n_channels)``.

    That is the layout :func:`soundfile.read` returns; it can be told apart
    only when the columns could be channels (at most :data:`MAX_CHANNELS`)
    and the rows could not. Channels first, as ``librosa.load(mono=False)``
    returns them, is refused rather than guessed: elsewhere in the toolkit
    the rows of a 2-D array are separate utterances, which averaging them as
    channels would silently mix.
    """
    n_rows, n_columns = shape
    if n_columns <= MAX_CHANNELS < n_rows:
        return
    if n_rows <= MAX_CHANNELS < n_columns:
        raise InvalidAudioError(
            f"The waveform has shape {shape}, which looks like {n_rows} channel(s) of {n_columns} samples, "
            f"channels first (as librosa.load(mono=False) returns them). {_LAYOUTS}: here ({n_columns}, {n_rows}). "
            "Pass wave.T, or mix it to mono first: librosa.to_mono(wave) or wave.mean(axis=0)."
        )
    raise InvalidAudioError(
        f"The waveform has shape {shape}: which axis holds the channels cannot be told. {_LAYOUTS}. Mix it "
        "to mono first: wave.mean(axis=1) if the columns are the channels, wave.mean(axis=0) if the rows are."
    )


def _checked_rate(sr):
    if sr is None:
        raise ValueError("A waveform source needs its sampling rate: pass sr=, e.g. sr=16000.")
    if isinstance(sr, (bool, np.bool_)) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ValueError(f"sr must be a positive integer sampling rate in Hz, got {sr!r}.")
    return int(sr)
