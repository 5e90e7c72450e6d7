"""Training-only augmentation of the LSTM's batches: SpecAugment-style masks and mixup."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier

from sklearn_ser.models import LSTMClassifier
from sklearn_ser.models._augment import (
    AugmentingNetClassifier,
    Mixing,
    SequenceAugmentation,
    draw_mixing,
    feature_mask,
    mix,
    time_mask,
)
from sklearn_ser.models._data import SequenceData

from .test_lstm import SMALL, gaussian_sequences
from .test_lstm_training import varied_lengths

ALL_ON = dict(time_masks=2, time_mask_width=0.3, freq_masks=1, freq_mask_width=2, mixup_alpha=0.4)
AUGMENTATION_PARAMS = dict(ALL_ON, freq_mask_blocks=1)


def _weights(clf):
    return {name: tensor.cpu() for name, tensor in clf.net_.module_.state_dict().items()}


def _assert_same_weights(first, second):
    assert first.keys() == second.keys()
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=0, atol=0, msg=name)


def _runs(row):
    """(start, width) of each run of True values of a 1-D boolean array."""
    padded = np.concatenate([[False], row, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return [(start, stop - start) for start, stop in zip(edges[::2], edges[1::2])]


def test_augmentation_is_off_by_default():
    params = LSTMClassifier().get_params()
    assert (params["time_masks"], params["freq_masks"], params["mixup_alpha"]) == (0, 0, 0.0)
    assert not LSTMClassifier()._augmentation().active


def test_augmentation_switched_off_trains_exactly_skorchs_own_step(monkeypatch):
    X, y = gaussian_sequences()
    default = LSTMClassifier(**SMALL).fit(X, y)
    widths_only = LSTMClassifier(**SMALL, time_mask_width=0.5, freq_mask_width=3, freq_mask_blocks=3).fit(X, y)
    monkeypatch.setattr(AugmentingNetClassifier, "train_step_single", NeuralNetClassifier.train_step_single)
    plain_skorch = LSTMClassifier(**SMALL).fit(X, y)
    _assert_same_weights(_weights(default), _weights(plain_skorch))
    _assert_same_weights(_weights(widths_only), _weights(plain_skorch))
    assert default.history_[:, "train_acc"] == plain_skorch.history_[:, "train_acc"]


@pytest.mark.parametrize(
    "augmentation", [dict(time_masks=2), dict(freq_masks=1, freq_mask_width=2), dict(mixup_alpha=0.4), ALL_ON]
)
def test_each_augmentation_changes_training_and_the_same_seed_gives_the_same_weights(augmentation):
    X, y = gaussian_sequences()
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = LSTMClassifier(**SMALL, **augmentation).fit(X, y)
    assert torch.equal(torch.rand(1), before)  # torch's global random state is left as it was
    second = LSTMClassifier(**SMALL, **augmentation).fit(X, y)
    _assert_same_weights(_weights(first), _weights(second))
    plain = LSTMClassifier(**SMALL).fit(X, y)
    assert not np.array_equal(first.predict_proba(X), plain.predict_proba(X))
    other_seed = LSTMClassifier(**{**SMALL, "random_state": 1}, **augmentation).fit(X, y)
    assert not np.array_equal(first.predict_proba(X), other_seed.predict_proba(X))


def test_prediction_is_never_augmented_and_ignores_the_parameters_after_fit():
    X, y = gaussian_sequences()
    clf = LSTMClassifier(**SMALL, **ALL_ON).fit(X, y)
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    same_network = LSTMClassifier(**SMALL).set_network_state(clf.get_network_state())
    np.testing.assert_array_equal(same_network.predict_proba(X), expected)
    clf.set_params(time_masks=8, time_mask_width=1.0, freq_masks=3, freq_mask_width=3, mixup_alpha=2.0)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)


def test_clone_and_pickle_keep_the_augmentation():
    X, y = gaussian_sequences()
    clf = LSTMClassifier(**SMALL, **AUGMENTATION_PARAMS).fit(X, y)
    assert {key: clone(clf).get_params()[key] for key in AUGMENTATION_PARAMS} == AUGMENTATION_PARAMS
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    _assert_same_weights(_weights(clone(clf).fit(X, y)), _weights(clf))


def test_training_a_few_epochs_at_a_time_with_augmentation_equals_fit():
    X, y = gaussian_sequences()
    X_val, y_val = gaussian_sequences(n=12, seed=5)
    params = {**SMALL, **ALL_ON, "max_epochs": 4}
    whole = LSTMClassifier(**params).fit(X, y, validation_data=(X_val, y_val))
    stepwise = LSTMClassifier(**params).start_training(X, y, validation_data=(X_val, y_val))
    for _ in range(4):
        stepwise.train_epochs(1)
    stepwise.end_training()
    _assert_same_weights(_weights(stepwise), _weights(whole))
    assert stepwise.history_[:, "train_loss"] == whole.history_[:, "train_loss"]


def test_early_stopping_with_class_weights_restores_the_best_epoch_on_unaugmented_validation():
    X, y = gaussian_sequences(n=90, scale=4.0)
    X_val, y_val = gaussian_sequences(n=12, seed=5, scale=4.0)
    params = dict(hidden_size=8, lr=0.02, batch_size=64, max_epochs=40, early_stopping=True, n_iter_no_change=2)
    clf = LSTMClassifier(**params, **ALL_ON, class_weight={"calm": 2.0}, random_state=0)
    clf.fit(X, y, validation_data=(X_val, y_val))
    assert clf.n_epochs_ < 40
    weights = np.where(y_val == "calm", 2.0, 1.0)  # the validation set is one batch: one weighted mean
    true_class_proba = clf.predict_proba(X_val)[np.arange(len(y_val)), np.searchsorted(clf.classes_, y_val)]
    restored_loss = np.average(-np.log(true_class_proba), weights=weights)
    assert restored_loss == pytest.approx(min(clf.history_[:, "valid_loss"]), rel=1e-5)


def test_with_mixup_the_training_accuracy_is_scored_against_each_utterances_own_label():
    X, y = gaussian_sequences(n=90)
    clf = LSTMClassifier(hidden_size=8, lr=0.02, max_epochs=15, mixup_alpha=1.0, random_state=0).fit(X, y)
    # Scored against the partners' labels, or with mixtures dominated by the partner half of the time, the
    # accuracy of a model that follows each mixture's dominant utterance would be near 1/3 or 2/3.
    assert np.mean(clf.history_[-5:, "train_acc"]) > 0.8


@pytest.mark.parametrize("n_masks", [1, 3])
def test_time_masks_stay_within_each_utterance_and_the_requested_width(n_masks):
    lengths = torch.tensor([3, 10, 37, 100])
    fraction = 0.2
    longest = np.floor(lengths.numpy() * fraction).astype(int)
    torch.manual_seed(0)
    widest = np.zeros(len(lengths), dtype=int)
    for _ in range(300):
        masked = time_mask(lengths, 120, n_masks, fraction).numpy()
        assert masked.shape == (4, 120)
        for row, length in enumerate(lengths.tolist()):
            assert not masked[row, length:].any()
            runs = _runs(masked[row])
            assert len(runs) <= n_masks and sum(width for _, width in runs) <= n_masks * longest[row]
            if n_masks == 1:
                widest[row] = max([widest[row], *(width for _, width in runs)])
    if n_masks == 1:
        np.testing.assert_array_equal(widest, longest)  # the widest allowed mask is drawn


@pytest.mark.parametrize("n_blocks", [1, 3])
def test_feature_masks_cover_a_band_of_at_most_the_width_in_every_block_alike(n_blocks):
    torch.manual_seed(0)
    masked = feature_mask(500, 12, 1, 3, n_blocks, device=torch.device("cpu")).numpy()
    blocks = masked.reshape(500, n_blocks, 12 // n_blocks)
    assert (blocks == blocks[:, :1]).all()
    widths = [sum(width for _, width in _runs(row)) for row in blocks[:, 0]]
    assert all(len(_runs(row)) <= 1 for row in blocks[:, 0])
    assert set(widths) == {0, 1, 2, 3}


def test_a_feature_band_wider_than_the_features_is_cut_to_them():
    torch.manual_seed(0)
    masked = feature_mask(200, 4, 1, 50, device=torch.device("cpu"))
    assert masked.sum(dim=1).max() == 4


def test_masks_set_valid_frames_to_zero_and_the_batch_stays_padded_with_each_last_frame():
    sequences = [1.0 + np.abs(sequence) for sequence in varied_lengths(6, n_features=6, low=5, high=40)]
    X, _ = SequenceData(sequences, np.zeros(6)).batch(np.arange(6))
    augmentation = SequenceAugmentation(time_masks=2, time_mask_width=0.3, freq_masks=2, freq_mask_width=2)
    torch.manual_seed(0)
    augmented, mixing = augmentation(X["x"], X["lengths"])
    assert mixing is None
    masks = augmentation.draw_masks(X["lengths"], X["x"].shape[1], 6)
    assert not any(masks[row, length:].any() for row, length in enumerate(X["lengths"].tolist()))
    zeroed = (augmented == 0).numpy()
    assert zeroed.any()
    for row, length in enumerate(X["lengths"].tolist()):
        valid = augmented[row, :length].numpy()
        untouched = ~zeroed[row, :length]
        np.testing.assert_array_equal(valid[untouched], X["x"][row, :length].numpy()[untouched])
        padding = augmented[row, length:].numpy()
        np.testing.assert_array_equal(padding, np.broadcast_to(valid[-1], padding.shape))


def test_mixup_mixes_each_utterance_with_its_partner_over_their_common_length():
    sequences = varied_lengths(3, n_features=2, low=4, high=12)
    X, _ = SequenceData(sequences, np.zeros(3)).batch(np.arange(3))
    x, lengths = X["x"], X["lengths"]
    mixing = Mixing(partner=torch.tensor([2, 0, 1]), weight=torch.tensor(0.7))
    mixed = mix(x, lengths, mixing)
    for row, partner in enumerate([2, 0, 1]):
        common = min(len(sequences[row]), len(sequences[partner]))
        expected = np.array(sequences[row])
        expected[:common] = 0.7 * expected[:common] + 0.3 * sequences[partner][:common]
        np.testing.assert_allclose(mixed[row, : len(sequences[row])].numpy(), expected, rtol=1e-6)


def test_mixing_draws_a_permutation_and_a_dominant_weight():
    torch.manual_seed(0)
    draws = [draw_mixing(8, 0.4, torch.device("cpu")) for _ in range(200)]
    assert all(sorted(mixing.partner.tolist()) == list(range(8)) for mixing in draws)
    weights = np.array([float(mixing.weight) for mixing in draws])
    assert weights.min() >= 0.5 and weights.max() <= 1.0
    assert weights.min() < 0.6 and weights.max() > 0.95  # Beta(0.4, 0.4) reaches both ends


def test_the_mixup_loss_is_the_mixture_of_both_labels_class_weighted_cross_entropies():
    X, y = gaussian_sequences(n=20)
    clf = LSTMClassifier(**SMALL, mixup_alpha=0.4, class_weight={"calm": 3.0}).fit(X, y)
    net = clf.net_
    inputs, targets = SequenceData(X, np.searchsorted(clf.classes_, y)).batch(np.arange(len(X)))
    torch.manual_seed(5)
    loss = net.train_step_single((inputs, targets))["loss"]
    torch.manual_seed(5)
    x, mixing = net.augmentation(inputs["x"], inputs["lengths"])
    with torch.no_grad():
        log_proba = torch.log_softmax(net.module_(x, inputs["lengths"]), dim=1)
    class_weights = torch.tensor([1.0, 3.0, 1.0])  # classes_ are angry, calm, sad

    def weighted_cross_entropy(labels):
        weights = class_weights[labels]
        return -(weights * log_proba[torch.arange(len(labels)), labels]).sum() / weights.sum()

    expected = mixing.weight * weighted_cross_entropy(targets) + (1 - mixing.weight) * weighted_cross_entropy(
        targets[mixing.partner]
    )
    assert 0.5 < float(mixing.weight) < 1.0 and not torch.equal(mixing.partner, torch.arange(len(targets)))
    torch.testing.assert_close(loss.detach(), expected)


@pytest.mark.parametrize(
    "params, parameter",
    [
        (dict(time_masks=-1), "time_masks"),
        (dict(time_mask_width=0.0), "time_mask_width"),
        (dict(time_mask_width=1.5), "time_mask_width"),
        (dict(freq_masks=1.5), "freq_masks"),
        (dict(freq_mask_width=0), "freq_mask_width"),
        (dict(freq_mask_blocks=0), "freq_mask_blocks"),
        (dict(mixup_alpha=-0.1), "mixup_alpha"),
    ],
)
def test_invalid_augmentation_parameters_name_the_parameter(params, parameter):
    X, y = gaussian_sequences(n=6)
    with pytest.raises(ValueError, match=f"'{parameter}' parameter"):
        LSTMClassifier(**params).fit(X, y)


def test_feature_blocks_must_divide_the_features_when_bands_are_masked():
    X, y = gaussian_sequences(n=6, n_features=4)
    with pytest.raises(ValueError, match="freq_mask_blocks=3 must divide the 4 features"):
        LSTMClassifier(**SMALL, freq_masks=1, freq_mask_blocks=3).fit(X, y)
    LSTMClassifier(**SMALL, freq_masks=0, freq_mask_blocks=3).fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_augmentation_runs_on_the_gpu_and_is_seeded_there():
    X, y = gaussian_sequences()
    x = torch.randn(4, 9, 3, device="cuda")
    lengths = torch.tensor([9, 8, 8, 7], device="cuda")
    augmented, mixing = SequenceAugmentation(**AUGMENTATION_PARAMS)(x, lengths)
    assert augmented.is_cuda and mixing.partner.is_cuda and mixing.weight.is_cuda
    params = {**SMALL, **ALL_ON, "device": "cuda"}
    first, second = (LSTMClassifier(**params).fit(X, y) for _ in range(2))
    np.testing.assert_allclose(first.predict_proba(X), second.predict_proba(X), atol=1e-5)
    plain = LSTMClassifier(**{**SMALL, "device": "cuda"}).fit(X, y)
    assert not np.allclose(first.predict_proba(X), plain.predict_proba(X), atol=1e-5)
