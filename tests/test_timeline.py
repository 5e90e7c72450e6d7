"""Emotion timelines of long recordings: windows, voice activity, bounded reading, the command and the figure."""

import importlib.util
import io
import os
import signal
import sys

import joblib
import matplotlib
import numpy as np
import pandas as pd
import pytest
import soundfile
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ser import InvalidAudioError, load_audio
from sklearn_ser._sequences import sliding_starts
from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import SequencePooling
from sklearn_ser.plotting import plot_timeline, save_figure
from sklearn_ser.recipes import get_recipe
from sklearn_ser.timeline import _stream, predict_timeline, window_clips
from sklearn_ser.timeline._model import minimum_window
from sklearn_ser.timeline._smoothing import smooth_runs
from sklearn_ser.timeline._windows import sliding_windows

from .conftest import tone

matplotlib.use("Agg")

SR = 16000
WINDOW = 1.0  # shorter than every synthetic clip, so that windows lie inside utterances
HOP = 0.25
SILENCE_DBFS = -60.0
has_silero = importlib.util.find_spec("silero_vad") is not None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(tmp_path_factory.mktemp("corpus"), n_speakers=2, n_words=4, random_state=0)


@pytest.fixture(scope="module")
def split(corpus):
    """Clips of two words to fit on, and of the two other words held out."""
    words = sorted(corpus["text"].unique())
    held_out = corpus["text"].isin(words[2:])
    return corpus[~held_out].reset_index(drop=True), corpus[held_out].reset_index(drop=True)


@pytest.fixture(scope="module")
def svm(split):
    train, _ = split
    return get_recipe("svm-mfcc", probability=True, random_state=0).fit(train["path"], train["label"])


@pytest.fixture(scope="module")
def window_svm(split):
    """An SVM fitted on the windows of the training clips, as a timeline presents them."""
    train, _ = split
    windows, labels, _ = window_clips(train["path"], train["label"], sr=SR, window=WINDOW, hop=HOP)
    return get_recipe("svm-mfcc", probability=True, random_state=0).fit(windows, labels)


@pytest.fixture(scope="module")
def lstm(split):
    train, _ = split
    return get_recipe("lstm-logmel", max_epochs=1, lstm__hidden_size=4, random_state=0).fit(
        train["path"], train["label"]
    )


@pytest.fixture(scope="module")
def recording(split):
    """The held-out clips between stretches of faint noise: waveform, [(start, end, label)] of the clips."""
    _, test = split
    rng = np.random.default_rng(0)

    def silence():
        n_samples = int(rng.uniform(1.5, 2.5) * SR)
        return rng.normal(0, 10 ** (SILENCE_DBFS / 20), n_samples).astype(np.float32)

    parts, spans, position = [silence()], [], 0
    position = len(parts[0])
    for path, label in zip(test["path"], test["label"]):
        clip = load_audio(path, sr=SR)
        spans.append((position / SR, (position + len(clip)) / SR, label))
        parts += [clip, silence()]
        position += len(clip) + len(parts[-1])
    return np.concatenate(parts), spans


@pytest.fixture(scope="module")
def recording_file(recording, tmp_path_factory):
    """The recording as a 24 kHz stereo FLAC file: read in blocks, mixed down and resampled."""
    waveform, _ = recording
    native = load_resampled(waveform, SR, 24000)
    path = tmp_path_factory.mktemp("recording") / "interview.flac"
    soundfile.write(path, np.stack([native, native], axis=1), 24000)
    return path


def load_resampled(y, orig_sr, target_sr):
    import soxr

    return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32)


# ---------------------------------------------------------------------------
# Reading in blocks, windows
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("block_frames", [1000, 4097, 1 << 16])
def test_blocks_join_into_load_audio_waveform(write_audio, block_frames):
    rng = np.random.default_rng(1)
    stereo = rng.uniform(-0.5, 0.5, size=(30011, 2)).astype(np.float32)
    path = write_audio("stereo.wav", stereo, sr=24414, subtype="FLOAT")
    recording = _stream.Recording(path)
    joined = np.concatenate(list(recording.blocks(sr=SR, block_frames=block_frames)))
    expected = load_audio(path, sr=SR)
    assert joined.dtype == np.float32 and len(joined) == recording.n_samples_at(SR) == len(expected)
    np.testing.assert_array_equal(joined, expected)


