"""Models for timelines: trained on windows, warned about short windows, compared with reference labels."""

import warnings

import joblib
import numpy as np
import pytest
import soundfile

from sklearn_ser import load_audio
from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.recipes import get_recipe
from sklearn_ser.timeline import predict_timeline, window_clips


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return root, make_synthetic_corpus(root, n_speakers=2, n_words=2, emotions=("angry", "sad"), random_state=0)


@pytest.fixture(scope="module")
def recording(corpus, tmp_path_factory):
    _, frame = corpus
    path = tmp_path_factory.mktemp("recording") / "recording.wav"
    soundfile.write(path, np.concatenate([load_audio(p, sr=16000) for p in frame["path"][:4]]), 16000)
    return path


def test_fit_on_windows_trains_on_what_window_clips_cuts(corpus, tmp_path, capsys):
    root, frame = corpus
    model = tmp_path / "windows.joblib"
    args = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model), "--no-cache"]
    assert main([*args, "--window", "0.5", "--hop", "0.25"]) == 0
    windows, labels, _ = window_clips(frame["path"], frame["label"], sr=16000, window=0.5, hop=0.25)
    assert f"Cut {len(frame)} files into {len(windows)} windows of 0.5 s every 0.25 s" in capsys.readouterr().out
    fitted = joblib.load(model)
    reference = get_recipe("svm-mfcc").fit(windows, labels)
    np.testing.assert_allclose(fitted.decision_function(windows[:5]), reference.decision_function(windows[:5]))
    assert fitted.sklearn_ser_trained_on_ == {"clip_seconds": 0.5, "window": 0.5, "hop": 0.25, "recipe": "svm-mfcc"}


def test_a_timeline_far_shorter_than_the_training_clips_warns_once(corpus, recording, tmp_path, capsys):
    root, frame = corpus
    model = tmp_path / "clips.joblib"
    args = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model), "--no-cache"]
    assert main(args) == 0
    median = float(np.median([soundfile.info(p).duration for p in frame["path"]]))
    assert joblib.load(model).sklearn_ser_trained_on_["clip_seconds"] == pytest.approx(median)
    capsys.readouterr()
    short = median / 2
    assert main(["timeline", str(model), str(recording), "--window", f"{short:.3f}", "--hop", "0.1", "-q"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warned) == 1 and f"trained on clips of {median:.1f} s (median)" in warned[0]
    assert f"sklearn-ser fit --window {float(f'{short:.3f}'):g}" in warned[0]
    with pytest.warns(UserWarning, match="much shorter"):
        predict_timeline(joblib.load(model), recording, window=short, hop=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predict_timeline(joblib.load(model), recording, window=median, hop=0.5)


def test_reference_labels_are_compared_and_drawn(corpus, recording, tmp_path, capsys):
    import pandas as pd

    from sklearn_ser.plotting import plot_timeline
    from sklearn_ser.timeline import timeline_agreement

    root, frame = corpus
    model = tmp_path / "model.joblib"
    fit = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model), "--no-cache"]
    assert main([*fit, "--set", "probability=True", "-q"]) == 0
    bounds = np.cumsum([0.0] + [soundfile.info(p).duration for p in frame["path"][:4]])
    reference = tmp_path / "reference.csv"
    pd.DataFrame({"start": bounds[:-1], "end": bounds[1:], "label": frame["label"][:4]}).to_csv(reference, index=False)
    out, plot = tmp_path / "timeline.csv", tmp_path / "timeline.png"
    args = ["timeline", str(model), str(recording), "--window", "1.0", "--hop", "0.5", "--reference", str(reference)]
    assert main([*args, "--out", str(out), "--plot", str(plot), "-q"]) == 0
    table = pd.read_csv(out, keep_default_na=False).replace({"label": {"": None}})
    agreement, n_windows = timeline_agreement(table, reference)
    assert 0 < n_windows <= len(table) and 0.0 <= agreement <= 1.0
    assert f"Agreement with {reference}: {agreement:.1%} of {n_windows} speech windows" in capsys.readouterr().err
    assert plot.read_bytes()[:4] == b"\x89PNG"
    figure = plot_timeline(table, recording, reference=reference)
    titles = [ax.get_title(loc="left") for ax in figure.axes]
    assert f"Reference label ({agreement:.0%} of {n_windows} speech windows agree)" in titles
    assert figure._suptitle.get_text() == "recording.wav"
    assert plot_timeline(table, recording, title="")._suptitle is None


