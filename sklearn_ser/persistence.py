"""Saving fitted LSTM pipelines without pickle.

A joblib (pickle) model file runs code when it is loaded: only load those from
sources you trust. For the pipelines of the toolkit's LSTM recipes a safer
format exists: :func:`save_weights` writes the fitted state (network weights,
scaler statistics, labels) as tensors and plain values, which
:func:`load_weights` reads with ``torch.load(..., weights_only=True)`` into a
pipeline built from code, e.g. ``get_recipe("lstm-logmel")`` with the same
parameters. Reading such a file never runs code from it.

Supported steps: :class:`~sklearn_ser.models.LSTMClassifier` (last), and
before it :class:`~sklearn_ser.features.MelSpectrogram`,
:class:`~sklearn_ser.features.MFCC`, :class:`~sklearn_ser.features.DeltaStack`,
:class:`~sklearn_ser.features.SequencePooling`,
:class:`~sklearn_ser.features.SequenceScaler`,
:class:`~sklearn_ser.features.VectorAsSequence` and
:class:`~sklearn.preprocessing.StandardScaler`: the recipes
``"paper-proposed"``, ``"paper-traditional"`` and ``"lstm-logmel"``.
"""

from __future__ import annotations

import re

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from .features import MFCC, DeltaStack, MelSpectrogram, SequencePooling, SequenceScaler, VectorAsSequence
from .models import LSTMClassifier

__all__ = ["load_weights", "save_weights"]

FORMAT = "sklearn-ser-weights"
VERSION = 2
STEPS_WITH_ARRAY_STATE = (
    MelSpectrogram,
    MFCC,
    DeltaStack,
    SequencePooling,
    SequenceScaler,
    VectorAsSequence,
    StandardScaler,
)
_PLAIN = (bool, int, float, str, type(None))
LSTM_ARCHITECTURE = {"hidden_size", "num_layers", "bidirectional", "pooling", "head", "recurrent_bias"}
HOW_AND_WHERE = {"n_jobs", "backend", "memory", "verbose", "device", "engine"}


