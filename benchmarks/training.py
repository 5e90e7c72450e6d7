"""Training and inference speed of the LSTM models on the CPU.

Three measurements on TESS, with torch's default number of threads:

1. skorch overhead. ``LSTMClassifier.fit`` against a plain PyTorch loop on
   256 utterances of the training split. Both sides use the same
   ``LSTMNetwork``, ``SequenceDataset`` and ``pad_batch`` collate, batch
   size, shuffling, Adam, ``CrossEntropyLoss``, seed and number of epochs:
   they see the same batches in the same order and reach the same losses,
   which the script checks. The skorch side is ``LSTMClassifier.fit`` as
   users call it, with the skorch net its ``_build_net`` makes; the only
   change is a timer that clocks each epoch from its ``on_epoch_begin`` to
   the end of its last ``on_epoch_end`` callback. The plain loop clocks its
   epochs the same way. Two variants split skorch's cost: the same net
   without the ``train_acc`` scoring that LSTMClassifier adds, and with
   ``callbacks="disable"`` (no callbacks at all). Each of the four trains
   three times, in alternating order (plain first, then last, then first).
   The tables give median times per epoch, and the median ratio of the same
   epoch of the same round (paired ratio). This is done for the LSTM of the
   "lstm-logmel" recipe, for a small LSTM, and for a tiny LSTM on the first
   10 frames of each utterance, where little but the fixed per-batch and
   per-epoch costs remains. To show where a batch's time goes, one training
   step of the recipe's network is also timed with the LSTM input packed, as
   ``LSTMNetwork`` does, and padded without packing.
2. Epoch time of the "lstm-logmel" recipe's LSTM on the whole training
   part of a random stratified 80/20 split (2238 utterances). Its features
   (64-band log-Mel with ``n_jobs=-1``, deltas, standardization) are
   computed beforehand and timed on their own.
3. Inference. Latency of ``pipe.predict_proba([path])`` on one 3.0 s WAV
   file: several test-split utterances joined and cut to 3.0 s, at TESS's
   native 24,414 Hz, so resampling counts. The pipelines are a fitted
   "lstm-logmel" and a fitted "paper-proposed", each fitted for one epoch on
   256 utterances, since latency does not depend on accuracy. The script
   warms up once, then takes the median of 20 calls and breaks it down by
   stage. Throughput is one ``predict_proba`` call on 200 test-split files,
   with and without ``n_jobs=-1`` on the feature step.

Other processes distort the figures: each section ends with the share of the
machine's CPU time that other processes used during it. Under load, torch's
OpenMP threads wait on each other and training slows down many times over,
so figures from a busy run mean nothing. Run:

    python benchmarks/training.py [TESS_ROOT]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np
import skorch
import soundfile
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from skorch import NeuralNetClassifier

from sklearn_ser._audio import load_audio
from sklearn_ser.datasets import load_tess
from sklearn_ser.models import LSTMClassifier
from sklearn_ser.models._data import SequenceDataset, pad_batch
from sklearn_ser.models._network import LSTMNetwork
from sklearn_ser.recipes import get_recipe

DEFAULT_TESS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tess"
SEED = 0
OVERHEAD_SUBSET = 256  # utterances: 8 batches of 32, about 3 s per epoch of the recipe's LSTM
OVERHEAD_EPOCHS = 4
OVERHEAD_ROUNDS = 3
TINY_FRAMES = 10
TINY_EPOCHS = 20
RECIPE_EPOCHS = 2
LATENCY_CALLS = 20
THROUGHPUT_FILES = 200
THROUGHPUT_REPEATS = 3
UTTERANCE_SECONDS = 3.0


# ---------------------------------------------------------------- timing aids


class _CpuMonitor:
    """CPU seconds used by other processes since creation (Linux /proc/stat)."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        try:
            with open("/proc/stat") as fh:
                fields = [int(value) for value in fh.readline().split()[1:]]
        except OSError:
            return None
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        return busy / os.sysconf("SC_CLK_TCK"), usage.ru_utime + usage.ru_stime, time.perf_counter()

    def others(self):
        """(CPU seconds of other processes, wall seconds) since creation."""
        end = self._sample()
        if self.start is None or end is None:
            return None
        (busy0, own0, wall0), (busy1, own1, wall1) = self.start, end
        return max(0.0, (busy1 - busy0) - (own1 - own0)), wall1 - wall0


