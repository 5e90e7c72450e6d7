"""What a fitted pipeline needs from its audio: the rate it reads at, and the shortest window it can use."""

from __future__ import annotations

from numbers import Integral

from ..features._audio_transformer import AudioFeatureTransformer
from ..features._opensmile import MIN_DURATION_MS

#: The shortest analysis frame assumed of a feature that declares none (25 ms, the usual speech frame).
DEFAULT_FRAME_SECONDS = 0.025


def audio_transformers(model):
    """The audio transformers anywhere in ``model``: pipeline steps, union parts, ensemble members.

    The tree is walked through what a fitted meta-estimator predicts with
    (``best_estimator_``, ``estimators_``, ``estimator_``) where it has
    them, else through ``get_params(deep=False)``, the public way a
    meta-estimator exposes what it holds (``steps``, ``transformer_list``,
    ``estimators``, ``estimator``, ...).
    """
    found, pending = [], [model]
    while pending:
        estimator = pending.pop()
        if isinstance(estimator, AudioFeatureTransformer):
            found.append(estimator)
        fitted = [getattr(estimator, name) for name in _FITTED_MEMBERS if hasattr(estimator, name)]
        if fitted:
            pending.extend(_held_estimators(fitted))
        elif hasattr(estimator, "get_params") and not isinstance(estimator, type):
            pending.extend(_held_estimators(estimator.get_params(deep=False).values()))
    return found


#: The attributes of a fitted meta-estimator that hold the estimators it predicts with.
_FITTED_MEMBERS = ("best_estimator_", "estimators_", "estimator_")


def _held_estimators(values):
    for value in values:
        if hasattr(value, "get_params") and not isinstance(value, type):
            yield value
        elif isinstance(value, (list, tuple)):
            entries = (entry if isinstance(entry, tuple) else (entry,) for entry in value)
            yield from _held_estimators(item for entry in entries for item in entry)


def audio_rate(model):
    """The sampling rate (Hz) at which every audio transformer of ``model`` reads.

    Raises
    ------
    ValueError
        If ``model`` holds no audio transformer, or its transformers read
        at different rates.
    """
    rates = sorted({int(transformer.sr) for transformer in audio_transformers(model)})
    if not rates:
        raise ValueError(
            f"The model ({type(model).__name__}) has no step that reads audio (an audio feature transformer "
            "with an sr parameter, such as MelSpectrogram or MFCC); a timeline needs a pipeline from waveforms."
        )
    if len(rates) > 1:
        raise ValueError(f"The model's audio transformers read at different rates {rates}; a timeline needs one.")
    return rates[0]


def minimum_window(model):
    """The shortest window (seconds) that holds one whole analysis frame of every audio feature of ``model``.

    A feature with an ``n_fft`` parameter (the spectral ones) analyses
    frames of ``n_fft`` samples at its ``sr``; the openSMILE features
    (those with a ``feature_set``) need their longest analysis window,
    60 ms; others are taken to need :data:`DEFAULT_FRAME_SECONDS`. A
    shorter window would give features of a zero-padded frame: of the
    padding, not of the speech.
    """
    frames = [_frame_seconds(transformer) for transformer in audio_transformers(model)]
    return max(frames, default=DEFAULT_FRAME_SECONDS)


def _frame_seconds(transformer):
    if isinstance(getattr(transformer, "n_fft", None), Integral):
        return transformer.n_fft / transformer.sr
    if hasattr(transformer, "feature_set"):
        return MIN_DURATION_MS / 1000
    return DEFAULT_FRAME_SECONDS