def test_waveform_source_is_read_like_a_file(write_audio):
    y = tone(SR, seconds=1.3)
    path = write_audio("tone.wav", y, sr=SR, subtype="FLOAT")
    from_file = np.concatenate(list(_stream.Recording(path).blocks(sr=8000)))
    from_waveform = np.concatenate(list(_stream.Recording(y, sr=SR).blocks(sr=8000, block_frames=777)))
    np.testing.assert_array_equal(from_file, from_waveform)


@pytest.mark.parametrize(("n_samples", "length", "hop"), [(100, 10, 10), (101, 10, 3), (7, 10, 5), (10, 10, 1)])
def test_sliding_windows_cut_the_stream_where_sliding_starts_says(n_samples, length, hop):
    y = np.arange(n_samples, dtype=np.float32)
    rng = np.random.default_rng(n_samples)
    cuts = np.sort(rng.choice(np.arange(1, n_samples), size=min(5, n_samples - 1), replace=False))
    windows = list(sliding_windows(np.split(y, cuts), length, hop))
    starts = [start for start, _ in windows]
    assert starts == sliding_starts(n_samples, length, hop).tolist()
    for start, window in windows:
        np.testing.assert_array_equal(window, y[start : start + length])
    assert windows[-1][1][-1] == n_samples - 1  # the last window reaches the end


def test_file_is_read_in_blocks_never_whole(svm, recording_file, monkeypatch):
    """Every read asks for at most one block, and the model sees at most one batch of windows."""
    monkeypatch.setattr(_stream, "BLOCK_FRAMES", 5000)
    requested, batches = [], []
    original_read = soundfile.SoundFile.read
    original_predict = type(svm).predict_proba

    def read(self, frames=-1, *args, **kwargs):
        requested.append(frames)
        return original_read(self, frames, *args, **kwargs)

    def predict_proba(self, X, **params):
        batches.append(len(X))
        return original_predict(self, X, **params)

    monkeypatch.setattr(soundfile.SoundFile, "read", read)
    monkeypatch.setattr(type(svm), "predict_proba", predict_proba)
    timeline = predict_timeline(svm, recording_file, window=WINDOW, hop=HOP, batch_size=16)
    assert requested and all(0 < frames <= 5000 for frames in requested)
    assert len(requested) > soundfile.info(recording_file).frames // 5000
    assert batches and max(batches) <= 16 and sum(batches) == timeline["speech"].sum()


# ---------------------------------------------------------------------------
# What the timeline says
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("model_name", ["svm", "lstm"])
def test_a_file_shorter_than_the_window_is_one_row_classified_as_the_clip(model_name, corpus, request, tmp_path):
    model = request.getfixturevalue(model_name)
    clip = load_audio(corpus["path"][0], sr=SR)
    path = tmp_path / "clip.wav"
    soundfile.write(path, load_resampled(clip, SR, 22050), 22050, subtype="FLOAT")
    timeline = predict_timeline(model, path, window=10.0, hop=5.0)
    assert len(timeline) == 1
    assert timeline.loc[0, "start"] == 0 and timeline.loc[0, "end"] == pytest.approx(soundfile.info(path).duration)
    expected = model.predict_proba([str(path)])[0]
    np.testing.assert_allclose(timeline.filter(like="prob_").to_numpy()[0], expected, atol=1e-6)
    assert timeline.loc[0, "label"] == model.classes_[expected.argmax()]


@pytest.mark.parametrize("model_name", ["svm", "lstm"])
def test_every_window_is_classified_as_its_own_clip(model_name, recording, request):
    model = request.getfixturevalue(model_name)
    waveform, _ = recording
    waveform = waveform[: 6 * SR]
    timeline = predict_timeline(model, waveform, sr=SR, window=1.5, hop=0.5, vad=None, batch_size=5)
    starts = sliding_starts(len(waveform), int(1.5 * SR), int(0.5 * SR))
    np.testing.assert_allclose(timeline["start"], starts / SR)
    np.testing.assert_allclose(timeline["end"], (starts + 1.5 * SR) / SR)
    assert timeline["speech"].all()
    expected = model.predict_proba([waveform[start : start + int(1.5 * SR)] for start in starts])
    columns = [f"prob_{label}" for label in model.classes_]
    np.testing.assert_allclose(timeline[columns].to_numpy(), expected, atol=1e-6)
    assert (timeline["label"].to_numpy() == model.classes_[expected.argmax(axis=1)]).all()


