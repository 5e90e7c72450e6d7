import pickle
import subprocess
import sys
import warnings

import librosa
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ser import InvalidAudioError
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import _opensmile
from sklearn_ser.features._egemaps import EGeMAPS

from .conftest import tone

opensmile = pytest.importorskip("opensmile")


def smile(feature_set="eGeMAPSv02"):
    return opensmile.Smile(feature_set=feature_set, feature_level=opensmile.FeatureLevel.Functionals)


def reference(y, sr=16000, feature_set="eGeMAPSv02"):
    """openSMILE run directly on ``y``: one row of functionals."""
    return smile(feature_set).process_signal(y, sr).to_numpy()[0]


@pytest.fixture(scope="module")
def egemaps_names():
    return np.asarray(smile().feature_names, dtype=object)


@pytest.fixture(scope="module")
def waveforms():
    rng = np.random.default_rng(0)
    voiced = [tone(16000, seconds=s, freq=f, amplitude=0.3) for s, f in [(0.8, 140), (1.2, 220), (0.5, 310)]]
    return [(y + 0.01 * rng.standard_normal(len(y))).astype(np.float32) for y in voiced]


def test_waveforms_give_opensmile_functionals(waveforms, egemaps_names):
    egemaps = EGeMAPS().fit(waveforms)
    X = egemaps.transform(waveforms)
    assert X.shape == (3, 88) and X.dtype == np.float32
    np.testing.assert_array_equal(egemaps.get_feature_names_out(), egemaps_names)
    assert "F0semitoneFrom27.5Hz_sma3nz_amean" in egemaps_names
    for row, y in zip(X, waveforms):
        np.testing.assert_array_equal(row, reference(y))


def test_two_dimensional_array_input(waveforms):
    y = np.stack([w[:8000] for w in waveforms])
    np.testing.assert_array_equal(EGeMAPS().fit_transform(y), EGeMAPS().fit_transform(list(y)))


def test_files_are_resampled_to_sr(write_audio, waveforms):
    y16 = waveforms[1]
    y24 = librosa.resample(y16, orig_sr=16000, target_sr=24000)
    path16 = write_audio("a16.wav", y16, sr=16000, subtype="FLOAT")
    path24 = write_audio("a24.wav", y24, sr=24000, subtype="FLOAT")
    X = EGeMAPS().fit_transform([path16, str(path24)])
    assert X.shape == (2, 88)
    np.testing.assert_array_equal(X[0], reference(y16))
    resampled = librosa.resample(y24, orig_sr=24000, target_sr=16000, res_type="soxr_hq")
    np.testing.assert_array_equal(X[1], reference(resampled))
    assert not np.array_equal(X[1], reference(y24, sr=16000))
    np.testing.assert_array_equal(EGeMAPS(sr=24000).fit_transform([path24])[0], reference(y24, sr=24000))


def test_parallel_equals_serial(waveforms):
    many = [w[: 4000 + 1000 * i] for i in range(6) for w in waveforms]
    np.testing.assert_array_equal(EGeMAPS(n_jobs=2).fit_transform(many), EGeMAPS().fit_transform(many))


def test_computer_pickles_without_an_extractor(waveforms):
    compute = EGeMAPS()._make_computer()
    _opensmile.smile("eGeMAPSv02")
    restored = pickle.loads(pickle.dumps(compute))
    assert len(pickle.dumps(compute)) < 200
    np.testing.assert_array_equal(restored(waveforms[0]), compute(waveforms[0]))


def test_second_call_reads_the_cache(tmp_path, write_audio, waveforms, count_computations):
    paths = [write_audio(f"c{i}.wav", y) for i, y in enumerate(waveforms)]
    egemaps = EGeMAPS(memory=tmp_path / "cache")
    first = egemaps.fit_transform(paths)
    assert len(count_computations) == 3
    second = EGeMAPS(memory=tmp_path / "cache", n_jobs=2).fit_transform(paths)
    assert len(count_computations) == 3
    np.testing.assert_array_equal(first, second)
    EGeMAPS(memory=tmp_path / "cache", feature_set="GeMAPSv01b").fit_transform(paths)
    assert len(count_computations) == 6


def test_pandas_output(waveforms, egemaps_names):
    X = EGeMAPS().set_output(transform="pandas").fit_transform(waveforms)
    assert isinstance(X, pd.DataFrame) and X.shape == (3, 88)
    assert X.columns.tolist() == egemaps_names.tolist()
    np.testing.assert_array_equal(X.to_numpy(), EGeMAPS().fit_transform(waveforms))


def test_pandas_output_keeps_the_index_of_a_series(write_audio, waveforms):
    paths = pd.Series([str(write_audio(f"s{i}.wav", y)) for i, y in enumerate(waveforms)], index=[7, 3, 5])
    X = EGeMAPS().set_output(transform="pandas").fit_transform(paths)
    assert X.index.tolist() == [7, 3, 5]


