"""The command line's feedback and feature cache, run as a user runs it: in a subprocess."""

import os
import subprocess
import sys

import pytest

from sklearn_ser.datasets import make_synthetic_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    make_synthetic_corpus(root, n_speakers=3, n_words=2, emotions=("angry", "sad"), random_state=0)
    return root


def run(args, cache):
    environment = {**os.environ, "SKLEARN_SER_CACHE": str(cache)}
    command = [sys.executable, "-m", "sklearn_ser.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)


def packs(cache):
    return sorted((cache / "features" / "sklearn_ser_features").rglob("*.npz"))


def test_evaluate_reports_each_fold_and_caches_features_by_default(corpus, tmp_path):
    cache = tmp_path / "cache"
    args = ["evaluate", "--corpus", f"synthetic:{corpus}", "--recipe", "svm-mfcc", "--out", str(tmp_path / "r1")]
    done = run(args, cache)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if " fold " in line or line.startswith("svm-mfcc: fold")]
    assert [line.split(" (held out: ")[1].split(")")[0] for line in lines] == ["F01", "F03", "M02"]
    assert lines[0].startswith("svm-mfcc: fold 1/3 (held out: F01): balanced_accuracy ")
    assert "left" in lines[0] and "left" not in lines[-1]
    assert packs(cache), "features are cached by default"
    before = [pack.stat().st_mtime_ns for pack in packs(cache)]
    again = run([*args[:-1], str(tmp_path / "r2"), "-q"], cache)
    assert again.returncode == 0 and "fold" not in again.stderr
    assert [pack.stat().st_mtime_ns for pack in packs(cache)] == before  # read, not written again
    uncached = tmp_path / "uncached"
    assert run([*args[:-1], str(tmp_path / "r3"), "--no-cache"], uncached).returncode == 0
    assert not packs(uncached)


def test_fit_verbose_shows_extraction_progress_and_quiet_shows_nothing(corpus, tmp_path):
    model = tmp_path / "m.joblib"
    args = ["fit", "--corpus", f"synthetic:{corpus}", "--recipe", "svm-mfcc", "--out", str(model), "--no-cache"]
    verbose = run([*args, "-v"], tmp_path / "cache")
    assert verbose.returncode == 0 and "12/12" in verbose.stderr  # the extraction's progress bar
    quiet = run([*args, "-q"], tmp_path / "cache")
    assert quiet.returncode == 0 and quiet.stdout == "" and "12/12" not in quiet.stderr
    both = run([*args, "-q", "-v"], tmp_path / "cache")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
