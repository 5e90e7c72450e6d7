"""Every public estimator validates its parameters at fit, as scikit-learn does, before it reads any data.

The estimators are found from the ``__all__`` of the package's public
modules, so a new one is covered as soon as it is exported; one whose
constructor needs arguments gets them from ``REQUIRED_ARGUMENTS``.
"""

import importlib
import pkgutil

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.utils._param_validation import InvalidParameterError, generate_invalid_param_val, make_constraint
from sklearn.utils.estimator_checks import check_param_validation

import sklearn_ser
from sklearn_ser.augmentation import AugmentedClassifier, WaveformAugmenter
from sklearn_ser.features import (
    MFCC,
    DeltaStack,
    DenseNetEmbedder,
    MelSpectrogram,
    SegmentPooling,
    SequenceScaler,
    SequenceUnion,
)
from sklearn_ser.model_selection import OptunaSearch
from sklearn_ser.models import CRNNClassifier, LSTMClassifier, ScoreFusionClassifier


def public_estimators():
    """The estimator classes in the ``__all__`` of the package and of its public modules."""
    modules = [sklearn_ser] + [
        importlib.import_module(f"sklearn_ser.{info.name}")
        for info in pkgutil.iter_modules(sklearn_ser.__path__)
        if not info.name.startswith("_")
    ]
    found = {
        getattr(module, name)
        for module in modules
        for name in getattr(module, "__all__", ())
        if isinstance(getattr(module, name), type) and issubclass(getattr(module, name), BaseEstimator)
    }
    return sorted(found, key=lambda cls: cls.__name__)


def no_search_space(trial):
    return {}


#: Small valid arguments of the estimators whose constructor requires some.
REQUIRED_ARGUMENTS = {
    "AugmentedClassifier": lambda: dict(estimator=LogisticRegression(), augmenter=WaveformAugmenter(sr=8000)),
    "OptunaSearch": lambda: dict(estimator=LogisticRegression(), search_space=no_search_space),
    "ScoreFusionClassifier": lambda: dict(estimators=[("logistic", LogisticRegression()), ("bayes", GaussianNB())]),
    "SequenceUnion": lambda: dict(transformer_list=[("scaled", SequenceScaler()), ("delta", DeltaStack())]),
}

ESTIMATORS = public_estimators()


def construct(cls):
    try:
        return cls(**REQUIRED_ARGUMENTS.get(cls.__name__, dict)())
    except TypeError as exc:
        pytest.fail(f"{cls.__name__} needs constructor arguments: add small valid ones to REQUIRED_ARGUMENTS ({exc}).")


def test_the_known_public_estimators_are_found():
    names = {cls.__name__ for cls in ESTIMATORS}
    assert {"MFCC", "SequenceUnion", "LSTMClassifier", "AugmentedClassifier", "OptunaSearch"} <= names
    assert len(names) >= 20


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_scikit_learn_check_param_validation(cls):
    check_param_validation(cls.__name__, construct(cls))


class DataRead(Exception):
    """Raised when an estimator reads the data before it has validated its parameters."""


class NotToBeRead:
    """Data whose every use raises DataRead."""

    def __getattr__(self, name):
        raise DataRead(f"the data's {name!r} was read")

    def __len__(self):
        raise DataRead("the data's length was read")

    def __iter__(self):
        raise DataRead("the data was iterated")

    def __getitem__(self, index):
        raise DataRead("the data was indexed")

    def __array__(self, *args, **kwargs):
        raise DataRead("the data was converted to an array")


#: The methods that start a fit: scikit-learn's check calls the first four; samplers resample, and
#: epoch-wise classifiers start training, without fit.
FIT_METHODS = ("fit", "partial_fit", "fit_transform", "fit_predict", "fit_resample", "start_training")


def invalid_values(constraints):
    """A value of no accepted type, then a value of an accepted type that no constraint accepts, where there is one."""
    yield type("BadType", (), {})()
    for constraint in map(make_constraint, constraints):
        try:
            yield generate_invalid_param_val(constraint)
        except NotImplementedError:
            pass


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_every_fit_method_refuses_an_invalid_parameter_before_reading_the_data(cls):
    estimator = construct(cls)
    methods = [method for method in FIT_METHODS if hasattr(estimator, method)]
    assert methods, f"{cls.__name__} has none of the fit methods {FIT_METHODS}"
    for name, constraints in estimator._parameter_constraints.items():
        if constraints == "no_validation":
            continue
        for value in invalid_values(constraints):
            broken = clone(estimator).set_params(**{name: value})
            for method in methods:
                match = rf"The '{name}' parameter of {cls.__name__} must be .* Got .* instead\."
                with pytest.raises(InvalidParameterError, match=match):
                    getattr(broken, method)(NotToBeRead(), NotToBeRead())


# -- cases that were accepted and failed later, or silently ----------------------------------------------------


def sequences(n=8, n_features=3):
    rng = np.random.default_rng(0)
    return [rng.normal(loc=i % 2, size=(6 + i, n_features)).astype(np.float32) for i in range(n)]


