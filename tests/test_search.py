import re
import warnings

import joblib
import numpy as np
import optuna
import pandas as pd
import pytest
import scipy.sparse
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    LeaveOneGroupOut,
    StratifiedKFold,
    check_cv,
    cross_val_score,
    cross_validate,
)
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import MFCC, SequencePooling, SpeakerNormalizer
from sklearn_ser.model_selection import DefaultSearchSpace, OptunaSearch, make_storage
from sklearn_ser.model_selection._search import _default_pruner
from sklearn_ser.models import LSTMClassifier
from sklearn_ser.recipes import get_recipe, list_recipes, recipe_options

from .test_lstm import gaussian_sequences

optuna.logging.set_verbosity(optuna.logging.WARNING)


def lstm_space(trial):
    return {
        "hidden_size": trial.suggest_categorical("hidden_size", [4, 8]),
        "lr": trial.suggest_float("lr", 1e-3, 3e-2, log=True),
    }


def svm_space(trial):
    return {"svc__C": trial.suggest_float("svc__C", 1e-2, 1e2, log=True)}


def logistic_space(trial):
    return {"logisticregression__C": trial.suggest_float("logisticregression__C", 1e-2, 1e2, log=True)}


def pooled_svm():
    return make_pipeline(SequencePooling(), StandardScaler(), SVC())


class PruneOddTrials(optuna.pruners.BasePruner):
    """Prunes every odd-numbered trial once it has reported two steps."""

    def prune(self, study, trial):
        return trial.number % 2 == 1 and len(trial.intermediate_values) >= 2


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), n_speakers=3, n_words=2, emotions=("angry", "sad", "neutral")
    )


def test_is_a_classifier_with_stratified_nested_folds():
    X, y = gaussian_sequences(n=30)
    search = OptunaSearch(pooled_svm(), svm_space, n_trials=2, cv=2, random_state=0)
    assert is_classifier(search)
    assert isinstance(check_cv(3, y, classifier=is_classifier(search)), StratifiedKFold)
    scores = cross_val_score(search, X, y, cv=3)
    assert scores.shape == (3,) and (scores > 0.5).all()


def test_lstm_trials_report_every_epoch():
    X, y = gaussian_sequences(n=30)
    lstm = LSTMClassifier(max_epochs=4, batch_size=8, random_state=0)
    search = OptunaSearch(lstm, lstm_space, n_trials=4, cv=3, pruner=PruneOddTrials(), random_state=0).fit(X, y)
    states = [trial.state for trial in search.study_.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED] * 2
    for trial in search.study_.trials:
        expected_epochs = 4 if trial.state == optuna.trial.TrialState.COMPLETE else 2
        assert sorted(trial.intermediate_values) == list(range(expected_epochs))
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert len(trial.user_attrs["fold_scores"]) == 3
            assert trial.value == pytest.approx(np.mean(trial.user_attrs["fold_scores"]))
    assert search.best_trial_.number in (0, 2)


def test_epoch_scores_are_the_cross_validated_learning_curve():
    X, y = gaussian_sequences(n=30)
    folds = list(StratifiedKFold(3).split(X, y))
    lstm = LSTMClassifier(hidden_size=8, max_epochs=3, batch_size=8, random_state=0)
    search = OptunaSearch(lstm, lambda trial: {}, n_trials=1, cv=folds, refit=False).fit(X, y)
    curves, scores = [], []
    for train, test in folds:
        X_test = [X[i] for i in test]
        alone = clone(lstm).fit([X[i] for i in train], y[train], validation_data=(X_test, y[test]))
        curves.append(alone.history_[:, "valid_acc"])
        scores.append((alone.predict(X_test) == y[test]).mean())
    trial = search.study_.trials[0]
    assert [trial.intermediate_values[epoch] for epoch in range(3)] == pytest.approx(np.mean(curves, axis=0))
    assert trial.user_attrs["fold_scores"] == pytest.approx(scores)


