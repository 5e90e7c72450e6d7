"""CRNNClassifier: a 2-D CNN over (time, frequency) feeding the LSTM, trained end to end."""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval
from torch import nn

from ._frontend import ConvFrontEnd, check_conv_channels, per_block
from ._lstm import LSTMClassifier
from ._network import LSTMNetwork


class CRNNNetwork(nn.Module):
    """A :class:`ConvFrontEnd` over right-padded sequences, then an :class:`LSTMNetwork` over its frames.

    The CNN reads each frame's features as a frequency axis and reduces time
    by ``prod(pool_time)``; the LSTM network (its pooling, attention, head
    and recurrent bias) reads the CNN's per-frame features with the reduced
    lengths. Neither depends on the padding, so an utterance gets the same
    logits alone and in a batch with longer ones (in evaluation mode).

    Parameters
    ----------
    n_features : int
        Features per input frame.
    n_classes : int
        Number of output logits.
    conv_channels : tuple of int
        Output channels of each convolution block.
    pool_time, pool_freq : int or tuple of int
        Max pooling along time and frequency, for every block or per block.
    feature_blocks : int
        Equal blocks of the features read as the CNN's input channels.
    conv_dropout : float
        Dropout on the CNN's output features.
    **recurrent
        Keyword arguments of :class:`LSTMNetwork` (``hidden_size``,
        ``num_layers``, ``bidirectional``, ``dropout``, ``pooling``,
        ``head``, ``recurrent_bias``).
    """

    def __init__(
        self,
        *,
        n_features,
        n_classes,
        conv_channels=(32, 64),
        pool_time=2,
        pool_freq=2,
        feature_blocks=1,
        conv_dropout=0.0,
        **recurrent,
    ):
        super().__init__()
        self.frontend = ConvFrontEnd(
            n_features,
            conv_channels,
            pool_time=pool_time,
            pool_freq=pool_freq,
            feature_blocks=feature_blocks,
            dropout=conv_dropout,
        )
        self.recurrent = LSTMNetwork(n_features=self.frontend.n_features_out, n_classes=n_classes, **recurrent)

    def forward(self, x, lengths):
        """Logits of shape (batch, n_classes) for right-padded ``x`` (batch, time, features)."""
        features, lengths = self.frontend(x, lengths.to(x.device))
        return self.recurrent(features, lengths)


