"""Training-only waveform augmentation: the effects, the sampler, and fitting with it."""

import pickle

import numpy as np
import pandas as pd
import pytest
import sklearn
from imblearn.base import is_sampler
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from sklearn_ser import InvalidAudioError, load_audio
from sklearn_ser.augmentation import AugmentedClassifier, WaveformAugmenter
from sklearn_ser.augmentation._effects import add_noise, apply_gain, change_speed, colored_noise
from sklearn_ser.datasets import corpus_arrays, make_synthetic_corpus
from sklearn_ser.evaluation import evaluate
from sklearn_ser.features import MFCC, SequencePooling, SpeakerNormalizer

from .conftest import tone

SR = 8000
ONLY_NOISE = dict(speed_factors=None, gain_db=None)
ONLY_GAIN = dict(speed_factors=None, snr_db=None)
ONLY_SPEED = dict(snr_db=None, gain_db=None)


def snr_db(signal, noisy):
    noise = np.asarray(noisy, np.float64) - signal
    return 10 * np.log10(np.mean(np.square(signal, dtype=np.float64)) / np.mean(noise**2))


def peak_frequency(y, sr):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.argmax(spectrum) * sr / len(y)


def spectral_slope(noise):
    """Slope of log power against log frequency, between 1/100 and 1/4 of the sampling rate."""
    power = np.abs(np.fft.rfft(noise)) ** 2
    frequencies = np.arange(len(power))
    band = slice(len(power) // 50, len(power) // 2)
    return np.polyfit(np.log(frequencies[band]), np.log(power[band]), 1)[0]


def waveforms(n, seconds=0.25, sr=SR):
    rng = np.random.default_rng(0)
    return [
        tone(sr, seconds, freq=200.0 + 50 * i) + 0.05 * rng.standard_normal(int(sr * seconds)).astype(np.float32)
        for i in range(n)
    ]


def rms_and_length(X):
    return np.array([[np.sqrt(np.mean(np.square(x))), len(x) / SR] for x in X])


class RecordingAugmenter(WaveformAugmenter):
    """A WaveformAugmenter that records how many utterances each fit_resample call receives."""

    calls = []

    def fit_resample(self, X, y=None):
        RecordingAugmenter.calls.append(len(X))
        return super().fit_resample(X, y)


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the majority label; records the sizes it is fitted and asked to predict on."""

    fitted, predicted = [], []

    def fit(self, X, y, sample_weight=None):
        RecordingClassifier.fitted.append((len(X), None if sample_weight is None else list(sample_weight)))
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        return self

    def predict(self, X):
        RecordingClassifier.predicted.append(len(X))
        return np.full(len(X), self.majority_)


@pytest.fixture
def recorders():
    RecordingAugmenter.calls, RecordingClassifier.fitted, RecordingClassifier.predicted = [], [], []
    return RecordingAugmenter, RecordingClassifier


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return make_synthetic_corpus(root, n_speakers=2, n_words=3, emotions=("angry", "sad", "happy"), random_state=0)


def mfcc_svm(memory=None):
    return [
        ("mfcc", MFCC(n_mfcc=13, memory=memory)),
        ("pool", SequencePooling()),
        ("scale", StandardScaler()),
        ("svc", SVC()),
    ]


# -- the effects -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("factor", "expected_hz"), [(0.9, 396.0), (1.1, 484.0), (1.25, 550.0)])
def test_speed_changes_length_and_pitch_by_the_factor(factor, expected_hz):
    y = tone(SR, 1.0, freq=440.0)
    fast = change_speed(y, factor, sr=SR)
    assert len(fast) == int(np.ceil(len(y) / factor))
    assert peak_frequency(fast, SR) == pytest.approx(expected_hz, abs=2.0)


def test_speed_factor_one_keeps_the_samples():
    y = tone(SR, 0.1)
    np.testing.assert_array_equal(change_speed(y, 1.0, sr=SR), y)


@pytest.mark.parametrize(("color", "slope"), [("white", 0.0), ("pink", -1.0), ("brown", -2.0)])
def test_noise_color_has_its_spectral_slope_and_unit_power(color, slope):
    noise = colored_noise(2**16, color, np.random.default_rng(0))
    assert np.mean(noise**2) == pytest.approx(1.0)
    assert spectral_slope(noise) == pytest.approx(slope, abs=0.1)


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
@pytest.mark.parametrize("target", [-5.0, 10.0, 37.5])
def test_noise_is_added_at_the_requested_snr(color, target):
    y = tone(SR, 0.5)
    noisy = add_noise(y, target, color=color, rng=np.random.default_rng(1))
    assert snr_db(y, noisy) == pytest.approx(target, abs=1e-9)


def test_noise_leaves_silence_silent():
    silent = np.zeros(100, np.float32)
    np.testing.assert_array_equal(add_noise(silent, 10.0, color="white", rng=np.random.default_rng(0)), silent)


def test_one_sample_of_pink_noise_is_zero_not_nan():
    assert np.array_equal(colored_noise(1, "pink", np.random.default_rng(0)), [0.0])


def test_gain_scales_the_amplitude():
    y = tone(SR, 0.1)
    np.testing.assert_allclose(apply_gain(y, 6.0) / 10 ** (6 / 20), y, rtol=1e-12)
    np.testing.assert_allclose(apply_gain(y, -20.0), y.astype(np.float64) / 10, rtol=1e-12)


# -- what the sampler returns --------------------------------------------------------------------------


@pytest.mark.parametrize(("n_copies", "keep_original", "rounds"), [(3, True, 4), (3, False, 3), (0, True, 1)])
def test_counts_labels_and_sources(n_copies, keep_original, rounds):
    X, y = waveforms(5), ["a", "b", "a", "c", "b"]
    augmenter = WaveformAugmenter(sr=SR, n_copies=n_copies, keep_original=keep_original, random_state=0)
    X_res, y_res = augmenter.fit_resample(X, y)
    assert len(X_res) == 5 * rounds and y_res == y * rounds
    np.testing.assert_array_equal(augmenter.sample_indices_, np.tile(np.arange(5), rounds))
    first = 0 if keep_original else 1
    np.testing.assert_array_equal(augmenter.augmentations_["copy"], np.repeat(np.arange(first, n_copies + 1), 5))
    assert all(x.dtype == np.float32 and x.ndim == 1 for x in X_res)
    if keep_original:
        for original, returned in zip(X, X_res[:5]):
            np.testing.assert_array_equal(original, returned)
    else:
        assert not any(np.array_equal(original, returned) for original, returned in zip(X, X_res[:5]))


def test_labels_keep_their_kind():
    X = waveforms(3)
    series = pd.Series(["a", "b", "c"], name="emotion")
    _, y_series = WaveformAugmenter(sr=SR, random_state=0).fit_resample(X, series)
    assert isinstance(y_series, pd.Series) and y_series.name == "emotion" and list(y_series) == ["a", "b", "c"] * 2
    _, y_array = WaveformAugmenter(sr=SR, random_state=0).fit_resample(X, np.array([0, 1, 2]))
    np.testing.assert_array_equal(y_array, [0, 1, 2, 0, 1, 2])
    _, y_none = WaveformAugmenter(sr=SR, random_state=0).fit_resample(X)
    assert y_none is None


def test_snr_of_the_added_noise_is_within_the_range():
    X = waveforms(4)
    augmenter = WaveformAugmenter(sr=SR, n_copies=25, snr_db=(5, 25), random_state=0, **ONLY_NOISE)
    X_res, _ = augmenter.fit_resample(X, [0, 1, 2, 3])
    records = augmenter.augmentations_.iloc[4:]
    measured = np.array([snr_db(X[i], X_res[row]) for row, i in zip(records.index, records["source"])])
    # float32 output rounds the noise: within 1e-3 dB of the draw
    np.testing.assert_allclose(measured, records["snr_db"], atol=1e-3)
    assert measured.min() >= 5 - 1e-3 and measured.max() <= 25 + 1e-3
    assert measured.min() < 7 and measured.max() > 23  # the draws cover the range


def test_fixed_snr():
    X = waveforms(2)
    X_res, _ = WaveformAugmenter(sr=SR, snr_db=12.0, random_state=0, **ONLY_NOISE).fit_resample(X, [0, 1])
    assert [round(snr_db(x, noisy), 3) for x, noisy in zip(X, X_res[2:])] == [12.0, 12.0]


def test_gain_is_within_the_range():
    X = waveforms(4)
    augmenter = WaveformAugmenter(sr=SR, n_copies=25, gain_db=(-10, 3), random_state=0, **ONLY_GAIN)
    X_res, _ = augmenter.fit_resample(X, [0, 1, 2, 3])
    records = augmenter.augmentations_.iloc[4:]
    measured = np.array(
        [20 * np.log10(np.std(X_res[row]) / np.std(X[i])) for row, i in zip(records.index, records["source"])]
    )
    np.testing.assert_allclose(measured, records["gain_db"], atol=1e-4)
    assert measured.min() >= -10 - 1e-4 and measured.max() <= 3 + 1e-4
    assert measured.min() < -8 and measured.max() > 1


def test_each_speed_factor_once_per_utterance_with_as_many_copies():
    X = waveforms(6)
    factors = (0.8, 1.0, 1.25)
    augmenter = WaveformAugmenter(sr=SR, n_copies=3, speed_factors=factors, random_state=0, **ONLY_SPEED)
    X_res, _ = augmenter.fit_resample(X, range(6))
    records = augmenter.augmentations_.iloc[6:]
    for source, group in records.groupby("source"):
        assert sorted(group["speed_factor"]) == list(factors)
        for row, factor in zip(group.index, group["speed_factor"]):
            assert len(X_res[row]) == int(np.ceil(len(X[source]) / factor))
    orders = {tuple(group["speed_factor"]) for _, group in records.groupby("source")}
    assert len(orders) > 1  # the order is drawn per utterance


def test_switched_off_steps_are_recorded_as_nan():
    augmenter = WaveformAugmenter(sr=SR, speed_factors=None, snr_db=None, gain_db=None, random_state=0)
    X_res, _ = augmenter.fit_resample(waveforms(2), [0, 1])
    np.testing.assert_array_equal(X_res[2], X_res[0])  # a copy with everything off is the original
    assert augmenter.augmentations_[["speed_factor", "snr_db", "gain_db"]].isna().all().all()


# -- randomness --------------------------------------------------------------------------------------


def resample(**params):
    X_res, _ = WaveformAugmenter(sr=SR, n_copies=2, **params).fit_resample(waveforms(3), [0, 1, 2])
    return X_res


def same(first, second):
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


def test_random_state_makes_copies_reproducible():
    assert same(resample(random_state=0), resample(random_state=0))
    assert same(resample(random_state=np.random.RandomState(3)), resample(random_state=np.random.RandomState(3)))
    assert not same(resample(random_state=0), resample(random_state=1))
    assert not same(resample(random_state=None), resample(random_state=None))


def test_copies_are_the_same_whatever_n_jobs():
    assert same(resample(random_state=0, n_jobs=1), resample(random_state=0, n_jobs=2))


def test_every_copy_differs():
    same_twice = [tone(SR, 0.25)] * 2
    augmenter = WaveformAugmenter(sr=SR, n_copies=2, random_state=0)
    X_res, _ = augmenter.fit_resample(same_twice, [0, 0])
    copies = X_res[2:]
    assert all(not np.array_equal(a, b) for i, a in enumerate(copies) for b in copies[i + 1 :])


# -- input ---------------------------------------------------------------------------------------------


def test_paths_are_decoded_at_sr(write_audio):
    y8 = tone(8000, 0.5)
    paths = [write_audio("a.wav", y8, sr=8000), str(write_audio("b.wav", tone(16000, 0.25), sr=16000))]
    augmenter = WaveformAugmenter(sr=16000, random_state=0, **ONLY_NOISE)
    X_res, _ = augmenter.fit_resample(paths, ["x", "y"])
    for path, original in zip(paths, X_res[:2]):
        np.testing.assert_array_equal(original, load_audio(path, sr=16000))
    assert len(X_res[0]) == 8000 and len(X_res[2]) == 8000
    # the same waveforms give the same copies
    same_again, _ = clone(augmenter).fit_resample(X_res[:2], ["x", "y"])
    assert same(X_res, same_again)


def test_two_dimensional_waveforms_one_per_row():
    X = np.stack(waveforms(3))
    X_res, _ = WaveformAugmenter(sr=SR, random_state=0).fit_resample(X, [0, 1, 2])
    assert len(X_res) == 6


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sr": 0}, "'sr' parameter"),
        ({"n_copies": -1}, "'n_copies' parameter"),
        ({"n_copies": 1.5}, "'n_copies' parameter"),
        ({"speed_factors": ()}, "speed_factors must be"),
        ({"speed_factors": (0.9, -1.0)}, "speed_factors must be"),
        ({"speed_factors": (0.9, np.inf)}, "speed_factors must be"),
        ({"speed_factors": "fast"}, "'speed_factors' parameter"),
        ({"snr_db": (30, 10)}, "snr_db must be"),
        ({"snr_db": (1, 2, 3)}, "snr_db must be"),
        ({"snr_db": (np.nan, 10)}, "snr_db must be"),
        ({"snr_db": True}, "snr_db must be"),
        ({"gain_db": "loud"}, "'gain_db' parameter"),
        ({"gain_db": (True, 3)}, "gain_db must be"),
        ({"noise": "red"}, "'noise' parameter"),
        ({"keep_original": "yes"}, "'keep_original' parameter"),
        ({"random_state": "seed"}, "'random_state' parameter"),
        ({"n_copies": 0, "keep_original": False}, "n_copies=0 with keep_original=False"),
    ],
)
def test_invalid_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        WaveformAugmenter(**{"sr": SR, **params}).fit_resample(waveforms(2), [0, 1])


@pytest.mark.parametrize(
    ("X", "y", "error", "message"),
    [
        (waveforms(2), [0], ValueError, "y has 1 labels but X has 2 utterances"),
        ("a.wav", None, ValueError, "single path"),
        ([np.array([0.1, np.nan], np.float32)], None, InvalidAudioError, r"X\[0\] holds NaN"),
        (["missing.wav"], None, FileNotFoundError, "missing.wav"),
    ],
)
def test_invalid_input_is_named(X, y, error, message):
    with pytest.raises(error, match=message):
        WaveformAugmenter(sr=SR).fit_resample(X, y)


def test_fit_checks_without_reading(tmp_path):
    augmenter = WaveformAugmenter(sr=SR)
    assert augmenter.fit([str(tmp_path / "not-read.wav")], [0]) is augmenter
    with pytest.raises(ValueError, match="y has 2 labels"):
        augmenter.fit(["a.wav"], [0, 1])


# -- scikit-learn and imbalanced-learn compatibility ---------------------------------------------------


def test_clone_get_params_and_pickle_round_trip():
    augmenter = WaveformAugmenter(sr=SR, n_copies=2, speed_factors=(0.95, 1.05), noise="pink", random_state=4)
    cloned = clone(augmenter)
    assert cloned.get_params() == augmenter.get_params()
    assert clone(augmenter.set_params(n_copies=3)).n_copies == 3
    X_res, _ = augmenter.fit_resample(waveforms(2), [0, 1])
    restored = pickle.loads(pickle.dumps(augmenter))
    np.testing.assert_array_equal(restored.sample_indices_, augmenter.sample_indices_)
    assert same(restored.fit_resample(waveforms(2), [0, 1])[0], X_res)
    assert is_sampler(augmenter)


# -- fitting with augmentation -------------------------------------------------------------------------


def test_predict_never_augments(monkeypatch):
    X, y = waveforms(6), [0, 1, 0, 1, 0, 1]
    features = FunctionTransformer(rms_and_length)
    pipe = ImbPipeline(
        [("augment", WaveformAugmenter(sr=SR, n_copies=2, random_state=0)), ("f", features), ("svc", SVC())]
    )
    pipe.fit(X, y)
    X_res, y_res = clone(pipe[0]).fit_resample(X, y)
    plain = make_pipeline(clone(features), SVC()).fit(X_res, y_res)

    def refuse(self, X, y=None):
        raise AssertionError("augmented at prediction")

    monkeypatch.setattr(WaveformAugmenter, "fit_resample", refuse)
    test = waveforms(9)[6:]
    np.testing.assert_array_equal(pipe.decision_function(test), plain.decision_function(test))
    np.testing.assert_array_equal(pipe.predict(test), plain.predict(test))
    clf = AugmentedClassifier(
        make_pipeline(clone(features), SVC()), WaveformAugmenter(sr=SR, n_copies=2, random_state=0)
    )
    monkeypatch.undo()
    clf.fit(X, y)
    monkeypatch.setattr(WaveformAugmenter, "fit_resample", refuse)
    np.testing.assert_array_equal(clf.decision_function(test), plain.decision_function(test))


@pytest.mark.parametrize("wrap", ["imblearn-pipeline", "augmented-classifier"])
def test_cross_validation_augments_the_training_folds_only(recorders, wrap):
    augmenter_class, classifier_class = recorders
    augmenter = augmenter_class(sr=SR, n_copies=2, random_state=0)
    if wrap == "imblearn-pipeline":
        estimator = ImbPipeline(
            [("augment", augmenter), ("f", FunctionTransformer(rms_and_length)), ("clf", classifier_class())]
        )
    else:
        estimator = AugmentedClassifier(
            make_pipeline(FunctionTransformer(rms_and_length), classifier_class()), augmenter
        )
    X, y = waveforms(12), [0, 1, 2] * 4
    cross_validate(estimator, X, y, cv=KFold(3))
    assert augmenter_class.calls == [8, 8, 8]
    assert [n for n, _ in classifier_class.fitted] == [24, 24, 24]
    assert classifier_class.predicted == [4, 4, 4]


def test_grid_search_clone_and_pickle_of_an_augmented_pipeline():
    X, y = waveforms(8), [0, 1] * 4
    pipe = ImbPipeline(
        [
            ("augment", WaveformAugmenter(sr=SR, random_state=0)),
            ("f", FunctionTransformer(rms_and_length)),
            ("svc", SVC()),
        ]
    )
    search = GridSearchCV(pipe, {"augment__n_copies": [0, 2], "augment__noise": ["white", "brown"]}, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(restored.predict(X), search.predict(X))
    wrapped = GridSearchCV(
        AugmentedClassifier(
            make_pipeline(FunctionTransformer(rms_and_length), SVC()), WaveformAugmenter(sr=SR, random_state=0)
        ),
        {"augmenter__n_copies": [0, 1], "estimator__svc__C": [1.0, 10.0]},
        cv=2,
    ).fit(X, y)
    assert set(wrapped.best_params_) == {"augmenter__n_copies", "estimator__svc__C"}


def test_augmented_classifier_resamples_sample_weight_without_routing(recorders):
    _, classifier_class = recorders
    clf = AugmentedClassifier(classifier_class(), WaveformAugmenter(sr=SR, n_copies=1, random_state=0))
    clf.fit(waveforms(3), ["a", "b", "b"], sample_weight=[1.0, 2.0, 3.0])
    assert classifier_class.fitted == [(6, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0])]
    assert list(clf.classes_) == ["a", "b"]
    check_is_fitted(clf)


def test_augmented_classifier_needs_sample_indices_for_metadata(recorders):
    _, classifier_class = recorders

    class NoIndices:
        def fit_resample(self, X, y):
            return list(X) * 2, list(y) * 2

        def get_params(self, deep=True):
            return {}

    clf = AugmentedClassifier(classifier_class(), NoIndices())
    with pytest.raises(ValueError, match=r"NoIndices has no sample_indices_.*\['sample_weight'\]"):
        clf.fit(waveforms(2), [0, 1], sample_weight=[1.0, 1.0])
    assert clf.fit(waveforms(2), [0, 1]).predict(waveforms(1)).shape == (1,)


def test_augmented_classifier_validates_its_parameters():
    with pytest.raises(ValueError, match="'augmenter' parameter"):
        AugmentedClassifier(SVC(), SVC()).fit(waveforms(2), [0, 1])


# -- on a corpus: evaluate, speakers and the feature cache ---------------------------------------------


def test_evaluate_an_augmented_imblearn_pipeline(corpus):
    pipe = ImbPipeline([("augment", WaveformAugmenter(n_copies=1, random_state=0)), *mfcc_svm()])
    result = evaluate(pipe, corpus, protocol="speaker")
    assert len(result.scores["accuracy"]) == 2 and len(result.y_pred) == len(corpus)


def test_imblearn_pipeline_does_not_resample_speaker_ids(corpus):
    """The limitation AugmentedClassifier lifts: imblearn routes the unresampled ids to later steps."""
    steps = mfcc_svm()
    pipe = ImbPipeline(
        [
            ("augment", WaveformAugmenter(n_copies=1, random_state=0)),
            steps[0],
            ("speaker_norm", SpeakerNormalizer()),
            *steps[1:],
        ]
    )
    with pytest.raises(ValueError, match=r"speaker has 9 entries but X has 18 utterances"):
        evaluate(pipe, corpus, protocol="speaker")


def test_augmented_copies_carry_their_speaker(corpus, monkeypatch):
    steps = mfcc_svm()
    inner = Pipeline([steps[0], ("speaker_norm", SpeakerNormalizer()), *steps[1:]])
    clf = AugmentedClassifier(inner, WaveformAugmenter(n_copies=2, random_state=0))
    seen = []
    original_fit = SpeakerNormalizer.fit

    def spy(self, X, y=None, speaker=None):
        seen.append(list(speaker))
        return original_fit(self, X, y, speaker=speaker)

    monkeypatch.setattr(SpeakerNormalizer, "fit", spy)
    # random folds: each training fold mixes both speakers, so the order of the ids matters
    result = evaluate(clf, corpus, protocol="random", n_splits=2)
    _, _, metadata = corpus_arrays(corpus)
    assert len(seen) == 2
    for fold, speakers in enumerate(seen):
        train = np.sort(result.test_indices[result.fold != fold])
        assert len(set(metadata["speaker"][train])) == 2
        assert speakers == list(np.tile(metadata["speaker"][train], 3))


def test_augmented_classifier_routes_speaker_at_prediction(corpus, speakers_seen_by_normalizer):
    steps = mfcc_svm()
    inner = Pipeline([steps[0], ("speaker_norm", SpeakerNormalizer()), *steps[1:]])
    X, y, metadata = corpus_arrays(corpus)
    clf = AugmentedClassifier(inner, WaveformAugmenter(n_copies=1, random_state=0))
    with sklearn.config_context(enable_metadata_routing=True):
        clf.fit(X, y, speaker=metadata["speaker"])
        speakers_seen_by_normalizer.clear()
        clf.predict(X[:3], speaker=metadata["speaker"][:3])
    assert speakers_seen_by_normalizer == [sorted(set(metadata["speaker"][:3]))]


def test_cached_features_of_the_original_files_are_unchanged(corpus, tmp_path):
    X, y, _ = corpus_arrays(corpus)
    cache = tmp_path / "cache"
    fresh = MFCC(n_mfcc=13).transform(X)
    before = MFCC(n_mfcc=13, memory=cache).transform(X)  # the files' own entries exist before the augmented fit
    pipe = ImbPipeline([("augment", WaveformAugmenter(n_copies=2, random_state=0)), *mfcc_svm(memory=cache)])
    pipe.fit(X, y)
    after = MFCC(n_mfcc=13, memory=cache).transform(X)
    for expected, first, second in zip(fresh, before, after):
        np.testing.assert_array_equal(first, expected)
        np.testing.assert_array_equal(second, expected)
    copies, _ = clone(pipe[0]).fit_resample(X, y)
    copy_features = MFCC(n_mfcc=13).transform(copies[len(X) :])
    assert not any(np.array_equal(a, b) for a, b in zip(copy_features, fresh))  # so a mix-up would show
