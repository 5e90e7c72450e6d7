"""Per-speaker standardization of features, with speaker ids routed as metadata."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from .._sequences import (
    FeatureSequences,
    SequenceOutputMixin,
    check_sequences,
    frame_statistics,
    holds_sequences,
    record_feature_names,
)
from ._enrolment import note_unknown_speakers


class SpeakerNormalizer(SequenceOutputMixin, TransformerMixin, BaseEstimator):
    """Standardize features per speaker (speaker-level normalization).

    Every feature is centred and scaled with the mean and standard deviation
    of the speaker's own utterances, which removes much of what separates
    one voice from another (pitch range, vocal-tract length, recording
    level) and is known to help speaker-independent emotion recognition.

    Works on feature sequences (statistics over all frames of a speaker's
    utterances) and on 2-D feature tables (statistics over a speaker's rows).
    ``X`` holds sequences when it is a 3-D array, or a list, tuple or 1-D
    object array whose items are 2-D ``(n_frames, n_features)`` arrays;
    anything else (a 2-D array, a list of rows, a DataFrame, a sparse
    matrix) is a table, one row per utterance, checked as scikit-learn
    checks tables.

    Speaker ids reach it through scikit-learn's metadata routing as
    ``speaker``, in ``fit`` and in ``transform``; both are requested by
    default, so inside a Pipeline it is enough to enable routing and pass
    ``speaker=`` to ``fit`` and ``predict``::

        with sklearn.config_context(enable_metadata_routing=True):
            pipe.fit(paths, labels, speaker=speakers)
            pipe.predict(new_paths, speaker=new_speakers)

    :func:`sklearn_ser.evaluation.evaluate` does this for you.

    In ``transform``, a speaker seen in ``fit`` is normalized with the
    statistics learned there; a new speaker with the statistics of its own
    utterances in the data being transformed (so give a new speaker's
    utterances together). The output keeps the input's kind (float32
    sequences, or a 2-D array of the input's float dtype) and is never
    wrapped by ``set_output``. Without speaker ids,
    sequences are normalized per
    utterance (each utterance's own mean and standard deviation over its
    frames, i.e. cepstral mean and variance normalization), and 2-D
    features with the statistics of all training rows; when ``fit`` had
    speaker ids, a ``UserWarning`` says so, since a model trained on
    per-speaker features then sees other features (across TESS's speakers
    the ``lstm-best`` recipe falls from 67.9% to 34.8%: ``docs/evaluation.md``).

    Attributes
    ----------
    speaker_statistics_ : dict
        ``speaker -> (mean, scale)`` learned in :meth:`fit`.
    mean_, scale_ : ndarray of shape (n_features,)
        Statistics of all training frames or rows.
    n_features_in_ : int
        Features per frame (or columns).
    feature_names_in_ : ndarray of str objects
        Names of those features, when the input carried them (the
        :class:`FeatureSequences` of a feature transformer, or a DataFrame's
        columns).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import SpeakerNormalizer
    >>> X = np.array([[100.0], [110.0], [200.0], [220.0]])
    >>> speakers = ["low", "low", "high", "high"]
    >>> norm = SpeakerNormalizer().fit(X, speaker=speakers)
    >>> norm.transform(X, speaker=speakers).ravel()
    array([-1.,  1., -1.,  1.])
    >>> norm.transform(np.array([[300.0], [360.0]]), speaker=["new", "new"]).ravel()
    array([-1.,  1.])
    """

    __metadata_request__fit = {"speaker": True}
    __metadata_request__transform = {"speaker": True}
    _parameter_constraints = {}

    def __init__(self):
        pass

    def fit(self, X, y=None, speaker=None):
        """Learn the statistics of every speaker and of all the data.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), 3-D array, or 2-D array
            Feature sequences, or one feature vector per utterance.
        y : None
            Ignored.
        speaker : array-like of shape (n_samples,), optional
            Speaker of each utterance.

        Returns
        -------
        self : object
        """
        self._validate_params()
        items, _ = self._check_items(X, reset=True)
        speaker = self._check_speaker(speaker, len(items))
        self.mean_, self.scale_ = frame_statistics(items)
        self.speaker_statistics_ = {}
        if speaker is not None:
            for name in np.unique(speaker):
                chosen = [item for item, owner in zip(items, speaker) if owner == name]
                self.speaker_statistics_[name] = frame_statistics(chosen)
        return self

    def transform(self, X, speaker=None):
        """Standardize per speaker (or per utterance without speaker ids).

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), 3-D array, or 2-D array
            Feature sequences or vectors with the features seen in :meth:`fit`.
        speaker : array-like of shape (n_samples,), optional
            Speaker of each utterance.

        Returns
        -------
        X_normalized : FeatureSequences or ndarray of shape (n_samples, n_features)
            The same kind of data as ``X``: float32 sequences, or an array of
            the table's float dtype (float32 stays float32, anything else
            becomes float64).
        """
        check_is_fitted(self)
        items, is_sequence = self._check_items(X, reset=False)
        speaker = self._check_speaker(speaker, len(items))
        if speaker is None and self.speaker_statistics_:
            instead = (
                "each utterance by its own statistics" if is_sequence else "with the statistics of all training data"
            )
            warnings.warn(
                "SpeakerNormalizer was fitted per speaker but got no speaker ids to transform: it normalizes "
                f"{instead} instead, which can cost much of a model's accuracy on new speakers. Pass the speaker "
                "of each utterance as speaker= (with sklearn.config_context(enable_metadata_routing=True) in a "
                "pipeline), or 'sklearn-ser predict --speaker'.",
                UserWarning,
                stacklevel=2,
            )
        if speaker is None and is_sequence:
            per_item = [frame_statistics([item]) for item in items]
        elif speaker is None:
            per_item = [(self.mean_, self.scale_)] * len(items)
        else:
            note_unknown_speakers(self, items, speaker)
            statistics = dict(self.speaker_statistics_)
            for name in np.unique(speaker):
                if name not in statistics:
                    chosen = [item for item, owner in zip(items, speaker) if owner == name]
                    statistics[name] = frame_statistics(chosen)
            per_item = [statistics[owner] for owner in speaker]
        out = [(item - mean) / scale for item, (mean, scale) in zip(items, per_item)]
        if is_sequence:
            return FeatureSequences([o.astype(np.float32) for o in out], self.get_feature_names_out())
        return np.vstack(out).astype(items[0].dtype, copy=False)

    def fit_transform(self, X, y=None, speaker=None):
        """Fit, then transform ``X`` with the same speaker ids.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), 3-D array, or 2-D array
            Feature sequences or vectors.
        y : None
            Ignored.
        speaker : array-like of shape (n_samples,), optional
            Speaker of each utterance.

        Returns
        -------
        X_normalized : FeatureSequences or ndarray of shape (n_samples, n_features)
        """
        return self.fit(X, y, speaker=speaker).transform(X, speaker=speaker)

    def get_feature_names_out(self, input_features=None):
        """The input feature names, unchanged.

        Parameters
        ----------
        input_features : array-like of str or None
            Input feature names; ``x0, x1, ...`` when None.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        from sklearn.utils.validation import _check_feature_names_in

        check_is_fitted(self)
        return _check_feature_names_in(self, input_features)

    def _check_items(self, X, *, reset):
        """The utterances of ``X`` as 2-D arrays (a table's rows as one-row arrays), and whether they are sequences."""
        is_sequence = holds_sequences(X)
        if not is_sequence:
            array = check_array(X, dtype=(np.float64, np.float32))
        if not reset and is_sequence != self._fitted_on_sequences:
            kinds = {True: "feature sequences", False: "a 2-D array"}
            raise ValueError(f"SpeakerNormalizer was fitted on {kinds[not is_sequence]} but got {kinds[is_sequence]}.")
        if is_sequence:
            items = check_sequences(X, n_features=None if reset else self.n_features_in_)
            if reset:
                self.n_features_in_ = items[0].shape[1]
                record_feature_names(self, X)
        else:
            validate_data(self, X, reset=reset, skip_check_array=True)  # n_features_in_ and a DataFrame's names
            items = list(array[:, None, :])
        if reset:
            self._fitted_on_sequences = is_sequence
        return items, is_sequence

    @staticmethod
    def _check_speaker(speaker, n_samples):
        if speaker is None:
            return None
        speaker = column_or_1d(np.asarray(speaker, dtype=object))
        if len(speaker) != n_samples:
            raise ValueError(f"speaker has {len(speaker)} entries but X has {n_samples} utterances.")
        return speaker

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