class CRNNClassifier(LSTMClassifier):
    """CNN + LSTM classifier over feature sequences (a CRNN), trained end to end with skorch.

    A small 2-D CNN reads the (time, frequency) plane of each utterance, e.g.
    its log-Mel spectrogram; its per-frame output (channels times the pooled
    frequency bins) feeds the LSTM of :class:`LSTMClassifier`, with the same
    pooling and dense head. This is the segment-level CNN-LSTM of Zhang et
    al.'s multiscale model. Training, batching, early stopping, the
    epoch-wise protocol, pickling and saved weights work as in
    :class:`LSTMClassifier`.

    Parameters
    ----------
    conv_channels : tuple of int, default=(32, 64)
        Output channels of each convolution block. A block is a 3x3
        convolution (zero padding keeps the size), batch normalization, ReLU
        and max pooling.
    pool_time : int or tuple of int, default=2
        Max pooling along time, for every block or one value per block. An
        utterance of ``n`` frames reaches the LSTM as
        ``ceil(n / prod(pool_time))`` frames: at least one, however short.
    pool_freq : int or tuple of int, default=2
        Max pooling along frequency, for every block or one value per block
        (the last window of an axis not divisible by it is partial).
    feature_blocks : int, default=1
        Number of equal blocks the features of a frame are made of, read as
        the CNN's input channels over one shared frequency axis: 3 after
        ``DeltaStack(order=2)`` (static, delta and delta-delta), 2 after
        ``order=1``. With 1 all features form one frequency axis. It must
        divide the number of features.
    conv_dropout : float, default=0.2
        Dropout on the CNN's per-frame output features.
    hidden_size, num_layers, bidirectional, dropout, pooling, head, recurrent_bias
        The LSTM over the CNN's frames and its head, as in
        :class:`LSTMClassifier` (defaults 128, 1, False, 0.2, "last", (),
        True).
    lr, optimizer, weight_decay, batch_size, max_epochs, class_weight
        Training, as in :class:`LSTMClassifier` (defaults 1e-3, "adam", 0.0,
        32, 30, None).
    early_stopping, validation_fraction, n_iter_no_change
        Early stopping, as in :class:`LSTMClassifier` (defaults False, 0.1,
        5).
    time_masks, time_mask_width, freq_masks, freq_mask_width, freq_mask_blocks, mixup_alpha
        Training augmentation of the input batches, as in
        :class:`LSTMClassifier` (defaults 0, 0.1, 0, 8, 1, 0.0): off by
        default. After ``DeltaStack(order=2)``, ``freq_mask_blocks=3``
        masks the same bands in the three blocks that ``feature_blocks=3``
        reads as channels.
    device, warm_start, callbacks, random_state, verbose
        As in :class:`LSTMClassifier` (defaults "auto", False, None, None, 0).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in :meth:`fit`, sorted.
    n_features_in_ : int
        Features per frame.
    feature_names_in_ : ndarray of str objects
        Names of those features, when the input carried them.
    net_ : skorch.NeuralNetClassifier
        The trained skorch net; its ``module_`` is a :class:`CRNNNetwork`.
    history_ : skorch.callbacks.History
        Per-epoch ``train_loss`` and ``train_acc``, and with early stopping
        ``valid_loss`` and ``valid_acc``.
    n_epochs_ : int
        Epochs trained.

    See Also
    --------
    LSTMClassifier : The LSTM alone over the frames.

    Notes
    -----
    Batches are right-padded. Every convolution block sets the frames beyond
    each utterance's length to zero before its convolution (what the
    convolution's zero padding puts after an utterance alone) and before its
    pooling, and the lengths go through every time pooling exactly
    (``ceil``), so in prediction an utterance gets the same probabilities
    alone and beside longer ones. In training, batch normalization takes its
    statistics over the valid frames only: the padding changes neither the
    normalization nor the running statistics used in prediction (the other
    utterances of a batch do, as in any batch normalization).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.models import CRNNClassifier, count_trainable_parameters
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(loc=label, size=(int(rng.integers(5, 15)), 8)).astype("float32")
    ...      for label in [0, 1] * 20]
    >>> y = ["calm", "angry"] * 20
    >>> clf = CRNNClassifier(conv_channels=(4,), hidden_size=8, lr=0.01, max_epochs=10, random_state=0).fit(X, y)
    >>> clf.predict(X[:4])
    array(['calm', 'angry', 'calm', 'angry'], dtype='<U5')
    >>> clf.net_.module_.frontend.n_features_out      # 4 channels x 8 / 2 frequency bins
    16
    >>> count_trainable_parameters(clf.net_.module_)
    894
    """

    _parameter_constraints = {
        **LSTMClassifier._parameter_constraints,
        "conv_channels": [tuple, list],
        "pool_time": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "pool_freq": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "feature_blocks": [Interval(Integral, 1, None, closed="left")],
        "conv_dropout": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        *,
        conv_channels=(32, 64),
        pool_time=2,
        pool_freq=2,
        feature_blocks=1,
        conv_dropout=0.2,
        hidden_size=128,
        num_layers=1,
        bidirectional=False,
        dropout=0.2,
        pooling="last",
        head=(),
        recurrent_bias=True,
        lr=1e-3,
        optimizer="adam",
        weight_decay=0.0,
        batch_size=32,
        max_epochs=30,
        class_weight=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        time_masks=0,
        time_mask_width=0.1,
        freq_masks=0,
        freq_mask_width=8,
        freq_mask_blocks=1,
        mixup_alpha=0.0,
        device="auto",
        warm_start=False,
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            pooling=pooling,
            head=head,
            recurrent_bias=recurrent_bias,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            class_weight=class_weight,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            time_masks=time_masks,
            time_mask_width=time_mask_width,
            freq_masks=freq_masks,
            freq_mask_width=freq_mask_width,
            freq_mask_blocks=freq_mask_blocks,
            mixup_alpha=mixup_alpha,
            device=device,
            warm_start=warm_start,
            callbacks=callbacks,
            random_state=random_state,
            verbose=verbose,
        )
        self.conv_channels = conv_channels
        self.pool_time = pool_time
        self.pool_freq = pool_freq
        self.feature_blocks = feature_blocks
        self.conv_dropout = conv_dropout

    def _check_params(self):
        super()._check_params()
        check_conv_channels(self.conv_channels)
        per_block(self.pool_time, len(self.conv_channels), "pool_time")
        per_block(self.pool_freq, len(self.conv_channels), "pool_freq")

    def _module_class(self):
        return CRNNNetwork

    def _module_params(self):
        return {
            **super()._module_params(),
            "conv_channels": tuple(self.conv_channels),
            "pool_time": self.pool_time if isinstance(self.pool_time, Integral) else tuple(self.pool_time),
            "pool_freq": self.pool_freq if isinstance(self.pool_freq, Integral) else tuple(self.pool_freq),
            "feature_blocks": self.feature_blocks,
            "conv_dropout": self.conv_dropout,
        }
