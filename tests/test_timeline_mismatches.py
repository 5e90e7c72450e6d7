"""Timelines refuse what they would otherwise misread: array layouts, sampling rates, and keep None labels None."""

import importlib.util
import io
import re

import joblib
import matplotlib
import numpy as np
import pandas as pd
import pytest
import soundfile
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline

from sklearn_ser import InvalidAudioError, load_audio
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import MFCC, SequencePooling, SequenceUnion
from sklearn_ser.plotting import plot_timeline
from sklearn_ser.timeline import predict_timeline, speech_segments, timeline_agreement

from .conftest import tone

matplotlib.use("Agg")

SR = 16000
has_silero = importlib.util.find_spec("silero_vad") is not None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), n_speakers=1, n_words=3, emotions=("angry", "sad"), random_state=0
    )


def pooled_mfcc(classifier, sr=SR):
    return make_pipeline(MFCC(sr=sr), SequencePooling(), classifier)


@pytest.fixture(scope="module")
def model(corpus):
    """MFCC statistics into a logistic regression: probabilities, and quick to fit."""
    return pooled_mfcc(LogisticRegression()).fit(corpus["path"], corpus["label"])


@pytest.fixture(scope="module")
def clip(corpus):
    return load_audio(corpus["path"][0], sr=SR)


@pytest.fixture(scope="module")
def recording(clip):
    """Two seconds of silence, a clip, two seconds of silence, at 16 kHz."""
    silence = np.zeros(2 * SR, dtype=np.float32)
    return np.concatenate([silence, clip, silence])


def resampled(y, orig_sr, target_sr):
    """``y`` at ``target_sr`` as load_audio (and a timeline's stream) resample it."""
    from sklearn_ser._audio import _resample

    return _resample(y, orig_sr, target_sr)


# ---------------------------------------------------------------------------
# 1. Array layouts
# ---------------------------------------------------------------------------


def test_a_channels_first_array_is_refused_naming_the_shape_expected(model, recording):
    """librosa.load(mono=False) gives (2, n): once read as n channels of 2 samples, one silent row, no warning."""
    stereo = np.stack([recording, recording])
    n = len(recording)
    message = (
        rf"shape \(2, {n}\), which looks like 2 channel\(s\) of {n} samples, channels first .*"
        rf"\(n_samples, n_channels\).*here \({n}, 2\)\. Pass wave\.T, or mix it to mono first: librosa\.to_mono"
    )
    with pytest.raises(InvalidAudioError, match=message):
        predict_timeline(model, stereo, sr=SR)
    with pytest.raises(InvalidAudioError, match=message):  # the same reading everywhere a recording is read
        speech_segments(stereo, sr=SR)
    pd.testing.assert_frame_equal(  # and the fix it names works
        predict_timeline(model, stereo.T, sr=SR), predict_timeline(model, recording, sr=SR)
    )


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 4000), r"shape \(1, 4000\), which looks like 1 channel\(s\) of 4000 samples, channels first.*\(4000, 1\)"),
        ((300, 40), r"shape \(300, 40\): which axis holds the channels cannot be told"),  # features, not audio?
        ((5, 3), r"shape \(5, 3\): which axis holds the channels cannot be told"),  # both could be channels
        ((4, 4), r"shape \(4, 4\): which axis holds the channels cannot be told"),
        ((2, 3, 4000), r"1-D \(mono\) or of shape \(n_samples, n_channels\).*got shape \(2, 3, 4000\)"),
    ],
)
def test_a_layout_that_cannot_be_told_apart_is_refused(model, shape, message):
    wave = np.random.default_rng(0).uniform(-0.1, 0.1, size=shape).astype(np.float32)
    with pytest.raises(InvalidAudioError, match=message):
        predict_timeline(model, wave, sr=SR, vad=None)


def test_soundfile_layout_is_mixed_to_mono(model, recording, write_audio):
    """(n_samples, n_channels), up to 8 channels, is read as a file of those channels is: their mean."""
    louder = np.clip(recording * 1.5, -1, 1)
    quieter = recording * 0.5
    mono = (louder + quieter + recording) / 3
    layout = np.stack([louder, quieter, recording], axis=1)
    expected = predict_timeline(model, mono.astype(np.float32), sr=SR)
    pd.testing.assert_frame_equal(predict_timeline(model, layout, sr=SR), expected, atol=1e-6)
    path = write_audio("three.wav", layout, sr=SR, subtype="FLOAT")
    pd.testing.assert_frame_equal(predict_timeline(model, path), expected, atol=1e-6)
    column = predict_timeline(model, recording[:, None], sr=SR)
    pd.testing.assert_frame_equal(column, predict_timeline(model, recording, sr=SR))
    eight = np.repeat(recording[:, None], 8, axis=1)
    pd.testing.assert_frame_equal(predict_timeline(model, eight, sr=SR), column)
    with pytest.raises(InvalidAudioError, match=r"shape \(\d+, 9\): which axis holds the channels cannot be told"):
        predict_timeline(model, np.repeat(recording[:, None], 9, axis=1), sr=SR)


