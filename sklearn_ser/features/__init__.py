"""Feature transformers: audio to sequences, sequences to sequences or vectors."""

from ._base import FeatureSequences, check_sequences
from ._delta import DeltaStack
from ._pooling import SequencePooling
from ._spectral import MFCC, MelSpectrogram

__all__ = ["MelSpectrogram", "MFCC", "DeltaStack", "SequencePooling", "FeatureSequences", "check_sequences"]
