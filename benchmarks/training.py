"""Training and inference speed of the LSTM models, on the CPU or a GPU.

Measurements on TESS, split 80/20 stratified by emotion (``random_state=0``),
with the features of the "lstm-logmel" recipe (64-band log-Mel, deltas,
standardization) computed once beforehand:

1. The engine. Median epoch of ``LSTMClassifier.fit`` with the recipe's
   network against a plain PyTorch loop doing the same bucketed work: the
   same ``LSTMNetwork``, the same ``SequenceData`` and
   ``LengthBucketedBatches`` (so the same batches in the same order), Adam,
   ``CrossEntropyLoss``, seed and epochs, and the training accuracy counted
   from each batch's outputs. Their per-epoch losses are compared. The sides
   alternate (classifier first, then the loop, then the classifier...).
   With ``--baseline REF`` the classifier of an earlier commit of this
   repository (checked out into a temporary git worktree, run in a
   subprocess on the same features) is timed too.
2. Exact padding, two ways. One training step (forward, backward, Adam) of
   the recipe's network on one length-bucketed batch: the bidirectional LSTM
   packed (sorted or not, as ``pack_padded_sequence`` does) against
   ``PaddedLSTM``, which reverses each sequence within its length for the
   backward direction. Both give the outputs of each utterance alone.
3. Model files. A fitted "lstm-logmel" pipeline saved with joblib, against
   its float32 weights plus the scaler's statistics.
4. Inference. Latency of ``predict_proba([path])`` on one 3.0 s WAV at
   TESS's native 24,414 Hz (resampling counts), and throughput of one call on
   200 files.
5. With ``--device cuda``: the torch feature engine and ``DenseNetEmbedder``
   on the GPU against their CPU runs.

Other processes distort the figures: each section ends with the share of the
machine's CPU time that other processes used during it. Run:

    python benchmarks/training.py [TESS_ROOT] [--device cuda] [--batch-sizes 32 128]
        [--utterances all] [--baseline 8a76b5c]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from statistics import median

import joblib
import numpy as np
import skorch
import soundfile
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from skorch.callbacks import Callback
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sklearn_ser.datasets import load_tess
from sklearn_ser.models import LSTMClassifier
from sklearn_ser.models._data import LengthBucketedBatches, SequenceData
from sklearn_ser.models._network import LSTMNetwork
from sklearn_ser.recipes import get_recipe

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_TESS = REPOSITORY.parent / "shared" / "data" / "tess"
SEED = 0
ROUNDS = 2
STEP_REPEATS = 5
FILE_SUBSET = 256
LATENCY_CALLS = 20
THROUGHPUT_FILES = 200
UTTERANCE_SECONDS = 3.0
GPU_SUBSET = 400


# ---------------------------------------------------------------- timing aids


class _CpuMonitor:
    """CPU seconds used by other processes since creation (Linux /proc/stat)."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            with open("/proc/stat") as fh:
                fields = [int(value) for value in fh.readline().split()[1:]]
        except OSError:
            return None
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        own = usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime
        return busy / os.sysconf("SC_CLK_TCK"), own, time.perf_counter()

    def report(self):
        end = self._sample()
        if self.start is None or end is None:
            return
        (busy0, own0, wall0), (busy1, own1, wall1) = self.start, end
        others = max(0.0, (busy1 - busy0) - (own1 - own0))
        print(
            f"_Other processes used {100 * others / ((wall1 - wall0) * os.cpu_count()):.1f}% of the machine's CPU "
            f"during these {wall1 - wall0:.0f} s._"
        )
        print()


class EpochClock(Callback):
    """Wall seconds of each epoch, from its start to the end of the callbacks before this one."""

    def __init__(self, device):
        self.device = device

    def on_train_begin(self, net, **kwargs):
        self.seconds_ = []

    def on_epoch_begin(self, net, **kwargs):
        _synchronize(self.device)
        self._start = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        _synchronize(self.device)
        self.seconds_.append(time.perf_counter() - self._start)


