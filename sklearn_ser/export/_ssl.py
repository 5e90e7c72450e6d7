"""SpeechEmbedder over a wav2vec 2.0, HuBERT or WavLM encoder, each utterance as it runs alone, for the ONNX graph.

:class:`~sklearn_ser.features.SpeechEmbedder` runs these encoders so that an
utterance's embedding is the same alone or in a batch: a model that takes an
attention mask and normalises its convolutional features per frame
(``feat_extract_norm="layer"``) is batched with its mask, any other runs only
pieces of equal length together, that is, each as it runs alone. The graph
computes that "alone" result for every utterance of a right-padded batch with
masks, which is exact for every configuration:

* the feature extractor's zero-mean, unit-variance normalisation
  (``do_normalize``) is taken over the piece's own samples (those padded to
  the encoder's receptive field included, as the embedder pads them before
  the extractor), and the padding is zero, as the extractor pads it;
* the convolutional feature encoder has no padding, so the frames it gives
  for an utterance read only its samples; its GroupNorm over time
  (``feat_extract_norm="group"``, which makes the embedder refuse to batch
  unequal lengths) is computed over the utterance's own frames;
* the frames past an utterance are set to zero before the positional
  convolution (as the encoder does with an attention mask, and as the
  convolution's own zero padding gives alone), and the self-attention masks
  them (additively with the dtype's minimum, or as WavLM's key padding mask),
  so that no valid frame reads them.

Utterances longer than the embedder's ``max_duration`` are cut into the same
equal consecutive pieces (``np.linspace(0, n, k + 1).round()`` computed in
float64 with round-half-even, as NumPy does), every piece of every utterance
runs in one masked batch, and each utterance's frames are joined in order
before pooling (:class:`PiecewiseEmbedding`, which cuts the pieces of a
Whisper encoder too).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..features._speech_model import min_samples
from ._sequence_steps import PoolingModule


def _plain_conv(conv):
    """A plain ``nn.Conv1d`` with the weights ``conv`` computes (its weight norm folded in), ``conv`` untouched.

    (``remove_parametrizations`` on a copy would change the parametrized
    class that the copy shares with the fitted encoder.)
    """
    plain = nn.Conv1d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        plain.weight.copy_(conv.weight)
        if conv.bias is not None:
            plain.bias.copy_(conv.bias)
    return plain


class PiecewiseEmbedding(nn.Module):
    """Waveforms -> the embedder's pieces, one masked batch -> an encoder's frames, joined per utterance -> pooled.

    An utterance of ``n`` samples is cut into ``k = ceil(n / max_samples)``
    pieces at ``np.linspace(0, n, k + 1).round()`` (in float64, rounding
    half to even, as NumPy does), each zero-padded to at least the encoder's
    fewest samples (its receptive field), as
    :class:`~sklearn_ser.features.SpeechEmbedder` cuts and pads them. Every
    piece of every utterance is a row of one right-padded batch (slots an
    utterance does not use hold a dummy piece with no frames); ``encoder``
    maps ``(pieces, samples)`` to per-frame features and their frame counts,
    each piece as it runs alone; the frames of an utterance's pieces are
    joined in order, then pooled over all of them (or returned per frame).

    Parameters
    ----------
    encoder : nn.Module
        :class:`SelfSupervisedEncoderModule`, or a
        :class:`~sklearn_ser.export._whisper.WhisperEmbeddingModule` without
        its pooling.
    embedding : _Embedding
        The embedder's computer: ``max_samples``, ``pooling`` and the encoder's config.
    """

    def __init__(self, encoder, embedding):
        super().__init__()
        self.encoder = encoder
        self.max_samples = int(embedding.max_samples)
        self.shortest = int(min_samples(embedding.encoder.config))
        self.pooling = None if embedding.pooling is None else PoolingModule(_POOLED[embedding.pooling])

    def _pieces(self, waveforms, lengths):
        """The pieces of every utterance as a ``(batch * slots, samples)`` batch, their samples and whether used."""
        batch, time = waveforms.shape
        n_slots = (time - 1) // self.max_samples + 1  # the most pieces an utterance of the batch has
        slots = torch.arange(n_slots, device=waveforms.device)[None, :]
        n_pieces = torch.clamp(torch.div(lengths + self.max_samples - 1, self.max_samples, rounding_mode="floor"), 1)
        step = lengths.to(torch.float64)[:, None] / n_pieces.to(torch.float64)[:, None]
        starts = torch.round(slots.to(torch.float64) * step).to(torch.int64)
        stops = torch.round((slots + 1).to(torch.float64) * step).to(torch.int64)
        stops = torch.where(slots + 1 == n_pieces[:, None], lengths[:, None], stops)  # linspace ends exactly at n
        used = slots < n_pieces[:, None]
        samples = torch.where(used, stops - starts, torch.zeros_like(stops))
        padded = torch.clamp(samples, min=self.shortest)  # what the embedder pads a short piece to, with zeros
        offsets = torch.arange(padded.max(), device=waveforms.device)
        index = torch.clamp(starts[..., None] + offsets, max=time - 1)
        x = waveforms.gather(1, index.reshape(batch, -1)).reshape(-1, offsets.shape[0])
        x = x.masked_fill(offsets[None, :] >= samples.reshape(-1, 1), 0.0)
        return x, padded.reshape(-1), used.reshape(-1)

    def forward(self, waveforms, lengths):
        x, samples, used = self._pieces(waveforms, lengths)
        selected, frames = self.encoder(x, samples)
        joined, n_frames = _join_pieces(selected, torch.where(used, frames, torch.zeros_like(frames)), lengths.shape[0])
        if self.pooling is None:
            return joined, n_frames
        pooled, _ = self.pooling(joined, n_frames)
        return pooled.to(torch.float32), n_frames


class SelfSupervisedEncoderModule(nn.Module):
    """Pieces of waveforms -> normalised input -> masked encoder -> the selected hidden states of every frame.

    Maps ``(pieces, samples)`` (right-padded, zero past each piece's
    samples) to ``(batch, frames, features)`` and the frames of each piece,
    each as the embedder computes that piece alone.

    Parameters
    ----------
    embedding : _Embedding
        The embedder's computer (``SpeechEmbedder._make_computer()``) with a
        ``Wav2Vec2Model``, ``HubertModel`` or ``WavLMModel`` encoder.
    """

    def __init__(self, embedding):
        super().__init__()
        encoder = copy.deepcopy(embedding.encoder).to("cpu").float().eval()
        encoder.config._attn_implementation = "eager"  # a plain additive mask, traced as MatMul and Softmax
        config = encoder.config
        self.is_wavlm = config.model_type == "wavlm"
        self.stable_layer_norm = bool(getattr(config, "do_stable_layer_norm", False))
        self.group_norm = config.feat_extract_norm == "group"
        self.conv_shapes = [(int(k), int(s)) for k, s in zip(config.conv_kernel, config.conv_stride)]
        self.do_normalize = bool(getattr(embedding.feature_extractor, "do_normalize", False))
        self.conv_layers = encoder.feature_extractor.conv_layers
        self.feature_projection = encoder.feature_projection
        positional = encoder.encoder.pos_conv_embed
        self.pos_conv = _plain_conv(positional.conv)
        self.pos_pad, self.pos_activation = positional.padding, positional.activation
        self.pos_batch_norm = getattr(positional, "batch_norm", None)
        self.encoder_norm = encoder.encoder.layer_norm
        self.layers = embedding.layers
        n_layers = len(encoder.encoder.layers)
        self.n_run = n_layers if self.layers == "mean" else max(self.layers)
        self.encoder_layers = nn.ModuleList(list(encoder.encoder.layers)[: self.n_run])

    def _normalize(self, x, samples):
        """The feature extractor's zero-mean, unit-variance normalisation of each piece over its own samples."""
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < samples[:, None]
        count = samples.to(torch.float64)[:, None]
        x64 = x.to(torch.float64)
        mean = x64.sum(dim=1, keepdim=True) / count
        var = ((x64 - mean).masked_fill(~valid, 0.0).square().sum(dim=1, keepdim=True) / count).to(torch.float32)
        normed = (x - mean.to(torch.float32)) / torch.sqrt(var + 1e-7)
        return normed.masked_fill(~valid, 0.0)

    def _features(self, x, samples):
        """The convolutional feature encoder, its GroupNorm over each piece's own frames; frames and their count."""
        h = x[:, None, :]
        count = samples
        for i, (layer, (kernel, stride)) in enumerate(zip(self.conv_layers, self.conv_shapes)):
            count = torch.div(count - kernel, stride, rounding_mode="floor") + 1
            if i == 0 and self.group_norm:
                h = layer.activation(_masked_group_norm(layer.conv(h), count, layer.layer_norm))
            else:
                h = layer(h)
        return h.transpose(1, 2), count

    def forward(self, x, samples):
        if self.do_normalize:
            x = self._normalize(x, samples)
        h, frames = self._features(x, samples)
        h = self.feature_projection(h)
        h = h[0] if isinstance(h, tuple) else h
        valid = torch.arange(h.shape[1], device=h.device)[None, :] < frames[:, None]
        h = h.masked_fill(~valid[..., None], 0.0)
        position = h.transpose(1, 2)
        if self.pos_batch_norm is not None:
            position = self.pos_batch_norm(position).masked_fill(~valid[:, None, :], 0.0)
        position = self.pos_activation(self.pos_pad(self.pos_conv(position)))
        h = h + position.transpose(1, 2)
        if not self.stable_layer_norm:
            h = self.encoder_norm(h)
        states = [h]
        if self.is_wavlm:
            mask = valid.to(torch.int64)
            position_bias = None
            for i, layer in enumerate(self.encoder_layers):
                extra = {} if self.stable_layer_norm else {"index": i}
                h, position_bias = layer(h, attention_mask=mask, position_bias=position_bias, **extra)
                states.append(h)
        else:
            mask = torch.zeros(valid.shape, dtype=h.dtype, device=h.device)
            mask = mask.masked_fill(~valid, torch.finfo(h.dtype).min)[:, None, None, :]
            for layer in self.encoder_layers:
                h = layer(h, attention_mask=mask)
                h = h[0] if isinstance(h, tuple) else h
                states.append(h)
        if self.layers == "mean":
            selected = torch.stack(states).mean(dim=0)
        else:
            selected = torch.cat([states[k] for k in self.layers], dim=-1)
        return selected, frames


