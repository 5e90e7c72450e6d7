import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.features import DeltaStack, MelSpectrogram, SequencePooling
from sklearn_ser.models import LSTMClassifier, LSTMNetwork, count_trainable_parameters

SMALL = dict(hidden_size=8, max_epochs=2, batch_size=8, random_state=0)


def gaussian_sequences(n=60, n_features=3, seed=0, labels=("calm", "angry", "sad"), scale=0.5):
    """Sequences of random length whose mean depends on the label."""
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % len(labels)
    X = [
        rng.normal(loc=code, scale=scale, size=(int(rng.integers(3, 30)), n_features)).astype("float32")
        for code in codes
    ]
    return X, np.asarray(labels)[codes]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(tmp_path_factory.mktemp("corpus"), n_speakers=2, n_words=4, random_state=0)


def test_learns_and_returns_the_users_labels():
    X, y = gaussian_sequences()
    clf = LSTMClassifier(hidden_size=16, lr=0.01, max_epochs=30, random_state=0).fit(X, y)
    assert list(clf.classes_) == ["angry", "calm", "sad"]
    X_test, y_test = gaussian_sequences(seed=1)
    assert (clf.predict(X_test) == y_test).mean() > 0.9
    proba = clf.predict_proba(X_test)
    assert proba.shape == (60, 3) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X_test))


@pytest.mark.parametrize("labels", [(0, 1), (-3, 7), ("ps", "sad"), (True, False)])
@pytest.mark.parametrize("as_list", [False, True])
def test_label_types(labels, as_list):
    X, y = gaussian_sequences(n=10, labels=labels)
    clf = LSTMClassifier(**SMALL).fit(X, y.tolist() if as_list else y)
    assert set(clf.predict(X)) <= set(labels)
    assert sorted(clf.classes_) == sorted(labels)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_pooling_ignores_padding(pooling, bidirectional):
    torch.manual_seed(0)
    network = LSTMNetwork(n_features=2, n_classes=3, hidden_size=4, pooling=pooling, bidirectional=bidirectional)
    network.eval()
    short = torch.randn(1, 5, 2)
    padded = torch.cat([short, torch.full((1, 7, 2), 9.0)], dim=1)
    alone = network(short, torch.tensor([5]))
    in_batch = network(torch.cat([padded, torch.randn(1, 12, 2)]), torch.tensor([5, 12]))[:1]
    torch.testing.assert_close(alone, in_batch)


