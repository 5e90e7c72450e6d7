"""``groups`` reaches the splitter whatever the estimator's ``fit`` takes, and the estimator only where it asks.

Every public classifier (found from the packages' ``__all__``), bare and as the last step of a Pipeline,
goes through :class:`OptunaSearch`, :func:`evaluate` and :func:`compare` with a splitter that requests
groups (``GroupKFold``), a group splitter that needs them without requesting them under metadata routing
(written without ``GroupsConsumerMixin``) and a splitter that ignores them (``StratifiedKFold``), with and
without groups. An estimator whose ``fit`` takes ``groups`` without requesting them (``LSTMClassifier``)
made them "unset metadata" in a search; a group splitter without a request never got them; a corpus
without a ``speaker`` column could not be evaluated on a splitter.
"""

import inspect
import warnings

import numpy as np
import optuna
import pandas as pd
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import BaseCrossValidator, GroupKFold, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline

import sklearn_ser.augmentation
import sklearn_ser.models
from sklearn_ser.augmentation import AugmentedClassifier, WaveformAugmenter
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.evaluation import compare, evaluate
from sklearn_ser.features import MFCC, SequencePooling, SpeakerNormalizer
from sklearn_ser.model_selection import OptunaSearch
from sklearn_ser.models import (
    CRNNClassifier,
    LSTMClassifier,
    MultiscaleLSTMClassifier,
    ScoreFusionClassifier,
)
from sklearn_ser.recipes import describe_recipe, get_recipe, list_recipes, recipe_options

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPEAKERS = np.repeat(["F01", "M01", "F02", "M02"], 4).astype(object)
LABELS = np.array(["angry", "sad"] * 8, dtype=object)


def public_classifiers():
    """Names of the classifiers the packages export: each can be the final estimator or the whole model."""
    names = []
    for module in (sklearn_ser.models, sklearn_ser.augmentation):
        for name in module.__all__:
            exported = getattr(module, name)
            if inspect.isclass(exported) and issubclass(exported, ClassifierMixin):
                names.append(name)
    return sorted(names)


def tiny_lstm():
    return LSTMClassifier(hidden_size=4, batch_size=8, max_epochs=1, random_state=0)


FACTORIES = {
    "LSTMClassifier": tiny_lstm,
    "CRNNClassifier": lambda: CRNNClassifier(
        conv_channels=(2,), hidden_size=4, batch_size=8, max_epochs=1, random_state=0
    ),
    "MultiscaleLSTMClassifier": lambda: MultiscaleLSTMClassifier(tiny_lstm(), segment_frames=(4,)),
    "ScoreFusionClassifier": lambda: ScoreFusionClassifier(
        [("a", tiny_lstm()), ("b", tiny_lstm())], weight_grid=2, cv=2
    ),
    "AugmentedClassifier": lambda: AugmentedClassifier(
        make_pipeline(MFCC(n_mfcc=8, n_mels=16), tiny_lstm()), WaveformAugmenter(random_state=0)
    ),
}
"""A tiny instance of every public classifier; a new one fails test_every_public_classifier_is_covered."""

WAVEFORM_INPUT = {"AugmentedClassifier"}
"""Classifiers that take waveforms (the others take feature sequences)."""


def _object_array(items):
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _inputs(name):
    rng = np.random.default_rng(0)
    if name in WAVEFORM_INPUT:
        return _object_array([(0.1 * rng.standard_normal(4000)).astype(np.float32) for _ in LABELS])
    return _object_array([rng.standard_normal((int(rng.integers(8, 12)), 8)).astype(np.float32) for _ in LABELS])


def _model(name, wrapped):
    estimator = FACTORIES[name]()
    return Pipeline([("classifier", estimator)]) if wrapped else estimator


class HoldOutTwoGroups(BaseCrossValidator):
    """Two folds of two groups each: a group splitter written without GroupsConsumerMixin.

    It needs ``groups``, yet requests none under metadata routing; it
    records the groups it got.
    """

    def split(self, X, y=None, groups=None):
        if groups is None:
            raise ValueError("HoldOutTwoGroups needs groups.")
        self.received_ = np.asarray(groups)
        yield from super().split(X, y, groups)

    def _iter_test_indices(self, X=None, y=None, groups=None):
        groups = np.asarray(groups)
        for held_out in np.array_split(np.unique(groups), 2):
            yield np.flatnonzero(np.isin(groups, held_out))

    def get_n_splits(self, X=None, y=None, groups=None):
        return 2


SPLITTERS = {
    "GroupKFold": lambda: GroupKFold(2),
    "unrequesting group splitter": HoldOutTwoGroups,
    "StratifiedKFold": lambda: StratifiedKFold(2),
}
CASES = [
    pytest.param("GroupKFold", True, id="GroupKFold-groups"),
    pytest.param("unrequesting group splitter", True, id="unrequesting-groups"),
    pytest.param("StratifiedKFold", True, id="StratifiedKFold-groups"),
    pytest.param("StratifiedKFold", False, id="StratifiedKFold-no-groups"),
]
WRAPS = [pytest.param(False, id="bare"), pytest.param(True, id="pipeline")]


def no_parameters(trial):
    return {}


def _check_splitter_got_the_groups(cv):
    if isinstance(cv, HoldOutTwoGroups):
        np.testing.assert_array_equal(cv.received_, SPEAKERS)


def test_every_public_classifier_is_covered():
    assert public_classifiers() == sorted(FACTORIES)


@pytest.mark.parametrize("splitter, with_groups", CASES)
@pytest.mark.parametrize("wrapped", WRAPS)
@pytest.mark.parametrize("name", public_classifiers())
def test_optuna_search(name, wrapped, splitter, with_groups):
    X, cv = _inputs(name), SPLITTERS[splitter]()
    search = OptunaSearch(_model(name, wrapped), no_parameters, n_trials=1, cv=cv, error_score="raise")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="The groups parameter is ignored")  # groups may be the steps'
        search.fit(X, LABELS, groups=SPEAKERS if with_groups else None)
    _check_splitter_got_the_groups(cv)
    assert search.n_splits_ == 2 and len(search.study_.trials) == 1
    assert search.predict(X[:3]).shape == (3,)


@pytest.mark.parametrize("splitter, with_groups", CASES)
@pytest.mark.parametrize("wrapped", WRAPS)
@pytest.mark.parametrize("name", public_classifiers())
def test_evaluate(name, wrapped, splitter, with_groups):
    corpus = pd.DataFrame({"path": _inputs(name), "label": LABELS})
    if with_groups:
        corpus["speaker"] = SPEAKERS
    cv = SPLITTERS[splitter]()
    result = evaluate(_model(name, wrapped), corpus, protocol=cv, scoring=("accuracy",))
    _check_splitter_got_the_groups(cv)
    assert len(result.scores["accuracy"]) == 2 and len(result.y_pred) == len(LABELS)
    if splitter != "StratifiedKFold":  # folds named by the speakers they hold out, each held out once
        held_out = [speaker for fold in result.fold_names for speaker in fold.split("+")]
        assert sorted(held_out) == sorted(set(SPEAKERS))
    if not with_groups:
        assert result.fold_names == ["fold 1", "fold 2"]


@pytest.mark.parametrize("splitter, with_groups", CASES)
@pytest.mark.parametrize("waveforms", [False, True], ids=["sequence-models", "waveform-models"])
def test_compare(waveforms, splitter, with_groups):
    names = [name for name in public_classifiers() if (name in WAVEFORM_INPUT) == waveforms]
    corpus = pd.DataFrame({"path": _inputs(names[0]), "label": LABELS})
    if with_groups:
        corpus["speaker"] = SPEAKERS
    estimators = {f"{name}{' in a pipeline' * wrapped}": _model(name, wrapped) for name in names for wrapped in (0, 1)}
    cv = SPLITTERS[splitter]()
    results, table, _ = compare(estimators, corpus, protocol=cv, scoring=("accuracy",))
    _check_splitter_got_the_groups(cv)
    assert set(results) == set(estimators) and len(table) == len(estimators)
    assert all(len(result.scores["accuracy"]) == 2 for result in results.values())


@pytest.mark.parametrize("splitter", ["GroupKFold", "unrequesting group splitter"])
def test_a_group_splitter_without_groups_says_so(splitter):
    X = _inputs("LSTMClassifier")
    with pytest.raises(ValueError, match="groups"):
        OptunaSearch(tiny_lstm(), no_parameters, n_trials=1, cv=SPLITTERS[splitter]()).fit(X, LABELS)
    with pytest.raises(ValueError, match="groups"):
        evaluate(tiny_lstm(), pd.DataFrame({"path": X, "label": LABELS}), protocol=SPLITTERS[splitter]())


# -- groups reach the estimator only where it requests them ----------------------------------------------------------


class _GroupsSpy(ClassifierMixin, BaseEstimator):
    """Records the groups its ``fit`` gets; predicts the first label."""

    def fit(self, X, y, groups=None):
        self.groups_ = None if groups is None else np.asarray(groups)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


class _KeywordsSpy(_GroupsSpy):
    """The same, with a ``fit(X, y, **fit_params)`` signature."""

    def fit(self, X, y, **fit_params):
        return super().fit(X, y, groups=fit_params.get("groups"))


class _RequestingKeywordsSpy(_KeywordsSpy):
    """A ``fit(X, y, **fit_params)`` that requests groups (``set_fit_request`` knows no ``**`` parameter)."""

    __metadata_request__fit = {"groups": True}


def _spy(signature, requested):
    if signature == "groups=None":
        spy = _GroupsSpy()
        if requested:
            with sklearn.config_context(enable_metadata_routing=True):
                spy.set_fit_request(groups=True)
        return spy
    return _RequestingKeywordsSpy() if requested else _KeywordsSpy()


