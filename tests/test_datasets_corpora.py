import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sklearn_ser.datasets import (
    EMOTIONS_TESS,
    LOADERS,
    UNIFIED_LABEL_MAPS,
    UNIFIED_LABELS,
    load_corpus,
    load_crema_d,
    load_emodb,
    load_ravdess,
    load_savee,
    load_synthetic,
    load_tess,
    make_synthetic_corpus,
    unify_labels,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "datasets.md"


def write_tree(root, relative_paths, *, sr=16000):
    """Write tiny WAV or FLAC files (other files as text) below ``root``."""
    root = Path(root)
    for relative in relative_paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in {".wav", ".flac"}:
            sf.write(path, np.zeros(100), sr)
        else:
            path.write_text("not audio")
    return root


def check_frame(frame, corpus, columns):
    assert frame.columns.tolist() == ["path", "label", "speaker", "text", "corpus", *columns]
    assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1
    for column in frame.columns:
        values = frame[column].to_numpy()
        assert values.dtype == object, column
        assert all(type(value) is str for value in values), column
    paths = frame["path"].tolist()
    assert paths == sorted(paths)
    assert all(Path(path).is_absolute() and Path(path).is_file() for path in paths)
    assert set(frame["corpus"]) == {corpus}


def rows(frame, columns):
    return [tuple(row) for row in frame[columns].itertuples(index=False)]


# ---------------------------------------------------------------------------
# EMO-DB
# ---------------------------------------------------------------------------

EMODB_FILES = [
    "wav/03a01Fa.wav",
    "wav/08a02Wb.wav",
    "wav/09a04La.wav",
    "wav/10a05Ea.wav",
    "wav/11a07Ac.wav",
    "wav/13b01Ta.wav",
    "wav/16b10Na.wav",
]
EMODB_EXTRAS = ["lablaut/03a01Fa.lab", "silb/03a01Fa.silb", "erklaerung.txt", "wav/._03a01Fa.wav"]
EMODB_COLUMNS = ["gender", "version", "sentence"]


def test_emodb_layout_and_columns(tmp_path):
    write_tree(tmp_path, EMODB_FILES + EMODB_EXTRAS)
    frame = load_emodb(tmp_path)

    check_frame(frame, "emodb", EMODB_COLUMNS)
    assert frame["path"].tolist() == [str(tmp_path / path) for path in EMODB_FILES]
    assert rows(frame, ["label", "speaker", "text", "gender", "version"]) == [
        ("happiness", "03", "a01", "male", "a"),
        ("anger", "08", "a02", "female", "b"),
        ("boredom", "09", "a04", "female", "a"),
        ("disgust", "10", "a05", "male", "a"),
        ("fear", "11", "a07", "male", "c"),
        ("sadness", "13", "b01", "female", "a"),
        ("neutral", "16", "b10", "female", "a"),
    ]
    assert frame.loc[0, "sentence"] == "Der Lappen liegt auf dem Eisschrank."


def test_emodb_root_may_be_the_wav_folder_the_corpus_or_a_parent(tmp_path):
    corpus = write_tree(tmp_path / "downloads" / "emodb", EMODB_FILES + EMODB_EXTRAS)
    expected = load_emodb(corpus)
    for root in [corpus / "wav", tmp_path / "downloads", tmp_path, str(tmp_path)]:
        pd.testing.assert_frame_equal(load_emodb(root), expected)


@pytest.mark.parametrize("name", ["03A01FA.WAV", "03a01fa.wav", "03a01Fa.Wav", "03a01Fa.flac"])
def test_emodb_letter_case(tmp_path, name):
    write_tree(tmp_path, [f"WAV/{name}"])
    frame = load_emodb(tmp_path)
    assert rows(frame, ["label", "speaker", "text", "version"]) == [("happiness", "03", "a01", "a")]


@pytest.mark.parametrize(
    "name, message",
    [
        ("03a01Xa.wav", "emotion code 'X'"),
        ("05a01Fa.wav", "speaker code '05'"),
        ("03a03Fa.wav", "text code 'a03'"),
        ("03c01Fa.wav", "text code 'c01'"),
    ],
)
def test_emodb_impossible_code_names_the_file(tmp_path, name, message):
    write_tree(tmp_path, ["wav/03a01Fa.wav", f"wav/{name}"])
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "wav" / name)) + ".*" + re.escape(message)):
        load_emodb(tmp_path)


