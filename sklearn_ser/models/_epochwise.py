"""The protocol of classifiers that train a few epochs at a time."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class EpochwiseClassifier(Protocol):
    """A classifier whose training can be driven epoch by epoch.

    ``fit(X, y)`` is ``start_training(X, y)``, ``train_epochs(max_epochs)``
    and ``end_training()``; between the calls the classifier predicts with
    the weights trained so far, so that a caller can score every epoch on
    data of its own. :class:`~sklearn_ser.model_selection.OptunaSearch` uses
    this to prune trials on their learning curves, for any estimator that
    is, or is a pipeline ending in, such a classifier: the check is
    ``isinstance(estimator, EpochwiseClassifier)``, which asks only for the
    members below.

    Attributes
    ----------
    max_epochs : int
        Epochs that :meth:`fit` trains.

    Examples
    --------
    >>> from sklearn.svm import SVC
    >>> from sklearn_ser.models import EpochwiseClassifier, LSTMClassifier
    >>> isinstance(LSTMClassifier(), EpochwiseClassifier), isinstance(SVC(), EpochwiseClassifier)
    (True, False)
    """

    max_epochs: int

    def start_training(self, X, y, **fit_params):
        """Check the data and prepare an untrained model; returns self."""

    def train_epochs(self, n_epochs=1):
        """Train ``n_epochs`` more epochs (fewer if training stopped early); returns self."""

    def end_training(self):
        """Finish training and release what only training needs; returns self."""
