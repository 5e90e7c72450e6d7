"""The LSTM training engine: length-bucketed batches, exact padding, epoch-wise training, interrupts, lean files."""

import os
import pickle
import signal

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback

from sklearn_ser.models import EpochwiseClassifier, LSTMClassifier, LSTMNetwork
from sklearn_ser.models._data import LENGTH_JITTER, LengthBucketedBatches, SequenceData
from sklearn_ser.models._recurrent import reverse_within_length

from .test_lstm import SMALL, gaussian_sequences

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def varied_lengths(n, seed=0, n_features=3, low=2, high=120):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(low, high)), n_features)).astype("float32") for _ in range(n)]


def test_reverse_within_length_reverses_valid_steps_only_and_is_its_own_inverse():
    x = torch.arange(2 * 5, dtype=torch.float32).reshape(2, 5, 1)
    lengths = torch.tensor([3, 5])
    reversed_ = reverse_within_length(x, lengths)
    assert reversed_[0, :, 0].tolist() == [2, 1, 0, 3, 4]
    assert reversed_[1, :, 0].tolist() == [9, 8, 7, 6, 5]
    torch.testing.assert_close(reverse_within_length(reversed_, lengths), x)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_an_utterance_gets_the_same_probabilities_alone_and_beside_much_longer_ones(device, pooling):
    X, y = gaussian_sequences(n=40)
    clf = LSTMClassifier(
        hidden_size=6,
        num_layers=2,
        bidirectional=True,
        dropout=0.3,
        pooling=pooling,
        head=(5,),
        max_epochs=2,
        batch_size=64,
        device=device,
        random_state=0,
    ).fit(X, y)
    short = X[0][:4]
    longer = varied_lengths(7, seed=3, low=100, high=400)
    alone = clf.predict_proba([short])
    in_batch = clf.predict_proba([longer[0], short, *longer[1:]])[1:2]
    tolerance = 1e-6 if device == "cpu" else 1e-4  # a larger batch may change the order of float sums
    np.testing.assert_allclose(in_batch, alone, atol=tolerance)


def test_the_network_ignores_whatever_the_padding_holds():
    torch.manual_seed(0)
    network = LSTMNetwork(n_features=2, n_classes=3, hidden_size=4, num_layers=2, bidirectional=True).eval()
    short = torch.randn(1, 5, 2)
    with torch.no_grad():
        alone = network(short, torch.tensor([5]))
        for padding in (0.0, 1e6, float("nan")):
            padded = torch.cat([short, torch.full((1, 30, 2), padding)], dim=1)
            in_batch = network(torch.cat([padded, torch.randn(1, 35, 2)]), torch.tensor([5, 35]))[:1]
            torch.testing.assert_close(in_batch, alone)


def test_training_batches_group_similar_lengths_cover_every_utterance_and_change_every_epoch():
    sequences = varied_lengths(300)
    data = SequenceData(sequences, np.arange(300) % 3)
    batches = LengthBucketedBatches(data, batch_size=20, shuffle=True)
    torch.manual_seed(0)
    epochs = [[batch for batch in batches] for _ in range(2)]
    for epoch in epochs:
        lengths = [X["lengths"].numpy() for X, _ in epoch]
        assert sorted(np.concatenate(lengths).tolist()) == sorted(data.lengths.tolist())
        padded_frames = sum(len(batch) * batch.max() for batch in lengths)
        assert 1 - data.lengths.sum() / padded_frames < 2 * LENGTH_JITTER  # about 50% for random batches
    first, second = ([X["lengths"].tolist() for X, _ in epoch] for epoch in epochs)
    assert first != second
    torch.manual_seed(0)
    assert [X["lengths"].tolist() for X, _ in batches] == first


def test_a_batch_holds_each_utterance_right_padded_with_its_label():
    sequences = varied_lengths(5, low=2, high=9)
    data = SequenceData(sequences, [4, 3, 2, 1, 0])
    X, y = data.batch(np.array([3, 0]))
    assert y.tolist() == [1, 4]
    for row, index in enumerate([3, 0]):
        length = len(sequences[index])
        assert X["lengths"][row] == length
        np.testing.assert_array_equal(X["x"][row, :length].numpy(), sequences[index])
    assert X["x"].shape == (2, max(len(sequences[3]), len(sequences[0])), 3)


def test_prediction_keeps_the_order_of_the_input():
    X, y = gaussian_sequences(n=60)
    clf = LSTMClassifier(**{**SMALL, "batch_size": 7}).fit(X, y)
    proba = clf.predict_proba(X)
    one_by_one = np.concatenate([clf.predict_proba([sequence]) for sequence in X])
    np.testing.assert_allclose(proba, one_by_one, atol=1e-5)


def test_the_classifier_follows_the_epochwise_protocol():
    assert isinstance(LSTMClassifier(), EpochwiseClassifier)
    clf = LSTMClassifier(**SMALL)
    with pytest.raises(RuntimeError, match="start_training"):
        clf.train_epochs(1)


