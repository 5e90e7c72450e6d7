"""Bad and unusual input, end to end: through a recipe Pipeline and the command line.

Every case either gives a correct result or a clear error that names the
offending file or parameter; none may give NaN features or a traceback from
deep inside a library.
"""

import io
import os
import re
import shutil
import tracemalloc

import joblib
import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile

from sklearn_ser import InvalidAudioError
from sklearn_ser._audio import MAX_AMPLITUDE
from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import MFCC, MelSpectrogram
from sklearn_ser.recipes import get_recipe

from .conftest import tone

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SR = 16000
N_FFT = 512
HOP = 160


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    frame = make_synthetic_corpus(root, n_speakers=2, n_words=2, emotions=("angry", "sad"), random_state=0)
    return list(frame["path"]), list(frame["label"])


@pytest.fixture(scope="module")
def model(corpus):
    return get_recipe("svm-mfcc", probability=True, random_state=0).fit(*corpus)


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "svm.joblib"
    joblib.dump(model, path)
    return str(path)


def _write(path, y, sr=SR, **kwargs):
    soundfile.write(path, y, sr, **kwargs)
    return path


def _corrupt_flac_length(path):
    """A FLAC file whose STREAMINFO declares 2**36 - 1 frames (about 50 days at 16 kHz)."""
    _write(path, tone(SR, seconds=0.2))
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC"
    data[21] |= 0x0F  # the top 4 bits of the 36-bit total sample count
    data[22:26] = b"\xff\xff\xff\xff"  # its low 32 bits
    path.write_bytes(bytes(data))
    assert soundfile.info(path).frames == 2**36 - 1


def _with_sample(value, subtype="FLOAT"):
    def make(path):
        y = tone(SR, seconds=0.2).astype(np.float64)
        y[100] = value
        _write(path, y, subtype=subtype)

    return make


def _truncated(keep_bytes):
    def make(path):
        _write(path, tone(SR), subtype="PCM_16")
        path.write_bytes(path.read_bytes()[:keep_bytes])

    return make


def _symlink_loop(path):
    os.symlink(path.with_name("other.wav"), path)
    os.symlink(path, path.with_name("other.wav"))


def _unreadable(path):
    _write(path, tone(SR, seconds=0.2))
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("file permissions do not apply to this user (root)")


