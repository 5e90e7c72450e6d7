"""Spectral transformers: Mel spectrograms and MFCC from audio."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import scipy.fft
from sklearn.utils._param_validation import Interval, StrOptions

from .._device import parse_device
from ._audio_transformer import AudioFeatureTransformer
from ._torch_engine import TorchLogMel, TorchMFCC, dct_matrix

FRAMES_PER_BLOCK = 2048  # about 20 s at a 10 ms hop

_MEL_CONSTRAINTS = {
    "sr": [Interval(Integral, 1, None, closed="left")],
    "n_fft": [Interval(Integral, 2, None, closed="left")],
    "hop_length": [Interval(Integral, 1, None, closed="left")],
    "win_length": [Interval(Integral, 1, None, closed="left"), None],
    "window": [str, tuple, callable],
    "center": ["boolean"],
    "n_mels": [Interval(Integral, 1, None, closed="left")],
    "fmin": [Interval(Real, 0, None, closed="left")],
    "fmax": [Interval(Real, 0, None, closed="neither"), None],
    "power": [Interval(Real, 0, None, closed="neither")],
    "top_db": [Interval(Real, 0, None, closed="left"), None],
    "amin": [Interval(Real, 0, None, closed="neither")],
    "engine": [StrOptions({"numpy", "torch"})],
    "device": [str],
}


@dataclass(frozen=True, eq=False)
class _LogMel:
    """Waveform -> (n_frames, n_mels) Mel spectrogram, optionally log-scaled.

    The short-time Fourier transform is that of :func:`librosa.stft` (same
    window, zero padding when centred, frame positions), computed as one
    batched real FFT over a strided view of the frames: on short utterances
    librosa's per-call overhead costs as much as the transform itself.
    """

    n_fft: int
    hop_length: int
    window: np.ndarray
    center: bool
    power: float
    mel_basis_t: np.ndarray
    log: str | None
    top_db: float | None
    amin: float

    def frames(self, y):
        """Overlapping frames of ``y``, shape (n_frames, n_fft).

        A read-only strided view of ``y``, or of one zero-padded copy when
        centring or a clip shorter than ``n_fft`` needs padding. Built
        directly rather than with ``np.pad`` and ``sliding_window_view``,
        whose Python overhead (about 15 us a clip, with the GIL held)
        serialised the threads of a parallel extraction.
        """
        pad = self.n_fft // 2 if self.center else 0
        if pad or len(y) < self.n_fft:
            padded = np.zeros(max(len(y), self.n_fft) + 2 * pad, dtype=y.dtype)
            padded[pad : pad + len(y)] = y
            y = padded
        n_frames = 1 + (len(y) - self.n_fft) // self.hop_length
        step = y.strides[0]
        return np.lib.stride_tricks.as_strided(
            y, shape=(n_frames, self.n_fft), strides=(self.hop_length * step, step), writeable=False
        )

    def power_spectrogram(self, frames):
        """``|STFT|**power`` of ``frames``, shape (n_frames, 1 + n_fft // 2).

        The squared imaginary part is written over the spectrum. One
        temporary less keeps a clip's peak memory below the threshold at
        which glibc trims a thread's heap: above it, the worker threads of a
        parallel extraction gave their heap back to the system every few
        clips and page-faulted it in again.
        """
        spectrum = scipy.fft.rfft(frames * self.window, axis=1)
        if self.power == 2:
            power = np.square(spectrum.real)
            power += np.square(spectrum.imag, out=spectrum.imag)
            return power
        return np.abs(spectrum) ** self.power

    def mel_power(self, y):
        """Mel power of ``y``, computed :data:`FRAMES_PER_BLOCK` frames at a time.

        A long recording's windowed frames and spectra would take several
        times the memory of its waveform at once; blocks bound them.
        """
        frames = self.frames(y)
        blocks = [
            self.power_spectrogram(frames[start : start + FRAMES_PER_BLOCK]) @ self.mel_basis_t
            for start in range(0, len(frames), FRAMES_PER_BLOCK)
        ]
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def scale(self, mel):
        """``mel`` scaled as ``log`` says (see :class:`MelSpectrogram`).

        Decibels are those of ``mel ** (2 / power)``: ``power_to_db`` of a
        power Mel spectrogram, ``amplitude_to_db`` (with a floor of
        ``sqrt(amin)``) of a magnitude one.
        """
        import librosa

        if self.log == "db":
            power = mel if self.power == 2 else mel ** (2.0 / self.power)
            return librosa.power_to_db(power, ref=1.0, amin=self.amin, top_db=self.top_db)
        if self.log == "natural":
            return np.log(np.maximum(mel, self.amin))
        return mel

    def __call__(self, y):
        return np.ascontiguousarray(self.scale(self.mel_power(y)), dtype=np.float32)


@dataclass(frozen=True, eq=False)
class _MFCC:
    """Waveform -> (n_frames, n_mfcc) MFCC from the dB Mel spectrogram."""

    log_mel: _LogMel
    n_mfcc: int
    lifter: float

    def __call__(self, y):
        import librosa

        log_mel = self.log_mel.scale(self.log_mel.mel_power(y))
        mfcc = librosa.feature.mfcc(S=log_mel.T, n_mfcc=self.n_mfcc, lifter=self.lifter)
        return np.ascontiguousarray(mfcc.T, dtype=np.float32)


class _MelParamsMixin:
    _extraction_params = AudioFeatureTransformer._extraction_params | {"device"}

    def _check_params(self):
        if self.engine == "torch" and self.device != "auto":
            parse_device(self.device)
        nyquist = self.sr / 2
        if self.win_length is not None and self.win_length > self.n_fft:
            raise ValueError(f"win_length={self.win_length} must not exceed n_fft={self.n_fft}.")
        fmax = nyquist if self.fmax is None else self.fmax
        if fmax > nyquist:
            raise ValueError(f"fmax={self.fmax} exceeds the Nyquist frequency sr/2={nyquist:g}.")
        if self.fmin >= fmax:
            raise ValueError(f"fmin={self.fmin} must be below fmax={fmax:g}.")
        if not callable(self.window):
            import scipy.signal

            try:
                scipy.signal.get_window(self.window, self.win_length or self.n_fft, fftbins=True)
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"window={self.window!r} is not a window of scipy.signal.get_window (e.g. 'hann', 'hamming', "
                    f"('kaiser', 8.0)): {exc}"
                ) from exc

    def _analysis_seconds(self):
        return self.n_fft / self.sr

    def _log_mel(self, log):
        import librosa

        mel_basis = librosa.filters.mel(
            sr=self.sr, n_fft=self.n_fft, n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax
        )
        window = librosa.filters.get_window(self.window, self.win_length or self.n_fft, fftbins=True)
        return _LogMel(
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=librosa.util.pad_center(window, size=self.n_fft).astype(np.float32),
            center=self.center,
            power=float(self.power),
            mel_basis_t=np.ascontiguousarray(mel_basis.T),
            log=log,
            top_db=self.top_db,
            amin=self.amin,
        )

    def _versions(self):
        versions = super()._versions()
        if self.engine == "torch":
            import torch

            versions += (f"torch {torch.__version__}",)
        return versions


class MelSpectrogram(_MelParamsMixin, AudioFeatureTransformer):
    """Mel spectrogram sequences from audio files or waveforms.

    Each utterance is decoded (mono, resampled to ``sr`` with soxr, as
    ``librosa.load``), framed by a short-time Fourier transform, projected
    on a Mel filterbank (librosa's Slaney-style filters) and, by default,
    converted to decibels. Clips shorter than ``n_fft`` samples are
    zero-padded at the end to ``n_fft`` samples, so they give at least one
    frame.

    Parameters
    ----------
    sr : int, default=16000
        Sampling rate in Hz that files are resampled to; waveform input is
        taken as already sampled at ``sr``.
    n_fft : int, default=512
        FFT size in samples (32 ms at 16 kHz).
    hop_length : int, default=160
        Samples between successive frames (10 ms at 16 kHz).
    win_length : int or None, default=None
        Window length in samples, at most ``n_fft``; None means ``n_fft``.
    window : str, tuple or callable, default="hann"
        Window function, as in :func:`scipy.signal.get_window`.
    center : bool, default=True
        Pad the signal by ``n_fft // 2`` zeros on both sides so that frame
        ``t`` is centred at sample ``t * hop_length``.
    n_mels : int, default=64
        Number of Mel bands.
    fmin : float, default=0.0
        Lowest frequency (Hz) of the filterbank.
    fmax : float or None, default=None
        Highest frequency (Hz); None means ``sr / 2``.
    power : float, default=2.0
        Exponent ``p`` of the STFT magnitude that the filterbank sums, as in
        :func:`librosa.feature.melspectrogram`: the Mel spectrogram is
        ``M = mel_basis @ abs(stft) ** p`` (1: magnitude, 2: power). See
        ``log`` for its decibels.
    log : {"db", "natural"} or None, default="db"
        Scaling of ``M``. ``"db"``: decibels relative to 1.0 of
        ``M ** (2 / p)``, that is ``D = 10 * log10(maximum(M ** (2 / p),
        amin))``, or ``20 / p * log10(M)`` above the floor; then, unless
        ``top_db`` is None, ``maximum(D, D.max() - top_db)`` over each
        utterance. For ``p=2`` this is
        ``librosa.power_to_db(M, ref=1.0, amin=amin, top_db=top_db)``; for
        ``p=1`` it is librosa's conversion of a magnitude spectrogram,
        ``librosa.amplitude_to_db(M, ref=1.0, amin=sqrt(amin),
        top_db=top_db)`` (``20 * log10``, not ``power_to_db`` of the
        magnitude); for other powers,
        ``librosa.power_to_db(M ** (2 / p), ref=1.0, amin=amin,
        top_db=top_db)``. ``"natural"``: ``log(maximum(M, amin))``, of ``M``
        itself whatever ``p``. None: ``M``.
    top_db : float or None, default=80.0
        With ``log="db"``, raise every value of an utterance to at least its
        largest value minus ``top_db``; None keeps the full range.
    amin : float, default=1e-10
        Floor of ``M ** (2 / p)`` before decibels (so a floor of
        ``sqrt(amin)`` on ``M`` when ``p=1``), and of ``M`` before the
        natural logarithm.
    engine : {"numpy", "torch"}, default="numpy"
        What computes the features. ``"numpy"``: SciPy's real FFT over the
        frames of one utterance at a time. ``"torch"``: one
        :func:`torch.stft` call for the utterances of a whole chunk (16),
        zero-padded to the longest and cut back to their own frames, on
        ``device``. The engines agree to float32 rounding (see Notes), and
        compute the same formulas; each engine's features are cached apart.
    device : str, default="auto"
        Torch device of ``engine="torch"``: ``"auto"`` (CUDA when
        available, else the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...,
        resolved where the features are computed (in each worker). Ignored
        with ``engine="numpy"``; it does not change the cache key.
    n_jobs : int or None, default=None
        Workers computing chunks of 16 utterances in parallel: None means 1
        unless set by :func:`joblib.parallel_config`, ``-1`` all cores.
        Ignored with ``backend="dask"``.
    backend : {"threads", "processes", "dask"} or None, default=None
        Where the workers run. ``"threads"``: a pool of threads in this
        process. ``"processes"``: joblib's loky worker processes.
        ``"dask"``: the workers of the running ``dask.distributed``
        ``Client`` (create one first; its cluster sets the parallelism).
        None: threads, unless :func:`joblib.parallel_config` selects
        another joblib backend. Threads are the default because decoding,
        resampling and the FFTs release the GIL while worker processes
        start cold (import the libraries); processes pay off only on the
        first extraction of a large corpus (``docs/benchmarks.md``,
        "Extraction at scale", measures where). Cached features are not
        recomputed.
    memory : None, str, os.PathLike or joblib.Memory, default=None
        Folder (or a ``joblib.Memory`` whose location is used) where the
        features are cached. A file is known by its content (a digest of
        its bytes), so copies, renamed or moved files, other processes and
        other machines sharing the folder hit the same entries; a rerun on
        the same machine does not re-read unchanged files (it remembers
        their digests by size, modification time and location). The cache
        is separate for every set of feature parameters.
    verbose : int, default=0
        Show a progress bar when positive.

    See Also
    --------
    MFCC : Cepstral coefficients of the same Mel spectrogram.
    DeltaStack : Append delta and delta-delta features.
    SequencePooling : Statistics over time, for classical classifiers.

    Notes
    -----
    The output is a list with one float32 array of shape
    ``(n_frames, n_mels)`` per utterance (time first), where ``n_frames`` is
    ``1 + max(len(y), n_fft) // hop_length`` with ``center=True``. The
    transformer is stateless: :meth:`fit` only validates.

    Extraction streams: each worker decodes and transforms the files of
    its chunk one at a time (the torch engine: one chunk at a time), so
    memory holds the features of the corpus but never all the waveforms.

    Both engines compute in float32, as librosa does, with other FFT code.
    An FFT's float32 rounding is relative to the energy of its frame, not to
    each value, so the agreement with librosa loosens below the peak: for
    ``power >= 1``, a dB value ``d`` dB below the largest value of its
    utterance is within ``max(1e-3, 2e-5 * 10 ** (d / 20))`` dB of
    librosa's (1e-3 dB down to 34 dB below the peak, 2e-2 dB at 60 dB,
    0.2 dB at 80 dB, the floor of the default ``top_db``), and the two
    engines on the CPU are within the same bound of each other; on a CUDA
    device, within twice that bound. The bound assumes that no frame has
    more energy outside the span of the filters' centre frequencies (below
    ``fmin``, above ``fmax``, or on the outer slopes of the first and last
    filters) than inside it, and, on CUDA, full float32 matrix products
    (PyTorch's default: no TF32). :ref:`spectral_precision` gives the
    measurements behind it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import MelSpectrogram
    >>> rng = np.random.default_rng(0)
    >>> waveforms = [rng.standard_normal(16000).astype("float32") * 0.1,
    ...              rng.standard_normal(8000).astype("float32") * 0.1]
    >>> mel = MelSpectrogram(n_mels=40).fit(waveforms)
    >>> [s.shape for s in mel.transform(waveforms)]
    [(101, 40), (51, 40)]
    >>> mel.get_feature_names_out()[:3]
    array(['mel_0', 'mel_1', 'mel_2'], dtype=object)
    >>> batched = MelSpectrogram(n_mels=40, engine="torch", device="cpu")
    >>> [s.shape for s in batched.fit_transform(waveforms)]
    [(101, 40), (51, 40)]
    """

    _feature_prefix = "mel"
    _parameter_constraints = {
        **AudioFeatureTransformer._parameter_constraints,
        **_MEL_CONSTRAINTS,
        "log": [StrOptions({"db", "natural"}), None],
    }

    def __init__(
        self,
        *,
        sr=16000,
        n_fft=512,
        hop_length=160,
        win_length=None,
        window="hann",
        center=True,
        n_mels=64,
        fmin=0.0,
        fmax=None,
        power=2.0,
        log="db",
        top_db=80.0,
        amin=1e-10,
        engine="numpy",
        device="auto",
        n_jobs=None,
        backend=None,
        memory=None,
        verbose=0,
    ):
        self.sr = sr
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.window = window
        self.center = center
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.power = power
        self.log = log
        self.top_db = top_db
        self.amin = amin
        self.engine = engine
        self.device = device
        self.n_jobs = n_jobs
        self.backend = backend
        self.memory = memory
        self.verbose = verbose

    def _make_computer(self):
        log_mel = self._log_mel(self.log)
        if self.engine == "torch":
            return TorchLogMel(log_mel, device=self.device)
        return log_mel

    def _n_features_out(self):
        return self.n_mels


class MFCC(_MelParamsMixin, AudioFeatureTransformer):
    """Mel-frequency cepstral coefficient sequences from audio.

    The dB Mel spectrogram of :class:`MelSpectrogram` (``log="db"``, same
    parameters) is decorrelated by an orthonormal type-II DCT and the first
    ``n_mfcc`` coefficients are kept: ``librosa.feature.mfcc(S=D.T,
    n_mfcc=n_mfcc, lifter=lifter)`` of that dB Mel spectrogram ``D``.

    Parameters
    ----------
    n_mfcc : int, default=40
        Number of coefficients, at most ``n_mels``.
    lifter : float, default=0.0
        Cepstral liftering coefficient; 0 disables liftering.
    sr : int, default=16000
        Sampling rate in Hz that files are resampled to; waveform input is
        taken as already sampled at ``sr``.
    n_fft : int, default=512
        FFT size in samples.
    hop_length : int, default=160
        Samples between successive frames.
    win_length : int or None, default=None
        Window length in samples, at most ``n_fft``; None means ``n_fft``.
    window : str, tuple or callable, default="hann"
        Window function.
    center : bool, default=True
        Centre frames on their time stamps by padding the signal.
    n_mels : int, default=64
        Number of Mel bands the coefficients are computed from.
    fmin : float, default=0.0
        Lowest frequency (Hz) of the filterbank.
    fmax : float or None, default=None
        Highest frequency (Hz); None means ``sr / 2``.
    power : float, default=2.0
        Exponent ``p`` of the STFT magnitude that the filterbank sums. The
        decibels are those of :class:`MelSpectrogram`,
        ``10 * log10(maximum(M ** (2 / p), amin))``: for ``p=1``,
        ``librosa.amplitude_to_db`` of the magnitude Mel spectrogram
        (``20 * log10``). ``librosa.feature.mfcc(y=y, power=1.0)`` differs:
        it applies ``power_to_db`` (``10 * log10``) to the magnitudes.
    top_db : float or None, default=80.0
        Raise every value of an utterance's dB Mel spectrogram to at least
        its largest value minus ``top_db``; None keeps the full range.
    amin : float, default=1e-10
        Floor of ``M ** (2 / p)`` before decibels (see ``power``).
    engine : {"numpy", "torch"}, default="numpy"
        What computes the features (see :class:`MelSpectrogram`); the torch
        engine applies the DCT as a matrix product in torch. The DCT is
        orthonormal, so a frame's coefficients differ between the engines,
        or from librosa's, by at most the Euclidean norm of the bounds on its
        dB Mel values (:class:`MelSpectrogram`, Notes), times
        ``1 + lifter / 2`` when liftered.
    device : str, default="auto"
        Torch device of ``engine="torch"`` (see :class:`MelSpectrogram`).
    n_jobs : int or None, default=None
        Workers computing chunks of utterances in parallel; ``-1`` uses all
        cores (see :class:`MelSpectrogram`).
    backend : {"threads", "processes", "dask"} or None, default=None
        Where the workers run (see :class:`MelSpectrogram`); None means
        threads unless :func:`joblib.parallel_config` selects another.
    memory : None, str, os.PathLike or joblib.Memory, default=None
        Feature cache location (see :class:`MelSpectrogram`).
    verbose : int, default=0
        Show a progress bar when positive.

    See Also
    --------
    MelSpectrogram : The Mel spectrogram the coefficients come from.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import MFCC
    >>> y = np.random.default_rng(0).standard_normal((2, 16000)).astype("float32")
    >>> [s.shape for s in MFCC(n_mfcc=13).fit_transform(y)]
    [(101, 13), (101, 13)]
    """

    _feature_prefix = "mfcc"
    _parameter_constraints = {
        **AudioFeatureTransformer._parameter_constraints,
        **_MEL_CONSTRAINTS,
        "n_mfcc": [Interval(Integral, 1, None, closed="left")],
        "lifter": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_mfcc=40,
        lifter=0.0,
        sr=16000,
        n_fft=512,
        hop_length=160,
        win_length=None,
        window="hann",
        center=True,
        n_mels=64,
        fmin=0.0,
        fmax=None,
        power=2.0,
        top_db=80.0,
        amin=1e-10,
        engine="numpy",
        device="auto",
        n_jobs=None,
        backend=None,
        memory=None,
        verbose=0,
    ):
        self.n_mfcc = n_mfcc
        self.lifter = lifter
        self.sr = sr
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.window = window
        self.center = center
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.power = power
        self.top_db = top_db
        self.amin = amin
        self.engine = engine
        self.device = device
        self.n_jobs = n_jobs
        self.backend = backend
        self.memory = memory
        self.verbose = verbose

    def _check_params(self):
        super()._check_params()
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc={self.n_mfcc} must not exceed n_mels={self.n_mels}.")

    def _make_computer(self):
        log_mel = self._log_mel("db")
        if self.engine == "torch":
            return TorchMFCC(log_mel, device=self.device, dct=dct_matrix(self.n_mels, self.n_mfcc, float(self.lifter)))
        return _MFCC(log_mel, n_mfcc=self.n_mfcc, lifter=float(self.lifter))

    def _n_features_out(self):
        return self.n_mfcc
