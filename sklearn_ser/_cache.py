"""On-disk feature cache shared by the audio transformers.

Layout under ``<location>/sklearn_ser_features/<namespace>/``, where the
namespace digests the transformer class, its feature parameters and the
versions of the libraries that compute them:

* ``items/ab/abcdef....npy``: one utterance's features;
* ``batches/0123....npz``: a whole batch (the features of every item of one
  ``transform`` call, concatenated, with their lengths), so that repeating the
  same call costs one read instead of one per file.

A file is identified by its absolute path, size, inode, device and
modification and status-change times (``os.stat``), which change whenever
its content does. Within :data:`RACY_SECONDS` of a change a timestamp cannot
tell two writes apart (coarse file-system clocks), so such a file's key also
digests its bytes. A waveform is identified by a digest of its samples.
Entries are written to a temporary file and renamed into place, so an
interrupted run never leaves a partial entry behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from contextlib import suppress
from pathlib import Path

import numpy as np

RACY_SECONDS = 2.0

_LOAD_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


def _digest(*parts):
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _file_digest(path):
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_key(source, *, now=None):
    """Cache key of one item of ``X``: a path (str) or a waveform (ndarray)."""
    if not isinstance(source, str):
        return _digest("waveform", source.dtype.str, source.shape, source.tobytes())
    st = os.stat(source)
    parts = [os.path.abspath(source), st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns, st.st_ctime_ns]
    now = time.time() if now is None else now
    if now - max(st.st_mtime_ns, st.st_ctime_ns) / 1e9 < RACY_SECONDS:
        parts.append(_file_digest(source))
    return _digest("file", *parts)


class FeatureCache:
    """Per-utterance feature arrays stored under one namespace directory."""

    def __init__(self, directory):
        self.directory = Path(directory)

    @classmethod
    def from_memory(cls, memory, namespace):
        """Build the cache for ``memory`` (None, a folder, or a joblib.Memory)."""
        if memory is None:
            return None
        location = getattr(memory, "location", memory)
        if location is None:
            return None
        return cls(Path(location) / "sklearn_ser_features" / namespace)

    def keys(self, sources):
        now = time.time()
        return [source_key(source, now=now) for source in sources]

    def lookup(self, keys):
        """Cached arrays for ``keys``, ``None`` where an entry is missing."""
        batch = self._load_batch(keys)
        if batch is not None:
            return batch
        return [self._load_item(key) for key in keys]

    def store_item(self, key, array):
        """Write one utterance's features."""
        _atomic_write(self._item_path(key), lambda fh: np.save(fh, array, allow_pickle=False))

    def store_batch(self, keys, arrays):
        """Write the features of a whole batch as one entry."""
        _atomic_write(
            self._batch_path(keys),
            lambda fh: np.savez(
                fh,
                data=np.concatenate(arrays, axis=0),
                lengths=np.asarray([len(a) for a in arrays], dtype=np.int64),
            ),
        )

    def _item_path(self, key):
        return self.directory / "items" / key[:2] / f"{key}.npy"

    def _batch_path(self, keys):
        return self.directory / "batches" / f"{_digest(*keys)}.npz"

    def _load_item(self, key):
        try:
            return np.load(self._item_path(key), allow_pickle=False)
        except _LOAD_ERRORS:
            return None

    def _load_batch(self, keys):
        try:
            with np.load(self._batch_path(keys), allow_pickle=False) as stored:
                data, lengths = stored["data"], stored["lengths"]
        except _LOAD_ERRORS:
            return None
        if len(lengths) != len(keys) or lengths.sum() != len(data):
            return None
        return np.split(data, np.cumsum(lengths)[:-1])


def _atomic_write(path, write):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def namespace(*parts):
    """Digest naming a cache namespace (class, parameters, library versions)."""
    return _digest(*parts)
