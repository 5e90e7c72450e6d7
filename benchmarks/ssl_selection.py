"""Speaker-independent choice of a pretrained-encoder recipe: layers, pooling, heads, normalization, input length.

With real weights (``--model``, e.g. Whisper base built by
``shared/models/whisper-base.sh``), every utterance of TESS and of the
synthetic corpus (the corpus of ``sklearn-ser demo``) is embedded once per
``--inputs`` mode (Whisper's ``"trimmed"`` and ``"padded"`` input) by
:class:`~sklearn_ser.features.SpeechEmbedder` with every hidden state per
frame; each utterance is reduced to the mean and standard deviation of
every hidden state over its frames, and the frames of the mean of the hidden
states. The reductions are kept in ``--cache-dir`` (``ssl-selection/``), and
the embedding's wall time per utterance (``--n-jobs`` threads) is recorded.

Candidates, under the speaker protocol (TESS: train on one speaker, test on
the other, both ways; synthetic: leave one of 4 speakers out):

* features: each hidden state's mean over frames (``layer<k>``), with its
  standard deviation (``layer<k>+std``), the mean of all hidden states
  (``layers-mean``, SpeechEmbedder's ``layer="mean"``), of all but the last
  (``layers-mean-no-last``: Whisper's last hidden state comes after the
  final layer norm), and its mean and standard deviation
  (``layers-mean+std``); all hidden states' means side by side
  (``layers-concat``);
* heads: logistic regression, linear and RBF SVM (deterministic), a
  one-hidden-layer MLP, a learned softmax-weighted sum of the hidden
  states' means into a linear layer (``weighted-layers``), and an attention
  BiLSTM over the frames of the mean of the hidden states (``frames-lstm``);
  the neural ones once per seed;
* normalization: per speaker (:class:`~sklearn_ser.features.SpeakerNormalizer`,
  the test speaker by its own statistics) or global (``StandardScaler``).

Every evaluation appends one JSON line to ``--out``; a rerun skips what is
there. ``--table`` prints mean ± sd over seeds of the balanced accuracy. Run:

    python benchmarks/ssl_selection.py --model ~/.cache/sklearn-ser-models/whisper-base \\
        --out docs/results/ssl_selection.jsonl [--corpora tess synthetic] [--inputs trimmed padded]
    python benchmarks/ssl_selection.py --out docs/results/ssl_selection.jsonl --table
    python benchmarks/ssl_selection.py --model DIR --out docs/results/ssl_paired.jsonl \
        --paired 'layer2+std|logreg|speaker@padded' 'layer1+std|logreg|speaker@trimmed'
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sequence_selection import append_row, benchmark_parser, load, read_rows
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.svm import SVC

from sklearn_ser._cache import default_cache_dir
from sklearn_ser._files import atomic_write
from sklearn_ser.features import SequenceScaler, SpeakerNormalizer, SpeechEmbedder
from sklearn_ser.models import LSTMClassifier

BATCH_FILES = 64


def embed_corpus(corpus, model, whisper_input, n_jobs, path):
    """Per-utterance reductions of every hidden state, computed once and kept in ``path`` (.npz)."""
    if path.exists():
        with np.load(path, allow_pickle=True) as stored:
            return {key: stored[key] for key in stored.files}
    paths = corpus["path"].tolist()
    embedder = SpeechEmbedder(
        model=model, layer="mean", pooling=None, whisper_input=whisper_input, device="cpu", n_jobs=n_jobs
    ).fit(paths[:1])
    embedder.set_params(layer=list(range(embedder.n_layers_ + 1)))
    n_states, width = embedder.n_layers_ + 1, embedder.hidden_size_
    means, stds, frames = [], [], []
    start = time.perf_counter()
    for first in range(0, len(paths), BATCH_FILES):
        for sequence in embedder.transform(paths[first : first + BATCH_FILES]):
            states = sequence.reshape(len(sequence), n_states, width).astype(np.float64)
            means.append(states.mean(axis=0))
            stds.append(states.std(axis=0))
            frames.append(states.mean(axis=1).astype(np.float32))
        print(f"{whisper_input}: {first + BATCH_FILES}/{len(paths)} files", flush=True)
    seconds = time.perf_counter() - start
    reductions = {
        "means": np.stack(means).astype(np.float32),
        "stds": np.stack(stds).astype(np.float32),
        "frames": np.array(frames + [None], dtype=object)[:-1],
        "seconds_per_utterance": np.float64(seconds / len(paths)),
        "mean_duration": np.float64(np.mean([len(f) for f in frames]) * 0.02),
    }
    atomic_write(path, lambda fh: np.savez(fh, **reductions))
    return reductions


def features(reductions, name):
    """The pooled features ``name`` of every utterance (see the module docstring)."""
    means, stds = reductions["means"], reductions["stds"]
    if name == "layers-mean":
        return means.mean(axis=1)
    if name == "layers-mean-no-last":
        return means[:, :-1].mean(axis=1)
    if name == "layers-mean+std":
        return np.stack([np.concatenate([f.mean(axis=0), f.std(axis=0)]) for f in reductions["frames"]])
    if name == "layers-concat":
        return means.reshape(len(means), -1)
    layer = int(name.removeprefix("layer").removesuffix("+std"))
    if name.endswith("+std"):
        return np.concatenate([means[:, layer], stds[:, layer]], axis=1)
    return means[:, layer]


def head(name, seed):
    if name == "logreg":
        return LogisticRegression(C=1.0, max_iter=3000)
    if name == "linear-svm":
        return SVC(kernel="linear", C=1.0)
    if name == "rbf-svm":
        return SVC(C=10.0)
    if name == "mlp":
        return MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, early_stopping=True, random_state=seed)
    raise ValueError(name)


class WeightedLayers:
    """A softmax-weighted sum of the hidden states' (normalized) means into a linear layer, trained with Adam."""

    def __init__(self, seed, epochs=300, lr=1e-2, weight_decay=1e-3):
        self.seed, self.epochs, self.lr, self.weight_decay = seed, epochs, lr, weight_decay

    def fit(self, X, y):
        self.encoder_ = LabelEncoder().fit(y)
        target = torch.as_tensor(self.encoder_.transform(y))
        inputs = torch.as_tensor(X, dtype=torch.float32)
        generator = torch.Generator().manual_seed(self.seed)
        self.weights_ = torch.zeros(X.shape[1], requires_grad=True)
        self.linear_ = torch.nn.Linear(X.shape[2], len(self.encoder_.classes_))
        with torch.no_grad():
            bound = 1 / np.sqrt(X.shape[2])
            self.linear_.weight.uniform_(-bound, bound, generator=generator)
            self.linear_.bias.zero_()
        optimizer = torch.optim.Adam(
            [self.weights_, *self.linear_.parameters()], lr=self.lr, weight_decay=self.weight_decay
        )
        for _ in range(self.epochs):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(self._logits(inputs), target)
            loss.backward()
            optimizer.step()
        return self

    def _logits(self, inputs):
        return self.linear_(torch.einsum("nlf,l->nf", inputs, torch.softmax(self.weights_, dim=0)))

    def predict(self, X):
        with torch.no_grad():
            logits = self._logits(torch.as_tensor(X, dtype=torch.float32))
        return self.encoder_.inverse_transform(logits.argmax(dim=1).numpy())