def test_emodb_duplicates_raise(tmp_path):
    write_tree(tmp_path, ["copy1/wav/03a01Fa.wav", "copy2/wav/03A01FA.wav"])
    with pytest.raises(ValueError, match="found twice.*copy1.*copy2.*single copy"):
        load_emodb(tmp_path)


def test_emodb_search_depth_is_limited(tmp_path):
    write_tree(tmp_path, ["a/b/c/d/e/wav/03a01Fa.wav"])
    with pytest.raises(ValueError, match="No EMO-DB audio files"):
        load_emodb(tmp_path)
    assert len(load_emodb(tmp_path / "a")) == 1


# ---------------------------------------------------------------------------
# RAVDESS
# ---------------------------------------------------------------------------

RAVDESS_SPEECH = [
    "Actor_01/03-01-01-01-01-01-01.wav",
    "Actor_01/03-01-02-02-02-02-01.wav",
    "Actor_01/03-01-08-02-01-01-01.wav",
    "Actor_12/03-01-05-01-02-01-12.wav",
    "Actor_24/03-01-07-02-01-02-24.wav",
]
RAVDESS_SONG = ["Actor_01/03-02-06-02-01-01-01.wav", "Actor_12/03-02-03-01-02-02-12.wav"]
RAVDESS_VIDEO = [
    "Actor_01/01-01-01-01-01-01-01.wav",
    "Actor_01/02-01-01-01-01-01-01.wav",
    "Actor_01/01-01-01-01-01-01-01.mp4",
    "Actor_12/02-02-03-01-02-02-12.mp4",
]
RAVDESS_MORE = [
    "Actor_02/03-01-03-01-01-01-02.wav",
    "Actor_02/03-01-04-02-02-01-02.wav",
    "Actor_02/03-01-06-01-01-02-02.wav",
]
RAVDESS_COLUMNS = ["gender", "intensity", "repetition", "channel"]


def test_ravdess_speech_by_default(tmp_path):
    write_tree(tmp_path, RAVDESS_SPEECH + RAVDESS_SONG + RAVDESS_VIDEO + ["README.md"])
    frame = load_ravdess(tmp_path)

    check_frame(frame, "ravdess", RAVDESS_COLUMNS)
    assert frame["path"].tolist() == [str(tmp_path / path) for path in RAVDESS_SPEECH]
    kids, dogs = "Kids are talking by the door", "Dogs are sitting by the door"
    assert rows(frame, ["label", "speaker", "text", "gender", "intensity", "repetition", "channel"]) == [
        ("neutral", "01", kids, "male", "normal", "1", "speech"),
        ("calm", "01", dogs, "male", "strong", "2", "speech"),
        ("surprised", "01", kids, "male", "strong", "1", "speech"),
        ("angry", "12", dogs, "female", "normal", "1", "speech"),
        ("disgust", "24", kids, "female", "strong", "2", "speech"),
    ]


def test_ravdess_channel(tmp_path):
    write_tree(tmp_path, RAVDESS_SPEECH + RAVDESS_SONG + RAVDESS_VIDEO)
    song = load_ravdess(tmp_path, channel="song")
    both = load_ravdess(tmp_path, channel="all")

    check_frame(song, "ravdess", RAVDESS_COLUMNS)
    assert rows(song, ["label", "speaker", "channel"]) == [("fearful", "01", "song"), ("happy", "12", "song")]
    assert both["path"].tolist() == sorted(str(tmp_path / path) for path in RAVDESS_SPEECH + RAVDESS_SONG)
    with pytest.raises(ValueError, match="channel must be one of.*'speak'"):
        load_ravdess(tmp_path, channel="speak")


