"""Figures of "Mel-Spectrograms Based LSTM Model for Speech Emotion Recognition".

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (except when drawing into axes you pass), so the figures work on
headless machines, are never registered with ``pyplot`` and leave its
backend alone. Return one from a notebook cell to show it, or write it to
disk with :func:`save_figure` (or ``fig.savefig``).

* :func:`plot_confusion_matrix`: counts, or recall per true label, of an
  evaluation's pooled predictions.
* :func:`plot_training_curves`: accuracy and loss per epoch of a fitted
  :class:`~sklearn_ser.models.LSTMClassifier` (train and, with early
  stopping, validation), or of each scale of a
  :class:`~sklearn_ser.models.MultiscaleLSTMClassifier`.
* :func:`plot_emotion_examples`: waveform and log-Mel spectrogram of one
  utterance per emotion.
* :func:`plot_mfcc_correlation`: correlation matrix of MFCC coefficients.
* :func:`plot_search`: Optuna's figures of a search (drawn by Optuna, through
  ``pyplot``: close them when saved).
* :func:`plot_timeline`: the emotion of a long recording over time (from
  :func:`sklearn_ser.timeline.predict_timeline`), under its waveform.
"""

from ._corpus import plot_emotion_examples, plot_mfcc_correlation
from ._evaluation import plot_confusion_matrix, plot_training_curves
from ._figure import save_figure
from ._search import plot_search
from ._timeline import plot_timeline

__all__ = [
    "plot_confusion_matrix",
    "plot_training_curves",
    "plot_emotion_examples",
    "plot_mfcc_correlation",
    "plot_search",
    "plot_timeline",
    "save_figure",
]
