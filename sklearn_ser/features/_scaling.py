"""Standardization and reshaping of feature sequences."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._sequences import (
    FeatureSequences,
    SequenceInputMixin,
    SequenceOutputMixin,
    SequenceTransformer,
    check_sequences,
    frame_statistics,
)


class SequenceScaler(SequenceTransformer):
    """Standardize every feature with statistics pooled over all frames.

    The sequence counterpart of :class:`~sklearn.preprocessing.StandardScaler`:
    ``fit`` computes each feature's mean and standard deviation over every
    frame of every training utterance; ``transform`` subtracts and divides.
    Neural networks train far better on standardized inputs than on raw dB
    values. A feature constant over the training frames is only centred.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Per-feature mean over the training frames.
    scale_ : ndarray of shape (n_features,)
        Per-feature standard deviation (1 where it is 0).
    n_features_in_ : int
        Features per frame.
    feature_names_in_ : ndarray of str objects
        Names of those features, when the input carried them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import SequenceScaler
    >>> X = [np.array([[0.0, 5.0], [2.0, 5.0]]), np.array([[4.0, 5.0]])]
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_, scaler.scale_
    (array([2., 5.]), array([1.63299316, 1.        ]))
    >>> scaler.transform(X)[1]
    array([[1.2247449, 0.       ]], dtype=float32)
    """

    _parameter_constraints = {}

    def __init__(self):
        pass

    def fit(self, X, y=None):
        """Compute the per-feature mean and standard deviation over all frames.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), or 3-D array
            Feature sequences.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        super().fit(X, y)
        self.mean_, self.scale_ = frame_statistics(check_sequences(X))
        return self

    def _transform_one(self, sequence):
        return ((sequence - self.mean_) / self.scale_).astype(np.float32)

    def _feature_names_out(self, names):
        return np.asarray(names, dtype=object)


class VectorAsSequence(SequenceOutputMixin, SequenceInputMixin, TransformerMixin, BaseEstimator):
    """Read each row of a 2-D array as a sequence of ``step_size`` features.

    A row of ``d`` values becomes a ``(d // step_size, step_size)``
    sequence. With the default ``step_size=1``, 40 MFCC means become a
    40-step sequence of one feature each, the input of the LSTM of
    "Mel-Spectrograms Based LSTM Model for Speech Emotion Recognition".

    Parameters
    ----------
    step_size : int, default=1
        Values per time step; must divide the number of columns.

    Attributes
    ----------
    n_features_in_ : int
        Columns seen in :meth:`fit`.
    feature_names_in_ : ndarray of str objects
        Names of those columns, when :meth:`fit` was given a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import VectorAsSequence
    >>> X = np.arange(12.0).reshape(2, 6)
    >>> out = VectorAsSequence(step_size=2).fit_transform(X)
    >>> out[1]
    array([[ 6.,  7.],
           [ 8.,  9.],
           [10., 11.]], dtype=float32)
    """

    _parameter_constraints = {"step_size": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, *, step_size=1):
        self.step_size = step_size

    def fit(self, X, y=None):
        """Check that ``step_size`` divides the number of columns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Vectors, e.g. pooled MFCC statistics.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float32)
        if X.shape[1] % self.step_size:
            raise ValueError(f"step_size={self.step_size} does not divide the {X.shape[1]} columns of X.")
        return self

    def transform(self, X):
        """Reshape every row into a sequence.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Vectors with the columns seen in :meth:`fit`.

        Returns
        -------
        sequences : FeatureSequences
            One ``(n_features // step_size, step_size)`` float32 array per row.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        steps = X.reshape(len(X), -1, self.step_size)
        names = [f"step_value_{i}" for i in range(self.step_size)]
        return FeatureSequences(list(steps), names)

    def get_feature_names_out(self, input_features=None):
        """Names of the values within one step.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return np.asarray([f"step_value_{i}" for i in range(self.step_size)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
