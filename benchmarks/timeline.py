"""Emotion timelines of long recordings: speed and peak memory against the recording's length.

A synthetic "long recording" is the utterances of a synthetic corpus
(``make_synthetic_corpus``, 16 kHz) in random order, separated by 0.3 to
1.5 s of faint noise (-60 dBFS), written block by block to a 16 kHz mono
FLAC file, so that neither writing nor reading it holds it whole. Recipes are
fitted on the corpus's clips (4 speakers x 10 words x 7 emotions;
``svm-mfcc`` with ``probability=True``, ``lstm-logmel`` for one epoch: the
cost of inference does not depend on training; with ``--speech-model``,
``ssl-best`` on that Whisper base folder, its embeddings on all cores) and
saved with joblib.

Every measurement is a fresh Python process that loads the model, pays its
imports and first calls on a 10 s excerpt, then times
``predict_timeline(model, file)`` with the defaults (2 s windows every 1 s,
energy voice activity detection, batches of 64 windows; once more with
``vad="silero"`` when ``silero-vad`` is installed), and reports its
peak resident set size (``VmHWM`` of ``/proc/self/status``) at the end. torch runs on one thread
(``--torch-threads``): on the 2-core machine shared with other work, two
OpenMP threads made the LSTM's inference 80 times slower (busy-waiting).

    python benchmarks/timeline.py [--speed-minutes 60] [--lstm-minutes 60] [--silero-minutes 60]
                                  [--memory-minutes 2 120] [--speech-model DIR [--ssl-minutes 60]]
                                  [--workdir DIR] [--out results.json]

The corpus, models and recordings are written to DIR (default: a folder under
the temporary directory) on first use and reused afterwards.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SR = 16000
SILENCE_SECONDS = (0.3, 1.5)
SILENCE_DBFS = -60.0


def prepare_models(workdir, speech_model=None):
    """Fit the recipes on a synthetic corpus (once) and return {recipe: model path}."""
    from sklearn_ser._files import dump_atomically
    from sklearn_ser.datasets import load_synthetic, make_synthetic_corpus
    from sklearn_ser.recipes import get_recipe

    corpus_dir = workdir / "corpus"
    corpus = (
        load_synthetic(corpus_dir)
        if (corpus_dir / "manifest.csv").is_file()
        else make_synthetic_corpus(corpus_dir, n_speakers=4, n_words=10, random_state=0)
    )
    options = {"svm-mfcc": dict(probability=True), "lstm-logmel": dict(max_epochs=1, device="cpu")}
    if speech_model is not None:
        options["ssl-best"] = dict(model=speech_model, device="cpu", n_jobs=-1)
    paths = {}
    for recipe, overrides in options.items():
        path = workdir / f"{recipe}.joblib"
        if not path.is_file():
            seed = {} if recipe == "ssl-best" else {"random_state": 0}
            model = get_recipe(recipe, **seed, **overrides).fit(corpus["path"], corpus["label"])
            dump_atomically(model, path)
        paths[recipe] = path
    return corpus, paths


def make_recording(path, minutes, corpus, *, random_state=0):
    """Write ``minutes`` of clips and silences to ``path`` block by block (once)."""
    import numpy as np
    import soundfile

    from sklearn_ser import load_audio

    if path.is_file():
        return path
    rng = np.random.default_rng(random_state)
    clips = list(corpus["path"])
    remaining = int(minutes * 60 * SR)
    partial = path.with_suffix(".partial.flac")
    with soundfile.SoundFile(partial, "w", samplerate=SR, channels=1, format="FLAC") as out:
        while remaining > 0:
            clip = load_audio(clips[rng.integers(len(clips))], sr=SR)
            silence = rng.normal(0, 10 ** (SILENCE_DBFS / 20), int(rng.uniform(*SILENCE_SECONDS) * SR))
            block = np.concatenate([clip, silence.astype(np.float32)])[:remaining]
            out.write(block)
            remaining -= len(block)
    partial.replace(path)
    return path


def measure(model_path, recording, *, torch_threads, vad):
    """One measurement in a fresh process: {seconds, windows, speech, peak_rss_mb}."""
    command = [sys.executable, __file__, "--child", str(model_path), str(recording), str(torch_threads), vad]
    run = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def peak_rss_mb():
    """This process's peak resident set size, from /proc (Linux).

    Not ``ru_maxrss``: Linux carries it over ``fork`` and ``exec``, so a child
    would report its parent's peak when that was higher.
    """
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def child(model_path, recording, torch_threads, vad):
    import joblib
    import soundfile
    import torch

    torch.set_num_threads(int(torch_threads))
    from sklearn_ser.timeline import predict_timeline

    model = joblib.load(model_path)
    excerpt = soundfile.read(recording, frames=10 * SR, dtype="float32")[0]
    predict_timeline(model, excerpt, sr=SR, vad=vad)  # imports and first calls
    start = time.perf_counter()
    timeline = predict_timeline(model, recording, vad=vad)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    result = dict(seconds=seconds, windows=len(timeline), speech=float(timeline["speech"].mean()), peak_rss_mb=peak)
    print(json.dumps(result))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed-minutes", type=float, default=60.0, help="recording timed through svm-mfcc")
    parser.add_argument("--lstm-minutes", type=float, default=60.0, help="recording timed through lstm-logmel")
    parser.add_argument("--silero-minutes", type=float, default=60.0, help="svm-mfcc with vad='silero' (if installed)")
    parser.add_argument("--memory-minutes", type=float, nargs="+", default=[2.0, 120.0], help="peak memory per length")
    parser.add_argument("--speech-model", default=None, help="a Whisper base folder: also time ssl-best")
    parser.add_argument("--ssl-minutes", type=float, default=60.0, help="recording timed through ssl-best")
    parser.add_argument("--only", nargs="+", default=None, help="time these recipes only, e.g. ssl-best")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads of the measured processes")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sklearn-ser-timeline-bench")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    corpus, models = prepare_models(args.workdir, args.speech_model)

    def recording(minutes):
        return make_recording(args.workdir / f"recording_{minutes:g}min.flac", minutes, corpus)

    runs = [("svm-mfcc", args.speed_minutes, "energy"), ("lstm-logmel", args.lstm_minutes, "energy")]
    if args.speech_model is not None:
        runs.append(("ssl-best", args.ssl_minutes, "energy"))
    if importlib.util.find_spec("silero_vad") is not None:
        runs.append(("svm-mfcc", args.silero_minutes, "silero"))
    runs += [("svm-mfcc", minutes, "energy") for minutes in args.memory_minutes if minutes != args.speed_minutes]
    if args.only:
        runs = [run for run in runs if run[0] in args.only]
    results = []
    for recipe, minutes, vad in runs:
        result = measure(models[recipe], recording(minutes), torch_threads=args.torch_threads, vad=vad)
        result.update(recipe=recipe, vad=vad, minutes=minutes, real_time_factor=minutes * 60 / result["seconds"])
        results.append(result)
        print(
            f"{recipe:12s} {vad:6s} {minutes:6g} min: {result['seconds']:6.1f} s "
            f"({result['real_time_factor']:5.0f}x real time), {result['windows']} windows, "
            f"{result['speech']:.0%} speech, peak RSS {result['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    report = dict(
        machine=f"{platform.machine()}, {os.cpu_count()} cores",
        load_average_at_start=load,
        torch_threads=args.torch_threads,
        results=results,
    )
    if args.out:
        from sklearn_ser._files import write_text_atomically

        write_text_atomically(args.out, json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
    else:
        main()
