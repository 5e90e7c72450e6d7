"""Faults of the feature cache and of the files it keys: nothing may hang, abort or serve wrong features.

A cache that cannot be written warns once and the features are computed
without it; a pack or an index segment holding anything but what the cache
writes is a miss, recomputed and stored again; a path that is not a regular
file is refused by name before anything opens it, with or without a cache.
"""

import errno
import io
import os
import pickle
import re
import shutil
import warnings
import zipfile

import joblib
import numpy as np
import pytest

from sklearn_ser import InvalidAudioError, _cache
from sklearn_ser._cache import FeatureCacheWarning, file_digest
from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import MelSpectrogram
from sklearn_ser.recipes import get_recipe

from .conftest import tone
from .test_audio import returns_within
from .test_cache import assert_same

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TIMEOUT = 60


@pytest.fixture(autouse=True)
def trusted_timestamps(monkeypatch):
    """Index every file at once, as the cache does for a corpus left alone for two seconds."""
    monkeypatch.setattr(_cache, "RACY_SECONDS", 0.0)


@pytest.fixture
def clips(write_audio):
    return [write_audio(f"c{i}.wav", tone(16000, seconds=0.3, freq=200 + 100 * i)) for i in range(4)]


def _packs(cache):
    return sorted((cache / "sklearn_ser_features").glob("MelSpectrogram-*/*.npz"))


def _cache_warnings(record):
    return [w for w in record if issubclass(w.category, FeatureCacheWarning)]