@pytest.mark.parametrize("signature", ["groups=None", "**fit_params"])
@pytest.mark.parametrize("wrapped", WRAPS)
@pytest.mark.parametrize("requested", [False, True], ids=["unrequested", "requested"])
def test_the_estimator_gets_groups_only_when_it_requests_them(signature, wrapped, requested):
    X = np.zeros((len(LABELS), 2))
    estimator = _spy(signature, requested)
    model = Pipeline([("spy", estimator)]) if wrapped else estimator

    search = OptunaSearch(model, no_parameters, n_trials=1, cv=HoldOutTwoGroups(), error_score="raise")
    search.fit(X, LABELS, groups=SPEAKERS)
    refitted = search.best_estimator_[-1] if wrapped else search.best_estimator_
    if requested:
        np.testing.assert_array_equal(refitted.groups_, SPEAKERS)
    else:
        assert refitted.groups_ is None

    corpus = pd.DataFrame({"path": list(X), "label": LABELS, "speaker": SPEAKERS})
    result = evaluate(model, corpus, protocol=HoldOutTwoGroups(), scoring=("accuracy",), keep_estimators=True)
    for fitted, test in zip(result.estimators, np.split(result.test_indices, 2)):
        fitted = fitted[-1] if wrapped else fitted
        if requested:  # the fold's training part only
            np.testing.assert_array_equal(fitted.groups_, np.delete(SPEAKERS, test))
        else:
            assert fitted.groups_ is None


def test_groups_and_speakers_with_a_speaker_normalizer_inside_an_augmented_classifier(tmp_path):
    corpus = make_synthetic_corpus(tmp_path, n_speakers=4, n_words=1, emotions=("angry", "sad"))
    speakers = corpus["speaker"].to_numpy(dtype=object)
    # An LSTM that requests groups for its early-stopping split: they reach it through the augmenter.
    lstm = tiny_lstm().set_params(early_stopping=True, validation_fraction=0.5)
    with sklearn.config_context(enable_metadata_routing=True):
        lstm.set_fit_request(groups=True)
    models = [
        make_pipeline(MFCC(n_mfcc=8, n_mels=16), SpeakerNormalizer(), SequencePooling(), LogisticRegression()),
        make_pipeline(MFCC(n_mfcc=8, n_mels=16), SpeakerNormalizer(), lstm),
    ]
    for inner in models:
        model = AugmentedClassifier(inner, WaveformAugmenter(random_state=0))
        search = OptunaSearch(model, no_parameters, n_trials=1, cv=HoldOutTwoGroups(), error_score="raise")
        search.fit(corpus["path"], corpus["label"], groups=speakers, speaker=speakers)
        assert search.predict(corpus["path"][:2], speaker=speakers[:2]).shape == (2,)
        result = evaluate(model, corpus, protocol=HoldOutTwoGroups(), scoring=("accuracy",))
        assert len(result.fold_names) == 2


def test_nested_cross_validation_passes_groups_to_an_unrequesting_inner_splitter():
    X = _inputs("LSTMClassifier")
    search = OptunaSearch(tiny_lstm(), no_parameters, n_trials=1, cv=HoldOutTwoGroups(), error_score="raise")
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(search, X, LABELS, cv=GroupKFold(2), params={"groups": SPEAKERS}, return_estimator=True)
    assert [fitted.n_splits_ for fitted in result["estimator"]] == [2, 2]


# -- the recipes ------------------------------------------------------------------------------------------------------

SMALL = {"hidden_size": 4, "conv_channels": (2,), "head": (), "bidirectional": False, "num_layers": 1}


def cheap_recipes():
    """The recipes that need nothing beyond the base install, with speaker normalization where they offer it."""
    recipes = []
    for name in list_recipes():
        if "needs" in describe_recipe(name):
            continue
        recipes.append(pytest.param(name, False, id=name))
        if "speaker_normalization" in recipe_options(name):
            recipes.append(pytest.param(name, True, id=f"{name}-speaker-normalized"))
    return recipes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(tmp_path_factory.mktemp("corpus"), n_speakers=4, n_words=1, emotions=("angry", "sad"))


@pytest.mark.parametrize("name, speaker_normalization", cheap_recipes())
def test_recipes(corpus, name, speaker_normalization):
    options = {"max_epochs": 1} if "max_epochs" in recipe_options(name) else {}
    if speaker_normalization:
        options["speaker_normalization"] = True
    pipe = get_recipe(name, **options)
    pipe.set_params(
        **{key: SMALL[key.rsplit("__", 1)[-1]] for key in pipe.get_params() if key.rsplit("__", 1)[-1] in SMALL}
    )
    speakers = corpus["speaker"].to_numpy(dtype=object)
    metadata = {"speaker": speakers} if speaker_normalization else {}
    search = OptunaSearch(pipe, no_parameters, n_trials=1, cv=HoldOutTwoGroups(), refit=False, error_score="raise")
    search.fit(corpus["path"], corpus["label"], groups=speakers, **metadata)
    assert search.n_splits_ == 2
    result = evaluate(pipe, corpus, protocol=HoldOutTwoGroups(), scoring=("accuracy",))
    assert len(result.fold_names) == 2
