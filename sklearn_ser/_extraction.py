"""Batch feature extraction: parallel decoding and computation, with a cache.

Files are dispatched in chunks of :data:`CHUNK_SIZE` to keep the scheduling
overhead small, and streamed: a worker decodes the files of its chunk one at
a time (a whole chunk at a time for a computer with a ``batch`` method, such
as the torch engine), so memory holds the features of the corpus but never
more than a chunk of waveforms per worker. Finished features are written to
the cache in packs as they arrive (a pack every ``pack_size`` utterances, or
every ``flush_seconds`` of work, whichever comes first), so an interrupted or
killed run keeps them.

Backends (``backend``):

* ``None`` (default): a pool of threads, unless ``joblib.parallel_config``
  selects another joblib backend. Decoding (libsndfile), resampling (soxr)
  and the FFTs release the GIL, so threads need no worker start-up and no
  re-import of librosa per process (where processes overtake them:
  ``docs/benchmarks.md``, "Extraction at scale").
* ``"threads"``: a pool of threads, whatever the joblib configuration.
* ``"processes"``: joblib's loky process pool.
* ``"dask"``: the tasks of joblib's ``"dask"`` backend, run on the running
  ``dask.distributed`` Client's workers, however many there are (``n_jobs``
  is ignored).

Threads (also when ``joblib.parallel_config`` selects joblib's threading
backend) are those of a :class:`concurrent.futures.ThreadPoolExecutor`,
which hands each chunk's features over as soon as they are ready; the other
backends go through joblib.

With threads or processes, one worker or a single chunk runs inline without
a pool.

Every chunk is computed with BLAS, and torch once it is imported, held to
one thread, wherever it runs: inline, on a thread, in a worker process or on
a Dask worker. The workers do not oversubscribe the cores, and a file's
features are the same bits whatever ``n_jobs``, ``backend`` and the other
files of the call: a BLAS product (OpenBLAS's, or MKL's in torch) can round
differently on another number of threads.
"""

from __future__ import annotations

import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from functools import partial

from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from joblib.parallel import get_active_backend
from threadpoolctl import ThreadpoolController
from tqdm.auto import tqdm

from ._audio import is_path, load_audio
from ._cache import FeatureCache

CHUNK_SIZE = 16
BACKENDS = {"threads": "threading", "processes": "loky", "dask": "dask"}

_blas_controller = (None, None)  # (len(sys.modules) when built, ThreadpoolController)


def extract(sources, compute, *, sr, n_jobs=None, backend=None, memory=None, namespace="", verbose=0, desc=None):
    """Features of every source, in order, computed in parallel and cached.

    Parameters
    ----------
    sources : list
        Items from :func:`sklearn_ser._audio.check_audio_input`.
    compute : callable
        Maps a float32 waveform at ``sr`` to a 2-D float feature array
        (frames first, the only kind the cache keeps); picklable. If it has
        a ``batch`` method (a list of waveforms to a list of arrays), each
        chunk's waveforms are computed by one call to it.
    sr : int
        Sampling rate files are decoded to.
    n_jobs : int or None
        Workers, as in scikit-learn (``None`` is 1 unless set by
        ``joblib.parallel_config``; ``-1`` is all cores). Ignored with
        ``backend="dask"``.
    backend : {"threads", "processes", "dask"} or None
        Where the chunks run; see the module docstring.
    memory : None, str, os.PathLike or joblib.Memory
        Where features are cached.
    namespace : str
        Cache namespace identifying ``compute`` and its parameters.
    verbose : int
        Show a progress bar when positive.
    desc : str, optional
        Label of the progress bar.

    Returns
    -------
    features : list of ndarray

    Raises
    ------
    ValueError
        If ``backend="dask"`` and no ``dask.distributed`` Client is running.
    """
    cache = FeatureCache.from_memory(memory, namespace)
    keys = cache.keys(sources) if cache is not None else [None] * len(sources)
    results = cache.lookup(keys) if cache is not None else [None] * len(sources)
    todo, copies = _plan(results, keys)
    if not todo:
        return results
    chunks = [todo[start : start + CHUNK_SIZE] for start in range(0, len(todo), CHUNK_SIZE)]
    tasks = [(index, [sources[i] for i in chunk], compute, sr) for index, chunk in enumerate(chunks)]
    unstored = []
    last_flush = [time.monotonic()]

    def flush():
        if cache is not None and unstored:
            cache.store([keys[i] for i in unstored], [results[i] for i in unstored])
        unstored.clear()
        last_flush[0] = time.monotonic()

    def due():
        if cache is None or not unstored:
            return False
        return len(unstored) >= cache.pack_size or time.monotonic() - last_flush[0] >= cache.flush_seconds

    total = sum(1 for result in results if result is None)
    try:
        with (
            _chunk_results(tasks, n_jobs, backend) as chunk_results,
            tqdm(total=total, desc=desc, disable=not verbose, unit="file") as progress,
        ):
            for index, outputs, error in chunk_results:
                chunk = chunks[index]
                for i, features in zip(chunk, outputs):
                    results[i] = features
                    for j in copies.get(i, ()):
                        results[j] = features
                    progress.update(1 + len(copies.get(i, ())))
                unstored.extend(chunk[: len(outputs)])
                if due():
                    flush()
                if error is not None:
                    raise error
    finally:
        flush()
    return results


def _plan(results, keys):
    """Indices to compute, and the other indices sharing each one's key.

    Sources with the same key (copies of a file, repeated waveforms) are
    computed once.
    """
    todo, copies, first = [], {}, {}
    for i, (result, key) in enumerate(zip(results, keys)):
        if result is not None:
            continue
        if key is not None and key in first:
            copies.setdefault(first[key], []).append(i)
            continue
        if key is not None:
            first[key] = i
        todo.append(i)
    return todo, copies


