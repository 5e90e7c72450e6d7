"""Evaluation protocols and architecture search.

Protocols: random, speaker-, text-, speaker-and-text-independent and
cross-corpus splits. Search: :class:`OptunaSearch`, a pruned Optuna search
that is itself a classifier, its default define-by-run space and storages.
"""

from ._protocols import PROTOCOLS, CrossCorpusSplit, SpeakerTextSplit, protocol_split
from ._search import OptunaSearch
from ._spaces import DefaultSearchSpace
from ._storage import make_storage

__all__ = [
    "PROTOCOLS",
    "CrossCorpusSplit",
    "DefaultSearchSpace",
    "OptunaSearch",
    "SpeakerTextSplit",
    "make_storage",
    "protocol_split",
]
