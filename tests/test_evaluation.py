import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.evaluation import compare, evaluate
from sklearn_ser.features import MFCC, SequencePooling, SpeakerNormalizer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), n_speakers=3, n_words=4, emotions=("angry", "sad", "happy")
    )


def svm(cache, *, normalize=False):
    steps = [MFCC(n_mfcc=13, memory=cache)] + ([SpeakerNormalizer()] if normalize else [])
    return make_pipeline(*steps, SequencePooling(), StandardScaler(), SVC())


def test_evaluate_speaker_protocol(corpus, tmp_path):
    result = evaluate(svm(tmp_path), corpus, protocol="speaker")
    assert set(result.scores) == {"accuracy", "balanced_accuracy", "f1_macro"}
    assert all(len(v) == 3 for v in result.scores.values())
    assert sorted(result.test_indices) == list(range(len(corpus)))
    np.testing.assert_array_equal(result.y_true, corpus["label"].to_numpy()[result.test_indices])
    for fold in range(3):
        in_fold = result.fold == fold
        expected = np.mean(result.y_true[in_fold] == result.y_pred[in_fold])
        assert result.scores["accuracy"][fold] == pytest.approx(expected)
        assert len(set(corpus["speaker"].iloc[result.test_indices[in_fold]])) == 1
    matrix = result.confusion_matrix
    assert matrix.shape == (3, 3) and matrix.sum() == len(corpus)
    assert list(result.per_class.index) == ["angry", "happy", "sad"]
    assert result.per_class["support"].sum() == len(corpus)
    assert list(result.summary().index) == ["accuracy", "balanced_accuracy", "f1_macro"]


def test_speakers_reach_a_normalizer_in_every_fold(corpus, tmp_path, monkeypatch):
    calls = []
    original = SpeakerNormalizer.transform

    def spy(self, X, speaker=None):
        calls.append(speaker is not None)
        return original(self, X, speaker=speaker)

    monkeypatch.setattr(SpeakerNormalizer, "transform", spy)
    evaluate(svm(tmp_path, normalize=True), corpus, protocol="speaker", keep_estimators=True)
    assert calls and all(calls)


def test_custom_splitter_and_kept_estimators(corpus, tmp_path):
    result = evaluate(svm(tmp_path), corpus, protocol=KFold(2), keep_estimators=True, scoring=("accuracy",))
    assert result.protocol == "KFold" and len(result.estimators) == 2


def test_unknown_metric(corpus):
    with pytest.raises(ValueError, match="Unknown metric 'roc_auc'"):
        evaluate(svm(None), corpus, scoring=("roc_auc",))


def test_compare_uses_the_same_folds_and_tests_differences(corpus, tmp_path):
    dummy = make_pipeline(MFCC(n_mfcc=13, memory=tmp_path), SequencePooling(), DummyClassifier())
    results, table, tests = compare({"svm": svm(tmp_path), "dummy": dummy}, corpus, protocol="text", n_splits=4)
    np.testing.assert_array_equal(results["svm"].test_indices, results["dummy"].test_indices)
    assert table.loc[("svm", "accuracy"), "mean"] > table.loc[("dummy", "accuracy"), "mean"]
    row = tests[(tests["metric"] == "accuracy")].iloc[0]
    assert row["estimator"] == "svm" and row["other"] == "dummy" and row["n_folds"] == 4
    assert row["mean_difference"] > 0 and 0 <= row["t_test_p"] <= 1


def test_folds_are_named_by_held_out_speakers_and_classes_missing_from_a_fold_are_said():
    import warnings

    import pandas as pd

    rng = np.random.default_rng(0)
    # Speaker C never says "sad": its fold tests three of four classes.
    rows = [(speaker, label) for speaker in "AB" for label in ("angry", "happy", "sad", "calm") for _ in range(3)]
    rows += [("C", label) for label in ("angry", "happy", "calm") for _ in range(3)]
    corpus = pd.DataFrame(
        {
            "path": [rng.normal(size=800).astype(np.float32) for _ in rows],
            "label": [label for _, label in rows],
            "speaker": [speaker for speaker, _ in rows],
            "text": "",
            "corpus": "toy",
        }
    )
    pipe = make_pipeline(MFCC(n_mfcc=8), SequencePooling(), StandardScaler(), SVC())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fold without "sad" raises no library warning
        result = evaluate(pipe, corpus, protocol="speaker")
    assert result.fold_names == ["A", "B", "C"]
    assert result.missing_classes == {"C": ["sad"]}
    shuffled = evaluate(pipe, corpus, protocol="random", n_splits=2)
    assert shuffled.fold_names == ["fold 1", "fold 2"]
