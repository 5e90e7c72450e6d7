"""Statistics over time: from feature sequences to one vector per utterance."""

from __future__ import annotations

import numpy as np
from scipy import stats as scipy_stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from .._sequences import SequenceInputMixin


def _slope(frames):
    if len(frames) == 1:
        return np.zeros(frames.shape[1])
    time = np.arange(len(frames)) - (len(frames) - 1) / 2
    return time @ (frames - frames.mean(axis=0)) / (time @ time)


def _quantile(q):
    return lambda frames: np.quantile(frames, q, axis=0)


STATISTICS = {
    "mean": lambda frames: frames.mean(axis=0),
    "std": lambda frames: frames.std(axis=0),
    "min": lambda frames: frames.min(axis=0),
    "max": lambda frames: frames.max(axis=0),
    "median": lambda frames: np.median(frames, axis=0),
    "q25": _quantile(0.25),
    "q75": _quantile(0.75),
    "iqr": lambda frames: np.subtract(*np.quantile(frames, [0.75, 0.25], axis=0)),
    "range": lambda frames: np.ptp(frames, axis=0),
    "skew": lambda frames: np.nan_to_num(scipy_stats.skew(frames, axis=0)),
    "kurtosis": lambda frames: np.nan_to_num(scipy_stats.kurtosis(frames, axis=0)),
    "slope": _slope,
}


def frame_statistics_row(frames, stats):
    """The ``stats`` of ``frames`` (n_frames, n_features) over time, in float64, concatenated statistic-major."""
    frames = np.asarray(frames, dtype=np.float64)
    return np.concatenate([STATISTICS[name](frames) for name in stats])


def statistics_names(estimator, input_features):
    """``<feature>_<statistic>`` for every statistic of ``estimator.stats``, statistic-major."""
    check_is_fitted(estimator)
    names = _check_feature_names_in(estimator, input_features)
    return np.asarray([f"{name}_{stat}" for stat in estimator.stats for name in names], dtype=object)


def check_stats(stats):
    """Raise a ValueError unless ``stats`` is a non-empty tuple of distinct names of STATISTICS."""
    unknown = [name for name in stats if name not in STATISTICS]
    if unknown or not stats or len(set(stats)) != len(stats):
        raise ValueError(f"stats must be a non-empty tuple of distinct names from {sorted(STATISTICS)}; got {stats!r}.")


class SequencePooling(SequenceInputMixin, TransformerMixin, BaseEstimator):
    """Summarise each feature sequence by statistics over time.

    Turns a list of ``(n_frames, n_features)`` sequences into a 2-D array
    ``(n_samples, n_features * len(stats))`` that any scikit-learn
    estimator accepts, e.g. an SVM baseline.

    Parameters
    ----------
    stats : tuple of str, default=("mean", "std")
        Statistics computed per feature over the frames, in order, from
        ``"mean"``, ``"std"`` (population), ``"min"``, ``"max"``,
        ``"median"``, ``"q25"``, ``"q75"``, ``"iqr"`` (q75 - q25),
        ``"range"``, ``"skew"``, ``"kurtosis"`` (excess; skew and kurtosis
        are 0 for a constant feature) and ``"slope"`` (least-squares slope
        per frame; 0 for a single frame).

    Attributes
    ----------
    n_features_in_ : int
        Features per frame seen in :meth:`fit`.
    feature_names_in_ : ndarray of str objects
        Names of those features, when the input carried them (the output of
        a feature transformer does). Defined only then.

    See Also
    --------
    MelSpectrogram, MFCC, DeltaStack : Produce the sequences pooled here.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import SequencePooling
    >>> sequences = [np.array([[1.0, 0.0], [3.0, 0.0]]), np.array([[2.0, 5.0]])]
    >>> pool = SequencePooling(stats=("mean", "max")).fit(sequences)
    >>> pool.transform(sequences)
    array([[2., 0., 3., 0.],
           [2., 5., 2., 5.]])
    >>> pool.get_feature_names_out(["f0", "energy"])
    array(['f0_mean', 'energy_mean', 'f0_max', 'energy_max'], dtype=object)
    """

    _parameter_constraints = {"stats": [tuple, list]}

    def __init__(self, *, stats=("mean", "std")):
        self.stats = stats

    def transform(self, X):
        """Pool every sequence.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), or 3-D array
            Feature sequences with the features seen in :meth:`fit`.

        Returns
        -------
        X_pooled : ndarray of shape (n_samples, n_features * len(stats)), float64
        """
        sequences = self._check_input(X)
        pooled = np.empty((len(sequences), self.n_features_in_ * len(self.stats)))
        for row, sequence in zip(pooled, sequences):
            row[:] = frame_statistics_row(sequence, self.stats)
        return pooled

    def get_feature_names_out(self, input_features=None):
        """Names ``<feature>_<statistic>``, statistic-major.

        Parameters
        ----------
        input_features : array-like of str or None
            Names of the per-frame features; ``x0, x1, ...`` when None.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        return statistics_names(self, input_features)

    def _check_params(self):
        check_stats(self.stats)
