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
interrupted run never leaves a partial entry behind. A pack or index
segment is used only if it holds exactly the arrays the cache writes (see
:func:`_open_archive`); anything else is a miss, whose entries are
recomputed and stored again (a pack of other content is deleted; files not named
as the cache names them are never read or removed). A cache
that cannot be written (read-only, full, a file where a folder should be)
gives one :class:`FeatureCacheWarning`, and the features are computed
without it. Only regular files are keyed: anything else is left to
loading, which refuses it by name.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import re
import stat
import time
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

from ._audio import InvalidAudioError, open_regular_file
from ._files import atomic_write

RACY_SECONDS = 2.0
FORMAT_VERSION = 2

_HASH_THREADS = 4
_DIGEST_CHARS = 32
# What reading a file whose content is not what the cache wrote may raise.
_UNEXPECTED_CONTENT = (ValueError, EOFError, KeyError, zipfile.BadZipFile)
_ENCRYPTED = 0x1  # a zip member's general-purpose flag bit 0
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


class FeatureCacheWarning(UserWarning):
    """The feature cache cannot be written; the features are computed without it.

    Raised once per extraction, naming the cache folder and the reason (a
    read-only or full disk, a file where a folder should be). Filter it with
    :func:`warnings.filterwarnings` to silence it, or turn it into an error
    to stop instead.

    Examples
    --------
    >>> import tempfile, warnings
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_ser.features import MelSpectrogram
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     cache = Path(folder) / "cache"
    ...     _ = cache.write_text("a file where the cache folder should be")
    ...     with warnings.catch_warnings(record=True) as caught:
    ...         warnings.simplefilter("always")
    ...         features = MelSpectrogram(sr=8000, memory=cache).fit_transform([np.zeros(800, np.float32)])
    >>> len(features), [warning.category.__name__ for warning in caught]
    (1, ['FeatureCacheWarning'])
    """


_OWN_ARCHIVE_NAME = re.compile(rf"[0-9a-f]{{{_DIGEST_CHARS}}}\.npz")


