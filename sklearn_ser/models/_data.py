"""Feeding variable-length sequences to skorch: a dataset and a padding collate."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence


class SequenceDataset(torch.utils.data.Dataset):
    """Utterance ``i`` as a ``(n_frames, n_features)`` tensor and its label.

    Parameters
    ----------
    sequences : list of ndarray of shape (n_frames, n_features), float32
        One array per utterance.
    y : ndarray of int, optional
        Encoded labels; 0 for every item when None (prediction).
    """

    def __init__(self, sequences, y=None):
        self.sequences = sequences
        self.y = np.zeros(len(sequences), dtype=np.int64) if y is None else np.asarray(y, dtype=np.int64)

    def __len__(self):
        return len(self.sequences)

    def __getitem__(self, index):
        return torch.from_numpy(self.sequences[index]), self.y[index]


def pad_batch(batch):
    """Collate items of :class:`SequenceDataset` into padded tensors and lengths."""
    sequences, labels = zip(*batch)
    lengths = torch.tensor([len(sequence) for sequence in sequences], dtype=torch.int64)
    padded = pad_sequence(sequences, batch_first=True)
    return {"x": padded, "lengths": lengths}, torch.as_tensor(np.asarray(labels))


class RandomStateNeutralLoader(torch.utils.data.DataLoader):
    """A DataLoader whose iteration leaves torch's global random state as it was.

    Starting to iterate a DataLoader draws a seed from the global generator,
    so scoring a validation set between epochs would change the shuffling of
    the following epochs: monitoring would change the trained model.
    """

    def __iter__(self):
        with torch.random.fork_rng(devices=[]):
            return super().__iter__()
