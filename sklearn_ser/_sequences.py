"""Feature sequences: what they are, how they are checked, named and summarised.

A sequence is one utterance's features, a float32 array of shape
``(n_frames, n_features)``, time first. This module is the vocabulary that
the sequence transformers and the sequence models share; it imports nothing
of audio decoding, caching or extraction.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted


class FeatureSequences(list):
    """A list of ``(n_frames, n_features)`` arrays that knows its feature names.

    Returned by every sequence-producing transformer; the next step records
    the names as ``feature_names_in_``, as scikit-learn does for DataFrame
    columns. It is a plain ``list`` otherwise (indexing returns arrays, and
    ``sklearn.utils._safe_indexing`` returns a list).

    Parameters
    ----------
    sequences : iterable of ndarray
        The per-utterance arrays.
    feature_names : array-like of str
        Names of the features (columns) of every array.
    """

    def __init__(self, sequences, feature_names):
        super().__init__(sequences)
        self.feature_names = np.asarray(feature_names, dtype=object)


def record_feature_names(estimator, X):
    """Set or clear ``feature_names_in_`` from a :class:`FeatureSequences`."""
    names = getattr(X, "feature_names", None)
    if names is not None and len(names) == estimator.n_features_in_:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


class SequenceOutputMixin:
    """Transformers whose output is a list of ``(n_frames, n_features)`` arrays.

    Their output is not tabular, so ``set_output`` leaves it unchanged: a
    Pipeline's ``set_output(transform="pandas")`` then applies to the step
    that makes the data tabular (e.g. :class:`SequencePooling`). Output
    wrapping is switched off for every subclass, so a global
    ``sklearn.set_config(transform_output="pandas")`` leaves them alone too.
    """

    def __init_subclass__(cls, **kwargs):
        kwargs["auto_wrap_output_keys"] = None
        super().__init_subclass__(**kwargs)

    def set_output(self, *, transform=None):
        """Accept an output configuration; sequence outputs are unaffected.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None
            Ignored.

        Returns
        -------
        self : estimator
        """
        return self


class SequenceInputMixin:
    """Fitting and input checking of the transformers that take sequences.

    ``fit`` records ``n_features_in_`` (features per frame) and, when the
    input carries them, ``feature_names_in_``; subclasses add parameter
    checks in ``_check_params``.
    """

    def fit(self, X, y=None):
        """Check the parameters and record the number of features per frame.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), or 3-D array
            Feature sequences, e.g. the output of :class:`MelSpectrogram`.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._validate_params()
        self._check_params()
        self.n_features_in_ = check_sequences(X)[0].shape[1]
        record_feature_names(self, X)
        return self

    def _check_params(self):
        """Cross-parameter checks beyond ``_parameter_constraints``."""

    def _check_input(self, X):
        check_is_fitted(self)
        return check_sequences(X, n_features=self.n_features_in_)