class _EpochTimedNet(NeuralNetClassifier):
    """The skorch net, recording each epoch's wall time around all its callbacks."""

    def notify(self, method_name, **cb_kwargs):
        if method_name == "on_train_begin":
            self.epoch_seconds_ = []
        elif method_name == "on_epoch_begin":
            self._epoch_start = time.perf_counter()
        super().notify(method_name, **cb_kwargs)
        if method_name == "on_epoch_end":
            self.epoch_seconds_.append(time.perf_counter() - self._epoch_start)


class _TimedLSTMClassifier(LSTMClassifier):
    """LSTMClassifier whose net records epoch times; ``callbacks_mode`` strips callbacks.

    ``"as shipped"`` leaves the net as ``LSTMClassifier._build_net`` makes it;
    ``"no train_acc"`` drops the one callback LSTMClassifier adds;
    ``"disable"`` also drops skorch's default callbacks.
    """

    callbacks_mode = "as shipped"

    def _build_net(self, *args, **kwargs):
        net = super()._build_net(*args, **kwargs)
        net.__class__ = _EpochTimedNet
        if self.callbacks_mode == "no train_acc":
            net.callbacks = [(name, cb) for name, cb in net.callbacks if name != "train_acc"]
        elif self.callbacks_mode == "disable":
            net.callbacks = "disable"
        return net


def _lstm_seed(random_state):
    """The torch seed LSTMClassifier.fit draws from ``random_state``."""
    return check_random_state(random_state).randint(np.iinfo(np.int32).max)