def test_ravdess_only_other_files_raise(tmp_path):
    write_tree(tmp_path, RAVDESS_SONG + RAVDESS_VIDEO)
    with pytest.raises(ValueError, match=r"No RAVDESS audio-only speech files found.*skipped 4"):
        load_ravdess(tmp_path)


def test_ravdess_root_and_case(tmp_path):
    kaggle = tmp_path / "ravdess-emotional-speech-audio" / "audio_speech_actors_01-24"
    write_tree(kaggle, RAVDESS_SPEECH)
    expected = load_ravdess(kaggle)
    for root in [tmp_path, tmp_path / "ravdess-emotional-speech-audio"]:
        pd.testing.assert_frame_equal(load_ravdess(root), expected)
    assert len(load_ravdess(kaggle / "Actor_01")) == 3

    write_tree(tmp_path / "upper", ["ACTOR_05/03-01-04-02-01-01-05.WAV", "actor_06/03-01-06-01-02-02-06.Wav"])
    frame = load_ravdess(tmp_path / "upper")
    assert rows(frame, ["label", "speaker", "gender"]) == [("sad", "05", "male"), ("fearful", "06", "female")]


def test_ravdess_both_kaggle_copies_raise(tmp_path):
    write_tree(tmp_path, [RAVDESS_SPEECH[0], "audio_speech_actors_01-24/" + RAVDESS_SPEECH[0]])
    with pytest.raises(ValueError, match="RAVDESS recording .* found twice"):
        load_ravdess(tmp_path)


@pytest.mark.parametrize(
    "name, message",
    [
        ("04-01-01-01-01-01-01", "modality code '04'"),
        ("03-03-01-01-01-01-01", "vocal channel code '03'"),
        ("03-01-09-01-01-01-01", "emotion code '09'"),
        ("03-01-00-01-01-01-01", "emotion code '00'"),
        ("03-01-02-03-01-01-01", "intensity code '03'"),
        ("03-01-01-02-01-01-01", "intensity code '02'.*neutral"),
        ("03-01-02-01-03-01-01", "statement code '03'"),
        ("03-01-02-01-01-03-01", "repetition code '03'"),
        ("03-01-02-01-01-01-25", "actor code '25'"),
        ("03-01-02-01-01-01-00", "actor code '00'"),
        ("03-02-07-01-01-01-01", "emotion code '07'.*song"),
        ("03-02-08-01-01-01-01", "emotion code '08'.*song"),
        ("01-01-09-01-01-01-01", "emotion code '09'"),
    ],
)
def test_ravdess_impossible_code_names_the_file(tmp_path, name, message):
    write_tree(tmp_path, [RAVDESS_SPEECH[0], f"Actor_01/{name}.wav"])
    with pytest.raises(ValueError, match=re.escape(f"{name}.wav") + ".*" + message):
        load_ravdess(tmp_path, channel="all")


def test_ravdess_file_in_the_folder_of_another_actor_raises(tmp_path):
    write_tree(tmp_path, ["Actor_02/03-01-01-01-01-01-01.wav"])
    with pytest.raises(ValueError, match=r"03-01-01-01-01-01-01\.wav.*actor 01.*'Actor_02'"):
        load_ravdess(tmp_path)


# ---------------------------------------------------------------------------
# SAVEE
# ---------------------------------------------------------------------------

SAVEE_NESTED = ["AudioData/DC/a01.wav", "AudioData/JE/sa02.wav", "AudioData/JK/su15.wav", "AudioData/KL/n30.wav"]
SAVEE_FLAT = ["ALL/DC_a01.wav", "ALL/JE_sa02.wav", "ALL/JK_su15.wav", "ALL/KL_n30.wav"]
SAVEE_MORE = ["AudioData/DC/d03.wav", "AudioData/DC/f04.wav", "AudioData/DC/h05.wav", "AudioData/DC/Info.txt"]


