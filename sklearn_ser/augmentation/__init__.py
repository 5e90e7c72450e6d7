"""Training-only data augmentation of waveforms: speed perturbation, additive noise and gain.

:class:`WaveformAugmenter` is an imbalanced-learn sampler: first in an
:class:`imblearn.pipeline.Pipeline`, it adds augmented copies of the
training utterances while the pipeline is fitted, and nothing at prediction.
:class:`AugmentedClassifier` does the same around any classifier or
scikit-learn pipeline and gives each copy its source's metadata (speaker
ids), which an imbalanced-learn pipeline cannot.
"""

from ._classifier import AugmentedClassifier
from ._sampler import WaveformAugmenter

__all__ = ["WaveformAugmenter", "AugmentedClassifier"]