def normalize(kind, X_train, s_train, X_test, s_test):
    """Standardized training and test features: per speaker (each by its own statistics) or globally."""
    if kind == "global":
        scaler = StandardScaler().fit(X_train)
        return scaler.transform(X_train), scaler.transform(X_test)
    norm = SpeakerNormalizer()
    return norm.fit_transform(X_train, speaker=s_train), norm.transform(X_test, speaker=s_test)


def normalize_per_state(kind, means_train, s_train, means_test, s_test):
    """``normalize`` for each hidden state's means separately: (n, n_states, width) arrays."""
    pairs = [normalize(kind, means_train[:, k], s_train, means_test[:, k], s_test) for k in range(means_train.shape[1])]
    return np.stack([p[0] for p in pairs], axis=1), np.stack([p[1] for p in pairs], axis=1)


def score_pooled(reductions, corpus, feature, head_name, norm, seed):
    """Balanced accuracy per held-out speaker, and the mean fit seconds per fold."""
    y, speakers = corpus["label"].to_numpy(dtype=object), corpus["speaker"].to_numpy(dtype=object)
    predicted, seconds = fold_predictions(reductions, corpus, feature, head_name, norm, seed)
    scores = [balanced_accuracy_score(y[speakers == s], predicted[speakers == s]) for s in sorted(set(speakers))]
    return scores, seconds


