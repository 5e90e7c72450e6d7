"""openSMILE low-level descriptors (eGeMAPS, GeMAPS, ComParE 2016) from audio: one vector per 10 ms frame."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._opensmile import (
    DESCRIPTOR_COUNTS,
    OpenSMILETransformer,
    check_finite,
    readable_waveform,
    smile,
)

_LEVEL = "LowLevelDescriptors"


@dataclass(frozen=True)
class _Descriptors:
    """Waveform -> (n_frames, n_descriptors) openSMILE low-level descriptors, float32."""

    feature_set: str
    sr: int

    def __call__(self, y):
        features = smile(self.feature_set, _LEVEL).process_signal(readable_waveform(y, self.sr), self.sr)
        return np.ascontiguousarray(features.to_numpy(), dtype=np.float32)


class EGeMAPSFrames(OpenSMILETransformer):
    """openSMILE low-level descriptors from audio files or waveforms: one vector per 10 ms frame.

    The frame-level counterpart of :class:`EGeMAPS`: the voice parameters
    that eGeMAPS summarises over an utterance, as a sequence for the
    sequence models (:class:`~sklearn_ser.models.LSTMClassifier`) or for
    :class:`SequencePooling`. Each utterance is decoded (mono, resampled to
    ``sr`` with soxr, as for :class:`MelSpectrogram`) and analysed by the
    ``opensmile`` package at its ``LowLevelDescriptors`` level, one frame
    every 10 ms. eGeMAPS v02 gives 25 descriptors, smoothed over three
    frames: loudness, alpha ratio, Hammarberg index, spectral slopes 0-500
    Hz and 500-1500 Hz, spectral flux, MFCC 1-4, F0 (semitones from 27.5
    Hz; 0 in unvoiced frames), jitter, shimmer, harmonics-to-noise ratio,
    H1-H2 and H1-A3 harmonic differences, and the frequency, bandwidth and
    relative level of formants F1-F3. GeMAPS v01b has 18 of them; ComParE
    2016 has 65 (energy, spectral and voicing descriptors and MFCC 1-14).

    Parameters
    ----------
    feature_set : {"eGeMAPSv02", "eGeMAPSv01b", "GeMAPSv01b", "ComParE_2016"}, default="eGeMAPSv02"
        openSMILE feature set: eGeMAPS version 02 (25 descriptors), eGeMAPS
        v01b (23; openSMILE warns that it is deprecated), GeMAPS v01b (18)
        or ComParE 2016 (65).
    sr : int, default=16000
        Sampling rate in Hz, at least 8000, that files are resampled to and
        that openSMILE analyses; waveform input is taken as already sampled
        at ``sr``.
    n_jobs : int or None, default=None
        Utterances processed in parallel; ``-1`` uses all cores.
    backend : {"threads", "processes", "dask"} or None, default=None
        Where the workers run (see :class:`MelSpectrogram`).
    memory : None, str, os.PathLike or joblib.Memory, default=None
        Feature cache location (see :class:`MelSpectrogram`); the cache is
        separate for every feature set, ``sr`` and ``opensmile`` version.
    verbose : int, default=0
        Show a progress bar when positive.

    See Also
    --------
    EGeMAPS : The functionals of these descriptors, one vector per utterance.
    SpeakerNormalizer : Standardizes the descriptors per speaker.

    Notes
    -----
    The output is a :class:`FeatureSequences`, one float32 array of shape
    ``(n_frames, n_descriptors)`` per utterance with openSMILE's descriptor
    names as :meth:`get_feature_names_out`: the values of
    ``opensmile.Smile(..., feature_level=LowLevelDescriptors).process_signal``
    on the waveform at ``sr``. The transformer is stateless: :meth:`fit`
    only validates. Input is made safe for openSMILE as for
    :class:`EGeMAPS` (clipped to 16-bit full scale, clips shorter than 60 ms
    zero-padded), and non-finite descriptors raise a ``ValueError`` naming
    the utterance. Requires the optional ``opensmile`` package (``pip
    install sklearn-ser[opensmile]``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import EGeMAPSFrames
    >>> rng = np.random.default_rng(0)
    >>> waveforms = [rng.standard_normal(16000).astype("float32") * 0.1,
    ...              rng.standard_normal(8000).astype("float32") * 0.1]
    >>> [s.shape for s in EGeMAPSFrames().fit_transform(waveforms)]
    [(96, 25), (46, 25)]
    >>> EGeMAPSFrames().get_feature_names_out()[:2]
    array(['Loudness_sma3', 'alphaRatio_sma3'], dtype=object)
    """

    _parameter_constraints = {
        **OpenSMILETransformer._parameter_constraints,
        "feature_set": [StrOptions(set(DESCRIPTOR_COUNTS))],
        "sr": [Interval(Integral, 8000, None, closed="left")],
    }

    def __init__(self, *, feature_set="eGeMAPSv02", sr=16000, n_jobs=None, backend=None, memory=None, verbose=0):
        self.feature_set = feature_set
        self.sr = sr
        self.n_jobs = n_jobs
        self.backend = backend
        self.memory = memory
        self.verbose = verbose

    def transform(self, X):
        """Compute the descriptors of every utterance in ``X``.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Audio files, or waveforms sampled at ``sr``.

        Returns
        -------
        sequences : FeatureSequences
            One float32 array of shape (n_frames, n_descriptors) per utterance.

        Raises
        ------
        ValueError
            If openSMILE returns NaN or infinite values for an utterance.
        """
        sequences = super().transform(X)
        check_finite(sequences, X, self.feature_set)
        return sequences

    def get_feature_names_out(self, input_features=None):
        """openSMILE's names of the descriptors, e.g. ``Loudness_sma3``.

        Parameters
        ----------
        input_features : None
            Ignored: the features do not depend on the input's columns.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        self._validate_params()
        return np.asarray(smile(self.feature_set, _LEVEL).feature_names, dtype=object)

    def _make_computer(self):
        return _Descriptors(feature_set=self.feature_set, sr=self.sr)

    def _n_features_out(self):
        return DESCRIPTOR_COUNTS[self.feature_set]
