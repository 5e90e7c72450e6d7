import os
import shutil
import subprocess
import sys
import time

import joblib
import numpy as np
import pytest

from sklearn_ser import _cache
from sklearn_ser._cache import RACY_SECONDS, StatIndex, file_digest
from sklearn_ser.features import MFCC, MelSpectrogram

from .conftest import tone


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


@pytest.fixture
def count_hashes(monkeypatch):
    hashed = []
    original = _cache.file_digest

    def counting(path):
        hashed.append(path)
        return original(path)

    monkeypatch.setattr(_cache, "file_digest", counting)
    return hashed


def test_keys_are_the_content_not_the_path(tmp_path, write_audio):
    path = write_audio("a.wav", tone(16000, seconds=0.2))
    (tmp_path / "elsewhere").mkdir()
    copy = shutil.copy(path, tmp_path / "elsewhere" / "b.wav")
    assert file_digest(str(copy)) == file_digest(str(path))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert file_digest(str(copy)) != file_digest(str(path))


def test_copy_under_another_name_and_folder_hits_the_cache(tmp_path, clips, count_computations):
    cache = tmp_path / "cache"
    first = MelSpectrogram(memory=cache).fit_transform(clips)
    (tmp_path / "moved").mkdir()
    copies = [shutil.copy(path, tmp_path / "moved" / f"renamed{i}.wav") for i, path in enumerate(clips)]
    assert_same(MelSpectrogram(memory=cache).fit_transform(copies[::-1]), first[::-1])
    assert len(count_computations) == 4


def test_identical_files_in_one_call_are_computed_once(tmp_path, clips, count_computations):
    copy = shutil.copy(clips[0], tmp_path / "copy.wav")
    out = MelSpectrogram(memory=tmp_path / "cache").fit_transform([clips[0], *clips[1:], copy])
    assert len(count_computations) == 4 and str(copy) not in count_computations
    np.testing.assert_array_equal(out[-1], out[0])


def test_a_rerun_only_stats_its_files(tmp_path, clips, count_hashes, count_computations, monkeypatch):
    monkeypatch.setattr(_cache, "RACY_SECONDS", 0.0)
    mel = MelSpectrogram(memory=tmp_path / "cache")
    mel.fit_transform(clips)
    assert sorted(count_hashes) == sorted(map(str, clips))
    MFCC(memory=tmp_path / "cache").fit_transform(clips)
    mel.fit_transform(clips)
    assert len(count_hashes) == 4, "the index of file digests is shared by every namespace"
    assert len(count_computations) == 8


def test_recently_changed_files_are_hashed_on_every_call(tmp_path, write_audio, count_hashes):
    fresh = write_audio("fresh.wav", tone(16000, seconds=0.2))
    mel = MelSpectrogram(memory=tmp_path / "cache")
    mel.fit_transform([fresh])
    mel.fit_transform([fresh])
    assert count_hashes == [str(fresh)] * 2


def test_the_index_sees_a_change_that_keeps_size_and_mtime(tmp_path, clips, count_computations, monkeypatch):
    monkeypatch.setattr(_cache, "RACY_SECONDS", 0.0)
    mel = MelSpectrogram(memory=tmp_path / "cache")
    before = mel.fit_transform(clips)
    stat = os.stat(clips[2])
    import soundfile

    soundfile.write(clips[2], tone(16000, seconds=0.5, freq=987), 16000)
    os.utime(clips[2], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = mel.fit_transform(clips)
    assert len(count_computations) == 5 and count_computations[-1] == str(clips[2])
    assert not np.array_equal(before[2], after[2])


def test_damaged_index_segments_are_ignored(tmp_path, clips, count_hashes, count_computations, monkeypatch):
    monkeypatch.setattr(_cache, "RACY_SECONDS", 0.0)
    cache = tmp_path / "cache"
    expected = MelSpectrogram(memory=cache).fit_transform(clips)
    for segment in (cache / "sklearn_ser_features" / "stat-index").glob("*.npz"):
        segment.write_bytes(segment.read_bytes()[:40])
    assert_same(MelSpectrogram(memory=cache).fit_transform(clips), expected)
    assert len(count_hashes) == 8 and len(count_computations) == 4


def test_index_segments_are_merged(tmp_path):
    index = StatIndex(tmp_path / "index")
    expected = {}
    for i in range(StatIndex.max_segments + 2):
        entries = {f"stat{i}-{j}": f"content{i}-{j}" for j in range(3)}
        index.add(entries)
        expected.update(entries)
    assert index.read() == expected
    assert len(list((tmp_path / "index").glob("*.npz"))) == 1
    assert index.read() == expected


def test_another_process_shares_the_entries(tmp_path, clips, count_computations):
    cache = tmp_path / "cache"
    (tmp_path / "other").mkdir()
    copies = [str(shutil.copy(path, tmp_path / "other" / path.name)) for path in clips]
    script = (
        "import sys\n"
        "from sklearn_ser.features import MelSpectrogram\n"
        "MelSpectrogram(memory=sys.argv[1]).fit_transform(sys.argv[2:])\n"
    )
    subprocess.run([sys.executable, "-c", script, str(cache), *copies], check=True)
    out = MelSpectrogram(memory=cache).fit_transform(clips)
    assert count_computations == []
    assert_same(out, MelSpectrogram().fit_transform(clips))


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
    MelSpectrogram(memory=tmp_path / "cache", backend="threads").fit_transform(clips)
    assert len(count_computations) == 4
    namespaces = {
        MelSpectrogram(backend=backend)._cache_namespace() for backend in [None, "threads", "processes", "dask"]
    }
    assert len(namespaces) == 1


def test_the_engine_is_part_of_the_namespace_and_the_device_is_not(tmp_path, clips):
    namespaces = {
        MelSpectrogram(engine=engine, device=device)._cache_namespace()
        for engine, device in [("numpy", "auto"), ("numpy", "cpu"), ("torch", "auto"), ("torch", "cpu")]
    }
    assert len(namespaces) == 2
    MelSpectrogram(engine="torch", device="cpu", memory=tmp_path / "cache").fit_transform(clips)
    MelSpectrogram(memory=tmp_path / "cache").fit_transform(clips)
    assert len(list((tmp_path / "cache" / "sklearn_ser_features").glob("MelSpectrogram-*"))) == 2


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
    (pack,) = (cache / "sklearn_ser_features").glob("MelSpectrogram-*/*.npz")
    assert len(np.load(pack)["keys"]) == 4 and not list(cache.rglob("*.tmp"))
    import soundfile

    soundfile.write(broken, tone(16000, seconds=0.4, freq=555), 16000)
    result = MelSpectrogram(memory=cache).fit_transform([*clips, broken])
    assert len(count_computations) == 6 and count_computations[-1] == str(broken)
    assert_same(result, MelSpectrogram().fit_transform([*clips, broken]))


def test_a_large_run_writes_packs_as_it_goes(tmp_path, clips, count_computations, monkeypatch):
    monkeypatch.setattr(_cache.FeatureCache, "pack_size", 2)
    cache = tmp_path / "cache"
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"garbage")
    waveforms = [tone(16000, seconds=0.1, freq=100 + 50 * i) for i in range(40)]
    with pytest.raises(ValueError, match="broken.wav"):
        MelSpectrogram(memory=cache).fit_transform([*waveforms, broken])
    packs = list((cache / "sklearn_ser_features").glob("MelSpectrogram-*/*.npz"))
    assert len(packs) == 20 and all(len(np.load(pack)["keys"]) == 2 for pack in packs)
