"""A stacked LSTM over right-padded batches whose outputs never depend on the padding."""

from __future__ import annotations

import torch
from torch import nn


def reverse_within_length(x, lengths):
    """Reverse each sequence of a right-padded batch within its own length.

    Parameters
    ----------
    x : Tensor of shape (batch, time, features)
        Sequence ``i`` occupies ``x[i, :lengths[i]]``; the rest is padding.
    lengths : Tensor of shape (batch,)
        Valid steps of each sequence, on ``x``'s device.

    Returns
    -------
    reversed : Tensor of shape (batch, time, features)
        ``reversed[i, t] = x[i, lengths[i] - 1 - t]`` for ``t < lengths[i]``;
        the padding stays where it was. The function is its own inverse.
    """
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    last = lengths[:, None] - 1
    index = torch.where(steps <= last, last - steps, steps)
    return x.gather(1, index[..., None].expand_as(x))


class PaddedLSTM(nn.Module):
    """Stacked, optionally bidirectional LSTM that runs on padded batches exactly.

    A forward LSTM never reads a sequence's trailing padding before its last
    valid step, so it runs on the padded batch as it is. The backward
    direction runs as a forward LSTM over each sequence reversed within its
    own length, and its outputs are put back in time order: it, too, reads
    every valid step before any padding. Outputs at valid steps are thus those
    of the sequence alone, while the batch stays padded, which lets the CPU
    (oneDNN) and the GPU (cuDNN) use their fast padded kernels instead of
    packed sequences.

    Parameters
    ----------
    input_size : int
        Features per step.
    hidden_size : int
        Units per direction.
    num_layers : int
        Stacked layers; each layer reads the concatenated directions of the
        one below.
    bidirectional : bool
        Add the backward direction.
    dropout : float
        Dropout on the outputs of every layer but the last, in training.
    recurrent_bias : bool
        False holds every ``bias_hh`` at zero, not trainable.
    """

    def __init__(self, input_size, hidden_size, *, num_layers=1, bidirectional=False, dropout=0.0, recurrent_bias=True):
        super().__init__()
        self.bidirectional = bidirectional
        self.dropout = dropout
        width = hidden_size * (2 if bidirectional else 1)
        sizes = [input_size] + [width] * (num_layers - 1)
        self.forward_layers = nn.ModuleList(nn.LSTM(size, hidden_size, batch_first=True) for size in sizes)
        self.backward_layers = nn.ModuleList(
            nn.LSTM(size, hidden_size, batch_first=True) for size in (sizes if bidirectional else [])
        )
        if not recurrent_bias:
            for name, parameter in self.named_parameters():
                if name.rsplit(".", 1)[-1].startswith("bias_hh"):
                    nn.init.zeros_(parameter)
                    parameter.requires_grad_(False)

    def forward(self, x, lengths):
        """Per-step outputs of the top layer.

        Parameters
        ----------
        x : Tensor of shape (batch, time, input_size)
            Right-padded batch.
        lengths : Tensor of shape (batch,)
            Valid steps of each sequence (at least 1), on ``x``'s device.

        Returns
        -------
        outputs : Tensor of shape (batch, time, hidden_size * directions)
            Steps beyond a sequence's length hold arbitrary values.
        """
        for depth, forward_lstm in enumerate(self.forward_layers):
            if depth:
                x = nn.functional.dropout(x, self.dropout, training=self.training)
            outputs, _ = forward_lstm(x)
            if self.bidirectional:
                backward, _ = self.backward_layers[depth](reverse_within_length(x, lengths))
                outputs = torch.cat([outputs, reverse_within_length(backward, lengths)], dim=2)
            x = outputs
        return x

    def final_states(self, outputs, lengths):
        """The top layer's state after each direction has read the whole sequence.

        Parameters
        ----------
        outputs : Tensor of shape (batch, time, hidden_size * directions)
            As returned by :meth:`forward`.
        lengths : Tensor of shape (batch,)
            Valid steps of each sequence, on ``outputs``' device.

        Returns
        -------
        final : Tensor of shape (batch, hidden_size * directions)
            The forward output at the last valid step and, when
            bidirectional, the backward output at the first.
        """
        final = outputs[torch.arange(lengths.shape[0], device=outputs.device), lengths - 1]
        if not self.bidirectional:
            return final
        half = outputs.shape[2] // 2
        return torch.cat([final[:, :half], outputs[:, 0, half:]], dim=1)
