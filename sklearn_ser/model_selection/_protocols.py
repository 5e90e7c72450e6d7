"""Evaluation protocols: which utterances may be trained on when testing which.

A random split lets a model meet the test speakers' voices and the test
words in training; on TESS an SVM on MFCC statistics then scores 100%. The
protocols here hold out speakers, texts, both, or a whole corpus.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.model_selection import BaseCrossValidator, LeaveOneGroupOut, StratifiedGroupKFold, StratifiedKFold
from sklearn.utils._param_validation import Interval, validate_params

from .._choices import PROTOCOLS


class SpeakerTextSplit(BaseCrossValidator):
    """Hold out one speaker and a fold of texts at once.

    Every split tests on the utterances of one speaker saying the texts of
    one text fold, and trains on the other speakers saying the other texts:
    test speakers and test texts are both unseen. Utterances of the test
    speaker saying training texts, and of training speakers saying test
    texts, are in neither set. ``groups`` is a two-column array of
    (speaker, text) per utterance.

    Parameters
    ----------
    n_text_splits : int, default=5
        Folds of the texts (``GroupKFold``-like, balanced by label counts).
    shuffle : bool, default=True
        Shuffle the texts before making the folds.
    random_state : int or None, default=0
        Seed of the shuffling.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.model_selection import SpeakerTextSplit
    >>> groups = np.array([(s, w) for s in "AB" for w in ["dog", "cat", "sun", "sea"]])
    >>> y = np.array(["sad", "happy"] * 4)
    >>> cv = SpeakerTextSplit(n_text_splits=2)
    >>> train, test = next(cv.split(np.zeros(8), y, groups))
    >>> sorted(map(tuple, groups[test].tolist())), sorted(map(tuple, groups[train].tolist()))
    ([('A', 'dog'), ('A', 'sea')], [('B', 'cat'), ('B', 'sun')])
    >>> cv.get_n_splits(groups=groups)
    4
    """

    def __init__(self, n_text_splits=5, *, shuffle=True, random_state=0):
        self.n_text_splits = n_text_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def split(self, X, y=None, groups=None):
        """Yield (train, test) index arrays.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Only its length is used.
        y : array-like of shape (n_samples,)
            Labels, used to balance the text folds.
        groups : array-like of shape (n_samples, 2)
            Speaker and text of each utterance.

        Yields
        ------
        train, test : ndarray of int
        """
        speakers, texts = _speaker_text(groups, len(X))
        y = np.zeros(len(X)) if y is None else np.asarray(y)
        text_folds = StratifiedGroupKFold(self.n_text_splits, shuffle=self.shuffle, random_state=self.random_state)
        folds = [np.isin(texts, np.unique(texts[test])) for _, test in text_folds.split(X, y, texts)]
        for speaker in np.unique(speakers):
            is_speaker = speakers == speaker
            for in_fold in folds:
                yield np.flatnonzero(~is_speaker & ~in_fold), np.flatnonzero(is_speaker & in_fold)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits: speakers times text folds.

        Parameters
        ----------
        X, y : ignored
        groups : array-like of shape (n_samples, 2)
            Speaker and text of each utterance.

        Returns
        -------
        n_splits : int
        """
        speakers, _ = _speaker_text(groups, None)
        return len(np.unique(speakers)) * self.n_text_splits

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover - split is overridden
        raise NotImplementedError


