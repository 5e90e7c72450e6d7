"""Models for timelines: trained on windows from the command line, and warned about windows far shorter than their clips."""

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
    assert fitted.sklearn_ser_trained_on_ == {"clip_seconds": 0.5, "window": 0.5, "hop": 0.25}


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