@pytest.mark.parametrize("layout", [SAVEE_NESTED, SAVEE_FLAT], ids=["nested", "flat"])
def test_savee_layouts(tmp_path, layout):
    write_tree(tmp_path, layout)
    frame = load_savee(tmp_path)

    check_frame(frame, "savee", ["gender"])
    assert frame["path"].tolist() == [str(tmp_path / path) for path in layout]
    assert rows(frame, ["label", "speaker", "text", "gender"]) == [
        ("anger", "DC", "a01", "male"),
        ("sadness", "JE", "sa02", "male"),
        ("surprise", "JK", "su15", "male"),
        ("neutral", "KL", "n30", "male"),
    ]


def test_savee_all_emotions_root_and_case(tmp_path):
    corpus = write_tree(tmp_path / "savee", SAVEE_NESTED + SAVEE_MORE)
    frame = load_savee(corpus)
    assert sorted(frame["label"]) == ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    for root in [tmp_path, corpus / "AudioData"]:
        pd.testing.assert_frame_equal(load_savee(root), frame)
    dc = load_savee(corpus / "AudioData" / "DC")
    assert dc["text"].tolist() == ["a01", "d03", "f04", "h05"]

    write_tree(tmp_path / "case", ["dc/A01.WAV", "all/je_SA02.wav", "Flat/Kl_Su03.Wav"])
    frame = load_savee(tmp_path / "case")
    assert rows(frame, ["label", "speaker", "text"]) == [
        ("surprise", "KL", "su03"),
        ("sadness", "JE", "sa02"),
        ("anger", "DC", "a01"),
    ]


@pytest.mark.parametrize(
    "relative, message",
    [
        ("DC/x01.wav", "emotion code 'x'"),
        ("ALL/DC_zz01.wav", "emotion code 'zz'"),
        ("DC/s01.wav", "emotion code 's'"),
        ("DC/a16.wav", "sentence number '16'; expected 01 to 15"),
        ("DC/a00.wav", "sentence number '00'"),
        ("KL/n31.wav", "sentence number '31'; expected 01 to 30"),
    ],
)
def test_savee_impossible_code_names_the_file(tmp_path, relative, message):
    write_tree(tmp_path, ["DC/a01.wav", relative])
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / relative)) + ".*" + re.escape(message)):
        load_savee(tmp_path)


def test_savee_other_names_are_skipped(tmp_path):
    write_tree(tmp_path, ["other/a01.wav", "DC/readme.wav", "ALL/XY_a01.wav", "DC/a1.wav"])
    with pytest.raises(ValueError, match="No SAVEE audio files found"):
        load_savee(tmp_path)


def test_savee_file_in_the_folder_of_another_speaker_raises(tmp_path):
    write_tree(tmp_path, ["DC/JE_a01.wav"])
    with pytest.raises(ValueError, match=r"JE_a01\.wav.*speaker JE.*'DC'"):
        load_savee(tmp_path)


def test_savee_both_layouts_at_once_raise(tmp_path):
    write_tree(tmp_path, SAVEE_NESTED + SAVEE_FLAT)
    with pytest.raises(ValueError, match="SAVEE recording .* found twice"):
        load_savee(tmp_path)


# ---------------------------------------------------------------------------
# CREMA-D
# ---------------------------------------------------------------------------

CREMA_D_FILES = [
    "AudioWAV/1001_DFA_ANG_XX.wav",
    "AudioWAV/1001_IEO_DIS_LO.wav",
    "AudioWAV/1040_ITH_SAD_X.wav",
    "AudioWAV/1050_IEO_FEA_MD.wav",
    "AudioWAV/1091_IEO_HAP_HI.wav",
    "AudioWAV/1091_WSI_NEU_XX.wav",
]