def test_windows_inside_utterances_carry_their_emotion_and_silences_are_not_speech(
    window_svm, split, recording, recording_file
):
    _, test = split
    _, spans = recording
    timeline = predict_timeline(window_svm, recording_file, window=WINDOW, hop=HOP, vad="energy")

    windows = list(zip(timeline.start, timeline.end))
    silent = np.array([not any(start < b and end > a for a, b, _ in spans) for start, end in windows])
    assert silent.sum() >= len(spans)  # the silences are long enough to hold windows
    assert not timeline["speech"][silent].any()
    assert not timeline["label"][silent].notna().any()

    utterance = [next((label for a, b, label in spans if a <= start and end <= b), None) for start, end in windows]
    inside = pd.Series(utterance, dtype=object)
    held = inside.notna().to_numpy()
    assert held.sum() >= len(spans) and timeline["speech"][held].all()
    agreement = (timeline["label"][held] == inside[held]).mean()

    clip_windows, labels, _ = window_clips(test["path"], test["label"], sr=SR, window=WINDOW, hop=HOP)
    accuracy = (window_svm.predict(clip_windows) == labels).mean()
    chance = 1 / len(window_svm.classes_)
    assert accuracy > 2 * chance  # the comparison means something
    assert abs(agreement - accuracy) <= 0.15, (agreement, accuracy)


def test_a_model_without_predict_proba_gives_labels_only(split, recording):
    train, _ = split
    waveform, _ = recording
    model = get_recipe("svm-mfcc", random_state=0).fit(train["path"], train["label"])
    timeline = predict_timeline(model, waveform[: 8 * SR], sr=SR, window=2.0, hop=1.0)
    assert list(timeline.columns) == ["start", "end", "speech", "label"]
    speech = timeline["speech"].to_numpy()
    assert speech.any() and not speech.all()
    windows = [waveform[round(s * SR) : round(e * SR)] for s, e in zip(timeline.start[speech], timeline.end[speech])]
    assert (timeline["label"][speech].to_numpy() == model.predict(windows)).all()
    assert timeline["label"][~speech].isna().all()
    with pytest.raises(ValueError, match="smooth=3 averages probabilities"):
        predict_timeline(model, waveform[: 8 * SR], sr=SR, smooth=3)


def test_smoothing_averages_neighbouring_speech_windows(svm, recording):
    waveform, _ = recording
    kwargs = dict(sr=SR, window=WINDOW, hop=HOP)
    raw = predict_timeline(svm, waveform[: 20 * SR], **kwargs)
    smooth = predict_timeline(svm, waveform[: 20 * SR], smooth=3, **kwargs)
    columns = [f"prob_{label}" for label in svm.classes_]
    pd.testing.assert_frame_equal(raw[["start", "end", "speech"]], smooth[["start", "end", "speech"]])
    speech = raw["speech"].to_numpy()
    proba = raw[columns].to_numpy()
    for row in np.flatnonzero(speech):
        neighbours = [n for n in (row - 1, row, row + 1) if 0 <= n < len(raw) and speech[n]]
        # a silent window between them breaks the run
        neighbours = [n for n in neighbours if all(speech[min(n, row) : max(n, row) + 1])]
        np.testing.assert_allclose(smooth.loc[row, columns].to_numpy(float), proba[neighbours].mean(axis=0))
    smoothed = smooth[columns].to_numpy()
    assert (smooth["label"][speech].to_numpy() == svm.classes_[smoothed[speech].argmax(axis=1)]).all()
    assert np.isnan(smoothed[~speech]).all()


def test_smooth_runs_does_not_cross_a_silence():
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [np.nan, np.nan], [1.0, 0.0]])
    speech = np.array([True, True, False, True])
    np.testing.assert_allclose(smooth_runs(proba, speech, 5)[[0, 1, 3]], [[0.5, 0.5], [0.5, 0.5], [1.0, 0.0]])


def test_energy_threshold_is_in_dbfs(svm):
    loud = tone(SR, seconds=3.0, amplitude=10 ** (-27 / 20))  # a sine's RMS is 3 dB below its peak: -30 dBFS
    quiet = tone(SR, seconds=3.0, amplitude=10 ** (-47 / 20))  # -50 dBFS
    y = np.concatenate([loud, quiet])
    timeline = predict_timeline(svm, y, sr=SR, window=1.0, hop=1.0, energy_threshold=-40.0)
    assert timeline["speech"].tolist() == [True] * 3 + [False] * 3
    quieter = predict_timeline(svm, y, sr=SR, window=1.0, hop=1.0, energy_threshold=-55.0)
    assert quieter["speech"].all()
    no_vad = predict_timeline(svm, y, sr=SR, window=1.0, hop=1.0, vad=None)
    assert no_vad["speech"].all() and no_vad["label"].notna().all()


