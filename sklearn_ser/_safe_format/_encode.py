"""A fitted model as nodes: nested dicts and lists of tensors and plain values, or a refusal naming what is not.

An object is expressed by what its state is made of, never by a list of
supported models: plain values, containers, NumPy arrays and scalars, torch
tensors, paths, and instances of trusted classes (see ``_trusted``). An
estimator is its constructor parameters (``get_params(deep=False)``) and the
rest of its pickled state (``__getstate__``): an estimator that keeps a torch
network gives its ``state_dict`` there and rebuilds the network from it in
``__setstate__``. Any other value (a function, a torch module, an instance of
an untrusted class) is refused with the place where it was found.
"""

from __future__ import annotations

import collections
import contextvars
import pathlib

import numpy as np

from ._trusted import name_of

PLAIN = (bool, int, float, str, type(None))
#: The NumPy dtypes stored as tensors of the same dtype.
TENSOR_DTYPES = frozenset(
    ["bool", "int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64", "complex64", "complex128"]
)


#: The objects met so far in :func:`encode`: an object held twice is written once, then referred to by its id.
_MET = contextvars.ContextVar("met", default=None)


class InexpressibleError(TypeError):
    """A value of the model cannot be expressed in the safe format."""


def encode(model):
    """``model`` as a node, each array and object written once (what pickle shares, the file shares)."""
    token = _MET.set({"ids": {}, "kept": [], "open": set()})
    try:
        return to_node(model, "model")
    finally:
        _MET.reset(token)


def _shared(value, where, build):
    """``build(value, where)`` with an ``id``, or a reference to the node of ``value`` written before."""
    met = _MET.get()
    if met is None:
        return build(value, where)
    key = id(value)
    if key in met["open"]:
        raise InexpressibleError(
            f"{where} holds an object that holds it (a cycle), which the safe format cannot store."
        )
    if key in met["ids"]:
        return {"kind": "ref", "id": met["ids"][key]}
    met["ids"][key] = len(met["ids"])
    met["kept"].append(value)  # alive until the end, so that no other object gets its id
    met["open"].add(key)
    try:
        return {**build(value, where), "id": met["ids"][key]}
    finally:
        met["open"].discard(key)


