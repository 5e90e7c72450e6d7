"""
Emotion over time in a long recording
=====================================

A model fitted on short acted clips, run over a long recording: the
recording is assembled from held-out clips of known emotions with silences
between them, written to a FLAC file, and read back by
:func:`sklearn_ser.timeline.predict_timeline` in blocks, window by window.
The windows inside an utterance should carry its emotion as often as the
model gets the clips right, and the silences should be marked as
non-speech.

They do only if the model sees, in the timeline, what it was fitted on. A
model fitted on whole clips classifies one-second windows cut out of them far
worse than the clips themselves; the same recipe fitted on the clips' windows
(:func:`~sklearn_ser.timeline.window_clips`) classifies the windows inside
the utterances about as well as it does the clips. The figure shows the
recording, the speech found in it and the probabilities over time.

    python examples/emotion_timeline.py
    python examples/emotion_timeline.py --corpus tess:../shared/data/tess --plot timeline.png
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from sklearn_ser import load_audio
from sklearn_ser.datasets import load_corpus, make_synthetic_corpus
from sklearn_ser.plotting import plot_timeline, save_figure
from sklearn_ser.recipes import get_recipe
from sklearn_ser.timeline import predict_timeline, window_clips

SR = 16000


def assemble_recording(path, clips, *, silence=(1.5, 2.5), level_dbfs=-60.0, random_state=0):
    """Write the clips one after another with faint noise between them; return each clip's (start, end, label)."""
    rng = np.random.default_rng(random_state)
    spans, position = [], 0
    with soundfile.SoundFile(path, "w", samplerate=SR, channels=1, format="FLAC") as out:

        def write(samples):
            nonlocal position
            out.write(samples)
            position += len(samples)

        write(rng.normal(0, 10 ** (level_dbfs / 20), int(rng.uniform(*silence) * SR)))
        for clip_path, label in zip(clips["path"], clips["label"]):
            clip = load_audio(clip_path, sr=SR)
            spans.append((position / SR, (position + len(clip)) / SR, label))
            write(clip)
            write(rng.normal(0, 10 ** (level_dbfs / 20), int(rng.uniform(*silence) * SR)))
    return spans


def score_timeline(timeline, spans):
    """Agreement of the windows inside an utterance with its label; speech flags of the windows in silences."""
    windows = list(zip(timeline["start"], timeline["end"]))
    utterance = [next((label for a, b, label in spans if a <= s and e <= b), None) for s, e in windows]
    inside = pd.Series(utterance, dtype=object)
    silent = np.array([not any(s < b and e > a for a, b, _ in spans) for s, e in windows])
    held = inside.notna().to_numpy()
    return {
        "windows inside utterances": int(held.sum()),
        "agreement inside utterances": float((timeline["label"][held] == inside[held]).mean()),
        "silent windows": int(silent.sum()),
        "silent windows marked speech": int(timeline["speech"][silent].sum()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="Emotion over time in a recording assembled from held-out clips.")
    parser.add_argument("--corpus", help="KIND:PATH of a corpus, e.g. tess:data/tess (default: synthetic)")
    parser.add_argument("--window", type=float, default=1.0, help="window length in seconds (default: 1.0)")
    parser.add_argument("--hop", type=float, default=0.25, help="hop in seconds (default: 0.25)")
    parser.add_argument("--per-emotion", type=int, default=10, help="held-out clips per emotion in the recording")
    parser.add_argument("--plot", help="write the figure of the timeline to this file")
    parser.add_argument("--quick", action="store_true", help="a tiny synthetic corpus, for a smoke test")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as workdir:
        if args.corpus:
            corpus = load_corpus(args.corpus)
        else:
            size = dict(n_speakers=2, n_words=4) if args.quick else dict(n_speakers=4, n_words=12)
            corpus = make_synthetic_corpus(workdir, **size, random_state=0)
        # Held-out words: the recording's clips were never heard in training, not even by another speaker.
        words = np.random.default_rng(0).permutation(sorted(corpus["text"].unique()))
        held_out = corpus["text"].isin(words[: max(1, len(words) // 4)])
        train, test = corpus[~held_out], corpus[held_out]
        test = test.groupby("label", group_keys=False).head(args.per_emotion).sample(frac=1.0, random_state=0)

        clip_model = get_recipe("svm-mfcc", probability=True, random_state=0).fit(train["path"], train["label"])
        windows, labels, _ = window_clips(train["path"], train["label"], sr=SR, window=args.window, hop=args.hop)
        window_model = get_recipe("svm-mfcc", probability=True, random_state=0).fit(windows, labels)

        recording = Path(workdir) / "recording.flac"
        spans = assemble_recording(recording, test)
        test_windows, test_labels, _ = window_clips(
            test["path"], test["label"], sr=SR, window=args.window, hop=args.hop
        )
        rows, timelines = [], {}
        for name, model, accuracy in [
            ("fitted on clips", clip_model, (clip_model.predict(test["path"]) == test["label"]).mean()),
            ("fitted on windows", window_model, (window_model.predict(test_windows) == test_labels).mean()),
        ]:
            timeline = predict_timeline(model, recording, window=args.window, hop=args.hop)
            timelines[name] = timeline
            rows.append({"model": name, "accuracy on the clips": accuracy, **score_timeline(timeline, spans)})
        summary = pd.DataFrame(rows).set_index("model")

        duration = soundfile.info(recording).duration
        print(f"{len(test)} held-out clips in a {duration:.0f} s recording; svm-mfcc fitted on {len(train)} clips")
        print(f"windows of {args.window:g} s every {args.hop:g} s, energy voice activity detection")
        print(summary.round(3).to_string())
        if args.plot:
            fig = plot_timeline(timelines["fitted on windows"], recording, title="svm-mfcc fitted on windows")
            print(f"figure written to {save_figure(fig, args.plot)}")
    return summary


if __name__ == "__main__":
    main()
