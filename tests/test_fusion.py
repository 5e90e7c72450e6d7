"""Score-level fusion: weights chosen by inner cross-validation on the training data only."""

import pickle
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, ShuffleSplit, StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.metadata_routing import get_routing_for_object

from sklearn_ser.datasets import corpus_arrays, make_synthetic_corpus
from sklearn_ser.evaluation import evaluate
from sklearn_ser.features import MFCC, SequencePooling, SpeakerNormalizer
from sklearn_ser.models._fusion import ScoreFusionClassifier


def on_column(column, estimator=None):
    """``estimator`` (a logistic regression) on one column of a numeric table."""
    pick = ColumnTransformer([("pick", "passthrough", [column])])
    return make_pipeline(pick, estimator if estimator is not None else LogisticRegression())


def signal_and_noise(n_samples=80, seed=0):
    """Column 0 carries the label, column 1 is noise; labels are strings."""
    rng = np.random.default_rng(seed)
    y = np.array(["angry", "sad"])[np.arange(n_samples) % 2]
    X = np.column_stack([(y == "angry") * 2.0 + rng.normal(size=n_samples), rng.normal(size=n_samples)])
    return X, y


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """A logistic regression on ``column`` that records the row ids (last column) of all it sees."""

    seen = []

    def __init__(self, column=0):
        self.column = column

    def fit(self, X, y):
        RecordingClassifier.seen.extend(X[:, -1].astype(int))
        self.model_ = LogisticRegression().fit(X[:, [self.column]], y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        RecordingClassifier.seen.extend(X[:, -1].astype(int))
        return self.model_.predict_proba(X[:, [self.column]])

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class UpperCaseClassifier(ClassifierMixin, BaseEstimator):
    """A classifier that learns its own labels: the upper-cased ones."""

    def fit(self, X, y):
        self.model_ = GaussianNB().fit(X, np.char.upper(np.asarray(y, dtype=str)))
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


class GroupsRecordingClassifier(ClassifierMixin, BaseEstimator):
    """Gaussian naive Bayes whose ``fit`` takes ``groups``, recording the groups it gets."""

    seen = []

    def fit(self, X, y, groups=None):
        GroupsRecordingClassifier.seen.append(None if groups is None else tuple(sorted(set(groups))))
        self.model_ = GaussianNB().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


@pytest.fixture
def recorded():
    RecordingClassifier.seen = []
    yield RecordingClassifier.seen
    RecordingClassifier.seen = []


# -- weights ---------------------------------------------------------------------------------------


def test_fixed_weights_reproduce_the_weighted_average():
    X, y = signal_and_noise()
    members = [("logistic", LogisticRegression()), ("bayes", GaussianNB())]
    fusion = ScoreFusionClassifier(members, weights=[3, 1]).fit(X, y)
    logistic, bayes = (clone(member).fit(X, y).predict_proba(X) for _, member in members)
    expected = 0.75 * logistic + 0.25 * bayes
    np.testing.assert_allclose(fusion.weights_, [0.75, 0.25])
    np.testing.assert_allclose(fusion.predict_proba(X), expected)
    np.testing.assert_array_equal(fusion.predict(X), fusion.classes_[expected.argmax(axis=1)])
    assert not hasattr(fusion, "cv_results_")


def test_no_weights_are_equal_weights():
    X, y = signal_and_noise()
    fusion = ScoreFusionClassifier([("a", LogisticRegression()), ("b", GaussianNB()), ("c", LogisticRegression(C=0.1))])
    np.testing.assert_allclose(fusion.set_params(weights=None).fit(X, y).weights_, [1 / 3] * 3)


def test_the_member_with_better_out_of_fold_probabilities_weighs_more():
    X, y = signal_and_noise()
    confident_noise = on_column(1, KNeighborsClassifier(n_neighbors=1))
    fusion = ScoreFusionClassifier([("noise", confident_noise), ("signal", on_column(0))], cv=4).fit(X, y)
    assert fusion.weights_[1] > fusion.weights_[0]
    assert fusion.weights_.sum() == pytest.approx(1.0)
    table = pd.DataFrame(fusion.cv_results_)
    assert list(table.columns) == ["weight_noise", "weight_signal", "score", "rank"]
    assert len(table) == 11 and np.allclose(table["weight_noise"] + table["weight_signal"], 1.0)
    assert fusion.best_score_ == table["score"].max()
    assert table["rank"][fusion.best_index_] == 1
    only_noise = table.loc[table["weight_signal"] == 0, "score"].item()
    assert fusion.best_score_ > only_noise + 0.2


def test_ties_go_to_equal_weights():
    X, y = signal_and_noise()
    fusion = ScoreFusionClassifier([("a", on_column(0)), ("b", on_column(0))], cv=4).fit(X, y)
    assert np.ptp(fusion.cv_results_["score"]) == pytest.approx(0.0)
    np.testing.assert_allclose(fusion.weights_, [0.5, 0.5])


def test_explicit_grid_and_another_scoring():
    X, y = signal_and_noise()
    grid = [[1, 0], [0, 2], [1, 1]]
    fusion = ScoreFusionClassifier(
        [("noise", on_column(1)), ("signal", on_column(0))], weight_grid=grid, cv=4, scoring="neg_log_loss"
    ).fit(X, y)
    np.testing.assert_allclose(fusion.cv_results_["weight_signal"], [0.0, 1.0, 0.5])
    assert np.all(fusion.cv_results_["score"] < 0)
    np.testing.assert_allclose(fusion.weights_, [0.0, 1.0])


def test_weights_are_chosen_on_the_training_data_only(recorded):
    # Column 0 carries the label for the training speakers only, column 1 for the test speaker only:
    # tuned on the test speaker's labels, the fusion would trust the second member.
    rng = np.random.default_rng(0)
    speakers = np.repeat(["s1", "s2", "s3"], 40)
    y = np.tile(["angry", "sad"], 60)
    signal = (y == "angry") * 3.0 + rng.normal(size=120)
    noise = rng.normal(size=120)
    test = speakers == "s3"
    X = np.column_stack([np.where(test, noise, signal), np.where(test, signal, noise), np.arange(120)])
    members = [("first", RecordingClassifier(column=0)), ("second", RecordingClassifier(column=1))]

    fusion = ScoreFusionClassifier(members, scoring="neg_log_loss").fit(X[~test], y[~test], groups=speakers[~test])
    assert set(recorded) == set(np.flatnonzero(~test))
    assert fusion.weights_[0] > fusion.weights_[1]

    on_test = ScoreFusionClassifier(members, scoring="neg_log_loss", cv=4).fit(X[test], y[test])
    assert on_test.weights_[1] > on_test.weights_[0]


def test_inner_folds_missing_a_class_are_aligned_on_classes():
    X, y = signal_and_noise(n_samples=60)
    y = y.astype(object)
    y[:10] = "happy"
    groups = np.where(np.arange(60) < 10, "only-happy", np.where(np.arange(60) % 4 < 2, "g1", "g2"))
    fusion = ScoreFusionClassifier([("logistic", LogisticRegression()), ("bayes", GaussianNB())])
    fusion.fit(X, y, groups=groups)
    assert list(fusion.classes_) == ["angry", "happy", "sad"]
    assert np.all(np.isfinite(fusion.cv_results_["score"]))


def test_probabilities_sum_to_one_in_classes_order():
    X, y = signal_and_noise()
    y = np.where(np.arange(len(y)) % 5 == 0, "happy", y)
    fusion = ScoreFusionClassifier([("logistic", LogisticRegression()), ("bayes", GaussianNB())], cv=3).fit(X, y)
    proba = fusion.predict_proba(X)
    assert list(fusion.classes_) == ["angry", "happy", "sad"]
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    by_member = sum(w * m.predict_proba(X) for w, m in zip(fusion.weights_, fusion.estimators_))
    np.testing.assert_allclose(proba, by_member)
    np.testing.assert_array_equal(fusion.predict(X), fusion.classes_[proba.argmax(axis=1)])


# -- inner cross-validation ------------------------------------------------------------------------


def test_a_single_speaker_falls_back_to_stratified_folds_with_a_warning():
    X, y = signal_and_noise(n_samples=40)
    fusion = ScoreFusionClassifier([("logistic", LogisticRegression()), ("bayes", GaussianNB())])
    with pytest.warns(UserWarning, match="single group"):
        fusion.fit(X, y, groups=np.full(len(y), "F01"))
    assert np.isclose(fusion.weights_.sum(), 1.0)
    assert fusion._inner_splitter(y, None)[0].get_n_splits() == 5
    with pytest.warns(UserWarning, match="single group"):
        splitter, groups = fusion.set_params(cv=3)._inner_splitter(y, np.full(len(y), "F01"))
    assert isinstance(splitter, StratifiedKFold) and splitter.get_n_splits() == 3 and groups is None


@pytest.mark.parametrize(("cv", "n_speakers", "n_folds"), [(None, 3, 3), (None, 8, 5), (3, 2, 2), (3, 4, 3)])
def test_speakers_give_group_folds_up_to_cv(cv, n_speakers, n_folds):
    X, y = signal_and_noise(n_samples=48)
    speakers = np.arange(48) % n_speakers
    fusion = ScoreFusionClassifier([("logistic", LogisticRegression()), ("bayes", GaussianNB())], cv=cv)
    splitter, groups = fusion._inner_splitter(y, speakers)
    assert isinstance(splitter, GroupKFold) and splitter.get_n_splits() == n_folds
    assert all(len(np.intersect1d(speakers[tr], speakers[te])) == 0 for tr, te in splitter.split(X, y, groups))


def test_a_given_splitter_is_used():
    X, y = signal_and_noise()
    fusion = ScoreFusionClassifier([("logistic", LogisticRegression()), ("bayes", GaussianNB())], cv=StratifiedKFold(4))
    assert len(fusion.fit(X, y).cv_results_["score"]) == 11
    with pytest.raises(ValueError, match="exactly once"):
        fusion.set_params(cv=ShuffleSplit(3, random_state=0)).fit(X, y)


class SpeakerHalves:
    """A group splitter written without scikit-learn's routing mixin: it requests nothing, yet needs groups."""

    def get_n_splits(self, X=None, y=None, groups=None):
        return 2

    def split(self, X, y=None, groups=None):
        if groups is None:
            raise ValueError("SpeakerHalves needs groups")
        first = np.isin(groups, np.unique(groups)[::2])
        yield np.flatnonzero(~first), np.flatnonzero(first)
        yield np.flatnonzero(first), np.flatnonzero(~first)


def test_a_given_group_splitter_without_a_routing_request_gets_the_groups():
    X, y = signal_and_noise()
    speakers = np.repeat(["F01", "F02", "M01", "M02"], len(y) // 4)
    fusion = ScoreFusionClassifier([("logistic", LogisticRegression()), ("bayes", GaussianNB())], cv=SpeakerHalves())
    assert len(fusion.fit(X, y, groups=speakers).cv_results_["score"]) == 11


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"estimators": [("logistic", LogisticRegression())]}, "at least 2 members"),
        ({"estimators": [("a", LogisticRegression()), ("a", GaussianNB())]}, "not unique"),
        ({"estimators": [LogisticRegression(), GaussianNB()]}, r"\(name, estimator\) tuples"),
        ({"weights": [1, 2, 3]}, "3 values for 2 members"),
        ({"weights": [1, -1]}, "non-negative"),
        ({"weights": [0, 0]}, "all zero"),
        ({"weight_grid": [[1, 0, 0]]}, "one column per member"),
        ({"weight_grid": [[1, 0], [0, 0]]}, r"weight_grid\[1\] are all zero"),
        ({"estimators": [("logistic", LogisticRegression()), ("svm", SVC())]}, "'svm' \\(SVC\\) has no predict_proba"),
        ({"estimators": [("bayes", GaussianNB()), ("upper", UpperCaseClassifier())]}, "'upper'.*share their labels"),
        ({"estimators": [("bayes", GaussianNB()), ("upper", UpperCaseClassifier())], "weights": None}, "'upper'"),
    ],
)
def test_clear_errors(params, message):
    X, y = signal_and_noise(n_samples=40)
    fusion = ScoreFusionClassifier([("logistic", LogisticRegression()), ("bayes", GaussianNB())]).set_params(**params)
    with pytest.raises(ValueError, match=message):
        fusion.fit(X, y)