class SequenceTransformer(SequenceOutputMixin, SequenceInputMixin, TransformerMixin, BaseEstimator):
    """Base of the transformers that map sequences to sequences.

    Sequences are float32 whatever the input's dtype, so float32 is the one
    dtype they preserve (the ``preserves_dtype`` tag).
    """

    def transform(self, X):
        """Transform every sequence in ``X``.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), or 3-D array
            Feature sequences with the features seen in :meth:`fit`.

        Returns
        -------
        sequences : FeatureSequences
            A list with one float32 array of shape (n_frames, n_features_out)
            per utterance.
        """
        sequences = self._check_input(X)
        return FeatureSequences(map(self._transform_one, sequences), self.get_feature_names_out())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def get_feature_names_out(self, input_features=None):
        """Names of the per-frame output features.

        Parameters
        ----------
        input_features : array-like of str or None
            Names of the input features; ``x0, x1, ...`` when None.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return self._feature_names_out(_check_feature_names_in(self, input_features))


def frame_statistics(sequences):
    """Per-feature mean and standard deviation over every frame of ``sequences``.

    Computed utterance by utterance in float64, without joining the frames
    into one array; a standard deviation of 0 is returned as 1, so that
    dividing by it only centres a constant feature.

    Parameters
    ----------
    sequences : list of ndarray of shape (n_frames, n_features)
        Feature sequences (or single-row arrays).

    Returns
    -------
    mean, scale : ndarray of shape (n_features,)
    """
    n_frames = sum(len(sequence) for sequence in sequences)
    mean = sum(sequence.sum(axis=0, dtype=np.float64) for sequence in sequences) / n_frames
    variance = sum(np.square(sequence - mean).sum(axis=0) for sequence in sequences) / n_frames
    scale = np.sqrt(variance)
    return mean, np.where(scale > 0, scale, 1.0)


def sliding_starts(n_items, length, hop):
    """First index of every window of ``length`` items, every ``hop`` items, over ``n_items``.

    Windows start every ``hop`` while they fit; if the last one ends before
    the items do, one more window ends exactly at the last item (it overlaps
    its predecessor by more than the others do), so that every item is
    covered. At most ``length`` items give one window, starting at 0. The
    segments of :class:`~sklearn_ser.features.SegmentPooling` (frames) and
    the windows of :func:`~sklearn_ser.timeline.predict_timeline` (samples)
    are placed this way.

    Examples
    --------
    >>> from sklearn_ser._sequences import sliding_starts
    >>> sliding_starts(10, 4, 2).tolist()
    [0, 2, 4, 6]
    >>> sliding_starts(11, 4, 2).tolist()
    [0, 2, 4, 6, 7]
    >>> sliding_starts(3, 4, 2).tolist()
    [0]
    """
    last = max(n_items - length, 0)
    starts = np.arange(0, last + 1, hop, dtype=np.int64)
    return starts if starts[-1] == last else np.append(starts, last)


def holds_sequences(X):
    """Whether ``X`` is a batch of feature sequences rather than a 2-D table.

    Sequences: a 3-D numeric array, or a list, tuple or 1-D object array
    whose first item is 2-D (an empty list too, which
    :func:`check_sequences` then reports). Anything else is a table.
    """
    if isinstance(X, np.ndarray) and X.dtype != object:
        return X.ndim == 3
    if isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.ndim == 1):
        return len(X) == 0 or np.ndim(X[0]) == 2
    return False


def check_sequences(X, *, n_features=None):
    """Validate a batch of feature sequences.

    Parameters
    ----------
    X : list or tuple of 2-D arrays, 1-D object array of 2-D arrays, or 3-D array
        One ``(n_frames, n_features)`` array per utterance.
    n_features : int, optional
        Required number of features per frame.

    Returns
    -------
    sequences : list of ndarray of shape (n_frames, n_features), float32

    Raises
    ------
    ValueError
        If ``X`` is empty or not a batch of sequences (a sparse matrix
        included), if a sequence is not 2-D, has no frames, holds complex,
        NaN or infinite values or values that are not numbers, or if the
        sequences do not all have the same (or the required) number of
        features.
    TypeError
        If a sequence holds objects that cannot be numbers at all (e.g. a
        dict), as :func:`numpy.asarray` reports them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import check_sequences
    >>> [s.shape for s in check_sequences([np.zeros((5, 3)), np.ones((7, 3))])]
    [(5, 3), (7, 3)]
    """
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim != 3:
            raise ValueError(
                "Expected feature sequences: a list of (n_frames, n_features) arrays "
                f"or a 3-D array; got an array of shape {X.shape}. Audio goes through "
                "a feature transformer such as MelSpectrogram first."
            )
        items = list(X)
    elif isinstance(X, (list, tuple, np.ndarray)):
        items = list(X)
    elif sparse.issparse(X):
        raise ValueError(
            f"Expected a list of feature sequences, got a sparse matrix ({type(X).__name__}): sparse input is "
            "not supported. Give a list of dense (n_frames, n_features) arrays."
        )
    else:
        raise ValueError(f"Expected a list of feature sequences, got {type(X).__name__}.")
    if not items:
        raise ValueError("X is empty: at least one sequence is required.")
    sequences = [_check_sequence(item, index) for index, item in enumerate(items)]
    expected = sequences[0].shape[1] if n_features is None else n_features
    for index, sequence in enumerate(sequences):
        if sequence.shape[1] != expected:
            raise ValueError(f"X[{index}] has {sequence.shape[1]} features per frame, expected {expected}.")
    return sequences


def _check_sequence(item, index):
    if np.iscomplexobj(item):
        raise ValueError(f"Complex data not supported: X[{index}] holds complex values.")
    try:
        sequence = np.asarray(item, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"X[{index}] is not a numeric (n_frames, n_features) array: {exc}") from exc
    if sequence.ndim != 2:
        raise ValueError(
            f"X[{index}] must be a 2-D (n_frames, n_features) sequence, got shape "
            f"{sequence.shape}. Audio goes through a feature transformer such as "
            "MelSpectrogram first."
        )
    for axis, what in ((0, "frame(s)"), (1, "feature(s)")):
        if sequence.shape[axis] == 0:
            raise ValueError(
                f"X[{index}] is empty: 0 {what} (shape={sequence.shape}) while a minimum of 1 is required."
            )
    if not np.isfinite(sequence).all():
        raise ValueError(f"X[{index}] holds NaN or infinite values.")
    return np.ascontiguousarray(sequence)