def test_same_seed_same_predictions_and_global_rng_untouched():
    X, y = gaussian_sequences()
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    fitted = LSTMClassifier(**SMALL).fit(X, y)
    after = torch.rand(1)
    first = fitted.predict_proba(X)
    second = LSTMClassifier(**SMALL).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert torch.equal(before, after)
    other = LSTMClassifier(**{**SMALL, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.array_equal(first, other)
    unseeded = [LSTMClassifier(**{**SMALL, "random_state": None}).fit(X, y).predict_proba(X) for _ in range(2)]
    assert not np.array_equal(*unseeded)


def test_history_and_early_stopping():
    X, y = gaussian_sequences(n=90, scale=4.0)
    clf = LSTMClassifier(hidden_size=8, lr=0.02, max_epochs=40, early_stopping=True, n_iter_no_change=2, random_state=0)
    clf.fit(X, y)
    history = clf.history_
    assert clf.n_epochs_ == len(history) < 40
    for key in ("train_loss", "valid_loss", "train_acc", "valid_acc"):
        assert len(history[:, key]) == clf.n_epochs_
    plain = LSTMClassifier(**SMALL).fit(X, y)
    assert "valid_loss" not in plain.history_[-1] and len(plain.history_[:, "train_acc"]) == 2


def test_early_stopping_holds_out_whole_groups(monkeypatch):
    X, y = gaussian_sequences(n=60)
    groups = np.repeat(["s1", "s2", "s3", "s4", "s5"], 12)
    seen = {}
    original = LSTMClassifier._validation_split

    def spy(self, y_encoded, groups_, seed):
        train, valid = original(self, y_encoded, groups_, seed)
        seen["train"], seen["valid"] = set(groups_[train]), set(groups_[valid])
        return train, valid

    monkeypatch.setattr(LSTMClassifier, "_validation_split", spy)
    LSTMClassifier(hidden_size=4, max_epochs=2, early_stopping=True, validation_fraction=0.2).fit(X, y, groups=groups)
    assert seen["valid"] and not seen["train"] & seen["valid"]
    with pytest.raises(
        ValueError, match=r"validation_fraction=0.1 of the 1 training groups.*at least 2 training groups"
    ):
        LSTMClassifier(early_stopping=True).fit(X, y, groups=["one"] * 60)
    with pytest.raises(ValueError, match="groups has 3 values but X has 60 sequences"):
        LSTMClassifier(early_stopping=True).fit(X, y, groups=["a", "b", "c"])


@pytest.mark.parametrize(
    "n, fraction, expected",
    [
        (
            30,
            0.1,
            r"validation_fraction=0.1 of the 30 training samples: 3 for validation and 27 for training.*"
            r"at least 6 on each side.*validation_fraction between 0.2 and 0.8",
        ),
        (30, 0.9, r"27 for validation and 3 for training.*validation_fraction between 0.2 and 0.8"),
        (
            7,
            0.9,
            r"of the 7 training samples: 7 for validation and 0 for training.*at least one on each side.*"
            r"validation_fraction between 0.143 and 0.857",
        ),
    ],
)
def test_early_stopping_on_too_few_samples_names_validation_fraction(n, fraction, expected):
    X, y = gaussian_sequences(n=n, labels=("a", "b", "c", "d", "e", "f"))
    clf = LSTMClassifier(**{**SMALL, "early_stopping": True, "validation_fraction": fraction})
    with pytest.raises(ValueError, match=expected):
        clf.fit(X, y)
    assert not hasattr(clf, "classes_")


@pytest.mark.parametrize("fraction", [0.2, 0.8])
def test_early_stopping_works_at_the_fractions_the_error_suggests(fraction):
    X, y = gaussian_sequences(n=30, labels=("a", "b", "c", "d", "e", "f"))
    clf = LSTMClassifier(**{**SMALL, "early_stopping": True, "validation_fraction": fraction}).fit(X, y)
    assert "valid_loss" in clf.history_[-1]


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score", "get_network_state"])
def test_unfitted_classifier_raises_not_fitted(method):
    X, y = gaussian_sequences(n=6)
    args = (X, y) if method == "score" else () if method == "get_network_state" else (X,)
    with pytest.raises(NotFittedError):
        getattr(LSTMClassifier(), method)(*args)
    assert not hasattr(LSTMClassifier(), "history_")


def test_a_column_vector_y_warns_and_trains_as_its_column():
    X, y = gaussian_sequences(n=20)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column = LSTMClassifier(**SMALL).fit(X, y[:, None])
    np.testing.assert_array_equal(column.predict(X), LSTMClassifier(**SMALL).fit(X, y).predict(X))


def test_sequence_tags():
    tags = get_tags(LSTMClassifier())
    assert tags.input_tags.three_d_array and not tags.input_tags.two_d_array


def test_groups_reach_fit_through_metadata_routing(corpus):
    with sklearn.config_context(enable_metadata_routing=True):
        lstm = LSTMClassifier(hidden_size=4, max_epochs=2, early_stopping=True, random_state=0)
        pipe = make_pipeline(MelSpectrogram(n_mels=16), lstm.set_fit_request(groups=True))
        scores = cross_validate(
            pipe,
            corpus["path"],
            corpus["label"],
            cv=GroupKFold(2),
            params={"groups": corpus["text"]},
        )
    assert len(scores["test_score"]) == 2


def test_pipeline_from_paths_cross_val_and_grid_search(corpus):
    pipe = make_pipeline(MelSpectrogram(n_mels=16), DeltaStack(order=1), LSTMClassifier(**SMALL))
    scores = cross_val_score(pipe, corpus["path"], corpus["label"], cv=2)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))
    search = GridSearchCV(pipe, {"lstmclassifier__hidden_size": [4, 8]}, cv=2).fit(corpus["path"], corpus["label"])
    assert search.best_params_["lstmclassifier__hidden_size"] in (4, 8)
    assert set(search.predict(corpus["path"][:3])) <= set(corpus["label"])