@pytest.mark.parametrize(
    "content, match",
    [
        ("begin,end,label\n0,1,sad\n", "has no column 'start'"),
        ("start,end,label\n0,1,sad\n2,1,angry\n", "row 2 .* is not a segment of positive length"),
        ("start,end,label\n0,2,sad\n1,3,angry\n", "the segment from 0 s overlaps the next one"),
    ],
)
def test_malformed_reference_labels_are_refused_before_the_recording_is_read(
    corpus, recording, tmp_path, capsys, content, match
):
    import re

    root, _ = corpus
    model = tmp_path / "model.joblib"
    assert main(["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model), "-q"]) == 0
    reference = tmp_path / "reference.csv"
    reference.write_text(content)
    assert main(["timeline", str(model), str(recording), "--reference", str(reference)]) == 1
    error = capsys.readouterr().err
    assert re.search(match, error) and "reference.csv" in error


def test_a_timeline_never_fills_the_models_feature_cache(corpus, recording, tmp_path):
    root, frame = corpus
    cache = tmp_path / "cache"
    model = get_recipe("svm-mfcc", memory=str(cache)).fit(frame["path"], frame["label"])
    before = sorted(cache.rglob("*.npz"))
    assert before
    predict_timeline(model, recording, window=1.0, hop=0.5)
    assert sorted(cache.rglob("*.npz")) == before
    assert model.named_steps["mfcc"].memory == str(cache)  # restored


def test_speech_is_marked_at_the_detectors_resolution(corpus, tmp_path, capsys):
    import pandas as pd

    from sklearn_ser.plotting import plot_timeline
    from sklearn_ser.timeline import speech_segments

    root, frame = corpus
    clip = load_audio(frame["path"][0], sr=16000)
    pause = np.zeros(8000, dtype=np.float32)  # 0.5 s: shorter than a 2 s window
    recording = tmp_path / "paused.wav"
    soundfile.write(recording, np.concatenate([clip, pause, clip, pause, clip]), 16000)
    stretches = speech_segments(recording)
    assert len(stretches) >= 3 and (stretches["end"] > stretches["start"]).all()
    gaps = stretches["start"].to_numpy()[1:] - stretches["end"].to_numpy()[:-1]
    assert (gaps > 0).all() and gaps.max() >= 0.45  # the half-second pauses are there
    model = tmp_path / "model.joblib"
    assert main(["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model), "-q"]) == 0
    timeline = predict_timeline(joblib.load(model), recording, window=2.0, hop=1.0)
    assert timeline["speech"].all()  # every 2 s window holds speech: the table alone hides the pauses
    out, plot = tmp_path / "speech.csv", tmp_path / "timeline.png"
    args = ["timeline", str(model), str(recording), "--speech-out", str(out), "--plot", str(plot), "-q"]
    assert main([*args, "--out", str(tmp_path / "t.csv")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out), stretches)
    figure = plot_timeline(timeline, recording, speech=stretches)
    assert len(figure.axes[0].patches) == len(stretches)
    assert main([*args[:5], "--vad", "none"]) == 1
    assert "--speech-out marks what the voice activity detector finds" in capsys.readouterr().err


def test_silero_marks_speech_in_its_32_ms_chunks(corpus):
    pytest.importorskip("silero_vad")
    from sklearn_ser.timeline import speech_segments

    _, frame = corpus
    silence = np.zeros(16000, dtype=np.float32)
    clips = [load_audio(path, sr=16000) for path in frame["path"][:2]]
    waveform = np.concatenate([silence, clips[0], silence, clips[1], silence])
    stretches = speech_segments(waveform, sr=16000, vad="silero")
    assert len(stretches) >= 1 and stretches["start"].min() >= 0.9 and stretches["end"].max() <= len(waveform) / 16000
    edges = np.concatenate([stretches["start"], stretches["end"]]) * 16000 / 512
    assert np.allclose(edges[:-1], np.round(edges[:-1]))  # on chunk boundaries (the last may end with the audio)
    with pytest.raises(ValueError, match="vad must be one of"):
        speech_segments(waveform, sr=16000, vad="loud")
