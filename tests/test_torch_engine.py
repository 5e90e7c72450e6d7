"""The torch engine of MelSpectrogram and MFCC against the NumPy engine."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sklearn_ser.features import MFCC, MelSpectrogram
from sklearn_ser.features._torch_engine import dct_matrix

from .conftest import tone
from .test_spectral import assert_within, db_bound, hard_waveforms, mfcc_bound

# On CUDA, cuFFT rounds otherwise: the documented bound is twice the CPU's.
CUDA_FACTOR = 2.0


@pytest.fixture(scope="module")
def waveforms():
    rng = np.random.default_rng(0)
    noisy = [
        tone(16000, seconds=s, freq=f) * np.linspace(0.05, 1, int(16000 * s), dtype=np.float32)
        + 0.02 * rng.standard_normal(int(16000 * s)).astype(np.float32)
        for s, f in [(1.3, 220), (0.45, 330), (0.9, 180)]
    ]
    return [*noisy, np.zeros(4000, dtype=np.float32), 0.3 * rng.standard_normal(100).astype(np.float32)]


def max_difference(first, second):
    assert [a.shape for a in first] == [b.shape for b in second]
    return max(float(np.abs(a - b).max()) for a, b in zip(first, second))


def assert_mel_within_bound(numpy_out, torch_out, factor=1.0):
    assert len(numpy_out) == len(torch_out)
    for expected, actual in zip(numpy_out, torch_out):
        assert_within(actual, expected, factor * db_bound(expected))


def assert_mfcc_within_bound(numpy_db, numpy_out, torch_out, lifter=0.0, factor=1.0):
    """MFCC within the bound implied by the NumPy engine's dB Mel spectrograms ``numpy_db``."""
    assert len(numpy_out) == len(torch_out) == len(numpy_db)
    for db, expected, actual in zip(numpy_db, numpy_out, torch_out):
        assert_within(actual, expected, factor * mfcc_bound(db, lifter))


def mel_params(params):
    """The MelSpectrogram parameters among MFCC's."""
    return {key: value for key, value in params.items() if key != "lifter"}


def with_hard_cases(waveforms, params):
    mel_range = {key: params[key] for key in ("fmin", "fmax") if key in params}
    return [*waveforms, *hard_waveforms(params.get("n_mels", 64), **mel_range).values()]


SETTINGS = [
    dict(),
    dict(n_fft=2048, hop_length=512, n_mels=128),
    dict(n_fft=400, hop_length=100, win_length=300, window="hamming", n_mels=40),
    dict(n_fft=256, hop_length=64, center=False, n_mels=32),
    dict(power=1.0, top_db=None),
    dict(power=1.5, fmin=50.0, fmax=7000.0, top_db=40.0),
]


@pytest.mark.parametrize("params", SETTINGS)
def test_mel_matches_the_numpy_engine(waveforms, params):
    waveforms = with_hard_cases(waveforms, params)
    numpy_out = MelSpectrogram(**params).fit_transform(waveforms)
    torch_out = MelSpectrogram(**params, engine="torch", device="cpu").fit_transform(waveforms)
    assert all(s.dtype == np.float32 and s.flags.c_contiguous and s.flags.owndata for s in torch_out)
    assert_mel_within_bound(numpy_out, torch_out)


MFCC_SETTINGS = [SETTINGS[0], SETTINGS[2], dict(SETTINGS[3], lifter=22.0), dict(SETTINGS[4], lifter=22.0)]


@pytest.mark.parametrize("params", MFCC_SETTINGS)
def test_mfcc_matches_the_numpy_engine(waveforms, params):
    waveforms = with_hard_cases(waveforms, params)
    numpy_db = MelSpectrogram(**mel_params(params)).fit_transform(waveforms)
    numpy_out = MFCC(n_mfcc=20, **params).fit_transform(waveforms)
    torch_out = MFCC(n_mfcc=20, **params, engine="torch", device="cpu").fit_transform(waveforms)
    assert_mfcc_within_bound(numpy_db, numpy_out, torch_out, lifter=params.get("lifter", 0.0))


@pytest.mark.parametrize("log", ["natural", None])
def test_other_scalings_match(waveforms, log):
    numpy_out = MelSpectrogram(log=log).fit_transform(waveforms)
    torch_out = MelSpectrogram(log=log, engine="torch", device="cpu").fit_transform(waveforms)
    for a, b in zip(numpy_out, torch_out):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5 * max(float(np.abs(a).max()), 1e-10))


