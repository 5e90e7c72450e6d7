"""``sklearn-ser serve`` under load on 127.0.0.1: latency, throughput, errors and memory.

Recipes are fitted on a synthetic corpus (``make_synthetic_corpus``, 4
speakers x 10 words x 7 emotions, 16 kHz; ``svm-mfcc`` with
``probability=True``, ``lstm-best`` for a few epochs: the cost of inference
does not depend on training) and saved with joblib. Twenty 3-second clips
are made from the corpus's utterances (padded with faint noise to exactly
3 s).

For each recipe, ``sklearn-ser serve MODEL`` runs as its own process on a free
port of 127.0.0.1 (default limits: as many concurrent predictions as cores).
After 20 warm-up requests, ``--clients`` threads (4) each post one clip at a
time to ``POST /predict`` for ``--seconds`` (60) or until ``--max-requests``
have been sent, whichever comes first, so the run always stops. Reported:
requests, errors (any status but 200, or a connection error), requests per
second, latency percentiles (client side, from sending to the whole answer),
and the server's resident memory (``VmRSS``) after the 100th and the
1,000th request of the run.

    python benchmarks/serve_load.py [--recipes svm-mfcc lstm-best] [--clients 4] [--seconds 60]
                                    [--max-requests 100000] [--workdir DIR] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SR = 16000
CLIP_SECONDS = 3.0
N_CLIPS = 20
WARM_UP = 20
MEMORY_AT = (100, 1000)


def prepare(workdir, recipes):
    """The models (fitted once) and the 3-second clips, under ``workdir``."""
    import soundfile

    from sklearn_ser._files import dump_atomically
    from sklearn_ser.datasets import load_synthetic, make_synthetic_corpus
    from sklearn_ser.recipes import get_recipe

    corpus_root = workdir / "corpus"
    if (corpus_root / "manifest.csv").exists():
        corpus = load_synthetic(corpus_root)
    else:
        corpus = make_synthetic_corpus(corpus_root, n_speakers=4, n_words=10, random_state=0)
    models = {}
    for recipe in recipes:
        path = workdir / f"{recipe}.joblib"
        if not path.exists():
            options = {"probability": True} if recipe.startswith("svm") else {"max_epochs": 5}
            pipeline = get_recipe(recipe, random_state=0, **options)
            dump_atomically(pipeline.fit(corpus["path"], corpus["label"]), path)
        models[recipe] = path
    clips = []
    rng = np.random.default_rng(0)
    for index in range(N_CLIPS):
        path = workdir / "clips" / f"clip{index:02d}.wav"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            y, _ = soundfile.read(corpus["path"][index * 7 % len(corpus)], dtype="float32")
            clip = (rng.normal(0, 1e-3, int(CLIP_SECONDS * SR))).astype(np.float32)
            clip[: min(len(y), len(clip))] += y[: len(clip)]
            soundfile.write(path, clip, SR)
        clips.append(path)
    return models, clips


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _resident_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_load(model, clips, *, clients, seconds, max_requests):
    """Serve ``model`` in a process of its own and post ``clips`` to it from ``clients`` threads."""
    import httpx

    port = _free_port()
    command = [sys.executable, "-m", "sklearn_ser.cli", "serve", str(model), "--port", str(port), "-q"]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {server.stderr.read()}")
            time.sleep(0.2)
        payloads = [(path.name, path.read_bytes()) for path in clips]
        with httpx.Client(timeout=60) as warm:
            for index in range(WARM_UP):
                name, data = payloads[index % len(payloads)]
                warm.post(f"{url}/predict", files={"files": (name, data, "audio/wav")}).raise_for_status()

        lock = threading.Lock()
        latencies, errors, memory = [], [], {}
        sent = [0]
        stop_at = time.monotonic() + seconds

        def client(offset):
            with httpx.Client(timeout=60) as session:
                index = offset
                while time.monotonic() < stop_at:
                    with lock:
                        if sent[0] >= max_requests:
                            return
                        sent[0] += 1
                    name, data = payloads[index % len(payloads)]
                    index += clients
                    started = time.perf_counter()
                    try:
                        answer = session.post(f"{url}/predict", files={"files": (name, data, "audio/wav")})
                        ok = answer.status_code == 200
                    except httpx.HTTPError as exc:
                        ok, answer = False, exc
                    elapsed = time.perf_counter() - started
                    with lock:
                        latencies.append(elapsed)
                        if not ok:
                            errors.append(str(answer))
                        for mark in MEMORY_AT:
                            if len(latencies) == mark:
                                memory[mark] = _resident_mb(server.pid)

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(offset,)) for offset in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    milliseconds = np.asarray(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 1),
        "requests_per_second": round(len(latencies) / wall, 1),
        "latency_ms": {f"p{q}": round(float(np.percentile(milliseconds, q)), 1) for q in (50, 95, 99)},
        "rss_mb": {str(mark): round(value, 1) for mark, value in memory.items()},
        "rss_growth_mb": (round(memory[1000] - memory[100], 1) if 100 in memory and 1000 in memory else None),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="+", default=["svm-mfcc", "lstm-best"])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sklearn-ser-serve-load")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    models, clips = prepare(args.workdir, args.recipes)
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "clients": args.clients,
        "clip_seconds": CLIP_SECONDS,
        "recipes": {},
    }
    for recipe, model in models.items():
        result = run_load(model, clips, clients=args.clients, seconds=args.seconds, max_requests=args.max_requests)
        results["recipes"][recipe] = result
        print(
            f"{recipe}: {result['requests']} requests in {result['seconds']} s ({result['requests_per_second']}/s), "
            f"{result['errors']} errors, latency p50 {result['latency_ms']['p50']} ms, "
            f"p95 {result['latency_ms']['p95']} ms, p99 {result['latency_ms']['p99']} ms; "
            f"server memory {result['rss_mb']} MB (growth {result['rss_growth_mb']} MB)",
            flush=True,
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
