"""On-disk feature cache shared by the audio transformers, keyed on content.

Everything lives under ``<location>/sklearn_ser_features/``:

* ``<namespace>/*.npz``: packs of features. The namespace digests the
  transformer class, its feature parameters and the versions of the
  libraries that compute them; a pack holds the keys, lengths and
  concatenated features of the utterances computed together (see
  :class:`FeatureCache`).
* ``stat-index/*.npz``: segments of a :class:`StatIndex`, which maps a
  file's ``os.stat`` signature to the digest of its bytes.

A file's key is the SHA-256 digest of its bytes, so a copy under another
name or folder, the same corpus mounted elsewhere on another machine, and
another process or a later run all find the same entries. Hashing every
file on every call would cost as much as reading the features back, so the
digest of a file is remembered under its stat signature (absolute path,
size, inode, device, modification and status-change times), which changes
whenever its content does: a rerun on the same machine only stats its files.
Within :data:`RACY_SECONDS` of a change a timestamp cannot tell two writes
apart (coarse file-system clocks), so such a file is hashed on every call
and kept out of the index. A waveform's key digests its samples.

Every file is written to a temporary name and renamed into place, so an
interrupted run never leaves a partial entry behind; unreadable packs and
index segments are ignored.
"""

from __future__ import annotations

import hashlib
import os
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import numpy as np

from ._files import atomic_write

RACY_SECONDS = 2.0
FORMAT_VERSION = 2

_LOAD_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)
_HASH_THREADS = 4
_DIGEST_CHARS = 32


def _digest(*parts):
    h = hashlib.blake2b(digest_size=_DIGEST_CHARS // 2)
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def file_digest(path):
    """Hex digest (SHA-256, first 128 bits) of the bytes of the file at ``path``."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()[:_DIGEST_CHARS]


def waveform_digest(y):
    """Hex digest of a waveform's dtype, shape and samples."""
    return _digest("waveform", y.dtype.str, y.shape, y.tobytes())


def source_key(source):
    """Cache key of one item of ``X``: the digest of a file's bytes or of a waveform."""
    return file_digest(source) if isinstance(source, str) else waveform_digest(source)


def _stat_signature(path):
    """Digest of what ``os.stat`` says about ``path``, and whether it is too recent to trust."""
    st = os.stat(path)
    changed = max(st.st_mtime_ns, st.st_ctime_ns) / 1e9
    signature = _digest(os.path.abspath(path), st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns, st.st_ctime_ns)
    return signature, changed


class StatIndex:
    """Stat signature -> content digest, kept as segment files in one folder.

    Each call that hashes new files adds one segment, written atomically, so
    processes sharing the folder never overwrite each other's entries. Once
    there are more than ``max_segments``, a reader merges them into one.
    Entries of files that were changed or deleted are never hit again; they
    take about 100 bytes each.
    """

    max_segments = 16

    def __init__(self, directory):
        self.directory = Path(directory)

    def read(self):
        """Every entry of every readable segment, as a dict."""
        segments = sorted(self.directory.glob("*.npz"))
        entries = {}
        for segment in segments:
            entries.update(_read_index_segment(segment))
        if len(segments) > self.max_segments:
            merged = self.add(entries)
            for segment in segments:
                if segment != merged:
                    with suppress(FileNotFoundError):
                        segment.unlink()
        return entries

    def add(self, entries):
        """Write ``entries`` (signature -> digest) as a new segment and return its path."""
        if not entries:
            return None
        signatures = sorted(entries)
        digests = [entries[s] for s in signatures]
        path = self.directory / f"{_digest(*signatures, *digests)}.npz"
        atomic_write(path, lambda fh: np.savez(fh, signatures=np.asarray(signatures), digests=np.asarray(digests)))
        return path


def _read_index_segment(path):
    try:
        with np.load(path, allow_pickle=False) as segment:
            signatures, digests = segment["signatures"], segment["digests"]
    except _LOAD_ERRORS:
        return {}
    if signatures.shape != digests.shape:
        return {}
    return dict(zip(signatures.tolist(), digests.tolist()))


class FeatureCache:
    """Per-utterance feature arrays stored in packs under one namespace directory.

    A pack is one ``.npz`` file holding the keys, lengths and concatenated
    features of up to ``pack_size`` utterances computed together, so that
    writing and reading a corpus costs a few large file operations instead
    of one per utterance.

    Parameters
    ----------
    directory : path-like
        The namespace folder holding the packs.
    index : StatIndex or None
        Where file digests are remembered; None hashes every file every time.
    """

    pack_size = 1024

    def __init__(self, directory, index=None):
        self.directory = Path(directory)
        self.index = index

    @classmethod
    def from_memory(cls, memory, namespace):
        """Build the cache for ``memory`` (None, a folder, or a joblib.Memory)."""
        if memory is None:
            return None
        location = getattr(memory, "location", memory)
        if location is None:
            return None
        root = Path(location).expanduser() / "sklearn_ser_features"
        return cls(root / namespace, index=StatIndex(root / "stat-index"))

    def keys(self, sources):
        """The key of every source; None for a file that cannot be read.

        A file whose stat signature is in the index is not read; the others
        are hashed (in a few threads when there are many) and, unless
        changed within :data:`RACY_SECONDS`, added to the index.
        """
        known = self.index.read() if self.index is not None else {}
        now = time.time()
        keys = [None] * len(sources)
        to_hash = []
        for i, source in enumerate(sources):
            if not isinstance(source, str):
                keys[i] = waveform_digest(source)
                continue
            try:
                signature, changed = _stat_signature(source)
            except OSError:
                continue
            trusted = now - changed >= RACY_SECONDS
            if trusted and signature in known:
                keys[i] = known[signature]
            else:
                to_hash.append((i, signature if trusted else None))
        digests = _hash_files([sources[i] for i, _ in to_hash])
        new = {}
        for (i, signature), digest in zip(to_hash, digests):
            keys[i] = digest
            if signature is not None and digest is not None:
                new[signature] = digest
        if self.index is not None:
            self.index.add(new)
        return keys

    def lookup(self, keys):
        """Cached arrays for ``keys``, ``None`` where an entry is missing."""
        wanted = {key for key in keys if key is not None}
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
            atomic_write(
                self.directory / f"{_digest(*chunk_keys)}.npz",
                lambda fh, k=chunk_keys, a=chunk: np.savez(
                    fh,
                    keys=np.asarray(k),
                    lengths=np.asarray([len(x) for x in a], dtype=np.int64),
                    data=np.concatenate(a, axis=0),
                ),
            )


def _hash_one(path):
    try:
        return file_digest(path)
    except OSError:
        return None


def _hash_files(paths):
    """Digests of ``paths`` (None for an unreadable file); hashing releases the GIL."""
    if len(paths) < 2 * _HASH_THREADS:
        return [_hash_one(path) for path in paths]
    with ThreadPoolExecutor(_HASH_THREADS) as pool:
        return list(pool.map(_hash_one, paths, chunksize=16))


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


def namespace(*parts):
    """Digest naming a cache namespace (class, parameters, library versions)."""
    return _digest(FORMAT_VERSION, *parts)
