import pickle

import joblib
import librosa
import numpy as np
import pytest
import scipy.fft
import sklearn
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sklearn_ser import InvalidAudioError
from sklearn_ser.features import MFCC, DeltaStack, MelSpectrogram, SequencePooling, _spectral

from .conftest import TESS_ROOT, requires_tess, tone


@pytest.fixture
def clips(write_audio):
    rng = np.random.default_rng(0)
    speechy = [
        tone(24414, seconds=s, freq=f) + 0.05 * rng.standard_normal(int(24414 * s)).astype(np.float32)
        for s, f in [(1.3, 220), (2.1, 330), (0.7, 180)]
    ]
    return [write_audio(f"clip{i}.flac", y, sr=24414) for i, y in enumerate(speechy)]


def librosa_db_mel(y, *, power=2.0, top_db=80.0, amin=1e-10, **params):
    """The documented dB Mel spectrogram of ``y`` (16 kHz), computed with librosa: (n_frames, n_mels)."""
    mel = librosa.feature.melspectrogram(y=y, sr=16000, power=power, **params)
    if power == 1:
        return librosa.amplitude_to_db(mel, ref=1.0, amin=np.sqrt(amin), top_db=top_db).T
    return librosa.power_to_db(mel ** (2 / power), ref=1.0, amin=amin, top_db=top_db).T


def reference_log_mel(path, **params):
    return librosa_db_mel(librosa.load(path, sr=16000)[0], **params)


def db_bound(db):
    """The documented bound on each dB Mel value's difference from librosa (MelSpectrogram, Notes)."""
    below_peak = db.max() - db
    return np.maximum(1e-3, 2e-5 * 10 ** (below_peak / 20))


def mfcc_bound(db, lifter=0.0):
    """The bound on each frame's MFCC implied by the bounds on its dB Mel values ``db``: (n_frames, 1)."""
    largest_lifter_weight = 1 + lifter / 2 if lifter > 0 else 1.0
    return largest_lifter_weight * np.sqrt(np.sum(db_bound(db) ** 2, axis=1, keepdims=True))


def assert_within(actual, expected, bound):
    """``|actual - expected| <= bound`` everywhere."""
    assert actual.shape == expected.shape
    excess = np.abs(actual - expected) / bound
    worst = np.unravel_index(excess.argmax(), excess.shape)
    assert excess[worst] <= 1, f"{excess[worst]:.2f} times the bound at {worst}: {actual[worst]} vs {expected[worst]}"


def hard_waveforms(n_mels=64, fmin=0.0, fmax=8000.0):
    """One-second waveforms (16 kHz) with values far below their peak, where float32 rounding shows.

    The first is the hardest case constructed: a tone between the centres
    of the last two Mel filters over faint noise, which reaches a sixth of
    the bound against librosa and a quarter between the engines with
    ``power=1``. Every one keeps its energy within the span of the filters'
    centres, as the bound assumes.
    """
    rng = np.random.default_rng(0)
    centres = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[1:-1]
    noise = rng.standard_normal(16000).astype(np.float32)
    burst = 1e-5 * noise
    burst[6000:9000] += tone(16000, seconds=3000 / 16000, freq=1000, amplitude=0.9)
    clicks = np.zeros(16000, dtype=np.float32)
    clicks[[4000, 8000, 12000]] = 1.0
    return {
        "tone between the last filters": tone(16000, freq=centres[-2:].mean(), amplitude=0.4) + 3e-4 * noise,
        "low tone over noise": tone(16000, freq=220) + 5e-4 * noise,
        "noise with a band 90 dB down": band_stopped(noise, 300.0, 600.0, depth_db=90.0),
        "clipped tone": np.clip(tone(16000, freq=300, amplitude=4.0), -1.0, 1.0),
        "quiet noise": 1e-5 * noise,
        "burst in near silence": burst,
        "clicks": clicks,
    }


def band_stopped(y, low, high, depth_db):
    """``y`` with the band from ``low`` to ``high`` Hz lowered by ``depth_db``, at its peak level before."""
    spectrum = np.fft.rfft(y)
    frequencies = np.fft.rfftfreq(len(y), 1 / 16000)
    spectrum[(frequencies >= low) & (frequencies <= high)] *= 10 ** (-depth_db / 20)
    stopped = np.fft.irfft(spectrum, len(y))
    return (stopped * np.abs(y).max() / np.abs(stopped).max()).astype(np.float32)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    from sklearn_ser.datasets import make_synthetic_corpus

    corpus = make_synthetic_corpus(tmp_path_factory.mktemp("corpus"), n_speakers=2, n_words=1, random_state=0)
    return {path: librosa.load(path, sr=16000)[0] for path in corpus["path"][::2]}


