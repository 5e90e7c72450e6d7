"""The base of the transformers that compute features from audio."""

from __future__ import annotations

import os
from abc import ABCMeta, abstractmethod
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, StrOptions

from .._audio import check_audio_input
from .._cache import namespace
from .._extraction import BACKENDS, extract
from .._sequences import FeatureSequences, SequenceOutputMixin


class AudioFeatureTransformer(SequenceOutputMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Base of the transformers that compute features from audio.

    A subclass implements the abstract hooks :meth:`_make_computer` and
    :meth:`_n_features_out`, names its features through ``_feature_prefix``,
    and takes the execution parameters ``n_jobs``, ``backend``, ``memory``
    and ``verbose`` (left out of the cache namespace: they do not change the
    features) besides ``sr``. A subclass that leaves a hook out cannot be
    instantiated.
    """

    _feature_prefix = "feature"
    _parameter_constraints = {
        "n_jobs": [Integral, None],
        "backend": [StrOptions(set(BACKENDS)), None],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }
    _extraction_params = frozenset({"n_jobs", "backend", "memory", "verbose"})

    def fit(self, X, y=None):
        """Check the parameters and the input; nothing is learned.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Audio input; files are not read.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._validate_params()
        self._check_params()
        check_audio_input(X)
        return self

    def transform(self, X):
        """Compute the features of every utterance in ``X``.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Audio files, or waveforms sampled at ``sr``.

        Returns
        -------
        sequences : FeatureSequences
            A list with one float32 array of shape (n_frames, n_features)
            per utterance, time first.
        """
        self._validate_params()
        self._check_params()
        sources = check_audio_input(X)
        sequences = extract(
            sources,
            self._make_computer(),
            sr=self.sr,
            n_jobs=self.n_jobs,
            backend=self.backend,
            memory=self.memory,
            namespace=self._cache_namespace(),
            verbose=self.verbose,
            desc=type(self).__name__,
        )
        return FeatureSequences(sequences, self.get_feature_names_out())

    def get_feature_names_out(self, input_features=None):
        """Names of the per-frame features, e.g. ``mel_0 ... mel_63``.

        Parameters
        ----------
        input_features : None
            Ignored: the features do not depend on the input's columns.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        return np.asarray([f"{self._feature_prefix}_{i}" for i in range(self._n_features_out())], dtype=object)

    @abstractmethod
    def _make_computer(self):
        """A picklable callable mapping a waveform at ``sr`` to a float32 ``(n_frames, n_features)`` array."""

    @abstractmethod
    def _n_features_out(self):
        """The number of features per frame that :meth:`_make_computer`'s callable returns."""

    def _check_params(self):
        """Cross-parameter checks beyond ``_parameter_constraints``."""

    def _analysis_seconds(self):
        """The shortest input (seconds) that fills one whole analysis frame: 25 ms, the usual speech frame.

        Shorter input would give the features of a zero-padded frame: of the
        padding, not of the speech.
        """
        return 0.025

    def _cache_namespace(self):
        return f"{type(self).__name__}-{namespace(type(self).__qualname__, self._cache_params(), self._versions())}"

    def _cache_params(self):
        """The parameters that the features depend on."""
        return {k: v for k, v in sorted(self.get_params().items()) if k not in self._extraction_params}

    def _versions(self):
        """Versions of the libraries that the features depend on."""
        import librosa
        import soundfile
        import soxr

        from .. import __version__

        return (__version__, librosa.__version__, soxr.__version__, soundfile.__libsndfile_version__)

    def __sklearn_is_fitted__(self):
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags
