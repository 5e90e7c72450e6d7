"""Nodes back into a model, building only trusted classes and checking every node's form on the way."""

from __future__ import annotations

import contextvars
import pathlib

import numpy as np

from ._encode import PLAIN, TENSOR_DTYPES
from ._trusted import UntrustedClassError, resolve

#: The keys of each kind of node, besides ``kind``.
NODE_KEYS = {
    "tuple": {"items"},
    "slice": {"items"},
    "set": {"items"},
    "frozenset": {"items"},
    "dict": {"keys", "values"},
    "ndarray": {"dtype", "shape", "order", "data"},
    "ndarray-items": {"dtype", "shape", "items"},
    "scalar": {"dtype", "value"},
    "dtype": {"dtype"},
    "path": {"value"},
    "random_state": {"state"},
    "dataframe": {"columns", "index", "data"},
    "class": {"class"},
    "estimator": {"class", "params", "state", "attributes"},
    "described": {"class", "dict"},
    "object": {"class", "state"},
    "container-object": {"class", "state", "items"},
}


#: The kinds of node that may carry an ``id`` (written once, referred to by ``{"kind": "ref", "id": ...}``).
SHAREABLE = frozenset({"ndarray", "dataframe", "estimator", "described", "object"})
#: The objects built so far in :func:`decode`, by id.
_BUILT = contextvars.ContextVar("built", default=None)


class DamagedNodeError(ValueError):
    """A node of a safe-format file is not of the form its kind has; the message says where."""


def decode(node):
    """The model of the node :func:`~sklearn_ser._safe_format._encode.encode` wrote."""
    token = _BUILT.set({})
    try:
        return from_node(node, "model")
    finally:
        _BUILT.reset(token)


def _referred(node, where):
    built = _BUILT.get() or {}
    if set(node) != {"kind", "id"} or node["id"] not in built:
        raise DamagedNodeError(f"{where} refers to the object {node.get('id')!r}, which the file does not hold before")
    return built[node["id"]]


def from_node(node, where):
    """The value of ``node``; ``where`` names it in messages."""
    import torch

    if type(node) in PLAIN or isinstance(node, torch.Tensor):
        return node
    if isinstance(node, list):
        return [from_node(item, f"{where}[{index}]") for index, item in enumerate(node)]
    if not isinstance(node, dict) or not isinstance(node.get("kind"), str):
        raise DamagedNodeError(f"{where} is a {type(node).__name__}, not a value the safe format writes")
    kind = node["kind"]
    if kind == "ref":
        return _referred(node, where)
    form = "ndarray-items" if kind == "ndarray" and "items" in node else kind
    if "items" in node and kind == "object":
        form = "container-object"
    if form not in NODE_KEYS:
        raise DamagedNodeError(f"{where} is of the unknown kind {kind!r}")
    entries = set(node) - {"kind", "id"} if kind in SHAREABLE else set(node) - {"kind"}
    if entries != NODE_KEYS[form]:
        raise DamagedNodeError(f"{where} ({kind}) has the entries {sorted(node)}, expected {sorted(NODE_KEYS[form])}")
    value = _BUILDERS[kind](node, where)
    if "id" in node:
        built = _BUILT.get()
        if type(node["id"]) is not int or (built is not None and node["id"] in built):
            raise DamagedNodeError(f"{where} has the id {node['id']!r}, which is not a new number")
        if built is not None:
            built[node["id"]] = value
    return value


def _list(node, where, key="items"):
    if not isinstance(node[key], list):
        raise DamagedNodeError(f"{where}: {key} is a {type(node[key]).__name__}, not a list")
    return from_node(node[key], where)


def _dict(node, where):
    keys = _list(node, f"{where} keys", "keys")
    values = node["values"]
    if not isinstance(values, list) or len(values) != len(keys):
        raise DamagedNodeError(f"{where} has {len(keys)} keys but not as many values")
    try:
        return {key: from_node(value, f"{where}[{key!r}]") for key, value in zip(keys, values)}
    except TypeError as exc:
        if any(isinstance(key, (list, dict, set)) for key in keys):
            raise DamagedNodeError(f"{where} has a key that cannot be a key ({exc})") from exc
        raise


