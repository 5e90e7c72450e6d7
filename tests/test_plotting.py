import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.evaluation import EvaluationResult
from sklearn_ser.features import MFCC, FeatureSequences, SequenceScaler
from sklearn_ser.models import LSTMClassifier, MultiscaleLSTMClassifier
from sklearn_ser.plotting import (
    plot_confusion_matrix,
    plot_emotion_examples,
    plot_mfcc_correlation,
    plot_training_curves,
    save_figure,
)

matplotlib.use("Agg")

EMOTIONS = ("angry", "happy", "sad")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(tmp_path_factory.mktemp("corpus"), n_speakers=2, n_words=2, emotions=EMOTIONS)


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(0)
    X = [rng.random((int(n), 3)).astype("float32") for n in rng.integers(8, 16, size=20)]
    return X, np.array(["calm", "angry"] * 10)


def cell_texts(ax):
    return [text.get_text() for text in ax.texts]


# ---------------------------------------------------------------------------
# Confusion matrix
# ---------------------------------------------------------------------------

Y_TRUE = np.array(["angry", "angry", "angry", "happy", "happy", "sad", "sad", "sad", "sad"], dtype=object)
Y_PRED = np.array(["angry", "angry", "happy", "happy", "sad", "sad", "sad", "sad", "angry"], dtype=object)


def evaluation_result():
    return EvaluationResult(
        protocol="speaker",
        scores={"accuracy": np.array([0.5, 0.8])},
        y_true=Y_TRUE,
        y_pred=Y_PRED,
        test_indices=np.arange(len(Y_TRUE)),
        fold=np.array([0] * 4 + [1] * 5),
        labels=np.array(EMOTIONS, dtype=object),
        fit_seconds=np.array([0.1, 0.1]),
    )


def test_confusion_matrix_counts_from_an_evaluation_result():
    result = evaluation_result()
    fig = plot_confusion_matrix(result)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # the matrix and its colour bar
    ax = fig.axes[0]
    expected = result.confusion_matrix
    assert cell_texts(ax) == [str(count) for count in expected.ravel()]
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    assert ax.get_xlabel() == "Predicted label" and ax.get_ylabel() == "True label"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(EMOTIONS)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(EMOTIONS)
    assert "speaker protocol" in ax.get_title()


def test_normalized_confusion_matrix_rows_sum_to_one():
    fig = plot_confusion_matrix(y_true=Y_TRUE, y_pred=Y_PRED, normalize=True, title="Recall")
    ax = fig.axes[0]
    displayed = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(displayed.sum(axis=1), 1.0)
    counts = evaluation_result().confusion_matrix
    np.testing.assert_allclose(displayed, counts / counts.sum(axis=1, keepdims=True))
    assert cell_texts(ax) == [f"{value:.2f}" for value in displayed.ravel()]
    assert ax.get_title() == "Recall"
    assert ax.images[0].get_clim() == (0.0, 1.0)


def test_confusion_matrix_label_order_and_empty_rows():
    labels = ["sad", "happy", "angry", "neutral"]
    fig = plot_confusion_matrix(y_true=Y_TRUE, y_pred=Y_PRED, labels=labels, normalize=True)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    displayed = np.asarray(ax.images[0].get_array())
    assert displayed[0, 0] == pytest.approx(3 / 4)  # recall of "sad"
    np.testing.assert_array_equal(displayed[3], 0.0)  # no neutral utterance: zeros, not NaN


def test_confusion_matrix_into_given_axes():
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot_confusion_matrix(y_true=[0, 1, 1], y_pred=[0, 1, 0], ax=right) is fig
    assert cell_texts(right) == ["1", "0", "1", "1"] and not left.texts


def test_confusion_matrix_argument_errors():
    with pytest.raises(ValueError, match="not both"):
        plot_confusion_matrix(evaluation_result(), y_true=Y_TRUE, y_pred=Y_PRED)
    with pytest.raises(ValueError, match="both y_true and y_pred"):
        plot_confusion_matrix(y_true=Y_TRUE)
    with pytest.raises(ValueError, match="same length"):
        plot_confusion_matrix(y_true=Y_TRUE, y_pred=Y_PRED[:-1])


# ---------------------------------------------------------------------------
# Training curves
# ---------------------------------------------------------------------------


def line_labels(ax):
    return [line.get_label() for line in ax.lines]