def _transform_and_warnings(transformer, X):
    """``transformer.fit_transform(X)`` and the FeatureCacheWarnings it gave."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        features = transformer.fit_transform(X)
    return features, _cache_warnings(record)


# --- A cache that cannot be written ---------------------------------------------------------------


def _failing_writes(monkeypatch, code):
    """Make every cache write fail with errno ``code``, as a full or read-only disk does; count the tries."""
    tries = []

    def failing(path, write, *, replaces):
        tries.append(path)
        raise OSError(code, os.strerror(code), os.fspath(path))

    monkeypatch.setattr(_cache, "atomic_write", failing)
    return tries


@pytest.mark.parametrize(
    "code, reason", [(errno.ENOSPC, "no space left on device"), (errno.EROFS, "read-only file system")]
)
def test_a_full_or_read_only_cache_warns_once_and_computes(tmp_path, clips, monkeypatch, code, reason):
    monkeypatch.setattr(_cache.FeatureCache, "pack_size", 1)  # four packs to write: still one warning
    tries = _failing_writes(monkeypatch, code)
    cache = tmp_path / "cache"
    features, caught = _transform_and_warnings(MelSpectrogram(memory=cache, n_jobs=2), clips)
    assert_same(features, MelSpectrogram().fit_transform(clips))
    assert len(caught) == 1 and len(tries) == 1, "one failed write, one warning, then no more tries"
    message = str(caught[0].message)
    assert f"'{cache / 'sklearn_ser_features'}'" in message and reason in message


def test_a_read_only_folder_warns_and_computes(tmp_path, clips):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        if os.access(cache, os.W_OK):
            pytest.skip("folder permissions do not apply to this user (root)")
        features, caught = _transform_and_warnings(MelSpectrogram(memory=cache), clips)
    finally:
        cache.chmod(0o755)
    assert_same(features, MelSpectrogram().fit_transform(clips))
    assert len(caught) == 1 and "permission denied" in str(caught[0].message)


@pytest.mark.parametrize("where", ["memory", "root", "namespace", "index"])
def test_a_file_where_a_cache_folder_should_be(tmp_path, clips, where):
    cache = tmp_path / "cache"
    MelSpectrogram(memory=cache).fit_transform(clips[:1])
    root = cache / "sklearn_ser_features"
    (namespace,) = root.glob("MelSpectrogram-*")
    folder = {"memory": cache, "root": root, "namespace": namespace, "index": root / "stat-index"}[where]
    _replace_by_a_file(folder)
    features, caught = _transform_and_warnings(MelSpectrogram(memory=cache), clips)
    assert_same(features, MelSpectrogram().fit_transform(clips))
    assert len(caught) == 1
    assert f"'{folder}' is a file, not a folder" in str(caught[0].message)


def _replace_by_a_file(folder):
    shutil.rmtree(folder)
    folder.write_text("not a folder")


def test_a_folder_with_the_name_of_a_pack(tmp_path, clips, count_computations):
    cache = tmp_path / "cache"
    expected = MelSpectrogram(memory=cache).fit_transform(clips)
    (pack,) = _packs(cache)
    pack.unlink()
    pack.mkdir()
    features, caught = _transform_and_warnings(MelSpectrogram(memory=cache), clips)
    assert_same(features, expected)
    assert len(count_computations) == 8 and len(caught) == 1
    assert f"{pack} exists and is not a regular file" in str(caught[0].message)


def test_an_error_of_the_audio_is_raised_even_when_the_cache_cannot_be_written(tmp_path, clips, monkeypatch):
    _failing_writes(monkeypatch, errno.ENOSPC)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    with pytest.warns(FeatureCacheWarning), pytest.raises(InvalidAudioError, match="broken.wav"):
        MelSpectrogram(memory=tmp_path / "cache").fit_transform([*clips, broken])


# --- Packs and index segments of unexpected content -------------------------------------------


def _record_unpickling():
    _Tripwire.unpickled.append("unpickled")


class _Tripwire:
    """An object that, if ever unpickled, records it."""

    unpickled = []

    def __reduce__(self):
        return (_record_unpickling, ())


def _npz(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _claiming_rows(n_rows):
    """A pack whose ``data`` header declares ``n_rows`` rows, while it holds the real ones."""

    def make(keys, lengths, data):
        member = io.BytesIO()
        header = {"descr": np.lib.format.dtype_to_descr(data.dtype), "fortran_order": False, "shape": (n_rows, 64)}
        np.lib.format.write_array_header_1_0(member, header)
        member.write(data.tobytes())
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("keys.npy", _npy(keys))
            archive.writestr("lengths.npy", _npy(lengths))
            archive.writestr("data.npy", member.getvalue())
        return buffer.getvalue()

    return make


def _negative_first(lengths):
    """Lengths with the same sum, the first of them negative."""
    changed = lengths.copy()
    changed[1] += changed[0] + 1
    changed[0] = -1
    return changed


# name -> the bytes to put in place of a pack, from the pack's own (keys, lengths, data)
UNEXPECTED_PACKS = {
    "an .npy file": lambda keys, lengths, data: _npy(data),
    "other member names": lambda keys, lengths, data: _npz(names=keys, sizes=lengths, values=data),
    "a missing member": lambda keys, lengths, data: _npz(keys=keys, data=data),
    "an extra member": lambda keys, lengths, data: _npz(keys=keys, lengths=lengths, data=data, more=lengths),
    "integer keys": lambda keys, lengths, data: _npz(keys=np.arange(len(keys)), lengths=lengths, data=data),
    "float lengths": lambda keys, lengths, data: _npz(keys=keys, lengths=lengths * 1.0, data=data),
    "string data": lambda keys, lengths, data: _npz(keys=keys, lengths=lengths, data=data.astype(str)),
    "integer data": lambda keys, lengths, data: _npz(keys=keys, lengths=lengths, data=data.astype(np.int32)),
    "complex data": lambda keys, lengths, data: _npz(keys=keys, lengths=lengths, data=data.astype(complex)),
    "1-D data": lambda keys, lengths, data: _npz(keys=keys, lengths=lengths, data=data.ravel()),
    "2-D keys": lambda keys, lengths, data: _npz(keys=keys[:, None], lengths=lengths, data=data),
    "big-endian data": lambda keys, lengths, data: _npz(keys=keys, lengths=lengths, data=data.astype(">f4")),
    "lengths not summing to the data": lambda keys, lengths, data: _npz(keys=keys, lengths=lengths + 1, data=data),
    "negative lengths": lambda keys, lengths, data: _npz(keys=keys, lengths=_negative_first(lengths), data=data),
    "fewer lengths than keys": lambda keys, lengths, data: _npz(keys=keys, lengths=lengths[:-1], data=data),
    "object keys": lambda keys, lengths, data: _npz(keys=keys.astype(object), lengths=lengths, data=data),
    "a pickled object": lambda keys, lengths, data: _npz(
        keys=keys, lengths=lengths, data=np.array([_Tripwire()], dtype=object)
    ),
    "compressed members": lambda keys, lengths, data: _compressed(keys=keys, lengths=lengths, data=data),
    "a header claiming 10**12 rows": _claiming_rows(10**12),
    "a header claiming fewer rows": _claiming_rows(3),
    "garbage": lambda keys, lengths, data: b"PK\x03\x04" + os.urandom(300),
    "empty": lambda keys, lengths, data: b"",
}


def _compressed(**arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("content", sorted(UNEXPECTED_PACKS))
def test_a_pack_of_unexpected_content_is_a_miss_and_is_healed(tmp_path, clips, count_computations, content):
    cache = tmp_path / "cache"
    expected = MelSpectrogram(memory=cache).fit_transform(clips)
    (pack,) = _packs(cache)
    with np.load(pack) as arrays:
        original = (arrays["keys"], arrays["lengths"], arrays["data"])
    pack.write_bytes(UNEXPECTED_PACKS[content](*original))
    features, caught = _transform_and_warnings(MelSpectrogram(memory=cache), clips)
    assert_same(features, expected)
    assert len(count_computations) == 8 and not caught
    assert _Tripwire.unpickled == [], "the cache unpickled a pack"
    assert_same(MelSpectrogram(memory=cache).fit_transform(clips), expected)
    assert len(count_computations) == 8, "the recomputed entries were stored again"


def test_a_file_named_as_a_pack_with_other_content_is_deleted(tmp_path, clips, count_computations):
    cache = tmp_path / "cache"
    expected = MelSpectrogram(memory=cache).fit_transform(clips)
    (pack,) = _packs(cache)
    stray = pack.with_name("0" * len(pack.stem) + ".npz")  # read first: sorted before any other digest
    stray.write_bytes(_npy(np.zeros(3)))
    assert_same(MelSpectrogram(memory=cache).fit_transform(clips), expected)
    assert len(count_computations) == 4 and not stray.exists() and pack.exists()


def test_a_file_of_another_name_among_the_packs_is_neither_read_nor_removed(tmp_path, clips, count_computations):
    cache = tmp_path / "cache"
    expected = MelSpectrogram(memory=cache).fit_transform(clips)
    (pack,) = _packs(cache)
    own = {pack.with_name("0-notes.npz"): _npy(np.zeros(3)), pack.with_name(pack.stem + "-copy.npz"): pack.read_bytes()}
    for path, content in own.items():
        path.write_bytes(content)
    assert_same(MelSpectrogram(memory=cache).fit_transform(clips), expected)
    assert len(count_computations) == 4 and all(path.read_bytes() == content for path, content in own.items())


def test_a_named_pipe_in_place_of_a_pack_is_not_opened(tmp_path, clips, count_computations):
    cache = tmp_path / "cache"
    expected = MelSpectrogram(memory=cache).fit_transform(clips)
    (pack,) = _packs(cache)
    pack.unlink()
    os.mkfifo(pack)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FeatureCacheWarning)  # the pipe also takes the name of the new pack
        features = returns_within(TIMEOUT, MelSpectrogram(memory=cache).fit_transform, clips)
    assert_same(features, expected)
    assert len(count_computations) == 8


UNEXPECTED_SEGMENTS = {
    "an .npy file": lambda signatures, digests: _npy(digests),
    "other member names": lambda signatures, digests: _npz(stats=signatures, hashes=digests),
    "integer digests": lambda signatures, digests: _npz(signatures=signatures, digests=np.arange(len(digests))),
    "object digests": lambda signatures, digests: _npz(signatures=signatures, digests=digests.astype(object)),
    "a pickled object": lambda signatures, digests: _npz(
        signatures=signatures, digests=np.array([_Tripwire()], dtype=object)
    ),
    "different lengths": lambda signatures, digests: _npz(signatures=signatures, digests=digests[:-1]),
    "garbage": lambda signatures, digests: os.urandom(200),
}


@pytest.mark.parametrize("content", sorted(UNEXPECTED_SEGMENTS))
def test_an_index_segment_of_unexpected_content_is_ignored_and_healed(
    tmp_path, clips, count_computations, monkeypatch, content
):
    hashed = []
    original_digest = _cache.file_digest
    monkeypatch.setattr(_cache, "file_digest", lambda path: hashed.append(path) or original_digest(path))
    cache = tmp_path / "cache"
    expected = MelSpectrogram(memory=cache).fit_transform(clips)
    (segment,) = (cache / "sklearn_ser_features" / "stat-index").glob("*.npz")
    with np.load(segment) as arrays:
        segment.write_bytes(UNEXPECTED_SEGMENTS[content](arrays["signatures"], arrays["digests"]))
    features, caught = _transform_and_warnings(MelSpectrogram(memory=cache), clips)
    assert_same(features, expected)
    assert len(hashed) == 8 and len(count_computations) == 4 and not caught, "rehashed, then read from the packs"
    assert _Tripwire.unpickled == [], "the cache unpickled an index segment"
    MelSpectrogram(memory=cache).fit_transform(clips)
    assert len(hashed) == 8, "the rehashed digests were indexed again"


# --- Paths that are not regular files, with a cache --------------------------------------------


def _special(kind, tmp_path):
    """A path of the given kind, and what the error must call it."""
    if kind == "named pipe":
        path = tmp_path / "pipe.wav"
        os.mkfifo(path)
        return path, "is a named pipe, not a regular file"
    if not os.path.exists(f"/dev/{kind}"):
        pytest.skip(f"no /dev/{kind} here")
    return f"/dev/{kind}", "is a character device, not a regular file"


@pytest.mark.parametrize("kind", ["named pipe", "zero", "urandom"])
@pytest.mark.parametrize("memory", [False, True], ids=["no cache", "cache"])
def test_a_special_file_is_refused_at_once_with_or_without_a_cache(tmp_path, clips, kind, memory):
    path, reason = _special(kind, tmp_path)
    mel = MelSpectrogram(memory=tmp_path / "cache" if memory else None)
    with pytest.raises(InvalidAudioError, match=f"'{re.escape(str(path))}' {reason}"):
        returns_within(TIMEOUT, mel.fit_transform, [*clips, path])


@pytest.mark.parametrize("kind", ["named pipe", "zero"])
def test_the_key_of_a_special_file_is_refused_at_once(tmp_path, kind):
    path, reason = _special(kind, tmp_path)
    with pytest.raises(InvalidAudioError, match=f"'{re.escape(str(path))}' {reason}"):
        returns_within(TIMEOUT, file_digest, str(path))
    cache = _cache.FeatureCache.from_memory(tmp_path / "cache", "namespace")
    assert returns_within(TIMEOUT, cache.keys, [str(path)]) == [None]


def test_a_directory_is_refused_with_a_cache(tmp_path, clips):
    folder = tmp_path / "folder.wav"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=f"'{re.escape(str(folder))}' is a directory"):
        MelSpectrogram(memory=tmp_path / "cache").fit_transform([*clips, folder])


def test_cli_predict_with_a_cached_model_refuses_a_named_pipe(tmp_path, capsys):
    root = tmp_path / "corpus"
    frame = make_synthetic_corpus(root, n_speakers=1, n_words=2, emotions=("angry", "sad"), random_state=0)
    model = tmp_path / "model.joblib"
    joblib.dump(get_recipe("svm-mfcc", memory=str(tmp_path / "cache")).fit(frame["path"], frame["label"]), model)
    pipe = tmp_path / "pipe.wav"
    os.mkfifo(pipe)
    good = frame["path"][0]
    assert returns_within(TIMEOUT, main, ["predict", str(model), good, str(pipe)]) == 1
    captured = capsys.readouterr()
    assert f"'{pipe}' is a named pipe, not a regular file" in captured.err
    assert captured.out.splitlines()[1].startswith(f"{good},")


def test_the_pickle_tripwire_works():
    pickle.loads(pickle.dumps(_Tripwire()))
    assert _Tripwire.unpickled == ["unpickled"]
    _Tripwire.unpickled.clear()
