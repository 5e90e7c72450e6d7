import warnings

import librosa
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import (
    EGeMAPS,
    EGeMAPSFrames,
    FeatureSequences,
    SequencePooling,
    SequenceScaler,
    _opensmile,
)
from sklearn_ser.models import LSTMClassifier

from .conftest import tone

opensmile = pytest.importorskip("opensmile")


def reference(y, sr=16000, feature_set="eGeMAPSv02"):
    """openSMILE's low-level descriptors computed directly on ``y``."""
    smile = opensmile.Smile(
        feature_set=opensmile.FeatureSet[feature_set], feature_level=opensmile.FeatureLevel.LowLevelDescriptors
    )
    return smile.process_signal(y, sr).to_numpy()


@pytest.fixture(scope="module")
def waveforms():
    rng = np.random.default_rng(1)
    voiced = [tone(16000, seconds=s, freq=f, amplitude=0.3) for s, f in [(0.8, 140), (1.2, 220), (0.5, 310)]]
    return [(y + 0.01 * rng.standard_normal(len(y))).astype(np.float32) for y in voiced]


def test_waveforms_give_opensmile_descriptors(waveforms):
    frames = EGeMAPSFrames().fit(waveforms)
    X = frames.transform(waveforms)
    assert isinstance(X, FeatureSequences) and len(X) == 3
    for sequence, y in zip(X, waveforms):
        assert sequence.dtype == np.float32
        np.testing.assert_array_equal(sequence, reference(y).astype(np.float32))
    assert [len(s) for s in X] == [76, 116, 46]  # one frame per 10 ms
    names = frames.get_feature_names_out()
    assert names.tolist() == list(X.feature_names) and len(names) == 25
    assert "F0semitoneFrom27.5Hz_sma3nz" in names and "jitterLocal_sma3nz" in names


@pytest.mark.parametrize(("feature_set", "n_descriptors"), [("GeMAPSv01b", 18), ("ComParE_2016", 65)])
def test_other_feature_sets(waveforms, feature_set, n_descriptors):
    X = EGeMAPSFrames(feature_set=feature_set).fit_transform(waveforms[:1])
    assert X[0].shape[1] == n_descriptors == len(X.feature_names)
    np.testing.assert_array_equal(X[0], reference(waveforms[0], feature_set=feature_set).astype(np.float32))


def test_files_are_resampled_to_sr(write_audio, waveforms):
    y24 = librosa.resample(waveforms[1], orig_sr=16000, target_sr=24000)
    path = write_audio("a24.wav", y24, sr=24000, subtype="FLOAT")
    resampled = librosa.resample(y24, orig_sr=24000, target_sr=16000, res_type="soxr_hq")
    np.testing.assert_array_equal(EGeMAPSFrames().fit_transform([path])[0], reference(resampled).astype(np.float32))


def test_parallel_equals_serial(waveforms):
    many = [w[: 4000 + 1000 * i] for i in range(4) for w in waveforms]
    for parallel, serial in zip(EGeMAPSFrames(n_jobs=2).fit_transform(many), EGeMAPSFrames().fit_transform(many)):
        np.testing.assert_array_equal(parallel, serial)


def test_cache_is_shared_by_equal_settings_only(tmp_path, write_audio, waveforms, count_computations):
    paths = [write_audio(f"c{i}.wav", y) for i, y in enumerate(waveforms)]
    first = EGeMAPSFrames(memory=tmp_path / "cache").fit_transform(paths)
    second = EGeMAPSFrames(memory=tmp_path / "cache", n_jobs=2).fit_transform(paths)
    assert len(count_computations) == 3
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    EGeMAPSFrames(memory=tmp_path / "cache", feature_set="GeMAPSv01b").fit_transform(paths)
    EGeMAPS(memory=tmp_path / "cache").fit_transform(paths)
    assert len(count_computations) == 9


@pytest.mark.parametrize("n_samples", [1, 160, 959])
def test_clips_shorter_than_60_ms_are_zero_padded(n_samples):
    y = tone(16000, seconds=n_samples / 16000, freq=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X = EGeMAPSFrames().fit_transform([y])
    assert np.isfinite(X[0]).all() and len(X[0]) >= 1
    np.testing.assert_array_equal(X[0], reference(np.pad(y, (0, 960 - n_samples))).astype(np.float32))


def test_samples_beyond_full_scale_are_clipped():
    y = tone(16000, seconds=0.5, freq=150, amplitude=1.5)
    expected = reference(np.clip(y, -1.0, 32767 / 32768)).astype(np.float32)
    np.testing.assert_array_equal(EGeMAPSFrames().fit_transform([y])[0], expected)


@pytest.mark.filterwarnings("ignore:Segment too short")
def test_non_finite_descriptors_raise_naming_the_utterance(monkeypatch, write_audio):
    monkeypatch.setattr(_opensmile, "MIN_DURATION_MS", 0)
    long = write_audio("long.wav", tone(16000, seconds=0.5))
    short = write_audio("short.wav", tone(16000, seconds=0.02))
    with pytest.raises(ValueError, match=r"NaN or infinite eGeMAPSv02 features for X\[1\] \('.*short\.wav'\)"):
        EGeMAPSFrames().fit_transform([long, short])


def test_bad_parameters_are_named():
    with pytest.raises(InvalidParameterError, match="feature_set"):
        EGeMAPSFrames(feature_set="eGeMAPS").fit([np.zeros(1600, np.float32)])
    with pytest.raises(InvalidParameterError, match="'sr'"):
        EGeMAPSFrames(sr=4000).fit([np.zeros(1600, np.float32)])


def test_pooled_descriptors_and_an_lstm_learn_a_synthetic_corpus(tmp_path):
    corpus = make_synthetic_corpus(tmp_path, n_speakers=2, n_words=3, emotions=("angry", "sad"))
    paths, labels = corpus["path"], corpus["label"]
    pooled = make_pipeline(EGeMAPSFrames(), SequencePooling(stats=("mean",))).fit_transform(paths)
    assert pooled.shape == (len(paths), 25)
    lstm = make_pipeline(
        EGeMAPSFrames(), SequenceScaler(), LSTMClassifier(hidden_size=16, max_epochs=30, random_state=0, device="cpu")
    )
    assert lstm.fit(paths, labels).score(paths, labels) == 1.0
    assert clone(lstm).get_params()["egemapsframes__feature_set"] == "eGeMAPSv02"
