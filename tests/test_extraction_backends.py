"""Extraction on local threads, local processes and a Dask cluster."""

import os
import sys
import types
import weakref

import numpy as np
import pytest
from joblib import parallel_config
from threadpoolctl import ThreadpoolController, threadpool_limits

from sklearn_ser import InvalidAudioError, _extraction
from sklearn_ser._extraction import CHUNK_SIZE, extract
from sklearn_ser.features import MFCC, EGeMAPS, MelSpectrogram

SMALL = dict(n_fft=256, hop_length=80, n_mels=16)


def tone(sr, seconds, freq):
    # Not conftest's: this module is imported by worker processes (to unpickle
    # worker_pid), and conftest imports torch.
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def worker_pid(y):
    """A one-frame "feature": the id of the process that computed it."""
    return np.array([[os.getpid()]], dtype=np.float32)


def blas_threads():
    """The most threads any loaded BLAS library may use, or None without one."""
    libraries = ThreadpoolController().select(user_api="blas").info()
    return max((library["num_threads"] for library in libraries), default=None)


def blas_threads_feature(y):
    """A one-frame "feature": the threads BLAS may use while it is computed."""
    return np.array([[blas_threads()]], dtype=np.float32)


@pytest.fixture
def corpus(write_audio):
    """More files than fit in two chunks, of different lengths and rates."""
    return [
        write_audio(f"u{i:02d}.wav", tone(sr, seconds=0.1 + 0.01 * i, freq=150 + 20 * i), sr=sr)
        for i, sr in zip(range(2 * CHUNK_SIZE + 3), [16000, 8000, 22050] * 20)
    ]


