"""Feeding variable-length sequences to skorch: device-resident data and length-bucketed batches."""

from __future__ import annotations

import math

import numpy as np
import torch

DEVICE_MEMORY_SHARE = 0.5
"""Largest share of the GPU's free memory the features of one dataset may take to live there."""

LENGTH_JITTER = 0.1
"""Relative jitter of the lengths by which training batches are bucketed, drawn anew every epoch."""


class SequenceData(torch.utils.data.Dataset):
    """Utterances of different lengths stored once, for batches built where they live.

    The frames of all sequences are concatenated into one float32 tensor. On
    a CUDA ``device`` they are copied there once when they take at most
    :data:`DEVICE_MEMORY_SHARE` of its free memory; otherwise they stay in
    (pinned) host memory and every batch is copied to the device with a
    non-blocking transfer.

    Parameters
    ----------
    sequences : list of ndarray of shape (n_frames, n_features), float32
        One array per utterance.
    y : ndarray of int, optional
        Encoded labels; 0 for every item when None (prediction).
    device : torch.device or str, default="cpu"
        Where batches are consumed.
    """

    def __init__(self, sequences, y=None, device="cpu"):
        self.device = torch.device(device)
        self.lengths = np.fromiter((len(sequence) for sequence in sequences), dtype=np.int64, count=len(sequences))
        starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        frames = torch.from_numpy(np.concatenate(sequences) if len(sequences) else np.zeros((0, 0), np.float32))
        labels = np.zeros(len(sequences), dtype=np.int64) if y is None else np.asarray(y, dtype=np.int64)
        storage = self.device if _fits_on(self.device, frames) else torch.device("cpu")
        if storage.type == "cpu" and self.device.type == "cuda":
            frames = frames.pin_memory()
        self.frames = frames.to(storage)
        self.starts = torch.from_numpy(starts).to(storage)
        self.ends = torch.from_numpy(starts + self.lengths - 1).to(storage)  # each sequence's last frame
        self.y = torch.from_numpy(labels).to(self.device)
        self.device_lengths = torch.from_numpy(self.lengths).to(self.device)

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, index):
        start = int(self.starts[index])
        return self.frames[start : start + int(self.lengths[index])], self.y[index]

    def batch(self, indices):
        """The padded batch of the items ``indices``, on the device.

        Parameters
        ----------
        indices : ndarray of int
            Items of the batch, in the order they take in it.

        Returns
        -------
        X : dict
            ``x``, a tensor of shape (batch, longest, n_features) on the
            device, right-padded with each sequence's last frame, and
            ``lengths``, the valid frames of each.
        y : Tensor of shape (batch,)
            Their labels.
        """
        longest = int(self.lengths[indices].max())
        rows = torch.from_numpy(np.asarray(indices, dtype=np.int64))
        storage_rows = rows.to(self.frames.device, non_blocking=True)
        steps = torch.arange(longest, device=self.frames.device)
        positions = torch.minimum(self.starts[storage_rows][:, None] + steps, self.ends[storage_rows][:, None])
        x = self.frames[positions]
        if x.device != self.device:  # frames kept in host memory for a GPU
            x = x.pin_memory().to(self.device, non_blocking=True)
        device_rows = rows.to(self.device, non_blocking=True)
        return {"x": x, "lengths": self.device_lengths[device_rows]}, self.y[device_rows]

    def length_order(self):
        """Items from the longest to the shortest (stable), the order of prediction batches."""
        return np.argsort(-self.lengths, kind="stable")


class LengthBucketedBatches:
    """skorch iterator over padded batches of utterances of similar length.

    Without ``shuffle`` (prediction and validation) the items come in
    :meth:`SequenceData.length_order`, so every batch holds neighbours in
    length. With ``shuffle`` (training) every epoch draws a seed from torch's
    global generator, jitters each length by a random factor within
    ``1 ± LENGTH_JITTER``, sorts by the jittered lengths, cuts the order into
    batches and shuffles the batches: batches differ from epoch to epoch
    while padding stays small.

    Parameters
    ----------
    dataset : SequenceData
        The utterances.
    batch_size : int
        Utterances per batch.
    shuffle : bool, default=False
        Draw new buckets and a new batch order every epoch.
    """

    def __init__(self, dataset, batch_size, shuffle=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        order = self._order()
        for start in range(0, len(order), self.batch_size):
            yield self.dataset.batch(order[start : start + self.batch_size])

    def _order(self):
        if not self.shuffle:
            return self.dataset.length_order()
        seed = int(torch.randint(np.iinfo(np.int64).max, (1,), dtype=torch.int64))
        rng = np.random.default_rng(seed)
        jitter = rng.uniform(1 - LENGTH_JITTER, 1 + LENGTH_JITTER, size=len(self.dataset))
        order = np.argsort(-self.dataset.lengths * jitter, kind="stable")
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        return np.concatenate([batches[i] for i in rng.permutation(len(batches))]) if batches else order


def _fits_on(device, frames):
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return frames.element_size() * frames.nelement() <= DEVICE_MEMORY_SHARE * free