def fold_predictions(reductions, corpus, feature, head_name, norm, seed):
    """Every utterance's prediction by the model of the fold that held its speaker out, and the mean fit seconds."""
    y, speakers = corpus["label"].to_numpy(dtype=object), corpus["speaker"].to_numpy(dtype=object)
    predicted = np.empty(len(y), dtype=object)
    seconds = []
    for held_out in sorted(set(speakers)):
        test = speakers == held_out
        start = time.perf_counter()
        if head_name == "weighted-layers":
            train_x, test_x = normalize_per_state(
                norm, reductions["means"][~test], speakers[~test], reductions["means"][test], speakers[test]
            )
            model = WeightedLayers(seed).fit(train_x, y[~test])
        elif head_name == "frames-lstm":
            frames = list(reductions["frames"])
            train_x = [frames[i] for i in np.flatnonzero(~test)]
            test_x = [frames[i] for i in np.flatnonzero(test)]
            norm_step = SpeakerNormalizer()
            train_x = norm_step.fit_transform(train_x, speaker=speakers[~test])
            test_x = norm_step.transform(test_x, speaker=speakers[test])
            model = make_pipeline(
                SequenceScaler(),
                LSTMClassifier(
                    hidden_size=64,
                    bidirectional=True,
                    pooling="attention",
                    max_epochs=20,
                    device="cpu",
                    random_state=seed,
                ),
            ).fit(train_x, y[~test])
        else:
            X = features(reductions, feature)
            train_x, test_x = normalize(norm, X[~test], speakers[~test], X[test], speakers[test])
            model = head(head_name, seed).fit(train_x, y[~test])
        seconds.append(time.perf_counter() - start)
        predicted[test] = model.predict(test_x)
    return predicted, float(np.mean(seconds))


def paired_bootstrap(args, first, second, n_resamples=2000):
    """The difference of two candidates' balanced accuracy (mean of the corpora), with a 95% interval.

    ``first`` and ``second`` are ``FEATURE|HEAD|NORMALIZATION@INPUT``. Both
    predict the same test utterances; the utterances of each held-out
    speaker are resampled with replacement (the same resample for both), so
    the interval measures how far the difference depends on which
    utterances were tested.
    """
    cache_dir = Path(args.cache_dir or default_cache_dir())
    rng = np.random.default_rng(0)
    differences, observed = np.zeros(n_resamples), 0.0
    for corpus_name in args.corpora:
        corpus = load(corpus_name, cache_dir, args.tess_root)
        y, speakers = corpus["label"].to_numpy(dtype=object), corpus["speaker"].to_numpy(dtype=object)
        predictions = []
        for spec in (first, second):
            name, whisper_input = spec.split("@")
            feature, head_name, norm = name.split("|")
            path = cache_dir / "ssl-selection" / f"{Path(args.model).name}-{corpus_name}-{whisper_input}.npz"
            reductions = embed_corpus(corpus, args.model, whisper_input, args.n_jobs, path)
            predictions.append(fold_predictions(reductions, corpus, feature, head_name, norm, 0)[0])
        folds = [np.flatnonzero(speakers == s) for s in sorted(set(speakers))]

        def mean_score(predicted, resample, y=y):
            return np.mean([balanced_accuracy_score(y[fold[pick]], predicted[fold[pick]]) for fold, pick in resample])

        identity = [(fold, np.arange(len(fold))) for fold in folds]
        observed += (mean_score(predictions[0], identity) - mean_score(predictions[1], identity)) / len(args.corpora)
        for k in range(n_resamples):
            resample = [(fold, rng.integers(0, len(fold), len(fold))) for fold in folds]
            differences[k] += (mean_score(predictions[0], resample) - mean_score(predictions[1], resample)) / len(
                args.corpora
            )
    low, high = np.percentile(differences, [2.5, 97.5])
    return {
        "first": first,
        "second": second,
        "difference": float(observed),
        "interval_95": [float(low), float(high)],
        "corpora": list(args.corpora),
        "resamples": n_resamples,
    }


POOLED_FEATURES = [
    *(f"layer{k}" for k in range(7)),
    *(f"layer{k}+std" for k in range(7)),
    "layers-mean",
    "layers-mean-no-last",
    "layers-mean+std",
    "layers-concat",
]