def plain_fit(sequences, y, params, *, n_classes, epochs):
    """The usual PyTorch loop over the same module, data, optimizer and seed.

    Returns per-epoch wall seconds and per-epoch mean training loss.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_lstm_seed(params["random_state"]))
        module = LSTMNetwork(
            n_features=sequences[0].shape[1],
            n_classes=n_classes,
            hidden_size=params["hidden_size"],
            num_layers=params["num_layers"],
            bidirectional=params["bidirectional"],
            dropout=params["dropout"],
            pooling=params["pooling"],
            head=tuple(params["head"]),
            recurrent_bias=params["recurrent_bias"],
        )
        criterion = torch.nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(module.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
        loader = torch.utils.data.DataLoader(
            SequenceDataset(sequences, y), batch_size=params["batch_size"], shuffle=True, collate_fn=pad_batch
        )
        seconds, losses = [], []
        for _ in range(epochs):
            start = time.perf_counter()
            module.train()
            total = 0.0
            for x, target in loader:
                optimizer.zero_grad()
                loss = criterion(module(**x), target)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(target)
            seconds.append(time.perf_counter() - start)
            losses.append(total / len(y))
    return seconds, losses


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def median_ms(function, calls):
    """Median wall milliseconds of ``calls`` calls, after one warm-up call."""
    function()
    return 1e3 * median(timed(function)[0] for _ in range(calls))


# ---------------------------------------------------------------- 1. overhead


def skorch_overhead(sequences, y, lstm_params, *, title, epochs=OVERHEAD_EPOCHS):
    """Per-epoch times of the plain loop and the three skorch variants.

    Returns the ratio of the median epoch of ``LSTMClassifier.fit`` to that
    of the plain loop.
    """
    n_classes = len(np.unique(y))
    modes = ["as shipped", "no train_acc", "disable"]
    runs = {name: [] for name in ["plain", *modes]}  # per run, the list of epoch seconds
    whole = {name: [] for name in runs}
    losses = {}
    params = {**lstm_params, "max_epochs": epochs}
    orders = (["plain", *modes], [*reversed(modes), "plain"])
    for order in (orders[r % 2] for r in range(OVERHEAD_ROUNDS)):
        for name in order:
            if name == "plain":
                seconds, (epoch_seconds, losses["plain"]) = timed(
                    plain_fit, sequences, y, params, n_classes=n_classes, epochs=epochs
                )
            else:
                clf = _TimedLSTMClassifier(**params)
                clf.callbacks_mode = name
                seconds, _ = timed(clf.fit, sequences, y)
                epoch_seconds = clf.net_.epoch_seconds_
                if name != "disable":
                    losses[name] = list(clf.history_[:, "train_loss"])
            runs[name].append(epoch_seconds)
            whole[name].append(seconds)
    n_batches = math.ceil(len(y) / params["batch_size"])
    plain = median(np.concatenate(runs["plain"]))
    labels = {
        "plain": "plain PyTorch loop",
        "as shipped": "`LSTMClassifier.fit` (skorch, default callbacks + `train_acc`)",
        "no train_acc": "same skorch net without `train_acc`",
        "disable": 'same skorch net, `callbacks="disable"`',
    }
    print(
        f"{title}: {len(y)} utterances, {n_batches} batches of {params['batch_size']}, "
        f"{epochs} epochs x {OVERHEAD_ROUNDS} runs per side"
    )
    print()
    print(
        "| training loop | median s/epoch | min-max s/epoch | ratio to plain | paired ratio | "
        "ms/batch over plain | whole fit, s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, values in runs.items():
        flat = np.concatenate(values)
        epoch = median(flat)
        paired = median(np.concatenate([np.divide(a, b) for a, b in zip(values, runs["plain"])]))
        print(
            f"| {labels[name]} | {epoch:.3f} | {flat.min():.3f}-{flat.max():.3f} | {epoch / plain:.3f} | "
            f"{paired:.3f} | {1e3 * (epoch - plain) / n_batches:+.2f} | {median(whole[name]):.2f} |"
        )
    diff = max(abs(a - b) for name in ("as shipped", "no train_acc") for a, b in zip(losses[name], losses["plain"]))
    print()
    print(f"Largest difference of per-epoch training loss, skorch vs plain: {diff:.1e}.")
    print()
    return median(np.concatenate(runs["as shipped"])) / plain


def packing_cost(sequences, y, lstm_params, *, steps=5):
    """Milliseconds of one training step with and without packing, on one real batch.

    The packed step is LSTMNetwork's forward as shipped. The padded step runs
    the same ``nn.LSTM`` on the padded batch without packing, then the same
    masked pooling and head. It is not equivalent for a bidirectional LSTM,
    whose backward direction then reads the padding first. It is here only
    to show what packing costs on the CPU.
    """
    torch.manual_seed(SEED)
    module = LSTMNetwork(
        n_features=sequences[0].shape[1],
        n_classes=int(y.max()) + 1,
        hidden_size=lstm_params["hidden_size"],
        bidirectional=lstm_params["bidirectional"],
        dropout=lstm_params["dropout"],
        pooling=lstm_params["pooling"],
        head=tuple(lstm_params["head"]),
    ).train()
    optimizer = torch.optim.Adam(module.parameters(), lr=lstm_params["lr"])
    n = lstm_params["batch_size"]
    x, target = pad_batch(list(SequenceDataset(sequences[:n], y[:n])))

    def padded(x, lengths):
        outputs, _ = module.lstm(x)
        mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
        return module.head(module._pool(outputs, mask))

    rows = {}
    for name, forward in [("packed (`LSTMNetwork` as shipped)", module), ("padded, no packing (reference)", padded)]:

        def train_step(forward=forward):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(forward(**x), target).backward()
            optimizer.step()

        def forward_only(forward=forward):
            with torch.no_grad():
                forward(**x)

        rows[name] = median_ms(forward_only, steps), median_ms(train_step, steps)
    print(
        f"One training step of lstm-logmel's network on a batch of {len(target)} training utterances "
        f"({int(x['lengths'].min())}-{int(x['lengths'].max())} frames), median of {steps}:"
    )
    print()
    print("| LSTM input | forward, no grad, ms | forward + backward + Adam, ms |")
    print("|---|---:|---:|")
    for name, (forward_ms, step_ms) in rows.items():
        print(f"| {name} | {forward_ms:.0f} | {step_ms:.0f} |")
    print()


# ---------------------------------------------------------------- 3. inference


def write_utterance(paths, folder):
    """A 3.0 s WAV at the corpus's native rate, made of consecutive utterances."""
    pieces, sr = [], None
    for path in paths:
        y, native_sr = soundfile.read(path, dtype="float32")
        if sr is None:
            sr = native_sr
        if native_sr != sr:
            continue
        pieces.append(y if y.ndim == 1 else y.mean(axis=1))
        if sum(map(len, pieces)) >= UTTERANCE_SECONDS * sr:
            break
    wav = np.concatenate(pieces)[: round(UTTERANCE_SECONDS * sr)]
    path = os.path.join(folder, "utterance.wav")
    soundfile.write(path, wav, sr, subtype="PCM_16")
    return path, sr