def test_crema_d_layout_and_columns(tmp_path):
    write_tree(tmp_path, CREMA_D_FILES + ["AudioMP3/1001_DFA_ANG_XX.mp3", "VideoFlash/1001_DFA_ANG_XX.flv"])
    frame = load_crema_d(tmp_path)

    check_frame(frame, "crema-d", ["intensity", "sentence"])
    assert "gender" not in frame
    assert frame["path"].tolist() == [str(tmp_path / path) for path in CREMA_D_FILES]
    assert rows(frame, ["label", "speaker", "text", "intensity", "sentence"]) == [
        ("anger", "1001", "DFA", "unspecified", "Don't forget a jacket"),
        ("disgust", "1001", "IEO", "low", "It's eleven o'clock"),
        ("sad", "1040", "ITH", "unspecified", "I think I have a doctor's appointment"),
        ("fear", "1050", "IEO", "medium", "It's eleven o'clock"),
        ("happy", "1091", "IEO", "high", "It's eleven o'clock"),
        ("neutral", "1091", "WSI", "unspecified", "We'll stop in a couple of minutes"),
    ]


def test_crema_d_root_and_case(tmp_path):
    corpus = write_tree(tmp_path / "CREMA-D", CREMA_D_FILES)
    expected = load_crema_d(corpus)
    for root in [tmp_path, corpus / "AudioWAV"]:
        pd.testing.assert_frame_equal(load_crema_d(root), expected)

    write_tree(tmp_path / "case", ["audiowav/1001_dfa_ang_xx.WAV", "audiowav/1002_Tsi_Hap_Hi.wav"])
    frame = load_crema_d(tmp_path / "case")
    assert rows(frame, ["label", "speaker", "text", "intensity"]) == [
        ("anger", "1001", "DFA", "unspecified"),
        ("happy", "1002", "TSI", "high"),
    ]


@pytest.mark.parametrize(
    "name, message",
    [
        ("1000_DFA_ANG_XX", "actor code '1000'"),
        ("1092_DFA_ANG_XX", "actor code '1092'"),
        ("1001_ABC_ANG_XX", "sentence code 'ABC'"),
        ("1001_DFA_SUR_XX", "emotion code 'SUR'"),
        ("1001_DFA_ANG_ZZ", "emotion level code 'ZZ'"),
        ("1001_DFA_ANG_Y", "emotion level code 'Y'"),
    ],
)
def test_crema_d_impossible_code_names_the_file(tmp_path, name, message):
    write_tree(tmp_path, [CREMA_D_FILES[0], f"AudioWAV/{name}.wav"])
    with pytest.raises(ValueError, match=re.escape(f"{name}.wav") + ".*" + re.escape(message)):
        load_crema_d(tmp_path)


def test_crema_d_misspelled_level_is_a_duplicate_of_the_fixed_name(tmp_path):
    write_tree(tmp_path, ["AudioWAV/1040_ITH_SAD_X.wav", "AudioWAV/1040_ITH_SAD_XX.wav"])
    with pytest.raises(ValueError, match="CREMA-D recording .* found twice"):
        load_crema_d(tmp_path)


# ---------------------------------------------------------------------------
# All loaders
# ---------------------------------------------------------------------------

TESS_FILES = [f"OAF_{label}/OAF_bar_{label}.wav" for label in EMOTIONS_TESS if label != "ps"] + [
    "YAF_pleasant_surprised/YAF_bar_ps.wav"
]

CORPORA = {
    "tess": (load_tess, TESS_FILES),
    "emodb": (load_emodb, EMODB_FILES),
    "ravdess": (load_ravdess, RAVDESS_SPEECH + RAVDESS_MORE),
    "savee": (load_savee, SAVEE_NESTED + SAVEE_MORE),
    "crema-d": (load_crema_d, CREMA_D_FILES),
}

