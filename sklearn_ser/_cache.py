"""On-disk feature cache shared by the audio transformers.

Entries live under ``<location>/sklearn_ser_features/<namespace>/``, where
the namespace digests the transformer class, its feature parameters and the
versions of the libraries that compute them, in packs: ``.npz`` files that
each hold the keys, lengths and concatenated features of the utterances
computed together (see :class:`FeatureCache`).

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
    """Per-utterance feature arrays stored in packs under one namespace directory.

    A pack is one ``.npz`` file holding the keys, lengths and concatenated
    features of up to ``pack_size`` utterances computed together, so that
    writing and reading a corpus costs a few large file operations instead
    of one per utterance.
    """

    pack_size = 1024

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
        return cls(Path(location).expanduser() / "sklearn_ser_features" / namespace)

    def keys(self, sources):
        now = time.time()
        return [source_key(source, now=now) for source in sources]

    def lookup(self, keys):
        """Cached arrays for ``keys``, ``None`` where an entry is missing."""
        wanted = set(keys)
        found = {}
        for pack in sorted(self.directory.glob("*.npz")):
            if not wanted:
                break
            found.update(_read_pack(pack, wanted))
            wanted.difference_update(found)
        return [found.get(key) for key in keys]

    def store(self, keys, arrays):
        """Write the features of ``keys`` as packs of at most ``pack_size``."""
        for start in range(0, len(keys), self.pack_size):
            chunk_keys = keys[start : start + self.pack_size]
            chunk = arrays[start : start + self.pack_size]
            _atomic_write(
                self.directory / f"{_digest(*chunk_keys)}.npz",
                lambda fh, k=chunk_keys, a=chunk: np.savez(
                    fh,
                    keys=np.asarray(k),
                    lengths=np.asarray([len(x) for x in a], dtype=np.int64),
                    data=np.concatenate(a, axis=0),
                ),
            )


def _read_pack(path, wanted):
    """The entries of one pack whose keys are in ``wanted``; none if it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as pack:
            keys = pack["keys"]
            hits = [i for i, key in enumerate(keys.tolist()) if key in wanted]
            if not hits:
                return {}
            lengths, data = pack["lengths"], pack["data"]
    except _LOAD_ERRORS:
        return {}
    if len(lengths) != len(keys) or lengths.sum() != len(data):
        return {}
    items = np.split(data, np.cumsum(lengths)[:-1])
    return {keys[i].item(): items[i] for i in hits}


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