def test_pipeline_on_a_synthetic_corpus(tmp_path):
    corpus = make_synthetic_corpus(tmp_path, n_speakers=2, n_words=2, emotions=("angry", "sad"))
    model = make_pipeline(EGeMAPS(n_jobs=2), StandardScaler(), SVC()).set_output(transform="pandas")
    model.fit(corpus["path"], corpus["label"])
    assert model.score(corpus["path"], corpus["label"]) == 1.0
    scaled = model[:-1].transform(corpus["path"][:2])
    assert scaled.shape == (2, 88) and scaled.columns[0] == "F0semitoneFrom27.5Hz_sma3nz_amean"


def test_silence_gives_finite_features():
    X = EGeMAPS().fit_transform([np.zeros(16000, np.float32)])
    assert np.isfinite(X).all()
    np.testing.assert_array_equal(X[0], reference(np.zeros(16000, np.float32)))


@pytest.mark.parametrize("n_samples", [1, 160, 959])
def test_clips_shorter_than_60_ms_are_zero_padded(n_samples):
    y = tone(16000, seconds=n_samples / 16000, freq=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X = EGeMAPS().fit_transform([y])
    assert np.isfinite(X).all()
    np.testing.assert_array_equal(X[0], reference(np.pad(y, (0, 960 - n_samples))))
    with pytest.warns(UserWarning, match="too short"):
        assert np.isnan(reference(y)).all()


@pytest.mark.filterwarnings("ignore:Segment too short")
def test_non_finite_features_raise_naming_the_utterance(monkeypatch, write_audio):
    monkeypatch.setattr(_opensmile, "MIN_DURATION_MS", 0)
    long = write_audio("long.wav", tone(16000, seconds=0.5))
    short = write_audio("short.wav", tone(16000, seconds=0.02))
    with pytest.raises(ValueError, match=r"NaN or infinite eGeMAPSv02 features for X\[1\] \('.*short\.wav'\)"):
        EGeMAPS().fit_transform([long, short])
    with pytest.raises(ValueError, match=r"for X\[0\] \("):
        EGeMAPS().fit_transform([tone(16000, seconds=0.02)])


def test_samples_beyond_full_scale_are_clipped():
    y = tone(16000, seconds=0.5, freq=150, amplitude=1.5)
    X = EGeMAPS().fit_transform([y])
    np.testing.assert_array_equal(X[0], reference(np.clip(y, -1.0, 32767 / 32768)))


def test_bad_file_is_named(tmp_path, write_audio):
    bad = tmp_path / "not_audio.wav"
    bad.write_text("this is not audio")
    good = write_audio("good.wav", tone(16000, seconds=0.3))
    with pytest.raises(InvalidAudioError, match="not_audio.wav"):
        EGeMAPS().fit_transform([good, bad])
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        EGeMAPS().fit_transform([tmp_path / "missing.wav"])


@pytest.mark.parametrize("params", [dict(feature_set="eGeMAPS"), dict(feature_set="IS09"), dict(sr=4000)])
def test_invalid_parameters(params, waveforms):
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        EGeMAPS(**params).fit(waveforms)
    with pytest.raises(InvalidParameterError):
        EGeMAPS(**params).get_feature_names_out()


def test_other_feature_sets(waveforms):
    y = waveforms[2][:8000]
    compare = EGeMAPS(feature_set="ComParE_2016")
    X = compare.fit_transform([y])
    assert X.shape == (1, 6373)
    np.testing.assert_array_equal(compare.get_feature_names_out(), smile("ComParE_2016").feature_names)
    np.testing.assert_array_equal(X[0], reference(y, feature_set="ComParE_2016"))
    assert EGeMAPS(feature_set="GeMAPSv01b").fit_transform([y]).shape == (1, 62)
    assert clone(compare).get_params()["feature_set"] == "ComParE_2016"


def test_missing_opensmile_raises_with_install_hint(monkeypatch, waveforms):
    monkeypatch.setitem(sys.modules, "opensmile", None)
    monkeypatch.setattr(_opensmile, "_local", type(_opensmile._local)())
    with pytest.raises(ImportError, match=r"pip install sklearn-ser\[opensmile\]"):
        EGeMAPS().fit(waveforms)
    with pytest.raises(ImportError, match=r"pip install sklearn-ser\[opensmile\]"):
        EGeMAPS().transform(waveforms)


def test_features_import_without_opensmile():
    code = (
        "import sys; sys.modules['opensmile'] = None\n"
        "import sklearn_ser.features, sklearn_ser.features._egemaps as m\n"
        "m.EGeMAPS(feature_set='ComParE_2016').get_params()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