EXPECTED_UNIFIED = {
    "tess": {
        "angry": "anger",
        "disgust": "disgust",
        "fear": "fear",
        "happy": "happiness",
        "neutral": "neutral",
        "ps": "surprise",
        "sad": "sadness",
    },
    "emodb": {
        "anger": "anger",
        "boredom": "boredom",
        "disgust": "disgust",
        "fear": "fear",
        "happiness": "happiness",
        "neutral": "neutral",
        "sadness": "sadness",
    },
    "ravdess": {
        "angry": "anger",
        "calm": "calm",
        "disgust": "disgust",
        "fearful": "fear",
        "happy": "happiness",
        "neutral": "neutral",
        "sad": "sadness",
        "surprised": "surprise",
    },
    "savee": {
        "anger": "anger",
        "disgust": "disgust",
        "fear": "fear",
        "happiness": "happiness",
        "neutral": "neutral",
        "sadness": "sadness",
        "surprise": "surprise",
    },
    "crema-d": {
        "anger": "anger",
        "disgust": "disgust",
        "fear": "fear",
        "happy": "happiness",
        "neutral": "neutral",
        "sad": "sadness",
    },
}


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    make_synthetic_corpus(root, n_speakers=1, n_words=1, sr=8000)
    return root


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_unified_labels(tmp_path, corpus):
    loader, files = CORPORA[corpus]
    write_tree(tmp_path, files)
    original = loader(tmp_path)
    unified = loader(tmp_path, labels="unified")

    columns = original.columns.tolist()
    assert unified.columns.tolist() == [*columns[:5], "original_label", *columns[5:]]
    check_frame(unified, corpus, unified.columns[5:])
    assert unified["original_label"].tolist() == original["label"].tolist()
    expected = [EXPECTED_UNIFIED[corpus][label] for label in original["label"]]
    assert unified["label"].tolist() == expected
    assert set(unified["label"]) <= set(UNIFIED_LABELS)
    pd.testing.assert_frame_equal(unified.drop(columns=["label", "original_label"]), original.drop(columns="label"))


def test_every_original_label_is_covered(tmp_path):
    # The test trees hold every label of every corpus.
    for corpus, (loader, files) in CORPORA.items():
        write_tree(tmp_path / corpus, files)
        assert set(loader(tmp_path / corpus)["label"]) == set(EXPECTED_UNIFIED[corpus]), corpus
    assert set(UNIFIED_LABEL_MAPS) == {*EXPECTED_UNIFIED, "synthetic"}
    for corpus, expected in EXPECTED_UNIFIED.items():
        assert dict(UNIFIED_LABEL_MAPS[corpus]) == expected
        for label, unified in expected.items():
            assert UNIFIED_LABEL_MAPS["synthetic"][label] == unified
    used = {unified for mapping in UNIFIED_LABEL_MAPS.values() for unified in mapping.values()}
    assert used == set(UNIFIED_LABELS) and list(UNIFIED_LABELS) == sorted(UNIFIED_LABELS)


def test_unified_labels_of_the_synthetic_corpus(synthetic_root):
    original = load_synthetic(synthetic_root)
    unified = load_synthetic(synthetic_root, labels="unified")

    assert sorted(original["label"]) == sorted(EMOTIONS_TESS)
    assert unified.columns.tolist() == ["path", "label", "speaker", "text", "corpus", "original_label", "gender"]
    check_frame(unified, "synthetic", ["original_label", "gender"])
    assert unified["label"].tolist() == [EXPECTED_UNIFIED["tess"][label] for label in original["label"]]
    assert unified["original_label"].tolist() == original["label"].tolist()
    pd.testing.assert_frame_equal(load_corpus(f"synthetic:{synthetic_root}", labels="unified"), unified)


def test_synthetic_emotion_without_unified_label_raises(tmp_path):
    make_synthetic_corpus(tmp_path, n_speakers=1, n_words=1, emotions=("calm", "smug"), sr=8000)
    assert sorted(load_synthetic(tmp_path)["label"]) == ["calm", "smug"]
    with pytest.raises(ValueError, match=r"synthetic label 'smug' of '.*smug\.wav' has no unified label"):
        load_synthetic(tmp_path, labels="unified")


def test_unify_labels_of_mixed_frames(tmp_path):
    write_tree(tmp_path / "tess", TESS_FILES)
    write_tree(tmp_path / "ravdess", RAVDESS_SPEECH)
    mixed = pd.concat([load_tess(tmp_path / "tess"), load_ravdess(tmp_path / "ravdess")], ignore_index=True)
    unified = unify_labels(mixed)

    assert unified["original_label"].tolist() == mixed["label"].tolist()
    assert unified.loc[unified["original_label"] == "ps", "label"].tolist() == ["surprise"]
    assert unified.loc[unified["original_label"] == "surprised", "label"].tolist() == ["surprise"]
    assert unified["label"].to_numpy().dtype == object
    pd.testing.assert_frame_equal(unify_labels(unified), unified)
    assert "original_label" not in mixed


