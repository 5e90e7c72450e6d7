"""Corpora named by kind, as the command line spells them: ``KIND:PATH``."""

import inspect
import warnings
from pathlib import Path

from ._crema_d import load_crema_d
from ._emodb import load_emodb
from ._labels import _apply_labels, _check_labels
from ._manifest import load_manifest
from ._ravdess import load_ravdess
from ._savee import load_savee
from ._synthetic import MANIFEST_NAME, check_corpus_folder, load_synthetic, make_synthetic_corpus
from ._tess import load_tess


def _synthetic(root, *, labels="original"):
    """The synthetic corpus at ``root``; the default one, written there first (with a warning) if it holds none."""
    _check_labels(labels)
    if (Path(root) / MANIFEST_NAME).exists():
        return load_synthetic(root, labels=labels)
    check_corpus_folder(Path(root).expanduser().absolute())  # a folder of other files is refused, before the warning
    defaults = {name: p.default for name, p in inspect.signature(make_synthetic_corpus).parameters.items()}
    n_files = defaults["n_speakers"] * defaults["n_words"] * len(defaults["emotions"])
    warnings.warn(
        f"No synthetic corpus in '{root}' (no {MANIFEST_NAME}): writing a new one there, {n_files} files. "
        "If you meant an existing corpus, check the path.",
        UserWarning,
        stacklevel=3,
    )
    return _apply_labels(make_synthetic_corpus(root), labels)


#: Kind -> loader ``f(root, *, labels="original")``.
LOADERS = {
    "tess": load_tess,
    "emodb": load_emodb,
    "ravdess": load_ravdess,
    "savee": load_savee,
    "crema-d": load_crema_d,
    "synthetic": _synthetic,
    "manifest": load_manifest,
}


def load_corpus(spec, *, labels="original"):
    """Load a corpus from a ``KIND:PATH`` specification.

    Parameters
    ----------
    spec : str
        ``KIND:PATH`` with KIND one of

        - ``tess``: TESS, read with :func:`load_tess`;
        - ``emodb``: EMO-DB, read with :func:`load_emodb`;
        - ``ravdess``: the RAVDESS speech recordings, read with
          :func:`load_ravdess`;
        - ``savee``: SAVEE, read with :func:`load_savee`;
        - ``crema-d``: CREMA-D, read with :func:`load_crema_d`;
        - ``synthetic``: the synthetic corpus at PATH, read with
          :func:`load_synthetic`, writing the default one there first if
          PATH holds none (with a warning: a mistyped path makes a new
          corpus), and is new or empty;
        - ``manifest``: the files listed in the CSV file PATH (columns
          ``path,label[,speaker][,text]``), read with :func:`load_manifest`.

        PATH is the corpus folder or a folder containing it, as the loader
        accepts (the CSV file itself for ``manifest``).
    labels : {"original", "unified"}, default="original"
        Keep the corpus's own labels, or map them onto
        :data:`UNIFIED_LABELS` (see :func:`unify_labels`).

    Returns
    -------
    frame : pandas.DataFrame
        The loader's frame: ``path``, ``label``, ``speaker``, ``text``,
        ``corpus`` and what the corpus records besides.

    Raises
    ------
    ValueError
        If ``spec`` has no ``KIND:`` prefix or names an unknown kind, if
        ``labels`` is not a known label set, or as the loader raises.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_ser.datasets import load_corpus, make_synthetic_corpus
    >>> with tempfile.TemporaryDirectory() as root:
    ...     _ = make_synthetic_corpus(root, n_speakers=1, n_words=1, emotions=("sad", "angry"))
    ...     frame = load_corpus(f"synthetic:{root}")
    ...     unified = load_corpus(f"synthetic:{root}", labels="unified")
    >>> sorted(frame["label"])
    ['angry', 'sad']
    >>> sorted(unified["label"])
    ['anger', 'sadness']
    """
    kind, separator, path = spec.partition(":")
    if not separator or kind not in LOADERS or not path:
        raise ValueError(
            f"Corpus {spec!r} must be KIND:PATH with KIND one of {sorted(LOADERS)}, e.g. 'tess:data/tess'."
        )
    return LOADERS[kind](path, labels=labels)
