"""Default define-by-run search spaces for the toolkit's estimators.

A search space is a function of an Optuna trial returning the parameters to
set on the estimator (``set_params`` keys). The default space looks for the
steps it knows inside an estimator (its own type, pipeline steps, nested
estimators such as ``CalibratedClassifierCV(SVC())``) and suggests, for each,
the parameters that matter, conditionally where one only acts with another
(dropout only with stacked layers or a dense head).
"""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC

from ..features import MFCC, DeltaStack, MelSpectrogram, SpeechEmbedder
from ..features._speech_model import encoder_depth
from ..models import CRNNClassifier, LSTMClassifier
from ..models._network import POOLINGS

LSTM_HIDDEN_SIZES = [32, 64, 128, 256]
DENSE_UNITS = [32, 64, 128, 256]
BATCH_SIZES = [16, 32, 64]
N_MELS = [40, 64, 80, 128]
N_MFCC = [13, 20, 30, 40]
CONV_WIDTHS = [8, 16, 32]


def _suggest_lstm(trial, prefix, lstm):
    def name(param):
        return prefix + param

    num_layers = trial.suggest_int(name("num_layers"), 1, 3)
    head_layers = trial.suggest_int(name("head_layers"), 0, 2)
    head = ()
    if head_layers:
        units = trial.suggest_categorical(name("head_units"), DENSE_UNITS)
        head = tuple(max(units // 2**layer, 8) for layer in range(head_layers))
    params = {
        name("num_layers"): num_layers,
        name("hidden_size"): trial.suggest_categorical(name("hidden_size"), LSTM_HIDDEN_SIZES),
        name("bidirectional"): trial.suggest_categorical(name("bidirectional"), [False, True]),
        name("pooling"): trial.suggest_categorical(name("pooling"), list(POOLINGS)),
        name("head"): head,
        name("lr"): trial.suggest_float(name("lr"), 1e-4, 1e-2, log=True),
        name("batch_size"): trial.suggest_categorical(name("batch_size"), BATCH_SIZES),
        name("max_epochs"): trial.suggest_int(name("max_epochs"), max(1, lstm.max_epochs // 4), lstm.max_epochs),
    }
    if num_layers > 1 or head:
        params[name("dropout")] = trial.suggest_float(name("dropout"), 0.0, 0.5)
    return params


def _suggest_crnn(trial, prefix, crnn):
    params = _suggest_lstm(trial, prefix, crnn)
    n_blocks = trial.suggest_int(prefix + "conv_blocks", 1, 3)
    width = trial.suggest_categorical(prefix + "conv_width", CONV_WIDTHS)
    params[prefix + "conv_channels"] = tuple(width * 2**block for block in range(n_blocks))
    params[prefix + "pool_time"] = trial.suggest_int(prefix + "pool_time", 1, 2)
    params[prefix + "conv_dropout"] = trial.suggest_float(prefix + "conv_dropout", 0.0, 0.5)
    return params


def _suggest_mel(trial, prefix, mel):
    return {prefix + "n_mels": trial.suggest_categorical(prefix + "n_mels", N_MELS)}


def _suggest_mfcc(trial, prefix, mfcc):
    choices = [n for n in N_MFCC if n <= mfcc.n_mels]
    return {prefix + "n_mfcc": trial.suggest_categorical(prefix + "n_mfcc", choices)}


def _suggest_delta(trial, prefix, delta):
    return {prefix + "order": trial.suggest_int(prefix + "order", 1, 2)}


def _suggest_svc(trial, prefix, svc):
    return {
        prefix + "C": trial.suggest_float(prefix + "C", 1e-1, 1e3, log=True),
        prefix + "gamma": trial.suggest_float(prefix + "gamma", 1e-4, 1e-1, log=True),
    }


def _suggest_logistic_regression(trial, prefix, logistic_regression):
    return {prefix + "C": trial.suggest_float(prefix + "C", 1e-3, 1e2, log=True)}


def _suggest_speech(trial, prefix, embedder):
    """Which hidden state (or their mean) and how it is pooled over the frames."""
    layers = ["mean", *range(encoder_depth(embedder.model, local_files_only=embedder.local_files_only) + 1)]
    params = {prefix + "layer": trial.suggest_categorical(prefix + "layer", layers)}
    if embedder.pooling is not None:  # frames for a sequence model stay frames
        params[prefix + "pooling"] = trial.suggest_categorical(prefix + "pooling", ["mean", "mean+std"])
    return params


def _suggest_mlp(trial, prefix, mlp):
    units = trial.suggest_categorical(prefix + "hidden_units", DENSE_UNITS)
    return {
        prefix + "hidden_layer_sizes": (units,),
        prefix + "alpha": trial.suggest_float(prefix + "alpha", 1e-5, 1e-1, log=True),
    }


SUGGESTERS = {
    LSTMClassifier: _suggest_lstm,
    CRNNClassifier: _suggest_crnn,
    MelSpectrogram: _suggest_mel,
    MFCC: _suggest_mfcc,
    DeltaStack: _suggest_delta,
    SVC: _suggest_svc,
    LogisticRegression: _suggest_logistic_regression,
    MLPClassifier: _suggest_mlp,
    SpeechEmbedder: _suggest_speech,
}


class DefaultSearchSpace:
    """The default space of an estimator: a function of the trial.

    Parameters
    ----------
    estimator : estimator
        The estimator (usually a pipeline) whose known steps are searched:
        :class:`~sklearn_ser.models.LSTMClassifier` (layers, hidden size,
        direction, pooling, dense head, dropout, learning rate, batch size,
        epochs up to its ``max_epochs``), :class:`~sklearn_ser.models.CRNNClassifier`
        (the same, and the convolution blocks, their width doubling from
        block to block, the time pooling and the CNN's dropout),
        :class:`~sklearn_ser.features.MelSpectrogram`
        (``n_mels``), :class:`~sklearn_ser.features.MFCC` (``n_mfcc``),
        :class:`~sklearn_ser.features.DeltaStack` (``order``),
        :class:`~sklearn.svm.SVC` (``C``, ``gamma``),
        :class:`~sklearn.linear_model.LogisticRegression` (``C``),
        :class:`~sklearn.neural_network.MLPClassifier` (width, ``alpha``) and
        :class:`~sklearn_ser.features.SpeechEmbedder` (``layer``: each hidden
        state of the encoder or their mean, read from the model's config;
        ``pooling``: mean or mean and standard deviation, unless it gives
        frames).

    Attributes
    ----------
    steps : list of tuple (str, str)
        Parameter prefix and type name of every searched step.

    Examples
    --------
    >>> import optuna
    >>> from sklearn_ser.model_selection import DefaultSearchSpace
    >>> from sklearn_ser.recipes import get_recipe
    >>> space = DefaultSearchSpace(get_recipe("svm-mfcc"))
    >>> space.steps
    [('mfcc__', 'MFCC'), ('delta__', 'DeltaStack'), ('svm__', 'SVC')]
    >>> params = space(optuna.trial.FixedTrial({"mfcc__n_mfcc": 20, "delta__order": 1,
    ...                                         "svm__C": 10.0, "svm__gamma": 0.01}))
    >>> params["mfcc__n_mfcc"], params["svm__C"]
    (20, 10.0)
    """

    def __init__(self, estimator):
        self._searched = _known_steps(estimator)
        if not self._searched:
            raise ValueError(
                f"The default search space knows no step of {type(estimator).__name__}; "
                "pass search_space=, a function of the trial returning set_params values."
            )
        self.steps = [(prefix, type(step).__name__) for prefix, step in self._searched]

    def __call__(self, trial):
        params = {}
        for prefix, step in self._searched:
            params.update(SUGGESTERS[type(step)](trial, prefix, step))
        return params


def _known_steps(estimator):
    """(prefix, step) of ``estimator`` and of every estimator nested in it that has a suggester."""
    candidates = [("", estimator)]
    if isinstance(estimator, BaseEstimator):
        candidates += [(f"{key}__", value) for key, value in estimator.get_params(deep=True).items()]
    return [(prefix, step) for prefix, step in candidates if type(step) in SUGGESTERS]