def test_resampled_recording_keeps_its_time_axis(svm, recording, recording_file):
    waveform, _ = recording
    timeline = predict_timeline(svm, recording_file, window=2.0, hop=1.0)
    assert timeline["end"].iloc[-1] == pytest.approx(len(waveform) / SR, abs=1e-3)
    assert (np.diff(timeline["start"].to_numpy()[:-1]) == 1.0).all()


def test_model_file_is_loaded(svm, recording, tmp_path):
    waveform, _ = recording
    path = tmp_path / "svm.joblib"
    joblib.dump(svm, path)
    from_file = predict_timeline(path, waveform[: 5 * SR], sr=SR)
    pd.testing.assert_frame_equal(from_file, predict_timeline(svm, waveform[: 5 * SR], sr=SR))


# ---------------------------------------------------------------------------
# Window lengths and clear errors
# ---------------------------------------------------------------------------


def test_minimum_window_is_one_analysis_frame(svm, recording):
    waveform, _ = recording
    shortest = minimum_window(svm)
    mfcc = svm.named_steps["mfcc"]
    assert shortest == mfcc.n_fft / mfcc.sr
    assert len(predict_timeline(svm, waveform[:SR], sr=SR, window=shortest, hop=shortest, vad=None)) > 1
    with pytest.raises(ValueError, match=r"window=.* shorter than one analysis frame .*32 ms"):
        predict_timeline(svm, waveform[:SR], sr=SR, window=shortest * 0.9, hop=shortest * 0.9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(window=0.0), "window must be a positive number"),
        (dict(window=-1.0), "window must be a positive number"),
        (dict(hop=float("nan")), "hop must be a positive number"),
        (dict(window=1.0, hop=1.5), "hop=1.5 s exceeds window=1.0 s"),
        (dict(vad="webrtc"), "vad must be one of"),
        (dict(smooth=2), "smooth must be None or an odd number"),
        (dict(batch_size=0), "batch_size must be a positive integer"),
        (dict(min_speech=0.0), "min_speech must be a fraction"),
        (dict(energy_threshold=float("inf")), "energy_threshold must be a level in dBFS"),
    ],
)
def test_bad_parameters_are_named(svm, kwargs, message):
    with pytest.raises(ValueError, match=message):
        predict_timeline(svm, np.zeros(SR, dtype=np.float32), sr=SR, **kwargs)


def test_unreadable_sources_are_named(svm, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        predict_timeline(svm, tmp_path / "missing.wav")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    with pytest.raises(InvalidAudioError, match="notes.wav"):
        predict_timeline(svm, not_audio)
    with pytest.raises(ValueError, match="needs its sampling rate"):
        predict_timeline(svm, np.zeros(SR, dtype=np.float32))
    with pytest.raises(ValueError, match="only for a waveform source"):
        predict_timeline(svm, not_audio, sr=SR)
    with pytest.raises(InvalidAudioError, match="NaN or infinite"):
        predict_timeline(svm, np.full(SR, np.nan, dtype=np.float32), sr=SR)
    with pytest.raises(FileNotFoundError, match="Model file not found"):
        predict_timeline(tmp_path / "missing.joblib", not_audio)


def test_a_truncated_file_is_refused_by_name(svm, tmp_path):
    path = tmp_path / "cut.wav"
    soundfile.write(path, tone(SR, seconds=3.0), SR)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidAudioError, match="cut.wav.*truncated"):
        predict_timeline(svm, path)


def test_a_model_that_reads_no_audio_is_refused(recording):
    waveform, _ = recording
    model = make_pipeline(SequencePooling(), StandardScaler())
    model.fit([np.ones((3, 2), dtype=np.float32), np.zeros((3, 2), dtype=np.float32)])
    with pytest.raises(ValueError, match="no step that reads audio"):
        predict_timeline(model, waveform, sr=SR)


class RefusesLoudWindows(BaseEstimator, ClassifierMixin):
    """Raises, as a step might on odd input, for any row whose first feature exceeds ``threshold``, naming its index."""

    def __init__(self, threshold=0.0):
        self.threshold = threshold

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        for index, row in enumerate(np.asarray(X)):
            if row[0] > self.threshold:
                raise ValueError(f"row {index} is too loud")
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