def save_weights(pipeline, path):
    """Write a fitted LSTM pipeline's state to a file that loads without pickle.

    Parameters
    ----------
    pipeline : Pipeline or LSTMClassifier
        Fitted; its steps must be among those listed in the module docstring.
    path : str or path-like
        The file to write (``torch.save`` of tensors, lists and numbers).

    Raises
    ------
    TypeError
        If a step is of a type the format does not store, or a label of
        ``classes_`` is not a string, number or bool.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from sklearn_ser.models import LSTMClassifier
    >>> from sklearn_ser.persistence import load_weights, save_weights
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(loc=label, size=(8, 3)).astype("float32") for label in [0, 1] * 10]
    >>> y = ["calm", "angry"] * 10
    >>> clf = LSTMClassifier(hidden_size=8, max_epochs=3, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_weights(clf, Path(folder) / "lstm.pt")
    ...     loaded = load_weights(LSTMClassifier(hidden_size=8, max_epochs=3), Path(folder) / "lstm.pt")
    >>> bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    import torch

    steps = {}
    for name, step in _named_steps(pipeline):
        check_is_fitted(step)
        steps[name] = {"type": type(step).__name__, "params": _plain_params(step), "state": _state_of(name, step)}
    torch.save({"format": FORMAT, "version": VERSION, "steps": steps}, path)


def load_weights(pipeline, path):
    """Load a state written by :func:`save_weights` into an unfitted pipeline.

    Parameters
    ----------
    pipeline : Pipeline or LSTMClassifier
        Built from code with the same steps and parameters as the saved one,
        e.g. ``get_recipe("lstm-logmel")``; it is fitted in place.
    path : str or path-like
        A file written by :func:`save_weights`. It is read with
        ``torch.load(weights_only=True)``, which refuses anything but
        tensors and plain values.

    Returns
    -------
    pipeline : Pipeline or LSTMClassifier
        The same object, fitted.

    Raises
    ------
    ValueError
        If the file is not such a file, or its steps, their types or their
        parameters differ from ``pipeline``'s (the message names them).
    """
    import pickle

    import torch

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ValueError(f"Cannot read '{path}' as a weights file (only tensors and plain values load): {exc}") from exc
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"'{path}' is not a file written by sklearn_ser.persistence.save_weights.")
    if saved.get("version") == 1:
        _upgrade_from_version_1(saved)
    steps = dict(_named_steps(pipeline))
    if list(steps) != list(saved["steps"]):
        raise ValueError(f"'{path}' holds the steps {list(saved['steps'])}, the pipeline has {list(steps)}.")
    for name, entry in saved["steps"].items():
        step = steps[name]
        if type(step).__name__ != entry["type"]:
            raise ValueError(f"Step {name!r} is a {type(step).__name__} but '{path}' holds a {entry['type']}.")
        params = _plain_params(step)
        for key, value in entry["params"].items():
            if params.get(key) != value:
                raise ValueError(f"Step {name!r} has {key}={params.get(key)!r} but was saved with {key}={value!r}.")
        _restore(step, entry["state"])
    return pipeline


def _named_steps(pipeline):
    steps = list(pipeline.named_steps.items()) if isinstance(pipeline, Pipeline) else [("model", pipeline)]
    for position, (name, step) in enumerate(steps):
        is_last = position == len(steps) - 1
        supported = isinstance(step, LSTMClassifier) if is_last else type(step) in STEPS_WITH_ARRAY_STATE
        if not supported:
            raise TypeError(
                f"Step {name!r} ({type(step).__name__}) cannot be saved in the weights format, which stores "
                "LSTM pipelines (see sklearn_ser.persistence); save it with joblib instead."
            )
    return steps


def _plain_params(step):
    """The parameters that decide what the saved state means (tuples as lists).

    An LSTM's architecture; every other step's parameters but those that only
    say how or where it computes.
    """
    params = step.get_params(deep=False)
    keys = LSTM_ARCHITECTURE if isinstance(step, LSTMClassifier) else set(params) - HOW_AND_WHERE
    checked = {}
    for key in sorted(keys):
        value = list(params[key]) if isinstance(params[key], tuple) else params[key]
        if isinstance(value, _PLAIN) or (isinstance(value, list) and all(isinstance(v, _PLAIN) for v in value)):
            checked[key] = value
    return checked


def _state_of(name, step):
    import torch

    if isinstance(step, LSTMClassifier):
        labels = step.classes_.tolist()
        if not all(isinstance(label, _PLAIN) for label in labels):
            raise TypeError(f"Step {name!r}: labels must be strings, numbers or bools to be saved as weights.")
        return step.get_network_state()
    state = {}
    for key, value in vars(step).items():
        if not key.endswith("_") or key.startswith("_"):
            continue
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            state[key] = torch.from_numpy(np.ascontiguousarray(value))
        elif isinstance(value, np.ndarray):
            state[key] = {"strings": [str(item) for item in value]}
        else:
            state[key] = value.item() if isinstance(value, np.generic) else value
    return state


def _upgrade_from_version_1(saved):
    """Version 1 held the LSTM as one ``nn.LSTM``; version 2 has one per layer and direction."""
    pattern = re.compile(r"^lstm\.(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")
    for entry in saved["steps"].values():
        if entry["type"] != LSTMClassifier.__name__:
            continue
        module = {}
        for key, value in entry["state"]["module"].items():
            match = pattern.match(key)
            if match:
                kind, gate, layer, reverse = match.groups()
                key = f"lstm.{'backward' if reverse else 'forward'}_layers.{layer}.{kind}_{gate}_l0"
            module[key] = value
        entry["state"]["module"] = module


def _restore(step, state):
    import torch

    if isinstance(step, LSTMClassifier):
        step.set_network_state(state)
        return
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            value = value.numpy()
        elif isinstance(value, dict) and "strings" in value:
            value = np.asarray(value["strings"], dtype=object)
        setattr(step, key, value)