def test_early_stopping_lstms_report_every_epoch_and_never_stop_on_the_test_fold():
    X, y = gaussian_sequences(n=30)
    lstm = LSTMClassifier(
        hidden_size=8, max_epochs=5, batch_size=8, early_stopping=True, validation_fraction=0.3, random_state=0
    )
    folds = list(StratifiedKFold(2).split(X, y))
    search = OptunaSearch(lstm, lambda trial: {}, n_trials=1, cv=folds, refit=False).fit(X, y)
    trial = search.study_.trials[0]
    assert sorted(trial.intermediate_values) == list(range(5))
    alone = [
        clone(lstm).fit([X[i] for i in train], y[train]).score([X[i] for i in test], y[test]) for train, test in folds
    ]
    assert trial.user_attrs["fold_scores"] == pytest.approx(alone)


@pytest.mark.parametrize("wrap", [lambda lstm: lstm, lambda lstm: Pipeline([("lstm", lstm)])], ids=["bare", "pipeline"])
def test_a_classifier_without_feature_steps_is_pruned_by_epoch(wrap):
    X, y = gaussian_sequences(n=30)
    estimator = wrap(LSTMClassifier(hidden_size=4, max_epochs=3, batch_size=8, random_state=0))
    search = OptunaSearch(estimator, lambda trial: {}, n_trials=1, cv=3, scoring="balanced_accuracy").fit(X, y)
    trial = search.study_.trials[0]
    assert trial.state == optuna.trial.TrialState.COMPLETE and sorted(trial.intermediate_values) == [0, 1, 2]
    assert trial.intermediate_values[2] == pytest.approx(trial.value)
    assert search.predict(X[:3]).shape == (3,)


class EpochwiseLogistic(ClassifierMixin, BaseEstimator):
    """A linear classifier of 2-D features trained by SGD, one pass per epoch: the protocol, not an LSTM."""

    def __init__(self, max_epochs=3):
        self.max_epochs = max_epochs

    def start_training(self, X, y):
        self.classes_ = np.unique(y)
        self.sgd_ = SGDClassifier(loss="log_loss", random_state=0)
        self._data = (np.asarray(X), np.asarray(y))
        self.epochs_ = 0
        return self

    def train_epochs(self, n_epochs=1):
        for _ in range(n_epochs):
            self.sgd_.partial_fit(*self._data, classes=self.classes_)
            self.epochs_ += 1
        return self

    def end_training(self):
        del self._data
        return self

    def fit(self, X, y):
        return self.start_training(X, y).train_epochs(self.max_epochs).end_training()

    def predict(self, X):
        return self.sgd_.predict(X)


def test_any_epochwise_classifier_is_pruned_by_epoch():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b"], 20)
    X = rng.normal(size=(40, 3)) + (y == "a")[:, None]
    estimator = make_pipeline(StandardScaler(), EpochwiseLogistic(max_epochs=4))
    search = OptunaSearch(estimator, lambda trial: {}, n_trials=1, cv=2).fit(X, y)
    assert sorted(search.study_.trials[0].intermediate_values) == [0, 1, 2, 3]
    assert search.best_estimator_[-1].epochs_ == 4


def test_other_estimators_report_the_running_mean_after_every_fold():
    X, y = gaussian_sequences(n=30)
    search = OptunaSearch(pooled_svm(), svm_space, n_trials=3, cv=3, random_state=0, refit=False).fit(X, y)
    for trial in search.study_.trials:
        folds = trial.user_attrs["fold_scores"]
        expected = [np.mean(folds[: k + 1]) for k in range(3)]
        assert [trial.intermediate_values[k] for k in range(3)] == pytest.approx(expected)


def test_best_params_refit_and_predictions():
    X, y = gaussian_sequences(n=30)
    search = OptunaSearch(pooled_svm(), svm_space, n_trials=5, cv=3, random_state=0).fit(X, y)
    best = max(search.study_.trials, key=lambda trial: trial.value)
    assert search.best_score_ == best.value
    assert search.best_params_ == {"svc__C": best.params["svc__C"]}
    assert search.best_estimator_.get_params()["svc__C"] == best.params["svc__C"]
    np.testing.assert_array_equal(search.predict(X), search.best_estimator_.predict(X))
    assert list(search.classes_) == ["angry", "calm", "sad"]