def test_mel_equals_the_librosa_way(clips):
    out = MelSpectrogram(n_fft=2048, hop_length=512, n_mels=128).fit_transform(clips)
    for sequence, path in zip(out, clips):
        expected = reference_log_mel(path, n_fft=2048, hop_length=512, n_mels=128)
        assert sequence.dtype == np.float32 and sequence.flags.c_contiguous
        assert_within(sequence, expected, db_bound(expected))


BOUND_PARAMS = [
    dict(n_fft=512, hop_length=160, n_mels=64),
    dict(n_fft=2048, hop_length=512, n_mels=128),
    dict(n_fft=400, hop_length=100, win_length=300, window="hamming", n_mels=40),
    dict(n_fft=256, hop_length=64, center=False, n_mels=32),
]


@pytest.mark.parametrize("top_db", [80.0, None])
@pytest.mark.parametrize("power", [1.0, 2.0, 1.5, 3.0])
@pytest.mark.parametrize("params", BOUND_PARAMS)
def test_db_mel_is_within_the_documented_bound_of_librosa(speech, params, power, top_db):
    waveforms = [*hard_waveforms(params["n_mels"]).values(), *speech.values()]
    out = MelSpectrogram(power=power, top_db=top_db, **params).fit_transform(waveforms)
    for sequence, y in zip(out, waveforms):
        expected = librosa_db_mel(y, power=power, top_db=top_db, **params)
        assert_within(sequence, expected, db_bound(expected))


@pytest.mark.parametrize("lifter", [0.0, 22.0])
@pytest.mark.parametrize("power", [1.0, 2.0, 1.5])
def test_mfcc_is_librosas_dct_of_the_documented_db_mel(speech, power, lifter):
    waveforms = [*hard_waveforms().values(), *speech.values()]
    out = MFCC(n_mfcc=20, lifter=lifter, power=power).fit_transform(waveforms)
    for sequence, y in zip(out, waveforms):
        db = librosa_db_mel(y, power=power, n_fft=512, hop_length=160, n_mels=64)
        expected = librosa.feature.mfcc(S=db.T, n_mfcc=20, lifter=lifter).T
        assert_within(sequence, expected, mfcc_bound(db, lifter))


def test_mel_parameters_reach_librosa(clips):
    params = dict(n_fft=400, hop_length=100, win_length=320, n_mels=40, fmin=50.0, fmax=7000.0, power=1.0)
    (out,) = MelSpectrogram(log=None, **params).fit_transform(clips[:1])
    y, _ = librosa.load(clips[0], sr=16000)
    expected = librosa.feature.melspectrogram(y=y, sr=16000, **params).T
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        dict(n_fft=512, hop_length=160),
        dict(n_fft=400, hop_length=100, win_length=300, window="hamming"),
        dict(n_fft=256, hop_length=64, center=False, window=("kaiser", 8.0)),
        dict(n_fft=1024, hop_length=256, power=1.5),
    ],
)
def test_spectrogram_equals_librosa_stft(clips, params):
    y, _ = librosa.load(clips[1], sr=16000)
    stft_params = {k: v for k, v in params.items() if k != "power"}
    expected = np.abs(librosa.stft(y, pad_mode="constant", **stft_params)) ** params.get("power", 2.0)
    computer = MelSpectrogram(**params)._make_computer()
    spectrogram = computer.power_spectrogram(computer.frames(y))
    np.testing.assert_allclose(spectrogram, expected.T, rtol=2e-4, atol=1e-4 * expected.max())