# ---------------------------------------------------------------------------
# 2. Sampling rates: the recording's, the model's, the enrolment's, the detector's
# ---------------------------------------------------------------------------


class WindowLengths:
    """Records the length of every window a model's method is given."""

    def __init__(self, method):
        self.method, self.lengths = method, []

    def __call__(self, windows):
        self.lengths += [len(window) for window in windows]
        return self.method(windows)


def test_a_waveform_at_another_rate_is_resampled_to_the_models(model, recording, monkeypatch):
    """A waveform given with sr=8000 to a model reading 16 kHz is resampled, never read as 16 kHz."""
    at_8k = resampled(recording, SR, 8000)
    spy = WindowLengths(model.predict_proba)
    monkeypatch.setattr(model, "predict_proba", spy)
    timeline = predict_timeline(model, at_8k, sr=8000, window=1.0, hop=0.5)
    assert spy.lengths and set(spy.lengths) == {SR}  # one-second windows of the model's 16 kHz
    assert timeline["end"].iloc[-1] == pytest.approx(len(at_8k) / 8000)
    monkeypatch.undo()
    as_16k = predict_timeline(model, resampled(at_8k, 8000, SR), sr=SR, window=1.0, hop=0.5)
    pd.testing.assert_frame_equal(timeline, as_16k, atol=1e-6)


def test_a_model_reading_at_two_rates_is_refused_naming_both(corpus, recording):
    """Fitted on files (each transformer resamples them to its rate), it has no one rate to cut windows at."""
    union = SequenceUnion([("wide", MFCC(sr=SR)), ("narrow", MFCC(sr=8000, n_fft=256, hop_length=80))])
    model = make_pipeline(union, SequencePooling(), LogisticRegression()).fit(corpus["path"], corpus["label"])
    with pytest.raises(ValueError, match=r"different rates \(MFCC at 8000 Hz; MFCC at 16000 Hz\)"):
        predict_timeline(model, recording, sr=SR)


@pytest.fixture(scope="module")
def per_speaker(per_speaker_svm, tmp_path_factory):
    """The per-speaker SVM, the new speaker's files at 16 kHz and at 8 kHz, and a recording of them at 16 kHz."""
    model_path, _, files, _ = per_speaker_svm
    folder = tmp_path_factory.mktemp("enrol_8k")
    files_8k = []
    for path in files:
        files_8k.append(folder / f"{len(files_8k)}.wav")
        soundfile.write(files_8k[-1], load_audio(path, sr=8000), 8000, subtype="FLOAT")
    recording = np.concatenate([load_audio(path, sr=SR) for path in files])
    return joblib.load(model_path), files, files_8k, recording


def test_enrolment_waveforms_beside_a_recording_at_another_rate_are_refused(per_speaker, tmp_path):
    """Once read at the model's 16 kHz, whatever rate they were at: refused when the recording says another."""
    model, _, files_8k, recording = per_speaker
    enrol = [load_audio(path, sr=8000) for path in files_8k]
    message = (
        r"enrol\[0\] is a waveform, which the model reads at its own rate \(16000 Hz, its features' sr\), but the "
        r"recording \(the waveform\) is at 8000 Hz: which of the two the enrolment waveforms are at cannot be told\. "
        r"Pass enrol as audio files, or the recording at 16000 Hz \(e\.g\. librosa\.resample\(wave, orig_sr=8000, "
        r"target_sr=16000\), then sr=16000\) with enrolment waveforms at 16000 Hz\."
    )
    with pytest.raises(ValueError, match=message):
        predict_timeline(model, resampled(recording, SR, 8000), sr=8000, speaker="new", enrol=enrol)
    path = tmp_path / "call.wav"
    soundfile.write(path, resampled(recording, SR, 8000), 8000)
    named = re.escape(f"recording ('{path}') is at 8000 Hz")
    file_message = rf"enrol\[1\] is a waveform.*{named}.*load_audio\(path, sr=16000\)"
    with pytest.raises(ValueError, match=file_message):
        predict_timeline(model, path, speaker="new", enrol=[files_8k[0], enrol[1]])
    assert "new" not in model.named_steps["speaker_norm"].speaker_statistics_


def test_enrolment_files_are_read_at_the_models_rate(per_speaker):
    """8 kHz enrolment files are resampled to 16 kHz; waveforms beside a 16 kHz recording are taken at it."""
    model, _, files_8k, recording = per_speaker
    options = dict(sr=SR, speaker="new", window=1.0, hop=0.5, vad=None)
    from_files = predict_timeline(model, recording, enrol=files_8k, **options)
    from_waveforms = predict_timeline(model, recording, enrol=[load_audio(p, sr=SR) for p in files_8k], **options)
    pd.testing.assert_frame_equal(from_files, from_waveforms)


