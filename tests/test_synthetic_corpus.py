import re
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sklearn_ser.datasets import EMOTIONS_TESS, load_synthetic, make_synthetic_corpus

SMALL = dict(n_speakers=2, n_words=3)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return root, make_synthetic_corpus(root, **SMALL)


def folder_bytes(root):
    root = Path(root)
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def measurements(corpus):
    """Loudness, pitch, duration and brightness of every file of the corpus."""
    rows = []
    for path in corpus[1]["path"]:
        y, sr = sf.read(path)
        f0 = librosa.yin(y, fmin=60, fmax=600, sr=sr, frame_length=1024, hop_length=256)
        frame_rms = librosa.feature.rms(y=y, frame_length=1024, hop_length=256)[0]
        voiced = frame_rms > 0.3 * frame_rms.max()
        rows.append(
            {
                "rms": np.sqrt(np.mean(y**2)),
                "f0": np.exp(np.mean(np.log(f0[voiced]))),
                "duration": len(y) / sr,
                "centroid": np.median(librosa.feature.spectral_centroid(y=y, sr=sr)),
            }
        )
    return pd.DataFrame(rows).join(corpus[1][["label", "speaker"]])


def test_files_and_manifest_are_written(corpus):
    root, frame = corpus
    manifest = pd.read_csv(root / "manifest.csv")
    assert len(manifest) == len(frame) == 2 * 3 * len(EMOTIONS_TESS)
    assert not manifest["path"].str.startswith("/").any()
    wav_files = sorted(str(path) for path in root.rglob("*.wav"))
    assert frame["path"].tolist() == wav_files


def test_frame_columns_and_dtypes(corpus):
    _, frame = corpus
    assert frame.columns.tolist() == ["path", "label", "speaker", "text", "corpus", "gender"]
    assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0
    for column in frame.columns:
        values = frame[column].to_numpy()
        assert values.dtype == object, column
        assert all(type(value) is str for value in values), column
    assert frame["path"].tolist() == sorted(frame["path"])
    assert all(Path(path).is_absolute() for path in frame["path"])
    assert set(frame["corpus"]) == {"synthetic"}


def test_counts_labels_and_speakers(corpus):
    _, frame = corpus
    assert sorted(frame["label"].unique()) == sorted(EMOTIONS_TESS)
    assert sorted(frame["speaker"].unique()) == ["F01", "M02"]
    assert frame["text"].nunique() == 3
    counts = frame.groupby(["speaker", "label", "text"]).size()
    assert len(counts) == 2 * 3 * 7 and (counts == 1).all()
    genders = frame.groupby("speaker")["gender"].unique().map(list).to_dict()
    assert genders == {"F01": ["female"], "M02": ["male"]}


def test_tess_like_layout(corpus):
    root, frame = corpus
    for row in frame.itertuples():
        folder = root / f"{row.speaker}_{row.label}"
        assert row.path == str(folder / f"{row.speaker}_{row.text}_{row.label}.wav")
        assert re.fullmatch("[a-z]+", row.text)


def test_audio_format_and_range(corpus):
    _, frame = corpus
    for path in frame["path"]:
        info = sf.info(path)
        assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
        assert info.samplerate == 16000
        assert 1.0 <= info.duration <= 3.2
        y, _ = sf.read(path)
        assert np.isfinite(y).all()
        assert np.abs(y).max() <= 1.0
        assert np.abs(y).max() > 0.01


def test_same_random_state_writes_same_bytes(corpus, tmp_path):
    root, frame = corpus
    again = make_synthetic_corpus(tmp_path, **SMALL)
    assert folder_bytes(tmp_path) == folder_bytes(root)
    assert again["path"].str.replace(str(tmp_path), "").equals(frame["path"].str.replace(str(root), ""))


def test_other_random_state_writes_other_audio(corpus, tmp_path):
    root, _ = corpus
    make_synthetic_corpus(tmp_path, **SMALL, random_state=1)
    assert folder_bytes(tmp_path) != folder_bytes(root)


@pytest.mark.parametrize(
    "random_state",
    [None, 3, np.int64(3), np.random.default_rng(3), np.random.RandomState(3)],
)
def test_random_state_types(tmp_path, random_state):
    frame = make_synthetic_corpus(tmp_path, n_speakers=1, n_words=1, emotions=["sad"], random_state=random_state)
    assert len(frame) == 1


def test_emotions_differ_in_expected_direction(measurements):
    by_emotion = measurements.groupby("label")[["rms", "f0", "duration", "centroid"]].mean()
    rms, f0, duration, centroid = (by_emotion[column] for column in by_emotion)

    assert rms["angry"] > 2 * rms["sad"]
    assert rms["angry"] > rms["neutral"] > rms["sad"]
    assert f0["angry"] > 1.15 * f0["sad"]
    assert f0["fear"] > f0["neutral"] > f0["disgust"]
    assert duration["sad"] > duration["neutral"] > duration["fear"]
    assert centroid["angry"] > centroid["sad"]