def _masked_group_norm(h, count, norm):
    """``nn.GroupNorm`` with a group per channel over each piece's first ``count`` frames (``(N, C, T)``)."""
    valid = (torch.arange(h.shape[2], device=h.device)[None, :] < count[:, None])[:, None, :]
    n = count.to(torch.float64)[:, None, None]
    h64 = h.to(torch.float64)
    mean = h64.masked_fill(~valid, 0.0).sum(dim=2, keepdim=True) / n
    var = (h64 - mean).masked_fill(~valid, 0.0).square().sum(dim=2, keepdim=True) / n
    normed = ((h64 - mean) / torch.sqrt(var + norm.eps)).to(h.dtype)
    return normed * norm.weight[None, :, None] + norm.bias[None, :, None]


def _join_pieces(frames, counts, batch):
    """Each utterance's pieces' frames joined in order: ``(batch, slots * T, D)`` and the frames of each.

    ``frames`` is ``(batch * slots, T, D)`` with ``counts`` valid frames per
    piece (0 for the slots an utterance does not use).
    """
    n_pieces_frames, n_features = frames.shape[1], frames.shape[2]
    counts = counts.reshape(batch, -1)
    starts = torch.cumsum(counts, dim=1) - counts
    total = counts.sum(dim=1)
    position = torch.arange(frames.shape[0] // batch * n_pieces_frames, device=frames.device)[None, :, None]
    piece = (starts[:, None, :] <= position).sum(dim=2) - 1
    piece = torch.clamp(piece, 0, counts.shape[1] - 1)
    frame = position[..., 0] - starts.gather(1, piece)
    index = torch.clamp(piece * n_pieces_frames + frame, 0, counts.shape[1] * n_pieces_frames - 1)
    flat = frames.reshape(batch, -1, n_features)
    return flat.gather(1, index[..., None].expand(-1, -1, n_features)), total


_POOLED = {"mean": ("mean",), "mean+std": ("mean", "std")}
