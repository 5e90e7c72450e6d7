import errno
import os
import re
import socket
import threading

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile

from sklearn_ser import InvalidAudioError, load_audio
from sklearn_ser._audio import _resample, check_audio_input

from .conftest import tone


@pytest.mark.parametrize("suffix, subtype", [(".wav", "PCM_16"), (".flac", "PCM_16"), (".ogg", "VORBIS")])
def test_formats_decode_like_librosa(write_audio, suffix, subtype):
    path = write_audio(f"clip{suffix}", tone(24414), sr=24414, subtype=subtype)
    expected, _ = librosa.load(path, sr=16000)
    y = load_audio(path, sr=16000)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("native_sr", [8000, 11025, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize("seconds", [0.5, 0.3001])
def test_resampling_equals_librosa_sample_for_sample(write_audio, native_sr, seconds):
    path = write_audio("clip.wav", tone(native_sr, seconds=seconds), sr=native_sr, subtype="FLOAT")
    expected, _ = librosa.load(path, sr=16000)
    np.testing.assert_array_equal(load_audio(path, sr=16000), expected)


@pytest.mark.parametrize("native_sr", [8000, 11025, 24414, 44100, 48000, 96000])
@pytest.mark.parametrize("n_samples", [1, 7, 100, 30001])
def test_resample_gives_librosas_length_and_samples(native_sr, n_samples):
    # soxr often returns one sample fewer than ceil(n * 16000 / native_sr),
    # and none at all for one sample at 44.1 kHz; librosa pads with zeros.
    y = np.random.default_rng(n_samples).uniform(-0.5, 0.5, n_samples).astype(np.float32)
    expected = librosa.resample(y, orig_sr=native_sr, target_sr=16000, res_type="soxr_hq")
    resampled = _resample(y, native_sr, 16000)
    assert resampled.dtype == np.float32
    np.testing.assert_array_equal(resampled, expected)


def test_mp3_where_libsndfile_supports_it(write_audio):
    if "MP3" not in soundfile.available_formats():
        pytest.skip("this libsndfile has no MP3 support")
    path = write_audio("clip.mp3", tone(16000), format="MP3")
    y = load_audio(path, sr=16000)
    assert abs(len(y) - 16000) < 2000
    assert 0.2 < np.abs(y).max() <= 1.0


def test_stereo_is_averaged_to_mono(write_audio):
    left, right = tone(16000, freq=440), tone(16000, freq=880, amplitude=0.2)
    path = write_audio("stereo.wav", np.stack([left, right], axis=1), subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, sr=16000), (left + right) / 2, atol=1e-7)


def test_multichannel_is_averaged(write_audio):
    channels = np.stack([tone(16000, freq=f, amplitude=0.1) for f in (200, 300, 400, 500, 600, 700)], axis=1)
    path = write_audio("six.wav", channels, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, sr=16000), channels.mean(axis=1), atol=1e-7)


@pytest.mark.parametrize("native_sr", [8000, 22050, 44100, 96000])
def test_resamples_to_requested_rate(write_audio, native_sr):
    path = write_audio("clip.wav", tone(native_sr, seconds=0.5), sr=native_sr)
    y = load_audio(path, sr=16000)
    assert len(y) == 8000
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * 16000 / len(y) == pytest.approx(440, abs=3)


def test_non_ascii_file_name(write_audio):
    path = write_audio("émotion_😀_говорит.wav", tone(16000))
    assert len(load_audio(path, sr=16000)) == 16000


def test_silent_file_is_valid(write_audio):
    path = write_audio("silence.wav", np.zeros(8000, dtype=np.float32))
    y = load_audio(path, sr=16000)
    assert len(y) == 8000 and not y.any()


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found: '.*nowhere.wav'"):
        load_audio(tmp_path / "nowhere.wav", sr=16000)


def test_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_audio(tmp_path, sr=16000)


def test_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not samples")
    with pytest.raises(InvalidAudioError, match="notes.wav.*not audio"):
        load_audio(path, sr=16000)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(InvalidAudioError, match="empty.wav"):
        load_audio(path, sr=16000)


def test_zero_samples(write_audio):
    path = write_audio("nothing.wav", np.zeros(0, dtype=np.float32))
    with pytest.raises(InvalidAudioError, match="nothing.wav' has no samples"):
        load_audio(path, sr=16000)


