"""Feature transformers: audio to sequences, sequences to sequences or vectors."""

from .._sequences import FeatureSequences, check_sequences
from ._delta import DeltaStack
from ._densenet import DenseNetEmbedder
from ._egemaps import EGeMAPS
from ._egemaps_frames import EGeMAPSFrames
from ._enrolment import enrol_speaker
from ._pooling import SequencePooling
from ._scaling import SequenceScaler, VectorAsSequence
from ._segment_pooling import SegmentPooling
from ._sequence_union import SequenceUnion
from ._speaker import SpeakerNormalizer
from ._spectral import MFCC, MelSpectrogram
from ._speech import SpeechEmbedder
from ._speech_model import fetch_speech_model
from ._whisper import UnreadableWeightsError

__all__ = [
    "MelSpectrogram",
    "MFCC",
    "DeltaStack",
    "SequenceScaler",
    "SequencePooling",
    "SegmentPooling",
    "SequenceUnion",
    "SpeakerNormalizer",
    "enrol_speaker",
    "VectorAsSequence",
    "DenseNetEmbedder",
    "EGeMAPS",
    "SpeechEmbedder",
    "fetch_speech_model",
    "UnreadableWeightsError",
    "EGeMAPSFrames",
    "FeatureSequences",
    "check_sequences",
]
