"""Corpora named by kind, as the command line spells them: ``KIND:PATH``."""

from pathlib import Path

from ._synthetic import MANIFEST_NAME, load_synthetic, make_synthetic_corpus
from ._tess import load_tess


def _synthetic(root):
    if (Path(root) / MANIFEST_NAME).exists():
        return load_synthetic(root)
    return make_synthetic_corpus(root)


LOADERS = {"tess": load_tess, "synthetic": _synthetic}


def load_corpus(spec):
    """Load a corpus from a ``KIND:PATH`` specification.

    Parameters
    ----------
    spec : str
        ``tess:PATH`` reads TESS with :func:`load_tess`; ``synthetic:PATH``
        reads the synthetic corpus at PATH, writing the default one there
        first if PATH holds none.

    Returns
    -------
    frame : pandas.DataFrame
        The loader's frame: ``path``, ``label``, ``speaker``, ``text``,
        ``corpus`` and what the corpus records besides.

    Raises
    ------
    ValueError
        If ``spec`` has no ``KIND:`` prefix or names an unknown kind.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_ser.datasets import load_corpus, make_synthetic_corpus
    >>> with tempfile.TemporaryDirectory() as root:
    ...     _ = make_synthetic_corpus(root, n_speakers=1, n_words=1, emotions=("sad", "angry"))
    ...     frame = load_corpus(f"synthetic:{root}")
    >>> sorted(frame["label"])
    ['angry', 'sad']
    """
    kind, separator, path = spec.partition(":")
    if not separator or kind not in LOADERS or not path:
        raise ValueError(
            f"Corpus {spec!r} must be KIND:PATH with KIND one of {sorted(LOADERS)}, e.g. 'tess:data/tess'."
        )
    return LOADERS[kind](path)
