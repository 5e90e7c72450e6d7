"""sklearn-ser: scikit-learn compatible speech emotion recognition.

Transformers that read audio files (or waveforms) and produce feature
sequences, sequence models, corpus loaders and honest evaluation protocols,
all usable in scikit-learn ``Pipeline`` objects.
"""

from ._audio import InvalidAudioError, load_audio

__version__ = "0.1.0"

__all__ = ["InvalidAudioError", "load_audio", "__version__"]
