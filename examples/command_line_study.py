"""
A study from the command line
=============================

What a researcher runs, start to finish, with the ``sklearn-ser`` command
only: hold two speakers out of a corpus, evaluate a recipe on the others
(leave one speaker out), fit it on them, predict the held-out speakers'
files with their speaker ids from a CSV table, and follow one held-out
speaker over a long recording with reference labels. Every step is the
command a user types, run as a process of its own (``python -m
sklearn_ser.cli``, what the ``sklearn-ser`` script runs), and every output
lands in one folder: the report and its figures, the model,
the predictions, the timeline table and its figure.

    python examples/command_line_study.py --out study/
    python examples/command_line_study.py --corpus emodb:data/emodb --out study/
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from sklearn_ser import load_audio
from sklearn_ser.datasets import load_corpus, make_synthetic_corpus
from sklearn_ser.timeline import timeline_agreement

SR = 16000


def run(*args):
    """Run ``sklearn-ser ARGS`` in a process of its own, print what it prints, and stop if it fails."""
    command = [str(arg) for arg in args]
    print("$ sklearn-ser " + " ".join(command), flush=True)
    done = subprocess.run([sys.executable, "-m", "sklearn_ser.cli", *command], capture_output=True, text=True)
    print(done.stdout + done.stderr, end="", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"sklearn-ser {command[0]} failed with status {done.returncode}")


def recording_of(path, clips, labels, *, pause=1.0):
    """Write the clips one after another with pauses of silence; return the reference labels (start, end, label)."""
    rows, position, pieces = [], 0, []
    for clip_path, label in zip(clips, labels):
        clip = load_audio(clip_path, sr=SR)
        rows.append((position / SR, (position + len(clip)) / SR, label))
        pieces += [clip, np.zeros(int(pause * SR), dtype=np.float32)]
        position += len(clip) + int(pause * SR)
    soundfile.write(path, np.concatenate(pieces), SR)
    return pd.DataFrame(rows, columns=["start", "end", "label"])


def main(argv=None):
    parser = argparse.ArgumentParser(description="A speaker-independent study with the sklearn-ser command.")
    parser.add_argument("--corpus", help="KIND:PATH of a corpus with several speakers (default: synthetic)")
    parser.add_argument("--recipe", default="svm-mfcc", help="recipe to study (default: svm-mfcc)")
    parser.add_argument("--out", default=None, help="folder for everything the study writes (default: temporary)")
    parser.add_argument("--quick", action="store_true", help="a small synthetic corpus (for the tests)")
    args = parser.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    spec = args.corpus
    if spec is None:
        words = 3 if args.quick else 10
        make_synthetic_corpus(out / "corpus", n_speakers=5, n_words=words, random_state=0)
        spec = f"synthetic:{out / 'corpus'}"
    corpus = load_corpus(spec)
    speakers = sorted(set(corpus["speaker"]))
    if len(speakers) < 4:
        raise SystemExit(f"{spec} has {len(speakers)} speakers: the study holds two out and needs two more.")
    held_out = [speakers[len(speakers) // 2 - 1], speakers[-1]]  # apart in the sorted ids: e.g. one of each sex
    recipe = [args.recipe, "--set", "speaker_normalization=True", "--set", "probability=True", "--random-state", "0"]

    # 1. Leave one speaker out on the speakers kept for development.
    development = ["--corpus", spec, "--exclude-speakers", ",".join(held_out)]
    run("evaluate", *development, "--recipe", *recipe, "--out", out / "report", "-q")

    # 2. Fit on all of them; predict the held-out speakers, each by its own statistics.
    run("fit", *development, "--recipe", *recipe, "--out", out / "model.joblib", "-q")
    test = corpus[corpus["speaker"].isin(held_out)]
    test[["path", "speaker"]].to_csv(out / "speakers.csv", index=False)
    run("predict", out / "model.joblib", *test["path"], "--speakers-csv", out / "speakers.csv",
        "--out", out / "predictions.csv", "-q")  # fmt: skip
    predictions = pd.read_csv(out / "predictions.csv").merge(test[["path", "label"]], left_on="file", right_on="path")
    accuracy = (predictions["label_x"] == predictions["label_y"]).groupby(predictions["speaker"]).mean()

    # 3. A long recording of one held-out speaker, with reference labels, through a model fitted on
    #    one-second windows of the clips: a model fitted on whole clips misreads windows shorter than them.
    one = test[test["speaker"] == held_out[0]].sort_values("path")
    reference = recording_of(out / "recording.wav", one["path"], one["label"])
    reference.to_csv(out / "reference.csv", index=False)
    run("fit", *development, "--recipe", *recipe, "--window", "1.0", "--hop", "0.5", "--out", out / "windows.joblib",
        "-q")  # fmt: skip
    run("timeline", out / "windows.joblib", out / "recording.wav", "--window", "1.0", "--hop", "0.5",
        "--speaker", held_out[0], "--reference", out / "reference.csv", "--speech-out", out / "speech.csv",
        "--out", out / "timeline.csv", "--plot", out / "timeline.png", "-q")  # fmt: skip

    timeline = pd.read_csv(out / "timeline.csv", keep_default_na=False).replace({"label": {"": None}})
    agreement, n_windows = timeline_agreement(timeline, reference)
    print(f"Timeline of {held_out[0]}: {agreement:.1%} of {n_windows} speech windows agree with the reference")
    print(f"Held out {', '.join(held_out)}; accuracy on their files, per speaker:")
    print(accuracy.round(3).to_string())
    print(f"Everything is in {out}")
    return accuracy, agreement


if __name__ == "__main__":
    main()
