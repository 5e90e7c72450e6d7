import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sklearn_ser.datasets import EMOTIONS_TESS, load_tess

from .conftest import TESS_ROOT

FLAC_LAYOUT = [
    "OAF_angry/OAF_bar_angry.flac",
    "OAF_disgust/OAF_bar_disgust.flac",
    "OAF_fear/OAF_bar_fear.flac",
    "OAF_happy/OAF_bar_happy.flac",
    "OAF_neutral/OAF_bar_neutral.flac",
    "OAF_pleasant_surprise/OAF_bar_ps.flac",
    "OAF_sad/OAF_bar_sad.flac",
    "YAF_angry/YAF_dog_angry.flac",
    "YAF_pleasant_surprise/YAF_dog_ps.flac",
    "YAF_sad/YAF_dog_sad.flac",
]

KAGGLE_LAYOUT = [
    "TESS Toronto emotional speech set data/OAF_angry/OAF_back_angry.wav",
    "TESS Toronto emotional speech set data/OAF_disgust/OAF_back_disgust.wav",
    "TESS Toronto emotional speech set data/OAF_Fear/OAF_back_fear.wav",
    "TESS Toronto emotional speech set data/OAF_happy/OAF_back_happy.wav",
    "TESS Toronto emotional speech set data/OAF_neutral/OAF_back_neutral.wav",
    "TESS Toronto emotional speech set data/OAF_Pleasant_surprise/OAF_back_ps.wav",
    "TESS Toronto emotional speech set data/OAF_Sad/OAF_back_sad.wav",
    "TESS Toronto emotional speech set data/YAF_fear/YAF_back_fear.wav",
    "TESS Toronto emotional speech set data/YAF_pleasant_surprised/YAF_back_ps.wav",
]


def write_tree(root, relative_paths, *, sr=24414):
    """Write tiny silent audio files (or empty other files) below ``root``."""
    for relative in relative_paths:
        path = Path(root) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in {".wav", ".flac"}:
            sf.write(path, np.zeros(64), sr)
        else:
            path.write_text("not audio")
    return Path(root)


def check_frame_contract(frame, corpus):
    assert list(frame.columns[:5]) == ["path", "label", "speaker", "text", "corpus"]
    assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0
    for column in ["path", "label", "speaker", "text", "corpus"]:
        values = frame[column].to_numpy()
        assert values.dtype == object, column
        assert all(type(value) is str for value in values), column
    paths = frame["path"].tolist()
    assert paths == sorted(paths)
    assert all(Path(path).is_absolute() and Path(path).is_file() for path in paths)
    assert set(frame["corpus"]) == {corpus}


def test_flac_copy_layout(tmp_path):
    write_tree(tmp_path, [*FLAC_LAYOUT, "README.md"])
    frame = load_tess(tmp_path)

    check_frame_contract(frame, "tess")
    assert len(frame) == len(FLAC_LAYOUT)
    assert frame["path"].tolist() == sorted(str(tmp_path / path) for path in FLAC_LAYOUT)
    assert set(frame["label"]) == set(EMOTIONS_TESS)
    ps = frame[frame["label"] == "ps"]
    assert ps[["speaker", "text"]].values.tolist() == [["OAF", "bar"], ["YAF", "dog"]]
    assert set(frame.loc[frame["speaker"] == "YAF", "text"]) == {"dog"}


def test_kaggle_layout(tmp_path):
    write_tree(tmp_path, KAGGLE_LAYOUT)
    frame = load_tess(tmp_path)

    check_frame_contract(frame, "tess")
    assert len(frame) == len(KAGGLE_LAYOUT)
    assert set(frame["label"]) == set(EMOTIONS_TESS)
    assert set(frame["text"]) == {"back"}
    counts = frame.groupby(["speaker", "label"]).size()
    assert counts[("OAF", "ps")] == 1 and counts[("YAF", "ps")] == 1
    assert counts[("OAF", "fear")] == 1 and counts[("YAF", "fear")] == 1


@pytest.mark.parametrize(
    "relative, speaker, label, text",
    [
        ("OAF_angry/OAF_bar_angry.wav", "OAF", "angry", "bar"),
        ("oaf_ANGRY/OAF_Bar_Angry.WAV", "OAF", "angry", "bar"),
        ("YAF_Fear/YAF_bar_fear.FLAC", "YAF", "fear", "bar"),
        ("YAF_pleasant_surprised/YAF_bar_ps.wav", "YAF", "ps", "bar"),
        ("OAF_Pleasant_surprise/OAF_bar_ps.wav", "OAF", "ps", "bar"),
        ("YAF_pleasant_surprise/YAF_bar_pleasant_surprise.wav", "YAF", "ps", "bar"),
        ("OAF_neutral/OA_bite_neutral.wav", "OAF", "neutral", "bite"),
    ],
)
def test_spellings(tmp_path, relative, speaker, label, text):
    write_tree(tmp_path, [relative])
    frame = load_tess(tmp_path)
    assert frame[["speaker", "label", "text"]].values.tolist() == [[speaker, label, text]]
    assert frame.loc[0, "path"] == str(tmp_path / relative)


