"""What a fitted pipeline needs from its audio: the rate it reads at, and the shortest window it can use."""

from __future__ import annotations

from numbers import Integral

from ..features._audio_transformer import AudioFeatureTransformer

#: The shortest analysis frame assumed of a feature that declares none (25 ms, the usual speech frame).
DEFAULT_FRAME_SECONDS = 0.025


def audio_transformers(model):
    """The audio transformers anywhere in ``model``: pipeline steps, union parts, ensemble members.

    The tree is walked through ``get_params(deep=False)``, the public way a
    meta-estimator exposes what it holds (``steps``, ``transformer_list``,
    ``estimators``, ``estimator``, ...).
    """
    found, pending = [], [model]
    while pending:
        estimator = pending.pop()
        if isinstance(estimator, AudioFeatureTransformer):
            found.append(estimator)
        if hasattr(estimator, "get_params") and not isinstance(estimator, type):
            pending.extend(_held(estimator.get_params(deep=False).values()))
    return found


def _held(values):
    for value in values:
        if hasattr(value, "get_params") and not isinstance(value, type):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from _held(item for entry in value for item in (entry if isinstance(entry, tuple) else (entry,)))


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
    frames of ``n_fft`` samples at its ``sr``; others are taken to need
    :data:`DEFAULT_FRAME_SECONDS`. A shorter window would give features of
    a zero-padded frame: of the padding, not of the speech.
    """
    frames = [
        transformer.n_fft / transformer.sr
        if isinstance(getattr(transformer, "n_fft", None), Integral)
        else DEFAULT_FRAME_SECONDS
        for transformer in audio_transformers(model)
    ]
    return max(frames, default=DEFAULT_FRAME_SECONDS)
