"""Feature extraction speed: sklearn-ser against the usual librosa loop.

The usual way: a single-process loop of ``librosa.load(path, sr=16000)``,
``librosa.feature.melspectrogram`` and ``librosa.power_to_db``, all with
librosa's default parameters (n_fft=2048, hop_length=512, n_mels=128,
top_db=80). sklearn-ser computes the same features with
``MelSpectrogram(sr=16000, n_fft=2048, hop_length=512, n_mels=128)``:

* cold: nothing cached, ``n_jobs=-1``, with and without writing the cache;
* warm: the same call again, served from the cache;
* warm subset: every other file (as in a cross-validation fold), served from
  the per-file entries;
* thread scaling: a log-Mel spectrogram (n_fft=1024, hop 256, 64 Mel bands)
  of the first 600 files, cold (``memory=None``), on one thread and on two
  (``n_jobs=2``, threads), each the median of a few runs after a warm-up,
  with a check that both give the same features bit for bit.

Before timing, every file is read once so that the operating system's page
cache holds them for both sides, and both sides run once on a few files so
that imports and first-call costs are paid. Run:

    python benchmarks/extraction.py [TESS_ROOT]
    python benchmarks/extraction.py [TESS_ROOT] --threads-only   # thread scaling alone
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
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


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(field) for field in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def thread_scaling(paths, repeats):
    """Median seconds of a cold log-Mel extraction on one and on two threads.

    The runs alternate (one thread, two threads, ...) so that a change in
    the load of the machine touches both. Also returns whether the outputs
    are identical and the average number of cores that other processes
    kept busy meanwhile (None where /proc/stat is missing).
    """
    params = dict(sr=SR, n_fft=1024, hop_length=256, n_mels=64, memory=None)
    one, two = MelSpectrogram(**params, n_jobs=1), MelSpectrogram(**params, n_jobs=2, backend="threads")
    one.transform(paths)  # warm-up: imports, first calls, page cache
    two.transform(paths)
    times, identical = {1: [], 2: []}, True
    busy, cpu, start = busy_cpu_seconds(), time.process_time(), time.perf_counter()
    for _ in range(repeats):
        t_one, serial = timed(one.transform, paths)
        t_two, threaded = timed(two.transform, paths)
        times[1].append(t_one)
        times[2].append(t_two)
        identical &= len(serial) == len(threaded) and all(np.array_equal(a, b) for a, b in zip(serial, threaded))
    wall = time.perf_counter() - start
    others = None if busy is None else (busy_cpu_seconds() - busy - (time.process_time() - cpu)) / wall
    return {n: statistics.median(t) for n, t in times.items()}, identical, others


def print_thread_scaling(paths, repeats):
    paths = paths[:600]
    seconds, identical, others = thread_scaling(paths, repeats)
    print(f"| log-Mel of {len(paths)} files, no cache (median of {repeats}) | seconds | files/s |")
    print("|---|---:|---:|")
    for n_jobs, label in [(1, "n_jobs=1"), (2, "n_jobs=2, threads")]:
        print(f"| {label} | {seconds[n_jobs]:.3f} | {len(paths) / seconds[n_jobs]:,.0f} |")
    print(f"two threads: {seconds[1] / seconds[2]:.2f}x one thread; outputs identical: {identical}")
    if others is not None:
        print(f"other processes kept {others:.2f} of {os.cpu_count()} cores busy during the runs")
    assert identical, "two threads gave different features from one"


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tess_root", nargs="?", default=os.environ.get("SKLEARN_SER_TESS", DEFAULT_TESS))
    parser.add_argument("--threads-only", action="store_true", help="run only the thread-scaling section")
    parser.add_argument("--repeats", type=int, default=7, help="runs of each thread-scaling case (default: 7)")
    args = parser.parse_args(argv)
    paths = load_tess(args.tess_root)["path"].tolist()
    if args.threads_only:
        print_thread_scaling(paths, args.repeats)
        return
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
    print()
    print_thread_scaling(paths, args.repeats)


if __name__ == "__main__":
    main()
