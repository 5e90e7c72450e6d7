"""sklearn-ser: scikit-learn compatible speech emotion recognition.

Transformers that read audio files (or waveforms) and produce feature
sequences, sequence models, corpus loaders and honest evaluation protocols,
all usable in scikit-learn ``Pipeline`` objects.
"""

__version__ = "0.1.0"

__all__ = ["FeatureCacheWarning", "InvalidAudioError", "load_audio", "__version__"]
_AUDIO_LAYER = {"InvalidAudioError": "_audio", "load_audio": "_audio", "FeatureCacheWarning": "_cache"}


def __getattr__(name):
    # The audio layer is imported on first use, so that the sequence models load without it.
    if name in _AUDIO_LAYER:
        import importlib

        return getattr(importlib.import_module(f".{_AUDIO_LAYER[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
