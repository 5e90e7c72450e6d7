"""Faults end to end: interrupted extractions and files changed under a feature cache.

tests/test_cache.py checks the cache itself on one transformer; here the
faults go through what users run (a recipe Pipeline with ``memory=``, in
parallel, and the command line), and a process is killed outright. In every
case the next run must equal a fresh computation without the cache: no
partial, stale or other file's entry may be served.
"""

import errno
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile

from sklearn_ser import InvalidAudioError, _cache
from sklearn_ser._cache import FeatureCacheWarning
from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import MFCC, MelSpectrogram
from sklearn_ser.recipes import get_recipe

from .conftest import tone

SR = 16000
N_FILES = 40  # more than two chunks of files dispatched to workers
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _settle(*paths):
    """Date files a minute back, so the cache trusts their timestamps as it would a corpus's."""
    past = time.time() - 60
    for path in paths:
        os.utime(path, (past, past))


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    paths = []
    for i in range(N_FILES):
        path = folder / f"u{i:02d}.wav"
        soundfile.write(path, tone(SR, seconds=0.2 + 0.005 * i, freq=120 + 15 * i, amplitude=0.2 + 0.01 * i), SR)
        paths.append(str(path))
    _settle(*paths)
    labels = ["low" if i % 2 else "high" for i in range(N_FILES)]
    return paths, labels


class CountingComputations:
    """Counts the utterances a transformer class computes (cache hits are not computed)."""

    def __init__(self, monkeypatch, cls):
        self.count = 0
        make = cls._make_computer

        def counting(transformer):
            compute = make(transformer)

            def computer(y):
                self.count += 1
                return compute(y)

            return computer

        monkeypatch.setattr(cls, "_make_computer", counting)


def _assert_same(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_pipeline_stopped_by_a_corrupt_file_resumes_after_the_fix(tmp_path, files, n_jobs):
    paths, labels = files
    broken = paths[25]
    good_bytes = open(broken, "rb").read()
    with open(broken, "wb") as fh:
        fh.write(b"RIFF\x00\x00not a wave file")
    cache = tmp_path / "cache"
    pipe = get_recipe("svm-mfcc", memory=str(cache), n_jobs=n_jobs)
    with pytest.raises(InvalidAudioError, match="u25.wav"):
        pipe.fit(paths, labels)
    with open(broken, "wb") as fh:
        fh.write(good_bytes)
    pipe.fit(paths, labels)
    fresh = get_recipe("svm-mfcc").fit(paths, labels)
    np.testing.assert_array_equal(pipe.decision_function(paths), fresh.decision_function(paths))
    _assert_same(pipe.named_steps["mfcc"].transform(paths), MFCC().fit_transform(paths))


KILLED_RUN = """
import os, signal, sys, time

from sklearn_ser import _cache
from sklearn_ser.features import MelSpectrogram

kill_at, every = int(sys.argv[2]), sys.argv[3]
if every == "pack":
    _cache.FeatureCache.pack_size = 4  # packs fill as the run goes, as on a large corpus
else:  # a slow extraction (as a speech encoder's) of packs that never fill: written every few seconds
    _cache.FeatureCache.flush_seconds = 0.1
make = MelSpectrogram._make_computer


def dying(transformer):
    compute = make(transformer)
    count = [0]

    def computer(y):
        count[0] += 1
        if count[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if every == "seconds":
            time.sleep(0.02)
        return compute(y)

    return computer


MelSpectrogram._make_computer = dying
MelSpectrogram(memory=sys.argv[1]).fit_transform(sys.argv[4:])
"""


@pytest.mark.parametrize("every", ["pack", "seconds"])
def test_a_killed_extraction_leaves_a_cache_the_next_run_completes(tmp_path, files, monkeypatch, every):
    paths, _ = files
    cache = tmp_path / "cache"
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, str(cache), "23", every, *paths])
    assert killed.returncode == -signal.SIGKILL
    counter = CountingComputations(monkeypatch, MelSpectrogram)
    resumed = MelSpectrogram(memory=cache).fit_transform(paths)
    assert 0 < counter.count < N_FILES, "the killed run's finished packs are reused, the rest computed"
    computed = counter.count
    monkeypatch.undo()
    _assert_same(resumed, MelSpectrogram().fit_transform(paths))
    counter = CountingComputations(monkeypatch, MelSpectrogram)
    _assert_same(MelSpectrogram(memory=cache).fit_transform(paths), resumed)
    assert counter.count == 0, f"the resumed run ({computed} computed) completed the cache"


