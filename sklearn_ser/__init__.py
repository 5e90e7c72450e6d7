"""sklearn-ser: scikit-learn compatible speech emotion recognition.

Transformers that read audio files (or waveforms) and produce feature
sequences, sequence models, corpus loaders and honest evaluation protocols,
all usable in scikit-learn ``Pipeline`` objects.
"""

__version__ = "0.1.0"

__all__ = ["InvalidAudioError", "load_audio", "__version__"]


def __getattr__(name):
    # The audio layer is imported on first use, so that the sequence models load without it.
    if name in ("InvalidAudioError", "load_audio"):
        from . import _audio

        return getattr(_audio, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
