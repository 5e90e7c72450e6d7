"""The PyTorch module behind the LSTM classifiers."""

from __future__ import annotations

import torch
from torch import nn

from ._recurrent import PaddedLSTM

POOLINGS = ("last", "mean", "max", "attention")


class LSTMNetwork(nn.Module):
    """LSTM over right-padded sequences, pooled over time, then a dense head.

    The LSTM is a :class:`PaddedLSTM`: no output at a valid step, and
    nothing pooled, depends on the padding, so an utterance gets the same
    logits alone and in a batch with longer ones.

    Parameters
    ----------
    n_features : int
        Features per time step.
    n_classes : int
        Number of output logits.
    hidden_size : int
        Units per direction of each LSTM layer.
    num_layers : int
        Stacked LSTM layers.
    bidirectional : bool
        Run a backward LSTM too and concatenate both directions.
    dropout : float
        Dropout between LSTM layers and after each dense layer of the head.
    pooling : {"last", "mean", "max", "attention"}
        How the per-step outputs become one vector: the final hidden state
        (of both directions), the mean or maximum over the valid steps, or
        additive attention over them. Padding never enters any of them.
    head : tuple of int
        Sizes of the dense ReLU layers between the pooled vector and the
        output layer.
    recurrent_bias : bool
        When False, the LSTM's second bias vectors (``bias_hh``) are held at
        zero and not trained: one bias per gate, as in Keras, which is the
        same function with fewer trainable parameters.
    """

    def __init__(
        self,
        *,
        n_features,
        n_classes,
        hidden_size=128,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        pooling="last",
        head=(),
        recurrent_bias=True,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
        self.pooling = pooling
        self.lstm = PaddedLSTM(
            n_features,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            recurrent_bias=recurrent_bias,
        )
        width = hidden_size * (2 if bidirectional else 1)
        if pooling == "attention":
            self.attention = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1, bias=False))
        layers = []
        for units in head:
            layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        layers.append(nn.Linear(width, n_classes))
        self.head = nn.Sequential(*layers)

    def forward(self, x, lengths):
        """Logits of shape (batch, n_classes) for right-padded ``x`` (batch, time, features)."""
        lengths = lengths.to(x.device)
        outputs = self.lstm(x, lengths)
        if self.pooling == "last":
            pooled = self.lstm.final_states(outputs, lengths)
        else:
            mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
            pooled = self._pool(outputs, mask)
        return self.head(pooled)

    def _pool(self, outputs, mask):
        if self.pooling == "max":
            return outputs.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
        outputs = outputs.masked_fill(~mask[..., None], 0.0)
        if self.pooling == "mean":
            return outputs.sum(dim=1) / mask.sum(dim=1, keepdim=True)
        scores = self.attention(outputs).squeeze(-1).masked_fill(~mask, float("-inf"))
        return (torch.softmax(scores, dim=1)[..., None] * outputs).sum(dim=1)


def count_trainable_parameters(module):
    """Number of trainable parameters of a torch module.

    Parameters
    ----------
    module : torch.nn.Module
        E.g. the ``net_.module_`` of a fitted
        :class:`~sklearn_ser.models.LSTMClassifier`.

    Returns
    -------
    n_parameters : int
        Elements of the parameters with ``requires_grad`` set.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ser.models import count_trainable_parameters
    >>> count_trainable_parameters(torch.nn.Linear(3, 2))
    8
    """
    return sum(parameter.numel() for parameter in module.parameters() if parameter.requires_grad)