def assert_same(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_local_backends_equal_the_serial_path(corpus, backend):
    serial = MelSpectrogram(**SMALL).fit_transform(corpus)
    assert_same(MelSpectrogram(**SMALL, n_jobs=2, backend=backend).fit_transform(corpus), serial)


@pytest.mark.parametrize(("backend", "elsewhere"), [("threads", False), ("processes", True), (None, False)], ids=str)
def test_backend_decides_where_chunks_run(backend, elsewhere):
    waveforms = [np.full(100, i, dtype=np.float32) for i in range(3 * CHUNK_SIZE)]
    pids = {int(f[0, 0]) for f in extract(waveforms, worker_pid, sr=16000, n_jobs=2, backend=backend)}
    assert (os.getpid() not in pids) == elsewhere


def test_an_explicit_backend_overrides_the_joblib_configuration():
    waveforms = [np.full(100, i, dtype=np.float32) for i in range(3 * CHUNK_SIZE)]
    with parallel_config(backend="loky"):
        in_config = extract(waveforms, worker_pid, sr=16000, n_jobs=2)
        explicit = extract(waveforms, worker_pid, sr=16000, n_jobs=2, backend="threads")
    assert os.getpid() not in {int(f[0, 0]) for f in in_config}
    assert {int(f[0, 0]) for f in explicit} == {os.getpid()}


def test_one_job_runs_inline_whatever_the_backend():
    waveforms = [np.full(100, i, dtype=np.float32) for i in range(3 * CHUNK_SIZE)]
    pids = {int(f[0, 0]) for f in extract(waveforms, worker_pid, sr=16000, n_jobs=1, backend="processes")}
    assert pids == {os.getpid()}


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_errors_from_workers_name_the_file(corpus, tmp_path, backend):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEnot audio")
    with pytest.raises(InvalidAudioError, match="broken.wav"):
        MelSpectrogram(**SMALL, n_jobs=2, backend=backend).fit_transform([*corpus, broken, *corpus])


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("n_chunks", [1, 3])
def test_blas_runs_one_thread_during_extraction_and_is_restored(n_jobs, n_chunks):
    waveforms = [np.full(100, i, dtype=np.float32) for i in range(n_chunks * CHUNK_SIZE)]
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        if before is None or before < 2:
            pytest.skip("needs a BLAS library that can run two threads")
        during = {int(f[0, 0]) for f in extract(waveforms, blas_threads_feature, sr=16000, n_jobs=n_jobs)}
        assert blas_threads() == before
    assert during == {1}


def test_blas_libraries_are_looked_up_again_only_after_an_import(monkeypatch):
    waveforms = [np.full(100, i, dtype=np.float32) for i in range(3 * CHUNK_SIZE)]
    extract(waveforms, worker_pid, sr=16000, n_jobs=2)  # whatever it imports on first use
    lookups = []
    original = _extraction.ThreadpoolController

    def counting_controller():
        lookups.append(1)
        return original()

    monkeypatch.setattr(_extraction, "ThreadpoolController", counting_controller)
    monkeypatch.setattr(_extraction, "_blas_controller", (None, None))
    for n_jobs in [1, 2, 1, 2]:
        extract(waveforms, worker_pid, sr=16000, n_jobs=n_jobs)
    assert len(lookups) == 1, "the loaded libraries were looked up again without a new import"
    monkeypatch.setitem(sys.modules, "a_module_that_may_load_blas", types.ModuleType("a_module_that_may_load_blas"))
    extract(waveforms, worker_pid, sr=16000, n_jobs=2)
    assert len(lookups) == 2, "a new import did not lead to a new look-up"


@pytest.mark.parametrize(("engine", "per_worker"), [("numpy", 1), ("torch", CHUNK_SIZE)])
def test_extraction_streams_the_waveforms(corpus, monkeypatch, engine, per_worker):
    live, peak, loads = [0], [0], []
    original = _extraction.load_audio

    def tracked(source, *, sr):
        y = original(source, sr=sr)
        loads.append(source)
        live[0] += 1
        peak[0] = max(peak[0], live[0])
        weakref.finalize(y, lambda: live.__setitem__(0, live[0] - 1))
        return y

    monkeypatch.setattr(_extraction, "load_audio", tracked)
    many = corpus * 3
    MelSpectrogram(**SMALL, engine=engine, device="cpu", n_jobs=2, backend="threads").fit_transform(many)
    assert len(loads) == len(many)
    assert 1 <= peak[0] <= 2 * per_worker < len(many)


def test_dask_needs_a_running_client(corpus):
    with pytest.raises(ValueError, match="backend='dask'.*Client"):
        MelSpectrogram(**SMALL, backend="dask").fit_transform(corpus)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    environ = dict(os.environ)  # the cluster's nanny sets thread counts and PYTHONHASHSEED in os.environ
    try:
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
    finally:
        os.environ.clear()
        os.environ.update(environ)


def test_dask_cluster_equals_the_serial_path(corpus, tmp_path, dask_client):
    worker_pids = set(dask_client.run(os.getpid).values())
    pids = {int(f[0, 0]) for f in extract(corpus, worker_pid, sr=16000, backend="dask")}
    assert pids and pids <= worker_pids
    for transformer in [MelSpectrogram(**SMALL), MFCC(n_mfcc=8, **SMALL)]:
        serial = transformer.fit_transform(corpus)
        on_cluster = transformer.set_params(backend="dask", memory=tmp_path / "cache").fit_transform(corpus)
        assert_same(on_cluster, serial)
        assert_same(transformer.fit_transform(corpus), serial)


def test_dask_ignores_n_jobs_and_takes_a_single_chunk(corpus, dask_client):
    pids = {int(f[0, 0]) for f in extract(corpus[:3], worker_pid, sr=16000, n_jobs=1, backend="dask")}
    assert os.getpid() not in pids


def test_errors_from_dask_workers_name_the_file(corpus, tmp_path, dask_client):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEnot audio")
    with pytest.raises(InvalidAudioError, match="broken.wav"):
        MelSpectrogram(**SMALL, backend="dask").fit_transform([*corpus, broken])
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        MelSpectrogram(**SMALL, backend="dask").fit_transform([tmp_path / "missing.wav", *corpus])


def test_egemaps_takes_a_backend(corpus):
    pytest.importorskip("opensmile")
    serial = EGeMAPS(sr=16000).fit_transform(corpus[:20])
    np.testing.assert_array_equal(EGeMAPS(sr=16000, n_jobs=2, backend="processes").fit_transform(corpus[:20]), serial)