def test_soft_voting_with_an_svm_baseline(corpus):
    mel = MelSpectrogram(n_mels=16)
    voting = VotingClassifier(
        [
            ("lstm", make_pipeline(mel, LSTMClassifier(**SMALL))),
            ("logreg", make_pipeline(mel, SequencePooling(), StandardScaler(), LogisticRegression())),
        ],
        voting="soft",
    ).fit(corpus["path"], corpus["label"])
    proba = voting.predict_proba(corpus["path"][:5])
    assert proba.shape == (5, 7) and np.allclose(proba.sum(axis=1), 1)


def test_clone_and_pickle_give_identical_probabilities(tmp_path):
    X, y = gaussian_sequences()
    clf = LSTMClassifier(**SMALL).fit(X, y)
    assert clone(clf).get_params() == clf.get_params()
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    joblib.dump((clf, X, expected), tmp_path / "model.joblib")
    code = (
        "import joblib, numpy as np; "
        f"clf, X, expected = joblib.load({str(tmp_path / 'model.joblib')!r}); "
        "np.testing.assert_array_equal(clf.predict_proba(X), expected)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_model_saved_on_a_gpu_loads_on_the_cpu():
    X, y = gaussian_sequences()
    clf = LSTMClassifier(**SMALL).fit(X, y)
    expected = clf.predict_proba(X)
    clf.device = "cuda"
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the model loads on it")
    with pytest.warns(UserWarning, match="device='cuda' but CUDA is not available: loading on the CPU"):
        restored = pickle.loads(pickle.dumps(clf))
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.predict_proba(X), expected)


def test_keras_style_bias_count():
    network = LSTMNetwork(n_features=1, n_classes=7, hidden_size=256, head=(128, 64), recurrent_bias=False)
    assert count_trainable_parameters(network) == 305_799
    assert count_trainable_parameters(LSTMNetwork(n_features=1, n_classes=7, hidden_size=256, head=(128, 64))) == (
        306_823
    )


def test_keras_style_bias_stays_zero_in_training():
    X, y = gaussian_sequences()
    clf = LSTMClassifier(**{**SMALL, "recurrent_bias": False}).fit(X, y)
    biases = [p for name, p in clf.net_.module_.lstm.named_parameters() if ".bias_hh" in name]
    assert biases and all(not p.requires_grad and not p.detach().any() for p in biases)


def test_class_weight():
    X, y = gaussian_sequences()
    clf = LSTMClassifier(**{**SMALL, "class_weight": {"calm": 3.0}}).fit(X, y)
    np.testing.assert_allclose(clf.net_.criterion_.weight.cpu().numpy(), [1.0, 3.0, 1.0])
    balanced = LSTMClassifier(**{**SMALL, "class_weight": "balanced"}).fit(X[:50], y[:50])
    assert balanced.net_.criterion_.weight.shape == (3,)
    with pytest.raises(ValueError, match="class_weight names labels not in y"):
        LSTMClassifier(**{**SMALL, "class_weight": {"joy": 2.0}}).fit(X, y)