def test_stepwise_training_with_early_stopping_equals_fit():
    X, y = gaussian_sequences(n=90, scale=4.0)
    params = dict(hidden_size=8, lr=0.02, max_epochs=40, early_stopping=True, n_iter_no_change=2, random_state=0)
    whole = LSTMClassifier(**params).fit(X, y)
    assert whole.n_epochs_ < 40
    stepwise = LSTMClassifier(**params).start_training(X, y)
    for _ in range(40):
        stepwise.train_epochs(1)
    stepwise.end_training()
    assert stepwise.n_epochs_ == whole.n_epochs_
    np.testing.assert_array_equal(stepwise.predict_proba(X), whole.predict_proba(X))


class _SendCtrlC(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


class _StopTraining(Callback):
    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            raise KeyboardInterrupt  # how skorch's callbacks end training


def test_ctrl_c_stops_fit_and_leaves_the_classifier_unfitted(ctrl_c_raises):
    X, y = gaussian_sequences()
    clf = LSTMClassifier(**{**SMALL, "max_epochs": 6, "callbacks": [_SendCtrlC(2)]})
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert not hasattr(clf, "net_") and not hasattr(clf, "classes_")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_callback_that_raises_keyboard_interrupt_ends_training_normally():
    X, y = gaussian_sequences()
    clf = LSTMClassifier(**{**SMALL, "max_epochs": 6, "callbacks": [_StopTraining()]}).fit(X, y)
    assert clf.n_epochs_ == 2
    assert clf.predict(X).shape == (60,)


def _weight_bytes(clf):
    return sum(p.numel() * 4 for p in clf.net_.module_.state_dict().values())


def test_a_pickled_model_stores_its_weights_once_and_no_optimizer_state():
    X, y = gaussian_sequences(n_features=40)
    clf = LSTMClassifier(
        hidden_size=64, bidirectional=True, pooling="attention", head=(32,), max_epochs=3, random_state=0
    ).fit(X, y)
    lean = pickle.dumps(clf)
    assert len(lean) < 1.2 * _weight_bytes(clf)
    restored = pickle.loads(lean)
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert not restored.net_.optimizer_.state_dict()["state"]
    assert restored.history_[:, "train_loss"] == clf.history_[:, "train_loss"]
    labelled = LSTMClassifier(**SMALL).fit(X, y.astype(object))
    assert pickle.loads(pickle.dumps(labelled)).predict(X).dtype == object  # the labels' own dtype


def test_warm_start_continues_training_also_after_loading():
    X, y = gaussian_sequences()
    clf = LSTMClassifier(**{**SMALL, "warm_start": True}).fit(X, y)
    saved = pickle.dumps(clf)
    assert len(saved) > 2.5 * _weight_bytes(clf)  # the optimizer's two moments travel with the weights
    continued = pickle.loads(saved).fit(X, y)
    assert continued.n_epochs_ == 4
    straight = LSTMClassifier(**{**SMALL, "warm_start": True}).fit(X, y).fit(X, y)
    np.testing.assert_allclose(continued.predict_proba(X), straight.predict_proba(X), atol=1e-6)
    with pytest.raises(ValueError, match="warm_start continues a network trained on the labels.*Fit a new classifier"):
        continued.fit(X[:20], np.where(y[:20] == "sad", "joy", y[:20]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_the_gpu_keeps_the_data_there_and_saves_cpu_tensors():
    X, y = gaussian_sequences()
    data = SequenceData(X, np.zeros(len(X)), device="cuda")
    assert data.frames.is_cuda and data.batch(np.arange(4))[0]["x"].is_cuda
    clf = LSTMClassifier(**{**SMALL, "device": "cuda"}).fit(X, y)
    state = pickle.loads(pickle.dumps(clf)).get_network_state()
    assert all(not tensor.is_cuda for tensor in state["module"].values())
    on_cpu = LSTMClassifier(**{**SMALL, "device": "cpu"}).set_network_state(state)
    np.testing.assert_allclose(on_cpu.predict_proba(X), clf.predict_proba(X), atol=1e-4)


def test_a_state_of_another_architecture_leaves_the_classifier_as_it_was():
    X, y = gaussian_sequences()
    fitted = LSTMClassifier(**SMALL).fit(X, y)
    state = fitted.get_network_state()
    wider = LSTMClassifier(**{**SMALL, "hidden_size": SMALL["hidden_size"] * 2})
    with pytest.raises(ValueError, match="(?s)does not fit this classifier's architecture.*size mismatch for lstm"):
        wider.set_network_state(state)
    assert not hasattr(wider, "classes_") and not hasattr(wider, "n_features_in_")
    with pytest.raises(NotFittedError):
        wider.predict(X)
    other = LSTMClassifier(**SMALL).fit(X[:30], np.where(y[:30] == y[0], "x", "y"))
    before = other.predict_proba(X)
    with pytest.raises(ValueError, match="size mismatch"):
        other.set_network_state({**state, "n_features_in": state["n_features_in"] + 1})
    assert list(other.classes_) == ["x", "y"]
    np.testing.assert_array_equal(other.predict_proba(X), before)