def _digest(*parts):
    h = hashlib.blake2b(digest_size=_DIGEST_CHARS // 2)
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def file_digest(path):
    """Hex digest (SHA-256, first 128 bits) of the bytes of the file at ``path``.

    Raises the errors of :func:`sklearn_ser._audio.open_regular_file`: what
    is not a regular file is refused before it is opened.
    """
    with open_regular_file(path) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()[:_DIGEST_CHARS]


def waveform_digest(y):
    """Hex digest of a waveform's dtype, shape and samples."""
    return _digest("waveform", y.dtype.str, y.shape, y.tobytes())


def _regular_file_status(path):
    """``os.stat(path)`` of a regular file; None for anything else, which loading names."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status if stat.S_ISREG(status.st_mode) else None


def _stat_signature(path, st):
    """Digest of what ``os.stat`` said (``st``) about ``path``, and when it last changed."""
    changed = max(st.st_mtime_ns, st.st_ctime_ns) / 1e9
    signature = _digest(os.path.abspath(path), st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns, st.st_ctime_ns)
    return signature, changed


class StatIndex:
    """Stat signature -> content digest, kept as segment files in one folder.

    Each call that hashes new files adds one segment, written atomically, so
    processes sharing the folder never overwrite each other's entries. Once
    there are more than ``max_segments``, a reader merges them into one.
    Entries of files that were changed or deleted are never hit again; they
    take about 100 bytes each. A segment that cannot be read, or holds
    anything but the two string arrays written here, is ignored until a
    merge removes it.
    """

    max_segments = 16

    def __init__(self, directory):
        self.directory = Path(directory)

    def read(self):
        """Every entry of every usable segment, as a dict."""
        segments = _own_archives(self.directory)
        entries = {}
        for segment in segments:
            entries.update(_read_index_segment(segment))
        if len(segments) > self.max_segments:
            self._merge(segments, entries)
        return entries

    def add(self, entries):
        """Write ``entries`` (signature -> digest) as a new segment and return its path.

        Raises
        ------
        OSError or ValueError
            If the segment cannot be written (see
            :func:`sklearn_ser._files.atomic_write`); no partial segment is left.
        """
        if not entries:
            return None
        path, arrays = self.segment(entries)
        atomic_write(path, lambda fh: np.savez(fh, **arrays), replaces="cache")
        return path

    def segment(self, entries):
        """The path and the arrays of the segment holding ``entries``."""
        signatures = sorted(entries)
        digests = [entries[s] for s in signatures]
        path = self.directory / f"{_digest(*signatures, *digests)}.npz"
        return path, {"signatures": np.asarray(signatures), "digests": np.asarray(digests)}

    def _merge(self, segments, entries):
        """Replace ``segments`` by one holding ``entries``; left as they are if it cannot be written."""
        try:
            merged = self.add(entries)
        except (OSError, ValueError):
            return  # the caller's own write reports a cache that cannot be written
        for segment in segments:
            if segment != merged:
                _remove(segment)


class FeatureCache:
    """Per-utterance feature arrays stored in packs under one namespace directory.

    A pack is one ``.npz`` file holding the keys, lengths and concatenated
    features of up to ``pack_size`` utterances computed together, so that
    writing and reading a corpus costs a few large file operations instead
    of one per utterance. Features are 2-D float arrays (frames first).

    The cache never stops an extraction: a pack that cannot be read or holds
    anything but what :meth:`store` writes is a miss (and is deleted when its
    content is wrong), and once a write fails (a read-only or full disk, a
    file where a folder should be) a :class:`FeatureCacheWarning` says so and
    nothing more is written.

    Parameters
    ----------
    directory : path-like
        The namespace folder holding the packs.
    index : StatIndex or None
        Where file digests are remembered; None hashes every file every time.
    """

    pack_size = 1024
    #: Seconds after which an extraction writes what it has computed, even short of a pack.
    flush_seconds = 10.0

    def __init__(self, directory, index=None):
        self.directory = Path(directory)
        self.index = index
        self._unwritable = False

    @classmethod
    def from_memory(cls, memory, namespace):
        """Build the cache for ``memory``: None, a folder, or a joblib.Memory of which only the location is used."""
        if memory is None:
            return None
        location = getattr(memory, "location", memory)
        if location is None:
            return None
        root = Path(location).expanduser() / "sklearn_ser_features"
        return cls(root / namespace, index=StatIndex(root / "stat-index"))

    def keys(self, sources):
        """The key of every source; None for a file that cannot be read or is not a regular file.

        A file whose stat signature is in the index is not read; the others
        are hashed (in a few threads when there are many) and, unless
        changed within :data:`RACY_SECONDS`, added to the index. Nothing
        but a regular file is opened: loading names what is wrong with the
        others.
        """
        known = self.index.read() if self.index is not None else {}
        now = time.time()
        keys = [None] * len(sources)
        to_hash = []
        for i, source in enumerate(sources):
            if not isinstance(source, str):
                keys[i] = waveform_digest(source)
                continue
            status = _regular_file_status(source)
            if status is None:
                continue
            signature, changed = _stat_signature(source, status)
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
        if self.index is not None and new:
            self._write(*self.index.segment(new))
        return keys

    def lookup(self, keys):
        """Cached arrays for ``keys``, ``None`` where an entry is missing or unusable."""
        wanted = {key for key in keys if key is not None}
        found = {}
        for pack in _own_archives(self.directory):
            if not wanted:
                break
            found.update(_read_pack(pack, wanted))
            wanted.difference_update(found)
        return [found.get(key) for key in keys]

    def store(self, keys, arrays):
        """Write the features of ``keys`` as packs of at most ``pack_size``.

        Nothing is raised if the cache cannot be written: see the class
        description.
        """
        for start in range(0, len(keys), self.pack_size):
            chunk_keys = keys[start : start + self.pack_size]
            chunk = arrays[start : start + self.pack_size]
            pack = {
                "keys": np.asarray(chunk_keys),
                "lengths": np.asarray([len(x) for x in chunk], dtype=np.int64),
                "data": np.concatenate(chunk, axis=0),
            }
            self._write(self.directory / f"{_digest(*chunk_keys)}.npz", pack)

    def _write(self, path, arrays):
        """Write ``arrays`` to the ``.npz`` file ``path``, unless a write failed before.

        A failure is a warning, not an error, and nothing more is written.
        """
        if self._unwritable:
            return
        try:
            atomic_write(path, lambda fh: np.savez(fh, **arrays), replaces="cache")
        except (OSError, ValueError) as exc:  # atomic_write's ValueError: a folder or a pipe has the name
            self._unwritable = True
            warnings.warn(
                f"The feature cache '{self.directory.parent}' cannot be written ({_write_failure(exc)}); "
                "the features are computed without storing them.",
                FeatureCacheWarning,
                stacklevel=3,
            )


def _write_failure(exc):
    """Why a write failed, in words, naming the file or folder at fault."""
    if not isinstance(exc, OSError):
        return str(exc).rstrip(".")
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and exc.filename is not None:
        return f"'{_first_non_folder(Path(os.fsdecode(exc.filename)))}' is a file, not a folder"
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    return f"{reason}: '{os.fsdecode(exc.filename)}'" if exc.filename is not None else reason


def _first_non_folder(path):
    """The first of ``path`` and its parents that exists and is not a folder (``path`` if none is)."""
    return next((p for p in reversed([path, *path.parents]) if p.exists() and not p.is_dir()), path)


def _hash_one(path):
    try:
        return file_digest(path)
    except (OSError, InvalidAudioError):
        return None


def _hash_files(paths):
    """Digests of ``paths`` (None for an unreadable file); hashing releases the GIL."""
    if len(paths) < 2 * _HASH_THREADS:
        return [_hash_one(path) for path in paths]
    with ThreadPoolExecutor(_HASH_THREADS) as pool:
        return list(pool.map(_hash_one, paths, chunksize=16))


class _UnexpectedContent(Exception):
    """A cache file holds something other than what the cache writes."""


def _has_shape(kind, ndim):
    """A test that an array header declares dtype kind ``kind`` and ``ndim`` dimensions."""
    return lambda dtype, shape: dtype.kind == kind and len(shape) == ndim


_PACK_MEMBERS = {"keys": _has_shape("U", 1), "lengths": _has_shape("i", 1), "data": _has_shape("f", 2)}
_INDEX_MEMBERS = {"signatures": _has_shape("U", 1), "digests": _has_shape("U", 1)}


def _read_pack(path, wanted):
    """The entries of one pack whose keys are in ``wanted``.

    No entries if the pack cannot be read or holds anything but what
    :meth:`FeatureCache.store` writes; a pack of other content is deleted.
    """
    try:
        with _open_archive(path, _PACK_MEMBERS) as read:
            keys = read("keys")
            hits = [i for i, key in enumerate(keys.tolist()) if key in wanted]
            if not hits:
                return {}
            lengths, data = read("lengths"), read("data")
        if len(lengths) != len(keys) or (lengths < 0).any() or lengths.sum() != len(data):
            raise _UnexpectedContent
    except OSError:
        return {}
    except (_UnexpectedContent, *_UNEXPECTED_CONTENT):
        _remove(path)  # its entries are recomputed and stored again
        return {}
    items = np.split(data, np.cumsum(lengths)[:-1])
    return {keys[i].item(): items[i] for i in hits}


def _read_index_segment(path):
    """The entries of one index segment; none if it cannot be read or holds anything else."""
    try:
        with _open_archive(path, _INDEX_MEMBERS) as read:
            signatures, digests = read("signatures"), read("digests")
    except (OSError, _UnexpectedContent, *_UNEXPECTED_CONTENT):
        return {}
    if signatures.shape != digests.shape:
        return {}
    return dict(zip(signatures.tolist(), digests.tolist()))


@contextmanager
def _open_archive(path, members):
    """A reader of the ``.npy`` members of the ``.npz`` file at ``path``, by name.

    The archive must hold exactly ``members`` (name -> test of a dtype and
    shape), uncompressed and unencrypted as :func:`numpy.savez` writes them;
    a member is read only when asked for. Nothing else is accepted
    (:class:`_UnexpectedContent`, or the errors of :data:`_UNEXPECTED_CONTENT`),
    and no more is read or allocated than the file holds. Pickled (object)
    arrays are refused. A named pipe or a device is never opened.

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise _UnexpectedContent
    with open(path, "rb", opener=_open_without_waiting) as fh:
        status = os.fstat(fh.fileno())  # the path may have been replaced since
        if not stat.S_ISREG(status.st_mode):
            raise _UnexpectedContent
        with zipfile.ZipFile(fh) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            if sorted(infos) != sorted(f"{name}.npy" for name in members):
                raise _UnexpectedContent
            yield lambda name: _read_member(archive, infos[f"{name}.npy"], members[name], status.st_size)


def _open_without_waiting(name, flags):
    return os.open(name, flags | getattr(os, "O_NONBLOCK", 0))


def _read_member(archive, info, accepts, archive_size):
    """One ``.npy`` member of ``archive`` as a writable array; its header must pass ``accepts``."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & _ENCRYPTED or info.file_size > archive_size:
        raise _UnexpectedContent
    with archive.open(info) as member:
        read_header = _NPY_HEADER_READERS.get(np.lib.format.read_magic(member))
        if read_header is None:
            raise _UnexpectedContent
        shape, fortran_order, dtype = read_header(member)
        if dtype.hasobject or not dtype.isnative or not accepts(dtype, shape):
            raise _UnexpectedContent
        n_bytes = dtype.itemsize * math.prod(shape)
        if member.tell() + n_bytes != info.file_size:
            raise _UnexpectedContent
        buffer = bytearray(n_bytes)
        if member.readinto(buffer) != n_bytes:
            raise _UnexpectedContent
    return np.frombuffer(buffer, dtype).reshape(shape, order="F" if fortran_order else "C")


def _own_archives(directory):
    """The ``.npz`` files in ``directory`` named as the cache names them (a digest): no other is read or removed."""
    return sorted(path for path in Path(directory).glob("*.npz") if _OWN_ARCHIVE_NAME.fullmatch(path.name))


def _remove(path):
    with suppress(OSError):
        path.unlink()


def default_cache_dir():
    """``$SKLEARN_SER_CACHE``, else ``$XDG_CACHE_HOME/sklearn-ser``, else ``~/.cache/sklearn-ser``."""
    if os.environ.get("SKLEARN_SER_CACHE"):
        return Path(os.environ["SKLEARN_SER_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sklearn-ser"


def namespace(*parts):
    """Digest naming a cache namespace (class, parameters, library versions)."""
    return _digest(FORMAT_VERSION, *parts)
