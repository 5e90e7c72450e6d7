"""Sequence models: PyTorch LSTMs (and a CNN + LSTM) trained with skorch, as scikit-learn classifiers."""

from ._crnn import CRNNClassifier, CRNNNetwork
from ._epochwise import EpochwiseClassifier
from ._fusion import ScoreFusionClassifier
from ._lstm import LSTMClassifier
from ._multiscale import MultiscaleLSTMClassifier
from ._network import LSTMNetwork, count_trainable_parameters

__all__ = [
    "CRNNClassifier",
    "CRNNNetwork",
    "EpochwiseClassifier",
    "LSTMClassifier",
    "MultiscaleLSTMClassifier",
    "ScoreFusionClassifier",
    "LSTMNetwork",
    "count_trainable_parameters",
]