def sliding_frames(computer, y):
    """The frames as ``np.pad`` and ``sliding_window_view`` give them."""
    if len(y) < computer.n_fft:
        y = np.pad(y, (0, computer.n_fft - len(y)))
    if computer.center:
        y = np.pad(y, computer.n_fft // 2)
    return np.lib.stride_tricks.sliding_window_view(y, computer.n_fft)[:: computer.hop_length]


@pytest.mark.parametrize(
    "params",
    [
        dict(n_fft=512, hop_length=160),
        dict(n_fft=255, hop_length=64),
        dict(n_fft=511, hop_length=7, center=False),
        dict(n_fft=256, hop_length=300, center=False),
    ],
)
@pytest.mark.parametrize("n_samples", [1, 254, 255, 256, 511, 512, 513, 16001])
def test_frames_equal_padding_and_a_sliding_window(params, n_samples):
    computer = MelSpectrogram(**params)._make_computer()
    y = np.random.default_rng(n_samples).standard_normal(n_samples).astype(np.float32)
    frames = computer.frames(y)
    np.testing.assert_array_equal(frames, sliding_frames(computer, y))
    assert not frames.flags.writeable
    assert np.shares_memory(frames, y) == (not computer.center and n_samples >= computer.n_fft)


def test_power_spectrogram_is_the_squared_magnitude_bit_for_bit(clips):
    y, _ = librosa.load(clips[1], sr=16000)
    computer = MelSpectrogram(n_fft=1024, hop_length=256)._make_computer()
    frames = computer.frames(y)
    spectrum = scipy.fft.rfft(frames * computer.window, axis=1)
    expected = np.square(spectrum.real) + np.square(spectrum.imag)
    np.testing.assert_array_equal(computer.power_spectrogram(frames), expected)


def test_log_scalings(clips):
    power = MelSpectrogram(log=None).fit_transform(clips[:1])[0]
    natural = MelSpectrogram(log="natural").fit_transform(clips[:1])[0]
    db = MelSpectrogram(log="db", top_db=None).fit_transform(clips[:1])[0]
    np.testing.assert_allclose(natural, np.log(np.maximum(power, 1e-10)), atol=1e-4)
    np.testing.assert_allclose(db, 10 * np.log10(np.maximum(power, 1e-10)), atol=1e-3)
    clipped = MelSpectrogram(top_db=30.0).fit_transform(clips[:1])[0]
    assert clipped.max() - clipped.min() == pytest.approx(30.0, abs=1e-4)


def test_magnitude_db_is_amplitude_to_db(clips):
    (out,) = MelSpectrogram(power=1.0, top_db=None).fit_transform(clips[:1])
    magnitude = MelSpectrogram(power=1.0, log=None).fit_transform(clips[:1])[0]
    np.testing.assert_allclose(out, librosa.amplitude_to_db(magnitude, amin=1e-5, top_db=None), atol=1e-3)


def test_mfcc_equals_librosa(clips):
    params = dict(n_mels=40, n_fft=512, hop_length=160)
    out = MFCC(n_mfcc=20, lifter=22, **params).fit_transform(clips)
    for sequence, path in zip(out, clips):
        y, _ = librosa.load(path, sr=16000)
        expected = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=20, lifter=22, **params).T
        assert_within(sequence, expected, mfcc_bound(librosa_db_mel(y, **params), lifter=22))


def test_frame_count_and_names():
    y = np.zeros((1, 16000), dtype=np.float32)
    mel = MelSpectrogram(n_mels=32)
    assert mel.fit_transform(y)[0].shape == (101, 32)
    assert list(mel.get_feature_names_out()[[0, -1]]) == ["mel_0", "mel_31"]
    assert list(MFCC(n_mfcc=13).get_feature_names_out()[[0, -1]]) == ["mfcc_0", "mfcc_12"]


@pytest.mark.parametrize("n_samples", [1, 10, 511])
def test_clip_shorter_than_a_window_is_padded(n_samples):
    y = np.full(n_samples, 0.5, dtype=np.float32)
    (out,) = MelSpectrogram().fit_transform([y])
    assert out.shape == (1 + 512 // 160, 64)
    assert np.isfinite(out).all()


def test_silence_gives_the_floor():
    (out,) = MelSpectrogram().fit_transform([np.zeros(16000, dtype=np.float32)])
    np.testing.assert_allclose(out, np.full_like(out, -100.0), atol=1e-4)


def test_waveforms_are_taken_at_sr(clips):
    y = librosa.load(clips[0], sr=8000)[0]
    from_file = MelSpectrogram(sr=8000, n_fft=256, hop_length=80).fit_transform(clips[:1])[0]
    from_waveform = MelSpectrogram(sr=8000, n_fft=256, hop_length=80).fit_transform([y])[0]
    np.testing.assert_array_equal(from_file, from_waveform)


def test_parallel_equals_serial(clips, monkeypatch):
    from sklearn_ser import _extraction

    many = clips * 7
    assert len(many) > _extraction.CHUNK_SIZE
    serial = MelSpectrogram(n_jobs=1).fit_transform(many)
    pools = []
    original = _extraction.ThreadPoolExecutor

    def spy(n_workers):
        pools.append(n_workers)
        return original(n_workers)

    monkeypatch.setattr(_extraction, "ThreadPoolExecutor", spy)
    parallel = MelSpectrogram(n_jobs=2).fit_transform(many)
    assert pools == [2]
    MelSpectrogram(n_jobs=2).fit_transform(clips)
    assert pools == [2], "a single chunk runs inline, without a pool"
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


def test_progress_bar(clips, capsys):
    MelSpectrogram(verbose=1).fit_transform(clips)
    assert "MelSpectrogram" in capsys.readouterr().err
    MelSpectrogram(verbose=0).fit_transform(clips)
    assert capsys.readouterr().err == ""


def test_bad_file_in_a_batch_is_named(clips, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEnot really")
    with pytest.raises(InvalidAudioError, match="broken.wav"):
        MelSpectrogram(n_jobs=2).fit_transform(clips + [broken])
    with pytest.raises(FileNotFoundError, match="gone.wav"):
        MelSpectrogram().fit_transform(clips + [tmp_path / "gone.wav"])


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(fmax=9000), "fmax=9000 exceeds the Nyquist frequency sr/2=8000"),
        (dict(fmin=4000, fmax=3000), "fmin=4000 must be below fmax=3000"),
        (dict(win_length=1024), "win_length=1024 must not exceed n_fft=512"),
        (dict(log="log10"), "'log' parameter"),
        (dict(n_mels=0), "'n_mels' parameter"),
        (dict(sr=16000.0), "'sr' parameter"),
        (dict(memory=3), "'memory' parameter"),
    ],
)
def test_invalid_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        MelSpectrogram(**params).fit([np.zeros(1000)])