def test_root_may_be_the_corpus_folder_or_a_parent(tmp_path):
    corpus = write_tree(tmp_path / "downloads" / "tess", KAGGLE_LAYOUT)
    from_corpus = load_tess(corpus)
    from_inner_folder = load_tess(corpus / "TESS Toronto emotional speech set data")
    from_parent = load_tess(tmp_path)
    from_str = load_tess(str(tmp_path))

    pd.testing.assert_frame_equal(from_corpus, from_parent)
    pd.testing.assert_frame_equal(from_corpus, from_inner_folder)
    pd.testing.assert_frame_equal(from_corpus, from_str)


def test_root_may_be_an_emotion_folder(tmp_path):
    write_tree(tmp_path, FLAC_LAYOUT)
    frame = load_tess(tmp_path / "OAF_angry")
    assert frame[["speaker", "label", "text"]].values.tolist() == [["OAF", "angry", "bar"]]


def test_search_depth_is_limited(tmp_path):
    deep = "a/b/c/d/e/f/OAF_angry/OAF_bar_angry.wav"
    write_tree(tmp_path, [deep])
    with pytest.raises(ValueError, match="No TESS audio files"):
        load_tess(tmp_path)
    assert len(load_tess(tmp_path / "a" / "b")) == 1


def test_hidden_and_other_files_are_skipped(tmp_path):
    write_tree(
        tmp_path,
        [
            "OAF_angry/OAF_bar_angry.wav",
            "OAF_angry/._OAF_bar_angry.wav",
            "OAF_angry/notes.txt",
            "OAF_angry/OAF_bar_angry.mp3",
            "__MACOSX/OAF_angry/._OAF_bar_angry.wav",
            ".trash/OAF_angry/OAF_dog_angry.wav",
        ],
    )
    frame = load_tess(tmp_path)
    assert frame["path"].tolist() == [str(tmp_path / "OAF_angry" / "OAF_bar_angry.wav")]


def test_mismatched_emotion_raises(tmp_path):
    write_tree(tmp_path, ["OAF_angry/OAF_bar_angry.wav", "OAF_angry/OAF_dog_sad.wav"])
    with pytest.raises(ValueError, match=r"OAF_dog_sad\.wav.*'sad'.*'angry'"):
        load_tess(tmp_path)


def test_unparsable_file_name_raises(tmp_path):
    write_tree(tmp_path, ["YAF_sad/bar.wav"])
    with pytest.raises(ValueError, match=r"Cannot parse.*bar\.wav"):
        load_tess(tmp_path)


def test_duplicate_recordings_raise(tmp_path):
    copies = ["copy1/OAF_angry/OAF_bar_angry.wav", "copy2/OAF_Angry/OAF_bar_angry.wav"]
    write_tree(tmp_path, copies)
    with pytest.raises(ValueError, match="found twice.*copy1.*copy2"):
        load_tess(tmp_path)


def test_root_without_tess_files_raises(tmp_path):
    write_tree(tmp_path, ["speech/a_bar_angry.wav", "OAF_angry/readme.txt"])
    with pytest.raises(ValueError, match=re.escape(f"No TESS audio files found in '{tmp_path}'")):
        load_tess(tmp_path)


def test_empty_root_raises(tmp_path):
    with pytest.raises(ValueError, match=re.escape(str(tmp_path))):
        load_tess(tmp_path)


def test_missing_root_raises(tmp_path):
    missing = tmp_path / "no_such_folder"
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        load_tess(missing)


def test_root_that_is_a_file_raises(tmp_path):
    write_tree(tmp_path, ["OAF_angry/OAF_bar_angry.wav"])
    with pytest.raises(NotADirectoryError, match="OAF_bar_angry.wav"):
        load_tess(tmp_path / "OAF_angry" / "OAF_bar_angry.wav")


@pytest.mark.skipif(not TESS_ROOT.is_dir(), reason=f"TESS not found at {TESS_ROOT}")
def test_real_tess_corpus():
    frame = load_tess(TESS_ROOT)

    check_frame_contract(frame, "tess")
    assert len(frame) == 2798
    assert sorted(frame["label"].unique()) == list(EMOTIONS_TESS)
    assert sorted(frame["speaker"].unique()) == ["OAF", "YAF"]
    assert frame["text"].nunique() == 200
    assert frame["text"].str.fullmatch("[a-z]+").all()

    counts = frame.groupby(["speaker", "label"]).size()
    assert len(counts) == 14
    incomplete = {("OAF", "angry"), ("YAF", "sad")}
    for cell, count in counts.items():
        assert count == (199 if cell in incomplete else 200), cell

    misspelled = frame[frame["path"].str.endswith("OA_bite_neutral.flac")]
    assert misspelled[["speaker", "label", "text"]].values.tolist() == [["OAF", "neutral", "bite"]]

    food_fear = frame[(frame["speaker"] == "OAF") & (frame["text"] == "food")]
    food_fear = food_fear[food_fear["label"] == "fear"]["path"].item()
    assert sf.info(food_fear).samplerate == 96000
    assert sf.info(frame["path"].iloc[0]).samplerate == 24414
