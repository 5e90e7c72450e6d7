"""Enrolling a new speaker: the statistics of its utterances stored in every SpeakerNormalizer of a model."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

import numpy as np

from .._estimator_tree import estimators_of_type

_RECORD = contextvars.ContextVar("sklearn_ser_speaker_enrolment", default=None)


class _Moments:
    """Running count, sum and sum of squares of a speaker's frames, in float64."""

    def __init__(self, n_features):
        self.n = 0
        self.total = np.zeros(n_features)
        self.squares = np.zeros(n_features)

    def add(self, items):
        for item in items:
            self.n += len(item)
            self.total += item.sum(axis=0, dtype=np.float64)
            self.squares += np.square(item, dtype=np.float64).sum(axis=0)

    def statistics(self):
        mean = self.total / self.n
        scale = np.sqrt(np.maximum(self.squares / self.n - np.square(mean), 0.0))
        return mean, np.where(scale > 0, scale, 1.0)


def note_unknown_speakers(normalizer, items, speaker):
    """While enrolling, add the frames of the speakers ``normalizer`` does not know to their running moments."""
    record = _RECORD.get()
    if record is None or speaker is None:
        return
    for name in np.unique(speaker):
        if name in normalizer.speaker_statistics_:
            continue
        key = (id(normalizer), name)
        if key not in record:
            record[key] = (normalizer, name, _Moments(normalizer.n_features_in_))
        record[key][2].add([item for item, owner in zip(items, speaker) if owner == name])


@contextmanager
def enrolling_speakers():
    """While active, every SpeakerNormalizer accumulates the frames of the speakers it does not know.

    On a normal exit their statistics are stored in each normalizer's
    ``speaker_statistics_``, as if those speakers had been in its training
    data; their transforms meanwhile use the statistics of the data at hand.
    """
    record = {}
    token = _RECORD.set(record)
    try:
        yield
    finally:
        _RECORD.reset(token)
    for normalizer, name, moments in record.values():
        normalizer.speaker_statistics_[name] = moments.statistics()


def speaker_normalizers(model):
    """Every SpeakerNormalizer in ``model`` (pipeline steps, unions, fitted members)."""
    from ._speaker import SpeakerNormalizer

    return estimators_of_type(model, SpeakerNormalizer)


def enrol_speaker(model, X, speaker):
    """Store the statistics of a new speaker's utterances in every SpeakerNormalizer of a fitted model.

    A model that normalizes per speaker standardizes a new speaker's
    utterances by the statistics of those given with them. Enrolling the
    speaker first, from utterances of its own (many, covering several
    emotions), lets it then predict any of that speaker's audio, even one
    short window at a time, by those statistics: pass ``speaker=`` with the
    same id when predicting (with metadata routing enabled).

    Parameters
    ----------
    model : estimator
        A fitted pipeline with a :class:`SpeakerNormalizer`, modified in
        place.
    X : sequence of paths or waveforms
        The speaker's utterances, as the model takes them.
    speaker : str
        The new speaker's id.

    Returns
    -------
    model : estimator
        The same model.

    Raises
    ------
    ValueError
        If the model has no SpeakerNormalizer, or one of them already knows
        ``speaker`` (a training speaker's statistics are never replaced).

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_ser.features import SpeakerNormalizer, enrol_speaker
    >>> X = np.array([[1.0], [3.0], [10.0], [14.0]])
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     model = make_pipeline(SpeakerNormalizer(), LogisticRegression().set_fit_request(sample_weight=False))
    ...     model = model.fit(X, ["low", "high", "low", "high"], speaker=["a", "a", "b", "b"])
    ...     _ = enrol_speaker(model, np.array([[100.0], [120.0]]), "c")
    ...     model.predict(np.array([[118.0]]), speaker=["c"]).tolist()
    ['high']
    >>> model[0].speaker_statistics_["c"]
    (array([110.]), array([10.]))
    """
    from .._routing import as_one_speaker

    normalizers = speaker_normalizers(model)
    if not normalizers:
        raise ValueError(f"The model ({type(model).__name__}) has no SpeakerNormalizer: it uses no speaker statistics.")
    known = [normalizer for normalizer in normalizers if speaker in normalizer.speaker_statistics_]
    if known:
        raise ValueError(
            f"Speaker {speaker!r} is one of the model's training speakers: its statistics are kept, not replaced. "
            "Enrol a new speaker under a new id."
        )
    predict = as_one_speaker(model, "predict_proba" if hasattr(model, "predict_proba") else "predict", speaker)
    with enrolling_speakers():
        predict(X)
    return model
