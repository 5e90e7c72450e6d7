"""CRNNClassifier: the CNN front end, exact padding through convolutions and pooling, and the inherited protocols."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ser.models import (
    CRNNClassifier,
    CRNNNetwork,
    EpochwiseClassifier,
    LSTMClassifier,
    LSTMNetwork,
    count_trainable_parameters,
)
from sklearn_ser.models._frontend import ConvFrontEnd, MaskedBatchNorm2d
from sklearn_ser.persistence import load_weights, save_weights

from .test_lstm import SMALL, gaussian_sequences
from .test_lstm_training import DEVICES, varied_lengths

TINY = {**SMALL, "conv_channels": (4,)}
LENGTHS = [1, 2, 3, 4, 5, 7, 8, 11, 13]  # below, at and between multiples of the time poolings


def tensor_batch(sequences, padding=None):
    """Right-padded batch (with each last frame, or with ``padding``) of 2-D tensors, and their lengths."""
    longest = max(len(sequence) for sequence in sequences)
    rows = []
    for sequence in sequences:
        filler = sequence[-1:] if padding is None else torch.full_like(sequence[:1], padding)
        rows.append(torch.cat([sequence, filler.expand(longest - len(sequence), -1)]))
    return torch.stack(rows), torch.tensor([len(sequence) for sequence in sequences])


def crnn_network(**params):
    torch.manual_seed(0)
    defaults = dict(n_features=6, n_classes=3, conv_channels=(3, 4), pool_time=2, hidden_size=5)
    return CRNNNetwork(**{**defaults, **params})


def rising_or_falling_sweeps(n, n_frames=24, n_bins=12, seed=0):
    """Spectrogram-like sequences of a band sweeping up ("rising") or down ("falling") in frequency.

    Every frame holds one active bin, and over an utterance each class visits
    the same bins: only the order in time tells the classes apart.
    """
    rng = np.random.default_rng(seed)
    X, y = [], []
    for index in range(n):
        rising = index % 2 == 0
        bins = np.linspace(0, n_bins - 1, n_frames).round().astype(int)
        frames = rng.normal(scale=0.3, size=(n_frames, n_bins)).astype("float32")
        frames[np.arange(n_frames), bins if rising else bins[::-1]] += 2.0
        X.append(frames)
        y.append("rising" if rising else "falling")
    return X, np.asarray(y)


def test_fits_and_predicts_the_users_labels():
    X, y = gaussian_sequences(n_features=6)
    clf = CRNNClassifier(**TINY).fit(X, y)
    assert list(clf.classes_) == ["angry", "calm", "sad"]
    assert isinstance(clf.net_.module_, CRNNNetwork)
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 3) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))


@pytest.mark.parametrize("pool_time", [1, 2, 3, (2, 3), (3, 1, 2)])
def test_the_output_length_is_the_ceiling_through_every_time_pooling(pool_time):
    n_blocks = 1 if isinstance(pool_time, int) else len(pool_time)
    frontend = ConvFrontEnd(5, (2,) * n_blocks, pool_time=pool_time, pool_freq=2).eval()
    total = pool_time if isinstance(pool_time, int) else math.prod(pool_time)
    for length in LENGTHS:
        features, lengths = frontend(torch.randn(1, length, 5), torch.tensor([length]))
        assert features.shape[1] == lengths.item() == math.ceil(length / total) >= 1
    lengths = torch.tensor(LENGTHS)
    assert frontend.output_lengths(lengths).tolist() == [math.ceil(length / total) for length in LENGTHS]


@pytest.mark.parametrize(
    ("n_features", "pool_freq", "width"), [(8, 2, 2 * 4), (7, 2, 2 * 4), (1, 2, 2 * 1), (9, (2, 3), 2 * 2)]
)
def test_the_output_features_are_the_channels_times_the_pooled_bins(n_features, pool_freq, width):
    n_blocks = 1 if isinstance(pool_freq, int) else len(pool_freq)
    frontend = ConvFrontEnd(n_features, (3,) * (n_blocks - 1) + (2,), pool_time=1, pool_freq=pool_freq)
    features, _ = frontend(torch.randn(2, 6, n_features), torch.tensor([6, 4]))
    assert frontend.n_features_out == width == features.shape[2]


@pytest.mark.parametrize("pool_time", [2, (3, 2)])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_the_network_ignores_whatever_the_padding_holds(pooling, pool_time):
    network = crnn_network(pooling=pooling, pool_time=pool_time, bidirectional=True).eval()
    longest = torch.randn(17, 6)
    with torch.no_grad():
        for length in LENGTHS:
            short = torch.randn(length, 6)
            alone = network(short[None], torch.tensor([length]))
            for padding in (None, 0.0, 1e6, float("nan")):
                x, lengths = tensor_batch([longest, short], padding)
                torch.testing.assert_close(network(x, lengths)[1:], alone, rtol=0, atol=1e-6)


def test_in_training_the_normalization_ignores_the_padding():
    network = crnn_network(dropout=0.0).train()
    sequences = [torch.randn(length, 6) for length in (13, 5, 2, 8)]
    x, lengths = tensor_batch(sequences)
    outputs, running = [], []
    for extra_frames, padding in [(0, 0.0), (9, 0.0), (4, 1e6), (20, float("nan"))]:
        network.load_state_dict(crnn_network(dropout=0.0).state_dict())
        longer = torch.cat([x, torch.full((len(sequences), extra_frames, 6), padding)], dim=1)
        outputs.append(network(longer, lengths))
        running.append([block.norm.running_var.clone() for block in network.frontend.blocks])
    for output, variances in zip(outputs[1:], running[1:]):
        torch.testing.assert_close(output, outputs[0])
        for variance, expected in zip(variances, running[0]):
            torch.testing.assert_close(variance, expected)


def test_masked_batch_normalization_without_padding_is_batch_normalization():
    torch.manual_seed(0)
    masked, plain = MaskedBatchNorm2d(3), torch.nn.BatchNorm2d(3)
    for _ in range(3):
        x = torch.randn(4, 3, 7, 5) * 3 + 1
        torch.testing.assert_close(masked(x, torch.ones(4, 1, 7, 1, dtype=torch.bool)), plain(x))
    for name, buffer in plain.named_buffers():
        torch.testing.assert_close(masked.get_buffer(name), buffer)
    masked.eval(), plain.eval()
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(masked(x, torch.zeros(2, 1, 4, 1, dtype=torch.bool)), plain(x))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("pooling", "pool_time"), [("last", 2), ("attention", (3, 2)), ("mean", (2, 2))])
def test_an_utterance_gets_the_same_probabilities_alone_and_beside_much_longer_ones(device, pooling, pool_time):
    X, y = gaussian_sequences(n=40, n_features=6)
    clf = CRNNClassifier(
        conv_channels=(3, 4),
        pool_time=pool_time,
        hidden_size=6,
        bidirectional=True,
        pooling=pooling,
        head=(5,),
        max_epochs=2,
        batch_size=64,
        device=device,
        random_state=0,
    ).fit(X, y)
    longer = varied_lengths(5, seed=3, n_features=6, low=100, high=300)
    tolerance = 1e-6 if device == "cpu" else 1e-4  # a larger batch may change the order of float sums
    for length in LENGTHS:
        short = np.resize(X[0], (length, 6))
        alone = clf.predict_proba([short])
        in_batch = clf.predict_proba([longer[0], short, *longer[1:]])[1:2]
        np.testing.assert_allclose(in_batch, alone, atol=tolerance, err_msg=f"length {length}")


def test_utterances_shorter_than_the_time_pooling_train_and_predict():
    X, y = gaussian_sequences(n=30, n_features=6)
    X = [sequence[: 1 + index % 3] for index, sequence in enumerate(X)]  # 1 to 3 frames, pooled by 2 x 2
    clf = CRNNClassifier(**{**TINY, "conv_channels": (3, 4), "pool_time": 2}).fit(X, y)
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all() and proba.shape == (30, 3)
    assert clf.net_.module_.frontend.output_lengths(torch.tensor([1, 2, 3, 4, 5])).tolist() == [1, 1, 1, 1, 2]


def test_feature_blocks_are_read_as_input_channels():
    frontend = ConvFrontEnd(12, (2,), pool_time=1, pool_freq=1, feature_blocks=3).eval()
    assert frontend.blocks[0].conv.in_channels == 3
    with torch.no_grad():
        frontend.blocks[0].conv.weight[:, [0, 2]] = 0.0  # only the middle block (the deltas) is read
    static, delta, delta_delta = torch.randn(3, 1, 6, 4)
    x = torch.cat([static, delta, delta_delta], dim=2)
    others = torch.cat([torch.randn(1, 6, 4), delta, torch.randn(1, 6, 4)], dim=2)
    lengths = torch.tensor([6])
    torch.testing.assert_close(frontend(others, lengths)[0], frontend(x, lengths)[0])


def test_learns_a_time_frequency_pattern():
    X, y = rising_or_falling_sweeps(64)
    X_test, y_test = rising_or_falling_sweeps(64, seed=1)
    params = dict(conv_channels=(8,), pool_freq=3, hidden_size=16, lr=0.01, max_epochs=8, batch_size=16)
    clf = CRNNClassifier(**params, random_state=0).fit(X, y)
    assert (clf.predict(X_test) == y_test).mean() >= 0.9


def test_training_augmentation_reaches_the_network():
    X, y = gaussian_sequences(n_features=6)
    params = {**TINY, "time_masks": 2, "freq_masks": 1, "freq_mask_width": 1, "freq_mask_blocks": 3, "mixup_alpha": 0.3}
    augmented = CRNNClassifier(**params, feature_blocks=3).fit(X, y)
    plain = CRNNClassifier(**TINY, feature_blocks=3).fit(X, y)
    assert augmented.history_[:, "train_loss"] != plain.history_[:, "train_loss"]
    assert np.isfinite(augmented.predict_proba(X)).all()


def test_parameters_are_the_lstm_parameters_and_the_cnn_parameters():
    lstm, crnn = LSTMClassifier().get_params(), CRNNClassifier().get_params()
    assert {key: crnn[key] for key in lstm} == lstm
    assert set(crnn) - set(lstm) == {"conv_channels", "pool_time", "pool_freq", "feature_blocks", "conv_dropout"}


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"feature_blocks": 4}, ValueError, "feature_blocks=4 must be a positive int that divides the 6 features"),
        ({"conv_channels": ()}, ValueError, "at least one convolution block"),
        ({"conv_channels": (4, 0)}, ValueError, "conv_channels must be a tuple of positive ints"),
        ({"pool_time": (2, 2)}, ValueError, r"pool_time must be .* one positive int per convolution block \(1\)"),
        ({"pool_freq": 0}, InvalidParameterError, "pool_freq"),
        ({"conv_dropout": 1.0}, InvalidParameterError, "conv_dropout"),
    ],
)
def test_invalid_parameters(params, error, match):
    X, y = gaussian_sequences(n=10, n_features=6)
    with pytest.raises(error, match=match):
        CRNNClassifier(**{**TINY, **params}).fit(X, y)


def test_clone_and_pickle_give_identical_probabilities():
    X, y = gaussian_sequences(n_features=6)
    clf = CRNNClassifier(**{**TINY, "pool_time": (2,), "feature_blocks": 2}).fit(X, y)
    assert clone(clf).get_params() == clf.get_params()
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict_proba(X), expected)
    restored = pickle.loads(pickle.dumps(clf))
    assert isinstance(restored.net_.module_, CRNNNetwork)
    np.testing.assert_array_equal(restored.predict_proba(X), expected)


def test_the_network_state_loads_into_the_same_architecture_only():
    X, y = gaussian_sequences(n_features=6)
    clf = CRNNClassifier(**TINY).fit(X, y)
    state = clf.get_network_state()
    assert any(key.startswith("frontend.blocks.0.norm.running_") for key in state["module"])
    loaded = CRNNClassifier(**TINY).set_network_state(state)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(ValueError, match="does not fit this classifier's architecture"):
        CRNNClassifier(**{**TINY, "conv_channels": (5,)}).set_network_state(state)


def test_saved_weights_load_into_the_same_architecture_only(tmp_path):
    X, y = gaussian_sequences(n_features=6)
    clf = CRNNClassifier(**TINY).fit(X, y)
    save_weights(clf, tmp_path / "crnn.pt")
    loaded = load_weights(CRNNClassifier(**TINY), tmp_path / "crnn.pt")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    # another time pooling has weights of the same shapes: only the saved parameters tell them apart
    with pytest.raises(ValueError, match="pool_time"):
        load_weights(CRNNClassifier(**{**TINY, "pool_time": 3}), tmp_path / "crnn.pt")


def test_the_parameter_count_is_the_cnn_and_the_lstm_network():
    network = crnn_network(n_features=12, conv_channels=(3, 4), pool_freq=2, feature_blocks=3, head=(7,))
    convolutions = 9 * (3 * 3 + 3 * 4)
    normalizations = 2 * (3 + 4)
    recurrent = LSTMNetwork(n_features=4 * 1, n_classes=3, hidden_size=5, head=(7,))  # 4 bins pooled twice by 2
    assert count_trainable_parameters(network) == convolutions + normalizations + count_trainable_parameters(recurrent)


def test_the_classifier_follows_the_epochwise_protocol():
    X, y = gaussian_sequences(n_features=6)
    assert isinstance(CRNNClassifier(), EpochwiseClassifier)
    whole = CRNNClassifier(**{**TINY, "max_epochs": 3}).fit(X, y)
    stepwise = CRNNClassifier(**{**TINY, "max_epochs": 3}).start_training(X, y)
    stepwise.train_epochs(2)
    assert stepwise.n_epochs_ == 2 and stepwise.predict(X).shape == (60,)
    stepwise.train_epochs(1).end_training()
    np.testing.assert_array_equal(stepwise.predict_proba(X), whole.predict_proba(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_the_gpu_and_predicts_the_same_on_the_cpu():
    X, y = gaussian_sequences(n_features=6)
    clf = CRNNClassifier(**{**TINY, "device": "cuda"}).fit(X, y)
    assert next(clf.net_.module_.parameters()).is_cuda
    state = pickle.loads(pickle.dumps(clf)).get_network_state()
    assert all(not tensor.is_cuda for tensor in state["module"].values())
    on_cpu = CRNNClassifier(**{**TINY, "device": "cpu"}).set_network_state(state)
    np.testing.assert_allclose(on_cpu.predict_proba(X), clf.predict_proba(X), atol=1e-4)  # TF32 convolutions