@pytest.mark.parametrize(
    "X, y, match",
    [
        ([np.zeros((3, 2))] * 4, ["a"] * 4, "at least two classes; y holds only one class, 'a'"),
        ([np.zeros((3, 2))] * 4, ["a", "b"], "X has 4 sequences but y has 2 labels"),
        ([np.zeros((3, 2))] * 2, [0.5, 1.5], "Unknown label type"),
        ([np.zeros(3)] * 2, ["a", "b"], r"X\[0\] must be a 2-D"),
        (np.zeros((4, 3)), ["a", "b"] * 2, "Expected feature sequences"),
    ],
)
def test_bad_training_data(X, y, match):
    with pytest.raises(ValueError, match=match):
        LSTMClassifier(**SMALL).fit(X, y)


def test_prediction_checks_the_features():
    X, y = gaussian_sequences()
    clf = LSTMClassifier(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="expected 3"):
        clf.predict([np.zeros((4, 5), dtype=np.float32)])


@pytest.mark.parametrize(
    "params", [dict(pooling="median"), dict(hidden_size=0), dict(optimizer="lbfgs"), dict(dropout=1.0)]
)
def test_invalid_parameters(params):
    X, y = gaussian_sequences(n=6)
    with pytest.raises(ValueError, match=f"'{next(iter(params))}' parameter"):
        LSTMClassifier(**params).fit(X, y)


def test_device_auto_picks_cpu_without_gpu():
    from sklearn_ser._device import resolve_device

    assert str(resolve_device("auto")) == ("cuda" if torch.cuda.is_available() else "cpu")
    X, y = gaussian_sequences(n=6)
    assert LSTMClassifier(**{**SMALL, "device": "cpu"}).fit(X, y).net_.device == "cpu"


def test_unavailable_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    X, y = gaussian_sequences(n=6)
    with pytest.raises(ValueError, match="device='cuda' but CUDA is not available"):
        LSTMClassifier(**{**SMALL, "device": "cuda"}).fit(X, y)


def test_validation_data_is_scored_every_epoch():
    X, y = gaussian_sequences()
    X_val, y_val = gaussian_sequences(n=12, seed=5)
    clf = LSTMClassifier(**{**SMALL, "max_epochs": 3}).fit(X, y, validation_data=(X_val, y_val))
    valid_acc = clf.history_[:, "valid_acc"]
    assert len(valid_acc) == 3
    saved = clf.net_.module_.state_dict()
    assert valid_acc[-1] == pytest.approx(np.mean(clf.predict(X_val) == y_val))
    assert all(torch.equal(saved[k], v) for k, v in clf.net_.module_.state_dict().items())
    with pytest.raises(ValueError, match="unknown labels"):
        LSTMClassifier(**SMALL).fit(X, y, validation_data=(X_val, np.full(12, "joy")))


def test_scoring_validation_data_does_not_change_the_trained_model():
    X, y = gaussian_sequences()
    X_val, y_val = gaussian_sequences(n=12, seed=5)
    monitored = LSTMClassifier(**{**SMALL, "max_epochs": 3}).fit(X, y, validation_data=(X_val, y_val))
    plain = LSTMClassifier(**{**SMALL, "max_epochs": 3}).fit(X, y)
    np.testing.assert_array_equal(monitored.predict_proba(X_val), plain.predict_proba(X_val))


def test_training_a_few_epochs_at_a_time_equals_fit():
    X, y = gaussian_sequences()
    X_val, y_val = gaussian_sequences(n=12, seed=5)
    whole = LSTMClassifier(**{**SMALL, "max_epochs": 4}).fit(X, y, validation_data=(X_val, y_val))
    stepwise = LSTMClassifier(**{**SMALL, "max_epochs": 4})
    stepwise.start_training(X, y, validation_data=(X_val, y_val))
    for _ in range(4):
        stepwise.train_epochs(1)
    stepwise.end_training()
    np.testing.assert_array_equal(stepwise.predict_proba(X_val), whole.predict_proba(X_val))
    assert stepwise.history_[:, "valid_acc"] == whole.history_[:, "valid_acc"]
    assert not hasattr(stepwise, "_training_data")  # a saved model carries no training data