def to_node(value, where):
    """``value`` as a node; ``where`` names it in messages (``model.steps[0]...``)."""
    import torch

    if type(value) in PLAIN:  # exactly: NumPy's float64 and str_ are subclasses of float and str
        return value
    if type(value) is list:
        return [to_node(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if type(value) is tuple:
        return {"kind": "tuple", "items": to_node(list(value), where)}
    if type(value) in (set, frozenset):
        return {"kind": type(value).__name__, "items": to_node(sorted(value, key=repr), where)}
    if type(value) in (dict, collections.OrderedDict):  # a state_dict is an OrderedDict; read back as a dict
        return _mapping(value, where)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone(memory_format=torch.contiguous_format)
    if isinstance(value, np.ndarray):
        return _shared(value, where, _array)
    if isinstance(value, np.generic):
        return {"kind": "scalar", "dtype": value.dtype.str, "value": _array(np.asarray(value), where)}
    if isinstance(value, np.dtype):
        return {"kind": "dtype", "dtype": _dtype_text(value, where)}
    if type(value) is slice:
        return {"kind": "slice", "items": [to_node(part, where) for part in (value.start, value.stop, value.step)]}
    if isinstance(value, pathlib.PurePath):
        return {"kind": "path", "value": str(value)}
    if isinstance(value, np.random.RandomState):
        return {"kind": "random_state", "state": to_node(value.get_state(legacy=True), where)}
    if _is_dataframe(value):
        return _shared(value, where, _dataframe)
    if isinstance(value, type):
        return _class(value, where)
    return _shared(value, where, _instance)


def _mapping(mapping, where):
    keys = list(mapping)
    return {
        "kind": "dict",
        "keys": [to_node(key, f"{where} key {key!r}") for key in keys],
        "values": [to_node(mapping[key], f"{where}[{key!r}]") for key in keys],
    }


def _dtype_text(dtype, where):
    if dtype.fields is not None or dtype.kind == "V":
        raise InexpressibleError(f"{where} is a structured NumPy array, which the safe format does not store.")
    return dtype.str


def _array(array, where):
    import torch

    dtype = _dtype_text(array.dtype, where)
    if array.dtype.name in TENSOR_DTYPES:
        # A Fortran-ordered array (e.g. PCA's components_) is stored transposed, to come back in its own order:
        # BLAS results depend on the layout.
        order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
        native = np.array(array.T if order == "F" else array, dtype=array.dtype.newbyteorder("="), order="C")
        node = {"kind": "ndarray", "dtype": dtype, "shape": list(array.shape), "order": order}
        return {**node, "data": torch.from_numpy(native)}
    items = [to_node(item, f"{where}[{index}]") for index, item in enumerate(array.ravel(order="C").tolist())]
    return {"kind": "ndarray", "dtype": dtype, "shape": list(array.shape), "items": items}


def _is_dataframe(value):
    pandas = __import__("sys").modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _dataframe(frame, where):
    columns = [_column(frame.iloc[:, k], f"{where}[{name!r}]") for k, name in enumerate(frame.columns)]
    return {
        "kind": "dataframe",
        "columns": to_node(list(frame.columns), f"{where}.columns"),
        "index": _column(frame.index, f"{where}.index"),
        "data": columns,
    }


def _column(column, where):
    array = column.to_numpy()
    if not isinstance(array.dtype, np.dtype):  # an extension array (Arrow strings, nullable integers, ...)
        array = column.to_numpy(dtype=object)
    return _array(array, where)


def _class(value, where):
    name = name_of(value)
    if name is None:
        raise InexpressibleError(_refusal(where, value, "a class that is not among the trusted classes"))
    return {"kind": "class", "class": name}


def _instance(value, where):
    cls = type(value)
    name = name_of(cls)
    if name is None:
        raise InexpressibleError(_refusal(where, value, _why_not(value)))
    if hasattr(value, "get_params") and hasattr(value, "__getstate__"):
        params = value.get_params(deep=False)
        state = value.__getstate__()
        state = {key: item for key, item in state.items() if key not in params}
        return {
            "kind": "estimator",
            "class": name,
            "params": {key: to_node(item, f"{where}.{key}") for key, item in params.items()},
            "state": {key: to_node(item, f"{where}.{key}") for key, item in state.items()},
            "attributes": sorted(state),  # a second record of the state's names: a lost attribute is named
        }
    if callable(getattr(value, "to_dict", None)) and callable(getattr(cls, "from_dict", None)):
        described = value.to_dict()
        return {"kind": "described", "class": name, "dict": to_node(described, f"{where}.to_dict()")}
    attributes = value.__getstate__() if not isinstance(value, (list, dict)) else dict(vars(value))
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        raise InexpressibleError(_refusal(where, value, "its pickled state is not a mapping of attributes"))
    node = {"kind": "object", "class": name, "state": to_node(attributes, where)}
    if isinstance(value, list):
        node["items"] = to_node(list(value), where)
    elif isinstance(value, dict):
        node["items"] = _mapping(dict(value), where)
    return node


def _why_not(value):
    import torch

    if isinstance(value, torch.nn.Module):
        return (
            "a torch module; an estimator stores its network as a state_dict in __getstate__ and rebuilds it in "
            "__setstate__"
        )
    if callable(value) and not hasattr(value, "get_params"):  # functions, methods, ufuncs, callable objects
        return "a function is code, and the safe format stores no code"
    return "its class is not among the trusted classes (sklearn_ser._safe_format._trusted)"


def _refusal(where, value, reason):
    cls = value if isinstance(value, type) else type(value)
    return f"{where} is a {cls.__module__}.{cls.__qualname__}, which the safe format cannot store: {reason}."
