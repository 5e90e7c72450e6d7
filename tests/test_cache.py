import os
import time

import joblib
import numpy as np
import pytest

from sklearn_ser import _extraction
from sklearn_ser._cache import RACY_SECONDS, source_key
from sklearn_ser.features import MFCC, MelSpectrogram

from .conftest import tone


@pytest.fixture
def count_computations(monkeypatch):
    calls = []
    original = _extraction._compute_one

    def counting(source, compute, sr):
        calls.append(source)
        return original(source, compute, sr)

    monkeypatch.setattr(_extraction, "_compute_one", counting)
    return calls


def settle(*paths):
    """Date files back past the window in which timestamps cannot be trusted."""
    past = time.time() - 10 * RACY_SECONDS
    for path in paths:
        os.utime(path, (past, past))


@pytest.fixture
def clips(write_audio):
    paths = [write_audio(f"c{i}.wav", tone(16000, seconds=0.5, freq=200 + 100 * i)) for i in range(4)]
    settle(*paths)
    return paths


def assert_same(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_second_extraction_reads_the_cache(tmp_path, clips, count_computations):
    mel = MelSpectrogram(memory=tmp_path / "cache")
    first = mel.fit_transform(clips)
    assert len(count_computations) == 4
    second = mel.fit_transform(clips)
    assert len(count_computations) == 4
    assert_same(first, second)
    assert_same(first, MelSpectrogram().fit_transform(clips))


def test_subsets_and_new_files_reuse_entries(tmp_path, clips, count_computations, write_audio):
    mel = MelSpectrogram(memory=tmp_path / "cache")
    full = mel.fit_transform(clips)
    subset = mel.fit_transform([clips[2], clips[0]])
    assert len(count_computations) == 4
    assert_same(subset, [full[2], full[0]])
    extra = write_audio("extra.wav", tone(16000, seconds=0.3))
    mel.fit_transform([extra, *clips])
    assert len(count_computations) == 5


def test_content_change_with_same_size_and_mtime_is_seen(tmp_path, clips, count_computations):
    mel = MelSpectrogram(memory=tmp_path / "cache")
    before = mel.fit_transform(clips)
    stat = os.stat(clips[1])
    import soundfile

    soundfile.write(clips[1], tone(16000, seconds=0.5, freq=1234), 16000)
    os.utime(clips[1], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.path.getsize(clips[1]) == stat.st_size
    after = mel.fit_transform(clips)
    assert count_computations[-1] == str(clips[1]) and len(count_computations) == 5
    assert not np.array_equal(before[1], after[1])
    assert_same(after, MelSpectrogram().fit_transform(clips))


def test_recent_files_are_keyed_by_content(write_audio):
    path = write_audio("fresh.wav", tone(16000, seconds=0.2))
    key = source_key(str(path))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    stat = os.stat(path)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source_key(str(path), now=stat.st_ctime_ns / 1e9) != key


def test_waveforms_are_keyed_by_samples(tmp_path, count_computations):
    mel = MelSpectrogram(memory=tmp_path / "cache")
    y = tone(16000, seconds=0.2)
    mel.fit_transform([y])
    mel.fit_transform([y.copy()])
    assert len(count_computations) == 1
    changed = y.copy()
    changed[10] += 0.01
    mel.fit_transform([changed])
    assert len(count_computations) == 2


@pytest.mark.parametrize("change", [dict(n_mels=32), dict(hop_length=80), dict(top_db=None), dict(sr=8000)])
def test_any_feature_parameter_change_misses(tmp_path, clips, count_computations, change):
    MelSpectrogram(memory=tmp_path / "cache").fit_transform(clips)
    changed = MelSpectrogram(memory=tmp_path / "cache", **change).fit_transform(clips)
    assert len(count_computations) == 8
    assert_same(changed, MelSpectrogram(**change).fit_transform(clips))


def test_execution_parameters_share_the_cache(tmp_path, clips, count_computations):
    MelSpectrogram(memory=tmp_path / "cache").fit_transform(clips)
    MelSpectrogram(memory=str(tmp_path / "cache"), n_jobs=2, verbose=0).fit_transform(clips)
    assert len(count_computations) == 4


def test_transformers_do_not_share_entries(tmp_path, clips):
    mel = MelSpectrogram(memory=tmp_path / "cache").fit_transform(clips)
    mfcc = MFCC(memory=tmp_path / "cache").fit_transform(clips)
    assert mel[0].shape[1] == 64 and mfcc[0].shape[1] == 40


def test_joblib_memory_is_accepted(tmp_path, clips, count_computations):
    MelSpectrogram(memory=joblib.Memory(tmp_path / "cache", verbose=0)).fit_transform(clips)
    MelSpectrogram(memory=tmp_path / "cache").fit_transform(clips)
    assert len(count_computations) == 4
    MelSpectrogram(memory=joblib.Memory(None)).fit_transform(clips)
    assert len(count_computations) == 8


def test_damaged_entries_are_recomputed(tmp_path, clips, count_computations):
    cache = tmp_path / "cache"
    expected = MelSpectrogram(memory=cache).fit_transform(clips)
    for entry in cache.rglob("*.np*"):
        entry.write_bytes(entry.read_bytes()[:50])
    assert_same(MelSpectrogram(memory=cache).fit_transform(clips), expected)
    assert len(count_computations) == 8
    assert not list(cache.rglob("*.tmp"))


def test_interrupted_extraction_keeps_finished_entries(tmp_path, clips, count_computations):
    cache = tmp_path / "cache"
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="broken.wav"):
        MelSpectrogram(memory=cache).fit_transform([*clips, broken])
    (pack,) = cache.rglob("*.npz")
    assert len(np.load(pack)["keys"]) == 4 and not list(cache.rglob("*.tmp"))
    broken.write_bytes(clips[0].read_bytes())
    settle(broken)
    result = MelSpectrogram(memory=cache).fit_transform([*clips, broken])
    assert len(count_computations) == 6 and count_computations[-1] == str(broken)
    np.testing.assert_array_equal(result[-1], result[0])