def test_prediction_methods_are_those_of_the_estimator():
    X, y = gaussian_sequences(n=30)
    svm = OptunaSearch(pooled_svm(), svm_space, n_trials=1, cv=2)
    assert not hasattr(svm, "predict_proba") and hasattr(svm, "decision_function")
    svm.fit(X, y)
    assert svm.decision_function(X[:4]).shape == (4, 3)
    pipe = make_pipeline(SequencePooling(), StandardScaler(), LogisticRegression())
    logistic = OptunaSearch(pipe, logistic_space, n_trials=1, cv=2).fit(X, y)
    np.testing.assert_allclose(np.exp(logistic.predict_log_proba(X[:4])), logistic.predict_proba(X[:4]))


@pytest.mark.parametrize("scoring", ["balanced_accuracy", "neg_log_loss", "f1_macro"])
def test_scorers_use_the_prediction_method_they_need(scoring):
    X, y = gaussian_sequences(n=30)
    pipe = make_pipeline(SequencePooling(), StandardScaler(), LogisticRegression())
    search = OptunaSearch(pipe, logistic_space, n_trials=2, cv=3, scoring=scoring, random_state=0).fit(X, y)
    assert all(trial.state == optuna.trial.TrialState.COMPLETE for trial in search.study_.trials)
    assert (search.best_score_ < 0) == (scoring == "neg_log_loss")


def test_same_seed_same_trials():
    X, y = gaussian_sequences(n=30)
    first, second = (
        OptunaSearch(pooled_svm(), svm_space, n_trials=4, cv=2, random_state=7, refit=False).fit(X, y) for _ in range(2)
    )
    assert [t.params for t in first.study_.trials] == [t.params for t in second.study_.trials]


def test_without_refit_there_is_no_prediction():
    X, y = gaussian_sequences(n=20)
    search = OptunaSearch(pooled_svm(), svm_space, n_trials=2, cv=2, refit=False).fit(X, y)
    assert search.best_params_ and not hasattr(search, "best_estimator_")
    with pytest.raises(AttributeError, match="refit=True"):
        search.predict(X)


def test_failed_trials_warn_with_the_error_and_the_search_goes_on():
    X, y = gaussian_sequences(n=20)

    def space(trial):
        return {"svc__C": trial.suggest_categorical("svc__C", [-1.0, 1.0])}

    sampler = optuna.samplers.GridSampler({"svc__C": [-1.0, 1.0]}, seed=0)
    search = OptunaSearch(pooled_svm(), space, n_trials=2, cv=2, sampler=sampler)
    with pytest.warns(FitFailedWarning, match=r"svc__C.*-1.0.*InvalidParameterError"):
        search.fit(X, y)
    states = {trial.params["svc__C"]: trial.state for trial in search.study_.trials}
    assert states == {-1.0: optuna.trial.TrialState.FAIL, 1.0: optuna.trial.TrialState.COMPLETE}
    assert search.best_params_ == {"svc__C": 1.0}


def test_error_score_raise_and_all_trials_failing():
    X, y = gaussian_sequences(n=20)

    def bad_space(trial):
        return {"svc__C": trial.suggest_float("svc__C", -2.0, -1.0)}

    with pytest.raises(ValueError, match="'C' parameter of SVC"):
        OptunaSearch(pooled_svm(), bad_space, n_trials=2, cv=2, error_score="raise").fit(X, y)
    with (
        pytest.warns(FitFailedWarning),
        pytest.raises(ValueError, match=r"No trial .* completed.*InvalidParameterError") as raised,
    ):
        OptunaSearch(pooled_svm(), bad_space, n_trials=2, cv=2).fit(X, y)
    assert isinstance(raised.value.__cause__, InvalidParameterError)  # the first error of this process


def test_search_space_must_return_a_dict():
    X, y = gaussian_sequences(n=20)
    with pytest.raises(TypeError, match="search_space must return a dict"):
        OptunaSearch(pooled_svm(), lambda trial: [1], n_trials=1, cv=2).fit(X, y)