def test_a_model_error_names_the_window_in_seconds():
    from sklearn_ser.features import MFCC

    quiet, loud = 0.01 * tone(SR, seconds=4.0, freq=200), 0.9 * tone(SR, seconds=1.0, freq=200)
    features = make_pipeline(MFCC(n_mfcc=13), SequencePooling(stats=("mean",)))
    energy = features.fit_transform([quiet[:SR], loud])[:, 0]
    model = make_pipeline(features, RefusesLoudWindows(threshold=energy.mean()).fit(np.zeros((2, 13)), ["a", "b"]))
    recording = np.concatenate([quiet, loud, quiet]).astype(np.float32)
    with pytest.raises(ValueError, match=r"window 4\.00-5\.00 s: row 0 is too loud"):
        predict_timeline(model, recording, sr=SR, window=1.0, hop=1.0, vad=None)


# ---------------------------------------------------------------------------
# Silero, Ctrl-C
# ---------------------------------------------------------------------------


@pytest.mark.skipif(not has_silero, reason="silero-vad is not installed (pip install sklearn-ser[vad])")
def test_silero_marks_silence_and_keeps_torch_threads(svm, recording):
    waveform, spans = recording
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        y = np.concatenate([np.zeros(3 * SR, dtype=np.float32), waveform[: 10 * SR]])
        timeline = predict_timeline(svm, y, sr=SR, window=1.0, hop=1.0, vad="silero")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert not timeline["speech"][:3].any()
    assert timeline["label"][~timeline["speech"]].isna().all()


def test_silero_missing_is_a_clear_import_error(svm, monkeypatch):
    monkeypatch.setitem(sys.modules, "silero_vad", None)
    with pytest.raises(ImportError, match=r"pip install 'sklearn-ser\[vad\]'"):
        predict_timeline(svm, np.zeros(SR, dtype=np.float32), sr=SR, vad="silero")