class CrossCorpusSplit(BaseCrossValidator):
    """Train on one corpus, test on another, over the labels both share.

    ``groups`` names the corpus of every utterance. For every ordered pair
    of corpora (or the given ``pairs``), the split trains on the first
    corpus and tests on the second, each restricted to the labels that
    occur in both (use ``labels="unified"`` in the loaders so that the label
    sets meet).

    Parameters
    ----------
    pairs : list of (str, str) or None, default=None
        (train corpus, test corpus) pairs; None means every ordered pair.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.model_selection import CrossCorpusSplit
    >>> corpus = np.array(["tess"] * 3 + ["emodb"] * 3)
    >>> y = np.array(["anger", "sadness", "surprise", "anger", "sadness", "boredom"])
    >>> for train, test in CrossCorpusSplit(pairs=[("tess", "emodb")]).split(np.zeros(6), y, corpus):
    ...     print(train, test)
    [0 1] [3 4]
    """

    def __init__(self, *, pairs=None):
        self.pairs = pairs

    def split(self, X, y=None, groups=None):
        """Yield (train, test) index arrays, one pair of corpora at a time.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Only its length is used.
        y : array-like of shape (n_samples,)
            Labels; only labels present in both corpora are kept.
        groups : array-like of shape (n_samples,)
            Corpus of each utterance.

        Yields
        ------
        train, test : ndarray of int
        """
        if groups is None or y is None:
            raise ValueError("CrossCorpusSplit needs y and the corpus of every utterance as groups.")
        corpora, y = np.asarray(groups), np.asarray(y)
        for train_corpus, test_corpus in self._pairs(corpora):
            in_train, in_test = corpora == train_corpus, corpora == test_corpus
            shared = np.intersect1d(y[in_train], y[in_test])
            if len(shared) < 2:
                raise ValueError(
                    f"Corpora {train_corpus!r} and {test_corpus!r} share fewer than two labels "
                    f"({list(shared)}); load them with labels='unified'."
                )
            keep = np.isin(y, shared)
            yield np.flatnonzero(in_train & keep), np.flatnonzero(in_test & keep)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of (train corpus, test corpus) pairs.

        Parameters
        ----------
        X, y : ignored
        groups : array-like of shape (n_samples,)
            Corpus of each utterance; needed when ``pairs`` is None.

        Returns
        -------
        n_splits : int
        """
        if self.pairs is not None:
            return len(self.pairs)
        if groups is None:
            raise ValueError("groups (the corpus of every utterance) is needed to count the pairs of corpora.")
        return len(self._pairs(np.asarray(groups)))

    def _pairs(self, corpora):
        names = list(np.unique(corpora))
        if self.pairs is None:
            if len(names) < 2:
                raise ValueError(f"Cross-corpus evaluation needs at least two corpora, got {names}.")
            return [(a, b) for a in names for b in names if a != b]
        for pair in self.pairs:
            missing = [name for name in pair if name not in names]
            if missing:
                raise ValueError(f"Corpus {missing[0]!r} of pair {tuple(pair)} is not in the data ({names}).")
        return [tuple(pair) for pair in self.pairs]

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover - split is overridden
        raise NotImplementedError


@validate_params(
    {
        "corpus": ["array-like"],
        "protocol": [str],
        "n_splits": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def protocol_split(corpus, protocol, *, n_splits=5, random_state=0):
    """The splitter and groups that implement a protocol on a corpus frame.

    Parameters
    ----------
    corpus : pandas.DataFrame
        A loader's frame, with ``label`` and, as the protocol needs,
        ``speaker``, ``text`` and ``corpus`` columns.
    protocol : {"random", "speaker", "text", "speaker+text", "cross-corpus"}
        ``"random"``: stratified K-fold on utterances (the leaky protocol);
        ``"speaker"``: leave one speaker out (every speaker is the test
        speaker once); ``"text"``: stratified K-fold over texts (words or
        sentences), no text in both sets; ``"speaker+text"``:
        :class:`SpeakerTextSplit`; ``"cross-corpus"``: :class:`CrossCorpusSplit`.
    n_splits : int, default=5
        Folds of the random and text protocols, and text folds of
        ``"speaker+text"``.
    random_state : int, RandomState instance or None, default=0
        Seed of the shuffled folds.

    Returns
    -------
    cv : cross-validation splitter
    groups : ndarray or None
        What to pass as ``groups`` to ``cv.split`` (or to ``cross_validate``).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ser.model_selection import protocol_split
    >>> corpus = pd.DataFrame({"label": ["sad", "happy"] * 4, "speaker": list("AABBCCDD"),
    ...                        "text": ["dog", "cat"] * 4})
    >>> cv, groups = protocol_split(corpus, "speaker")
    >>> cv.get_n_splits(groups=groups)
    4
    """
    columns = {
        "speaker": ["speaker"],
        "text": ["text"],
        "speaker+text": ["speaker", "text"],
        "cross-corpus": ["corpus"],
    }
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}.")
    missing = [column for column in ["label", *columns.get(protocol, [])] if column not in corpus]
    if missing:
        raise ValueError(f"Protocol {protocol!r} needs a {missing[0]!r} column in the corpus frame.")
    if protocol == "random":
        return StratifiedKFold(n_splits, shuffle=True, random_state=random_state), None
    if protocol == "speaker":
        return LeaveOneGroupOut(), corpus["speaker"].to_numpy(dtype=object)
    if protocol == "text":
        return (
            StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state),
            corpus["text"].to_numpy(dtype=object),
        )
    if protocol == "speaker+text":
        groups = corpus[["speaker", "text"]].to_numpy(dtype=object)
        return SpeakerTextSplit(n_splits, random_state=random_state), groups
    return CrossCorpusSplit(), corpus["corpus"].to_numpy(dtype=object)


def _speaker_text(groups, n_samples):
    if groups is None:
        raise ValueError("SpeakerTextSplit needs groups: the (speaker, text) of every utterance.")
    groups = np.asarray(groups, dtype=object)
    if groups.ndim != 2 or groups.shape[1] != 2 or (n_samples is not None and len(groups) != n_samples):
        raise ValueError(
            f"SpeakerTextSplit needs groups of shape (n_samples, 2) holding speaker and text, got {groups.shape}."
        )
    return groups[:, 0].astype(str), groups[:, 1].astype(str)
