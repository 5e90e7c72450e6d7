import numpy as np
import pytest
from sklearn.exceptions import DataConversionWarning, NotFittedError

from sklearn_ser.models import LSTMClassifier, MultiscaleLSTMClassifier
from sklearn_ser.models._multiscale import segment


@pytest.mark.parametrize(
    "n_frames, length, hop, starts",
    [(10, 4, 2, [0, 2, 4, 6]), (11, 4, 2, [0, 2, 4, 6, 7]), (3, 4, 2, [0]), (4, 4, 2, [0])],
)
def test_segments_cover_the_sequence(n_frames, length, hop, starts):
    sequence = np.arange(n_frames, dtype=np.float32)[:, None]
    pieces = segment(sequence, length, hop)
    assert [int(piece[0, 0]) for piece in pieces] == starts
    assert all(len(piece) == min(length, n_frames) for piece in pieces)
    assert int(pieces[-1][-1, 0]) == n_frames - 1


class RecordingClassifier(LSTMClassifier):
    """An LSTMClassifier that records what each clone was trained on."""

    def fit(self, X, y, groups=None):
        self.segment_lengths_ = sorted({len(x) for x in X})
        self.groups_seen_ = None if groups is None else set(groups)
        return super().fit(X, y, groups=groups)


def test_each_scale_trains_on_its_segments_and_scores_are_averaged():
    rng = np.random.default_rng(0)
    X = [rng.normal(loc=i % 2, size=(int(rng.integers(30, 50)), 2)).astype("float32") for i in range(12)]
    y = np.array(["calm", "angry"] * 6)
    clf = MultiscaleLSTMClassifier(
        RecordingClassifier(hidden_size=4, max_epochs=1, random_state=0), segment_frames=(10, 20)
    ).fit(X, y, groups=np.repeat(["a", "b", "c"], 4))
    assert [e.segment_lengths_ for e in clf.estimators_] == [[10], [20]]
    assert all(e.groups_seen_ == {"a", "b", "c"} for e in clf.estimators_)
    proba = clf.predict_proba(X)
    per_scale = []
    for length, estimator in zip((10, 20), clf.estimators_):
        hop = length // 2
        per_scale.append([estimator.predict_proba(segment(x, length, hop)).mean(axis=0) for x in X])
    np.testing.assert_allclose(proba, np.mean(per_scale, axis=0), rtol=1e-6)
    assert list(clf.predict(X[:2])) == list(clf.classes_[proba[:2].argmax(axis=1)])


def test_bad_segment_lengths():
    X, y = [np.zeros((5, 2), dtype=np.float32)] * 2, ["a", "b"]
    with pytest.raises(ValueError, match="segment_frames must be positive integers"):
        MultiscaleLSTMClassifier(segment_frames=(0, 10)).fit(X, y)


def small_multiscale():
    return MultiscaleLSTMClassifier(LSTMClassifier(hidden_size=4, max_epochs=1, random_state=0), segment_frames=(4,))


def test_a_column_vector_y_warns_and_trains_as_its_column():
    rng = np.random.default_rng(0)
    X = [rng.normal(loc=i % 2, size=(8, 2)).astype("float32") for i in range(8)]
    y = np.array(["calm", "angry"] * 4)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column = small_multiscale().fit(X, y[:, None])
    np.testing.assert_array_equal(column.predict_proba(X), small_multiscale().fit(X, y).predict_proba(X))


def test_regression_targets_are_refused():
    X = [np.zeros((5, 2), dtype=np.float32)] * 4
    with pytest.raises(ValueError, match="Unknown label type"):
        small_multiscale().fit(X, [0.5, 1.5, 2.5, 3.5])


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_unfitted_classifier_raises_not_fitted(method):
    with pytest.raises(NotFittedError):
        getattr(small_multiscale(), method)([np.zeros((5, 2), dtype=np.float32)])