def _to_dev_zero(path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    path.symlink_to("/dev/zero")


# name -> (file name, how to make it, exception type, what the message must say)
BAD_FILES = {
    "missing": ("missing.wav", lambda path: None, FileNotFoundError, "not found"),
    "directory": ("folder.wav", lambda path: path.mkdir(), IsADirectoryError, "is a directory"),
    "not audio": ("notes.wav", lambda path: path.write_text("these are not samples\n"), InvalidAudioError, "not audio"),
    "empty": ("empty.wav", lambda path: path.write_bytes(b""), InvalidAudioError, r"is empty \(0 bytes\)"),
    "header only": ("header.wav", _truncated(44), InvalidAudioError, "truncated"),
    "truncated": ("cut.wav", _truncated(5000), InvalidAudioError, "truncated"),
    "corrupt length": ("long_header.flac", _corrupt_flac_length, InvalidAudioError, "corrupt or truncated"),
    "NaN": ("nan.wav", _with_sample(np.nan), InvalidAudioError, "NaN or infinite"),
    "inf": ("inf.wav", _with_sample(-np.inf), InvalidAudioError, "NaN or infinite"),
    "huge float": ("huge.wav", _with_sample(1e30), InvalidAudioError, "magnitude up to 1e\\+30"),
    "huge double": ("huge64.wav", _with_sample(1e20, "DOUBLE"), InvalidAudioError, "magnitude up to 1e\\+20"),
    "non-ASCII name": ("坏的_émotion_😀.wav", lambda path: path.write_bytes(b"RIFF"), InvalidAudioError, "not audio"),
    "named pipe": ("pipe.wav", os.mkfifo, InvalidAudioError, "is a named pipe, not a regular file"),
    "device": ("zero.wav", _to_dev_zero, InvalidAudioError, "is a character device, not a regular file"),
    "symlink loop": ("loop.wav", _symlink_loop, InvalidAudioError, "symbolic link loop"),
    "dangling symlink": ("gone.wav", lambda path: path.symlink_to("missing.wav"), FileNotFoundError, "not found"),
    "unreadable": ("locked.wav", _unreadable, InvalidAudioError, "permission denied"),
}


@pytest.fixture(params=sorted(BAD_FILES))
def bad_file(request, tmp_path):
    name, make, error, reason = BAD_FILES[request.param]
    path = tmp_path / name
    make(path)
    return path, error, reason


def _names_the_file(path, reason):
    return f"'{re.escape(str(path))}'.*{reason}|{reason}.*'{re.escape(str(path))}'"


def test_bad_file_through_a_pipeline(model, corpus, bad_file):
    path, error, reason = bad_file
    paths, labels = corpus
    with pytest.raises(error, match=_names_the_file(path, reason)):
        model.predict([paths[0], path])
    with pytest.raises(error, match=_names_the_file(path, reason)):
        get_recipe("svm-mfcc").fit([*paths, path], [*labels, labels[0]])


def test_bad_file_through_the_cli(model_file, corpus, bad_file, capsys, tmp_path):
    path, _, reason = bad_file
    good = corpus[0][:2]
    out = tmp_path / "predictions.csv"
    assert main(["predict", model_file, good[0], str(path), good[1], "--out", str(out)]) == 1
    captured = capsys.readouterr()
    # A folder is searched for audio files; this one holds none.
    reason = "a directory without audio files" if path.is_dir() else reason
    assert re.search(_names_the_file(path, reason), captured.err), captured.err
    assert "1 failed" in captured.err
    assert list(pd.read_csv(out)["file"]) == good


def test_a_folder_with_bad_files_predicts_every_good_one(model_file, corpus, capsys, tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    shutil.copy(corpus[0][0], folder / "b_good.wav")
    (folder / "a_empty.wav").write_bytes(b"")
    (folder / "c_text.wav").write_bytes(b"no sound in here")
    os.mkfifo(folder / "d_pipe.wav")
    assert main(["predict", model_file, str(folder)]) == 1
    captured = capsys.readouterr()
    table = pd.read_csv(io.StringIO(captured.out))
    assert list(table["file"]) == [str(folder / "b_good.wav")]
    assert table.filter(like="prob_").sum(axis=1).round(6).tolist() == [1.0]
    for name in ("a_empty.wav", "c_text.wav", "d_pipe.wav' is a named pipe"):
        assert re.search(f"skipped: .*{name}", captured.err), captured.err
    assert "1 files predicted, 3 failed" in captured.err


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "Cannot load a model from '{path}' .*EOFError"),
        (b"not a pickle at all", "Cannot load a model from '{path}'"),
        ({"a": 1}, "'{path}' holds a dict, not a fitted model"),
        (None, "Model file not found: '{path}'"),
    ],
    ids=["empty", "not a pickle", "not a model", "missing"],
)
def test_bad_model_file_through_the_cli(tmp_path, corpus, capsys, content, match):
    path = tmp_path / "model.joblib"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        joblib.dump(content, path)
    assert main(["predict", str(path), corpus[0][0]]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sklearn-ser: error: ")
    assert re.search(match.format(path=re.escape(str(path))), err), err


def test_a_folder_as_the_model_is_named(tmp_path, corpus, capsys):
    assert main(["predict", str(tmp_path), corpus[0][0]]) == 1
    assert f"'{tmp_path}' is a directory, not a model file" in capsys.readouterr().err


def _check_proba(model, proba, n):
    assert proba.shape == (n, len(model.classes_)) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("n_samples", [1, 10, 511])
def test_clip_shorter_than_a_window(model, tmp_path, n_samples):
    path = _write(tmp_path / "short.wav", tone(SR, seconds=n_samples / SR), subtype="FLOAT")
    (mfcc,) = MFCC().fit_transform([path])
    # Padded to one window (n_fft = 512 samples), then centred: 1 + 512 // hop frames.
    assert mfcc.shape == (1 + N_FFT // HOP, 40) and mfcc.dtype == np.float32 and np.isfinite(mfcc).all()
    _check_proba(model, model.predict_proba([path]), 1)


def test_silent_file_gives_the_floor_not_minus_infinity(model, tmp_path, capsys, model_file):
    path = _write(tmp_path / "silence.wav", np.zeros(SR // 2, dtype=np.float32), subtype="PCM_16")
    n_frames = 1 + (SR // 2) // HOP
    amin = 1e-10
    (db,) = MelSpectrogram(amin=amin).fit_transform([path])
    (natural,) = MelSpectrogram(log="natural", amin=amin).fit_transform([path])
    (mfcc,) = MFCC(n_mels=64, amin=amin).fit_transform([path])
    assert db.shape == natural.shape == (n_frames, 64) and mfcc.shape == (n_frames, 40)
    np.testing.assert_allclose(db, 10 * np.log10(amin))
    np.testing.assert_allclose(natural, np.log(amin), rtol=1e-6)
    # The orthonormal DCT of a constant: c0 = constant * sqrt(n_mels), the rest 0.
    np.testing.assert_allclose(mfcc[:, 0], 10 * np.log10(amin) * np.sqrt(64), rtol=1e-5)
    np.testing.assert_allclose(mfcc[:, 1:], 0, atol=1e-3)
    _check_proba(model, model.predict_proba([path]), 1)
    assert main(["predict", model_file, str(path)]) == 0
    row = capsys.readouterr().out.splitlines()[1].split(",")
    assert row[0] == str(path) and row[1] in set(model.classes_)


@pytest.mark.parametrize("n_channels", [2, 6])
def test_multichannel_file_equals_its_mono_mix(model, tmp_path, n_channels):
    channels = np.stack([tone(SR, freq=150 * (c + 1), amplitude=0.8 / n_channels) for c in range(n_channels)], axis=1)
    path = _write(tmp_path / f"ch{n_channels}.wav", channels, subtype="FLOAT")
    mix = channels.mean(axis=1, dtype=np.float32)
    (from_file,) = MFCC().fit_transform([path])
    (from_mix,) = MFCC().fit_transform([mix])
    np.testing.assert_allclose(from_file, from_mix, atol=1e-3)
    np.testing.assert_allclose(model.predict_proba([path]), model.predict_proba([mix]), atol=1e-6)


@pytest.mark.parametrize("native_sr", [8000, 11025, 22050, 44100, 48000, 96000])
def test_any_sampling_rate_is_resampled(model, tmp_path, native_sr):
    seconds = 0.8
    path = _write(tmp_path / f"at{native_sr}.wav", tone(native_sr, seconds=seconds, freq=440), native_sr)
    (mel,) = MelSpectrogram(sr=SR, n_mels=128, fmax=4000).fit_transform([path])
    assert mel.shape == (1 + int(seconds * SR) // HOP, 128)
    # The loudest band is the one centred nearest 440 Hz, whatever the file's rate.
    centres = librosa.mel_frequencies(n_mels=128 + 2, fmin=0.0, fmax=4000)[1:-1]
    assert abs(centres[np.argmax(mel[5:-5].mean(axis=0))] - 440) < 40
    _check_proba(model, model.predict_proba([path]), 1)


@pytest.mark.parametrize("name", ["émotion_😀.wav", "情感语音_测试.wav", "голос дрожит.flac"])
def test_non_ascii_file_names(model, model_file, tmp_path, capsys, name):
    y = tone(SR, seconds=0.5, freq=300)
    path = _write(tmp_path / name, y)
    ascii_copy = _write(tmp_path / "plain.flac", y)
    np.testing.assert_array_equal(model.predict_proba([path]), model.predict_proba([ascii_copy]))
    assert main(["predict", model_file, str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{path},")


def test_a_ten_minute_file_in_bounded_memory(model, tmp_path):
    seconds = 600
    y = (0.1 * np.random.default_rng(0).standard_normal(seconds * SR)).astype(np.float32)
    path = _write(tmp_path / "lecture.wav", y, subtype="PCM_16")
    del y
    decoded = seconds * SR * 4  # bytes of the float32 waveform
    mfcc = MFCC()
    mfcc.fit_transform([np.zeros(SR, dtype=np.float32)])  # imports and first-call set-up out of the measure
    tracemalloc.start()
    try:
        (features,) = mfcc.fit_transform([path])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert features.shape == (1 + seconds * SR // HOP, 40) and np.isfinite(features).all()
    # The STFT runs in blocks of frames; what remains is the decoded file, its
    # padded copy and the features: 2.8x measured (8.4x with a whole-file STFT).
    assert peak < 4 * decoded, f"peak {peak / decoded:.1f}x the decoded waveform"
    _check_proba(model, model.predict_proba([path]), 1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e30])
def test_non_finite_or_absurd_waveform(model, bad):
    y = tone(SR, seconds=0.2).astype(np.float64)
    y[10] = bad
    with pytest.raises(InvalidAudioError, match=r"X\[1\] holds (NaN or infinite|samples of magnitude)"):
        model.predict([tone(SR, seconds=0.2), y])


def test_waveform_at_the_amplitude_limit_gives_finite_features(model):
    y = tone(SR, seconds=0.2) * np.float32(MAX_AMPLITUDE)
    (mel,) = MelSpectrogram().fit_transform([y])
    (mfcc,) = MFCC().fit_transform([y])
    assert np.isfinite(mel).all() and np.isfinite(mfcc).all()
    _check_proba(model, model.predict_proba([y]), 1)


@pytest.mark.parametrize(
    "X, error, match",
    [
        ("clip.wav", ValueError, "got a single path 'clip.wav'; wrap it in a list"),
        ([], ValueError, "X is empty"),
        (np.zeros(SR), ValueError, "one waveform. Reshape your data"),
        ([np.zeros(100, dtype=np.int16)], InvalidAudioError, r"X\[0\] has dtype int16"),
    ],
    ids=["bare string", "empty", "one waveform", "integer waveform"],
)
@pytest.mark.parametrize("method", ["fit", "predict"])
def test_bad_X_is_named(model, X, error, match, method):
    with pytest.raises(error, match=match):
        if method == "fit":
            get_recipe("svm-mfcc").fit(X, ["angry"] * (len(X) if isinstance(X, list) else 1))
        else:
            model.predict(X)


def _quick(recipe):
    return get_recipe(recipe, max_epochs=1, lstm__hidden_size=8) if recipe.startswith("lstm") else get_recipe(recipe)


@pytest.mark.parametrize("recipe", ["svm-mfcc", "lstm-logmel"])
def test_bad_y(corpus, recipe):
    paths, labels = corpus
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[8, 7\]|X has 8 sequences but y has 7"):
        _quick(recipe).fit(paths, labels[:-1])
    with pytest.raises(ValueError, match="number of classes has to be greater than one|at least two classes"):
        _quick(recipe).fit(paths, ["angry"] * len(paths))


def test_single_class_corpus_through_the_cli(tmp_path, capsys):
    root = tmp_path / "one_emotion"
    make_synthetic_corpus(root, n_speakers=1, n_words=3, emotions=("neutral",), random_state=0)
    out = tmp_path / "model.joblib"
    assert main(["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sklearn-ser: error: ") and "greater than one; got 1 class" in err
    assert not out.exists()


def test_lstm_takes_clips_shorter_than_a_window(corpus, tmp_path):
    paths, labels = corpus
    short = _write(tmp_path / "short.wav", tone(SR, seconds=10 / SR), subtype="FLOAT")
    silent = _write(tmp_path / "silent.wav", np.zeros(SR // 4, dtype=np.float32))
    pipe = get_recipe("lstm-logmel", max_epochs=1, random_state=0, lstm__hidden_size=8)
    pipe.fit([*paths, short, silent], [*labels, "angry", "sad"])
    (mel,) = pipe.named_steps["mel"].transform([short])
    assert mel.shape == (1 + N_FFT // HOP, 64)
    proba = pipe.predict_proba([short, silent, np.full(1, 0.5, dtype=np.float32)])
    _check_proba(pipe, proba, 3)
    assert set(pipe.predict([short])) <= {"angry", "sad"}
