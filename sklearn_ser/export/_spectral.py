"""The spectral transformers as a torch module over a padded batch of waveforms, for the ONNX graph."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def n_frames(lengths, *, n_fft, hop_length, center):
    """Frames of utterances of ``lengths`` samples, as the NumPy path counts them (int64 tensor)."""
    pad = 2 * (n_fft // 2) if center else 0
    return 1 + torch.div(torch.clamp(lengths, min=n_fft) + pad - n_fft, hop_length, rounding_mode="floor")


def dft_kernels(window, n_fft):
    """``(2 * (n_fft // 2 + 1), 1, n_fft)`` float32 kernels: the windowed cosines, then the windowed negative sines.

    A strided 1-D convolution with them is the real DFT of every frame
    (its real parts, then its imaginary parts). The angles are reduced
    modulo ``n_fft`` in integers before the float64 trigonometry.
    """
    bins = np.arange(n_fft // 2 + 1)[:, None]
    angle = 2 * np.pi * ((bins * np.arange(n_fft)[None, :]) % n_fft) / n_fft
    window = np.asarray(window, dtype=np.float64)
    kernels = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window])
    return torch.from_numpy(kernels[:, None, :].astype(np.float32))


class SpectralModule(nn.Module):
    """Waveforms ``(batch, time)`` and lengths -> Mel spectrograms or MFCC ``(batch, frames, n)`` and frame counts.

    The computation of :class:`~sklearn_ser.features.MelSpectrogram` and
    :class:`~sklearn_ser.features.MFCC` (their NumPy computer ``log_mel``:
    window, Mel filterbank, power, decibels with the utterance's own
    ``top_db`` peak, DCT), on right-padded waveforms: the frames are a
    strided convolution with the windowed DFT kernels over the waveform
    padded with zeros (``n_fft // 2`` each side when centred, and ``n_fft``
    more at the end, so an utterance shorter than ``n_fft`` is padded as it
    is alone). Frames past an utterance's count see its padding and are
    masked downstream; the ``top_db`` peak is taken over its own frames only.

    Parameters
    ----------
    log_mel : _LogMel
        The NumPy computer of the transformer (``_make_computer()`` with the
        NumPy engine, or its ``log_mel`` for MFCC).
    dct : ndarray of shape (n_mels, n_mfcc) or None
        The DCT of MFCC (:func:`~sklearn_ser.features._torch_engine.dct_matrix`);
        None for Mel spectrograms.
    """

    def __init__(self, log_mel, dct=None):
        super().__init__()
        self.n_fft = int(log_mel.n_fft)
        self.hop_length = int(log_mel.hop_length)
        self.center = bool(log_mel.center)
        self.power = float(log_mel.power)
        self.log = log_mel.log if dct is None else "db"
        self.top_db = None if log_mel.top_db is None else float(log_mel.top_db)
        self.amin = float(log_mel.amin)
        self.n_bins = self.n_fft // 2 + 1
        self.register_buffer("kernels", dft_kernels(log_mel.window, self.n_fft))
        self.register_buffer("mel_basis_t", torch.from_numpy(np.asarray(log_mel.mel_basis_t, dtype=np.float32)))
        self.register_buffer("dct", None if dct is None else torch.from_numpy(np.asarray(dct, dtype=np.float32)))

    def forward(self, waveforms, lengths):
        pad = self.n_fft // 2 if self.center else 0
        samples = torch.arange(waveforms.shape[1], device=waveforms.device)[None, :]
        x = waveforms.masked_fill(samples >= lengths[:, None], 0.0)  # what an utterance alone is padded with
        x = nn.functional.pad(x, (pad, pad + self.n_fft))
        spectrum = nn.functional.conv1d(x[:, None, :], self.kernels, stride=self.hop_length)
        real, imag = spectrum[:, : self.n_bins], spectrum[:, self.n_bins :]
        power = real * real + imag * imag
        if self.power != 2:
            power = power.sqrt().pow(self.power)
        mel = power.transpose(1, 2) @ self.mel_basis_t
        frames = n_frames(lengths, n_fft=self.n_fft, hop_length=self.hop_length, center=self.center)
        if self.log == "db":
            mel = self._decibels(mel if self.power == 2 else mel.pow(2.0 / self.power), frames)
        elif self.log == "natural":
            mel = mel.clamp(min=self.amin).log()
        if self.dct is not None:
            mel = mel @ self.dct
        return mel, frames

    def _decibels(self, power, frames):
        db = 10.0 * power.clamp(min=self.amin).log10() - 10.0 * float(np.log10(max(self.amin, 1.0)))
        if self.top_db is None:
            return db
        valid = torch.arange(db.shape[1], device=db.device)[None, :] < frames[:, None]
        peak = db.masked_fill(~valid[:, :, None], -torch.inf).amax(dim=(1, 2), keepdim=True)
        return torch.maximum(db, peak - self.top_db)