def candidates(whisper_input):
    """(feature, head, normalization, deep) of every candidate; the padded input gets the main ones only."""
    rows = []
    for feature in POOLED_FEATURES:
        rows.append((feature, "logreg", "speaker", False))
        if whisper_input == "padded":
            continue
        rows += [(feature, "linear-svm", "speaker", False), (feature, "rbf-svm", "speaker", False)]
        rows.append((feature, "logreg", "global", False))
    rows.append(("layers-mean", "rbf-svm", "speaker", False))  # ssl-svm as it stands
    if whisper_input == "trimmed":
        for head_name in ("linear-svm", "rbf-svm"):
            rows += [("layers-mean", head_name, "global", False), ("layer3", head_name, "global", False)]
        rows += [("layers-mean", "mlp", "speaker", True), ("layer3", "mlp", "speaker", True)]
        rows += [("layers-mean+std", "mlp", "speaker", True)]
        rows += [
            ("all-states", "weighted-layers", "speaker", True),
            ("layers-mean-frames", "frames-lstm", "speaker", True),
        ]
    return list(dict.fromkeys(rows))


def run(args):
    cache_dir = Path(args.cache_dir or default_cache_dir())
    store = cache_dir / "ssl-selection"
    store.mkdir(parents=True, exist_ok=True)
    finished = {(r["candidate"], r["corpus"], r["seed"], r["whisper_input"]) for r in read_rows(args.out)}
    torch.set_num_threads(os.cpu_count())
    for corpus_name in args.corpora:
        corpus = load(corpus_name, cache_dir, args.tess_root)
        for whisper_input in args.inputs:
            path = store / f"{Path(args.model).name}-{corpus_name}-{whisper_input}.npz"
            reductions = embed_corpus(corpus, args.model, whisper_input, args.n_jobs, path)
            for feature, head_name, norm, deep in candidates(whisper_input):
                name = f"{feature}|{head_name}|{norm}"
                for seed in args.seeds if deep else [None]:
                    if (name, corpus_name, seed, whisper_input) in finished:
                        continue
                    scores, fit_seconds = score_pooled(reductions, corpus, feature, head_name, norm, seed or 0)
                    row = {
                        "candidate": name,
                        "corpus": corpus_name,
                        "seed": seed,
                        "whisper_input": whisper_input,
                        "balanced_accuracy": float(np.mean(scores)),
                        "per_fold": [float(s) for s in scores],
                        "fit_seconds_per_fold": fit_seconds,
                        "embedding_seconds_per_utterance": float(reductions["seconds_per_utterance"]),
                        "model": Path(args.model).name,
                        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                    }
                    append_row(args.out, row)


def print_table(out):
    """Markdown table: per candidate and input, mean ± sd (seeds) on each corpus and their mean."""
    rows = read_rows(out)
    corpora = sorted({row["corpus"] for row in rows}, reverse=True)
    print("| features · head · normalization | input | " + " | ".join(corpora) + " | mean |")
    print("|---|---|" + "---:|" * (len(corpora) + 1))
    keys = list(dict.fromkeys((row["candidate"], row["whisper_input"]) for row in rows))
    lines = []
    for name, whisper_input in keys:
        cells, means = [], []
        for corpus in corpora:
            chosen = [
                r for r in rows if (r["candidate"], r["whisper_input"], r["corpus"]) == (name, whisper_input, corpus)
            ]
            if not chosen:
                cells.append("")
                continue
            scores = 100 * np.array([r["balanced_accuracy"] for r in chosen])
            means.append(scores.mean())
            spread = f" ± {scores.std():.1f} ({len(scores)})" if len(scores) > 1 else ""
            cells.append(f"{scores.mean():.1f}%{spread}")
        mean = np.mean(means) if len(means) == len(corpora) else -1
        lines.append(
            (mean, f"| {name.replace('|', ' · ')} | {whisper_input} | " + " | ".join(cells) + f" | {mean:.1f}% |")
        )
    for _, line in sorted(lines, key=lambda item: -item[0]):
        print(line)


def main():
    parser = benchmark_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.environ.get("SKLEARN_SER_WHISPER_BASE"))
    parser.add_argument("--inputs", nargs="+", default=["trimmed", "padded"], choices=["trimmed", "padded"])
    parser.add_argument("--n-jobs", type=int, default=2, help="embedding threads")
    parser.add_argument(
        "--paired",
        nargs=2,
        metavar="CANDIDATE@INPUT",
        help="instead of the table: the paired bootstrap of two candidates' difference, e.g. "
        "'layer2+std|logreg|speaker@padded' 'layer1+std|logreg|speaker@trimmed', appended to --out",
    )
    args = parser.parse_args()
    if args.paired:
        append_row(args.out, paired_bootstrap(args, *args.paired))
    elif args.table:
        print_table(args.out)
    else:
        run(args)


if __name__ == "__main__":
    main()