def _rewrite(path, y, *, keep_times=False):
    stat = os.stat(path)
    soundfile.write(path, y, SR)
    if keep_times:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("keep_times", [False, True], ids=["new mtime", "same size and mtime"])
def test_a_changed_file_is_not_served_from_the_cache(tmp_path, files, keep_times):
    paths, labels = files
    cache = str(tmp_path / "cache")
    pipe = get_recipe("svm-mfcc", memory=cache).fit(paths, labels)
    before = pipe.named_steps["mfcc"].transform(paths[:3])
    size = os.path.getsize(paths[1])
    _rewrite(paths[1], tone(SR, seconds=0.2 + 0.005, freq=2000, amplitude=0.7), keep_times=keep_times)
    assert os.path.getsize(paths[1]) == size
    after = pipe.named_steps["mfcc"].transform(paths[:3])
    assert not np.array_equal(after[1], before[1])
    _assert_same(after, MFCC().fit_transform(paths[:3]))
    pipe.fit(paths, labels)
    fresh = get_recipe("svm-mfcc").fit(paths, labels)
    np.testing.assert_array_equal(pipe.decision_function(paths), fresh.decision_function(paths))


def test_a_file_damaged_or_deleted_after_caching_is_an_error_not_stale_features(tmp_path, files):
    paths, labels = files
    pipe = get_recipe("svm-mfcc", memory=str(tmp_path / "cache")).fit(paths, labels)
    pipe.predict(paths[:4])
    with open(paths[2], "r+b") as fh:
        fh.truncate(1000)
    with pytest.raises(InvalidAudioError, match="u02.wav' is truncated"):
        pipe.predict(paths[:4])
    os.remove(paths[3])
    with pytest.raises(FileNotFoundError, match="u03.wav"):
        pipe.predict([paths[0], paths[3]])


def test_cli_fit_with_a_cache_resumes_after_a_damaged_corpus_file(tmp_path, capsys):
    root = tmp_path / "corpus"
    frame = make_synthetic_corpus(root, n_speakers=2, n_words=2, emotions=("angry", "sad"), random_state=0)
    _settle(*frame["path"])
    damaged = frame["path"][5]
    good_bytes = open(damaged, "rb").read()
    with open(damaged, "wb") as fh:
        fh.write(good_bytes[: len(good_bytes) // 2])
    model = tmp_path / "model.joblib"
    args = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model)]
    args += ["--set", f"memory={tmp_path / 'cache'}", "--n-jobs", "2"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("sklearn-ser: error: ") and os.path.basename(damaged) in err and "truncated" in err
    assert not model.exists()
    with open(damaged, "wb") as fh:
        fh.write(good_bytes)
    assert main(args) == 0
    capsys.readouterr()
    fresh = get_recipe("svm-mfcc").fit(frame["path"], frame["label"])
    assert main(["predict", str(model), str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    predicted = dict(line.split(",")[:2] for line in lines)
    assert predicted == dict(zip(frame["path"], fresh.predict(frame["path"])))


def test_a_pipeline_on_a_full_disk_fits_and_predicts_as_without_a_cache(tmp_path, files, monkeypatch):
    paths, labels = files

    def disk_full(path, write, *, replaces):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(_cache, "atomic_write", disk_full)
    pipe = get_recipe("svm-mfcc", memory=str(tmp_path / "cache"), n_jobs=2)
    with pytest.warns(FeatureCacheWarning, match="no space left on device"):
        pipe.fit(paths, labels)
    fresh = get_recipe("svm-mfcc").fit(paths, labels)
    with pytest.warns(FeatureCacheWarning):
        np.testing.assert_array_equal(pipe.decision_function(paths), fresh.decision_function(paths))


def test_cli_fit_and_predict_with_a_file_as_the_cache_folder(tmp_path, capsys):
    root = tmp_path / "corpus"
    frame = make_synthetic_corpus(root, n_speakers=2, n_words=2, emotions=("angry", "sad"), random_state=0)
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file")
    model = tmp_path / "model.joblib"
    args = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model)]
    assert main([*args, "--set", f"memory={not_a_folder}"]) == 0
    assert f"warning: The feature cache '{not_a_folder}" in capsys.readouterr().err
    assert main(["predict", str(model), str(root)]) == 0
    assert not_a_folder.read_text() == "a file"
    captured = capsys.readouterr()
    assert f"'{not_a_folder}' is a file, not a folder" in captured.err
    lines = captured.out.splitlines()[1:]
    predicted = dict(line.split(",")[:2] for line in lines)
    fresh = get_recipe("svm-mfcc").fit(frame["path"], frame["label"])
    assert predicted == dict(zip(frame["path"], fresh.predict(frame["path"])))
