"""AugmentedClassifier: a classifier fitted on augmented data, with the metadata following the copies."""

from __future__ import annotations

from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, _routing_enabled, process_routing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _is_arraylike_not_scalar, _num_samples, check_is_fitted

from .._sampling_rates import audio_readers, reading_rate

_PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")


def _estimator_has(method):
    return lambda self: hasattr(self.estimator, method)


class AugmentedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit a classifier on augmented training data; predict with it unchanged.

    :meth:`fit` resamples the training data with ``augmenter`` (for example
    a :class:`WaveformAugmenter`) and fits a clone of ``estimator`` on the
    result; the prediction methods call the fitted estimator directly, so
    they never augment. Per-utterance metadata given to :meth:`fit`
    (``speaker``, ``groups``, ``sample_weight``) is resampled with the
    data: every copy carries the value of the utterance it was made from
    (through the augmenter's ``sample_indices_``). This is what an
    :class:`imblearn.pipeline.Pipeline` does not do, so a pipeline with a
    :class:`~sklearn_ser.features.SpeakerNormalizer` needs this wrapper to
    be augmented.

    Metadata reaches ``estimator`` through scikit-learn's metadata routing
    when it is enabled (as :func:`sklearn_ser.evaluation.evaluate` does),
    and is passed to ``estimator.fit`` and the prediction methods as it is
    otherwise.

    Parameters
    ----------
    estimator : estimator
        Classifier (or pipeline ending in one) taking the augmenter's
        output: waveforms at the augmenter's ``sr``. Its steps that read
        audio (those with an ``sr``, such as :class:`~sklearn_ser.features.MFCC`)
        must read at that rate: :meth:`fit` refuses them otherwise.
    augmenter : sampler
        Object with ``fit_resample(X, y)`` returning the augmented ``X`` and
        ``y``, and a ``sample_indices_`` attribute afterwards when metadata
        is given.

    Attributes
    ----------
    estimator_ : estimator
        The clone of ``estimator`` fitted on the augmented data.
    augmenter_ : sampler
        The clone of ``augmenter`` that made it.
    classes_ : ndarray of shape (n_classes,)
        The labels, as ``estimator_`` has them.

    See Also
    --------
    WaveformAugmenter : Speed, noise and gain augmentation of utterances.

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> from sklearn_ser.augmentation import AugmentedClassifier, WaveformAugmenter
    >>> from sklearn_ser.features import MFCC, SequencePooling, SpeakerNormalizer
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(4000) / 8000
    >>> X = [(np.sin(2 * np.pi * f * t) + 0.1 * rng.standard_normal(4000)).astype(np.float32)
    ...      for f in (200, 210, 800, 820)]
    >>> y, speakers = ["low", "low", "high", "high"], ["a", "b", "a", "b"]
    >>> features = make_pipeline(
    ...     MFCC(sr=8000, n_mfcc=8, n_mels=20), SpeakerNormalizer(), SequencePooling(), SVC()
    ... )
    >>> clf = AugmentedClassifier(features, WaveformAugmenter(sr=8000, n_copies=2, random_state=0))
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     predictions = clf.fit(X, y, speaker=speakers).predict(X, speaker=speakers)
    >>> predictions.tolist()
    ['low', 'low', 'high', 'high']
    >>> clf.augmenter_.sample_indices_
    array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "augmenter": [HasMethods(["fit_resample"])],
    }

    def __init__(self, estimator, augmenter):
        self.estimator = estimator
        self.augmenter = augmenter

    def fit(self, X, y, **fit_params):
        """Augment ``X`` and ``y``, resample the metadata alike, and fit the estimator.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Training utterances, as the augmenter takes them.
        y : array-like of shape (n_samples,)
            Their labels.
        **fit_params : dict
            Metadata for ``estimator.fit`` (routed when metadata routing is
            enabled). Values with one entry per utterance are resampled with
            ``X``; others are passed unchanged.

        Returns
        -------
        self : object

        Raises
        ------
        ValueError
            If a step of ``estimator`` reads audio at another sampling rate
            than the augmenter's ``sr``, naming the step and both rates.
        """
        self._validate_params()
        self._check_rates(self.estimator)
        if _routing_enabled():
            fit_params = process_routing(self, "fit", **fit_params).estimator.fit
        n_samples = _num_samples(X)
        self.augmenter_ = clone(self.augmenter)
        X_res, y_res = self.augmenter_.fit_resample(X, y)
        per_sample = [key for key, value in fit_params.items() if _is_per_sample(value, n_samples)]
        if per_sample and not hasattr(self.augmenter_, "sample_indices_"):
            raise ValueError(
                f"augmenter {type(self.augmenter_).__name__} has no sample_indices_ after fit_resample, so "
                f"the augmented utterances cannot be given their metadata {per_sample}."
            )
        fit_params = {
            key: _safe_indexing(value, self.augmenter_.sample_indices_) if key in per_sample else value
            for key, value in fit_params.items()
        }
        estimator = clone(self.estimator).fit(X_res, y_res, **fit_params)
        self._check_rates(estimator)  # the rates that steps know once fitted (a SpeechEmbedder's model rate)
        self.estimator_ = estimator
        return self

    @property
    def classes_(self):
        """The labels, as the fitted estimator has them."""
        check_is_fitted(self)
        return self.estimator_.classes_

    @available_if(_estimator_has("predict"))
    def predict(self, X, **params):
        """Predict with the fitted estimator; ``X`` is not augmented.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Utterances, as the estimator takes them.
        **params : dict
            Metadata for the estimator's ``predict`` (e.g. ``speaker``).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._delegate("predict", X, params)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X, **params):
        """Class probabilities of the fitted estimator; ``X`` is not augmented.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Utterances, as the estimator takes them.
        **params : dict
            Metadata for the estimator's ``predict_proba``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._delegate("predict_proba", X, params)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X, **params):
        """Log class probabilities of the fitted estimator; ``X`` is not augmented.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Utterances, as the estimator takes them.
        **params : dict
            Metadata for the estimator's ``predict_log_proba``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return self._delegate("predict_log_proba", X, params)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X, **params):
        """Decision scores of the fitted estimator; ``X`` is not augmented.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Utterances, as the estimator takes them.
        **params : dict
            Metadata for the estimator's ``decision_function``.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return self._delegate("decision_function", X, params)

    def get_metadata_routing(self):
        """Route the metadata of ``fit`` and of the prediction methods to ``estimator``.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
        """
        mapping = MethodMapping().add(caller="fit", callee="fit")
        for method in _PREDICT_METHODS:
            mapping.add(caller=method, callee=method)
        return MetadataRouter(owner=self).add(estimator=self.estimator, method_mapping=mapping)

    def _check_rates(self, estimator):
        """Refuse an estimator whose audio steps read at another rate than the augmenter's waveforms have."""
        rate = reading_rate(self.augmenter)
        if rate is None:
            return
        for path, step, step_rate in audio_readers(estimator, "estimator"):
            if step_rate == rate:
                continue
            settable = "[" not in path and "sr" in step.get_params(deep=False)
            remedy = f"augmenter__sr={step_rate}" + (f" or {path}__sr={rate}" if settable else "")
            raise ValueError(
                f"AugmentedClassifier's augmenter ({type(self.augmenter).__name__}) makes waveforms at "
                f"sr={rate} Hz, but the estimator's step {path!r} ({type(step).__name__}) reads them as audio at "
                f"sr={step_rate} Hz: it would compute its features from audio at the wrong rate. Give both the "
                f"same rate, e.g. {remedy}."
            )

    def _delegate(self, method, X, params):
        check_is_fitted(self)
        if _routing_enabled():
            params = getattr(process_routing(self, method, **params).estimator, method)
        return getattr(self.estimator_, method)(X, **params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if hasattr(self.augmenter, "__sklearn_tags__"):
            tags.input_tags = get_tags(self.augmenter).input_tags  # the augmenter reads X, not the estimator
        augmenter_seed = getattr(self.augmenter, "random_state", 0)
        tags.non_deterministic = get_tags(self.estimator).non_deterministic or augmenter_seed is None
        return tags


def _is_per_sample(value, n_samples):
    """Whether a metadata value holds one entry per utterance (and is resampled with them)."""
    return _is_arraylike_not_scalar(value) and _num_samples(value) == n_samples