def test_mfcc_count_above_mel_bands():
    with pytest.raises(ValueError, match="n_mfcc=80 must not exceed n_mels=64"):
        MFCC(n_mfcc=80).fit_transform([np.zeros(1000)])


def test_transform_validates_without_fit():
    with pytest.raises(ValueError, match="fmax"):
        MelSpectrogram(fmax=1e5).transform([np.zeros(1000)])


def test_clone_pickle_and_joblib(tmp_path, clips):
    mel = MelSpectrogram(n_mels=20, memory=str(tmp_path / "cache"))
    assert clone(mel).get_params() == mel.get_params()
    expected = mel.fit_transform(clips)
    restored = pickle.loads(pickle.dumps(mel))
    joblib.dump(restored, tmp_path / "mel.joblib")
    for a, b in zip(joblib.load(tmp_path / "mel.joblib").transform(clips), expected):
        np.testing.assert_array_equal(a, b)


def test_output_is_indexable_and_picklable(clips):
    from sklearn.utils import _safe_indexing

    out = MelSpectrogram().fit_transform(clips)
    picked = _safe_indexing(out, np.array([2, 0]))
    np.testing.assert_array_equal(picked[0], out[2])
    for a, b in zip(pickle.loads(pickle.dumps(out)), out):
        np.testing.assert_array_equal(a, b)


def test_set_output_pandas_reaches_the_pooled_step(clips):
    pipe = make_pipeline(MFCC(n_mfcc=5), DeltaStack(order=1), SequencePooling(stats=("mean", "std")))
    frame = pipe.set_output(transform="pandas").fit_transform(clips)
    names = list(pipe.get_feature_names_out())
    assert frame.shape == (3, 20)
    assert list(frame.columns) == names
    assert names[:2] == ["mfcc_0_mean", "mfcc_1_mean"]
    assert names[5] == "mfcc_0_delta_mean" and names[-1] == "mfcc_4_delta_std"


def test_global_pandas_output_leaves_sequences_alone(clips):
    with sklearn.config_context(transform_output="pandas"):
        out = MelSpectrogram().fit_transform(clips)
        pooled = make_pipeline(MelSpectrogram(n_mels=4), SequencePooling()).fit_transform(clips)
    assert isinstance(out, list) and len(out) == 3
    assert list(pooled.columns) == [f"mel_{i}_{stat}" for stat in ("mean", "std") for i in range(4)]


@requires_tess
def test_real_tess_files_including_the_96khz_one():
    from sklearn_ser.datasets import load_tess

    corpus = load_tess(TESS_ROOT)
    picked = corpus[corpus["path"].str.endswith(("OAF_food_fear.flac", "OA_bite_neutral.flac", "YAF_bar_ps.flac"))]
    paths = picked["path"].tolist()
    assert len(paths) == 3
    params = dict(n_fft=2048, hop_length=512, n_mels=128)
    out = MelSpectrogram(**params, n_jobs=2).fit_transform(paths)
    for sequence, path in zip(out, paths):
        expected = reference_log_mel(path, **params)
        assert_within(sequence, expected, db_bound(expected))


@requires_tess
def test_two_threads_equal_one_bit_for_bit_on_tess():
    from sklearn_ser._extraction import CHUNK_SIZE
    from sklearn_ser.datasets import load_tess

    paths = load_tess(TESS_ROOT)["path"].tolist()[::70]  # FLAC at 24414 Hz, more than two chunks
    params = dict(n_fft=1024, hop_length=256, n_mels=64)
    serial = MelSpectrogram(**params, n_jobs=1).fit_transform(paths)
    threaded = MelSpectrogram(**params, n_jobs=2, backend="threads").fit_transform(paths)
    assert len(paths) > 2 * CHUNK_SIZE and len(threaded) == len(serial)
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


def test_long_recordings_are_transformed_in_blocks_with_the_same_result(monkeypatch):
    y = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
    whole = MFCC().fit_transform([y])[0]
    monkeypatch.setattr(_spectral, "FRAMES_PER_BLOCK", 7)
    blocked = MFCC().fit_transform([y])[0]
    np.testing.assert_allclose(blocked, whole, rtol=1e-5, atol=1e-4)