def _dtype(text, where):
    if not isinstance(text, str):
        raise DamagedNodeError(f"{where}: the dtype is a {type(text).__name__}, not a string")
    try:
        dtype = np.dtype(text)
    except TypeError as exc:
        raise DamagedNodeError(f"{where}: {text!r} is not a NumPy dtype") from exc
    if dtype.fields is not None or dtype.kind == "V":
        raise DamagedNodeError(f"{where}: {text!r} is a structured dtype, which the safe format does not store")
    return dtype


def _shape(node, where):
    shape = node["shape"]
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise DamagedNodeError(f"{where}: the shape {shape!r} is not a list of sizes")
    return tuple(shape)


def _ndarray(node, where):
    import torch

    dtype, shape = _dtype(node["dtype"], where), _shape(node, where)
    if "data" in node:
        data = node["data"]
        if dtype.name not in TENSOR_DTYPES or not isinstance(data, torch.Tensor):
            raise DamagedNodeError(f"{where}: an array of {dtype} needs its data as a tensor")
        order = node["order"]
        if order not in ("C", "F"):
            raise DamagedNodeError(f"{where}: the order {order!r} is neither 'C' nor 'F'")
        stored = shape[::-1] if order == "F" else shape
        if tuple(data.shape) != stored:
            raise DamagedNodeError(f"{where}: the data has shape {tuple(data.shape)}, the array {shape}")
        try:
            array = data.numpy()
        except (TypeError, RuntimeError) as exc:  # a tensor dtype NumPy lacks (bfloat16), a tensor on another device
            raise DamagedNodeError(f"{where}: the data cannot be read as an array of {dtype} ({exc})") from exc
        if array.dtype != dtype.newbyteorder("="):
            raise DamagedNodeError(f"{where}: the data is of {array.dtype}, the array of {dtype}")
        array = array.T if order == "F" else array
        return array.astype(dtype, order=order, copy=True)
    items = _list(node, where)
    size = int(np.prod(shape, dtype=np.int64))
    if len(items) != size:
        raise DamagedNodeError(f"{where}: {len(items)} items for an array of shape {shape}")
    array = np.empty(size, dtype=dtype)
    try:
        for index, item in enumerate(items):
            array[index] = item
    except (TypeError, ValueError) as exc:
        raise DamagedNodeError(f"{where}: an item does not fit an array of {dtype}: {exc}") from exc
    return array.reshape(shape)


def _scalar(node, where):
    dtype = _dtype(node["dtype"], where)
    value = from_node(node["value"], where)
    if not isinstance(value, np.ndarray) or value.shape != () or value.dtype != dtype:
        raise DamagedNodeError(f"{where}: the value is not a single {dtype}")
    return value[()]


def _random_state(node, where):
    state = from_node(node["state"], where)
    random_state = np.random.RandomState()
    try:
        random_state.set_state(state)
    except (TypeError, ValueError) as exc:
        raise DamagedNodeError(f"{where}: not the state of a NumPy RandomState ({exc})") from exc
    return random_state


def _dataframe(node, where):
    import pandas as pd

    columns, index = _list(node, f"{where}.columns", "columns"), from_node(node["index"], f"{where}.index")
    data = _list(node, where, "data")
    if len(data) != len(columns) or not all(isinstance(c, np.ndarray) and c.shape == index.shape for c in data):
        raise DamagedNodeError(f"{where}: the columns are not {len(columns)} arrays as long as the index")
    frame = pd.DataFrame(dict(enumerate(data)), index=index)
    frame.columns = columns
    return frame


def _string_keyed(mapping, where, what):
    if not isinstance(mapping, dict) or not all(isinstance(key, str) for key in mapping):
        raise DamagedNodeError(f"{where}: its {what} are not a mapping of names")
    return {key: from_node(value, f"{where}.{key}") for key, value in mapping.items()}


