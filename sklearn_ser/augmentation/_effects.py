"""The waveform transformations of data augmentation, one function each.

Every function takes a 1-D float waveform and returns a new float64 one; the
input is never modified.
"""

from __future__ import annotations

import numpy as np

from .._audio import _resample

NOISE_COLORS = ("white", "pink", "brown")
# Power spectral density of each noise color falls as frequency ** -exponent.
_SPECTRAL_EXPONENT = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def change_speed(y, factor, *, sr):
    """Play ``y`` ``factor`` times as fast, as Kaldi's and ESPnet's speed perturbation does.

    The waveform is read as if it were sampled at ``sr * factor`` and
    resampled to ``sr`` (SoX's high-quality resampler): duration changes by
    ``1 / factor`` and every frequency, pitch and formants included, by
    ``factor``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Waveform at ``sr`` Hz.
    factor : float
        Speed factor; above 1 is faster (shorter, higher).
    sr : int
        Sampling rate of ``y`` and of the result.

    Returns
    -------
    y_fast : ndarray of shape (ceil(n_samples / factor),)
    """
    if factor == 1.0:
        return np.array(y, dtype=np.float64)
    return _resample(np.asarray(y, dtype=np.float64), sr * factor, sr)


def colored_noise(n_samples, color, rng):
    """Gaussian noise of unit power whose spectrum falls as ``1/f ** exponent``.

    White noise is flat, pink noise loses 3 dB per octave (``1/f``), brown
    noise 6 dB per octave (``1/f**2``). Pink and brown noise are white noise
    shaped in the frequency domain; their constant (0 Hz) component is removed.

    Parameters
    ----------
    n_samples : int
        Length of the noise.
    color : {"white", "pink", "brown"}
        Spectral shape.
    rng : numpy.random.Generator
        Source of the samples.

    Returns
    -------
    noise : ndarray of shape (n_samples,)
        Mean square 1, or all zeros when shaping leaves nothing (one sample
        of pink or brown noise).
    """
    white = rng.standard_normal(n_samples)
    exponent = _SPECTRAL_EXPONENT[color]
    if exponent == 0.0:
        noise = white
    else:
        spectrum = np.fft.rfft(white)
        frequencies = np.arange(len(spectrum), dtype=np.float64)
        shape = np.zeros_like(frequencies)
        shape[1:] = frequencies[1:] ** (-exponent / 2)  # amplitude, the square root of the power's slope
        noise = np.fft.irfft(spectrum * shape, n=n_samples)
    power = np.mean(noise**2)
    return noise / np.sqrt(power) if power > 0 else noise


def add_noise(y, snr_db, *, color, rng):
    """Add Gaussian noise at a signal-to-noise ratio of exactly ``snr_db`` decibels.

    The ratio is that of mean squares over the whole waveform,
    ``10 * log10(mean(y**2) / mean(noise**2))``. A silent waveform stays
    silent.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Waveform.
    snr_db : float
        Signal-to-noise ratio in dB.
    color : {"white", "pink", "brown"}
        Spectral shape of the noise (see :func:`colored_noise`).
    rng : numpy.random.Generator
        Source of the noise.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
    """
    y = np.asarray(y, dtype=np.float64)
    noise = colored_noise(len(y), color, rng)
    signal_power = np.mean(y**2)
    return y + noise * np.sqrt(signal_power / 10 ** (snr_db / 10))


def apply_gain(y, gain_db):
    """Scale ``y`` by ``gain_db`` decibels (amplitude times ``10 ** (gain_db / 20)``), without clipping.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Waveform.
    gain_db : float
        Gain in dB; negative attenuates.

    Returns
    -------
    y_scaled : ndarray of shape (n_samples,)
    """
    return np.asarray(y, dtype=np.float64) * 10 ** (gain_db / 20)