def test_female_speakers_are_higher_pitched(measurements):
    f0 = measurements.groupby("speaker")["f0"].mean()
    assert f0["F01"] > 1.4 * f0["M02"]


def test_single_speaker_custom_emotions_and_sample_rate(tmp_path):
    frame = make_synthetic_corpus(tmp_path, n_speakers=1, n_words=2, emotions=("calm", "bored"), sr=8000)
    assert len(frame) == 4
    assert set(frame["speaker"]) == {"F01"}
    assert set(frame["gender"]) == {"female"}
    assert sorted(frame["label"].unique()) == ["bored", "calm"]
    for path in frame["path"]:
        y, sr = sf.read(path)
        assert sr == 8000 and np.isfinite(y).all()


def test_root_is_created(tmp_path):
    root = tmp_path / "new" / "corpus"
    frame = make_synthetic_corpus(root, n_speakers=1, n_words=1, emotions=["happy"])
    assert (root / "manifest.csv").is_file()
    assert Path(frame.loc[0, "path"]).parent == root / "F01_happy"


@pytest.mark.parametrize(
    "params, error, message",
    [
        (dict(n_speakers=0), ValueError, "n_speakers must be >= 1"),
        (dict(n_speakers=1.5), TypeError, "n_speakers must be an int"),
        (dict(n_speakers=True), TypeError, "n_speakers must be an int"),
        (dict(n_words=0), ValueError, "n_words must be >= 1"),
        (dict(n_words="3"), TypeError, "n_words must be an int"),
        (dict(n_words=10**6), ValueError, "n_words must be <="),
        (dict(sr=4000), ValueError, "sr must be >= 8000"),
        (dict(sr=16000.0), TypeError, "sr must be an int"),
        (dict(emotions=()), ValueError, "emotions must not be empty"),
        (dict(emotions="angry"), TypeError, "emotions must be a sequence"),
        (dict(emotions=("angry", "sad", "angry")), ValueError, "emotions must be unique"),
        (dict(emotions=("angry", "")), ValueError, "emotions must be non-empty"),
        (dict(emotions=("angry", 3)), ValueError, "emotions must be non-empty"),
        (dict(emotions=("a/b",)), ValueError, "emotions must be non-empty"),
        (dict(emotions=("pleasant_surprise",)), ValueError, "emotions must be non-empty"),
        (dict(random_state="seed"), TypeError, "random_state must be"),
    ],
)
def test_parameter_validation(tmp_path, params, error, message):
    with pytest.raises(error, match=message):
        make_synthetic_corpus(tmp_path / "corpus", **params)
    assert not (tmp_path / "corpus").exists()


def test_load_synthetic_round_trip(corpus):
    root, frame = corpus
    pd.testing.assert_frame_equal(load_synthetic(root), frame)
    pd.testing.assert_frame_equal(load_synthetic(str(root)), frame)


@pytest.fixture
def tiny_corpus(tmp_path):
    make_synthetic_corpus(tmp_path, n_speakers=1, n_words=2, emotions=["angry"])
    return tmp_path


def edit_manifest(root, edit):
    manifest = pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)
    edit(manifest).to_csv(root / "manifest.csv", index=False)


def test_load_synthetic_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_synthetic(tmp_path / "nowhere")


def test_load_synthetic_missing_manifest(tiny_corpus):
    (tiny_corpus / "manifest.csv").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(tiny_corpus / "manifest.csv"))):
        load_synthetic(tiny_corpus)


def test_load_synthetic_missing_file(tiny_corpus):
    frame = load_synthetic(tiny_corpus)
    Path(frame.loc[1, "path"]).unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(frame.loc[1, "path"])):
        load_synthetic(tiny_corpus)


def test_load_synthetic_keeps_extra_manifest_columns(tiny_corpus):
    edit_manifest(tiny_corpus, lambda manifest: manifest.assign(session="s1"))
    frame = load_synthetic(tiny_corpus)
    assert frame.columns.tolist()[-1] == "session"
    assert frame["session"].to_numpy().dtype == object


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda manifest: manifest.drop(columns="label"), r"lacks the columns \['label'\]"),
        (lambda manifest: manifest.iloc[:0], "lists no files"),
        (lambda manifest: pd.concat([manifest, manifest]), "more than once"),
        (lambda manifest: manifest.head(1).assign(path="/etc/passwd"), "must be relative"),
        (lambda manifest: manifest.head(1).assign(path="../x.wav"), "must be relative"),
    ],
)
def test_load_synthetic_invalid_manifest(tiny_corpus, edit, message):
    edit_manifest(tiny_corpus, edit)
    with pytest.raises(ValueError, match=message):
        load_synthetic(tiny_corpus)
