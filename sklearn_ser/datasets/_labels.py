"""One emotion label set shared by all corpora.

Every loader takes ``labels="original"`` (the corpus's own labels) or
``labels="unified"`` (the labels of :data:`UNIFIED_LABELS`, with the corpus's
own label kept in an ``original_label`` column). The mapping of each corpus
lives in :data:`UNIFIED_LABEL_MAPS`.
"""

from types import MappingProxyType

import pandas as pd

from .._choices import LABEL_SETS
from ._base import _MAX_SEARCH_DEPTH, _as_object_strings, _build_frame, _check_unique_recordings

#: The cross-corpus emotion labels, sorted.
UNIFIED_LABELS = ("anger", "boredom", "calm", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")

_CORPUS_MAPS = {
    "tess": {
        "angry": "anger",
        "disgust": "disgust",
        "fear": "fear",
        "happy": "happiness",
        "neutral": "neutral",
        "ps": "surprise",
        "sad": "sadness",
    },
    "emodb": {
        "anger": "anger",
        "boredom": "boredom",
        "disgust": "disgust",
        "fear": "fear",
        "happiness": "happiness",
        "neutral": "neutral",
        "sadness": "sadness",
    },
    "ravdess": {
        "angry": "anger",
        "calm": "calm",
        "disgust": "disgust",
        "fearful": "fear",
        "happy": "happiness",
        "neutral": "neutral",
        "sad": "sadness",
        "surprised": "surprise",
    },
    "savee": {
        "anger": "anger",
        "disgust": "disgust",
        "fear": "fear",
        "happiness": "happiness",
        "neutral": "neutral",
        "sadness": "sadness",
        "surprise": "surprise",
    },
    "crema-d": {
        "anger": "anger",
        "disgust": "disgust",
        "fear": "fear",
        "happy": "happiness",
        "neutral": "neutral",
        "sad": "sadness",
    },
}


def _synthetic_map():
    # The synthetic corpus takes any emotion names; those spelled as in one
    # of the real corpora (or already unified) are mapped like there.
    mapping = {label: label for label in UNIFIED_LABELS}
    for corpus_map in _CORPUS_MAPS.values():
        mapping.update(corpus_map)
    return dict(sorted(mapping.items()))


_CORPUS_MAPS["synthetic"] = _synthetic_map()

#: For each corpus (the value of the ``corpus`` column), its original labels
#: mapped to :data:`UNIFIED_LABELS`. Read-only.
UNIFIED_LABEL_MAPS = MappingProxyType({corpus: MappingProxyType(mapping) for corpus, mapping in _CORPUS_MAPS.items()})

_LABEL_SETS = LABEL_SETS


def _check_labels(labels):
    """Raise unless ``labels`` names a label set."""
    if not isinstance(labels, str) or labels not in _LABEL_SETS:
        raise ValueError(f"labels must be 'original' or 'unified', got {labels!r}.")
    return labels


def _apply_labels(frame, labels):
    """Return ``frame`` with the label set ``labels`` (already checked)."""
    return unify_labels(frame) if labels == "unified" else frame


def unify_labels(frame):
    """Map the labels of a loader frame onto :data:`UNIFIED_LABELS`.

    Each row is mapped with :data:`UNIFIED_LABEL_MAPS` of its ``corpus``, so a
    concatenation of frames from several loaders can be mapped at once. The
    original labels are kept in an ``original_label`` column, placed after
    ``corpus``. A frame that already has an ``original_label`` column is
    mapped from that column, so mapping twice changes nothing.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame with at least the columns ``label`` and ``corpus``, such as
        one returned by the loaders of :mod:`sklearn_ser.datasets`.

    Returns
    -------
    unified : pandas.DataFrame
        A copy of ``frame`` with ``label`` replaced by the unified labels and
        an ``original_label`` column of object dtype.

    Raises
    ------
    ValueError
        If ``frame`` lacks the ``label`` or ``corpus`` column, names a corpus
        without a mapping, or holds a label the mapping of its corpus lacks.

    See Also
    --------
    UNIFIED_LABELS : The unified labels.
    UNIFIED_LABEL_MAPS : The mapping of each corpus.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ser.datasets import unify_labels
    >>> frame = pd.DataFrame({"label": ["ps", "fearful"], "corpus": ["tess", "ravdess"]})
    >>> unify_labels(frame)
          label   corpus original_label
    0  surprise     tess             ps
    1      fear  ravdess        fearful
    """
    missing = [column for column in ("label", "corpus") if column not in frame.columns]
    if missing:
        raise ValueError(f"unify_labels needs a frame with the columns 'label' and 'corpus'; missing {missing}.")
    source_column = "original_label" if "original_label" in frame.columns else "label"
    unified = []
    for position, (corpus, label) in enumerate(zip(frame["corpus"], frame[source_column])):
        mapping = _CORPUS_MAPS.get(corpus)
        if mapping is None:
            raise ValueError(f"No unified labels for corpus {corpus!r}; known corpora are {sorted(_CORPUS_MAPS)}.")
        if label not in mapping:
            where = f" of {frame['path'].iloc[position]!r}" if "path" in frame.columns else ""
            raise ValueError(
                f"The {corpus} label {label!r}{where} has no unified label; "
                f"known {corpus} labels are {sorted(mapping)}."
            )
        unified.append(mapping[label])
    result = frame.copy()
    if source_column == "label":
        original = pd.Series(list(frame["label"]), index=frame.index, dtype=object)
        result.insert(result.columns.get_loc("corpus") + 1, "original_label", original)
    result["label"] = pd.Series(unified, index=frame.index, dtype=object)
    return _as_object_strings(result)


def _corpus_frame(
    records, labels, *, corpus, name, root, looked_for, key_columns, extra_columns=(), what="audio files"
):
    """The loader frame of ``records``: some, each recording once, then in the label set ``labels``.

    ``looked_for`` completes the error raised when ``records`` is empty:
    "No {name} {what} found in {root} (searched ... for {looked_for})".
    """
    if not records:
        raise ValueError(
            f"No {name} {what} found in {str(root)!r} (searched {_MAX_SEARCH_DEPTH} levels deep for {looked_for})."
        )
    _check_unique_recordings(records, key_columns=key_columns, corpus=name)
    return _apply_labels(_build_frame(records, corpus=corpus, extra_columns=extra_columns), labels)