def _synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def median_ms(function, calls, device="cpu"):
    """Median wall milliseconds of ``calls`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(calls):
        _synchronize(device)
        start = time.perf_counter()
        function()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return 1e3 * median(times)


# ---------------------------------------------------------------- 1. the engine


def classifier_fit(sequences, y, params, epochs):
    """Epoch seconds and per-epoch training loss of ``LSTMClassifier.fit``."""
    clock = ("clock", EpochClock(params["device"]))
    clf = LSTMClassifier(**{**params, "max_epochs": epochs, "callbacks": [clock]}).fit(sequences, y)
    return dict(clf.net_.callbacks_)["clock"].seconds_, list(clf.history_[:, "train_loss"])


def plain_fit(sequences, y, params, epochs):
    """The usual PyTorch loop over the classifier's own batches: epoch seconds and per-epoch loss."""
    device = torch.device(params["device"])
    codes = np.unique(y, return_inverse=True)[1]
    seed = check_random_state(params["random_state"]).randint(np.iinfo(np.int32).max)
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if device.type == "cuda" else []):
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            torch.cuda.manual_seed(seed)
        module = LSTMNetwork(
            n_features=sequences[0].shape[1],
            n_classes=int(codes.max()) + 1,
            hidden_size=params["hidden_size"],
            num_layers=params["num_layers"],
            bidirectional=params["bidirectional"],
            dropout=params["dropout"],
            pooling=params["pooling"],
            head=tuple(params["head"]),
            recurrent_bias=params["recurrent_bias"],
        ).to(device)
        criterion = torch.nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(module.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
        batches = LengthBucketedBatches(SequenceData(sequences, codes, device=device), params["batch_size"], True)
        seconds, losses = [], []
        for _ in range(epochs):
            _synchronize(device)
            start = time.perf_counter()
            module.train()
            total, correct = 0.0, torch.zeros((), dtype=torch.int64, device=device)
            for X, target in batches:
                optimizer.zero_grad()
                logits = module(**X)
                loss = criterion(logits, target)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(target)
                correct += (logits.argmax(dim=1) == target).sum()
            correct.item()
            _synchronize(device)
            seconds.append(time.perf_counter() - start)
            losses.append(total / len(codes))
    return seconds, losses


BASELINE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, torch
    from skorch.callbacks import Callback
    from sklearn_ser.models import LSTMClassifier

    class Clock(Callback):
        def on_train_begin(self, net, **kwargs):
            self.seconds_ = []
        def on_epoch_begin(self, net, **kwargs):
            if torch.cuda.is_available(): torch.cuda.synchronize()
            self.start = time.perf_counter()
        def on_epoch_end(self, net, **kwargs):
            if torch.cuda.is_available(): torch.cuda.synchronize()
            self.seconds_.append(time.perf_counter() - self.start)

    data, params, epochs, out, tree = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    import sklearn_ser
    assert sklearn_ser.__file__.startswith(tree), f"{sklearn_ser.__file__} is not the package of {tree}"
    with np.load(data) as arrays:
        frames, lengths, y = arrays["frames"], arrays["lengths"], arrays["y"]
    sequences = np.split(frames, np.cumsum(lengths)[:-1])
    clf = LSTMClassifier(**params, max_epochs=epochs, callbacks=[("clock", Clock())]).fit(sequences, y)
    with open(out, "w") as fh:
        json.dump({"seconds": dict(clf.net_.callbacks_)["clock"].seconds_}, fh)
    """
)


def baseline_fit(ref, sequences, y, params, epochs):
    """Epoch seconds of the ``LSTMClassifier`` of commit ``ref``, on the same features, in a subprocess."""
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "tree"
        subprocess.run(
            ["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", str(tree), ref],
            check=True,
            capture_output=True,
        )
        try:
            data, out = Path(folder) / "data.npz", Path(folder) / "out.json"
            np.savez(
                data, frames=np.concatenate(sequences), lengths=[len(s) for s in sequences], y=np.asarray(y, dtype=str)
            )
            keys = [
                "hidden_size",
                "num_layers",
                "bidirectional",
                "dropout",
                "pooling",
                "head",
                "lr",
                "batch_size",
                "device",
                "random_state",
            ]
            arguments = json.dumps({key: params[key] for key in keys})
            env = {**os.environ, "PYTHONPATH": str(tree)}
            subprocess.run(
                [sys.executable, "-c", BASELINE_SCRIPT, str(data), arguments, str(epochs), str(out), str(tree)],
                check=True,
                env=env,
                cwd=folder,  # with -c, the working directory comes first on sys.path
            )
            return json.loads(out.read_text())["seconds"]
        finally:
            subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "remove", "--force", str(tree)], check=True)


def engine_section(sequences, y, params, *, batch_sizes, epochs, baseline):
    monitor = _CpuMonitor()
    frames = np.array([len(s) for s in sequences])
    print(
        f"## The engine: {len(y)} utterances, {frames.mean():.0f} frames of {sequences[0].shape[1]} features "
        f"on average ({frames.min()}-{frames.max()}), {epochs} epochs x {ROUNDS} runs per side, "
        f"device {params['device']}"
    )
    print()
    print("| batch size | training loop | median s/epoch | min-max s/epoch | ratio to plain loop |")
    print("|---:|---|---:|---:|---:|")
    ratios = {}
    for batch_size in batch_sizes:
        run = {**params, "batch_size": batch_size}
        classifier_fit(sequences[:64], y[:64], run, 1)  # imports and first-call costs
        plain_fit(sequences[:64], y[:64], run, 1)
        seconds = {"classifier": [], "plain": []}
        losses = {}
        for round_ in range(ROUNDS):
            for side in ["classifier", "plain"] if round_ % 2 == 0 else ["plain", "classifier"]:
                fit = classifier_fit if side == "classifier" else plain_fit
                epoch_seconds, losses[side] = fit(sequences, y, run, epochs)
                seconds[side].extend(epoch_seconds)
        if baseline:
            seconds["baseline"] = baseline_fit(baseline, sequences, y, run, min(epochs, 2))
        plain = median(seconds["plain"])
        labels = {
            "classifier": "`LSTMClassifier.fit`",
            "plain": "plain PyTorch loop, same bucketed batches",
            "baseline": f"`LSTMClassifier.fit` of commit {baseline}",
        }
        for side, values in seconds.items():
            print(
                f"| {batch_size} | {labels[side]} | {median(values):.3f} | {min(values):.3f}-{max(values):.3f} | "
                f"{median(values) / plain:.2f} |"
            )
        ratios[batch_size] = median(seconds["classifier"]) / plain
        difference = max(abs(a - b) for a, b in zip(losses["classifier"], losses["plain"]))
        print(f"|  | largest difference of per-epoch training loss, classifier vs loop: {difference:.1e} | | | |")
    print()
    monitor.report()
    return ratios


# ---------------------------------------------------------------- 2. exact padding, two ways


def padding_section(sequences, y, params):
    monitor = _CpuMonitor()
    device = torch.device(params["device"])
    torch.manual_seed(SEED)
    n_features, hidden = sequences[0].shape[1], params["hidden_size"]
    packed_lstm = torch.nn.LSTM(n_features, hidden, batch_first=True, bidirectional=True).to(device)
    network = LSTMNetwork(n_features=n_features, n_classes=7, hidden_size=hidden, bidirectional=True).to(device)
    head = torch.nn.Linear(2 * hidden, 7).to(device)
    data = SequenceData(sequences, np.unique(y, return_inverse=True)[1], device=device)
    order = data.length_order()
    X, target = data.batch(order[len(order) // 2 : len(order) // 2 + params["batch_size"]])
    lengths = X["lengths"]
    optimizer = torch.optim.Adam([*packed_lstm.parameters(), *network.parameters(), *head.parameters()])

    def packed(sort):
        def forward():
            x, batch_lengths, permutation = X["x"], lengths, None
            if sort:
                batch_lengths, permutation = lengths.sort(descending=True)
                x = x[permutation]
            packed_input = pack_padded_sequence(x, batch_lengths.cpu(), batch_first=True, enforce_sorted=sort)
            outputs, _ = pad_packed_sequence(packed_lstm(packed_input)[0], batch_first=True)
            return head(outputs.mean(dim=1))

        return forward

    def reversed_within_length():
        outputs = network.lstm(X["x"], lengths)
        return head(outputs.mean(dim=1))

    print(
        f"## Exact padding: one training step on a batch of {len(target)} utterances of "
        f"{int(lengths.min())}-{int(lengths.max())} frames (BiLSTM {hidden}), median of {STEP_REPEATS}"
    )
    print()
    print("| backward direction | forward + backward + Adam, ms |")
    print("|---|---:|")
    for name, forward in [
        ("packed, unsorted (`enforce_sorted=False`, the previous engine)", packed(False)),
        ("packed, sorted by length (`enforce_sorted=True`)", packed(True)),
        ("padded, each sequence reversed within its length (`PaddedLSTM`)", reversed_within_length),
    ]:

        def step(forward=forward):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(forward(), target).backward()
            optimizer.step()

        print(f"| {name} | {median_ms(step, STEP_REPEATS, device):.1f} |")
    print()
    monitor.report()


# ---------------------------------------------------------------- 3. model files


def model_file_section(train_paths, y_train, device):
    monitor = _CpuMonitor()
    pipe = get_recipe("lstm-logmel", max_epochs=2, random_state=SEED, device=device, n_jobs=-1)
    pipe.fit(train_paths[:FILE_SUBSET], y_train[:FILE_SUBSET])
    buffer = io.BytesIO()
    joblib.dump(pipe, buffer)
    weights = sum(t.numel() * 4 for t in pipe.named_steps["lstm"].get_network_state()["module"].values())
    scaler = sum(a.nbytes for a in vars(pipe.named_steps["scale"]).values() if isinstance(a, np.ndarray))
    size = len(buffer.getvalue())
    print(f"## Model file: lstm-logmel fitted on {device} (2 epochs, {FILE_SUBSET} files), saved with joblib")
    print()
    print("| content | bytes |")
    print("|---|---:|")
    print(f"| float32 weights | {weights:,} |")
    print(f"| scaler statistics | {scaler:,} |")
    print(f"| joblib file | {size:,} ({size / (weights + scaler):.2f}x weights + scaler) |")
    print()
    monitor.report()
    return size / (weights + scaler)


# ---------------------------------------------------------------- 4. inference


def write_utterance(paths, folder):
    """A 3.0 s WAV at the corpus's native rate, made of consecutive utterances."""
    pieces, sr = [], None
    for path in paths:
        y, native_sr = soundfile.read(path, dtype="float32")
        sr = sr or native_sr
        if native_sr == sr:
            pieces.append(y if y.ndim == 1 else y.mean(axis=1))
        if sum(map(len, pieces)) >= UTTERANCE_SECONDS * sr:
            break
    path = os.path.join(folder, "utterance.wav")
    soundfile.write(path, np.concatenate(pieces)[: round(UTTERANCE_SECONDS * sr)], sr, subtype="PCM_16")
    return path, sr


def inference_section(train_paths, y_train, test_paths, device):
    monitor = _CpuMonitor()
    pipes = {
        name: get_recipe(name, max_epochs=1, random_state=SEED, device=device).fit(
            train_paths[:FILE_SUBSET], y_train[:FILE_SUBSET]
        )
        for name in ("lstm-logmel", "paper-proposed")
    }
    batch = test_paths[:THROUGHPUT_FILES]
    with tempfile.TemporaryDirectory() as folder:
        path, sr = write_utterance(test_paths, folder)
        print(
            f"## Inference on {device}: one {UTTERANCE_SECONDS:.1f} s WAV ({sr} Hz), and {len(batch)} files in one call"
        )
        print()
        print(
            "| pipeline | `predict_proba([path])`, median ms | of which the LSTM, ms | "
            f"{len(batch)} files, `n_jobs=-1`, files/s |"
        )
        print("|---|---:|---:|---:|")
        for name, pipe in pipes.items():
            features = pipe[:-1].transform([path])
            latency = median_ms(lambda pipe=pipe: pipe.predict_proba([path]), LATENCY_CALLS, device)
            model = median_ms(lambda pipe=pipe, X=features: pipe[-1].predict_proba(X), LATENCY_CALLS, device)
            pipe.set_params(**{f"{pipe.steps[0][0]}__n_jobs": -1})
            pipe.predict_proba(batch[:8])
            seconds, _ = timed(pipe.predict_proba, batch)
            print(f"| {name} | {latency:.1f} | {model:.1f} | {len(batch) / seconds:,.0f} |")
    print()
    monitor.report()


# ---------------------------------------------------------------- 5. GPU feature steps


def gpu_feature_section(paths):
    from sklearn_ser.features import DenseNetEmbedder, MelSpectrogram

    monitor = _CpuMonitor()
    paths = paths[:GPU_SUBSET]
    print(f"## Feature steps on the GPU against the CPU, {len(paths)} files (median of 3 after a warm-up)")
    print()
    print("| step | CPU s | GPU s | speed-up |")
    print("|---|---:|---:|---:|")
    cases = {
        "MelSpectrogram(n_mels=64), numpy engine (CPU) vs engine='torch' (GPU)": (
            MelSpectrogram(n_mels=64, n_jobs=-1),
            MelSpectrogram(n_mels=64, n_jobs=-1, engine="torch", device="cuda"),
            paths,
        ),
    }
    logmel = MelSpectrogram(n_mels=64, n_jobs=-1).fit_transform(paths)
    from sklearn_ser.features import DeltaStack

    images = DeltaStack(order=2).fit_transform(logmel)
    cases["DenseNetEmbedder(densenet121), CPU vs GPU"] = (
        DenseNetEmbedder(weights=None, device="cpu", random_state=0),
        DenseNetEmbedder(weights=None, device="cuda", random_state=0),
        images,
    )
    for name, (on_cpu, on_gpu, X) in cases.items():
        times = []
        for step in (on_cpu, on_gpu):
            step.fit(X[:4]).transform(X[:8])

            def run(step=step, X=X):
                step.transform(X)

            times.append(median_ms(run, 3, "cuda") / 1e3)
        print(f"| {name} | {times[0]:.2f} | {times[1]:.2f} | {times[0] / times[1]:.1f}x |")
    print()
    monitor.report()


# ---------------------------------------------------------------- main


def recipe_features(paths):
    monitor = _CpuMonitor()
    features = get_recipe("lstm-logmel", n_jobs=-1)[:-1]
    seconds, sequences = timed(features.fit_transform, paths)
    print(f"Features of {len(paths)} utterances (lstm-logmel's steps, computed once): {seconds:.1f} s.")
    print()
    monitor.report()
    return sequences


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tess_root", nargs="?", default=os.environ.get("SKLEARN_SER_TESS", DEFAULT_TESS))
    parser.add_argument("--device", default="cpu", help="torch device of the LSTMs (default: cpu)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run of each side (default: 3)")
    parser.add_argument(
        "--utterances",
        choices=["train", "all"],
        default="train",
        help="train on the training split (default) or on all 2798 utterances",
    )
    parser.add_argument("--baseline", metavar="REF", help="also time the LSTMClassifier of this git commit")
    parser.add_argument("--engine-only", action="store_true", help="sections 1 and 2 only")
    parser.add_argument("--limit", type=int, help="use only this many utterances (a quick trial of the script)")
    args = parser.parse_args(argv)
    total = _CpuMonitor()
    frame = load_tess(args.tess_root)
    train, test = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=SEED)
    train_paths, y_train = train["path"].tolist(), train["label"].to_numpy()
    test_paths = test["path"].tolist()
    for path in frame["path"]:  # the page cache holds every file from here on
        Path(path).read_bytes()
    gpu = torch.cuda.get_device_name(args.device) if torch.device(args.device).type == "cuda" else "no GPU used"
    print(f"# TESS from {args.tess_root}: {len(frame)} files, split {len(train)} train / {len(test)} test")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {gpu}, torch threads "
        f"{torch.get_num_threads()}, Python {sys.version.split()[0]}, torch {torch.__version__}, "
        f"skorch {skorch.__version__}, numpy {np.__version__}"
    )
    print()
    if args.utterances == "all":
        paths, y = frame["path"].tolist(), frame["label"].to_numpy()
    else:
        paths, y = train_paths, y_train
    paths, y = paths[: args.limit], y[: args.limit]
    sequences = recipe_features(paths)
    params = get_recipe("lstm-logmel", random_state=SEED, device=args.device).named_steps["lstm"].get_params()
    ratios = engine_section(
        sequences, y, params, batch_sizes=args.batch_sizes, epochs=args.epochs, baseline=args.baseline
    )
    padding_section(sequences, y, params)
    del sequences
    if not args.engine_only:
        size_ratio = model_file_section(train_paths, y_train, args.device)
        inference_section(train_paths, y_train, test_paths, args.device)
        if torch.device(args.device).type == "cuda":
            gpu_feature_section(train_paths)
        print(f"Model file / (float32 weights + scaler): {size_ratio:.2f} (target <= 1.5)")
    for batch_size, ratio in ratios.items():
        print(f"LSTMClassifier / plain loop per epoch, batch {batch_size}: {ratio:.2f} (target <= 1.3)")
    total.report()


if __name__ == "__main__":
    main()