@contextmanager
def _chunk_results(tasks, n_jobs, backend):
    """An iterator of ``(chunk index, outputs, error)``, in the order chunks finish."""
    if backend == "dask":
        _check_dask_client()
    # Through parallel_config: joblib 1.6 hands Parallel(backend="dask") a
    # keyword that its Dask backend forwards to every task.
    with parallel_config(backend=BACKENDS[backend]) if backend is not None else nullcontext():
        n_workers = -1 if backend == "dask" else effective_n_jobs(n_jobs)
        if backend != "dask" and (len(tasks) == 1 or n_workers == 1):
            run = _run_inline
        elif backend != "dask" and getattr(get_active_backend(prefer="threads")[0], "uses_threads", False):
            run = partial(_run_on_threads, n_workers=n_workers)
        else:
            run = partial(
                _run_on_joblib,
                parallel=Parallel(n_jobs=n_workers, prefer="threads", return_as="generator_unordered"),
            )
    # Held here too, so that the chunks of a thread pool find the limit set
    # instead of setting and restoring it for every chunk.
    with _one_blas_thread(), _one_torch_thread(), run(tasks) as results:
        yield results


@contextmanager
def _run_inline(tasks):
    yield (_compute_chunk(*task) for task in tasks)


@contextmanager
def _run_on_threads(tasks, n_workers):
    """Chunk results from a pool of ``n_workers`` threads, each as soon as it is ready.

    joblib's thread pool polls for finished tasks and starts and stops its
    handler threads on every call, serial time that a pool of our own does
    not spend.
    """
    executor = ThreadPoolExecutor(n_workers)
    try:
        futures = [executor.submit(_compute_chunk, *task) for task in tasks]
        yield (future.result() for future in as_completed(futures))
    finally:
        # Stopping at the first failure is deliberate: chunks not started are dropped.
        executor.shutdown(cancel_futures=True)


@contextmanager
def _run_on_joblib(tasks, parallel):
    results = parallel(delayed(_compute_chunk)(*task) for task in tasks)
    try:
        yield results
    finally:
        with warnings.catch_warnings():
            # Stopping at the first failure is deliberate; joblib warns about the cancelled tasks.
            warnings.filterwarnings("ignore", message=".*tasks which were still being processed", category=UserWarning)
            results.close()


class _SharedBlasLimit:
    """The loaded BLAS libraries held to one thread while any thread of this process asks for it.

    Multi-threaded BLAS on these small products is slower than one thread,
    much slower on a busy machine, and rounds differently. A limit applies
    to the whole process, so the first holder sets it and the last one
    restores what was there before; the others only count themselves.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = 0
        self._limiter = None

    @contextmanager
    def held(self):
        with self._lock:
            if self._holders == 0:
                self._limiter = _blas_libraries().limit(limits=1, user_api="blas")
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._limiter.restore_original_limits()


_one_blas_thread = _SharedBlasLimit().held


def _blas_libraries():
    """A ``ThreadpoolController`` of the loaded libraries.

    ``threadpoolctl.threadpool_limits`` looks for them anew on every call,
    a serial cost per chunk. The controller that found them is kept, and
    rebuilt only once modules have been imported since, as one of them may
    have loaded another BLAS.
    """
    global _blas_controller
    n_modules, controller = _blas_controller
    if controller is None or n_modules != len(sys.modules):
        controller = ThreadpoolController()
        _blas_controller = (len(sys.modules), controller)
    return controller


@contextmanager
def _one_torch_thread():
    """Hold torch's intra-op parallelism to one thread in this thread, if torch is imported.

    torch keeps a thread count per thread (a new thread starts from the
    last one set anywhere), so the thread that computes sets its own and
    puts it back.
    """
    torch = sys.modules.get("torch")
    previous = torch.get_num_threads() if torch is not None else 1
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _check_dask_client():
    try:
        from distributed import get_client
    except ImportError as exc:
        raise ImportError("backend='dask' needs dask.distributed: pip install 'dask[distributed]'.") from exc
    try:
        get_client()
    except ValueError as exc:
        raise ValueError(
            "backend='dask' runs on a dask.distributed Client, but none is running; create one "
            "first, e.g. Client(LocalCluster()) or Client('scheduler-address:8786')."
        ) from exc


def _compute_chunk(index, sources, compute, sr):
    """Features of each source, up to the first failure, and that failure.

    Computed with BLAS and torch on one thread, wherever the chunk runs.
    """
    with _one_blas_thread():
        return index, *_single_threaded(_compute_sources, sources, compute, sr)


def _single_threaded(function, *args):
    """``function(*args)`` with torch on one thread, even when it is what imports torch.

    Until the import no thread count can be set, so a call that imported
    torch (the first chunk of the torch engine in a worker process) ran on
    torch's default threads: it is made once more, held.
    """
    torch_was_imported = "torch" in sys.modules
    with _one_torch_thread():
        result = function(*args)
    if torch_was_imported or "torch" not in sys.modules:
        return result
    with _one_torch_thread():
        return function(*args)


def _compute_sources(sources, compute, sr):
    """Features of each source, up to the first failure, and that failure."""
    batch = getattr(compute, "batch", None)
    outputs, waveforms, error = [], [], None
    for source in sources:
        try:
            if batch is None:
                outputs.append(_compute_one(source, compute, sr))
            else:
                waveforms.append(_load(source, sr))
        except Exception as exc:
            error = exc
            break
    if waveforms:
        outputs = batch(waveforms)
    return outputs, error


def _load(source, sr):
    return load_audio(source, sr=sr) if is_path(source) else source


def _compute_one(source, compute, sr):
    return compute(_load(source, sr))