def _estimator(node, where):
    cls = _class(node, where)
    params = _string_keyed(node["params"], where, "parameters")
    state = _string_keyed(node["state"], where, "fitted attributes")
    listed = node["attributes"]
    if not isinstance(listed, list) or set(listed) != set(state):
        lost = sorted(set(listed) - set(state)) if isinstance(listed, list) else []
        what = f"lacks the attribute {lost[0]!r} that it lists" if lost else "holds attributes that it does not list"
        raise DamagedNodeError(f"{where} ({cls.__name__}) {what}")
    clashing = sorted(set(params) & set(state))
    if clashing:
        raise DamagedNodeError(f"{where}: {clashing[0]!r} is both a parameter and a fitted attribute")
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise DamagedNodeError(f"{where}: the parameters do not fit {cls.__name__} ({exc})") from exc
    unknown = sorted(set(params) - set(estimator.get_params(deep=False)))
    if unknown:
        raise DamagedNodeError(f"{where}: {unknown[0]!r} is not a parameter of {cls.__name__}")
    try:
        estimator.__setstate__(state)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise DamagedNodeError(f"{where}: the fitted state does not fit {cls.__name__}: {exc}") from exc
    return estimator


def _described(node, where):
    cls = _class(node, where)
    described = from_node(node["dict"], where)
    if not isinstance(described, dict):
        raise DamagedNodeError(f"{where}: the description of a {cls.__name__} is not a mapping")
    try:
        return cls.from_dict(described)
    except (KeyError, TypeError, ValueError) as exc:
        raise DamagedNodeError(f"{where}: not the description of a {cls.__name__} ({exc})") from exc


def _object(node, where):
    cls = _class(node, where)
    state = from_node(node["state"], where)
    if not isinstance(state, dict) or not all(isinstance(key, str) for key in state):
        raise DamagedNodeError(f"{where}: the attributes of a {cls.__name__} are not a mapping of names")
    value = cls.__new__(cls)
    if "items" in node:
        items = from_node(node["items"], where)
        if issubclass(cls, list) and isinstance(items, list):
            list.extend(value, items)
        elif issubclass(cls, dict) and isinstance(items, dict):
            dict.update(value, items)
        else:
            raise DamagedNodeError(f"{where}: the items do not fit a {cls.__name__}")
        vars(value).update(state)
    elif getattr(cls, "__setstate__", None) is not getattr(object, "__setstate__", None):
        value.__setstate__(state)
    else:
        vars(value).update(state)
    return value


_BUILDERS = {
    "tuple": lambda node, where: tuple(_list(node, where)),
    "slice": lambda node, where: _slice(node, where),
    "set": lambda node, where: _hashed(set, node, where),
    "frozenset": lambda node, where: _hashed(frozenset, node, where),
    "dict": _dict,
    "ndarray": _ndarray,
    "scalar": _scalar,
    "dtype": lambda node, where: _dtype(node["dtype"], where),
    "path": lambda node, where: pathlib.Path(_plain_text(node["value"], where)),
    "random_state": _random_state,
    "dataframe": _dataframe,
    "class": lambda node, where: _class(node, where),
    "estimator": _estimator,
    "described": _described,
    "object": _object,
}


def _slice(node, where):
    parts = _list(node, where)
    if len(parts) != 3 or not all(part is None or type(part) is int for part in parts):
        raise DamagedNodeError(f"{where}: a slice is three integers or None")
    return slice(*parts)


def _hashed(kind, node, where):
    items = _list(node, where)
    try:
        return kind(items)
    except TypeError as exc:
        raise DamagedNodeError(f"{where}: an item cannot be in a set ({exc})") from exc


def _class(node, where):
    try:
        return resolve(node["class"])
    except UntrustedClassError as exc:
        raise UntrustedClassError(
            f"{where}: {exc}; nothing that the file names outside them is imported or called"
        ) from None
    except ImportError as exc:
        raise ImportError(f"{where} is a {node['class']}, which needs a package that is not installed: {exc}") from exc


def _plain_text(value, where):
    if not isinstance(value, str):
        raise DamagedNodeError(f"{where}: a path is written as a string, not a {type(value).__name__}")
    return value
