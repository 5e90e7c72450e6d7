"""Saving fitted models without pickle: the safe format, and the LSTM weights format.

A joblib (pickle) model file runs code when it is loaded: only load those from
sources you trust. The safe format holds no code: :func:`save_safe` writes any
recipe's fitted pipeline (or any of the toolkit's estimators) as a description
of its steps and their state, tensors and plain values in a versioned
``torch.save`` file, and :func:`load_safe` rebuilds the whole model from it,
with nothing to fill in. Reading it runs no code from the file:

- the file is read with ``torch.load(..., weights_only=True)``, which refuses
  any object but tensors and plain containers (a pickled object is refused
  before it is built);
- the model is rebuilt from its description, and every class it names must be
  in an explicit list of trusted classes (the toolkit's public estimators, the
  scikit-learn steps the recipes use and what they hold, skorch's training
  history, the speech encoders of ``transformers``): no other module is
  imported and nothing else is called;
- an estimator is built from its constructor parameters (plain values,
  tuples, lists, nested estimators) and given its fitted attributes (NumPy
  arrays as tensors, or lists, with their dtype; strings; nested estimators),
  through its own ``__setstate__``: a torch network is stored as its
  ``state_dict`` and rebuilt by its estimator, then loaded.

What is covered follows from what a model's state is made of, not from a list
of models: an estimator whose state (``get_params`` and ``__getstate__``) holds
something else (a function, a torch module, an object of an untrusted class) is
refused by :func:`save_safe`, which names where it is and why. Loading needs
the toolkit and the packages of the model's steps (``transformers`` for a
speech encoder, ``opensmile`` for eGeMAPS; a speech encoder saved with
``pickle_weights=False`` also needs its ``model`` folder), not the training
data. ``sklearn-ser fit --format safe`` writes the format; ``sklearn-ser
predict``, ``timeline`` and ``serve`` read it, recognised by its content.

The older weights format: :func:`save_weights` writes an LSTM pipeline's
fitted state (network weights, scaler statistics, labels), which
:func:`load_weights` reads into a pipeline built from code with the same
parameters, e.g. ``get_recipe("lstm-logmel")``. Supported steps:
:class:`~sklearn_ser.models.LSTMClassifier` or its subclass
:class:`~sklearn_ser.models.CRNNClassifier` (last), and before it
:class:`~sklearn_ser.features.MelSpectrogram`,
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
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from ._files import atomic_write
from ._safe_format import UnsafeFileError, load_safe, save_safe
from .features import MFCC, DeltaStack, MelSpectrogram, SequencePooling, SequenceScaler, VectorAsSequence
from .models import CRNNClassifier, LSTMClassifier

__all__ = ["UnsafeFileError", "load_safe", "load_weights", "save_safe", "save_weights"]

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
CRNN_ARCHITECTURE = LSTM_ARCHITECTURE | {"conv_channels", "pool_time", "pool_freq", "feature_blocks"}
HOW_AND_WHERE = {"n_jobs", "backend", "memory", "verbose", "device", "engine"}
NETWORK_STATE = {"classes", "n_features_in", "module"}
FITTED_NAME = re.compile(r"^[a-z][a-z0-9_]*_$")
PER_FEATURE = {"mean_", "scale_", "var_", "std_", "feature_names_in_"}


def save_weights(pipeline, path):
    """Write a fitted LSTM pipeline's state to a file that loads without pickle.

    Parameters
    ----------
    pipeline : Pipeline or LSTMClassifier
        Fitted; its steps must be among those listed in the module docstring.
    path : str or path-like
        The file to write (``torch.save`` of tensors, lists and numbers),
        atomically: a failed or interrupted save leaves an existing file
        as it was.

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
    atomic_write(
        path, lambda fh: torch.save({"format": FORMAT, "version": VERSION, "steps": steps}, fh), replaces="weights"
    )


def load_weights(pipeline, path):
    """Load a state written by :func:`save_weights` into an unfitted pipeline.

    The load is all or nothing: every step's state is checked and restored
    on a copy first, and ``pipeline`` is fitted only once all of them are
    consistent. On any mismatch ``pipeline`` is left as it was.

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
        If the file is not such a file; if its steps, their types or their
        parameters differ from ``pipeline``'s; if a step's state holds an
        unexpected, missing or misshapen entry (a network tensor of another
        shape, another number of input features or classes than the
        network's); or if one step's output does not fit the next step's
        input. The message names the step and the key.
    """
    saved = _read(path)
    steps = dict(_named_steps(pipeline))
    if list(steps) != list(saved["steps"]):
        raise ValueError(f"'{path}' holds the steps {list(saved['steps'])}, the pipeline has {list(steps)}.")
    loaded = {name: _loaded_copy(name, step, saved["steps"][name], path) for name, step in steps.items()}
    _check_widths_chain(loaded, path)
    for name, step in steps.items():
        parameters = step.get_params(deep=False)
        vars(step).update((key, value) for key, value in vars(loaded[name]).items() if key not in parameters)
    return pipeline


