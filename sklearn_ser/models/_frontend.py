"""A 2-D CNN over (time, frequency) whose outputs at valid frames never depend on the padding."""

from __future__ import annotations

import math
from numbers import Integral

import torch
from torch import nn


def pooled_lengths(lengths, pool):
    """Frames left of each sequence after max pooling ``pool`` frames at a time.

    The last window may be partial, so the count is ``ceil(length / pool)``:
    at least one frame for any sequence of at least one.

    Parameters
    ----------
    lengths : Tensor of int of shape (batch,)
        Valid frames of each sequence.
    pool : int
        Frames per pooling window (and stride).

    Returns
    -------
    lengths : Tensor of int of shape (batch,)
    """
    return torch.div(lengths + (pool - 1), pool, rounding_mode="floor")


def valid_frames(lengths, n_frames):
    """Boolean mask of shape (batch, n_frames): True at the frames before each length."""
    return torch.arange(n_frames, device=lengths.device)[None, :] < lengths[:, None]


def ceil_through(size, pools):
    """What is left of ``size`` after max pooling by each of ``pools`` in turn, partial windows kept."""
    for pool in pools:
        size = math.ceil(size / pool)
    return size


def check_layout(n_features, conv_channels, feature_blocks):
    """Raise ``ValueError`` unless ``feature_blocks`` divides ``n_features`` and ``conv_channels`` counts channels."""
    if not isinstance(feature_blocks, Integral) or feature_blocks < 1 or n_features % feature_blocks:
        raise ValueError(
            f"feature_blocks={feature_blocks!r} must be a positive int that divides the {n_features} features "
            "per frame (3 for DeltaStack(order=2), 2 for order=1, 1 for plain spectra)."
        )
    check_conv_channels(conv_channels)


def check_conv_channels(conv_channels):
    """Raise ``ValueError`` unless ``conv_channels`` is a non-empty tuple of positive ints."""
    if isinstance(conv_channels, Integral) or not all(
        isinstance(c, Integral) and not isinstance(c, bool) and c >= 1 for c in conv_channels
    ):
        raise ValueError(f"conv_channels must be a tuple of positive ints, got {conv_channels!r}.")
    if not conv_channels:
        raise ValueError("conv_channels must hold the channels of at least one convolution block, got ().")


def per_block(value, n_blocks, name):
    """``value`` as one positive int per convolution block (an int applies to every block)."""
    values = (value,) * n_blocks if isinstance(value, Integral) else tuple(value)
    if len(values) != n_blocks or not all(isinstance(v, Integral) and v >= 1 for v in values):
        raise ValueError(
            f"{name} must be a positive int or one positive int per convolution block ({n_blocks}), got {value!r}."
        )
    return tuple(int(v) for v in values)


class MaskedBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training statistics are taken over the valid frames only.

    In training, the mean and variance of each channel come from the
    positions where ``mask`` is True, so the padding of a batch changes
    neither the normalized valid frames nor the running statistics. In
    evaluation it is ``BatchNorm2d`` (a per-channel affine map, the same at
    every position). The parameters and buffers are those of
    ``BatchNorm2d``, with its defaults (affine, running statistics).

    Parameters
    ----------
    num_features : int
        Channels.
    """

    def __init__(self, num_features):
        super().__init__(num_features)

    def forward(self, x, mask):
        """Normalize ``x`` (batch, channels, time, freq); ``mask`` (batch, 1, time, 1) marks valid frames."""
        if not self.training:
            return super().forward(x)
        count = mask.sum() * x.shape[3]
        mean = x.masked_fill(~mask, 0.0).sum(dim=(0, 2, 3)) / count
        centered = x - mean[:, None, None]
        variance = centered.masked_fill(~mask, 0.0).square().sum(dim=(0, 2, 3)) / count
        self._update_running_statistics(mean, variance, count)
        scale = self.weight * torch.rsqrt(variance + self.eps)
        return centered * scale[:, None, None] + self.bias[:, None, None]

    @torch.no_grad()
    def _update_running_statistics(self, mean, variance, count):
        self.num_batches_tracked.add_(1)
        momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = variance * count / (count - 1).clamp(min=1)
        self.running_mean.lerp_(mean, momentum)
        self.running_var.lerp_(unbiased, momentum)


class ConvBlock(nn.Module):
    """Conv2d 3x3 ('same') + batch normalization + ReLU + max pooling, exact on right-padded batches.

    Before the convolution, the frames beyond each length are set to zero:
    what the convolution's own zero padding puts after a sequence alone.
    After the ReLU they are set to zero again and the time and frequency axes
    are padded with zeros to multiples of the pooling: the outputs are never
    negative, so these zeros never win a maximum over valid values, and every
    pooling window that holds a valid frame gives what the sequence alone
    gives (its last window may be partial).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    pool_time, pool_freq : int
        Max pooling window (and stride) along time and frequency.
    """

    def __init__(self, in_channels, out_channels, *, pool_time, pool_freq):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.norm = MaskedBatchNorm2d(out_channels)
        self.pool_time = pool_time
        self.pool_freq = pool_freq

    def forward(self, x, lengths):
        """Map (batch, in_channels, time, freq) to (batch, out_channels, time', freq') and the new lengths."""
        mask = valid_frames(lengths, x.shape[2])[:, None, :, None]
        x = self.conv(x.masked_fill(~mask, 0.0))
        x = torch.relu(self.norm(x, mask)).masked_fill(~mask, 0.0)
        x = nn.functional.pad(x, (0, -x.shape[3] % self.pool_freq, 0, -x.shape[2] % self.pool_time))
        x = nn.functional.max_pool2d(x, (self.pool_time, self.pool_freq))
        return x, pooled_lengths(lengths, self.pool_time)


class ConvFrontEnd(nn.Module):
    """A small 2-D CNN over the (time, frequency) plane of right-padded feature sequences.

    Each frame's features are read as ``feature_blocks`` equal blocks over
    one frequency axis, the input channels (e.g. the static, delta and
    delta-delta blocks of :class:`~sklearn_ser.features.DeltaStack`). Each
    entry of ``conv_channels`` adds a :class:`ConvBlock`. The output has one
    vector per remaining frame: the channels times the remaining frequency
    bins. A sequence's outputs at its valid frames are those it has alone,
    whatever the padding holds.

    Parameters
    ----------
    n_features : int
        Features per input frame, a multiple of ``feature_blocks``.
    conv_channels : tuple of int
        Output channels of each convolution block (at least one block).
    pool_time, pool_freq : int or tuple of int
        Max pooling along time and frequency, for every block or per block.
        A sequence of ``n`` frames leaves ``ceil(n / prod(pool_time))``.
    feature_blocks : int
        Equal blocks of the features read as input channels.
    dropout : float
        Dropout on the output features, in training.

    Attributes
    ----------
    n_features_out : int
        Features per output frame.
    """

    def __init__(self, n_features, conv_channels, *, pool_time=2, pool_freq=2, feature_blocks=1, dropout=0.0):
        super().__init__()
        check_layout(n_features, conv_channels, feature_blocks)
        n_blocks = len(conv_channels)
        self.feature_blocks = int(feature_blocks)
        self.n_bins = n_features // feature_blocks
        self.pool_time = per_block(pool_time, n_blocks, "pool_time")
        self.pool_freq = per_block(pool_freq, n_blocks, "pool_freq")
        widths = [self.feature_blocks, *conv_channels]
        self.blocks = nn.ModuleList(
            ConvBlock(widths[i], widths[i + 1], pool_time=self.pool_time[i], pool_freq=self.pool_freq[i])
            for i in range(n_blocks)
        )
        self.dropout = nn.Dropout(dropout)
        self.n_features_out = widths[-1] * ceil_through(self.n_bins, self.pool_freq)

    def forward(self, x, lengths):
        """Per-frame features of shape (batch, time', n_features_out) and their lengths.

        Parameters
        ----------
        x : Tensor of shape (batch, time, n_features)
            Right-padded batch.
        lengths : Tensor of shape (batch,)
            Valid frames of each sequence (at least 1), on ``x``'s device.

        Returns
        -------
        features : Tensor of shape (batch, ceil(time / prod(pool_time)), n_features_out)
            Frames beyond a sequence's new length hold arbitrary values.
        lengths : Tensor of shape (batch,)
            :meth:`output_lengths` of ``lengths``.
        """
        batch, n_frames, _ = x.shape
        x = x.reshape(batch, n_frames, self.feature_blocks, self.n_bins).transpose(1, 2)
        for block in self.blocks:
            x, lengths = block(x, lengths)
        features = x.permute(0, 2, 1, 3).reshape(batch, x.shape[2], -1)
        return self.dropout(features), lengths

    def output_lengths(self, lengths):
        """Valid output frames of sequences of ``lengths`` frames: ceil through every block's time pooling."""
        for pool in self.pool_time:
            lengths = pooled_lengths(lengths, pool)
        return lengths
