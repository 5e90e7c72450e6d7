"""Extraction on local threads, local processes and a Dask cluster."""

import os
import subprocess
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


# Worker processes where BLAS and torch may use three threads, as on a machine with 3 * n_jobs cores.
LOKY_WITH_THREADS = dict(backend="loky", inner_max_num_threads=3)


@pytest.fixture
def blas_and_torch_on_several_threads():
    """BLAS and torch allowed three threads in this process.

    The tests' default of one thread everywhere would hide a computation
    left to another thread count.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        with threadpool_limits(limits=3, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(previous)


FEATURES = {
    "mel": lambda **kw: MelSpectrogram(**kw),
    "mfcc": lambda **kw: MFCC(**kw),
    "mel torch": lambda **kw: MelSpectrogram(engine="torch", device="cpu", **kw),
    "mfcc torch": lambda **kw: MFCC(engine="torch", device="cpu", **kw),
}
# (files in the call, transformer parameters, joblib configuration)
RUNS = [
    (16, dict(n_jobs=1), {}),
    (17, dict(n_jobs=1), {}),
    (16, dict(n_jobs=2), {}),
    (17, dict(n_jobs=2), {}),
    (40, dict(n_jobs=2, backend="threads"), {}),
    (17, dict(n_jobs=2, backend="processes"), {}),
    (17, dict(n_jobs=2), LOKY_WITH_THREADS),
]


@pytest.fixture
def longer_corpus(write_audio):
    """40 files of 0.5 to 2.5 s: enough frames for BLAS to split its products between threads."""
    return [
        write_audio(f"long{i:02d}.wav", tone(sr, seconds=0.5 + 0.05 * i, freq=150 + 20 * i), sr=sr)
        for i, sr in zip(range(40), [16000, 8000, 22050] * 20)
    ]


@pytest.mark.parametrize("features", sorted(FEATURES))
def test_a_files_features_are_the_same_bits_whatever_the_call(
    longer_corpus, blas_and_torch_on_several_threads, features
):
    make = FEATURES[features]
    files = longer_corpus
    alone = [make().fit_transform([path])[0] for path in files[:17]]
    for n_files, params, config in RUNS:
        with parallel_config(**config):
            batch = make(**params).fit_transform(files[:n_files])
        for i, expected in enumerate(alone[:n_files]):
            assert np.array_equal(batch[i], expected), f"file {i} differs among {n_files} with {params}, {config}"


def test_the_cache_holds_the_same_bits_whatever_computed_them(
    longer_corpus, tmp_path, blas_and_torch_on_several_threads
):
    with parallel_config(**LOKY_WITH_THREADS):
        in_workers = MelSpectrogram(n_jobs=2, memory=tmp_path / "cache").fit_transform(longer_corpus)
    assert_same(MelSpectrogram(memory=tmp_path / "cache").fit_transform(longer_corpus), in_workers)
    assert_same(MelSpectrogram().fit_transform(longer_corpus), in_workers)


def test_torch_is_held_to_one_thread_while_it_computes_and_restored():
    import torch

    seen = []

    def torch_threads(y):
        seen.append(torch.get_num_threads())
        return np.zeros((1, 1), dtype=np.float32)

    waveforms = [np.full(100, i, dtype=np.float32) for i in range(3 * CHUNK_SIZE)]
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        for n_jobs in [1, 2]:
            extract(waveforms, torch_threads, sr=16000, n_jobs=n_jobs)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(previous)
    assert set(seen) == {1}


IMPORTING_TORCH_IN_WORKERS = """
import sys

import numpy as np
from joblib import parallel_config

from sklearn_ser.features import MFCC

waveforms = [np.load(path) for path in sys.argv[1:]]
mfcc = MFCC(engine="torch", device="cpu")
with parallel_config(backend="loky", inner_max_num_threads=3):
    in_workers = mfcc.set_params(n_jobs=2).fit_transform(waveforms)  # a worker imports torch in its first chunk
on_one_thread = mfcc.set_params(n_jobs=1).fit_transform(waveforms)
print(all(np.array_equal(a, b) for a, b in zip(in_workers, on_one_thread)))
"""


def test_the_chunk_that_imports_torch_in_a_worker_computes_on_one_thread_too(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2 * CHUNK_SIZE):
        paths.append(str(tmp_path / f"y{i}.npy"))
        np.save(paths[-1], (0.1 * rng.standard_normal(8000 + 997 * i)).astype(np.float32))
    env = {**os.environ, "MKL_DYNAMIC": "FALSE"}  # torch takes the workers' three threads, even on fewer cores
    done = subprocess.run(
        [sys.executable, "-c", IMPORTING_TORCH_IN_WORKERS, *paths],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "True", done.stderr


def test_blas_runs_one_thread_in_worker_processes():
    waveforms = [np.full(100, i, dtype=np.float32) for i in range(3 * CHUNK_SIZE)]
    with parallel_config(**LOKY_WITH_THREADS):
        during = {int(f[0, 0]) for f in extract(waveforms, blas_threads_feature, sr=16000, n_jobs=2)}
    assert during == {1}
