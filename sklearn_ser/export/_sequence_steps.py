"""The toolkit's sequence and table transformers as torch modules over padded batches, for the ONNX graph.

Every module maps ``(x, lengths)`` to ``(x, lengths)``: ``x`` is a right-padded
batch of sequences ``(batch, time, features)`` with the valid frames of each
in ``lengths``, or a table ``(batch, features)`` (``lengths`` passed on
unused). Frames past a length may hold anything; no valid output depends on
them. Statistics are computed in float64, as the NumPy code computes them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def valid_mask(lengths, n_frames):
    """``(batch, n_frames, 1)`` boolean mask of the valid frames."""
    return (torch.arange(n_frames, device=lengths.device)[None, :] < lengths[:, None])[..., None]


def savgol_maps(width, order):
    """``(width, width)`` float64 matrices of the delta filter of every order up to ``order``.

    Row ``p`` of the matrix of order ``k`` gives the ``k``-th delta at
    position ``p`` of a ``width``-frame window from its frames, as
    :func:`librosa.feature.delta` computes it (``mode="interp"``): the
    rows before the centre are the start of an utterance, those after it
    its end, the centre row the filter everywhere else (and, with edge
    frames repeated, the whole of an utterance shorter than ``width``).
    """
    import librosa

    basis = np.eye(width)
    return [
        np.asarray(librosa.feature.delta(basis, width=width, order=k, axis=0), dtype=np.float64)
        for k in range(1, order + 1)
    ]


class DeltaModule(nn.Module):
    """:class:`~sklearn_ser.features.DeltaStack` on a padded batch: every frame gathers its ``width`` taps.

    For an utterance of ``n >= width`` frames, frame ``t`` reads the window
    starting at ``clip(t - width // 2, 0, n - width)`` with the row of its
    position in it (the edge rows near the ends, the centre row elsewhere);
    for ``1 < n < width`` the centre row over the edge-repeated frames
    (``mode="nearest"``); a single frame has derivatives of zero. In float64,
    as SciPy's filter computes before rounding to float32.
    """

    def __init__(self, order, width):
        super().__init__()
        self.width = int(width)
        self.register_buffer("maps", torch.from_numpy(np.stack(savgol_maps(self.width, int(order)))))

    def forward(self, x, lengths):
        batch, time, n_features = x.shape
        half = self.width // 2
        steps = torch.arange(time, device=x.device)[None, :, None]
        taps = torch.arange(self.width, device=x.device)[None, None, :]
        n = lengths[:, None, None]
        start = torch.minimum(torch.clamp(steps - half, min=0), torch.clamp(n - self.width, min=0))
        position = torch.clamp(steps - start, max=self.width - 1)[..., 0]
        long_index = start + taps
        short_index = torch.minimum(torch.clamp(steps + taps - half, min=0), n - 1)
        is_long = n >= self.width
        index = torch.where(is_long, long_index, short_index)
        gathered = x.to(torch.float64).gather(1, index.reshape(batch, -1, 1).expand(-1, -1, n_features))
        gathered = gathered.reshape(batch, time, self.width, n_features)
        parts = [x]
        for rows in self.maps:
            long_rows = rows[position]
            short_rows = rows[half].expand_as(long_rows)
            coefficients = torch.where(is_long, long_rows, short_rows)
            delta = (coefficients[..., None] * gathered).sum(dim=2)
            parts.append(torch.where(n > 1, delta, torch.zeros_like(delta)).to(x.dtype))
        return torch.cat(parts, dim=2), lengths


class AffineModule(nn.Module):
    """``(x - mean) / scale`` in float64, per feature (a sequence scaler, a standard scaler, speaker statistics).

    The result is rounded to ``out_dtype``, or to the input's dtype when
    None (scikit-learn's scalers keep float32 tables float32).
    """

    def __init__(self, mean, scale, *, out_dtype=None):
        super().__init__()
        self.register_buffer("mean", None if mean is None else torch.from_numpy(np.asarray(mean, dtype=np.float64)))
        self.register_buffer("scale", None if scale is None else torch.from_numpy(np.asarray(scale, dtype=np.float64)))
        self.out_dtype = out_dtype

    def forward(self, x, lengths):
        dtype = x.dtype if self.out_dtype is None else self.out_dtype
        x = x.to(torch.float64)
        if self.mean is not None:
            x = x - self.mean
        if self.scale is not None:
            x = x / self.scale
        return x.to(dtype), lengths


def masked_moments(x, lengths):
    """Mean and population standard deviation over the valid frames, float64 ``(batch, features)`` each."""
    mask = valid_mask(lengths, x.shape[1])
    count = lengths.to(torch.float64)[:, None]
    x = x.to(torch.float64)
    mean = x.masked_fill(~mask, 0.0).sum(dim=1) / count
    centred = (x - mean[:, None, :]).masked_fill(~mask, 0.0)
    return mean, (centred.square().sum(dim=1) / count).sqrt(), centred, mask


class UtteranceNormalizerModule(nn.Module):
    """Each sequence standardized by its own frames' mean and standard deviation (0 counts as 1), float32 out.

    What :class:`~sklearn_ser.features.SpeakerNormalizer` does to sequences
    given without speaker ids.
    """

    def forward(self, x, lengths):
        mean, std, _, _ = masked_moments(x, lengths)
        std = torch.where(std > 0, std, torch.ones_like(std))
        return ((x.to(torch.float64) - mean[:, None, :]) / std[:, None, :]).to(torch.float32), lengths


#: The statistics of SequencePooling that the graph computes.
POOLED_STATISTICS = ("mean", "std", "min", "max", "range", "slope")


class PoolingModule(nn.Module):
    """:class:`~sklearn_ser.features.SequencePooling` over the valid frames: a float64 table, statistic-major."""

    def __init__(self, stats):
        super().__init__()
        unknown = [name for name in stats if name not in POOLED_STATISTICS]
        if unknown:
            raise ValueError(f"statistics {unknown} have no ONNX form here; {list(POOLED_STATISTICS)} have")
        self.stats = tuple(stats)

    def forward(self, x, lengths):
        mean, std, centred, mask = masked_moments(x, lengths)
        x = x.to(torch.float64)
        values = {"mean": mean, "std": std}
        if {"min", "max", "range"} & set(self.stats):
            values["min"] = x.masked_fill(~mask, torch.inf).amin(dim=1)
            values["max"] = x.masked_fill(~mask, -torch.inf).amax(dim=1)
            values["range"] = values["max"] - values["min"]
        if "slope" in self.stats:
            n = lengths.to(torch.float64)[:, None]
            time = torch.arange(x.shape[1], device=x.device, dtype=torch.float64)[None, :] - (n - 1) / 2
            time = time.masked_fill(~mask[..., 0], 0.0)
            denominator = time.square().sum(dim=1, keepdim=True)
            slope = (time[..., None] * centred).sum(dim=1) / torch.clamp(denominator, min=1e-300)
            values["slope"] = torch.where(n > 1, slope, torch.zeros_like(slope))
        return torch.cat([values[name] for name in self.stats], dim=1), lengths


class VectorAsSequenceModule(nn.Module):
    """:class:`~sklearn_ser.features.VectorAsSequence`: every row as ``(n_features // step_size, step_size)``."""

    def __init__(self, step_size):
        super().__init__()
        self.step_size = int(step_size)

    def forward(self, x, lengths):
        x = x.to(torch.float32)
        steps = x.reshape(x.shape[0], -1, self.step_size)
        return steps, torch.full_like(lengths, steps.shape[1])


class ClassifierModule(nn.Module):
    """A fitted toolkit network (its skorch ``module_``), masking as it does, then the softmax of ``predict_proba``."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, x, lengths):
        x = x.to(torch.float32)
        network = self.network
        if hasattr(network, "frontend"):  # a CRNNNetwork: the CNN, then its LSTMNetwork
            x, lengths = network.frontend(x, lengths)
            network = network.recurrent
        return torch.softmax(network(x, lengths), dim=1), lengths


class Chain(nn.Module):
    """The modules of the steps in turn, from ``(waveforms, lengths)``; returns the last step's output.

    A table at the end (the input of the scikit-learn tail) is returned in
    float64, the values unchanged.
    """

    def __init__(self, modules):
        super().__init__()
        self.steps = nn.ModuleList(modules)
        self.ends_with_classifier = isinstance(modules[-1], (ClassifierModule, MultiscaleModule))

    def forward(self, waveforms, lengths):
        x = waveforms
        for step in self.steps:
            x, lengths = step(x, lengths)
        return x.to(torch.float64) if x.dim() == 2 and not self.ends_with_classifier else x


class SegmentPoolingModule(nn.Module):
    """:class:`~sklearn_ser.features.SegmentPooling` on a padded batch: a float32 sequence of segment statistics.

    Segment ``j`` of an utterance of ``n`` frames starts at
    ``min(j * hop, max(n - length, 0))`` and holds ``min(length, n)`` frames;
    there are ``max(n - length, 0) // hop + 1`` segments, one more when the
    last of them ends before the utterance does (placed as
    :func:`~sklearn_ser._sequences.sliding_starts` places them).
    """

    def __init__(self, segment_frames, segment_hop, stats):
        super().__init__()
        self.length = int(segment_frames)
        self.hop = int(segment_hop)
        self.pooling = PoolingModule(stats)

    def forward(self, x, lengths):
        batch, time, n_features = x.shape
        last = torch.clamp(lengths - self.length, min=0)
        n_segments = torch.div(last, self.hop, rounding_mode="floor") + 1
        n_segments = n_segments + (torch.remainder(last, self.hop) != 0).to(n_segments.dtype)
        index = torch.arange(time // self.hop + 2, device=x.device)[None, :]  # at least as many as any utterance has
        starts = torch.minimum(index * self.hop, last[:, None])
        frames = starts[..., None] + torch.arange(self.length, device=x.device)[None, None, :]
        frames = torch.clamp(frames, max=time - 1)
        n_slots = index.shape[1]
        gathered = x.gather(1, frames.reshape(batch, -1, 1).expand(-1, -1, n_features))
        gathered = gathered.reshape(batch * n_slots, self.length, n_features)
        segment_lengths = torch.clamp(lengths, max=self.length)[:, None].expand(batch, n_slots).reshape(-1)
        pooled, _ = self.pooling(gathered, segment_lengths)
        return pooled.reshape(batch, n_slots, -1).to(torch.float32), n_segments


class MultiscaleModule(nn.Module):
    """:class:`~sklearn_ser.models.MultiscaleLSTMClassifier` on a padded batch: every scale's segments, one batch.

    For each scale, the segments of every utterance (placed as
    :func:`~sklearn_ser.models._multiscale.segment` places them, which is
    how :class:`SegmentPoolingModule` places its segments) are gathered into
    one padded batch with their lengths, ``min(length, n)`` frames, and run
    through that scale's fitted network, which masks its padding. The
    probabilities of an utterance's segments are averaged over its own
    segments (the slots past them are masked out), put in the columns of the
    classifier's ``classes_``, and averaged over the scales, in float64 as
    ``predict_proba`` sums them.

    Parameters
    ----------
    scales : list of (int, int, ClassifierModule, ndarray)
        Each scale's segment length and hop in frames, its network, and the
        ``(n_estimator_classes, n_classes)`` 0/1 matrix that places its
        columns.
    """

    def __init__(self, scales):
        super().__init__()
        self.lengths = [int(length) for length, _, _, _ in scales]
        self.hops = [int(hop) for _, hop, _, _ in scales]
        self.networks = nn.ModuleList([network for _, _, network, _ in scales])
        for i, (_, _, _, columns) in enumerate(scales):
            self.register_buffer(f"columns_{i}", torch.from_numpy(np.asarray(columns, dtype=np.float64)))

    def forward(self, x, lengths):
        batch, time, n_features = x.shape
        fused = None
        for i, (length, hop, network) in enumerate(zip(self.lengths, self.hops, self.networks)):
            last = torch.clamp(lengths - length, min=0)
            n_segments = torch.div(last, hop, rounding_mode="floor") + 1
            n_segments = n_segments + (torch.remainder(last, hop) != 0).to(n_segments.dtype)
            index = torch.arange(time // hop + 2, device=x.device)[None, :]  # at least as many as any utterance has
            starts = torch.minimum(index * hop, last[:, None])
            frames = torch.clamp(starts[..., None] + torch.arange(length, device=x.device)[None, None, :], max=time - 1)
            n_slots = index.shape[1]
            segments = x.gather(1, frames.reshape(batch, -1, 1).expand(-1, -1, n_features))
            segments = segments.reshape(batch * n_slots, length, n_features)
            segment_lengths = torch.clamp(lengths, max=length)[:, None].expand(batch, n_slots).reshape(-1)
            proba, _ = network(segments, segment_lengths)
            proba = proba.to(torch.float64).reshape(batch, n_slots, -1)
            used = (index < n_segments[:, None])[..., None]
            mean = proba.masked_fill(~used, 0.0).sum(dim=1) / n_segments.to(torch.float64)[:, None]
            mean = mean @ getattr(self, f"columns_{i}")
            fused = mean if fused is None else fused + mean
        return (fused / len(self.networks)).to(torch.float32), lengths
