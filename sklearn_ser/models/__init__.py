"""Sequence models: PyTorch LSTMs trained with skorch, as scikit-learn classifiers."""

from ._lstm import LSTMClassifier
from ._multiscale import MultiscaleLSTMClassifier
from ._network import LSTMNetwork, count_trainable_parameters

__all__ = ["LSTMClassifier", "MultiscaleLSTMClassifier", "LSTMNetwork", "count_trainable_parameters"]
