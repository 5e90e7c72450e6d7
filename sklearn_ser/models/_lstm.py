"""LSTMClassifier: a skorch-trained PyTorch LSTM as a scikit-learn classifier."""

from __future__ import annotations

import copy
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
from ..features._base import check_sequences, record_feature_names
from ._data import RandomStateNeutralLoader, SequenceDataset, pad_batch
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
    ``Pipeline([MelSpectrogram(), DeltaStack(), LSTMClassifier()])``:
    utterances of any length are padded per batch and packed, so padding
    never reaches the LSTM or the pooling. Labels may be any hashable
    values; ``predict`` returns them and ``predict_proba`` has one column per
    entry of ``classes_``.

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
    device : str, default="auto"
        ``"auto"`` trains on CUDA when a GPU is available, else on the CPU;
        or any torch device string.
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
    A model fitted on a GPU loads on a CPU-only machine: skorch maps the
    tensors to the CPU when unpickling (with a ``DeviceWarning``).

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
        "device": [str],
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
        device="auto",
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
        self.device = device
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
        """
        self._start_training(X, y, groups=groups, validation_data=validation_data)
        self._train_epochs(self.max_epochs)
        self._end_training()
        return self

    def _start_training(self, X, y, groups=None, validation_data=None):
        """Check the data and build the initialized net, without training it.

        With :meth:`_train_epochs` and :meth:`_end_training`, this trains a
        model a few epochs at a time (several models in turn, as
        :class:`~sklearn_ser.model_selection.OptunaSearch` does with the
        folds of a trial), with the same result as :meth:`fit` when there
        are no callbacks but the built-in ones (skorch starts every call with
        ``on_train_begin``, which resets early stopping and schedulers).
        """
        self._validate_params()
        sequences, y_encoded = self._check_training_data(X, y)
        record_feature_names(self, X)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        if validation_data is None:
            train, valid = self._validation_split(y_encoded, groups, seed)
            valid_dataset = None if valid is None else SequenceDataset([sequences[i] for i in valid], y_encoded[valid])
        else:
            train, valid_dataset = np.arange(len(sequences)), self._validation_dataset(validation_data)
        self._training_data = (SequenceDataset([sequences[i] for i in train], y_encoded[train]), y_encoded[train])
        seeded = self.random_state is not None
        with torch.random.fork_rng(devices=[], enabled=seeded):
            if seeded:
                torch.manual_seed(seed)
            self.net_ = self._build_net(valid_dataset, y_encoded[train]).initialize()
            self._random_state_between_epochs = torch.get_rng_state() if seeded else None
        self.n_epochs_ = 0

    def _train_epochs(self, n_epochs):
        """Train ``n_epochs`` more epochs, drawing random numbers where the last call stopped."""
        state = self._random_state_between_epochs
        with torch.random.fork_rng(devices=[], enabled=state is not None):
            if state is not None:
                torch.set_rng_state(state)
            self.net_.partial_fit(*self._training_data, epochs=n_epochs)
            if state is not None:
                self._random_state_between_epochs = torch.get_rng_state()
        self.n_epochs_ = len(self.net_.history)

    def _restore_network(self, classes, n_features_in, module_state):
        """Rebuild the trained network from saved weights (see :mod:`sklearn_ser.persistence`)."""
        self._validate_params()
        self.classes_ = classes
        self.n_features_in_ = n_features_in
        with torch.random.fork_rng(devices=[]):
            self.net_ = self._build_net(None, np.arange(len(classes))).initialize()
        self.net_.module_.load_state_dict(module_state)
        self.n_epochs_ = 0

    def _end_training(self):
        """Drop the training data and random state kept between epochs."""
        del self._training_data, self._random_state_between_epochs

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
        return self.net_.predict_proba(SequenceDataset(sequences)).astype(np.float64)

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
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def _check_training_data(self, X, y):
        sequences = check_sequences(X)
        y = column_or_1d(y, warn=True)
        if len(y) != len(sequences):
            raise ValueError(f"X has {len(sequences)} sequences but y has {len(y)} labels.")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(f"LSTMClassifier needs at least two classes; y holds only {encoder.classes_[0]!r}.")
        self.classes_ = encoder.classes_
        self.n_features_in_ = sequences[0].shape[1]
        return sequences, encoder.transform(y)

    def _validation_split(self, y, groups, seed):
        indices = np.arange(len(y))
        if not self.early_stopping:
            return indices, None
        if groups is not None:
            groups = column_or_1d(np.asarray(groups, dtype=object))
            if len(np.unique(groups)) < 2:
                raise ValueError(
                    "early_stopping with groups needs at least two groups in the training data "
                    "to hold one out for validation."
                )
            splitter = GroupShuffleSplit(1, test_size=self.validation_fraction, random_state=seed)
        elif np.bincount(y).min() >= 2:
            splitter = StratifiedShuffleSplit(1, test_size=self.validation_fraction, random_state=seed)
        else:
            splitter = ShuffleSplit(1, test_size=self.validation_fraction, random_state=seed)
        return next(splitter.split(indices, y, groups))

    def _validation_dataset(self, validation_data):
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
        return SequenceDataset(sequences, np.searchsorted(self.classes_, y_val))

    def _build_net(self, valid_dataset, y_train):
        from skorch import NeuralNetClassifier
        from skorch.callbacks import EarlyStopping, EpochScoring
        from skorch.helper import predefined_split

        callbacks = [("train_acc", EpochScoring("accuracy", on_train=True, name="train_acc", lower_is_better=False))]
        train_split = None
        if valid_dataset is not None:
            train_split = predefined_split(valid_dataset)
        if valid_dataset is not None and self.early_stopping:
            callbacks.append(
                ("early_stopping", EarlyStopping(monitor="valid_loss", patience=self.n_iter_no_change, load_best=True))
            )
        callbacks.extend(copy.deepcopy(self.callbacks or []))  # skorch initializes them in place
        optimizer = OPTIMIZERS.get(self.optimizer, self.optimizer)
        return NeuralNetClassifier(
            LSTMNetwork,
            module__n_features=self.n_features_in_,
            module__n_classes=len(self.classes_),
            module__hidden_size=self.hidden_size,
            module__num_layers=self.num_layers,
            module__bidirectional=self.bidirectional,
            module__dropout=self.dropout,
            module__pooling=self.pooling,
            module__head=tuple(self.head),
            module__recurrent_bias=self.recurrent_bias,
            criterion=torch.nn.CrossEntropyLoss,
            criterion__weight=self._class_weight_tensor(y_train),
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            iterator_train__collate_fn=pad_batch,
            iterator_valid=RandomStateNeutralLoader,
            iterator_valid__collate_fn=pad_batch,
            train_split=train_split,
            callbacks=callbacks,
            classes=np.arange(len(self.classes_)),
            device=str(resolve_device(self.device)),
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
