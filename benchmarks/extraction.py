"""Feature extraction speed: sklearn-ser against the usual librosa loop.

The usual way: a single-process loop of ``librosa.load(path, sr=16000)``,
``librosa.feature.melspectrogram`` and ``librosa.power_to_db``, all with
librosa's default parameters (n_fft=2048, hop_length=512, n_mels=128,
top_db=80). sklearn-ser computes the same features with
``MelSpectrogram(sr=16000, n_fft=2048, hop_length=512, n_mels=128)``:

* cold: nothing cached, ``n_jobs=-1``, with and without writing the cache;
* warm: the same call again, served from the cache;
* warm subset: every other file (as in a cross-validation fold), served from
  the per-file entries.

Before timing, every file is read once so that the operating system's page
cache holds them for both sides, and both sides run once on a few files so
that imports and first-call costs are paid. Run:

    python benchmarks/extraction.py [TESS_ROOT]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np

from sklearn_ser.datasets import load_tess
from sklearn_ser.features import MelSpectrogram

DEFAULT_TESS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tess"
SR = 16000


def naive(paths):
    features = []
    for path in paths:
        y, _ = librosa.load(path, sr=SR)
        features.append(librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR)))
    return features


def stage_costs(paths, mel):
    """Milliseconds per file of each stage, single-threaded, on ``paths``."""
    import soundfile

    compute = mel._make_computer()
    totals = dict.fromkeys(["decode", "resample", "features (sklearn-ser)", "features (librosa loop)"], 0.0)
    for path in paths:
        t0 = time.perf_counter()
        y, native_sr = soundfile.read(path, dtype="float32")
        t1 = time.perf_counter()
        y = librosa.resample(y, orig_sr=native_sr, target_sr=SR, res_type="soxr_hq")
        t2 = time.perf_counter()
        compute(y)
        t3 = time.perf_counter()
        librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR))
        t4 = time.perf_counter()
        for name, seconds in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            totals[name] += seconds
    return {name: 1e3 * seconds / len(paths) for name, seconds in totals.items()}


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tess_root", nargs="?", default=os.environ.get("SKLEARN_SER_TESS", DEFAULT_TESS))
    args = parser.parse_args(argv)
    paths = load_tess(args.tess_root)["path"].tolist()
    total_bytes = sum(Path(path).read_bytes().__len__() for path in paths)
    mel = MelSpectrogram(sr=SR, n_fft=2048, hop_length=512, n_mels=128, n_jobs=-1)
    naive(paths[:5])
    mel.transform(paths[:5])

    t_naive, reference = timed(naive, paths)
    t_cold, cold = timed(mel.transform, paths)
    with tempfile.TemporaryDirectory() as cache:
        cached = mel.set_params(memory=cache)
        t_cold_store, _ = timed(cached.transform, paths)
        t_warm, warm = timed(cached.transform, paths)
        t_subset, _ = timed(cached.transform, paths[::2])

    max_diff = max(float(np.abs(ours - theirs.T).max()) for ours, theirs in zip(cold, reference))
    assert all(np.array_equal(a, b) for a, b in zip(cold, warm)), "cache returned different features"
    print(f"# {len(paths)} files ({total_bytes / 1e6:.0f} MB) from {args.tess_root}")
    machine = platform.processor() or platform.machine()
    print(f"# {machine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, librosa {librosa.__version__}")
    print("| run | seconds | files/s | speed-up vs librosa loop |")
    print("|---|---:|---:|---:|")
    for name, seconds, n in [
        ("librosa loop (1 process)", t_naive, len(paths)),
        ("sklearn-ser cold, n_jobs=-1, no cache", t_cold, len(paths)),
        ("sklearn-ser cold, n_jobs=-1, writing the cache", t_cold_store, len(paths)),
        ("sklearn-ser warm cache (same call again)", t_warm, len(paths)),
        ("sklearn-ser warm cache, every other file", t_subset, len(paths[::2])),
    ]:
        speedup = (t_naive / len(paths)) / (seconds / n)
        print(f"| {name} | {seconds:.3f} | {n / seconds:,.0f} | {speedup:.1f}x |")
    print(f"max |difference| from the librosa loop: {max_diff:.2e} dB")
    print()
    print("| stage (1 thread, first 500 files) | ms per file |")
    print("|---|---:|")
    for name, ms in stage_costs(paths[:500], mel).items():
        print(f"| {name} | {ms:.2f} |")


if __name__ == "__main__":
    main()