def latency_breakdown(pipe, path):
    """Median milliseconds per stage for one file, and end to end."""
    feature = pipe.steps[0][1]
    compute = feature._make_computer()
    y = load_audio(path, sr=feature.sr)
    first = feature.transform([path])
    middle = pipe[1:-1]
    sequences = middle.transform(first)
    model = pipe[-1]
    batch, _ = pad_batch([SequenceDataset(list(sequences))[0]])
    module = model.net_.module_

    def forward():
        module.eval()
        with torch.no_grad():
            module(**batch)

    total = median_ms(lambda: pipe.predict_proba([path]), LATENCY_CALLS)
    stages = {
        "decode + resample (`load_audio`)": median_ms(lambda: load_audio(path, sr=feature.sr), LATENCY_CALLS),
        f"{type(feature).__name__} computation on the waveform": median_ms(lambda: compute(y), LATENCY_CALLS),
        f"{type(feature).__name__}.transform, whole": median_ms(lambda: feature.transform([path]), LATENCY_CALLS),
        f"other feature steps ({', '.join(n for n, _ in middle.steps)})": median_ms(
            lambda: middle.transform(first), LATENCY_CALLS
        ),
        "`LSTMClassifier.predict_proba`, whole": median_ms(lambda: model.predict_proba(sequences), LATENCY_CALLS),
        "torch module forward alone": median_ms(forward, LATENCY_CALLS),
    }
    return total, stages


def throughput(pipe, paths):
    """Files per second of one predict_proba call, per n_jobs of the feature step."""
    feature_name = pipe.steps[0][0]
    rows = {}
    for n_jobs in (None, -1):
        pipe.set_params(**{f"{feature_name}__n_jobs": n_jobs})
        pipe.predict_proba(paths[:8])
        seconds = median(timed(pipe.predict_proba, paths)[0] for _ in range(THROUGHPUT_REPEATS))
        rows[f"end to end, `{feature_name}__n_jobs={n_jobs}`"] = seconds
    pipe.set_params(**{f"{feature_name}__n_jobs": None})
    sequences = pipe[:-1].transform(paths)
    rows["model step alone (features precomputed)"] = median(
        timed(pipe[-1].predict_proba, sequences)[0] for _ in range(THROUGHPUT_REPEATS)
    )
    return rows


# ---------------------------------------------------------------- main


def _report_load(monitor):
    """Print how busy other processes kept the machine since ``monitor`` started."""
    others = monitor.others()
    if others is not None:
        busy, wall = others
        print(
            f"_Other processes used {100 * busy / (wall * os.cpu_count()):.1f}% of the machine's CPU "
            f"during these {wall:.0f} s._"
        )
        print()


