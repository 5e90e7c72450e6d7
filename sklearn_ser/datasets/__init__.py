"""Corpus loaders and a synthetic corpus generator.

Every loader returns a :class:`pandas.DataFrame` with one row per audio file
and at least the columns ``path`` (absolute), ``label``, ``speaker``,
``text`` and ``corpus``, all of object dtype holding ``str``.
"""

from ._base import EMOTIONS_TESS
from ._registry import LOADERS, load_corpus
from ._synthetic import load_synthetic, make_synthetic_corpus
from ._tess import load_tess

__all__ = ["EMOTIONS_TESS", "LOADERS", "load_corpus", "load_synthetic", "load_tess", "make_synthetic_corpus"]
