"""Per-speaker models in timelines: a speaker enrolled from its own utterances, or from the recording."""

import joblib
import numpy as np
import pytest
import sklearn
import soundfile

from sklearn_ser import load_audio
from sklearn_ser._sequences import frame_statistics
from sklearn_ser.cli import main
from sklearn_ser.features import enrol_speaker
from sklearn_ser.recipes import get_recipe
from sklearn_ser.timeline import predict_timeline, window_clips


@pytest.fixture(scope="module")
def fitted(per_speaker_svm, tmp_path_factory):
    """The per-speaker svm-mfcc's file, the new speaker's clips and a recording of them."""
    model, _, files, _ = per_speaker_svm
    recording = tmp_path_factory.mktemp("recording") / "f03.wav"
    soundfile.write(recording, np.concatenate([load_audio(p, sr=16000) for p in files]), 16000)
    return model, files, recording


def test_enrolling_stores_the_statistics_of_the_speakers_frames(fitted):
    model_path, files, _ = fitted
    model = joblib.load(model_path)
    enrol_speaker(model, files, "F03")
    normalizer = model.named_steps["speaker_norm"]
    mean, scale = normalizer.speaker_statistics_["F03"]
    expected_mean, expected_scale = frame_statistics(list(model.named_steps["mfcc"].transform(files)))
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(scale, expected_scale, rtol=1e-5)
    with pytest.raises(ValueError, match="'F01' is one of the model's training speakers"):
        enrol_speaker(model, files, "F01")
    with pytest.raises(ValueError, match="has no SpeakerNormalizer"):
        enrol_speaker(get_recipe("svm-mfcc").fit(files, ["a", "b"] * 3), files, "x")


def expected_timeline_probabilities(model_path, statistics_from, recording):
    """Every window's probabilities with the speaker 'new' enrolled from ``statistics_from``."""
    model = joblib.load(model_path)
    enrol_speaker(model, statistics_from, "new")
    windows, _, _ = window_clips([recording], ["x"], sr=16000, window=1.0, hop=0.5)
    with sklearn.config_context(enable_metadata_routing=True):
        return model.predict_proba(windows, speaker=np.full(len(windows), "new", dtype=object))


def test_a_timeline_normalizes_a_new_speaker_by_enrolment_or_by_the_recording(fitted):
    model_path, files, recording = fitted
    model = joblib.load(model_path)
    known = dict(model.named_steps["speaker_norm"].speaker_statistics_)
    options = dict(window=1.0, hop=0.5, vad=None)
    enrolled = predict_timeline(model, recording, speaker="new", enrol=files, **options)
    np.testing.assert_allclose(
        enrolled.filter(like="prob_").to_numpy(), expected_timeline_probabilities(model_path, files, recording)
    )
    windows, _, _ = window_clips([recording], ["x"], sr=16000, window=1.0, hop=0.5)
    by_recording = predict_timeline(model, recording, speaker="new", **options)
    np.testing.assert_allclose(
        by_recording.filter(like="prob_").to_numpy(),
        expected_timeline_probabilities(model_path, windows, recording),
    )
    assert list(model.named_steps["speaker_norm"].speaker_statistics_) == list(known)  # removed afterwards
    with pytest.warns(UserWarning, match="no speaker ids"):
        alone = predict_timeline(model, recording, **options)
    assert not np.allclose(alone.filter(like="prob_").to_numpy(), by_recording.filter(like="prob_").to_numpy())
    with pytest.raises(ValueError, match="name the speaker too"):
        predict_timeline(model, recording, enrol=files, **options)


def test_the_command_line_takes_a_speaker_and_its_enrolment(fitted, tmp_path, capsys):
    import pandas as pd

    model_path, files, recording = fitted
    out = tmp_path / "timeline.csv"
    args = ["timeline", str(model_path), str(recording), "--window", "1.0", "--hop", "0.5", "--vad", "none", "-q"]
    assert main([*args, "--speaker", "new", "--enrol", *files, "--out", str(out)]) == 0
    expected = expected_timeline_probabilities(model_path, files, recording)
    np.testing.assert_allclose(pd.read_csv(out).filter(like="prob_").to_numpy(), expected, rtol=1e-6)
    assert "warning" not in capsys.readouterr().err
    assert main([*args, "--enrol", files[0]]) == 1
    assert "--enrol gives a speaker's utterances: name the speaker with --speaker" in capsys.readouterr().err
    plain = tmp_path / "plain.joblib"
    joblib.dump(get_recipe("svm-mfcc").fit(files, ["a", "b"] * 3), plain)
    assert main(["timeline", str(plain), str(recording), "--speaker", "new", "-q"]) == 1
    assert "does not use speaker ids" in capsys.readouterr().err