def test_training_curves_without_validation(sequences):
    X, y = sequences
    clf = LSTMClassifier(hidden_size=4, max_epochs=3, random_state=0).fit(X, y)
    fig = plot_training_curves(clf, title="LSTM")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    acc_ax, loss_ax = fig.axes
    assert (acc_ax.get_ylabel(), loss_ax.get_ylabel()) == ("Accuracy", "Loss")
    assert acc_ax.get_xlabel() == loss_ax.get_xlabel() == "Epoch"
    assert line_labels(acc_ax) == line_labels(loss_ax) == ["train"]
    epochs, losses = loss_ax.lines[0].get_data()
    np.testing.assert_array_equal(epochs, [1, 2, 3])
    np.testing.assert_allclose(losses, clf.history_[:, "train_loss"])
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), clf.history_[:, "train_acc"])
    assert fig.get_suptitle() == "LSTM"


def test_training_curves_with_early_stopping_show_validation(sequences):
    X, y = sequences
    clf = LSTMClassifier(hidden_size=4, max_epochs=3, early_stopping=True, random_state=0).fit(X, y)
    fig = plot_training_curves(clf)
    acc_ax, loss_ax = fig.axes
    for ax in (acc_ax, loss_ax):
        assert line_labels(ax)[:2] == ["train", "validation"]
        assert "lowest validation loss" in line_labels(ax)
    valid = [line for line in loss_ax.lines if line.get_label() == "validation"][0]
    np.testing.assert_allclose(valid.get_ydata(), clf.history_[:, "valid_loss"])
    # the History itself and a Pipeline ending in the model give the same curves
    for model in (clf.history_, make_pipeline(SequenceScaler().fit(X), clf)):
        other = plot_training_curves(model).axes[1]
        assert line_labels(other) == line_labels(loss_ax)
        np.testing.assert_allclose(other.lines[1].get_ydata(), valid.get_ydata())


def test_training_curves_of_a_multiscale_model(sequences):
    X, y = sequences
    clf = MultiscaleLSTMClassifier(
        LSTMClassifier(hidden_size=4, max_epochs=3, random_state=0), segment_frames=(4, 8)
    ).fit(X, y)
    fig = plot_training_curves(clf)
    for ax in fig.axes:
        assert line_labels(ax) == ["4 frames, train", "8 frames, train"]
        assert ax.lines[0].get_color() != ax.lines[1].get_color()
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), clf.estimators_[1].history_[:, "train_loss"])


def test_training_curves_need_a_history():
    rng = np.random.default_rng(0)
    svm = make_pipeline(StandardScaler(), SVC()).fit(rng.normal(size=(10, 3)), [0, 1] * 5)
    with pytest.raises(ValueError, match="SVC has no training history"):
        plot_training_curves(svm)
    with pytest.raises(NotFittedError, match="not fitted"):
        plot_training_curves(LSTMClassifier())
    with pytest.raises(NotFittedError, match="not fitted"):
        plot_training_curves(MultiscaleLSTMClassifier())
    from skorch.history import History

    with pytest.raises(ValueError, match="no accuracy or loss"):
        plot_training_curves(History())


# ---------------------------------------------------------------------------
# Emotion examples
# ---------------------------------------------------------------------------


def test_emotion_examples(corpus):
    fig = plot_emotion_examples(corpus, n_mels=32)
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 2 * len(EMOTIONS) + 1  # waveform and spectrogram per emotion, one colour bar
    waves, spectrograms = axes[0:6:2], axes[1:6:2]
    assert [ax.get_title(loc="left").split(" ")[0] for ax in waves] == list(EMOTIONS)
    assert all(ax.get_ylabel() == "Amplitude" for ax in waves)
    assert all(ax.get_ylabel() == "Frequency (Hz)" for ax in spectrograms)
    assert axes[4].get_xlabel() == axes[5].get_xlabel() == "Time (s)"
    assert all(len(ax.collections) == 1 for ax in spectrograms)
    assert spectrograms[0].collections[0].get_array().shape[0] == 32  # Mel bands on the frequency axis
    assert axes[-1].get_ylabel() == "Power (dB)"
    # one speaker saying one word in every emotion
    details = {ax.get_title(loc="left").split(" ", 1)[1] for ax in waves}
    assert len(details) == 1


def test_emotion_examples_are_reproducible(corpus):
    def titles(fig):
        return [ax.get_title(loc="left") for ax in fig.axes]

    first = titles(plot_emotion_examples(corpus, n_mels=16, random_state=1))
    assert titles(plot_emotion_examples(corpus, n_mels=16, random_state=1)) == first
    seeds = {tuple(titles(plot_emotion_examples(corpus, n_mels=16, random_state=seed))) for seed in range(6)}
    assert len(seeds) > 1