def _read(path):
    import pickle

    import torch

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ValueError(f"Cannot read '{path}' as a weights file (only tensors and plain values load): {exc}") from exc
    if not isinstance(saved, dict) or saved.get("format") != FORMAT or not isinstance(saved.get("steps"), dict):
        raise ValueError(f"'{path}' is not a file written by sklearn_ser.persistence.save_weights.")
    if saved.get("version") == 1:
        _upgrade_from_version_1(saved)
    elif saved.get("version") != VERSION:
        raise ValueError(f"'{path}' has format version {saved.get('version')!r}; this version reads 1 and {VERSION}.")
    return saved


def _loaded_copy(name, step, entry, path):
    """A clone of ``step`` holding the saved state, after checking every entry of it."""
    if not isinstance(entry, dict) or set(entry) != {"type", "params", "state"}:
        raise ValueError(f"Step {name!r} of '{path}' is damaged: expected the keys type, params and state.")
    if type(step).__name__ != entry["type"]:
        raise ValueError(f"Step {name!r} is a {type(step).__name__} but '{path}' holds a {entry['type']}.")
    params = _plain_params(step)
    for key in sorted(set(params) | set(entry["params"])):
        if key not in entry["params"] or key not in params:
            where = "is missing from" if key not in entry["params"] else "is not a parameter of the step but is in"
            raise ValueError(f"Step {name!r}: parameter {key!r} {where} '{path}'.")
        if params[key] != entry["params"][key]:
            raise ValueError(
                f"Step {name!r} has {key}={params[key]!r} but was saved with {key}={entry['params'][key]!r}."
            )
    copy = clone(step)
    try:
        _restore(copy, entry["state"])
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise ValueError(f"Step {name!r}: the state in '{path}' does not fit the step: {exc}") from exc
    return copy


def _check_widths_chain(loaded, path):
    """Each step's output width is the next step's ``n_features_in_``."""
    steps = list(loaded.items())
    for (name, step), (next_name, next_step) in zip(steps, steps[1:]):
        expected = getattr(next_step, "n_features_in_", None)
        try:
            width = len(step.get_feature_names_out())
        except (AttributeError, ValueError, TypeError):
            continue
        if expected is not None and width != expected:
            raise ValueError(
                f"In '{path}', step {name!r} gives {width} features but step {next_name!r} was fitted on "
                f"n_features_in_={expected}."
            )


def _named_steps(pipeline):
    steps = list(pipeline.named_steps.items()) if isinstance(pipeline, Pipeline) else [("model", pipeline)]
    for position, (name, step) in enumerate(steps):
        is_last = position == len(steps) - 1
        supported = isinstance(step, LSTMClassifier) if is_last else type(step) in STEPS_WITH_ARRAY_STATE
        if not supported:
            raise TypeError(
                f"Step {name!r} ({type(step).__name__}) cannot be saved in the weights format, which stores "
                "LSTM pipelines (see sklearn_ser.persistence); save it with save_safe (the safe format, any recipe) "
                "or joblib instead."
            )
    return steps


def _plain_params(step):
    """The parameters that decide what the saved state means (tuples as lists).

    An LSTM's (or a CRNN's) architecture, which decides what its weights
    mean: a CRNN's time pooling changes no weight's shape; every other
    step's parameters but those that only say how or where it computes.
    """
    params = step.get_params(deep=False)
    if isinstance(step, CRNNClassifier):
        keys = CRNN_ARCHITECTURE
    elif isinstance(step, LSTMClassifier):
        keys = LSTM_ARCHITECTURE
    else:
        keys = set(params) - HOW_AND_WHERE
    checked = {}
    for key in sorted(keys):
        value = list(params[key]) if isinstance(params[key], tuple) else params[key]
        if isinstance(value, _PLAIN) or _is_plain_list(value):
            checked[key] = value
    return checked


def _is_plain_list(value):
    return isinstance(value, list) and all(isinstance(item, _PLAIN) for item in value)


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
        if not isinstance(state, dict) or set(state) != NETWORK_STATE:
            raise KeyError(f"the network state needs exactly the keys {sorted(NETWORK_STATE)}")
        step.set_network_state(state)
        return
    parameters = step.get_params(deep=False)
    for key, value in state.items():
        if not FITTED_NAME.match(key) or key in parameters:
            raise KeyError(f"{key!r} is not a fitted attribute (a name ending in '_')")
        if isinstance(value, torch.Tensor):
            value = value.numpy()
        elif isinstance(value, dict) and set(value) == {"strings"}:
            value = np.asarray(value["strings"], dtype=object)
        elif not (isinstance(value, _PLAIN) or _is_plain_list(value)):
            raise TypeError(f"{key!r} holds a {type(value).__name__}, not an array or a plain value")
        setattr(step, key, value)
    _check_array_widths(step)


def _check_array_widths(step):
    width = getattr(step, "n_features_in_", None)
    for key, value in vars(step).items():
        if width is not None and key in PER_FEATURE and isinstance(value, np.ndarray) and value.shape != (width,):
            raise ValueError(f"{key!r} has shape {np.shape(value)} but n_features_in_ is {width}")
