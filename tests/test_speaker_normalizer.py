import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import sklearn
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import MFCC, FeatureSequences, SequencePooling, SpeakerNormalizer


@pytest.fixture
def speakers_data():
    rng = np.random.default_rng(0)
    offsets = {"low": np.array([100.0, -5.0]), "high": np.array([300.0, 5.0])}
    speaker = np.array(["low"] * 5 + ["high"] * 5, dtype=object)
    X = [(offsets[s] + rng.normal(size=(int(rng.integers(3, 9)), 2))).astype(np.float32) for s in speaker]
    return X, speaker


def test_sequences_are_standardized_per_speaker(speakers_data):
    X, speaker = speakers_data
    out = SpeakerNormalizer().fit_transform(X, speaker=speaker)
    assert isinstance(out, FeatureSequences) and out[0].dtype == np.float32
    for name in ("low", "high"):
        frames = np.concatenate([o for o, s in zip(out, speaker) if s == name])
        np.testing.assert_allclose(frames.mean(axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(frames.std(axis=0), 1, atol=1e-4)


def test_known_speakers_keep_fitted_statistics_and_new_ones_use_their_own(speakers_data):
    X, speaker = speakers_data
    norm = SpeakerNormalizer().fit(X, speaker=speaker)
    mean, scale = norm.speaker_statistics_["low"]
    np.testing.assert_allclose(norm.transform(X[:1], speaker=["low"])[0], (X[0] - mean) / scale, rtol=1e-5)
    new = [X[0] + 1000.0, X[1] + 1000.0]
    out = norm.transform(new, speaker=["new", "new"])
    np.testing.assert_allclose(np.concatenate(out).mean(axis=0), 0, atol=1e-4)


def test_without_speakers_sequences_are_normalized_per_utterance(speakers_data):
    X, speaker = speakers_data
    out = SpeakerNormalizer().fit(X).transform(X)
    for sequence in out:
        np.testing.assert_allclose(sequence.mean(axis=0), 0, atol=1e-4)


def test_two_dimensional_features():
    X = np.array([[1.0, 10.0], [3.0, 30.0], [10.0, 0.0], [20.0, 0.0]])
    speaker = ["a", "a", "b", "b"]
    out = SpeakerNormalizer().fit_transform(X, speaker=speaker)
    np.testing.assert_allclose(out, [[-1, -1], [1, 1], [-1, 0], [1, 0]])
    fallback = SpeakerNormalizer().fit(X).transform(X)
    np.testing.assert_allclose(fallback, StandardScaler().fit_transform(X))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda n, X: n.fit(X, speaker=["a"]), "speaker has 1 entries but X has 10 utterances"),
        (lambda n, X: n.fit(X).transform(np.zeros((2, 2))), "fitted on feature sequences but got a 2-D array"),
        (lambda n, X: n.fit(X).transform([np.zeros((3, 5))]), "expected 2"),
    ],
)
def test_errors(speakers_data, call, match):
    X, _ = speakers_data
    with pytest.raises(ValueError, match=match):
        call(SpeakerNormalizer(), X)


def test_speaker_ids_are_routed_in_a_pipeline(tmp_path, speakers_seen_by_normalizer):
    corpus = make_synthetic_corpus(tmp_path, n_speakers=2, n_words=2, emotions=("angry", "sad"))
    seen = speakers_seen_by_normalizer
    pipe = make_pipeline(MFCC(n_mfcc=13), SpeakerNormalizer(), SequencePooling(), SVC())
    paths, labels, speakers = corpus["path"], corpus["label"], corpus["speaker"].to_numpy(dtype=object)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe.fit(paths, labels, speaker=speakers)
        pipe.predict(paths[:2], speaker=speakers[:2])
    assert seen == [["F01", "M02"], ["F01"]]


TABLE = np.array([[1.0, 10.0], [3.0, 30.0], [10.0, 0.0], [20.0, 0.0]])
TABLE_SPEAKERS = ["a", "a", "b", "b"]


@pytest.mark.parametrize(
    "as_input",
    [np.asarray, lambda X: X.tolist(), lambda X: pd.DataFrame(X, columns=["f0", "rms"])],
    ids=["array", "list of rows", "DataFrame"],
)
def test_any_two_dimensional_table_is_normalized_per_row(as_input):
    out = SpeakerNormalizer().fit_transform(as_input(TABLE), speaker=TABLE_SPEAKERS)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [[-1, -1], [1, 1], [-1, 0], [1, 0]])


def test_a_dataframe_records_its_column_names_and_checks_them():
    X = pd.DataFrame(TABLE, columns=["f0", "rms"])
    norm = SpeakerNormalizer().fit(X)
    assert list(norm.feature_names_in_) == ["f0", "rms"] and list(norm.get_feature_names_out()) == ["f0", "rms"]
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        norm.transform(X[["rms", "f0"]])


@pytest.mark.parametrize(
    "as_input",
    [list, tuple, lambda X: np.array(X[:4])[:, :3], lambda X: [s.tolist() for s in X]],
    ids=["list of arrays", "tuple of arrays", "3-D array", "list of nested lists"],
)
def test_collections_of_two_dimensional_items_are_sequences(speakers_data, as_input):
    X, _ = speakers_data
    X = [sequence[:3] for sequence in X]  # equal lengths, so that a 3-D array can hold them
    out = SpeakerNormalizer().fit_transform(as_input(X))
    assert isinstance(out, FeatureSequences) and len(out) == len(as_input(X))
    for sequence in out:
        np.testing.assert_allclose(sequence.mean(axis=0), 0, atol=1e-5)


def test_a_table_keeps_its_float_dtype():
    for dtype, expected in [(np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64)]:
        assert SpeakerNormalizer().fit_transform(TABLE.astype(dtype)).dtype == expected


def test_sparse_input_is_refused_as_sparse():
    with pytest.raises(TypeError, match="[Ss]parse"):
        SpeakerNormalizer().fit(scipy.sparse.csr_matrix(TABLE))


@pytest.mark.parametrize("as_table", [False, True])
def test_a_model_fitted_per_speaker_warns_when_it_gets_no_speaker_ids(speakers_data, as_table):
    import warnings

    X, speaker = speakers_data
    if as_table:
        X = np.array([x.mean(axis=0) for x in X])
    fitted = SpeakerNormalizer().fit(X, speaker=speaker)
    instead = "with the statistics of all training data" if as_table else "each utterance by its own statistics"
    with pytest.warns(UserWarning, match=f"got no speaker ids to transform: it normalizes {instead}"):
        fitted.transform(X[:2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.transform(X[:2], speaker=["low", "someone"])
        SpeakerNormalizer().fit(X).transform(X[:2])
