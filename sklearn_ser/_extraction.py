"""Batch feature extraction: parallel decoding and computation, with a cache.

Decoding (libsndfile), resampling (soxr) and the FFTs all release the GIL,
so the default is a pool of threads: no worker start-up and no re-import of
librosa per process, which on a few hundred short files costs more than the
work itself. Files are dispatched in chunks of :data:`CHUNK_SIZE` to keep the
scheduling overhead small; one worker, or a single chunk, runs inline without
a pool. BLAS is held to one thread per worker while a pool runs, so
the workers do not oversubscribe the cores. ``joblib.parallel_config`` can
select another backend.
"""

from __future__ import annotations

from contextlib import nullcontext

from joblib import Parallel, delayed, effective_n_jobs
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ._audio import is_path, load_audio
from ._cache import FeatureCache

CHUNK_SIZE = 16


def extract(sources, compute, *, sr, n_jobs=None, memory=None, namespace="", verbose=0, desc=None):
    """Features of every source, in order, computed in parallel and cached.

    Parameters
    ----------
    sources : list
        Items from :func:`sklearn_ser._audio.check_audio_input`.
    compute : callable
        Maps a float32 waveform at ``sr`` to a feature array; picklable.
    sr : int
        Sampling rate files are decoded to.
    n_jobs : int or None
        Workers, as in scikit-learn (``None`` is 1 unless set by
        ``joblib.parallel_config``; ``-1`` is all cores).
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
    """
    cache = FeatureCache.from_memory(memory, namespace)
    keys = cache.keys(sources) if cache is not None else None
    results = cache.lookup(keys) if cache is not None else [None] * len(sources)
    missing = [i for i, result in enumerate(results) if result is None]
    if not missing:
        return results
    chunks = [missing[start : start + CHUNK_SIZE] for start in range(0, len(missing), CHUNK_SIZE)]
    tasks = [([sources[i] for i in chunk], compute, sr) for chunk in chunks]
    if len(chunks) == 1 or effective_n_jobs(n_jobs) == 1:
        chunk_results, blas_limit = (_compute_chunk(*task) for task in tasks), nullcontext()
    else:
        parallel = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")
        chunk_results = parallel(delayed(_compute_chunk)(*task) for task in tasks)
        blas_limit = threadpool_limits(limits=1, user_api="blas")
    done = []
    try:
        with blas_limit, tqdm(total=len(missing), desc=desc, disable=not verbose, unit="file") as progress:
            for chunk, (outputs, error) in zip(chunks, chunk_results):
                for i, features in zip(chunk, outputs):
                    results[i] = features
                done.extend(chunk[: len(outputs)])
                progress.update(len(outputs))
                if error is not None:
                    raise error
    finally:
        if cache is not None and done:
            cache.store([keys[i] for i in done], [results[i] for i in done])
    return results


def _compute_chunk(sources, compute, sr):
    """Features of each source, up to the first failure, and that failure."""
    outputs = []
    for source in sources:
        try:
            outputs.append(_compute_one(source, compute, sr))
        except Exception as error:
            return outputs, error
    return outputs, None


def _compute_one(source, compute, sr):
    y = load_audio(source, sr=sr) if is_path(source) else source
    return compute(y)
