"""Speech and pauses at the voice activity detector's own frame resolution, independent of any window."""

from __future__ import annotations

from contextlib import closing

import numpy as np
import pandas as pd

from ._stream import Recording
from ._vad import ENERGY_FRAME_SECONDS, ENERGY_HOP_SECONDS, SILERO_THRESHOLD, VADS, _load_silero
from ._windows import sliding_windows, speech_runs

#: Frames judged at a time: about 10 s of audio.
FRAMES_PER_STEP = 1000
#: Silero VAD reads 512 samples (32 ms) at a time at 16 kHz.
SILERO_RATE, SILERO_CHUNK = 16000, 512


def speech_segments(source, *, sr=None, vad="energy", energy_threshold=-40.0):
    """The stretches of speech in a recording, at the voice activity detector's frame resolution.

    :func:`predict_timeline` calls a window speech when enough of its
    frames are voiced, so a pause shorter than a window vanishes from its
    table. This gives the speech/pause boundaries themselves: every frame
    of the detector is judged (25 ms every 10 ms for ``"energy"``, as
    :func:`predict_timeline` judges them; 32 ms for ``"silero"``), and
    consecutive voiced frames are joined. The recording is read block by
    block, as :func:`predict_timeline` reads it.

    Parameters
    ----------
    source : str, path-like or array-like
        An audio file, or a waveform (1-D, or ``(n_samples, n_channels)``)
        sampled at ``sr``.
    sr : int, optional
        The sampling rate of a waveform ``source``; None for a file.
    vad : {"energy", "silero"}, default="energy"
        The detector, as in :func:`predict_timeline`.
    energy_threshold : float, default=-40.0
        The level in dBFS from which an energy frame is voiced.

    Returns
    -------
    segments : pandas.DataFrame
        Columns ``start`` and ``end`` (seconds), one row per stretch of
        speech, in order; a frame counts from its start to the start of the
        next one (the last to its end).

    Raises
    ------
    ValueError
        If ``vad`` is not a detector.
    ImportError
        If ``vad="silero"`` and ``silero-vad`` is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.timeline import speech_segments
    >>> t = np.arange(16000) / 16000
    >>> tone = (0.1 * np.sin(2 * np.pi * 200 * t)).astype("float32")
    >>> silence = np.zeros(8000, dtype="float32")
    >>> speech_segments(np.concatenate([silence, tone, silence, tone]), sr=16000).round(2)
       start  end
    0   0.48  1.5
    1   1.98  3.0
    """
    if vad not in VADS:
        raise ValueError(f"vad must be one of {list(VADS)}, got {vad!r}.")
    recording = Recording(source, sr=sr)
    if vad == "energy":
        rate = recording.samplerate
        frame, hop = max(1, round(ENERGY_FRAME_SECONDS * rate)), max(1, round(ENERGY_HOP_SECONDS * rate))
        voiced = _energy_frames(recording, rate, frame, hop, energy_threshold)
    else:
        rate, frame = SILERO_RATE, SILERO_CHUNK
        hop = frame
        voiced = _silero_frames(recording)
    n_samples = recording.n_samples_at(rate)
    rows = [
        (begin * hop / rate, min(n_samples, (end - 1) * hop + (frame if end == len(voiced) else hop)) / rate)
        for begin, end in speech_runs(voiced)
    ]
    return pd.DataFrame(rows, columns=["start", "end"], dtype=float)


def _energy_frames(recording, rate, frame, hop, threshold):
    """Whether each energy frame (``frame`` samples every ``hop``) reaches ``threshold`` dBFS."""
    n_samples = recording.n_samples_at(rate)
    n_frames = max(1, -(-max(n_samples - frame, 0) // hop) + 1)  # the last frame may run past the end
    span = FRAMES_PER_STEP * hop
    voiced, next_frame = [], 0
    with closing(recording.blocks(sr=rate)) as blocks:
        for start, samples in sliding_windows(blocks, span - hop + frame, span):
            first = max(next_frame, -(-start // hop))
            frames = np.arange(first, n_frames)
            frames = frames[
                (frames * hop < start + len(samples))
                & ((frames * hop + frame <= start + len(samples)) | (start + len(samples) >= n_samples))
            ]
            if not len(frames):
                continue
            energy = np.concatenate([[0.0], np.cumsum(np.square(samples, dtype=np.float64))])
            begins = frames * hop - start
            ends = np.minimum(begins + frame, len(samples))
            mean_square = (energy[ends] - energy[begins]) / np.maximum(ends - begins, 1)
            voiced.append(10 * np.log10(np.maximum(mean_square, 1e-20)) >= threshold)
            next_frame = int(frames[-1]) + 1
    return np.concatenate(voiced) if voiced else np.zeros(0, dtype=bool)


def _silero_frames(recording):
    """Whether Silero gives each 32 ms chunk (at 16 kHz) a speech probability of at least 0.5."""
    import torch

    model = _load_silero()
    n_samples = recording.n_samples_at(SILERO_RATE)
    span = FRAMES_PER_STEP * SILERO_CHUNK
    voiced, next_chunk = [], 0
    with closing(recording.blocks(sr=SILERO_RATE)) as blocks, torch.inference_mode():
        for start, samples in sliding_windows(blocks, span, span):
            # The last window ends at the recording's end: only its chunks not yet judged, from a chunk boundary.
            skip = next_chunk * SILERO_CHUNK - start
            samples = samples[max(skip, 0) :]
            if not len(samples):
                continue
            padded = np.pad(samples, (0, -len(samples) % SILERO_CHUNK))
            probabilities = model.audio_forward(torch.from_numpy(np.ascontiguousarray(padded))[None], SILERO_RATE)
            voiced.append(probabilities.numpy()[0] >= SILERO_THRESHOLD)
            next_chunk += len(voiced[-1])
    n_chunks = -(-n_samples // SILERO_CHUNK)
    return np.concatenate(voiced)[:n_chunks] if voiced else np.zeros(0, dtype=bool)