@pytest.mark.parametrize("keep_bytes", [60, 100, 20000])
def test_truncated_wav(write_audio, tmp_path, keep_bytes):
    full = write_audio("full.wav", tone(16000), subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(full.read_bytes()[:keep_bytes])
    with pytest.raises(InvalidAudioError, match="truncated.wav"):
        load_audio(truncated, sr=16000)


def test_truncated_flac(write_audio, tmp_path):
    full = write_audio("full.flac", tone(16000))
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(full.read_bytes()[:-100])
    with pytest.raises(InvalidAudioError, match="truncated.flac"):
        load_audio(truncated, sr=16000)


def test_wav_with_trailing_chunk_is_not_truncated(write_audio, tmp_path):
    path = write_audio("tagged.wav", tone(16000), subtype="PCM_16")
    with open(path, "ab") as fh:
        fh.write(b"LIST\x04\x00\x00\x00INFO")
    assert len(load_audio(path, sr=16000)) == 16000


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(write_audio, bad):
    y = tone(16000)
    y[100] = bad
    path = write_audio("bad.wav", y, subtype="FLOAT")
    with pytest.raises(InvalidAudioError, match="bad.wav' holds NaN or infinite"):
        load_audio(path, sr=16000)


@pytest.mark.parametrize("sr", [0, -16000, 16000.5, "16000", None, True])
def test_invalid_sr(write_audio, sr):
    path = write_audio("clip.wav", tone(16000))
    with pytest.raises(ValueError, match="sr must be a positive integer"):
        load_audio(path, sr=sr)


def test_input_paths_in_every_container(tmp_path):
    paths = [str(tmp_path / "a.wav"), tmp_path / "b.wav"]
    expected = [str(p) for p in paths]
    assert check_audio_input(paths) == expected
    assert check_audio_input(tuple(paths)) == expected
    assert check_audio_input(np.asarray(expected, dtype=object)) == expected
    assert check_audio_input(np.asarray(expected)) == expected
    assert check_audio_input(np.asarray(expected, dtype=object).reshape(-1, 1)) == expected
    assert check_audio_input(pd.Series(expected)) == expected
    assert check_audio_input(pd.Series(expected, dtype="string")) == expected


def test_input_waveforms():
    rng = np.random.default_rng(0)
    ragged = [rng.standard_normal(100), rng.standard_normal(50).astype(np.float32)]
    sources = check_audio_input(ragged)
    assert [s.dtype for s in sources] == [np.float32, np.float32]
    assert [len(s) for s in sources] == [100, 50]
    rows = check_audio_input(rng.standard_normal((3, 40)))
    assert len(rows) == 3 and rows[0].shape == (40,)


@pytest.mark.parametrize("single", ["clip.wav", b"clip.wav"])
def test_bare_string_is_rejected(single):
    with pytest.raises(ValueError, match="got a single path 'clip.wav'"):
        check_audio_input(single)


def test_bare_pathlike_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="single path"):
        check_audio_input(tmp_path / "clip.wav")


@pytest.mark.parametrize(
    "X, error, match",
    [
        ([], ValueError, "X is empty"),
        (np.zeros(16000), ValueError, "one waveform. Reshape your data"),
        ([np.zeros(100, dtype=np.int16)], InvalidAudioError, r"X\[0\] has dtype int16"),
        ([np.zeros((2, 100))], InvalidAudioError, r"X\[0\] must be a 1-D mono waveform"),
        ([np.zeros(10), np.zeros(0)], InvalidAudioError, r"X\[1\] has no samples"),
        ([np.array([0.0, np.nan])], InvalidAudioError, r"X\[0\] holds NaN"),
        ([np.array([0.0, np.inf])], InvalidAudioError, r"X\[0\] holds NaN"),
        ([np.zeros(10, dtype=complex)], ValueError, "Complex data not supported"),
        ([b"clip.wav"], TypeError, r"X\[0\] is bytes"),
        ([{"path": "a.wav"}], TypeError, r"X\[0\] is neither"),
        ({"a": 1}, TypeError, "got dict"),
        (np.zeros((2, 3, 4)), ValueError, "shape \\(2, 3, 4\\)"),
    ],
)
def test_bad_input_is_named(X, error, match):
    with pytest.raises(error, match=match):
        check_audio_input(X)


def test_sparse_input_is_rejected():
    from scipy import sparse

    with pytest.raises(TypeError, match="Sparse input"):
        check_audio_input(sparse.csr_matrix(np.ones((2, 10))))


def returns_within(seconds, function, *args, **kwargs):
    """``function(*args, **kwargs)``, run on a thread: the test fails if it has not returned in ``seconds``.

    A call that hangs (opening a named pipe waits for a writer, reading
    /dev/zero never ends) then fails the test instead of stopping the suite.
    """
    outcome = {}

    def call():
        try:
            outcome["result"] = function(*args, **kwargs)
        except BaseException as exc:  # handed over to the test below
            outcome["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{getattr(function, '__name__', function)} still runs after {seconds} s: it hangs")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def _socket_file(path):
    if len(os.fsencode(path)) >= 100:  # AF_UNIX names are limited to about 108 bytes
        pytest.skip("the temporary folder's path is too long for a socket")
    server = socket.socket(socket.AF_UNIX)
    server.bind(os.fspath(path))
    return server


