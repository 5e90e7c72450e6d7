"""Corpus loaders and a synthetic corpus generator.

Every loader returns a :class:`pandas.DataFrame` with one row per audio file
and at least the columns ``path`` (absolute), ``label``, ``speaker``,
``text`` and ``corpus``, all of object dtype holding ``str``. With
``labels="unified"`` the labels of every corpus are mapped onto
:data:`UNIFIED_LABELS` and the corpus's own label is kept in an
``original_label`` column.
"""

from ._arrays import corpus_arrays
from ._base import EMOTIONS_TESS
from ._crema_d import load_crema_d
from ._emodb import load_emodb
from ._labels import UNIFIED_LABEL_MAPS, UNIFIED_LABELS, unify_labels
from ._manifest import load_manifest
from ._ravdess import load_ravdess
from ._registry import LOADERS, load_corpus
from ._savee import load_savee
from ._synthetic import load_synthetic, make_synthetic_corpus
from ._tess import load_tess

__all__ = [
    "EMOTIONS_TESS",
    "LOADERS",
    "corpus_arrays",
    "UNIFIED_LABELS",
    "UNIFIED_LABEL_MAPS",
    "load_corpus",
    "load_crema_d",
    "load_emodb",
    "load_manifest",
    "load_ravdess",
    "load_savee",
    "load_synthetic",
    "load_tess",
    "make_synthetic_corpus",
    "unify_labels",
]
