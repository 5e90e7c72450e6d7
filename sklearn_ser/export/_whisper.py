"""SpeechEmbedder over Whisper's encoder at the utterance's own length, as a torch module for the ONNX graph."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ..features._whisper import _takes_head_mask
from ._sequence_steps import PoolingModule
from ._spectral import dft_kernels


class WhisperEmbeddingModule(nn.Module):
    """Waveforms -> Whisper's log-Mel frames -> masked encoder -> hidden states, pooled or per frame.

    The computation of ``SpeechEmbedder(whisper_input="trimmed")`` (see
    ``sklearn_ser/features/_whisper.py``) on a right-padded batch: the
    waveform is zero past its length, its log-Mel frames are those of the
    feature extractor's torch path (reflect padding at the start, a periodic
    Hann window, ``max - 8`` over the frames the extractor computes for the
    utterance padded past its last frame), the encoder's convolutions see
    zeros past each utterance's frames, and the attention masks the padded
    positions. With ``whisper_input="padded"`` every utterance is padded to
    the 30 s window as the extractor pads it, and the encoder reads the whole
    window unmasked, as it does alone; the hidden states are pooled over the
    utterance's own frames in both cases. Utterances up to the embedder's
    ``max_duration`` (at most Whisper's 30 s window) are covered; with
    ``pool=False`` (per-frame states of every row, however ``pooling`` is
    set) it is the encoder of :class:`~sklearn_ser.export._ssl.PiecewiseEmbedding`,
    which cuts longer ones into the embedder's pieces.
    """

    def __init__(self, embedding, *, pool=True):
        super().__init__()
        extractor = embedding.feature_extractor
        self.n_fft, self.hop = int(extractor.n_fft), int(extractor.hop_length)
        self.n_bins = self.n_fft // 2 + 1
        window = torch.hann_window(self.n_fft).numpy()
        self.register_buffer("kernels", dft_kernels(window, self.n_fft))
        mel_filters = np.asarray(extractor.mel_filters, dtype=np.float32).T.copy()  # (n_mels, n_bins)
        self.register_buffer("mel_filters", torch.from_numpy(mel_filters))
        self.encoder = copy.deepcopy(embedding.encoder).to("cpu").float().eval()
        self.layers = embedding.layers
        last = len(self.encoder.layers) if self.layers == "mean" else max(self.layers)
        self.n_run = min(last, len(self.encoder.layers))
        self.final_norm = last == len(self.encoder.layers)
        self.pooling = None if embedding.pooling is None or not pool else PoolingModule(_POOLED[embedding.pooling])
        self.window_samples = int(extractor.n_samples) if embedding.whisper_input == "padded" else 0

    def forward(self, waveforms, lengths):
        batch, time = waveforms.shape
        samples = torch.arange(time, device=waveforms.device)[None, :]
        x = waveforms.masked_fill(samples >= lengths[:, None], 0.0)
        n_mel = torch.clamp(torch.div(lengths + self.hop - 1, self.hop, rounding_mode="floor"), min=1)
        half = self.n_fft // 2
        if self.window_samples:  # the extractor's 30 s window, reflected at both ends
            x = nn.functional.pad(x, (0, self.window_samples - time))
            x = torch.cat([x[:, 1 : half + 1].flip(1), x, x[:, -half - 1 : -1].flip(1)], dim=1)
        else:
            x = nn.functional.pad(x, (0, 2 * self.n_fft + self.hop))
            x = torch.cat([x[:, 1 : half + 1].flip(1), x], dim=1)
        spectrum = nn.functional.conv1d(x[:, None, :], self.kernels, stride=self.hop)
        real, imag = spectrum[:, : self.n_bins], spectrum[:, self.n_bins :]
        log_spec = (self.mel_filters @ (real * real + imag * imag)).clamp(min=1e-10).log10()
        if self.window_samples:
            log_spec = log_spec[:, :, : self.window_samples // self.hop]  # the extractor drops the last frame
            computed = torch.ones_like(log_spec[:, 0], dtype=torch.bool)
        else:
            computed = torch.arange(log_spec.shape[2], device=x.device)[None, :] < (n_mel + 2)[:, None]
        peak = log_spec.masked_fill(~computed[:, None, :], -torch.inf).amax(dim=(1, 2), keepdim=True)
        mel = (torch.maximum(log_spec, peak - 8.0) + 4.0) / 4.0
        encoder = self.encoder
        frames = torch.div(n_mel - 1, 2, rounding_mode="floor") + 1
        if self.window_samples:
            h = nn.functional.gelu(encoder.conv1(mel))
            mask = None  # the whole window is the input, padding and all
        else:
            valid_mel = (torch.arange(mel.shape[2], device=x.device)[None, :] < n_mel[:, None])[:, None, :]
            h = nn.functional.gelu(encoder.conv1(mel.masked_fill(~valid_mel, 0.0))) * valid_mel
        h = nn.functional.gelu(encoder.conv2(h)).permute(0, 2, 1)
        h = h + encoder.embed_positions.weight[: h.shape[1]]
        if not self.window_samples:
            valid = torch.arange(h.shape[1], device=x.device)[None, :] < frames[:, None]
            mask = torch.zeros(valid.shape, dtype=h.dtype, device=x.device)
            mask = mask.masked_fill(~valid, torch.finfo(h.dtype).min)[:, None, None, :]
        states = [h]
        extra = {"layer_head_mask": None} if _takes_head_mask(encoder.layers[0]) else {}
        for layer in encoder.layers[: self.n_run]:
            h = layer(h, mask, **extra)
            h = h[0] if isinstance(h, tuple) else h
            states.append(h)
        if self.final_norm:
            states[-1] = encoder.layer_norm(h)
        if self.layers == "mean":
            selected = torch.stack(states).mean(dim=0)
        else:
            selected = torch.cat([states[k] for k in self.layers], dim=-1)
        if self.pooling is None:
            return selected, frames
        pooled, _ = self.pooling(selected, frames)
        return pooled.to(torch.float32), frames


_POOLED = {"mean": ("mean",), "mean+std": ("mean", "std")}
