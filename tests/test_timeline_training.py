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
