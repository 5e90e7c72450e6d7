"""A corpus frame as scikit-learn's tools take it: paths, labels and per-utterance metadata."""

from __future__ import annotations

#: The corpus columns passed on as metadata, under the names steps request them by.
METADATA_COLUMNS = {"speaker": "speaker", "groups": "speaker"}


def corpus_arrays(corpus):
    """``(X, y, metadata)`` of a loader's frame.

    Parameters
    ----------
    corpus : pandas.DataFrame
        A loader's frame, with at least the columns ``path`` and ``label``.

    Returns
    -------
    X : ndarray of str objects of shape (n_files,)
        The audio paths.
    y : ndarray of objects of shape (n_files,)
        The labels.
    metadata : dict of str to ndarray of shape (n_files,)
        Per-utterance metadata for the steps that request it under
        scikit-learn's metadata routing: ``speaker`` (e.g. for
        :class:`~sklearn_ser.features.SpeakerNormalizer`) and ``groups``,
        the speakers again, for steps that hold out whole speakers inside
        their own ``fit`` (an :class:`~sklearn_ser.models.LSTMClassifier`'s
        early-stopping split). Only the columns the frame has.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ser.datasets import corpus_arrays
    >>> corpus = pd.DataFrame({"path": ["a.wav", "b.wav"], "label": ["sad", "angry"], "speaker": ["F1", "M1"]})
    >>> X, y, metadata = corpus_arrays(corpus)
    >>> X.dtype, list(y), sorted(metadata), list(metadata["speaker"])
    (dtype('O'), ['sad', 'angry'], ['groups', 'speaker'], ['F1', 'M1'])
    """
    missing = [column for column in ("path", "label") if column not in corpus]
    if missing:
        raise ValueError(f"The corpus frame has no {missing} column; a loader's frame has path and label.")
    metadata = {
        name: corpus[column].to_numpy(dtype=object) for name, column in METADATA_COLUMNS.items() if column in corpus
    }
    return corpus["path"].to_numpy(dtype=object), corpus["label"].to_numpy(dtype=object), metadata