def test_emotion_examples_without_speaker_and_text(corpus):
    fig = plot_emotion_examples(corpus[["path", "label"]], n_mels=16)
    assert len(fig.axes) == 7
    with pytest.raises(ValueError, match="'label' column"):
        plot_emotion_examples(corpus[["path"]])


# ---------------------------------------------------------------------------
# MFCC correlation
# ---------------------------------------------------------------------------


def test_mfcc_correlation_of_sequences(corpus):
    X = MFCC(n_mfcc=13).fit_transform(corpus["path"])
    assert isinstance(X, FeatureSequences)
    fig = plot_mfcc_correlation(X)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax = fig.axes[0]
    displayed = np.asarray(ax.images[0].get_array())
    assert displayed.shape == (13, 13)
    np.testing.assert_allclose(np.diag(displayed), 1.0)
    np.testing.assert_allclose(displayed, displayed.T)
    np.testing.assert_allclose(displayed, np.corrcoef(np.concatenate(X), rowvar=False), atol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"mfcc_{i}" for i in range(13)]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"mfcc_{i}" for i in range(13)]
    assert len(ax.texts) == 13 * 13
    assert "frames" in ax.get_title()
    assert fig.axes[1].get_ylabel() == "Pearson correlation"


def test_mfcc_correlation_of_a_table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X[:, 2] = X[:, 0] * 2 + 0.01 * rng.normal(size=40)
    names = ["c0", "c1", "c2"]
    for data, kwargs in ((X, {"feature_names": names}), (pd.DataFrame(X, columns=names), {})):
        fig = plot_mfcc_correlation(data, **kwargs, title="MFCC")
        ax = fig.axes[0]
        displayed = np.asarray(ax.images[0].get_array())
        np.testing.assert_allclose(np.diag(displayed), 1.0)
        assert displayed[0, 2] > 0.99
        assert [t.get_text() for t in ax.get_xticklabels()] == names
        assert ax.get_title() == "MFCC"


def test_mfcc_correlation_edge_cases():
    X = np.random.default_rng(0).normal(size=(20, 3))
    X[:, 1] = 5.0
    with pytest.warns(UserWarning, match="without variance"):
        fig = plot_mfcc_correlation(X)
    displayed = fig.axes[0].images[0].get_array()
    assert displayed.mask[1].all() and displayed[0, 0] == 1.0
    with pytest.raises(ValueError, match="feature_names has 2 names"):
        plot_mfcc_correlation(X, feature_names=["a", "b"])
    with pytest.raises(ValueError, match="At least two"):
        plot_mfcc_correlation(X[:1])
    with pytest.raises(ValueError, match="X must be"):
        plot_mfcc_correlation(np.zeros(5))


# ---------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------


def test_save_figure_writes_a_png(tmp_path):
    fig = plot_confusion_matrix(evaluation_result(), normalize=True)
    path = save_figure(fig, tmp_path / "new" / "folder" / "confusion.png", dpi=60)
    assert path == tmp_path / "new" / "folder" / "confusion.png"
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == PNG_SIGNATURE
    assert save_figure(fig, str(tmp_path / "bare")).suffix == ".png"


def test_figures_stay_out_of_pyplot(sequences):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_confusion_matrix(y_true=Y_TRUE, y_pred=Y_PRED)
    plot_mfcc_correlation(np.random.default_rng(0).normal(size=(10, 3)))
    assert plt.get_fignums() == before


def test_a_timeline_read_back_from_its_csv_draws_the_same_integer_labels(tmp_path):
    from sklearn_ser.plotting import plot_timeline

    timeline = pd.DataFrame(
        {
            "start": [0.0, 1.0, 2.0, 3.0],
            "end": [1.0, 2.0, 3.0, 4.0],
            "speech": [True, True, False, True],
            "label": pd.Series([1, 2, None, 1], dtype=object),
            "prob_1": [0.9, 0.2, np.nan, 0.8],
            "prob_2": [0.1, 0.8, np.nan, 0.2],
        }
    )
    timeline.to_csv(tmp_path / "timeline.csv", index=False)
    read_back = pd.read_csv(tmp_path / "timeline.csv")
    assert read_back["label"].dtype == float  # 1.0, 2.0, NaN

    import matplotlib.pyplot as plt

    def label_cells(frame):
        figure = plot_timeline(frame)
        strips = [patch.get_path().vertices[:, 1].max() for patch in figure.axes[0].patches]
        plt.close(figure)
        return strips

    assert label_cells(read_back) == label_cells(timeline) == [1.0, 1.0]