@pytest.mark.parametrize("center", [True, False])
def test_a_clip_shorter_than_n_fft_gives_the_same_frames(center):
    short = tone(16000, seconds=0.01, freq=440)
    assert len(short) < 512
    numpy_out = MelSpectrogram(center=center).fit_transform([short])
    torch_out = MelSpectrogram(center=center, engine="torch", device="cpu").fit_transform([short])
    assert torch_out[0].shape == numpy_out[0].shape == ((1 + 512 // 160 if center else 1), 64)
    assert_mel_within_bound(numpy_out, torch_out)


def test_top_db_clips_at_each_utterances_own_peak():
    # With center=False the last 8 samples of `quiet` fall in no frame: a
    # click there must not raise the clipping floor when a longer utterance
    # in the same batch has frames over those samples.
    quiet = 1e-4 * tone(16000, seconds=1000 / 16000, freq=300)
    quiet[-4] = 1.0
    long = 0.5 * tone(16000, seconds=0.5, freq=300)
    params = dict(center=False, hop_length=160, top_db=30.0)
    alone = MelSpectrogram(**params).fit_transform([quiet])[0]
    batched = MelSpectrogram(**params, engine="torch", device="cpu").fit_transform([quiet, long])[0]
    assert_mel_within_bound([alone], [batched])


def test_batching_does_not_change_an_utterance(waveforms):
    mel = MelSpectrogram(engine="torch", device="cpu")
    together = mel.fit_transform(waveforms)
    one_by_one = [mel.fit_transform([y])[0] for y in waveforms]
    assert max_difference(together, one_by_one) <= 1e-4


def test_files_take_the_batched_path(waveforms, write_audio):
    paths = [write_audio(f"w{i}.wav", y) for i, y in enumerate(waveforms)]
    from_files = MFCC(engine="torch", device="cpu").fit_transform(paths)
    assert_mfcc_within_bound(MelSpectrogram().fit_transform(paths), MFCC().fit_transform(paths), from_files)


def test_dct_matrix_is_librosas_mfcc():
    import librosa

    log_mel = np.random.default_rng(1).standard_normal((7, 40)).astype(np.float32)
    for lifter in (0.0, 22.0):
        expected = librosa.feature.mfcc(S=log_mel.T, n_mfcc=13, lifter=lifter).T
        np.testing.assert_allclose(log_mel @ dct_matrix(40, 13, lifter), expected, rtol=1e-5, atol=1e-5)


def test_pickle_and_clone_keep_the_engine(waveforms):
    mfcc = MFCC(n_mfcc=13, engine="torch", device="cpu").fit(waveforms)
    expected = mfcc.transform(waveforms)
    restored = pickle.loads(pickle.dumps(mfcc))
    assert max_difference(restored.transform(waveforms), expected) == 0
    assert clone(mfcc).get_params()["engine"] == "torch"
    computer = pickle.loads(pickle.dumps(mfcc._make_computer()))
    assert max_difference([computer(waveforms[0])], expected[:1]) == 0


def test_torch_engine_in_worker_processes(waveforms):
    many = waveforms * 8
    serial = MelSpectrogram(engine="torch", device="cpu").fit_transform(many)
    parallel = MelSpectrogram(engine="torch", device="cpu", n_jobs=2, backend="processes").fit_transform(many)
    assert max_difference(serial, parallel) <= 1e-4


def test_device_errors_name_the_parameter(waveforms):
    with pytest.raises(ValueError, match="device='gpu0'"):
        MelSpectrogram(engine="torch", device="gpu0").fit(waveforms)
    MelSpectrogram(engine="numpy", device="gpu0").fit(waveforms)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_unavailable_cuda_is_an_error(waveforms):
    with pytest.raises(ValueError, match="device='cuda'.*CUDA is not available"):
        MelSpectrogram(engine="torch", device="cuda").fit_transform(waveforms)
    assert MelSpectrogram(engine="torch").fit_transform(waveforms[:1])[0].dtype == np.float32


@pytest.fixture
def full_float32_matmul():
    """PyTorch's default float32 matrix products (no TF32), which the CUDA bound assumes."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    yield
    torch.set_float32_matmul_precision(previous)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("params", [SETTINGS[0], SETTINGS[4]])
def test_gpu_matches_the_numpy_engine(waveforms, params, full_float32_matmul):
    waveforms = with_hard_cases(waveforms, params)
    numpy_db = MelSpectrogram(**params).fit_transform(waveforms)
    on_gpu = MelSpectrogram(**params, engine="torch", device="cuda").fit_transform(waveforms)
    assert all(isinstance(s, np.ndarray) and s.dtype == np.float32 for s in on_gpu)
    assert_mel_within_bound(numpy_db, on_gpu, factor=CUDA_FACTOR)
    mfcc_on_gpu = MFCC(**params, engine="torch", device="cuda").fit_transform(waveforms)
    assert_mfcc_within_bound(numpy_db, MFCC(**params).fit_transform(waveforms), mfcc_on_gpu, factor=CUDA_FACTOR)
