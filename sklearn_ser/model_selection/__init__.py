"""Evaluation protocols: random, speaker-, text-, speaker-and-text-independent, cross-corpus."""

from ._protocols import PROTOCOLS, CrossCorpusSplit, SpeakerTextSplit, protocol_split

__all__ = ["PROTOCOLS", "CrossCorpusSplit", "SpeakerTextSplit", "protocol_split"]
