"""openSMILE functionals (eGeMAPS, GeMAPS, ComParE 2016) from audio."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._opensmile import FEATURE_SETS, OpenSMILETransformer, check_finite, readable_waveform, smile
from ._table_output import TableOutputMixin


@dataclass(frozen=True)
class _Functionals:
    """Waveform -> (1, n_features) openSMILE functionals, float32."""

    feature_set: str
    sr: int

    def __call__(self, y):
        features = smile(self.feature_set)(readable_waveform(y, self.sr), self.sr)
        return np.ascontiguousarray(features.reshape(1, -1), dtype=np.float32)


class EGeMAPS(TableOutputMixin, OpenSMILETransformer):
    """openSMILE functionals from audio files or waveforms: one vector per utterance.

    Each utterance is decoded (mono, resampled to ``sr`` with soxr, as for
    :class:`MelSpectrogram`) and summarised by the functionals of an
    openSMILE feature set, computed by the ``opensmile`` package with its
    bundled configurations. The default, eGeMAPS, is the extended Geneva
    Minimalistic Acoustic Parameter Set of Eyben et al. (2016), a small,
    expert-chosen set of voice parameters for affective computing and
    voice research. Its 88 functionals are:

    * pitch (F0 in semitones from 27.5 Hz) and loudness: arithmetic mean,
      coefficient of variation (``stddevNorm``), 20th, 50th and 80th
      percentiles, 20-80th percentile range, and mean and standard deviation
      of the slopes of rising and falling parts (20);
    * spectral flux and MFCC 1-4 over all frames: mean and coefficient of
      variation (10);
    * over voiced frames, mean and coefficient of variation of jitter,
      shimmer, harmonics-to-noise ratio, H1-H2 and H1-A3 harmonic
      differences, frequency, bandwidth and relative energy of formants
      F1-F3, alpha ratio, Hammarberg index, spectral slopes 0-500 Hz and
      500-1500 Hz, spectral flux and MFCC 1-4 (46);
    * over unvoiced frames, the mean of alpha ratio, Hammarberg index, the
      two spectral slopes and spectral flux (5);
    * rate of loudness peaks, number of continuously voiced regions per
      second, mean and standard deviation of the lengths of voiced and of
      unvoiced regions (6), and the equivalent sound level (1).

    GeMAPS (62) is the minimal set without the cepstral parameters,
    spectral flux, F2-F3 bandwidths and equivalent sound level. ComParE 2016
    is the large brute-force set of the INTERSPEECH Computational
    Paralinguistics Challenges (6373 functionals of 65 low-level
    descriptors; Schuller et al., 2013).

    Parameters
    ----------
    feature_set : {"eGeMAPSv02", "eGeMAPSv01b", "GeMAPSv01b", "ComParE_2016"}, default="eGeMAPSv02"
        openSMILE feature set: eGeMAPS version 02 (88 functionals, the
        current configuration), eGeMAPS v01b (the same 88 functionals;
        openSMILE warns that it is deprecated), GeMAPS v01b (62) or
        ComParE 2016 (6373).
    sr : int, default=16000
        Sampling rate in Hz, at least 8000, that files are resampled to and
        that openSMILE analyses; waveform input is taken as already sampled
        at ``sr``. The GeMAPS sets were designed for speech at 16 kHz or more.
    n_jobs : int or None, default=None
        Utterances processed in parallel; ``-1`` uses all cores.
    backend : {"threads", "processes", "dask"} or None, default=None
        Where the workers run (see :class:`MelSpectrogram`); None means
        threads unless :func:`joblib.parallel_config` selects another. With
        ``"dask"``, the workers need the ``opensmile`` package.
    memory : None, str, os.PathLike or joblib.Memory, default=None
        Feature cache location (see :class:`MelSpectrogram`); the cache is
        separate for every feature set, ``sr`` and ``opensmile`` version.
    verbose : int, default=0
        Show a progress bar when positive.

    See Also
    --------
    MelSpectrogram : Frame-level spectral features from the same inputs.
    SequencePooling : Functionals of any feature sequences.

    Notes
    -----
    The output is a float32 array of shape ``(n_samples, n_features)``, the
    values openSMILE computes (``opensmile.Smile(...).process_signal`` on the
    waveform at ``sr``), with openSMILE's feature names as
    :meth:`get_feature_names_out`; it follows ``set_output``. The
    transformer is stateless: :meth:`fit` only validates.

    openSMILE analyses 16-bit audio: samples are clipped to [-1, 1) before
    the conversion, which would otherwise wrap them around. Clips shorter
    than 60 ms (openSMILE's longest analysis window, for which it returns
    NaN) are zero-padded at the end to 60 ms, so every utterance gets finite
    features; silence gets finite features too. Should openSMILE still
    return NaN or infinite values, :meth:`transform` raises a ``ValueError``
    naming the utterance.

    Requires the optional ``opensmile`` package (``pip install
    sklearn-ser[opensmile]``); it is imported when the transformer is
    fitted or used, not when :mod:`sklearn_ser.features` is imported.

    References
    ----------
    .. [1] F. Eyben, K. R. Scherer, B. W. Schuller, J. Sundberg, E. André,
       C. Busso, L. Y. Devillers, J. Epps, P. Laukka, S. S. Narayanan and
       K. P. Truong, "The Geneva Minimalistic Acoustic Parameter Set (GeMAPS)
       for Voice Research and Affective Computing", IEEE Transactions on
       Affective Computing, 7(2), 190-202, 2016. doi:10.1109/TAFFC.2015.2457417
    .. [2] B. Schuller, S. Steidl, A. Batliner et al., "The INTERSPEECH 2013
       Computational Paralinguistics Challenge: Social Signals, Conflict,
       Emotion, Autism", Proc. INTERSPEECH, 148-152, 2013.
    .. [3] F. Eyben, M. Wöllmer and B. Schuller, "openSMILE - The Munich
       Versatile and Fast Open-Source Audio Feature Extractor", Proc. ACM
       Multimedia, 1459-1462, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import EGeMAPS
    >>> rng = np.random.default_rng(0)
    >>> waveforms = [rng.standard_normal(16000).astype("float32") * 0.1,
    ...              rng.standard_normal(8000).astype("float32") * 0.1]
    >>> egemaps = EGeMAPS().fit(waveforms)
    >>> egemaps.transform(waveforms).shape
    (2, 88)
    >>> egemaps.get_feature_names_out()[:2]
    array(['F0semitoneFrom27.5Hz_sma3nz_amean',
           'F0semitoneFrom27.5Hz_sma3nz_stddevNorm'], dtype=object)
    """

    _parameter_constraints = {
        **OpenSMILETransformer._parameter_constraints,
        "feature_set": [StrOptions(set(FEATURE_SETS))],
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
        """Compute the functionals of every utterance in ``X``.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Audio files, or waveforms sampled at ``sr``.

        Returns
        -------
        X_features : ndarray of shape (n_samples, n_features), float32
            One row per utterance (a DataFrame under
            ``set_output(transform="pandas")``).

        Raises
        ------
        ValueError
            If openSMILE returns NaN or infinite values for an utterance.
        """
        sequences = super().transform(X)
        check_finite(sequences, X, self.feature_set)
        features = np.concatenate(sequences)
        return self._as_table(features, X)

    def get_feature_names_out(self, input_features=None):
        """openSMILE's names of the functionals, e.g. ``loudness_sma3_amean``.

        Parameters
        ----------
        input_features : None
            Ignored: the features do not depend on the input's columns.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        self._validate_params()
        return np.asarray(smile(self.feature_set).feature_names, dtype=object)

    def _make_computer(self):
        return _Functionals(feature_set=self.feature_set, sr=self.sr)

    def _n_features_out(self):
        return FEATURE_SETS[self.feature_set]
