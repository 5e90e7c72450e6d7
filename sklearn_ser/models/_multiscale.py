"""Multiscale LSTM: segment-level models at several time scales, fused on scores."""

from __future__ import annotations

import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._sequences import check_sequences, record_feature_names
from ._lstm import LSTMClassifier


def segment(sequence, length, hop):
    """Windows of ``length`` frames every ``hop`` frames covering ``sequence``.

    The last window ends at the last frame; a sequence shorter than
    ``length`` is one window of its own length.
    """
    n_frames = len(sequence)
    if n_frames <= length:
        return [sequence]
    starts = list(range(0, n_frames - length + 1, hop))
    if starts[-1] + length < n_frames:
        starts.append(n_frames - length)
    return [sequence[start : start + length] for start in starts]


class MultiscaleLSTMClassifier(ClassifierMixin, BaseEstimator):
    """LSTMs over segments of several lengths, fused by averaging probabilities.

    For every entry of ``segment_frames`` the utterances are cut into
    overlapping segments of that many frames, a clone of ``estimator`` is
    trained on all segments (each carrying its utterance's label), and an
    utterance's probabilities at that scale are the mean over its segments.
    The scales are fused at score level: ``predict_proba`` is the mean of the
    per-scale probabilities. This is the multiscale idea of
    "Mel-Spectrograms Based LSTM Model for Speech Emotion Recognition".

    Parameters
    ----------
    estimator : classifier, default=None
        Segment-level classifier taking sequences and having
        ``predict_proba``; None means ``LSTMClassifier()``.
    segment_frames : tuple of int, default=(32, 64, 128)
        Segment length of each scale, in frames.
    hop_fraction : float, default=0.5
        Hop between segments as a fraction of the segment length.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in :meth:`fit`, sorted.
    estimators_ : list of estimators
        The fitted segment-level classifier of each scale.
    n_features_in_ : int
        Features per frame.
    feature_names_in_ : ndarray of str objects
        Names of those features, when the input carried them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.models import LSTMClassifier, MultiscaleLSTMClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(loc=label, size=(40, 2)).astype("float32") for label in [0, 1] * 8]
    >>> y = ["calm", "angry"] * 8
    >>> clf = MultiscaleLSTMClassifier(
    ...     LSTMClassifier(hidden_size=8, max_epochs=5, random_state=0), segment_frames=(10, 20)
    ... ).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape, len(clf.estimators_)
    ((2, 2), 2)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "segment_frames": [tuple, list],
        "hop_fraction": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(self, estimator=None, *, segment_frames=(32, 64, 128), hop_fraction=0.5):
        self.estimator = estimator
        self.segment_frames = segment_frames
        self.hop_fraction = hop_fraction

    def fit(self, X, y, groups=None):
        """Train one segment-level classifier per scale.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), or 3-D array
            Feature sequences.
        y : array-like of shape (n_samples,)
            Labels.
        groups : array-like of shape (n_samples,), optional
            Group of each utterance (e.g. speaker), passed on, per segment,
            to estimators whose ``fit`` takes ``groups``.

        Returns
        -------
        self : object
        """
        self._validate_params()
        if not self.segment_frames or not all(isinstance(n, Integral) and n >= 1 for n in self.segment_frames):
            raise ValueError(f"segment_frames must be positive integers, got {self.segment_frames!r}.")
        sequences = check_sequences(X)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if len(y) != len(sequences):
            raise ValueError(f"X has {len(sequences)} sequences but y has {len(y)} labels.")
        self.classes_ = np.unique(y)
        self.n_features_in_ = sequences[0].shape[1]
        record_feature_names(self, X)
        template = LSTMClassifier() if self.estimator is None else self.estimator
        self.estimators_ = []
        for length in self.segment_frames:
            segments, owners = self._segments(sequences, length)
            estimator = clone(template)
            takes_groups = "groups" in inspect.signature(estimator.fit).parameters
            fit_params = {"groups": np.asarray(groups)[owners]} if groups is not None and takes_groups else {}
            self.estimators_.append(estimator.fit(segments, y[owners], **fit_params))
        return self

    def predict_proba(self, X):
        """Mean over scales of the mean segment probabilities of each utterance.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), or 3-D array
            Feature sequences.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        sequences = check_sequences(X, n_features=self.n_features_in_)
        fused = np.zeros((len(sequences), len(self.classes_)))
        for length, estimator in zip(self.segment_frames, self.estimators_):
            segments, owners = self._segments(sequences, length)
            proba = np.zeros_like(fused)
            columns = np.searchsorted(self.classes_, estimator.classes_)
            np.add.at(proba, (owners[:, None], columns[None, :]), estimator.predict_proba(segments))
            fused += proba / np.bincount(owners, minlength=len(sequences))[:, None]
        return fused / len(self.estimators_)

    def predict(self, X):
        """Label with the highest fused probability.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), or 3-D array
            Feature sequences.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # first: unfitted, it raises NotFittedError, not classes_'s AttributeError
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

    def _segments(self, sequences, length):
        hop = max(1, int(round(length * self.hop_fraction)))
        segments, owners = [], []
        for index, sequence in enumerate(sequences):
            pieces = segment(sequence, length, hop)
            segments.extend(pieces)
            owners.extend([index] * len(pieces))
        return segments, np.asarray(owners)
