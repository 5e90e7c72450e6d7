import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import MFCC, SequencePooling
from sklearn_ser.model_selection import CrossCorpusSplit, SpeakerTextSplit, protocol_split


@pytest.fixture
def corpus():
    rows = [
        (s, w, e) for s in ["A", "B", "C"] for w in ["dog", "cat", "sun", "sea", "sky", "bay"] for e in ["sad", "joy"]
    ]
    frame = pd.DataFrame(rows, columns=["speaker", "text", "label"])
    frame["corpus"] = "x"
    return frame


def as_sets(frame, indices, column):
    return set(frame[column].iloc[indices])


def test_random_protocol_is_stratified_and_covers_everything(corpus):
    cv, groups = protocol_split(corpus, "random", n_splits=3)
    assert groups is None
    tested = np.concatenate([test for _, test in cv.split(corpus, corpus["label"])])
    assert sorted(tested) == list(range(len(corpus)))


def test_speaker_protocol_leaves_each_speaker_out(corpus):
    cv, groups = protocol_split(corpus, "speaker")
    splits = list(cv.split(corpus, corpus["label"], groups))
    assert len(splits) == 3
    for train, test in splits:
        assert len(as_sets(corpus, test, "speaker")) == 1
        assert not as_sets(corpus, train, "speaker") & as_sets(corpus, test, "speaker")


def test_text_protocol_never_shares_a_text(corpus):
    cv, groups = protocol_split(corpus, "text", n_splits=3)
    splits = list(cv.split(corpus, corpus["label"], groups))
    assert len(splits) == 3
    for train, test in splits:
        assert not as_sets(corpus, train, "text") & as_sets(corpus, test, "text")
        assert as_sets(corpus, test, "label") == {"sad", "joy"}


def test_speaker_and_text_protocol_shares_neither(corpus):
    cv, groups = protocol_split(corpus, "speaker+text", n_splits=2)
    splits = list(cv.split(corpus, corpus["label"], groups))
    assert len(splits) == cv.get_n_splits(groups=groups) == 3 * 2
    tested = []
    for train, test in splits:
        assert not as_sets(corpus, train, "speaker") & as_sets(corpus, test, "speaker")
        assert not as_sets(corpus, train, "text") & as_sets(corpus, test, "text")
        assert len(train) == 2 * 3 * 2 and len(test) == 1 * 3 * 2
        tested.extend(test)
    assert sorted(tested) == list(range(len(corpus)))


def test_cross_corpus_keeps_shared_labels_only():
    corpus = np.array(["tess"] * 4 + ["emodb"] * 4)
    y = np.array(["anger", "sadness", "surprise", "anger", "anger", "sadness", "boredom", "sadness"])
    splits = list(CrossCorpusSplit().split(np.zeros(8), y, corpus))
    assert len(splits) == CrossCorpusSplit().get_n_splits(groups=corpus) == 2
    for train, test in splits:
        assert set(y[train]) == set(y[test]) == {"anger", "sadness"}
        assert len(set(corpus[train])) == len(set(corpus[test])) == 1
        assert set(corpus[train]) != set(corpus[test])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda c: protocol_split(c, "speakers"), "protocol must be one of"),
        (lambda c: protocol_split(c.drop(columns="text"), "text"), "needs a 'text' column"),
        (lambda c: list(SpeakerTextSplit().split(c, c["label"], c["speaker"])), r"shape \(n_samples, 2\)"),
        (lambda c: list(CrossCorpusSplit().split(c, c["label"], c["corpus"])), "at least two corpora"),
        (lambda c: list(CrossCorpusSplit(pairs=[("x", "y")]).split(c, c["label"], c["corpus"])), "'y' of pair"),
    ],
)
def test_errors_name_the_problem(corpus, call, match):
    with pytest.raises(ValueError, match=match):
        call(corpus)


def test_cross_corpus_without_shared_labels():
    corpus = np.array(["a", "a", "b", "b"])
    y = np.array(["x", "y", "x", "z"])
    with pytest.raises(ValueError, match="share fewer than two labels"):
        list(CrossCorpusSplit().split(np.zeros(4), y, corpus))


def test_protocols_plug_into_cross_val_score(tmp_path):
    frame = make_synthetic_corpus(tmp_path, n_speakers=2, n_words=4, emotions=("angry", "sad", "happy"))
    pipe = make_pipeline(MFCC(n_mfcc=13), SequencePooling(), StandardScaler(), SVC())
    for protocol in ("random", "speaker", "text", "speaker+text"):
        cv, groups = protocol_split(frame, protocol, n_splits=2)
        scores = cross_val_score(pipe, frame["path"], frame["label"], groups=groups, cv=cv)
        assert len(scores) == cv.get_n_splits(frame["path"], frame["label"], groups)
