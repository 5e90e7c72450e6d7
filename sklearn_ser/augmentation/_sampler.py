"""WaveformAugmenter: augmented copies of the training utterances, as an imbalanced-learn sampler."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from imblearn.base import SamplerMixin
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _num_samples

from .._audio import check_audio_input, is_path, load_audio
from ._effects import NOISE_COLORS, add_noise, apply_gain, change_speed

_RECORD_COLUMNS = ("source", "copy", "speed_factor", "snr_db", "gain_db")


class WaveformAugmenter(SamplerMixin, BaseEstimator):
    """Add augmented copies of every training utterance: speed, noise and gain.

    A sampler in imbalanced-learn's sense: :meth:`fit_resample` returns the
    utterances as waveforms at ``sr`` Hz, followed by ``n_copies``
    transformed copies of each, with their labels repeated. Put first in an
    :class:`imblearn.pipeline.Pipeline`, it runs only while the pipeline is
    fitted: ``predict`` and ``transform`` skip it, so test utterances are
    never altered, and every cross-validation fold augments its own
    training part only.

    Each copy is made in this order, each step switched off by ``None``:

    1. speed perturbation (Kaldi's and ESPnet's recipe): resampled so that it
       plays ``factor`` times as fast, which changes its duration by
       ``1 / factor`` and its pitch and formants by ``factor``;
    2. additive Gaussian noise (white, pink or brown) at a signal-to-noise
       ratio drawn uniformly in ``snr_db``, measured against the sped-up
       copy over the whole utterance;
    3. a gain drawn uniformly in ``gain_db`` (no clipping; the feature
       transformers accept samples beyond [-1, 1]).

    The copies of one utterance take the speed factors in a random order,
    cycling through them: with ``n_copies=len(speed_factors)`` each factor is
    used once per utterance. ``speed_factors=(0.9, 1.1), n_copies=2`` is
    the 3-way speed perturbation of the Kaldi recipes.

    Parameters
    ----------
    sr : int, default=16000
        Sampling rate in Hz of the output, and of waveforms in ``X``; files
        are decoded and resampled to it. It must be the ``sr`` of the
        feature transformers that follow.
    n_copies : int, default=1
        Augmented copies per utterance; 0 keeps the originals only.
    speed_factors : array-like of float or None, default=(0.9, 1.0, 1.1)
        Speed factors to choose from (above 1 is faster); ``None`` leaves the
        speed alone.
    snr_db : (float, float), float or None, default=(10, 30)
        Range of the signal-to-noise ratio in dB (a single number fixes
        it); ``None`` adds no noise.
    gain_db : (float, float), float or None, default=(-6, 6)
        Range of the gain in dB (a single number fixes it); ``None``
        leaves the level alone.
    noise : {"white", "pink", "brown"}, default="white"
        Spectrum of the noise: flat, falling 3 dB per octave, or 6 dB per
        octave.
    keep_original : bool, default=True
        Whether the output starts with the original utterances.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws. Each utterance draws from its own stream, so the
        copies are the same whatever ``n_jobs``.
    n_jobs : int or None, default=None
        Utterances decoded and transformed in parallel threads; ``None`` is
        one, ``-1`` all cores.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_samples_out,)
        Row of ``X`` that each output utterance comes from, as
        imbalanced-learn's samplers report it.
    augmentations_ : pandas.DataFrame
        One row per output utterance: ``source`` (as in
        ``sample_indices_``), ``copy`` (0 for an original, ``k`` for the
        k-th copy), and the ``speed_factor``, ``snr_db`` and ``gain_db`` it
        was made with (NaN for an original or a step switched off).

    See Also
    --------
    AugmentedClassifier : Fits a classifier on augmented data, giving the
        copies their source's metadata (such as speaker ids).

    Notes
    -----
    The copies are new waveforms, so a feature cache (``memory=``) keys each
    by its own samples and never mixes them up with the original files; it
    stores their features too, which grows the cache by the size of
    ``n_copies`` corpora on every fit.

    Metadata routed to later steps of an imbalanced-learn pipeline (such as
    ``speaker`` for :class:`~sklearn_ser.features.SpeakerNormalizer`) is not
    resampled with ``X`` and ``y``; wrap the pipeline without the augmenter
    in :class:`AugmentedClassifier` instead.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.augmentation import WaveformAugmenter
    >>> X = [np.sin(np.arange(1600) / 5).astype(np.float32), np.ones(800, np.float32)]
    >>> augmenter = WaveformAugmenter(sr=8000, n_copies=2, speed_factors=(0.8, 1.25), random_state=0)
    >>> X_res, y_res = augmenter.fit_resample(X, ["happy", "sad"])
    >>> [len(y) for y in X_res], y_res
    ([1600, 800, 2000, 640, 1280, 1000], ['happy', 'sad', 'happy', 'sad', 'happy', 'sad'])
    >>> augmenter.sample_indices_
    array([0, 1, 0, 1, 0, 1])
    >>> augmenter.augmentations_[["source", "copy", "speed_factor"]]
       source  copy  speed_factor
    0       0     0           NaN
    1       1     0           NaN
    2       0     1          0.80
    3       1     1          1.25
    4       0     2          1.25
    5       1     2          0.80
    """

    _parameter_constraints = {
        "sr": [Interval(Integral, 1, None, closed="left")],
        "n_copies": [Interval(Integral, 0, None, closed="left")],
        "speed_factors": ["array-like", Interval(Real, 0, None, closed="neither"), None],
        "snr_db": ["array-like", Real, None],
        "gain_db": ["array-like", Real, None],
        "noise": [StrOptions(set(NOISE_COLORS))],
        "keep_original": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        sr=16000,
        *,
        n_copies=1,
        speed_factors=(0.9, 1.0, 1.1),
        snr_db=(10, 30),
        gain_db=(-6, 6),
        noise="white",
        keep_original=True,
        random_state=None,
        n_jobs=None,
    ):
        self.sr = sr
        self.n_copies = n_copies
        self.speed_factors = speed_factors
        self.snr_db = snr_db
        self.gain_db = gain_db
        self.noise = noise
        self.keep_original = keep_original
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Check the parameters and the input; nothing is learned.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Audio files, or waveforms sampled at ``sr``; files are not read.
        y : array-like of shape (n_samples,) or None
            Labels, one per utterance.

        Returns
        -------
        self : object
        """
        self._check_params()
        self._check_y(y, len(check_audio_input(X)))
        return self

    def fit_resample(self, X, y=None):
        """The utterances of ``X`` as waveforms, with their augmented copies.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Audio files, or waveforms sampled at ``sr``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
            Labels (or targets) of the utterances, of any kind.

        Returns
        -------
        X_resampled : list of ndarray of shape (n_samples_i,), dtype float32
            The originals (if ``keep_original``) in the order of ``X``,
            then the first copy of every utterance, then the second, ...
        y_resampled : array-like or None
            ``y`` indexed by :attr:`sample_indices_`, of ``y``'s kind (a
            list stays a list, a Series a Series); None if ``y`` is None.
        """
        checked = self._check_params()
        sources = check_audio_input(X)
        self._check_y(y, len(sources))
        return self._fit_resample(sources, y, **checked)

    def _fit_resample(self, sources, y, *, speed_factors, snr_db, gain_db):
        seeds = np.random.SeedSequence(check_random_state(self.random_state).randint(2**31)).spawn(len(sources))
        plan = dict(speed_factors=speed_factors, snr_db=snr_db, gain_db=gain_db)
        per_source = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(self._augment_one)(source, seed, **plan) for source, seed in zip(sources, seeds)
        )
        first_copy = 0 if self.keep_original else 1
        outputs, records = [], []
        for copy in range(first_copy, self.n_copies + 1):
            for index, (waveforms, draws) in enumerate(per_source):
                outputs.append(waveforms[copy])
                records.append((index, copy, *draws[copy]))
        self.augmentations_ = pd.DataFrame.from_records(records, columns=_RECORD_COLUMNS)
        self.sample_indices_ = self.augmentations_["source"].to_numpy()
        return outputs, None if y is None else _safe_indexing(y, self.sample_indices_)

    def _augment_one(self, source, seed, *, speed_factors, snr_db, gain_db):
        """The original waveform of ``source`` and its copies, with the draws behind each."""
        y = load_audio(source, sr=self.sr) if is_path(source) else source
        rng = np.random.default_rng(seed)
        factors = [None] * self.n_copies
        if speed_factors is not None:
            order = rng.permutation(len(speed_factors))
            factors = [speed_factors[order[k % len(order)]] for k in range(self.n_copies)]
        waveforms, draws = [y], [(np.nan, np.nan, np.nan)]
        for factor in factors:
            copy = y if factor is None else change_speed(y, factor, sr=self.sr)
            snr = gain = np.nan
            if snr_db is not None:
                snr = rng.uniform(*snr_db)
                copy = add_noise(copy, snr, color=self.noise, rng=rng)
            if gain_db is not None:
                gain = rng.uniform(*gain_db)
                copy = apply_gain(copy, gain)
            waveforms.append(np.asarray(copy, dtype=np.float32))
            draws.append((np.nan if factor is None else factor, snr, gain))
        return waveforms, draws

    def _check_params(self):
        """Validate the parameters; the speed factors and ranges as tuples of floats."""
        self._validate_params()
        if self.n_copies == 0 and not self.keep_original:
            raise ValueError("n_copies=0 with keep_original=False leaves no utterances; raise n_copies.")
        return {
            "speed_factors": _check_speed_factors(self.speed_factors),
            "snr_db": _check_range(self.snr_db, "snr_db"),
            "gain_db": _check_range(self.gain_db, "gain_db"),
        }

    @staticmethod
    def _check_y(y, n_samples):
        if y is not None and _num_samples(y) != n_samples:
            raise ValueError(f"y has {_num_samples(y)} labels but X has {n_samples} utterances.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.target_tags.required = False
        tags.non_deterministic = self.random_state is None
        return tags


def _check_speed_factors(speed_factors):
    if speed_factors is None:
        return None
    factors = np.atleast_1d(np.asarray(speed_factors, dtype=object))
    if factors.ndim != 1 or len(factors) == 0 or not all(_is_number(f) and 0 < f < np.inf for f in factors):
        raise ValueError(
            f"speed_factors must be a non-empty sequence of positive finite numbers (or None), got {speed_factors!r}."
        )
    return tuple(float(f) for f in factors)


def _check_range(value, name):
    """``value`` as a ``(low, high)`` pair of finite floats; a single number as ``(value, value)``."""
    if value is None:
        return None
    if _is_number(value):
        pair = (value, value)
    else:
        try:
            pair = tuple(value)
        except TypeError:  # a bool, which the Real constraint lets through
            pair = ()
    if len(pair) != 2 or not all(_is_number(v) and np.isfinite(v) for v in pair) or pair[0] > pair[1]:
        raise ValueError(
            f"{name} must be a number or a (low, high) pair of finite numbers with low <= high "
            f"(or None), got {value!r}."
        )
    return float(pair[0]), float(pair[1])


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))