def test_a_negative_max_frame_difference_is_refused_at_fit():
    union = SequenceUnion([("scaled", SequenceScaler()), ("delta", DeltaStack(width=3))], max_frame_difference=-1)
    message = r"The 'max_frame_difference' parameter of SequenceUnion must be an int in the range \[0, inf\)\. Got -1"
    for method in ("fit", "fit_transform"):
        with pytest.raises(InvalidParameterError, match=message):
            getattr(union, method)(sequences())


def test_a_malformed_transformer_list_is_refused_before_fitting():
    union = SequenceUnion([("scaled", SequenceScaler()), DeltaStack()])
    with pytest.raises(ValueError, match=r"list of \(name, transformer\) tuples; transformer_list\[1\] is DeltaStack"):
        union.fit(NotToBeRead())


@pytest.mark.parametrize("head", [(0,), (16, -1), (8.5,), (True,)])
def test_a_dense_layer_without_units_is_refused_before_the_data_is_read(head):
    # head=(0,) trained a network whose output was its bias alone: the same probabilities for every utterance
    with pytest.raises(ValueError, match=r"head must be a tuple of positive ints .*; got \("):
        LSTMClassifier(head=head).fit(NotToBeRead(), NotToBeRead())


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(conv_channels=(4, 0)), "conv_channels must be a tuple of positive ints"),
        (dict(conv_channels=(4,), pool_time=(2, 2)), r"pool_time must be .* one positive int per convolution block"),
        (dict(pool_freq=(2, 0)), r"pool_freq must be a positive int or one positive int per convolution block"),
    ],
)
def test_convolution_blocks_are_checked_before_the_data_is_read(params, match):
    # they were checked when the network was built, after the data
    with pytest.raises(ValueError, match=match):
        CRNNClassifier(**params).fit(NotToBeRead(), NotToBeRead())


def test_an_optimizer_class_must_be_a_torch_optimizer():
    with pytest.raises(
        ValueError, match=r"optimizer must be one of \['adam', .*\] or a torch.optim.Optimizer subclass"
    ):
        LSTMClassifier(optimizer=dict).fit(NotToBeRead(), NotToBeRead())


def test_a_device_that_is_not_a_torch_device_is_refused_before_the_data_is_read():
    with pytest.raises(ValueError, match=r"device='gpu' is not a torch device"):
        LSTMClassifier(device="gpu").fit(NotToBeRead(), NotToBeRead())


@pytest.mark.parametrize("cls", [MelSpectrogram, MFCC])
def test_an_unknown_window_is_refused_at_fit(cls):
    # it was accepted by fit and refused by transform
    with pytest.raises(ValueError, match=r"window='hanx' is not a window of scipy.signal.get_window"):
        cls(window="hanx").fit(np.zeros((2, 4000), dtype=np.float32))


def test_an_image_size_densenet_cannot_take_is_refused_by_the_constraints():
    with pytest.raises(InvalidParameterError, match=r"'image_size' parameter of DenseNetEmbedder .* \[29, inf\)"):
        DenseNetEmbedder(weights=None, image_size=16).fit(NotToBeRead())


def test_the_meta_estimators_validate_before_their_members_see_data():
    with pytest.raises(InvalidParameterError, match="'augmenter' parameter of AugmentedClassifier"):
        AugmentedClassifier(LogisticRegression(), "noise").fit(NotToBeRead(), NotToBeRead())
    with pytest.raises(InvalidParameterError, match="'n_trials' parameter of OptunaSearch"):
        OptunaSearch(LogisticRegression(), no_search_space, n_trials=0).fit(NotToBeRead(), NotToBeRead())
    with pytest.raises(InvalidParameterError, match="'cv' parameter of ScoreFusionClassifier"):
        ScoreFusionClassifier([("a", LogisticRegression()), ("b", GaussianNB())], cv=1).fit(NotToBeRead(), [0])


def test_a_misspelt_scoring_is_refused_by_the_search_before_the_data_is_read():
    search = OptunaSearch(LogisticRegression(), lambda trial: {}, scoring="accurasy")
    with pytest.raises(InvalidParameterError, match="'scoring' parameter of OptunaSearch"):
        search.fit(NotToBeRead(), np.zeros(4))


def test_a_study_of_another_search_is_named_without_its_password():
    from types import SimpleNamespace

    from sklearn_ser.model_selection._search import _refuse

    with pytest.raises(ValueError) as refused:
        _refuse(SimpleNamespace(study_name="s"), "postgresql://user:secret@host/db", "scoring", "a", "b")
    assert "secret" not in str(refused.value) and "postgresql://user:***@host/db" in str(refused.value)


@pytest.mark.parametrize("cls", [DenseNetEmbedder, SegmentPooling])
def test_segments_with_gaps_between_them_are_refused_before_the_data_is_read(cls):
    with pytest.raises(ValueError, match="segment_hop=40 is larger than segment_frames=32"):
        cls(segment_frames=32, segment_hop=40).fit(NotToBeRead())
