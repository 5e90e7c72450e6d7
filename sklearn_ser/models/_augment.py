"""Training-only augmentation of padded feature-sequence batches: SpecAugment-style masks and mixup.

The batches are those the batch iterator cuts
(:meth:`~sklearn_ser.models._data.SequenceData.batch`): ``x`` of shape
(batch, time, features), right-padded with each utterance's last frame, and
the valid ``lengths`` of its utterances. Random numbers come from torch's
default generators on the batch's device, which the classifier seeds for
its training run, and nothing leaves the device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from skorch import NeuralNetClassifier
from skorch.dataset import unpack_data

MASK_VALUE = 0.0
"""What a masked feature becomes: the mean of standardized features."""


@dataclass(frozen=True)
class Mixing:
    """How a batch was mixed: utterance ``i`` is ``weight * x[i] + (1 - weight) * x[partner[i]]``.

    ``weight`` is at least one half, so every utterance dominates its own
    mixture and keeps its label as the dominant one.
    """

    partner: torch.Tensor
    weight: torch.Tensor

    def loss(self, loss_of, y):
        """``weight * loss_of(y) + (1 - weight) * loss_of(y[partner])``, the mixup loss."""
        return self.weight * loss_of(y) + (1 - self.weight) * loss_of(y[self.partner])


@dataclass(frozen=True)
class SequenceAugmentation:
    """What is done to every training batch; nothing, with the defaults.

    The parameters are those of :class:`~sklearn_ser.models.LSTMClassifier`
    of the same names.
    """

    time_masks: int = 0
    time_mask_width: float = 0.1
    freq_masks: int = 0
    freq_mask_width: int = 8
    freq_mask_blocks: int = 1
    mixup_alpha: float = 0.0

    @property
    def active(self):
        return self.time_masks > 0 or self.freq_masks > 0 or self.mixup_alpha > 0

    def __call__(self, x, lengths):
        """The augmented batch, right-padded with each utterance's last (augmented) frame.

        Mixup comes first, so the masks hide the mixture wholly.

        Returns
        -------
        x : Tensor of shape (batch, time, features)
        mixing : Mixing or None
            None when ``mixup_alpha`` is 0.
        """
        mixing = None
        if self.mixup_alpha > 0:
            mixing = draw_mixing(len(x), self.mixup_alpha, x.device)
            x = mix(x, lengths, mixing)
        if self.time_masks > 0 or self.freq_masks > 0:
            x = x.masked_fill(self.draw_masks(lengths, x.shape[1], x.shape[2]), MASK_VALUE)
        return pad_with_last_frame(x, lengths), mixing

    def draw_masks(self, lengths, n_steps, n_features):
        """Where the masks fall: a boolean tensor of shape (batch, n_steps, n_features), False beyond each length."""
        device = lengths.device
        masked = torch.zeros(len(lengths), n_steps, n_features, dtype=torch.bool, device=device)
        if self.time_masks > 0:
            masked |= time_mask(lengths, n_steps, self.time_masks, self.time_mask_width)[:, :, None]
        if self.freq_masks > 0:
            bands = feature_mask(
                len(lengths), n_features, self.freq_masks, self.freq_mask_width, self.freq_mask_blocks, device=device
            )
            masked |= bands[:, None, :]
        within = torch.arange(n_steps, device=device)[None, :] < lengths[:, None]
        return masked & within[:, :, None]


def time_mask(lengths, n_steps, n_masks, max_fraction):
    """``n_masks`` runs of frames per utterance, each within its length.

    Parameters
    ----------
    lengths : Tensor of shape (batch,)
        Valid frames of each utterance.
    n_steps : int
        Frames of the padded batch.
    n_masks : int
        Runs per utterance (they may overlap).
    max_fraction : float
        Longest run, as a fraction of the utterance's own length (rounded
        down): a run's width is uniform over ``0 .. floor(max_fraction *
        length)`` frames and its start uniform over the places where it fits.

    Returns
    -------
    masked : Tensor of bool, shape (batch, n_steps)
    """
    max_widths = (lengths.double() * max_fraction).floor().long()
    starts, widths = _random_bands(n_masks, max_widths, lengths)
    return _covered(torch.arange(n_steps, device=lengths.device), starts, widths)


def feature_mask(n_utterances, n_features, n_masks, max_width, n_blocks=1, *, device):
    """``n_masks`` bands of consecutive features per utterance.

    Parameters
    ----------
    n_utterances, n_features : int
        Shape of the mask.
    n_masks : int
        Bands per utterance (they may overlap).
    max_width : int
        Widest band, in features: a band's width is uniform over ``0 ..
        min(max_width, n_features // n_blocks)`` and its start uniform over
        the places where it fits in a block.
    n_blocks : int, default=1
        The features are ``n_blocks`` equal blocks (e.g. static, delta and
        delta-delta) and each band covers the same features in every block.
    device : torch.device

    Returns
    -------
    masked : Tensor of bool, shape (n_utterances, n_features)
    """
    block = n_features // n_blocks
    extent = torch.full((n_utterances,), block, device=device)
    starts, widths = _random_bands(n_masks, extent.clamp(max=max_width), extent)
    return _covered(torch.arange(n_features, device=device) % block, starts, widths)


def _random_bands(n_masks, max_widths, extents):
    """Starts and widths, of shape (batch, n_masks), of bands of up to ``max_widths`` within ``extents``."""
    draws = torch.rand(2, len(extents), n_masks, device=extents.device, dtype=torch.float64)
    widths = torch.minimum((draws[0] * (max_widths[:, None] + 1)).long(), max_widths[:, None])
    room = extents[:, None] - widths
    starts = torch.minimum((draws[1] * (room + 1)).long(), room)
    return starts, widths


def _covered(positions, starts, widths):
    """Whether any band covers each position: shape (batch, len(positions))."""
    positions = positions[None, :, None]
    return ((positions >= starts[:, None, :]) & (positions < (starts + widths)[:, None, :])).any(dim=2)


def draw_mixing(n_utterances, alpha, device):
    """A random partner for every utterance and one mixing weight ``max(λ, 1 - λ)``, λ ~ Beta(alpha, alpha)."""
    concentration = torch.full((2,), float(alpha), device=device)
    weight = torch.distributions.Dirichlet(concentration, validate_args=False).sample().amax()
    return Mixing(partner=torch.randperm(n_utterances, device=device), weight=weight)


def mix(x, lengths, mixing):
    """Each utterance mixed frame by frame with its partner over their common length.

    Beyond the partner's length an utterance keeps its own frames, and it
    keeps its own length: the partner's padding never enters.
    """
    steps = torch.arange(x.shape[1], device=x.device)
    common = torch.minimum(lengths, lengths[mixing.partner])
    mixed = mixing.weight * x + (1 - mixing.weight) * x[mixing.partner]
    return torch.where((steps[None, :] < common[:, None])[:, :, None], mixed, x)


def pad_with_last_frame(x, lengths):
    """The batch with every step beyond an utterance's length set to its last valid frame."""
    steps = torch.arange(x.shape[1], device=x.device)
    source = torch.minimum(steps[None, :], lengths[:, None] - 1)
    return x.gather(1, source[:, :, None].expand_as(x))


class AugmentingNetClassifier(NeuralNetClassifier):
    """skorch's classifier net, augmenting its training batches.

    Only :meth:`train_step_single` changes: validation and prediction
    batches are never augmented, and with an inactive augmentation the
    training step is skorch's own. The training outputs it returns (which
    the training accuracy scores) are those on the augmented batch; with
    mixup they are compared with each utterance's own label, the dominant
    one of its mixture.

    Parameters
    ----------
    module, **kwargs
        As for :class:`skorch.NeuralNetClassifier`.
    augmentation : SequenceAugmentation or None, default=None
        What to do to every training batch.
    """

    def __init__(self, module, *, augmentation=None, **kwargs):
        super().__init__(module, **kwargs)
        self.augmentation = augmentation

    def train_step_single(self, batch, **fit_params):
        if self.augmentation is None or not self.augmentation.active:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        X, y = unpack_data(batch)
        x, mixing = self.augmentation(X["x"], X["lengths"])
        X = {**X, "x": x}
        y_pred = self.infer(X, **fit_params)

        def loss_of(targets):
            return self.get_loss(y_pred, targets, X=X, training=True)

        loss = loss_of(y) if mixing is None else mixing.loss(loss_of, y)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}