def test_invalid_parameters_and_unrouted_metadata():
    X, y = signal_and_noise(n_samples=40)
    members = [("logistic", LogisticRegression()), ("bayes", GaussianNB())]
    with pytest.raises(ValueError, match="weights"):
        ScoreFusionClassifier(members, weights="best").fit(X, y)
    with pytest.raises(ValueError, match="enable_metadata_routing"):
        ScoreFusionClassifier(members).fit(X, y, speaker=np.zeros(len(y)))
    with pytest.raises(sklearn.exceptions.NotFittedError):
        ScoreFusionClassifier(members).predict(X)


# -- a scikit-learn meta-estimator -----------------------------------------------------------------


def test_nested_params_clone_and_pickle():
    X, y = signal_and_noise()
    fusion = ScoreFusionClassifier(
        [("scaled", make_pipeline(StandardScaler(), LogisticRegression())), ("bayes", GaussianNB())]
    )
    params = fusion.get_params(deep=True)
    assert params["scaled__logisticregression__C"] == 1.0 and params["bayes"] is fusion.named_estimators.bayes
    fusion.set_params(scaled__logisticregression__C=3.0, bayes=LogisticRegression(), cv=3)
    assert fusion.named_estimators.scaled[-1].C == 3.0
    assert isinstance(fusion.named_estimators.bayes, LogisticRegression)

    copy = clone(fusion)
    assert copy.get_params(deep=False).keys() == fusion.get_params(deep=False).keys()
    assert copy.named_estimators.scaled is not fusion.named_estimators.scaled
    assert copy.named_estimators.scaled[-1].C == 3.0
    assert sklearn.base.is_classifier(copy)

    fusion.fit(X, y)
    assert not hasattr(copy, "weights_")
    restored = pickle.loads(pickle.dumps(fusion))
    np.testing.assert_array_equal(restored.predict_proba(X), fusion.predict_proba(X))
    np.testing.assert_array_equal(restored.weights_, fusion.weights_)
    assert restored.n_features_in_ == 2


