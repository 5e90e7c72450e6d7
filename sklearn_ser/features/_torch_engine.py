"""The torch engine of the spectral transformers: batched STFT, Mel, dB and DCT.

It computes what :class:`~sklearn_ser.features._spectral._LogMel` and
``_MFCC`` compute with NumPy and SciPy (the same frames, window, librosa
Mel filterbank, decibels of ``mel ** (2 / power)`` and orthonormal type-II
DCT), for a batch of utterances at once: the waveforms are zero-padded at
the end to the longest one, transformed by one :func:`torch.stft` call, and
each result is cut back to its own number of frames. Zero padding at the end
is what the single-utterance path applies too, so the kept frames see the
same samples; the peak that ``top_db`` clips against is taken over each
utterance's own frames only.

The computers hold NumPy arrays and a device string, so they pickle
(for worker processes and Dask); the device is resolved where they run.

The results differ from the NumPy engine's by float32 rounding, bounded in
the Notes of :class:`~sklearn_ser.features.MelSpectrogram`: the FFTs
(torch's CPU FFT and cuFFT against SciPy's) round differently, and the
Mel projection and the DCT are float32 matrix products. TF32 matrix
products (``torch.backends.cuda.matmul.allow_tf32``) keep 10 bits of their
inputs' mantissas, a relative error of about 1e-3, and are not covered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from .._device import resolve_device


def dct_matrix(n_mels, n_mfcc, lifter=0.0):
    """``(n_mels, n_mfcc)`` matrix of the orthonormal type-II DCT, liftered.

    ``log_mel @ dct_matrix(...)`` equals ``librosa.feature.mfcc(S=log_mel.T,
    n_mfcc=n_mfcc, lifter=lifter).T``: the first ``n_mfcc`` coefficients of
    ``scipy.fft.dct(..., type=2, norm="ortho")``, each multiplied by
    ``1 + (lifter / 2) * sin(pi * (k + 1) / lifter)`` when ``lifter > 0``.
    """
    basis = scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc]
    if lifter > 0:
        basis = basis * (1 + (lifter / 2) * np.sin(np.pi * np.arange(1, n_mfcc + 1) / lifter))[:, None]
    return np.ascontiguousarray(basis.T, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class TorchLogMel:
    """Waveforms -> Mel spectrograms as ``spec`` computes them, batched in torch.

    Parameters
    ----------
    spec : _LogMel
        The NumPy computer whose parameters (window, filterbank, scaling)
        are used.
    device : str
        ``"auto"`` or a torch device string, resolved on every call with
        :func:`sklearn_ser._device.resolve_device`.
    """

    spec: object
    device: str

    def n_frames(self, n_samples):
        """Frames of an utterance of ``n_samples`` samples (as the NumPy path)."""
        spec = self.spec
        padded = max(n_samples, spec.n_fft) + (2 * (spec.n_fft // 2) if spec.center else 0)
        return 1 + (padded - spec.n_fft) // spec.hop_length

    def __call__(self, y):
        return self.batch([y])[0]

    def batch(self, waveforms):
        """Features of each waveform, as float32 ``(n_frames, n_features)`` arrays."""
        import torch

        with torch.inference_mode():
            features, n_frames = self._features(waveforms, resolve_device(self.device))
            features = features.cpu().numpy()
        return [features[i, :n].copy() for i, n in enumerate(n_frames)]

    def _features(self, waveforms, device):
        return self._scaled_mel(waveforms, device, self.spec.log)

    def _scaled_mel(self, waveforms, device, log):
        """``(batch, frames, n_mels)`` scaled Mel spectrograms and each one's frame count."""
        import torch

        spec = self.spec
        n_frames = [self.n_frames(len(y)) for y in waveforms]
        length = max(spec.n_fft, max(len(y) for y in waveforms))
        batch = np.zeros((len(waveforms), length), dtype=np.float32)
        for row, y in zip(batch, waveforms):
            row[: len(y)] = y
        stft = torch.stft(
            torch.from_numpy(batch).to(device),
            n_fft=spec.n_fft,
            hop_length=spec.hop_length,
            window=torch.from_numpy(spec.window).to(device),
            center=spec.center,
            pad_mode="constant",
            return_complex=True,
        )
        if spec.power == 2:
            power = stft.real.square() + stft.imag.square()
        else:
            power = stft.abs().pow(spec.power)
        mel = power.transpose(1, 2) @ torch.from_numpy(spec.mel_basis_t).to(device)
        if log == "db":
            mel = self._decibels(mel if spec.power == 2 else mel.pow(2.0 / spec.power), n_frames)
        elif log == "natural":
            mel = mel.clamp(min=spec.amin).log()
        return mel, n_frames

    def _decibels(self, power, n_frames):
        """``librosa.power_to_db(power, ref=1.0, amin, top_db)`` of each utterance.

        ``power`` is ``mel ** (2 / spec.power)``; ``top_db`` counts from the
        peak of the utterance's own frames.
        """
        import torch

        db = 10.0 * power.clamp(min=self.spec.amin).log10() - 10.0 * np.log10(max(self.spec.amin, 1.0))
        if self.spec.top_db is None:
            return db
        valid = torch.arange(db.shape[1], device=db.device)[None, :] < torch.tensor(n_frames, device=db.device)[:, None]
        peak = db.masked_fill(~valid[:, :, None], -torch.inf).amax(dim=(1, 2), keepdim=True)
        return torch.maximum(db, peak - self.spec.top_db)


@dataclass(frozen=True, eq=False)
class TorchMFCC(TorchLogMel):
    """Waveforms -> MFCC as the NumPy ``_MFCC`` computes them, batched in torch.

    Parameters
    ----------
    spec : _LogMel
        The NumPy computer of the dB Mel spectrogram.
    device : str
        ``"auto"`` or a torch device string.
    dct : ndarray of shape (n_mels, n_mfcc)
        From :func:`dct_matrix`.
    """

    dct: np.ndarray

    def _features(self, waveforms, device):
        import torch

        log_mel, n_frames = self._scaled_mel(waveforms, device, "db")
        return log_mel @ torch.from_numpy(self.dct).to(device), n_frames
