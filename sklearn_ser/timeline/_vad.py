"""Voice activity: which windows hold speech, by frame energy or by the Silero model."""

from __future__ import annotations

import warnings

import numpy as np
import soxr

VADS = ("energy", "silero")
#: Analysis frames of the energy detector: 25 ms every 10 ms.
ENERGY_FRAME_SECONDS = 0.025
ENERGY_HOP_SECONDS = 0.010
#: Speech probability above which a Silero frame (32 ms) is voiced: the package's own default.
SILERO_THRESHOLD = 0.5
_SILERO_RATES = (8000, 16000)


def make_vad(vad, *, sr, energy_threshold, min_speech):
    """The detector named by ``vad`` for windows sampled at ``sr``, or None for ``vad=None``.

    A detector maps a list of windows to a boolean array: True where at
    least ``min_speech`` (a fraction) of the window's frames are voiced.
    """
    if vad is None:
        return None
    if vad == "energy":
        return EnergyVAD(sr=sr, threshold=energy_threshold, min_speech=min_speech)
    if vad == "silero":
        return SileroVAD(sr=sr, min_speech=min_speech)
    raise ValueError(f"vad must be one of {list(VADS)} or None, got {vad!r}.")


class EnergyVAD:
    """Voiced frames are those whose RMS level reaches ``threshold`` dBFS.

    The level of a 25 ms frame (every 10 ms) is ``10 * log10(mean(y ** 2))``:
    0 dBFS for a full-scale square wave, -3 dBFS for a full-scale sine. The
    threshold is absolute, so that a window is judged without reading the
    rest of the recording (a threshold relative to the file's peak would need
    the whole file first).

    Examples
    --------
    >>> import numpy as np
    >>> vad = EnergyVAD(sr=16000, threshold=-40.0, min_speech=0.1)
    >>> t = np.arange(16000) / 16000
    >>> speech = (0.1 * np.sin(2 * np.pi * 200 * t)).astype("float32")   # -23 dBFS
    >>> hiss = np.random.default_rng(0).normal(0, 1e-3, 16000).astype("float32")   # -60 dBFS
    >>> vad([speech, hiss]).tolist()
    [True, False]
    """

    def __init__(self, *, sr, threshold, min_speech):
        self.frame = max(1, round(ENERGY_FRAME_SECONDS * sr))
        self.hop = max(1, round(ENERGY_HOP_SECONDS * sr))
        self.threshold = threshold
        self.min_speech = min_speech

    def voiced_fraction(self, window):
        """The fraction of the frames of ``window`` that reach the threshold."""
        energy = np.concatenate([[0.0], np.cumsum(np.square(window, dtype=np.float64))])
        frame = min(self.frame, len(window))
        starts = np.arange(0, len(window) - frame + 1, self.hop)
        mean_square = (energy[starts + frame] - energy[starts]) / frame
        level = 10 * np.log10(np.maximum(mean_square, 1e-20))
        return float(np.mean(level >= self.threshold))

    def __call__(self, windows):
        return np.array([self.voiced_fraction(window) >= self.min_speech for window in windows], dtype=bool)


class SileroVAD:
    """Voiced frames are those to which the Silero VAD model gives a speech probability of at least 0.5.

    The model (``silero-vad``, an optional dependency: ``pip install
    sklearn-ser[vad]``) ships inside its package; nothing is downloaded. It
    reads 8 or 16 kHz audio: windows at another rate are resampled to
    16 kHz first. Each window is judged on its own (the model's state is
    reset), in one batch per call.
    """

    def __init__(self, *, sr, min_speech):
        self.model = _load_silero()
        self.sr = sr
        self.model_sr = sr if sr in _SILERO_RATES else 16000
        self.min_speech = min_speech

    def __call__(self, windows):
        import torch

        batch = np.stack(windows)
        if self.model_sr != self.sr:
            batch = soxr.resample(batch.T, self.sr, self.model_sr, quality="HQ").T.reshape(len(windows), -1)
        with torch.inference_mode():
            probabilities = self.model.audio_forward(torch.from_numpy(np.ascontiguousarray(batch)), self.model_sr)
        voiced = probabilities.numpy() >= SILERO_THRESHOLD
        return voiced.mean(axis=1) >= self.min_speech


def _load_silero():
    """The Silero VAD model, leaving torch's thread count as it was (the package sets it to 1 on import)."""
    import torch

    threads = torch.get_num_threads()
    try:
        import silero_vad

        with warnings.catch_warnings():
            # torch.jit.load's and importlib.resources.path's deprecation notices, raised inside the package
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return silero_vad.load_silero_vad()
    except ImportError as exc:
        raise ImportError(
            "vad='silero' needs the silero-vad package: pip install 'sklearn-ser[vad]' (or pip install silero-vad)."
        ) from exc
    finally:
        torch.set_num_threads(threads)