def test_routing_requests():
    members = [
        ("norm", make_pipeline(SpeakerNormalizer(), LogisticRegression())),
        ("bayes", GaussianNB()),
    ]
    routing = get_routing_for_object(ScoreFusionClassifier(members))
    assert routing.consumes("fit", ["speaker", "groups"]) == {"speaker", "groups"}
    assert routing.consumes("predict", ["speaker", "groups"]) == {"speaker"}
    assert routing.consumes("predict_proba", ["speaker", "groups"]) == {"speaker"}
    fixed_folds = get_routing_for_object(ScoreFusionClassifier(members[1:] * 2, cv=StratifiedKFold(2)))
    assert fixed_folds.consumes("fit", ["speaker", "groups"]) == set()
    assert not hasattr(ScoreFusionClassifier, "set_fit_request")


def test_groups_reach_the_members_that_request_them_only():
    X, y = signal_and_noise(n_samples=60)
    groups = np.array(["s1", "s2", "s3"])[np.arange(60) % 3]
    GroupsRecordingClassifier.seen = []
    unset = ScoreFusionClassifier([("bayes", GaussianNB()), ("takes", GroupsRecordingClassifier())])
    with sklearn.config_context(enable_metadata_routing=True):
        unset.fit(X, y, groups=groups)
        assert GroupsRecordingClassifier.seen == [None] * 4
        GroupsRecordingClassifier.seen = []
        requesting = GroupsRecordingClassifier().set_fit_request(groups=True)
        unset.set_params(takes=requesting).fit(X, y, groups=groups)
    assert Counter(GroupsRecordingClassifier.seen) == Counter(
        [("s1", "s2"), ("s1", "s3"), ("s2", "s3"), ("s1", "s2", "s3")]
    )