def feature_section(train_paths):
    """Computes and times the lstm-logmel features of the training part."""
    monitor = _CpuMonitor()
    features = get_recipe("lstm-logmel", n_jobs=-1)[:-1]
    features[:1].fit_transform(train_paths[:8])  # imports and first-call costs
    step_seconds, sequences = {}, train_paths
    for name, step in features.steps:
        step_seconds[name], sequences = timed(step.fit_transform, sequences)
    n_frames = np.array([len(s) for s in sequences])
    print(f"## Features of the {len(train_paths)} training utterances (lstm-logmel steps, computed once)")
    print()
    print(
        f"{n_frames.sum():,} frames of {sequences[0].shape[1]} features; median {int(np.median(n_frames))} "
        f"frames per utterance ({n_frames.min()}-{n_frames.max()})."
    )
    print()
    print("| step | seconds | files/s |")
    print("|---|---:|---:|")
    labels = {
        "mel": "MelSpectrogram(n_mels=64, n_jobs=-1)",
        "delta": "DeltaStack(order=2)",
        "scale": "SequenceScaler (fit + transform)",
    }
    for name, seconds in step_seconds.items():
        print(f"| {labels[name]} | {seconds:.2f} | {len(train_paths) / seconds:,.0f} |")
    total = sum(step_seconds.values())
    print(f"| total | {total:.2f} | {len(train_paths) / total:,.0f} |")
    print()
    _report_load(monitor)
    return sequences


def overhead_section(sequences, y_train, recipe_lstm):
    """Skorch against the plain loop, and the cost of packing."""
    monitor = _CpuMonitor()
    warm = {**recipe_lstm, "max_epochs": 1}  # imports and first-call costs of both sides
    LSTMClassifier(**warm).fit(sequences[:64], y_train[:64])
    y_warm = np.unique(y_train[:64], return_inverse=True)[1]
    plain_fit(sequences[:64], y_warm, warm, n_classes=y_warm.max() + 1, epochs=1)
    subset = sequences[:OVERHEAD_SUBSET]
    y_subset = np.unique(y_train[:OVERHEAD_SUBSET], return_inverse=True)[1]
    print("## skorch overhead")
    print()
    title = "lstm-logmel's LSTM (BiLSTM 2x128, attention, dense 64)"
    ratio = skorch_overhead(subset, y_subset, recipe_lstm, title=title)
    small = {**recipe_lstm, "hidden_size": 16, "bidirectional": False, "pooling": "last", "head": ()}
    skorch_overhead(subset, y_subset, small, title="small LSTM (16 units, last state, no dense layer)")
    tiny = {**small, "hidden_size": 4}
    skorch_overhead(
        [sequence[:TINY_FRAMES] for sequence in subset],
        y_subset,
        tiny,
        title=f"tiny LSTM (4 units) on the first {TINY_FRAMES} frames, to isolate fixed costs",
        epochs=TINY_EPOCHS,
    )
    packing_cost(subset, y_subset, recipe_lstm)
    _report_load(monitor)
    return ratio


def recipe_epoch_section(sequences, y_train, recipe_lstm):
    """Epochs of the recipe's LSTM on the whole training part."""
    monitor = _CpuMonitor()
    clf = _TimedLSTMClassifier(**{**recipe_lstm, "max_epochs": RECIPE_EPOCHS})
    fit_seconds, _ = timed(clf.fit, sequences, y_train)
    n_batches = math.ceil(len(y_train) / recipe_lstm["batch_size"])
    print(
        f"## lstm-logmel epoch on the {len(y_train)} training utterances ({n_batches} batches of "
        f"{recipe_lstm['batch_size']})"
    )
    print()
    print("| epoch | seconds | ms/batch |")
    print("|---|---:|---:|")
    for epoch, seconds in enumerate(clf.net_.epoch_seconds_, 1):
        print(f"| {epoch} | {seconds:.1f} | {1e3 * seconds / n_batches:.0f} |")
    print()
    recipe_epochs = recipe_lstm["max_epochs"]
    print(
        f"Whole fit ({RECIPE_EPOCHS} epochs): {fit_seconds:.1f} s. At this pace the recipe's {recipe_epochs} "
        f"epochs take about {recipe_epochs * median(clf.net_.epoch_seconds_) / 60:.0f} min."
    )
    print()
    _report_load(monitor)