def test_unify_labels_errors():
    with pytest.raises(ValueError, match="missing.*'corpus'"):
        unify_labels(pd.DataFrame({"label": ["sad"]}))
    with pytest.raises(ValueError, match="No unified labels for corpus 'iemocap'"):
        unify_labels(pd.DataFrame({"label": ["sad"], "corpus": ["iemocap"]}))
    frame = pd.DataFrame({"path": ["/x/a.wav"], "label": ["smug"], "corpus": ["tess"]})
    with pytest.raises(ValueError, match=r"tess label 'smug' of '/x/a.wav' has no unified label"):
        unify_labels(frame)


@pytest.mark.parametrize("loader", [load_tess, load_emodb, load_ravdess, load_savee, load_crema_d, load_synthetic])
@pytest.mark.parametrize("labels", ["Unified", "both", None, ["unified"]])
def test_invalid_labels_raise_before_reading(tmp_path, loader, labels):
    with pytest.raises(ValueError, match="labels must be 'original' or 'unified'"):
        loader(tmp_path / "missing", labels=labels)


@pytest.mark.parametrize("loader", [load_emodb, load_ravdess, load_savee, load_crema_d])
def test_root_errors(tmp_path, loader):
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        loader(tmp_path / "no_such_folder")
    with pytest.raises(ValueError, match=re.escape(f"found in '{tmp_path}'")):
        loader(tmp_path)
    write_tree(tmp_path, ["notes/readme.txt", "other/speech.wav", ".hidden/03a01Fa.wav"])
    with pytest.raises(ValueError, match="No .* audio.* files found"):
        loader(tmp_path)
    with pytest.raises(NotADirectoryError, match="speech.wav"):
        loader(tmp_path / "other" / "speech.wav")


def test_each_loader_picks_its_own_corpus_from_a_shared_folder(tmp_path):
    for corpus, (_, files) in CORPORA.items():
        write_tree(tmp_path / corpus, files)
    write_tree(tmp_path, ["__MACOSX/emodb/wav/._03a01Fa.wav"])
    for corpus, (loader, files) in CORPORA.items():
        frame = loader(tmp_path)
        expected = sorted(str(tmp_path / corpus / path) for path in files if path.endswith(".wav"))
        assert frame["path"].tolist() == expected, corpus
        pd.testing.assert_frame_equal(load_corpus(f"{corpus}:{tmp_path}"), frame)
        pd.testing.assert_frame_equal(
            load_corpus(f"{corpus}:{tmp_path}", labels="unified"), loader(tmp_path, labels="unified")
        )


def test_registry():
    assert set(LOADERS) == {"tess", "emodb", "ravdess", "savee", "crema-d", "synthetic", "manifest"}
    with pytest.raises(
        ValueError, match=r"KIND one of \['crema-d', 'emodb', 'manifest', 'ravdess', 'savee', 'synthetic', 'tess'\]"
    ):
        load_corpus("iemocap:/data")
    with pytest.raises(ValueError, match="labels must be"):
        load_corpus("emodb:/no/such/folder", labels="english")


def test_docs_table_matches_the_mapping():
    text = DOCS.read_text(encoding="utf-8")
    after_marker = text.split("<!-- unified-labels -->")[1].strip().splitlines()
    lines = []
    for line in after_marker:
        if not line.startswith("|"):
            break
        lines.append(line)
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == ["Corpus", *UNIFIED_LABELS]
    documented = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        corpus = cells[0].strip("`")
        documented[corpus] = {}
        for unified, cell in zip(UNIFIED_LABELS, cells[1:]):
            for original in re.findall(r"`([^`]+)`", cell):
                documented[corpus][original] = unified
    assert documented == EXPECTED_UNIFIED
