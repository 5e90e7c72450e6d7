"""Batch feature extraction: parallel decoding and computation, with a cache.

Decoding (libsndfile), resampling (soxr) and the FFTs all release the GIL,
so the default is a pool of threads: no worker start-up and no re-import of
librosa per process, which on a few hundred short files costs more than the
work itself. BLAS is held to one thread per worker while the pool runs, so
the workers do not oversubscribe the cores. ``joblib.parallel_config`` can
select another backend.
"""

from __future__ import annotations

from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ._audio import is_path, load_audio
from ._cache import FeatureCache


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
    tasks = (delayed(_compute_one)(sources[i], compute, sr) for i in missing)
    parallel = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")
    with threadpool_limits(limits=1, user_api="blas"):
        outputs = parallel(tasks)
        for i, features in zip(
            missing, tqdm(outputs, total=len(missing), desc=desc, disable=not verbose, unit="file")
        ):
            results[i] = features
            if cache is not None:
                cache.store_item(keys[i], features)
    if cache is not None:
        cache.store_batch(keys, results)
    return results


def _compute_one(source, compute, sr):
    y = load_audio(source, sr=sr) if is_path(source) else source
    return compute(y)
