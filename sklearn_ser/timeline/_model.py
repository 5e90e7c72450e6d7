"""What a fitted pipeline needs from its audio: the rate it reads at, and the shortest window it can use."""

from __future__ import annotations

from .._estimator_tree import estimators_of_type
from ..features._audio_transformer import AudioFeatureTransformer


def audio_transformers(model):
    """The audio transformers anywhere in ``model``: pipeline steps, union parts, ensemble members."""
    return estimators_of_type(model, AudioFeatureTransformer)


def audio_rate(model):
    """The sampling rate (Hz) at which every audio transformer of ``model`` reads.

    Raises
    ------
    ValueError
        If ``model`` holds no audio transformer, or its transformers read
        at different rates.
    """
    readers = {}
    for transformer in audio_transformers(model):
        readers.setdefault(int(transformer.sr), []).append(type(transformer).__name__)
    if not readers:
        raise ValueError(
            f"The model ({type(model).__name__}) has no step that reads audio (an audio feature transformer "
            "with an sr parameter, such as MelSpectrogram or MFCC); a timeline needs a pipeline from waveforms."
        )
    if len(readers) > 1:
        which = "; ".join(f"{', '.join(sorted(names))} at {rate} Hz" for rate, names in sorted(readers.items()))
        raise ValueError(
            f"The model's audio transformers read at different rates ({which}); a timeline feeds every "
            "transformer the same windows, at one rate: fit the model with one sr for all of them."
        )
    return next(iter(readers))


def minimum_window(model):
    """The shortest window (seconds) that fills one whole analysis frame of every audio feature of ``model``.

    Each audio transformer says how much input that takes (the spectral
    features: ``n_fft`` samples at ``sr``; openSMILE: its 60 ms pitch
    window; others: 25 ms). A shorter window would give features of a
    zero-padded frame: of the padding, not of the speech.
    """
    return max(transformer._analysis_seconds() for transformer in audio_transformers(model))