def inference_section(train_paths, y_train, test_paths):
    """Latency of one 3 s file and throughput of 200 files, for two fitted recipes."""
    monitor = _CpuMonitor()
    pipes = {
        name: get_recipe(name, max_epochs=1, random_state=SEED, device="cpu").fit(
            train_paths[:OVERHEAD_SUBSET], y_train[:OVERHEAD_SUBSET]
        )
        for name in ("lstm-logmel", "paper-proposed")
    }
    with tempfile.TemporaryDirectory() as folder:
        path, sr = write_utterance(test_paths, folder)
        results = {name: latency_breakdown(pipe, path) for name, pipe in pipes.items()}
    print(f"## Inference latency: one {UTTERANCE_SECONDS:.1f} s WAV ({sr} Hz), `predict_proba([path])`")
    print()
    print(f"| pipeline | median ms per call ({LATENCY_CALLS} calls) |")
    print("|---|---:|")
    for name, (total, _) in results.items():
        print(f"| {name} | {total:.1f} |")
    print()
    for name, (total, stages) in results.items():
        print(f"{name}, by stage (median of {LATENCY_CALLS} calls each):")
        print()
        print("| stage | ms |")
        print("|---|---:|")
        for stage, ms in stages.items():
            print(f"| {stage} | {ms:.2f} |")
        print(f"| end to end | {total:.2f} |")
        print()

    batch = test_paths[:THROUGHPUT_FILES]
    print(f"## Throughput: {len(batch)} files in one `predict_proba` call (median of {THROUGHPUT_REPEATS})")
    print()
    print("| pipeline | run | seconds | files/s |")
    print("|---|---|---:|---:|")
    for name, pipe in pipes.items():
        for run, seconds in throughput(pipe, batch).items():
            print(f"| {name} | {run} | {seconds:.2f} | {len(batch) / seconds:,.0f} |")
    print()
    _report_load(monitor)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tess_root", nargs="?", default=os.environ.get("SKLEARN_SER_TESS", DEFAULT_TESS))
    args = parser.parse_args(argv)
    monitor = _CpuMonitor()
    frame = load_tess(args.tess_root)
    train, test = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=SEED)
    train_paths, y_train = train["path"].tolist(), train["label"].to_numpy()
    test_paths = test["path"].tolist()
    for path in frame["path"]:  # the page cache holds every file from here on
        Path(path).read_bytes()

    machine = platform.processor() or platform.machine()
    print(f"# TESS from {args.tess_root}: {len(frame)} files, split {len(train)} train / {len(test)} test")
    print(
        f"# {machine}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
        f"Python {sys.version.split()[0]}, torch {torch.__version__}, skorch {skorch.__version__}, "
        f"numpy {np.__version__}"
    )
    print()
    recipe_lstm = get_recipe("lstm-logmel", random_state=SEED, device="cpu").named_steps["lstm"].get_params()
    sequences = feature_section(train_paths)
    ratio = overhead_section(sequences, y_train, recipe_lstm)
    recipe_epoch_section(sequences, y_train, recipe_lstm)
    del sequences
    inference_section(train_paths, y_train, test_paths)
    print(f"skorch / plain per-epoch ratio (lstm-logmel's LSTM): {ratio:.3f} (target <= 1.15)")
    _report_load(monitor)


if __name__ == "__main__":
    main()