# -- on audio --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(tmp_path_factory.mktemp("corpus"), n_speakers=3, n_words=2, emotions=("angry", "sad"))


def mfcc_members(cache, *, normalize=False):
    first = [MFCC(n_mfcc=13, memory=cache)] + ([SpeakerNormalizer()] if normalize else [])
    return [
        ("logistic", make_pipeline(*first, SequencePooling(), StandardScaler(), LogisticRegression())),
        ("bayes", make_pipeline(MFCC(n_mfcc=13, memory=cache), SequencePooling(), GaussianNB())),
    ]


def test_in_evaluate_speakers_reach_the_members_in_every_inner_fold(corpus, tmp_path, speakers_seen_by_normalizer):
    fusion = ScoreFusionClassifier(mfcc_members(tmp_path, normalize=True))
    result = evaluate(fusion, corpus, protocol="speaker", keep_estimators=True)
    assert len(result.scores["accuracy"]) == 3
    assert all(np.isclose(fitted.weights_.sum(), 1.0) for fitted in result.estimators)
    expected = Counter()
    for test_speaker in sorted(corpus["speaker"].unique()):
        first, second = sorted(set(corpus["speaker"]) - {test_speaker})
        # inner folds: fit on one training speaker, predict the other; then the refit; then the test speaker
        expected.update([(first,), (second,), (second,), (first,), (first, second), (test_speaker,)])
    assert Counter(tuple(seen) for seen in speakers_seen_by_normalizer) == expected


def test_members_sharing_a_cache_compute_each_file_once(corpus, tmp_path, count_computations):
    X, y, metadata = corpus_arrays(corpus)
    fusion = ScoreFusionClassifier(mfcc_members(tmp_path / "cache")).fit(X, y, groups=metadata["speaker"])
    fusion.predict(X)
    assert len(fusion.cv_results_["score"]) == 11
    assert Counter(map(str, count_computations)) == Counter(map(str, X))


def test_members_without_a_cache_compute_files_again(corpus, count_computations):
    X, y, metadata = corpus_arrays(corpus)
    ScoreFusionClassifier(mfcc_members(None)).fit(X, y, groups=metadata["speaker"])
    assert len(count_computations) > 2 * len(X)