class _SwallowsCtrlC(ClassifierMixin, BaseEstimator):
    """Wraps a model; its first predict_proba receives a Ctrl-C and, like skorch's fit, swallows it."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        if name == "classes_":
            return getattr(self.model, name)
        raise AttributeError(name)

    def fit(self, X, y):
        return self

    def __sklearn_is_fitted__(self):
        return True

    def predict_proba(self, X):
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pass
        return self.model.predict_proba(X)


def test_ctrl_c_stops_even_when_the_model_swallows_it(svm, recording, ctrl_c_raises):
    waveform, _ = recording
    with pytest.raises(KeyboardInterrupt):
        predict_timeline(_SwallowsCtrlC(svm), waveform, sr=SR, batch_size=4)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ---------------------------------------------------------------------------
# window_clips
# ---------------------------------------------------------------------------


def test_window_clips_cuts_as_the_timeline_does(split):
    _, test = split
    paths, labels = test["path"][:3], test["label"][:3]
    windows, y, clip = window_clips(paths, labels, sr=SR, window=WINDOW, hop=HOP)
    assert clip.tolist() == sorted(clip.tolist()) and set(clip) == {0, 1, 2}
    assert (y == labels.to_numpy(dtype=object)[clip]).all()
    first = load_audio(paths[0], sr=SR)
    starts = sliding_starts(len(first), int(WINDOW * SR), int(HOP * SR))
    for start, window in zip(starts, [w for w, c in zip(windows, clip) if c == 0]):
        np.testing.assert_array_equal(window, first[start : start + int(WINDOW * SR)])
    with pytest.raises(ValueError, match="3 clips but y 2 labels"):
        window_clips(paths, labels[:2], sr=SR, window=WINDOW, hop=HOP)


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_file(svm, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "svm.joblib"
    joblib.dump(svm, path)
    return path


def test_cli_writes_the_csv_and_the_figure(model_file, recording_file, tmp_path, capsys):
    out, plot = tmp_path / "out" / "timeline.csv", tmp_path / "timeline.png"
    args = ["timeline", str(model_file), str(recording_file), "--window", "1.5", "--hop", "0.5"]
    assert main([*args, "--out", str(out), "--plot", str(plot), "--smooth", "3"]) == 0
    written = pd.read_csv(out)
    expected = predict_timeline(model_file, recording_file, window=1.5, hop=0.5, smooth=3)
    pd.testing.assert_frame_equal(written.drop(columns="label"), expected.drop(columns="label"), atol=1e-9)
    assert (written["label"].fillna("") == expected["label"].fillna("")).all()
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Figure written to" in capsys.readouterr().err

    assert main([*args, "--vad", "none"]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(printed) == len(written) and printed["speech"].all()


def test_cli_checks_outputs_before_any_work(recording_file, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    status = main(["timeline", str(tmp_path / "missing.joblib"), str(recording_file), "--out", f"{blocker}/t.csv"])
    assert status == 1
    error = capsys.readouterr().err
    assert "--out" in error and "missing.joblib" not in error


def test_cli_names_bad_options_and_files(model_file, recording_file, tmp_path, capsys):
    assert main(["timeline", str(model_file), str(recording_file), "--window", "1", "--hop", "2"]) == 1
    assert "hop=2.0 s exceeds window=1.0 s" in capsys.readouterr().err
    assert main(["timeline", str(model_file), str(tmp_path / "gone.flac")]) == 1
    assert "gone.flac" in capsys.readouterr().err


def test_cli_ctrl_c_saves_nothing(model_file, recording_file, tmp_path, monkeypatch, capsys):
    from sklearn_ser.timeline import _timeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_timeline, "_batched", interrupted)
    out = tmp_path / "timeline.csv"
    assert main(["timeline", str(model_file), str(recording_file), "--out", str(out)]) == 130
    assert not out.exists() and "interrupted, nothing was saved" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# The figure
# ---------------------------------------------------------------------------


def test_plot_timeline_draws_envelope_labels_and_probabilities(svm, recording, recording_file, tmp_path, monkeypatch):
    monkeypatch.setattr(_stream, "BLOCK_FRAMES", 10000)  # the envelope is computed block by block
    timeline = predict_timeline(svm, recording_file, window=2.0, hop=1.0)
    fig = plot_timeline(timeline, recording_file, title="interview")
    wave_ax, label_ax, proba_ax = fig.axes[:3]
    assert [wave_ax.get_ylabel(), proba_ax.get_ylabel()] == ["Amplitude", "Probability"]
    native = soundfile.read(recording_file, dtype="float32")[0].mean(axis=1)
    assert wave_ax.get_ylim()[1] == pytest.approx(1.05 * np.abs(native).max(), rel=1e-6)
    assert [text.get_text() for text in proba_ax.get_legend().get_texts()] == [str(c) for c in svm.classes_]
    n_speech_runs = len(np.flatnonzero(np.diff(np.concatenate([[0], timeline["speech"].astype(int), [0]])))) // 2
    assert n_speech_runs > 1 and len(wave_ax.patches) == n_speech_runs
    assert proba_ax.get_xlim() == pytest.approx((0, soundfile.info(recording_file).duration))
    path = save_figure(fig, tmp_path / "timeline.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_timeline_without_waveform_or_probabilities():
    timeline = pd.DataFrame(
        {"start": [0.0, 1.0, 2.0], "end": [2.0, 3.0, 4.0], "speech": [True, False, True], "label": ["b", None, "a"]}
    )
    fig = plot_timeline(timeline)
    assert len(fig.axes) == 2
    assert [text.get_text() for text in fig.axes[1].get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match=r"lacks the columns \['speech'\]"):
        plot_timeline(timeline.drop(columns="speech"))
    with pytest.raises(ValueError, match="no rows"):
        plot_timeline(timeline.iloc[:0])


def test_the_label_strip_shows_classes_that_are_not_strings():
    timeline = pd.DataFrame(
        {
            "start": [0.0, 1.0, 2.0],
            "end": [2.0, 3.0, 4.0],
            "speech": [True, True, False],
            "label": pd.Series([0, 1, None], dtype=object),  # as predict_timeline gives integer classes
            "prob_0": [0.9, 0.2, np.nan],
            "prob_1": [0.1, 0.8, np.nan],
        }
    )
    label_ax = plot_timeline(timeline).axes[0]
    cells = [patch.get_data().values.tolist() for patch in label_ax.patches]
    assert cells == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_the_opensmile_features_need_a_60_ms_window():
    from sklearn_ser.features import EGeMAPS

    pytest.importorskip("opensmile")
    assert minimum_window(make_pipeline(EGeMAPS(), StandardScaler())) == pytest.approx(0.06)