@pytest.mark.parametrize(
    "make, what",
    [
        (os.mkfifo, "a named pipe"),
        (lambda path: path.symlink_to("/dev/zero"), "a character device"),
        (_socket_file, "a socket"),
    ],
    ids=["named pipe", "/dev/zero", "socket"],
)
def test_special_files_are_refused_by_what_they_are(tmp_path, make, what):
    path = tmp_path / "special.wav"
    if what == "a character device" and not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    made = make(path)
    try:
        with pytest.raises(InvalidAudioError, match=f"'{re.escape(str(path))}' is {what}, not a regular file"):
            returns_within(10, load_audio, path, sr=16000)
    finally:
        if made is not None:
            made.close()


def test_dev_zero_itself_is_refused():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    with pytest.raises(InvalidAudioError, match="'/dev/zero' is a character device, not a regular file"):
        returns_within(10, load_audio, "/dev/zero", sr=16000)


def test_a_symlink_loop_is_named_as_one(tmp_path):
    (tmp_path / "a.wav").symlink_to(tmp_path / "b.wav")
    (tmp_path / "b.wav").symlink_to(tmp_path / "a.wav")
    with pytest.raises(InvalidAudioError, match="a.wav' cannot be resolved: it is a symbolic link loop"):
        load_audio(tmp_path / "a.wav", sr=16000)


def test_a_link_to_nothing_names_its_target(tmp_path):
    (tmp_path / "link.wav").symlink_to(tmp_path / "moved.wav")
    with pytest.raises(FileNotFoundError, match="not found: '.*link.wav' is a symbolic link to '.*moved.wav'"):
        load_audio(tmp_path / "link.wav", sr=16000)


def test_a_file_as_a_folder_is_not_found(write_audio):
    path = write_audio("clip.wav", tone(16000))
    with pytest.raises(FileNotFoundError, match="a part of its path is a file, not a folder"):
        load_audio(path / "inner.wav", sr=16000)


def test_a_link_to_a_good_file_is_read(write_audio, tmp_path):
    path = write_audio("clip.wav", tone(16000))
    (tmp_path / "link.wav").symlink_to(path)
    np.testing.assert_array_equal(load_audio(tmp_path / "link.wav", sr=16000), load_audio(path, sr=16000))


def test_an_unreadable_file_is_permission_denied(write_audio):
    path = write_audio("locked.wav", tone(16000))
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("file permissions do not apply to this user (root)")
    with pytest.raises(InvalidAudioError, match="Cannot read audio file '.*locked.wav': permission denied"):
        load_audio(path, sr=16000)


def _failing_os_call(monkeypatch, name, path, code):
    """Make ``os.<name>`` fail with errno ``code`` for ``path`` (as a user without rights would see)."""
    original = getattr(os, name)

    def failing(target, *args, **kwargs):
        if os.fspath(target) == os.fspath(path):
            raise OSError(code, os.strerror(code), os.fspath(target))
        return original(target, *args, **kwargs)

    monkeypatch.setattr(os, name, failing)


@pytest.mark.parametrize(
    "call, code, reason",
    [
        ("stat", errno.EACCES, "permission denied"),
        ("open", errno.EACCES, "permission denied"),
        ("open", errno.EPERM, "permission denied"),
        ("stat", errno.ENAMETOOLONG, "file name too long"),
        ("open", errno.EIO, "input/output error"),
    ],
)
def test_os_errors_are_named_in_words(write_audio, monkeypatch, call, code, reason):
    path = write_audio("clip.wav", tone(16000))
    _failing_os_call(monkeypatch, call, path, code)
    if call == "open":  # what libsndfile meets opening the file: it reports only "System error"
        monkeypatch.setattr(soundfile, "SoundFile", _failing_sound_file)
    with pytest.raises(InvalidAudioError, match=f"Cannot read audio file '.*clip.wav': {reason}\\.$"):
        load_audio(path, sr=16000)


def _failing_sound_file(path, *args, **kwargs):
    raise soundfile.LibsndfileError(2, prefix=f"Error opening {os.fspath(path)!r}: ")


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_a_multichannel_recording_given_as_x_is_refused_not_read_as_thousands_of_waveforms(channels):
    recording = np.tile(tone(16000, 1.0)[:, None], (1, channels))  # (n_samples, n_channels), as soundfile reads it
    with pytest.raises(ValueError, match=rf"shape \(16000, {channels}\).*one recording.*wave.mean\(axis=1\)"):
        check_audio_input(recording)
    assert len(check_audio_input(recording.T)) == channels, "rows of waveforms are still waveforms"
    assert len(check_audio_input(np.zeros((999, 8)))) == 999


@pytest.mark.parametrize(
    "shape, advice",
    [
        ((16000, 2), "y.mean(axis=1) for (n_samples, n_channels)"),
        ((2, 16000), "y.mean(axis=0) for (n_channels, n_samples)"),
    ],
)
def test_a_multichannel_item_is_refused_with_advice_for_both_layouts(shape, advice):
    with pytest.raises(InvalidAudioError, match=re.escape(advice)):
        check_audio_input([np.zeros(shape, dtype=np.float32)])
