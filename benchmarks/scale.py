"""Extraction at scale: files per second and peak memory against corpus size.

``MelSpectrogram()`` (16 kHz, n_fft=512, hop 160, 64 Mel bands, dB) extracts
the first N files of a synthetic corpus (``make_synthetic_corpus``, 16 kHz
WAV, about 1.7 s per utterance) for N = 100, 1,000, 5,000 and 20,000, with:

* ``threads``: ``n_jobs=-1, backend="threads"``;
* ``processes``: ``n_jobs=-1, backend="processes"`` (loky);
* ``dask``: ``backend="dask"`` on a ``LocalCluster`` of one single-threaded
  worker process per core (its start-up is timed apart: users keep a
  cluster running);
* ``torch``: ``engine="torch"`` (``device="auto"``) on threads.

A cold run is a fresh Python process with an empty cache folder, which the
run fills. The process's own imports and first-call costs are paid before
timing (one waveform, computed inline); worker start-up (processes, and the
imports in them) is inside the timing. The same call again in that process
is timed too. The rerun is another fresh process on the filled cache: it
only stats the files and reads the packs. Every file is read once
beforehand, so the page cache holds the corpus for every run. Peak memory is
the largest sum of the resident set sizes of the process and all its
children (worker processes), sampled every 20 ms with psutil; shared pages
count once per process, so it overstates. Sizes up to 1,000 files are run
three times (the median cold run is shown). Run:

    python benchmarks/scale.py [--max-files N] [--out results.json] [--corpus DIR]

The corpus is written to DIR (default: a folder under the temporary
directory) on first use, in parallel, and reused afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SIZES = (100, 1_000, 5_000, 20_000)
BACKENDS = ("threads", "processes", "dask", "torch")
SR = 16000
WORDS_PER_SPEAKER = 143  # 7 emotions x 143 words = 1,001 files per speaker


def generate_part(args):
    root, n_speakers, seed = args
    from sklearn_ser.datasets import make_synthetic_corpus

    return len(make_synthetic_corpus(root, n_speakers=n_speakers, n_words=WORDS_PER_SPEAKER, random_state=seed))


def corpus_paths(root, n_files):
    """Paths of at least ``n_files`` WAV files under ``root``, written if missing."""
    root = Path(root)
    listing = root / "paths.txt"
    if listing.exists():
        paths = listing.read_text().split("\n")
        if len(paths) >= n_files:
            return paths, None
    n_speakers = -(-n_files // (7 * WORDS_PER_SPEAKER))
    n_parts = min(os.cpu_count() or 1, n_speakers)
    per_part = [n_speakers // n_parts + (i < n_speakers % n_parts) for i in range(n_parts)]
    start = time.perf_counter()
    with ProcessPoolExecutor(n_parts) as pool:
        list(pool.map(generate_part, [(str(root / f"part{i}"), n, i) for i, n in enumerate(per_part)]))
    seconds = time.perf_counter() - start
    paths = sorted(str(p) for p in root.glob("part*/*/*.wav"))
    listing.write_text("\n".join(paths))
    return paths, seconds


class PeakRSS:
    """Largest RSS of this process plus its children, sampled in a thread."""

    def __init__(self, interval=0.02):
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self):
        import psutil

        total = 0
        for process in [self.process, *self.process.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def run_child(backend, paths_file, n_files, cache, run):
    """One extraction (the ``cold`` one also runs again) in this process; prints a JSON line."""
    import numpy as np

    from sklearn_ser.features import MelSpectrogram

    paths = Path(paths_file).read_text().split("\n")[:n_files]
    params = dict(n_jobs=-1, backend="threads")
    cluster_seconds, cluster = None, None
    if backend == "processes":
        params["backend"] = "processes"
    elif backend == "torch":
        params["engine"] = "torch"
    elif backend == "dask":
        from distributed import Client, LocalCluster

        start = time.perf_counter()
        cluster = LocalCluster(
            n_workers=os.cpu_count(), threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        client = Client(cluster)
        cluster_seconds = time.perf_counter() - start
        params = dict(backend="dask")
    mel = MelSpectrogram(memory=cache, **params)
    # Imports and first-call costs of this process, paid inline (one
    # waveform is one chunk: no pool, no worker, nothing cached).
    MelSpectrogram(engine=mel.engine).fit_transform([np.zeros(SR, dtype=np.float32)])
    result = dict(cluster_seconds=cluster_seconds, baseline_mb=PeakRSS().current() / 1e6)
    with PeakRSS() as memory:
        start = time.perf_counter()
        features = mel.fit_transform(paths)
        result[f"{run}_seconds"] = time.perf_counter() - start
    result[f"{run}_peak_mb"] = memory.peak / 1e6
    result["features_mb"] = sum(f.nbytes for f in features) / 1e6
    assert len(features) == n_files and all(np.isfinite(f).all() for f in features[:: max(1, n_files // 100)])
    if run == "cold":
        del features
        start = time.perf_counter()
        mel.fit_transform(paths)
        result["again_seconds"] = time.perf_counter() - start
    if cluster is not None:
        client.close()
        cluster.close()
    print(json.dumps(result))


def run_pair(backend, paths_file, n_files):
    """A cold run with an empty cache, then a warm rerun in a fresh process."""
    result = dict(backend=backend, n_files=n_files, load=[os.getloadavg()[0]])
    with tempfile.TemporaryDirectory() as cache:
        for run in ("cold", "warm"):
            command = [sys.executable, __file__, "--child", backend, str(paths_file), str(n_files), cache, run]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            child = json.loads(output.strip().splitlines()[-1])
            if run == "warm":
                del child["cluster_seconds"], child["baseline_mb"]
            result.update(child)
    result["load"].append(os.getloadavg()[0])
    return result


def raw_waveform_mb(paths):
    """Memory that the decoded float32 waveforms at ``SR`` would take, all at once."""
    import soundfile

    total = 0
    for path in paths:
        info = soundfile.info(path)
        total += round(info.frames * SR / info.samplerate)
    return 4 * total / 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-files", type=int, default=SIZES[-1], help="largest corpus size (default: 20000)")
    parser.add_argument("--out", help="write the results as JSON to this file")
    parser.add_argument("--corpus", default=os.path.join(tempfile.gettempdir(), "sklearn_ser_scale_corpus"))
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--repeats", type=int, default=3, help="cold runs per size up to 1,000 files (median)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        backend, paths_file, n_files, cache, run = args.child
        return run_child(backend, paths_file, int(n_files), cache, run)

    sizes = [n for n in SIZES if n < args.max_files] + [args.max_files]
    paths, generation_seconds = corpus_paths(args.corpus, args.max_files)
    if generation_seconds is not None:
        print(f"# wrote {len(paths)} files to {args.corpus} in {generation_seconds:.1f} s", flush=True)
    paths_file = Path(args.corpus) / "paths.txt"
    for path in paths[: args.max_files]:
        Path(path).read_bytes()
    raw = {n: raw_waveform_mb(paths[:n]) for n in sizes}

    import librosa
    import torch

    import sklearn_ser

    machine = platform.processor() or platform.machine()
    header = (
        f"{machine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, sklearn-ser {sklearn_ser.__version__}, "
        f"librosa {librosa.__version__}, torch {torch.__version__} (CUDA: {torch.cuda.is_available()})"
    )
    print(f"# {header}", flush=True)
    print(
        "| backend | files | cold s | cold files/s | rerun s | rerun files/s | same call again s "
        "| peak MB cold | peak MB rerun | features MB | raw waveforms MB | load before/after |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = []
    for n in sizes:
        for backend in args.backends:
            runs = [run_pair(backend, paths_file, n) for _ in range(args.repeats if n <= 1_000 else 1)]
            row = dict(_median_run(runs), raw_waveforms_mb=raw[n])
            rows.append(row)
            print(
                f"| {backend} | {n:,} | {row['cold_seconds']:.2f} | {n / row['cold_seconds']:,.0f} "
                f"| {row['warm_seconds']:.3f} | {n / row['warm_seconds']:,.0f} | {row['again_seconds']:.3f} "
                f"| {row['cold_peak_mb']:,.0f} | {row['warm_peak_mb']:,.0f} | {row['features_mb']:,.0f} "
                f"| {raw[n]:,.0f} | {row['load'][0]:.1f}/{row['load'][1]:.1f} |",
                flush=True,
            )
    if args.out:
        Path(args.out).write_text(
            json.dumps(dict(machine=header, generation_seconds=generation_seconds, rows=rows), indent=1)
        )


def _median_run(runs):
    """The run with the median cold time, with the median of the other times."""
    ordered = sorted(runs, key=lambda run: run["cold_seconds"])
    median = dict(ordered[len(ordered) // 2], repeats=len(runs))
    for key in ("warm_seconds", "again_seconds"):
        median[key] = statistics.median(run[key] for run in runs)
    return median


if __name__ == "__main__":
    main()
