"""LSTMClassifier: a skorch-trained PyTorch LSTM as a scikit-learn classifier."""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._device import resolve_device
from .._interrupts import recording_interrupts
from .._sequences import check_sequences, record_feature_names
from ._data import LengthBucketedBatches, SequenceData
from ._network import POOLINGS, LSTMNetwork

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


class LSTMClassifier(ClassifierMixin, BaseEstimator):
    """LSTM classifier over feature sequences, trained with skorch.

    Takes the output of the feature transformers directly, e.g.
    ``Pipeline([MelSpectrogram(), DeltaStack(), LSTMClassifier()])``.
    Labels may be any hashable values; ``predict`` returns them and
    ``predict_proba`` has one column per entry of ``classes_``.

    Utterances of any length are batched with others of similar length and
    padded, on the training device: the features are copied there once (see
    Notes), and batches are cut from them there. The network reads each
    utterance as if it were alone (:class:`~sklearn_ser.models.LSTMNetwork`),
    so padding never changes a result.

    Parameters
    ----------
    hidden_size : int, default=128
        Units per direction of each LSTM layer.
    num_layers : int, default=1
        Stacked LSTM layers.
    bidirectional : bool, default=False
        Add a backward LSTM and concatenate both directions.
    dropout : float, default=0.2
        Dropout between stacked LSTM layers and after each dense layer.
    pooling : {"last", "mean", "max", "attention"}, default="last"
        From per-frame outputs to one vector per utterance: the final hidden
        state (both directions when bidirectional), the mean or maximum over
        the frames, or additive attention.
    head : tuple of int, default=()
        Sizes of the dense ReLU layers before the output layer, e.g.
        ``(128, 64)``.
    recurrent_bias : bool, default=True
        False holds PyTorch's second LSTM bias (``bias_hh``) at zero, which
        leaves one bias per gate as Keras has: the same function, and the
        parameter count Keras reports.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adam"
        Optimizer.
    weight_decay : float, default=0.0
        L2 penalty passed to the optimizer.
    batch_size : int, default=32
        Utterances per batch.
    max_epochs : int, default=30
        Passes over the training data.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the cross-entropy loss, as in scikit-learn.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, record the
        validation loss and accuracy every epoch, stop when the validation
        loss has not improved for ``n_iter_no_change`` epochs and restore the
        best epoch's weights. When False (the default), the model trains on
        all of the data it is given for ``max_epochs`` epochs: skorch's own
        internal validation split is switched off, so inside
        ``cross_val_score`` or ``GridSearchCV`` every fold trains on its whole
        training part.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping: stratified by
        label, or, when ``groups`` are passed to :meth:`fit`, whole groups
        (e.g. speakers) so that the validation speakers are unseen.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    time_masks : int, default=0
        SpecAugment-style time masks per training utterance: runs of frames
        set to 0, the mean of standardized features (put a
        :class:`~sklearn_ser.features.SequenceScaler` before the classifier).
        0 switches them off.
    time_mask_width : float in (0, 1], default=0.1
        Longest time mask, as a fraction of the utterance's own length, so
        that short and long utterances lose alike: each mask's width is
        uniform over 0 to ``floor(time_mask_width * n_frames)`` frames and
        it lies wholly within the utterance.
    freq_masks : int, default=0
        Feature-band masks per training utterance: consecutive features set
        to 0 over all of its frames. 0 switches them off.
    freq_mask_width : int, default=8
        Widest feature band, in features; each band's width is uniform over
        0 to ``freq_mask_width`` (at most the width of a block).
    freq_mask_blocks : int, default=1
        The features are this many equal blocks, and a band masks the same
        features in every block: 3 for the ``[static, delta, delta-delta]``
        output of :class:`~sklearn_ser.features.DeltaStack` with
        ``order=2`` masks a band of Mel bands and its deltas. It must divide
        the number of features when ``freq_masks`` is positive.
    mixup_alpha : float, default=0.0
        mixup: each training batch is mixed, frame by frame, with a random
        permutation of itself, with weight ``max(λ, 1 - λ)`` on each
        utterance's own frames, λ drawn from Beta(``mixup_alpha``,
        ``mixup_alpha``) once per batch, and the loss is the same mixture of
        the (class-weighted) cross-entropies of the two labels. 0 switches
        it off; 0.2 to 0.4 are usual values.
    device : str, default="auto"
        ``"auto"`` trains on CUDA when a GPU is available, else on the CPU;
        or any torch device string.
    warm_start : bool, default=False
        Continue training from the network, optimizer state and history of
        the previous :meth:`fit` instead of starting anew (the labels must
        be the same). A saved model keeps its optimizer state only when
        this is True, so that it can continue training after loading.
    callbacks : list or None, default=None
        Extra skorch callbacks, as instances or ``(name, callback)`` pairs,
        run after the built-in ones (training accuracy, early stopping):
        e.g. :class:`skorch.callbacks.LRScheduler` or
        :class:`skorch.callbacks.Checkpoint`. ``clone`` copies them.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split; the
        same seed gives the same predictions on CPU, and torch's global random
        state is left as it was. None draws from torch's global generator.
    verbose : int, default=0
        Print skorch's per-epoch table when positive.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in :meth:`fit`, sorted.
    n_features_in_ : int
        Features per frame.
    feature_names_in_ : ndarray of str objects
        Names of those features, when the input carried them.
    net_ : skorch.NeuralNetClassifier
        The trained skorch net (module, optimizer, history).
    history_ : skorch.callbacks.History
        Per-epoch ``train_loss`` and ``train_acc``, and with early stopping
        ``valid_loss`` and ``valid_acc``.
    n_epochs_ : int
        Epochs trained.

    Notes
    -----
    The augmentation parameters (``time_masks``, ``freq_masks``,
    ``mixup_alpha`` and their widths) act on training batches only, on the
    training device, with random draws seeded by ``random_state``;
    validation batches and prediction never see them. Masks fall within
    each utterance's frames, never on its padding. A mixed utterance keeps
    its own length; beyond its partner's length (batches hold utterances of
    similar length) it keeps its own frames. With mixup, ``train_acc``
    compares the outputs on the mixed batch with each utterance's own
    label, the dominant one of its mixture.

    Training data live on the training device when they take at most half
    of its free memory; otherwise they stay in pinned host memory and each
    batch is copied with a non-blocking transfer. Batches group utterances of similar length
    (lengths jittered by up to 10% and batches shuffled every epoch, so
    epochs differ); the training accuracy of an epoch is that of its
    training batches' own outputs.

    Ctrl-C stops :meth:`fit` with ``KeyboardInterrupt`` and leaves the
    classifier unfitted.

    A pickled model holds contiguous CPU copies of the weights, the history
    and, with ``warm_start=True`` only, the optimizer state. A model fitted
    on a GPU loads on a CPU-only machine (with a warning when ``device``
    names CUDA).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.models import LSTMClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(loc=label, size=(int(rng.integers(5, 15)), 3)).astype("float32")
    ...      for label in [0, 1] * 20]
    >>> y = ["calm", "angry"] * 20
    >>> clf = LSTMClassifier(hidden_size=16, max_epochs=20, random_state=0).fit(X, y)
    >>> clf.classes_
    array(['angry', 'calm'], dtype='<U5')
    >>> clf.predict(X[:4])
    array(['calm', 'angry', 'calm', 'angry'], dtype='<U5')
    >>> clf.predict_proba(X[:1]).shape
    (1, 2)
    """

    _parameter_constraints = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "pooling": [StrOptions(set(POOLINGS))],
        "head": [tuple, list],
        "recurrent_bias": ["boolean"],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "time_masks": [Interval(Integral, 0, None, closed="left")],
        "time_mask_width": [Interval(Real, 0, 1, closed="right")],
        "freq_masks": [Interval(Integral, 0, None, closed="left")],
        "freq_mask_width": [Interval(Integral, 1, None, closed="left")],
        "freq_mask_blocks": [Interval(Integral, 1, None, closed="left")],
        "mixup_alpha": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "warm_start": ["boolean"],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
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
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pooling = pooling
        self.head = head
        self.recurrent_bias = recurrent_bias
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.time_masks = time_masks
        self.time_mask_width = time_mask_width
        self.freq_masks = freq_masks
        self.freq_mask_width = freq_mask_width
        self.freq_mask_blocks = freq_mask_blocks
        self.mixup_alpha = mixup_alpha
        self.device = device
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, groups=None, validation_data=None):
        """Train the network.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), or 3-D array
            Feature sequences, one per utterance.
        y : array-like of shape (n_samples,)
            Labels, any hashable values.
        groups : array-like of shape (n_samples,), optional
            Group of each utterance (e.g. its speaker); with
            ``early_stopping=True`` the validation split holds out whole
            groups. In a Pipeline or cross-validation, request it with
            ``set_fit_request(groups=True)`` (metadata routing).
        validation_data : tuple (X_val, y_val), optional
            Held-out sequences and labels scored after every epoch
            (``valid_loss`` and ``valid_acc`` in ``history_``), e.g. to
            report accuracy per epoch on a test set. They replace the
            internal validation split; with ``early_stopping=True`` they also
            decide when to stop.

        Returns
        -------
        self : object

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C. Training stops and the classifier is left unfitted, so
            that a half-trained model is never taken for a finished one.
            (Callbacks that stop training by raising ``KeyboardInterrupt``,
            as skorch's do, end it normally.)
        """
        try:
            self.start_training(X, y, groups=groups, validation_data=validation_data)
            self.train_epochs(self.max_epochs)
            self.end_training()
        except BaseException:
            self._forget_fit()
            raise
        return self

    def start_training(self, X, y, groups=None, validation_data=None):
        """Check the data and build the initialized network, without training it.

        With :meth:`train_epochs` and :meth:`end_training`, this trains the
        model a few epochs at a time, with the same result as :meth:`fit`
        (which is these three calls): the epoch-wise training protocol of
        :class:`~sklearn_ser.models.EpochwiseClassifier`, which
        :class:`~sklearn_ser.model_selection.OptunaSearch` uses to prune
        trials on their learning curves. Between the calls the classifier
        predicts with the weights trained so far.

        Parameters
        ----------
        X, y, groups, validation_data
            As in :meth:`fit`.

        Returns
        -------
        self : object
        """
        self._validate_params()
        self._check_params()
        device = resolve_device(self.device)
        previous = self._previous_training()
        sequences, y_encoded = self._check_training_data(X, y)
        self._check_feature_blocks()
        if previous is not None:
            previous = self._check_continuation(previous)
        record_feature_names(self, X)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        if validation_data is None:
            train, valid = self._validation_split(y_encoded, groups, seed)
            valid_data = (
                None if valid is None else SequenceData([sequences[i] for i in valid], y_encoded[valid], device)
            )
        else:
            train, valid_data = np.arange(len(sequences)), self._validation_data(validation_data, device)
        train_data = SequenceData([sequences[i] for i in train], y_encoded[train], device)
        generator = _Generator(seed if self.random_state is not None else None, device)
        with generator.active():
            net = self._build_net(valid_data is not None, self._class_weight_tensor(y_encoded[train]), device)
            net.initialize()
            if previous is not None:
                _continue_from(net, previous)
            net.check_training_readiness()
            net.notify("on_train_begin", X=train_data, y=None)
        self.net_ = net
        self._training = _TrainingRun(net, train_data, valid_data, generator)
        self.n_epochs_ = len(net.history)
        return self

    def train_epochs(self, n_epochs=1):
        """Train ``n_epochs`` more epochs (fewer when a callback stops training).

        Parameters
        ----------
        n_epochs : int, default=1
            Epochs to train.

        Returns
        -------
        self : object

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C, after the interrupted batch.
        """
        run = self._training_run()
        run.train(n_epochs)
        self.n_epochs_ = len(self.net_.history)
        return self

    def end_training(self):
        """Finish training (callbacks' ``on_train_end``) and drop the training data.

        Returns
        -------
        self : object
        """
        run = self._training_run()
        with run.generator.active():
            self.net_.notify("on_train_end", X=run.train_data, y=None)
        del self._training
        return self

    def get_network_state(self):
        """The trained network as plain values and contiguous CPU tensors.

        Returns
        -------
        state : dict
            ``classes`` (list of labels), ``n_features_in`` (int) and
            ``module``, the network's ``state_dict`` with every tensor copied
            to its own contiguous CPU storage (not a view of the flat weight
            buffer cuDNN keeps on a GPU).
        """
        check_is_fitted(self)
        return {
            "classes": self.classes_.tolist(),
            "n_features_in": int(self.n_features_in_),
            "module": _contiguous_cpu(self.net_.module_.state_dict()),
        }

    def set_network_state(self, state):
        """Make this classifier the trained network of :meth:`get_network_state`.

        The network is built from this classifier's parameters, so these must
        describe the same architecture as the one saved. All or nothing: on
        any mismatch the classifier is left as it was.

        Parameters
        ----------
        state : dict
            As returned by :meth:`get_network_state`.

        Returns
        -------
        self : object

        Raises
        ------
        ValueError
            If a tensor of ``state`` is missing, unexpected or of another
            shape than this architecture's (e.g. another number of input
            features or classes); the message names the tensors.
        """
        self._validate_params()
        self._check_params()
        before = {key: vars(self)[key] for key in ("classes_", "n_features_in_") if key in vars(self)}
        try:
            self.classes_ = np.asarray(state["classes"])
            self.n_features_in_ = int(state["n_features_in"])
            net = self._build_net(False, None, resolve_device(self.device, fallback=True))
            with torch.random.fork_rng(devices=[]):
                net.initialize()
            net.module_.load_state_dict(state["module"])
        except BaseException as exc:
            for key in ("classes_", "n_features_in_"):
                vars(self).pop(key, None)
            vars(self).update(before)
            if isinstance(exc, RuntimeError):
                raise ValueError(f"The network state does not fit this classifier's architecture: {exc}") from exc
            raise
        self.net_ = net
        self.n_epochs_ = len(net.history)
        return self

    @property
    def history_(self):
        check_is_fitted(self)
        return self.net_.history

    def predict_proba(self, X):
        """Class probabilities, one column per entry of ``classes_``.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), or 3-D array
            Feature sequences.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        sequences = check_sequences(X, n_features=self.n_features_in_)
        data = SequenceData(sequences, None, self.net_.device)
        proba = np.empty((len(sequences), len(self.classes_)))
        proba[data.length_order()] = self.net_.predict_proba(data)
        return proba

    def predict(self, X):
        """Most probable label of each utterance.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, n_features), or 3-D array
            Feature sequences.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)  # first: unfitted, it raises NotFittedError, not classes_'s AttributeError
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_training", None)
        net = state.pop("net_", None)
        if net is not None:
            state["_saved_net"] = {
                "network": self.get_network_state(),
                "criterion": _contiguous_cpu(net.criterion_.state_dict()),
                "history": net.history,
                "optimizer": _contiguous_cpu(net.optimizer_.state_dict()) if self.warm_start else None,
            }
        return state

    def __setstate__(self, state):
        saved = state.pop("_saved_net", None)
        super().__setstate__(state)
        if saved is not None:
            self.set_network_state({**saved["network"], "classes": self.classes_})  # keeps the labels' dtype
            self.net_.criterion_.load_state_dict(saved["criterion"])
            self.net_.history = saved["history"]
            if saved["optimizer"] is not None:
                self.net_.optimizer_.load_state_dict(saved["optimizer"])
            self.n_epochs_ = len(self.net_.history)

    def _training_run(self):
        run = getattr(self, "_training", None)
        if run is None:
            raise RuntimeError("Call start_training before train_epochs or end_training.")
        return run

    def _previous_training(self):
        """The fitted net, labels and feature count that ``warm_start`` continues from, or None."""
        if not self.warm_start or "net_" not in self.__dict__:
            return None
        return self.net_, self.classes_, self.n_features_in_

    def _check_continuation(self, previous):
        """The net to continue from, after checking that the new data has its labels and features."""
        net, classes, n_features = previous
        if not np.array_equal(classes, self.classes_) or n_features != self.n_features_in_:
            raise ValueError(
                f"warm_start continues a network trained on the labels {classes.tolist()} with {n_features} "
                f"features per frame; the data has the labels {self.classes_.tolist()} and "
                f"{self.n_features_in_} features. Fit a new classifier (warm_start=False) instead."
            )
        return net

    def _forget_fit(self):
        for attribute in ("net_", "classes_", "n_features_in_", "feature_names_in_", "n_epochs_", "_training"):
            self.__dict__.pop(attribute, None)

    def _check_params(self):
        """Checks of the parameters beyond ``_parameter_constraints``, before any data is read."""
        if not all(isinstance(units, Integral) and not isinstance(units, bool) and units >= 1 for units in self.head):
            raise ValueError(
                f"head must be a tuple of positive ints (the sizes of the dense layers); got {self.head!r}."
            )
        if isinstance(self.optimizer, type) and not issubclass(self.optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)} or a torch.optim.Optimizer subclass; "
                f"got {self.optimizer!r}."
            )

    def _check_training_data(self, X, y):
        sequences = check_sequences(X)
        y = column_or_1d(y, warn=True)
        if len(y) != len(sequences):
            raise ValueError(f"X has {len(sequences)} sequences but y has {len(y)} labels.")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"LSTMClassifier needs at least two classes; y holds only one class, {encoder.classes_.tolist()[0]!r}."
            )
        self.classes_ = encoder.classes_
        self.n_features_in_ = sequences[0].shape[1]
        return sequences, encoder.transform(y)

    def _check_feature_blocks(self):
        if self.freq_masks > 0 and self.n_features_in_ % self.freq_mask_blocks:
            raise ValueError(
                f"freq_mask_blocks={self.freq_mask_blocks} must divide the {self.n_features_in_} features per "
                "frame into equal blocks (e.g. 3 for DeltaStack(order=2)); use 1 to mask consecutive features."
            )

    def _augmentation(self):
        """What training does to every batch (see the augmentation parameters)."""
        from ._augment import SequenceAugmentation

        return SequenceAugmentation(
            time_masks=self.time_masks,
            time_mask_width=self.time_mask_width,
            freq_masks=self.freq_masks,
            freq_mask_width=self.freq_mask_width,
            freq_mask_blocks=self.freq_mask_blocks,
            mixup_alpha=self.mixup_alpha,
        )

    def _validation_split(self, y, groups, seed):
        indices = np.arange(len(y))
        if not self.early_stopping:
            return indices, None
        if groups is not None:
            groups = column_or_1d(np.asarray(groups, dtype=object))
            if len(groups) != len(y):
                raise ValueError(f"groups has {len(groups)} values but X has {len(y)} sequences.")
            self._check_validation_size(len(np.unique(groups)), "groups", minimum=1)
            splitter = GroupShuffleSplit(1, test_size=self.validation_fraction, random_state=seed)
        elif np.bincount(y).min() >= 2:
            self._check_validation_size(len(y), "samples", minimum=len(self.classes_))
            splitter = StratifiedShuffleSplit(1, test_size=self.validation_fraction, random_state=seed)
        else:
            self._check_validation_size(len(y), "samples", minimum=1)
            splitter = ShuffleSplit(1, test_size=self.validation_fraction, random_state=seed)
        return next(splitter.split(indices, y, groups))

    def _check_validation_size(self, n_units, units, *, minimum):
        """Check that early stopping's split leaves ``minimum`` units (samples or groups) on each side.

        The split holds out ``ceil(validation_fraction * n_units)`` units, as
        scikit-learn's shuffle splitters do; a split stratified by label
        (``minimum`` the number of classes) needs every class on both sides.
        """
        n_valid = math.ceil(self.validation_fraction * n_units)
        n_train = n_units - n_valid
        if n_valid >= minimum and n_train >= minimum:
            return
        needed = "one on each side" if minimum == 1 else f"{minimum} on each side, one of each class"
        if n_units < 2 * minimum:
            remedy = f"at least {2 * minimum} training {units}"
        else:
            low = math.ceil(1000 * minimum / n_units) / 1000
            high = math.floor(1000 * (n_units - minimum) / n_units) / 1000
            remedy = f"validation_fraction between {low} and {high}"
        raise ValueError(
            f"early_stopping=True holds out validation_fraction={self.validation_fraction} of the {n_units} "
            f"training {units}: {n_valid} for validation and {n_train} for training, but the split needs at "
            f"least {needed}. Use {remedy}, or pass validation_data=, or set early_stopping=False."
        )

    def _validation_data(self, validation_data, device):
        X_val, y_val = validation_data
        sequences = check_sequences(X_val, n_features=self.n_features_in_)
        y_val = column_or_1d(y_val)
        unknown = set(np.unique(y_val)) - set(self.classes_)
        if len(y_val) != len(sequences) or unknown:
            raise ValueError(
                "validation_data must hold one label per sequence, from the labels of y"
                + (f"; unknown labels {sorted(map(repr, unknown))}" if unknown else "")
                + "."
            )
        return SequenceData(sequences, np.searchsorted(self.classes_, y_val), device)

    def _module_class(self):
        """The torch module the net trains; it takes ``(x, lengths)`` and returns class scores."""
        return LSTMNetwork

    def _module_params(self):
        """The keyword arguments of :meth:`_module_class` (set once ``n_features_in_`` and ``classes_`` are)."""
        return {
            "n_features": self.n_features_in_,
            "n_classes": len(self.classes_),
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "pooling": self.pooling,
            "head": tuple(self.head),
            "recurrent_bias": self.recurrent_bias,
        }

    def _build_net(self, validated, class_weight, device):
        """The skorch net; ``validated`` says whether a validation set is scored every epoch."""
        from skorch.callbacks import EarlyStopping, EpochScoring

        from ._augment import AugmentingNetClassifier

        callbacks = [("train_acc", EpochScoring("accuracy", on_train=True, name="train_acc", lower_is_better=False))]
        if validated and self.early_stopping:
            callbacks.append(
                ("early_stopping", EarlyStopping(monitor="valid_loss", patience=self.n_iter_no_change, load_best=True))
            )
        callbacks.extend(copy.deepcopy(self.callbacks or []))  # skorch initializes them in place
        optimizer = OPTIMIZERS.get(self.optimizer, self.optimizer)
        return AugmentingNetClassifier(
            self._module_class(),
            augmentation=self._augmentation(),
            **{f"module__{name}": value for name, value in self._module_params().items()},
            criterion=torch.nn.CrossEntropyLoss,
            criterion__weight=None if class_weight is None else class_weight.to(device),
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=LengthBucketedBatches,
            iterator_train__shuffle=True,
            iterator_valid=LengthBucketedBatches,
            train_split=None,
            callbacks=callbacks,
            classes=np.arange(len(self.classes_)),
            device=str(device),
            verbose=self.verbose,
        )

    def _class_weight_tensor(self, y):
        if self.class_weight is None:
            return None
        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            unknown = set(class_weight) - set(self.classes_)
            if unknown:
                raise ValueError(f"class_weight names labels not in y: {sorted(map(repr, unknown))}.")
        weights = compute_class_weight(class_weight, classes=self.classes_, y=self.classes_[y])
        return torch.as_tensor(weights, dtype=torch.float32)


