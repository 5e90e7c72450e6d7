"""Embeddings of 3-channel Mel images by a (pretrained) DenseNet."""

from __future__ import annotations

import itertools
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from .._device import parse_device, resolve_device
from .._sequences import FeatureSequences, SequenceInputMixin
from ._table_output import TableOutputMixin

EMBEDDING_DIMS = {"densenet121": 1024, "densenet169": 1664, "densenet201": 1920}
_ARCH_BY_DIM = {dim: arch for arch, dim in EMBEDDING_DIMS.items()}
_WEIGHT_ENUMS = {arch: f"DenseNet{arch[-3:]}_Weights" for arch in EMBEDDING_DIMS}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_IMAGE_SIDE = 29  # smallest input torchvision's DenseNets accept (meta["min_size"])

# The checkpoints torchvision publishes predate the current module names:
# their "denselayer1.norm.1.weight" is now "denselayer1.norm1.weight".
_LEGACY_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


class DenseNetEmbedder(
    TableOutputMixin, SequenceInputMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None
):
    """Embed static, delta and delta-delta Mel "images" with a DenseNet.

    Each utterance, a sequence of ``(n_frames, 3 * n_mels)`` frames as made
    by ``DeltaStack(order=2)`` after :class:`MelSpectrogram`, is cut into
    segments of ``segment_frames`` frames every ``segment_hop`` frames.
    Each segment becomes a 3-channel image of shape
    ``(3, n_mels, segment_frames)``: channel ``c`` holds the ``c``-th block
    of ``n_mels`` features (static, delta, delta-delta log-Mel), Mel band
    ``i`` on row ``i`` and time along the columns. The images go through
    torchvision's DenseNet up to its penultimate layer (``model.features``,
    ReLU, global average pooling), whose output is the embedding.

    Segmenting: an utterance of ``n_frames >= segment_frames`` frames gives
    ``1 + (n_frames - segment_frames) // segment_hop`` segments, starting at
    frames ``0, segment_hop, 2 * segment_hop, ...``; the frames after the
    last whole segment (fewer than ``segment_hop``) are left out. A shorter
    utterance is padded by repeating it from its start (frames
    ``0, 1, ..., n_frames - 1, 0, 1, ...``) up to ``segment_frames`` frames,
    and gives one segment.

    Scaling: every channel of every image is min-max scaled to [0, 1] over
    that image (a constant channel becomes 0), optionally resized to
    ``image_size x image_size`` (bilinear), then normalised with the
    ImageNet mean ``(0.485, 0.456, 0.406)`` and standard deviation
    ``(0.229, 0.224, 0.225)`` per channel, as the ImageNet weights expect.

    Parameters
    ----------
    arch : {"densenet121", "densenet169", "densenet201"}, default="densenet121"
        The torchvision DenseNet; its embeddings have 1024, 1664 and 1920
        dimensions respectively.
    weights : "imagenet", str, path-like or None, default="imagenet"
        ``"imagenet"``: torchvision's ImageNet weights
        (``torchvision.models.DenseNet121_Weights.IMAGENET1K_V1`` and so on),
        downloaded by torchvision into its cache on first use. A path: a file
        holding the ``state_dict()`` of a torchvision DenseNet of the same
        ``arch``, read with ``torch.load(path, map_location="cpu",
        weights_only=True)``; its classifier, whatever its number of classes,
        is not used. None: a randomly initialised network, seeded by
        ``random_state``.
    pooling : {"mean"} or None, default="mean"
        ``"mean"``: one vector per utterance, the mean of its segments'
        embeddings. None: the embeddings of every segment, as a sequence.
        Applied in :meth:`transform`.
    segment_frames : int, default=64
        Frames per segment: the width of the images.
    segment_hop : int, default=32
        Frames between the starts of consecutive segments.
    image_size : int or None, default=None
        None keeps the images at ``n_mels x segment_frames``; an int resizes
        them to ``image_size x image_size`` with
        :func:`torch.nn.functional.interpolate` (bilinear). The images, after
        resizing, must be at least 29 x 29.
    batch_size : int, default=64
        Segments per forward pass; the batches run over the segments of all
        utterances.
    device : str, default="auto"
        Torch device of the network: ``"auto"`` picks ``"cuda"`` when
        :func:`torch.cuda.is_available` and ``"cpu"`` otherwise, or any
        device string such as ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.
        Resolved in :meth:`fit`, and again when a pickled embedder is loaded.
    random_state : int, RandomState instance or None, default=None
        Seeds the random initialisation when ``weights=None``; unused
        otherwise. Torch's global random state is left untouched.

    Attributes
    ----------
    n_features_in_ : int
        Features per frame seen in :meth:`fit`: ``3 * n_mels``.
    feature_names_in_ : ndarray of str objects
        Names of those features, when the input carried them (the output of
        a feature transformer does). Defined only then.
    model_ : torch.nn.Module
        The embedding network, in evaluation mode on ``device_``: the
        DenseNet's ``features``, ReLU, adaptive average pooling, flattening.
    embedding_dim_ : int
        Dimensions of an embedding (1024, 1664 or 1920).
    device_ : torch.device
        Device of ``model_``.

    See Also
    --------
    MelSpectrogram : Makes the log-Mel sequences.
    DeltaStack : With ``order=2``, stacks the three channels per frame.
    SequencePooling : Other statistics of the segment embeddings, with
        ``pooling=None``.

    Notes
    -----
    Pickling (:mod:`pickle`, :func:`joblib.dump`) stores the network's
    weights as NumPy arrays; loading rebuilds the network on the device
    ``device`` resolves to on the loading machine, so an embedder fitted on
    a GPU loads on a CPU-only machine (with ``device="auto"``; an explicit
    CUDA device that is not available there falls back to the CPU with a
    warning).

    With ``pooling="mean"`` the output follows ``set_output`` (e.g. a pandas
    DataFrame with columns ``densenet121_0, ...``); with ``pooling=None`` it
    is a list of sequences and is left as it is.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import DenseNetEmbedder
    >>> rng = np.random.default_rng(0)
    >>> sequences = [rng.standard_normal((n, 3 * 32)).astype("float32") for n in (20, 80)]
    >>> embedder = DenseNetEmbedder(weights=None, segment_frames=32, segment_hop=16, random_state=0)
    >>> embedder.fit_transform(sequences).shape
    (2, 1024)
    >>> embedder.get_feature_names_out()[:2]
    array(['densenet121_0', 'densenet121_1'], dtype=object)
    >>> per_segment = embedder.set_params(pooling=None).transform(sequences)
    >>> [s.shape for s in per_segment]  # 20 frames padded to one segment; 1 + (80 - 32) // 16
    [(1, 1024), (4, 1024)]
    """

    _parameter_constraints = {
        "arch": [StrOptions(set(EMBEDDING_DIMS))],
        "weights": [str, os.PathLike, None],
        "pooling": [StrOptions({"mean"}), None],
        "segment_frames": [Interval(Integral, 1, None, closed="left")],
        "segment_hop": [Interval(Integral, 1, None, closed="left")],
        "image_size": [Interval(Integral, MIN_IMAGE_SIDE, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        arch="densenet121",
        weights="imagenet",
        pooling="mean",
        segment_frames=64,
        segment_hop=32,
        image_size=None,
        batch_size=64,
        device="auto",
        random_state=None,
    ):
        self.arch = arch
        self.weights = weights
        self.pooling = pooling
        self.segment_frames = segment_frames
        self.segment_hop = segment_hop
        self.image_size = image_size
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def fit(self, X, y=None):
        """Check the input's layout and build the network.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, 3 * n_mels), or 3-D array
            Static, delta and delta-delta feature sequences, e.g. the output
            of ``DeltaStack(order=2)``.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        super().fit(X, y)
        self._image_shape()
        device = resolve_device(self.device)
        if self.weights is None:
            model = _random_network(self.arch, check_random_state(self.random_state))
        elif isinstance(self.weights, str) and self.weights == "imagenet":
            model = _network_from_state(self.arch, _imagenet_state(self.arch), source="weights='imagenet'")
        else:
            model = _network_from_state(
                self.arch, _read_state(self.weights), source=f"weights={os.fspath(self.weights)!r}"
            )
        self.model_ = model.to(device).eval()
        self.device_ = device
        self.embedding_dim_ = EMBEDDING_DIMS[self.arch]
        return self

    def transform(self, X):
        """Embed the segments of every utterance.

        Parameters
        ----------
        X : list of ndarray of shape (n_frames, 3 * n_mels), or 3-D array
            Feature sequences with the features seen in :meth:`fit`.

        Returns
        -------
        X_embedded : ndarray or FeatureSequences
            With ``pooling="mean"``, a float32 array of shape
            ``(n_samples, embedding_dim_)``: the mean segment embedding of
            every utterance (a DataFrame under
            ``set_output(transform="pandas")``). With ``pooling=None``, a list
            with one float32 array of shape ``(n_segments, embedding_dim_)``
            per utterance.
        """
        sequences = self._check_input(X)
        n_mels = self.n_features_in_ // 3
        images = [_segment_images(s, n_mels, self.segment_frames, self.segment_hop) for s in sequences]
        embeddings = self._embed(itertools.chain.from_iterable(images), sum(map(len, images)))
        per_utterance = np.split(embeddings, np.cumsum([len(i) for i in images])[:-1])
        if self.pooling is None:
            return FeatureSequences(per_utterance, self.get_feature_names_out())
        pooled = np.stack([e.mean(axis=0, dtype=np.float64) for e in per_utterance]).astype(np.float32)
        return self._as_table(pooled, X)

    def get_feature_names_out(self, input_features=None):
        """Names of the embedding dimensions: ``densenet121_0, ...``.

        Parameters
        ----------
        input_features : array-like of str or None
            Names of the input features, only checked against those seen in
            :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        arch = _ARCH_BY_DIM[self.embedding_dim_]
        return np.asarray([f"{arch}_{i}" for i in range(self.embedding_dim_)], dtype=object)

    def _check_params(self):
        if self.device != "auto":
            parse_device(self.device)
        if self.segment_hop > self.segment_frames:
            raise ValueError(
                f"segment_hop={self.segment_hop} is larger than segment_frames={self.segment_frames}: "
                "frames between segments would be left out."
            )

    def _image_shape(self):
        """Height and width of the images fed to the network; checks them."""
        if self.n_features_in_ % 3:
            raise ValueError(
                "DenseNetEmbedder takes 3 * n_mels features per frame (static, delta and "
                f"delta-delta blocks, as made by DeltaStack(order=2)); got {self.n_features_in_} "
                "features per frame, which is not divisible by 3."
            )
        if self.image_size is not None:
            shape = (self.image_size, self.image_size)
            origin = f"image_size={self.image_size}"
        else:
            shape = (self.n_features_in_ // 3, self.segment_frames)
            origin = f"n_mels={shape[0]} x segment_frames={self.segment_frames}"
        if min(shape) < MIN_IMAGE_SIDE:
            raise ValueError(
                f"The images are {shape[0]} x {shape[1]} ({origin}), smaller than the "
                f"{MIN_IMAGE_SIDE} x {MIN_IMAGE_SIDE} DenseNet needs: use more Mel bands or "
                "segment_frames, or set image_size."
            )
        return shape

    def _embed(self, images, n_images):
        """Embeddings of an iterable of (3, n_mels, segment_frames) images."""
        import torch
        import torch.nn.functional as F

        shape = self._image_shape()
        mean = torch.tensor(IMAGENET_MEAN, device=self.device_).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=self.device_).view(1, 3, 1, 1)
        embeddings = np.empty((n_images, self.embedding_dim_), dtype=np.float32)
        start = 0
        with torch.inference_mode():
            while batch := list(itertools.islice(images, self.batch_size)):
                x = torch.from_numpy(np.stack(batch)).to(self.device_)
                low = x.amin(dim=(2, 3), keepdim=True)
                span = x.amax(dim=(2, 3), keepdim=True) - low
                x = (x - low) / torch.where(span > 0, span, torch.ones_like(span))
                if self.image_size is not None:
                    x = F.interpolate(x, size=shape, mode="bilinear", align_corners=False)
                x = (x - mean) / std
                embeddings[start : start + len(batch)] = self.model_(x).float().cpu().numpy()
                start += len(batch)
        return embeddings

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def __getstate__(self):
        state = dict(super().__getstate__())
        model = state.pop("model_", None)
        if model is not None:
            state["_model_state"] = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        model_state = state.pop("_model_state", None)
        super().__setstate__(state)
        if model_state is not None:
            import torch

            arch = _ARCH_BY_DIM[self.embedding_dim_]
            tensors = {k: torch.tensor(v) for k, v in model_state.items()}
            self.device_ = resolve_device(self.device, fallback=True)
            self.model_ = _network_from_state(arch, tensors, source="the pickled state").to(self.device_).eval()


def _segment_images(sequence, n_mels, segment_frames, segment_hop):
    """(n_segments, 3, n_mels, segment_frames) view of a (n_frames, 3 * n_mels) sequence."""
    if len(sequence) < segment_frames:
        sequence = sequence[np.arange(segment_frames) % len(sequence)]
    windows = np.lib.stride_tricks.sliding_window_view(sequence, segment_frames, axis=0)[::segment_hop]
    return windows.reshape(len(windows), 3, n_mels, segment_frames)


def _embedding_network(arch):
    """A DenseNet's ``features``, then ReLU, global average pooling, flattening."""
    from torch import nn
    from torchvision import models

    densenet = getattr(models, arch)(weights=None)
    layers = [("features", densenet.features), ("relu", nn.ReLU()), ("pool", nn.AdaptiveAvgPool2d(1))]
    return nn.Sequential(OrderedDict(layers + [("flatten", nn.Flatten())]))


def _random_network(arch, random_state):
    import torch

    seed = random_state.randint(np.iinfo(np.int32).max)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _embedding_network(arch)


def _network_from_state(arch, state, *, source):
    """The embedding network of ``arch`` with the weights of a DenseNet state dict.

    ``state`` is the ``state_dict()`` of a torchvision DenseNet (its
    ``classifier`` entries are dropped; legacy key names are renamed) or of
    the embedding network itself.
    """
    import torch

    if not isinstance(state, Mapping):
        raise ValueError(f"{source} holds a {type(state).__name__}, not a state dict of torchvision's {arch}.")
    renamed = {}
    for key, value in state.items():
        match = _LEGACY_KEY.match(key)
        if not key.startswith("classifier."):
            renamed[match.group(1) + match.group(2) if match else key] = value
    with torch.device("meta"):
        model = _embedding_network(arch)
    expected = model.state_dict().keys()
    # Old checkpoints, such as the published ones, lack the batch norms'
    # num_batches_tracked (unused in evaluation); load_state_dict sets them to 0.
    missing = sorted(k for k in set(expected) - set(renamed) if not k.endswith(".num_batches_tracked"))
    unexpected = sorted(set(renamed) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{source} is not a state dict of torchvision's {arch}: {len(missing)} of its keys are "
            f"missing (e.g. {missing[:2]}) and {len(unexpected)} are unexpected (e.g. {unexpected[:2]}). "
            f"Save torchvision.models.{arch}().state_dict(), and set arch to the architecture saved."
        )
    renamed = {
        k: v.to(torch.float32) if isinstance(v, torch.Tensor) and v.is_floating_point() else v
        for k, v in renamed.items()
    }
    try:
        model.load_state_dict(renamed, strict=True, assign=True)
    except RuntimeError as exc:
        raise ValueError(f"{source} does not fit torchvision's {arch}: {exc}") from exc
    return model


def _read_state(path):
    import torch

    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights={os.fspath(path)!r} is neither 'imagenet' nor an existing file.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"weights={os.fspath(path)!r} could not be read as a PyTorch state dict "
            f"(torch.load with weights_only=True): {exc}"
        ) from exc


def _imagenet_state(arch):
    """torchvision's ImageNet weights of ``arch``, downloaded on first use."""
    from torchvision import models

    weights = getattr(models, _WEIGHT_ENUMS[arch]).IMAGENET1K_V1
    return weights.get_state_dict(progress=True, check_hash=True)
