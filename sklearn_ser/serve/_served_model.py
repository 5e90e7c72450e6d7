"""A fitted model made ready to serve: loaded once, without a feature cache, its predictions described."""

from __future__ import annotations

import copy
import os
import warnings

import numpy as np

from .. import __version__
from .._predict import check_predicting_model, load_model
from ..timeline._model import audio_rate
from ..timeline._trained_on import TRAINED_ON

#: A timeline's window and hop when the model was not fitted on windows.
DEFAULT_WINDOW, DEFAULT_HOP = 2.0, 1.0


class ServedModel:
    """The model behind the service, loaded once from the path the operator gave.

    The steps' feature caches are switched off (uploads are never seen
    twice, so caching their features would only grow the cache) and their
    ``n_jobs`` set to 1: the service runs requests side by side instead.

    Parameters
    ----------
    model : str, path-like or estimator
        A model file written by ``sklearn-ser fit`` or :func:`joblib.dump`,
        or a fitted estimator.

    Raises
    ------
    ValueError, OSError
        If the file cannot be loaded, or the model is not fitted or does not
        read audio.
    """

    def __init__(self, model):
        self.source = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
        pipeline = load_model(model) if self.source else copy.deepcopy(model)  # the caller's own model is not changed
        name = f"The model in '{self.source}'" if self.source else "The model"
        check_predicting_model(pipeline, name=name)
        self.pipeline = _without_caches_and_jobs(pipeline)
        self.sr = audio_rate(self.pipeline)
        self.classes = [_plain(label) for label in getattr(self.pipeline, "classes_", [])]
        self.has_probabilities = hasattr(self.pipeline, "predict_proba")
        trained_on = getattr(self.pipeline, TRAINED_ON, None) or {}
        self.recipe = trained_on.get("recipe")
        self.window = trained_on.get("window") or DEFAULT_WINDOW
        self.hop = trained_on.get("hop") or (self.window / 2 if trained_on.get("window") else DEFAULT_HOP)
        self.wants_speaker = _wants_speaker(self.pipeline)

    def describe(self):
        """What ``GET /model`` says about the model."""
        return {
            "classes": self.classes,
            "sr": self.sr,
            "recipe": self.recipe,
            "wants_speaker": self.wants_speaker,
            "probabilities": self.has_probabilities,
            "version": __version__,
            "timeline": {"window": self.window, "hop": self.hop},
        }


def _without_caches_and_jobs(pipeline):
    settings = {}
    for key, value in pipeline.get_params(deep=True).items():
        if key.split("__")[-1] == "memory" and value is not None:
            settings[key] = None
        elif key.split("__")[-1] == "n_jobs" and value not in (None, 1):
            settings[key] = 1
    if settings:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline.set_params(**settings)
    return pipeline


def _wants_speaker(pipeline):
    from ..features._enrolment import speaker_normalizers

    return bool(speaker_normalizers(pipeline))


def _plain(label):
    """A class label as JSON has it: numpy scalars as Python ones."""
    return label.item() if isinstance(label, np.generic) else label