class _Generator:
    """Torch's random state for one training run, kept between its epochs.

    Seeded, the run draws from its own state (on the CPU and, when training
    there, the CUDA device), and torch's global state is left as it was;
    unseeded, the run draws from the global state.
    """

    def __init__(self, seed, device):
        self.devices = []
        if device.type == "cuda":
            self.devices = [device.index if device.index is not None else torch.cuda.current_device()]
        self.states = None
        if seed is not None:
            with torch.random.fork_rng(devices=self.devices):
                torch.random.default_generator.manual_seed(seed)
                for index in self.devices:
                    torch.cuda.default_generators[index].manual_seed(seed)
                self.states = self._capture()

    @contextmanager
    def active(self):
        if self.states is None:
            yield
            return
        with torch.random.fork_rng(devices=self.devices):
            torch.set_rng_state(self.states[0])
            for index, state in zip(self.devices, self.states[1:]):
                torch.cuda.set_rng_state(state, index)
            try:
                yield
            finally:
                self.states = self._capture()

    def _capture(self):
        return [torch.get_rng_state(), *(torch.cuda.get_rng_state(index) for index in self.devices)]


class _TrainingRun:
    """What training keeps between epochs: the data, their iterators and the random state."""

    def __init__(self, net, train_data, valid_data, generator):
        self.net = net
        self.train_data = train_data
        self.generator = generator
        self.epoch_data = {"dataset_train": train_data, "dataset_valid": valid_data}
        self.iterator_train = net.get_iterator(train_data, training=True)
        self.iterator_valid = None if valid_data is None else net.get_iterator(valid_data, training=False)
        self.stopped = False

    def train(self, n_epochs):
        """skorch's epoch loop; a ``KeyboardInterrupt`` from a callback ends training, one from Ctrl-C propagates."""
        net = self.net
        with self.generator.active(), recording_interrupts() as interrupts:
            for _ in range(n_epochs):
                if self.stopped:
                    return
                try:
                    net.notify("on_epoch_begin", **self.epoch_data)
                    net.run_single_epoch(self.iterator_train, training=True, prefix="train", step_fn=net.train_step)
                    net.run_single_epoch(
                        self.iterator_valid, training=False, prefix="valid", step_fn=net.validation_step
                    )
                    net.notify("on_epoch_end", **self.epoch_data)
                except KeyboardInterrupt:
                    if interrupts.received:
                        raise
                    self.stopped = True


def _continue_from(net, previous):
    """Load the weights, optimizer state and history of the fitted net ``previous`` into ``net``."""
    net.module_.load_state_dict(previous.module_.state_dict())
    net.optimizer_.load_state_dict(previous.optimizer_.state_dict())
    net.history = previous.history


def _contiguous_cpu(state):
    """A state dict whose tensors are CPU copies with storages of their own size."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True).contiguous()
    if isinstance(state, dict):
        return {key: _contiguous_cpu(value) for key, value in state.items()}
    if isinstance(state, list):
        return [_contiguous_cpu(value) for value in state]
    return state