def test_the_energy_detector_judges_the_windows_at_the_models_rate(corpus, recording):
    """A tone above an 8 kHz model's Nyquist frequency is nothing to it: not speech, and never classified."""
    model_8k = pooled_mfcc(LogisticRegression(), sr=8000).fit(corpus["path"], corpus["label"])
    whistle = 0.5 * tone(SR, seconds=3.0, freq=6000.0)
    y = np.concatenate([whistle, recording])
    heard = predict_timeline(model_8k, y, sr=SR, window=1.0, hop=1.0)
    assert not heard["speech"][:3].any() and heard["speech"].any()
    at_16k = pooled_mfcc(LogisticRegression()).fit(corpus["path"], corpus["label"])
    assert predict_timeline(at_16k, y, sr=SR, window=1.0, hop=1.0)["speech"][:3].all()


@pytest.mark.skipif(not has_silero, reason="silero-vad is not installed (pip install sklearn-ser[vad])")
def test_silero_reads_windows_of_any_model_rate_at_its_own(corpus, recording):
    """Windows at 24 kHz are resampled to 16 kHz for Silero: the same speech as for a 16 kHz model."""
    models = {sr: pooled_mfcc(RidgeClassifier(), sr=sr).fit(corpus["path"], corpus["label"]) for sr in (SR, 24000)}
    speech = {
        sr: predict_timeline(model, recording, sr=SR, window=0.5, hop=0.5, vad="silero")["speech"].to_numpy()
        for sr, model in models.items()
    }
    assert speech[SR].any() and not speech[SR].all()
    np.testing.assert_array_equal(speech[24000], speech[SR])


# ---------------------------------------------------------------------------
# 3. Labels and probabilities: one dtype whichever windows are speech
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def predict_only(corpus):
    return pooled_mfcc(RidgeClassifier()).fit(corpus["path"], corpus["label"])


CASES = {  # (waveform, vad) giving windows that are all speech, none, or some
    "all speech": lambda recording: (recording, None),
    "no speech": lambda recording: (np.zeros(5 * SR, dtype=np.float32), "energy"),
    "mixed": lambda recording: (recording, "energy"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("which", ["model", "predict_only"])
def test_labels_are_objects_and_none_whichever_windows_are_speech(case, which, recording, request):
    model = request.getfixturevalue(which)
    waveform, vad = CASES[case](recording)
    timeline = predict_timeline(model, waveform, sr=SR, window=1.0, hop=0.5, vad=vad)
    speech = timeline["speech"].to_numpy()
    assert {"all speech": speech.all(), "no speech": not speech.any(), "mixed": 0 < speech.sum() < len(speech)}[case]
    assert timeline["label"].dtype == object
    labels = timeline["label"].tolist()
    assert all(label is None for label, is_speech in zip(labels, speech) if not is_speech)
    assert all(label in model.classes_ for label, is_speech in zip(labels, speech) if is_speech)
    assert timeline.dtypes[["start", "end"]].tolist() == [np.float64] * 2 and timeline["speech"].dtype == bool
    probabilities = timeline.filter(like="prob_")
    assert probabilities.shape[1] == (2 if which == "model" else 0)
    assert (probabilities.dtypes == np.float64).all()
    assert probabilities[~speech].isna().all().all() and probabilities[speech].notna().all().all()


@pytest.mark.parametrize("labels", [("angry", "sad"), (3, 7)])
def test_a_timeline_read_back_from_its_csv_agrees_as_the_table_did(corpus, recording, labels):
    """Read back, non-speech labels are NaN and integer labels floats (3.0): compared as the labels they were."""
    y = np.array([labels[("angry", "sad").index(label)] for label in corpus["label"]])
    model = pooled_mfcc(LogisticRegression()).fit(corpus["path"], y)
    timeline = predict_timeline(model, recording, sr=SR, window=1.0, hop=0.5)
    assert timeline["label"].dtype == object and timeline["speech"].any() and not timeline["speech"].all()
    back = pd.read_csv(io.StringIO(timeline.to_csv(index=False)))
    predicted = timeline.loc[timeline["speech"], "label"].iloc[0]
    middle = (timeline["start"].min() + timeline["end"].max()) / 2
    reference = pd.DataFrame({"start": [0.0, middle], "end": [middle, 10.0], "label": [predicted, labels[1]]})
    agreement = timeline_agreement(timeline, reference)
    assert agreement[1] > 0 and timeline_agreement(back, reference) == agreement
    plot_timeline(back, recording, sr=SR, reference=reference)  # draws the table read back