def test_saved_search_predicts_the_same_and_keeps_its_study(tmp_path):
    X, y = gaussian_sequences(n=30)
    storage = f"journal:{tmp_path / 'study.log'}"
    search = OptunaSearch(pooled_svm(), svm_space, n_trials=3, cv=2, storage=storage, study_name="s").fit(X, y)
    joblib.dump(search, tmp_path / "search.joblib")
    loaded = joblib.load(tmp_path / "search.joblib")
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    assert isinstance(loaded.study_._storage, optuna.storages.InMemoryStorage)
    assert [t.value for t in loaded.study_.trials] == [t.value for t in search.study_.trials]


def test_tuple_choices_survive_a_stored_study(tmp_path):
    X, y = gaussian_sequences(n=20)

    def space(trial):
        sizes = trial.suggest_categorical("mlpclassifier__hidden_layer_sizes", [(4,), (4, 2)])
        return {"mlpclassifier__hidden_layer_sizes": sizes}

    pipe = make_pipeline(SequencePooling(), MLPClassifier(max_iter=20, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna warns that tuples are stored as lists
        search = OptunaSearch(pipe, space, n_trials=2, cv=2, storage=f"journal:{tmp_path / 'log'}", study_name="t")
        search.fit(X, y)
    assert search.best_params_["mlpclassifier__hidden_layer_sizes"] in [(4,), (4, 2)]


def test_rerun_on_stored_study_only_runs_the_missing_trials(tmp_path):
    X, y = gaussian_sequences(n=20)
    params = dict(cv=2, storage=f"journal:{tmp_path / 'study.log'}", study_name="resume", refit=False)
    OptunaSearch(pooled_svm(), svm_space, n_trials=2, **params).fit(X, y)
    again = OptunaSearch(pooled_svm(), svm_space, n_trials=5, **params).fit(X, y)
    assert len(again.study_.trials) == 5
    assert len(OptunaSearch(pooled_svm(), svm_space, n_trials=5, **params).fit(X, y).study_.trials) == 5


def test_speaker_folds_and_speaker_metadata_reach_the_steps(corpus, speakers_seen_by_normalizer):
    seen = speakers_seen_by_normalizer
    pipe = make_pipeline(MFCC(n_mfcc=13), SpeakerNormalizer(), SequencePooling(), SVC())
    search = OptunaSearch(pipe, svm_space, n_trials=1, cv=LeaveOneGroupOut(), refit=False)
    speakers = corpus["speaker"].to_numpy(dtype=object)
    search.fit(corpus["path"], corpus["label"], groups=speakers, speaker=speakers)
    assert search.n_splits_ == 3
    assert None not in seen
    assert sum(len(speaker_set) == 1 for speaker_set in seen) == 3  # one test speaker per fold


def test_metadata_no_step_requests_is_an_error():
    X, y = gaussian_sequences(n=20)
    with pytest.raises(TypeError, match="speaker.*not routed to any object"):
        OptunaSearch(pooled_svm(), svm_space, n_trials=1, cv=2).fit(X, y, speaker=np.zeros(20))
    with pytest.raises(ValueError, match="groups has 3 values"):
        OptunaSearch(pooled_svm(), svm_space, n_trials=1, cv=GroupKFold(2)).fit(X, y, groups=[0, 1, 2])


@pytest.fixture(scope="module")
def speech_config(tmp_path_factory):
    """A folder with the config of a 2-layer Whisper: all the search space reads of a speech model."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("whisper-config")
    transformers.WhisperConfig(encoder_layers=2, d_model=16).save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize("name", list_recipes())
def test_default_space_of_every_recipe_gives_valid_parameters(name, speech_config):
    pipeline = get_recipe(name, **({"model": speech_config} if "model" in recipe_options(name) else {}))
    space = DefaultSearchSpace(pipeline)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(15):
        trial = study.ask()
        params = space(trial)
        candidate = clone(pipeline).set_params(**params)
        for _, step in candidate.get_params(deep=True).items():
            if hasattr(step, "_parameter_constraints"):
                step._validate_params()
        study.tell(trial, 0.0)
    assert space.steps


def test_default_lstm_space_is_conditional():
    space = DefaultSearchSpace(get_recipe("lstm-logmel"))
    assert space.steps == [("mel__", "MelSpectrogram"), ("delta__", "DeltaStack"), ("lstm__", "LSTMClassifier")]
    base = {
        "mel__n_mels": 64,
        "delta__order": 2,
        "lstm__hidden_size": 64,
        "lstm__bidirectional": True,
        "lstm__pooling": "mean",
        "lstm__lr": 1e-3,
        "lstm__batch_size": 32,
        "lstm__max_epochs": 30,
    }
    single = space(optuna.trial.FixedTrial({**base, "lstm__num_layers": 1, "lstm__head_layers": 0}))
    assert "lstm__dropout" not in single and single["lstm__head"] == ()
    deep = space(
        optuna.trial.FixedTrial(
            {**base, "lstm__num_layers": 2, "lstm__head_layers": 2, "lstm__head_units": 128, "lstm__dropout": 0.3}
        )
    )
    assert deep["lstm__dropout"] == 0.3 and deep["lstm__head"] == (128, 64)


def test_default_space_needs_a_known_step():
    with pytest.raises(ValueError, match="pass search_space="):
        DefaultSearchSpace(StandardScaler())


def test_nested_cross_validation_routes_groups_to_both_splitters():
    X, y = gaussian_sequences(n=36)
    groups = np.arange(36) // 3 % 6  # each group holds every label
    search = OptunaSearch(pooled_svm(), svm_space, n_trials=2, cv=GroupKFold(2), random_state=0)
    with pytest.raises(ValueError, match="groups"):  # GroupKFold needs them
        cross_validate(search, X, y, cv=GroupKFold(3), params={"groups": groups})
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(search, X, y, cv=GroupKFold(3), params={"groups": groups}, return_estimator=True)
    assert result["test_score"].shape == (3,)
    assert [estimator.n_splits_ for estimator in result["estimator"]] == [2, 2, 2]


def test_optuna_search_cv_and_grid_search_cv_on_toolkit_pipelines(corpus):
    from optuna.distributions import FloatDistribution
    from optuna_integration import OptunaSearchCV

    pipe = get_recipe("svm-mfcc")
    X, y = corpus["path"], corpus["label"]
    grid = GridSearchCV(pipe, {"svm__C": [1.0, 10.0]}, cv=StratifiedKFold(2)).fit(X, y)
    assert grid.best_params_["svm__C"] in (1.0, 10.0) and grid.predict(X[:3]).shape == (3,)
    optuna_cv = OptunaSearchCV(
        pipe, {"svm__C": FloatDistribution(0.1, 100, log=True)}, cv=StratifiedKFold(2), n_trials=3, random_state=0
    ).fit(X, y)
    assert len(optuna_cv.trials_) == 3 and set(optuna_cv.predict(X[:3])) <= set(y)


def test_default_pruner_waits_half_an_lstms_epochs():
    for estimator, warmup in [(LSTMClassifier(max_epochs=20), 10), (pooled_svm(), 1)]:
        pruner = _default_pruner(estimator)
        assert isinstance(pruner, optuna.pruners.MedianPruner) and pruner._n_warmup_steps == warmup


def test_a_stored_study_needs_a_name(tmp_path):
    X, y = gaussian_sequences(n=20)
    with pytest.raises(ValueError, match="study_name is required"):
        OptunaSearch(pooled_svm(), svm_space, n_trials=1, cv=2, storage=f"journal:{tmp_path / 'log'}").fit(X, y)


class ArrayOnly:
    """An array-like with ``__array__`` only: no ``len``, no indexing."""

    def __init__(self, array):
        self.array = array

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.array, dtype=dtype)


@pytest.mark.parametrize(
    "as_input", [scipy.sparse.csr_matrix, scipy.sparse.csr_array, ArrayOnly], ids=["csr_matrix", "csr_array", "no len"]
)
def test_tabular_input_that_grid_search_takes(as_input):
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b"], 20)
    X = rng.normal(size=(40, 3)) + (y == "a")[:, None]
    X[X < 0] = 0
    search = OptunaSearch(LogisticRegression(), logistic_space_bare, n_trials=2, cv=2, random_state=0)
    search.fit(as_input(X), y)
    grid = GridSearchCV(LogisticRegression(), {"C": [search.best_params_["C"]]}, cv=2).fit(as_input(X), y)
    np.testing.assert_array_equal(search.predict(as_input(X)), grid.predict(as_input(X)))


def logistic_space_bare(trial):
    return {"C": trial.suggest_float("C", 1e-2, 1e2, log=True)}


def test_n_features_in_and_feature_names_come_from_the_best_estimator():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b"], 20)
    X = pd.DataFrame(rng.normal(size=(40, 3)) + (y == "a")[:, None], columns=["f0", "rms", "zcr"])
    search = OptunaSearch(LogisticRegression(), logistic_space_bare, n_trials=1, cv=2)
    assert not hasattr(search, "n_features_in_")
    search.fit(X, y)
    assert search.n_features_in_ == 3 and list(search.feature_names_in_) == ["f0", "rms", "zcr"]
    without_refit = OptunaSearch(LogisticRegression(), logistic_space_bare, n_trials=1, cv=2, refit=False).fit(X, y)
    assert not hasattr(without_refit, "n_features_in_") and not hasattr(without_refit, "feature_names_in_")
    sequences, labels = gaussian_sequences(n=20)
    on_sequences = OptunaSearch(pooled_svm(), svm_space, n_trials=1, cv=2).fit(sequences, labels)
    assert on_sequences.n_features_in_ == 3  # the pipeline's, from its first step


def stored_search(tmp_path, **params):
    defaults = dict(
        estimator=pooled_svm(),
        search_space=svm_space,
        n_trials=2,
        cv=2,
        storage=f"journal:{tmp_path / 'study.log'}",
        study_name="s",
        refit=False,
        random_state=0,
    )
    return OptunaSearch(**{**defaults, **params})


@pytest.mark.parametrize(
    "changed, expected",
    [
        (
            dict(scoring="balanced_accuracy"),
            r"its scoring is \"None \(the estimator's score method\)\", this "
            r"search's is 'balanced_accuracy'",
        ),
        (dict(cv=3), r"its cv is 'StratifiedKFold\(n_splits=2,.*this search's is 'StratifiedKFold\(n_splits=3,"),
        (dict(cv=GroupKFold(2)), r"its cv is 'StratifiedKFold.*this search's is 'GroupKFold"),
        (
            dict(estimator=make_pipeline(SequencePooling(stats=("mean",)), StandardScaler(), SVC())),
            r"its estimator parameters are \"sequencepooling__stats=\('mean', 'std'\)\", this search's are "
            r"\"sequencepooling__stats=\('mean',\)\"",
        ),
        (
            dict(estimator=make_pipeline(SequencePooling(), StandardScaler(), SVC(C=2.0))),
            r"estimator parameters are 'svc__C=1.0', this search's are 'svc__C=2.0'",
        ),
        (dict(estimator=SVC()), r"its estimator is 'Pipeline', this search's is 'SVC'"),
        (
            dict(search_space=lambda trial: {"svc__gamma": trial.suggest_float("svc__gamma", 1e-3, 1.0, log=True)}),
            r"its search_space's parameters are \['svc__C'\], this search's are \['svc__gamma'\]",
        ),
    ],
    ids=["scoring", "cv folds", "cv splitter", "parameter", "searched step's parameter", "estimator", "space"],
)
def test_a_study_of_another_search_is_refused(tmp_path, changed, expected):
    X, y = gaussian_sequences(n=20)
    groups = np.arange(20) % 4
    stored_search(tmp_path).fit(X, y, groups=groups)
    with pytest.raises(
        ValueError, match=r"Study 's' in storage 'journal:.*study.log' was created for another search: "
    ) as raised:
        stored_search(tmp_path, n_trials=4, **changed).fit(X, y, groups=groups)
    assert re.search(expected, str(raised.value)), str(raised.value)
    assert "another study_name (--study on the command line)" in str(raised.value)
    study = optuna.load_study(study_name="s", storage=make_storage(f"journal:{tmp_path / 'study.log'}"))
    assert len(study.trials) == 2  # refused before any trial ran


def test_a_study_of_the_same_search_continues_whatever_the_execution_settings(tmp_path):
    X, y = gaussian_sequences(n=20)
    stored_search(tmp_path).fit(X, y)
    cached = make_pipeline(SequencePooling(), StandardScaler(), SVC(), memory=str(tmp_path / "cache"), verbose=False)
    again = stored_search(tmp_path, estimator=cached, n_trials=3, random_state=1).fit(X, y)
    assert len(again.study_.trials) == 3
    record = again.study_.user_attrs["sklearn_ser_search"]
    assert record["direction"] == "maximize" and record["estimator"] == "Pipeline"
    assert record["estimator_parameters"]["svc__C"] == "1.0" and "memory" not in record["estimator_parameters"]
    assert record["search_space_parameters"] == ["svc__C"]


def test_a_renamed_space_that_draws_the_same_parameters_continues_the_study(tmp_path):
    X, y = gaussian_sequences(n=20)
    stored_search(tmp_path).fit(X, y)

    def edited_svm_space(trial):
        return {"svc__C": trial.suggest_float("svc__C", 1e-1, 1e1, log=True)}

    assert len(stored_search(tmp_path, search_space=edited_svm_space, n_trials=3).fit(X, y).study_.trials) == 3


def test_an_unnamed_study_records_nothing():
    X, y = gaussian_sequences(n=20)
    calls = []

    def counting_space(trial):
        calls.append(trial.number)
        return svm_space(trial)

    search = OptunaSearch(pooled_svm(), counting_space, n_trials=2, cv=2, refit=False).fit(X, y)
    assert "sklearn_ser_search" not in search.study_.user_attrs
    assert calls == [0, 1, 0]  # the two trials, then best_params_: no probe of the space


def test_a_study_of_another_direction_is_refused(tmp_path):
    X, y = gaussian_sequences(n=20)
    storage = make_storage(f"journal:{tmp_path / 'study.log'}")
    optuna.create_study(storage=storage, study_name="s", direction="minimize")
    with pytest.raises(ValueError, match=r"Study 's'.*its direction is 'minimize', this search's is 'maximize'"):
        stored_search(tmp_path).fit(X, y)


def test_a_study_without_a_record_is_adopted_with_a_warning_when_it_has_trials(tmp_path):
    X, y = gaussian_sequences(n=20)
    storage = make_storage(f"journal:{tmp_path / 'study.log'}")
    optuna.create_study(storage=storage, study_name="empty", direction="maximize")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        stored_search(tmp_path, study_name="empty").fit(X, y)
    legacy = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    legacy.enqueue_trial({"svc__C": 1.0})
    legacy.optimize(lambda trial: trial.suggest_float("svc__C", 1e-2, 1e2, log=True) / 100, n_trials=1)
    with pytest.warns(UserWarning, match=r"Study 's' has 1 trials but no record of what they optimise"):
        search = stored_search(tmp_path, n_trials=3).fit(X, y)
    assert len(search.study_.trials) == 3 and "sklearn_ser_search" in search.study_.user_attrs
    with pytest.raises(ValueError, match="its scoring is"):
        stored_search(tmp_path, n_trials=4, scoring="f1_macro").fit(X, y)


def test_a_damaged_journal_names_the_file_and_the_line(tmp_path):
    X, y = gaussian_sequences(n=20)
    stored_search(tmp_path).fit(X, y)
    path = tmp_path / "study.log"
    lines = path.read_text().splitlines(keepends=True)
    damaged = lines.copy()
    damaged[3] = damaged[3][: len(damaged[3]) // 2] + "\n"
    path.write_text("".join(damaged))
    with pytest.raises(ValueError, match=rf"journal file {re.escape(str(path))} is damaged: line 4 is not valid JSON"):
        stored_search(tmp_path, n_trials=3).fit(X, y)


def test_a_journal_cut_short_by_a_killed_worker_is_repaired(tmp_path):
    X, y = gaussian_sequences(n=20)
    stored_search(tmp_path).fit(X, y)
    path = tmp_path / "study.log"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][:20])
    with pytest.warns(
        UserWarning, match=rf"last line \(line {len(lines)}\) of the Optuna journal file .* was cut short"
    ):
        search = stored_search(tmp_path, n_trials=3).fit(X, y)
    assert len([t for t in search.study_.trials if t.state.is_finished()]) == 3
    assert path.read_text().endswith("\n")


class DuplicateEverySequence(BaseEstimator):
    """A sampler in imbalanced-learn's sense: it doubles the training set."""

    def fit_resample(self, X, y):
        return [*X, *X], np.concatenate([y, y])


def test_a_pipeline_with_a_sampler_before_its_lstm_is_searched_fold_by_fold():
    from imblearn.pipeline import Pipeline as ResamplingPipeline

    X, y = gaussian_sequences(n=24)
    lstm = LSTMClassifier(max_epochs=2, batch_size=8, random_state=0)
    pipe = ResamplingPipeline([("twice", DuplicateEverySequence()), ("lstm", lstm)])
    search = OptunaSearch(pipe, lambda trial: {}, n_trials=1, cv=2, random_state=0).fit(X, y)
    (trial,) = search.study_.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert sorted(trial.intermediate_values) == [0, 1], "one report per fold, not per epoch"
    assert search.best_estimator_.named_steps["lstm"].n_epochs_ == 2


def test_the_default_space_chooses_the_speech_models_layer_and_pooling(speech_config):
    space = DefaultSearchSpace(get_recipe("ssl-best", model=speech_config))
    assert space.steps == [("speech__", "SpeechEmbedder"), ("logreg__", "LogisticRegression")]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    layers, poolings = set(), set()
    for _ in range(40):
        params = space(study.ask())
        layers.add(params["speech__layer"])
        poolings.add(params["speech__pooling"])
        assert 1e-3 <= params["logreg__C"] <= 1e2
    assert layers == {"mean", 0, 1, 2} and poolings == {"mean", "mean+std"}
    frames = DefaultSearchSpace(get_recipe("ssl-lstm", model=speech_config))(study.ask())
    assert "speech__pooling" not in frames  # the LSTM reads frames


def sqlite_study_file(path):
    """A SQLite Optuna study database at ``path``, as 'sqlite:///PATH' writes it."""
    optuna.create_study(storage=f"sqlite:///{path}", study_name="s").optimize(
        lambda trial: trial.suggest_float("x", 0, 1), n_trials=1
    )
    return path


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda tmp: sqlite_study_file(tmp / "study.db"), id="a SQLite study database"),
        pytest.param(lambda tmp: _written(tmp / "notes.txt", b"first line\nsecond line, no newline"), id="a text file"),
        pytest.param(lambda tmp: _written(tmp / "one.txt", b"no newline at all"), id="one unfinished line"),
        pytest.param(lambda tmp: _written(tmp / "data.json", b'{"a": 1}\n{"b": 2}'), id="JSON lines, not a journal"),
    ],
)
def test_a_file_that_is_not_a_journal_is_refused_and_left_untouched(tmp_path, make, capsys):
    import sqlite3

    path = make(tmp_path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"exists and is not an Optuna journal .* left untouched"):
        make_storage(f"journal:{path}")
    assert main(["search", "--corpus", f"synthetic:{tmp_path / 'c'}", "--recipe", "svm-mfcc", "--n-trials", "1",
                 "--storage", f"journal:{path}", "--study", "s"]) == 1  # fmt: skip
    assert "is not an Optuna journal" in capsys.readouterr().err
    assert path.read_bytes() == before and not (tmp_path / "c").exists()  # refused before the corpus is made
    if path.suffix == ".db":
        assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_journal_damaged_before_its_cut_short_end_is_not_repaired(tmp_path):
    X, y = gaussian_sequences(n=20)
    stored_search(tmp_path).fit(X, y)
    path = tmp_path / "study.log"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = "not json\n"
    damaged = "".join(lines[:-1]) + lines[-1][:20]
    path.write_text(damaged)
    with pytest.raises(ValueError, match=r"damaged: line 3 .* left untouched"):
        make_storage(f"journal:{path}")
    assert path.read_text() == damaged


def _written(path, content):
    path.write_bytes(content)
    return path
