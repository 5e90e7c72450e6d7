"""A source-filter voice that speaks made-up words with an emotion.

A glottal pulse train (Rosenberg pulses with jitter, shimmer, creak,
aspiration noise and spectral tilt) drives a cascade of time-varying formant
resonators, with noise bursts for the obstruent consonants. Utterances are
the carrier phrase "say the word ___" followed by a made-up target word of
one to three syllables. Emotions shift the distributions of pitch level,
range and contour, speaking rate, loudness and voice quality; every speaker
has their own voice (pitch, vocal-tract length, vowel quality, recording
channel) and their own way of expressing each emotion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import signal

# Control tracks (pitch, amplitude, formants) are computed at this rate per
# second; the formant filters are updated at most every other frame.
_FRAME_RATE = 200
_FRAMES_PER_FILTER_UPDATE = 2

# ---------------------------------------------------------------------------
# Phonetics
# ---------------------------------------------------------------------------

# F1-F4 in Hz for an adult male vocal tract.
_VOWEL_FORMANTS = {
    "a": (730.0, 1090.0, 2440.0, 3400.0),
    "e": (530.0, 1840.0, 2480.0, 3500.0),
    "i": (270.0, 2290.0, 3010.0, 3700.0),
    "o": (570.0, 840.0, 2410.0, 3400.0),
    "u": (300.0, 870.0, 2240.0, 3400.0),
    "er": (490.0, 1350.0, 1690.0, 3300.0),
    "uh": (500.0, 1500.0, 2500.0, 3500.0),
}
_WORD_VOWELS = ("a", "e", "i", "o", "u")
_FORMANT_BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])


@dataclass(frozen=True)
class _Consonant:
    kind: str  # "stop", "fricative" or "sonorant"
    duration: float  # seconds, at the neutral speaking rate
    noise_band: tuple = None  # (low, high) in Hz of the frication noise
    noise_level: float = 0.0
    voicing: float = 0.0  # voicing amplitude during the consonant
    formants: tuple = None  # own formant targets (sonorants only)


_CONSONANTS = {
    "p": _Consonant("stop", 0.075, (500.0, 2000.0), 0.5),
    "t": _Consonant("stop", 0.075, (2500.0, 6000.0), 0.6),
    "k": _Consonant("stop", 0.080, (1200.0, 3200.0), 0.6),
    "b": _Consonant("stop", 0.065, (300.0, 1500.0), 0.3, 0.1),
    "d": _Consonant("stop", 0.065, (2000.0, 5000.0), 0.35, 0.1),
    "g": _Consonant("stop", 0.070, (1000.0, 2800.0), 0.35, 0.1),
    "s": _Consonant("fricative", 0.110, (4000.0, 7500.0), 0.45),
    "sh": _Consonant("fricative", 0.110, (2000.0, 5000.0), 0.45),
    "f": _Consonant("fricative", 0.100, (1500.0, 7000.0), 0.15),
    "h": _Consonant("fricative", 0.080, (600.0, 4000.0), 0.12),
    "dh": _Consonant("fricative", 0.050, (1500.0, 5000.0), 0.1, 0.3),
    "m": _Consonant("sonorant", 0.070, voicing=0.35, formants=(250, 1100, 2300, 3300)),
    "n": _Consonant("sonorant", 0.070, voicing=0.35, formants=(250, 1600, 2600, 3300)),
    "l": _Consonant("sonorant", 0.060, voicing=0.5, formants=(350, 1100, 2600, 3400)),
    "r": _Consonant("sonorant", 0.060, voicing=0.5, formants=(350, 1100, 1500, 3300)),
    "w": _Consonant("sonorant", 0.060, voicing=0.5, formants=(300, 700, 2200, 3300)),
}
_WORD_ONSETS = ("p", "t", "k", "b", "d", "g", "s", "sh", "f", "h", "m", "n", "l", "r", "w")
_WORD_CODAS = ("", "", "", "t", "k", "d", "s", "m", "n")
_SYLLABLE_COUNT_PROBABILITIES = (0.45, 0.4, 0.15)
# Far fewer than the distinct spellings, so that drawing words stays quick.
_MAX_WORDS = 100_000


@dataclass(frozen=True)
class _Syllable:
    onset: str
    vowel: str
    coda: str = ""

    @property
    def spelling(self):
        return self.onset + self.vowel + self.coda


_CARRIER_PHRASE = (_Syllable("s", "e"), _Syllable("dh", "uh"), _Syllable("w", "er", "d"))

# ---------------------------------------------------------------------------
# Emotions
# ---------------------------------------------------------------------------

_PARAMETERS = (
    "pitch_st",  # pitch level, semitones above the speaker's base pitch
    "range_st",  # size of the pitch accents, semitones
    "final_st",  # pitch movement at the end of the target word, semitones
    "tremor_st",  # depth of the 5-7 Hz pitch tremor, semitones
    "rate",  # speaking rate relative to neutral
    "level_db",  # loudness relative to neutral
    "jitter",  # standard deviation of the relative period length
    "shimmer",  # standard deviation of the log period amplitude
    "creak",  # depth of period-to-period alternation (vocal fry)
    "open_quotient",  # open fraction of the glottal cycle
    "tilt",  # pole of the one-pole low-pass on the glottal pulses
    "breath",  # aspiration noise relative to the glottal pulses
    "formant_shift",  # relative shift of all formants (smiling, jaw opening)
)

_EMOTION_PROFILES = {
    #          pitch range final trem rate  level jitt   shim  creak  OQ    tilt  breath fshift
    "neutral": (0.0, 3.0, -3.0, 0.10, 1.00, 0.0, 0.006, 0.03, 0.00, 0.60, 0.55, 0.08, 0.00),
    "angry": (3.0, 6.0, -6.0, 0.10, 1.15, 6.0, 0.010, 0.04, 0.00, 0.45, 0.30, 0.04, 0.01),
    "happy": (4.0, 7.0, -2.0, 0.10, 1.10, 3.0, 0.008, 0.035, 0.00, 0.55, 0.45, 0.07, 0.04),
    "ps": (4.5, 7.0, 7.0, 0.10, 1.00, 3.0, 0.008, 0.035, 0.00, 0.60, 0.45, 0.10, 0.03),
    "fear": (6.0, 2.5, 0.0, 0.50, 1.25, 0.0, 0.020, 0.06, 0.00, 0.65, 0.55, 0.18, 0.02),
    "sad": (-2.0, 1.5, -2.0, 0.20, 0.75, -6.0, 0.012, 0.06, 0.15, 0.72, 0.80, 0.22, -0.03),
    "disgust": (-3.0, 4.0, -5.0, 0.10, 0.80, -1.0, 0.015, 0.07, 0.45, 0.50, 0.65, 0.10, -0.01),
}

# Standard deviations of each parameter between utterances of one speaker
# and emotion, and between speakers for one emotion. The speaker spread makes
# unseen speakers harder to recognize than seen ones.
_UTTERANCE_SPREAD = np.array([0.75, 0.75, 1.0, 0.025, 0.04, 1.0, 0.0015, 0.005, 0.04, 0.025, 0.035, 0.02, 0.0075])
_SPEAKER_SPREAD = np.array([0.9, 0.9, 1.2, 0.03, 0.048, 1.2, 0.0018, 0.006, 0.048, 0.03, 0.042, 0.024, 0.009])
_PARAMETER_BOUNDS = np.array(
    [
        (-12.0, 12.0),
        (0.0, 14.0),
        (-12.0, 12.0),
        (0.0, 1.5),
        (0.5, 1.8),
        (-20.0, 14.0),
        (0.0, 0.05),
        (0.0, 0.3),
        (0.0, 0.8),
        (0.35, 0.85),
        (0.0, 0.95),
        (0.0, 0.6),
        (-0.1, 0.1),
    ]
)


def _emotion_profile(emotion, rng):
    """Mean parameters of an emotion, drawn at random for unknown emotions."""
    if emotion in _EMOTION_PROFILES:
        return np.array(_EMOTION_PROFILES[emotion])
    known = np.array(list(_EMOTION_PROFILES.values()))
    return rng.normal(known.mean(axis=0), known.std(axis=0))


# ---------------------------------------------------------------------------
# Speakers and words
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Speaker:
    name: str
    gender: str
    base_f0: float  # Hz
    formant_scale: float  # inverse vocal-tract length, relative to male
    vowel_formant_factors: dict  # vowel -> idiosyncratic factors for F1-F4
    emotion_offsets: dict  # emotion -> offsets of the emotion parameters
    gain_db: float  # recording level
    channel: float  # one-zero coefficient of the recording channel
    noise_color: float  # pole of the low-pass shaping the background noise
    snr_db: float  # mean signal-to-noise ratio of the speaker's recordings


def _make_speaker(index, emotions, rng):
    gender = "female" if index % 2 == 0 else "male"
    base_f0, formant_scale = (205.0, 1.16) if gender == "female" else (115.0, 1.0)
    return _Speaker(
        name=f"{gender[0].upper()}{index + 1:02d}",
        gender=gender,
        base_f0=base_f0 * 2.0 ** (rng.normal(0.0, 1.5) / 12.0),
        formant_scale=formant_scale * (1.0 + rng.normal(0.0, 0.03)),
        vowel_formant_factors={vowel: 1.0 + rng.normal(0.0, 0.04, size=4) for vowel in _VOWEL_FORMANTS},
        emotion_offsets={emotion: rng.normal(0.0, _SPEAKER_SPREAD) for emotion in emotions},
        gain_db=rng.normal(0.0, 2.0),
        channel=rng.uniform(-0.25, 0.25),
        noise_color=rng.uniform(0.5, 0.95),
        snr_db=rng.uniform(18.0, 35.0),
    )


def _make_words(n_words, rng):
    """Draw ``n_words`` distinct made-up words as tuples of syllables."""
    words = {}
    while len(words) < n_words:
        n_syllables = 1 + rng.choice(3, p=_SYLLABLE_COUNT_PROBABILITIES)
        syllables = tuple(
            _Syllable(
                onset=_WORD_ONSETS[rng.integers(len(_WORD_ONSETS))],
                vowel=_WORD_VOWELS[rng.integers(len(_WORD_VOWELS))],
                coda=_WORD_CODAS[rng.integers(len(_WORD_CODAS))],
            )
            for _ in range(n_syllables)
        )
        words.setdefault("".join(s.spelling for s in syllables), syllables)
    return list(words.items())


# ---------------------------------------------------------------------------
# Utterance plan: segments, pitch targets and frication bursts
# ---------------------------------------------------------------------------


@dataclass
class _Plan:
    durations: list = field(default_factory=list)  # seconds per segment
    voicing: list = field(default_factory=list)  # voicing amplitude per segment
    formants: list = field(default_factory=list)  # F1-F4 targets per segment
    pitch_targets: list = field(default_factory=list)  # (time, semitones)
    bursts: list = field(default_factory=list)  # (start, duration, consonant, amplitude)

    def add(self, duration, voicing, formants):
        self.durations.append(duration)
        self.voicing.append(voicing)
        self.formants.append(formants)

    @property
    def elapsed(self):
        return float(np.sum(self.durations))


def _vowel_formants(vowel, speaker, params, rng):
    reference = np.array(_VOWEL_FORMANTS[vowel])
    individual = speaker.vowel_formant_factors[vowel]
    scale = speaker.formant_scale * (1.0 + params["formant_shift"])
    return reference * individual * scale * (1.0 + rng.normal(0.0, 0.02, size=4))


def _add_consonant(plan, letter, *, loudness, rate, vowel_formants, speaker):
    consonant = _CONSONANTS[letter]
    duration = consonant.duration / rate
    if consonant.kind == "sonorant":
        formants = np.array(consonant.formants) * speaker.formant_scale
        plan.add(duration, consonant.voicing * loudness, formants)
        return
    burst = min(0.025, 0.5 * duration) if consonant.kind == "stop" else duration
    if consonant.kind == "stop":
        plan.add(duration - burst, consonant.voicing * loudness, vowel_formants)
    plan.bursts.append((plan.elapsed, burst, consonant, consonant.noise_level * loudness))
    plan.add(burst, consonant.voicing * loudness, vowel_formants)


def _add_syllable(plan, syllable, *, vowel_duration, loudness, pitch, speaker, params, rng):
    """Append one syllable; ``pitch`` gives the semitones at vowel start and end."""
    rate = params["rate"]
    formants = _vowel_formants(syllable.vowel, speaker, params, rng)
    consonant_options = dict(rate=rate, vowel_formants=formants, speaker=speaker)
    if syllable.onset:
        _add_consonant(plan, syllable.onset, loudness=loudness, **consonant_options)
    start = plan.elapsed
    duration = vowel_duration / rate * (1.0 + rng.normal(0.0, 0.06))
    # Two halves, so that the amplitude decays over the vowel.
    plan.add(0.5 * duration, loudness, formants)
    plan.add(0.5 * duration, 0.8 * loudness, formants)
    plan.pitch_targets.append((start + 0.3 * duration, pitch[0]))
    plan.pitch_targets.append((start + duration, pitch[1]))
    if syllable.coda:
        _add_consonant(plan, syllable.coda, loudness=0.8 * loudness, **consonant_options)


def _plan_utterance(word, speaker, params, rng):
    """Segments of "say the word <word>", with leading and trailing silence."""
    voice = dict(speaker=speaker, params=params, rng=rng)
    plan = _Plan()
    silence_formants = _vowel_formants("uh", speaker, params, rng)
    plan.add(rng.uniform(0.1, 0.3), 0.0, silence_formants)
    accent = params["range_st"]
    carrier_pitch = ((0.3 * accent, 0.2 * accent), (0.0, 0.0), (0.15 * accent, 0.0))
    carrier_loudness = (0.75, 0.55, 0.7)
    for syllable, pitch, loudness in zip(_CARRIER_PHRASE, carrier_pitch, carrier_loudness):
        _add_syllable(plan, syllable, vowel_duration=0.12, loudness=loudness, pitch=pitch, **voice)
    plan.add(0.04 / params["rate"] + rng.uniform(0.0, 0.06), 0.0, silence_formants)

    n_syllables = len(word)
    final = params["final_st"]
    for position, syllable in enumerate(word):
        is_first, is_last = position == 0, position == n_syllables - 1
        start_pitch = accent if is_first else 0.5 * accent * (1.0 - position / n_syllables)
        end_pitch = final if is_last else 0.8 * start_pitch
        _add_syllable(
            plan,
            syllable,
            vowel_duration=(0.22 if is_first else 0.15) * (1.3 if is_last else 1.0),
            loudness=1.0 if is_first else 0.8,
            pitch=(start_pitch, end_pitch),
            **voice,
        )
    plan.add(rng.uniform(0.1, 0.3), 0.0, silence_formants)
    return plan


# ---------------------------------------------------------------------------
# Signal generation
# ---------------------------------------------------------------------------


def _smooth(track, width):
    """Moving Hann-window average along the first axis, edges held."""
    if width < 2:
        return track
    kernel = np.hanning(width + 2)[1:-1]
    kernel /= kernel.sum()
    padded = np.pad(track, [(width, width)] + [(0, 0)] * (track.ndim - 1), mode="edge")
    if track.ndim == 1:
        return np.convolve(padded, kernel, mode="same")[width:-width]
    smoothed = np.stack([np.convolve(column, kernel, mode="same") for column in padded.T], axis=1)
    return smoothed[width:-width]


def _frame_tracks(plan):
    """Voicing amplitude, formant and pitch tracks at ``_FRAME_RATE``."""
    boundaries = np.round(np.cumsum([0.0, *plan.durations]) * _FRAME_RATE).astype(int)
    counts = np.diff(boundaries)
    n_frames = boundaries[-1]
    voicing = np.repeat(np.array(plan.voicing), counts)
    formants = np.repeat(np.array(plan.formants), counts, axis=0)
    voicing = _smooth(voicing, int(0.025 * _FRAME_RATE))
    formants = _smooth(formants, int(0.04 * _FRAME_RATE))
    times, semitones = np.array(plan.pitch_targets).T
    frame_times = (np.arange(n_frames) + 0.5) / _FRAME_RATE
    pitch = np.interp(frame_times, times, semitones)
    pitch = _smooth(pitch, int(0.06 * _FRAME_RATE))
    return voicing, formants, pitch


def _pitch_hz(pitch_st, speaker, params, n_samples, sr, rng):
    """Sample-level fundamental frequency from the frame-level contour."""
    t = np.arange(n_samples) / sr
    frame_times = (np.arange(pitch_st.size) + 0.5) / _FRAME_RATE
    semitones = np.interp(t, frame_times, pitch_st)
    declination = -1.5 * t
    knots = np.arange(0.0, t[-1] + 0.1, 0.1)
    drift = np.interp(t, knots, rng.normal(0.0, 0.3, size=knots.size))
    tremor_phase = 2 * np.pi * rng.uniform(5.0, 7.0) * t + rng.uniform(0.0, 2 * np.pi)
    tremor = params["tremor_st"] * np.sin(tremor_phase)
    total = params["pitch_st"] + semitones + declination + drift + tremor
    return speaker.base_f0 * 2.0 ** (total / 12.0)


def _rosenberg_derivative(position, open_quotient):
    """Derivative of the Rosenberg glottal flow at ``position`` in [0, 1)."""
    opening = 0.71 * open_quotient
    closing = open_quotient - opening
    rising = 0.5 * np.pi / opening * np.sin(np.pi * position / opening)
    falling = -0.5 * np.pi / closing * np.sin(0.5 * np.pi * (position - opening) / closing)
    return np.where(position < opening, rising, np.where(position < open_quotient, falling, 0.0))


def _unit_rms(x, mask=None):
    selected = x if mask is None or not mask.any() else x[mask]
    rms = np.sqrt(np.mean(selected**2))
    return x / rms if rms > 0 else x


def _glottal_source(f0, voicing, params, sr, rng):
    """Glottal pulses with jitter, shimmer, creak, tilt and aspiration."""
    # Period lengths are perturbed per period: periods are counted on an
    # unperturbed phase, then the phase is accumulated again.
    first_phase = np.cumsum(f0) / sr
    n_periods = int(first_phase[-1]) + 1
    stretch = (1.0 + rng.normal(0.0, params["jitter"], n_periods)) * (
        1.0 + 0.6 * params["creak"] * (np.arange(n_periods) % 2)
    )
    phase = np.cumsum(f0 / stretch[first_phase.astype(np.int64)]) / sr
    period = phase.astype(np.int64)
    position = phase - period
    n_periods = period[-1] + 1
    amplitude = np.exp(rng.normal(0.0, params["shimmer"], n_periods)) * (
        1.0 - params["creak"] * (np.arange(n_periods) % 2)
    )
    pulses = _rosenberg_derivative(position, params["open_quotient"]) * amplitude[period]
    tilt = params["tilt"]
    pulses = signal.lfilter([1.0 - tilt], [1.0, -tilt], pulses)

    aspiration = np.diff(rng.standard_normal(f0.size + 1))
    aspiration *= np.where(position < params["open_quotient"], 1.0, 0.4)
    voiced = voicing > 0.05
    pulses = _unit_rms(pulses, voiced)
    aspiration = _unit_rms(aspiration, voiced)
    return voicing * (pulses + params["breath"] * aspiration)


def _resonator_sections(formants, bandwidths, sr):
    """Second-order sections of a cascade of formant resonators (unit DC gain)."""
    formants = np.minimum(formants, 0.45 * sr)
    radius = np.exp(-np.pi * bandwidths / sr)
    a1 = -2.0 * radius * np.cos(2.0 * np.pi * formants / sr)
    a2 = np.broadcast_to(radius**2, a1.shape)
    zeros = np.zeros_like(a1)
    return np.stack([1.0 + a1 + a2, zeros, zeros, np.ones_like(a1), a1, a2], axis=-1)


def _vocal_tract(source, formants, bandwidths, sr):
    """Filter ``source`` through resonators following the frame-level formants.

    The filter coefficients are updated every other frame, and only where a
    formant crosses a step of a 1 % grid, which keeps filter calls few.
    """
    n_blocks = formants.shape[0] // _FRAMES_PER_FILTER_UPDATE
    blocks = (
        formants[: n_blocks * _FRAMES_PER_FILTER_UPDATE].reshape(n_blocks, _FRAMES_PER_FILTER_UPDATE, -1).mean(axis=1)
    )
    steps = np.round(np.log(blocks) / np.log(1.01))
    changes = np.flatnonzero(np.any(np.diff(steps, axis=0) != 0, axis=1)) + 1
    run_starts = np.concatenate([[0], changes])
    run_formants = np.add.reduceat(blocks, run_starts, axis=0) / np.diff(np.append(run_starts, n_blocks))[:, None]
    sections = _resonator_sections(run_formants, bandwidths, sr)
    hop = _FRAMES_PER_FILTER_UPDATE * sr / _FRAME_RATE
    bounds = np.round(np.append(run_starts, n_blocks) * hop).astype(int)
    bounds[-1] = source.size
    output = np.empty_like(source)
    state = np.zeros((formants.shape[1], 2))
    for run_sections, begin, end in zip(sections, bounds[:-1], bounds[1:]):
        output[begin:end], state = signal.sosfilt(run_sections, source[begin:end], zi=state)
    return output


@lru_cache(maxsize=64)
def _band_pass(low, high, sr):
    high = min(high, 0.45 * sr)
    low = min(low, 0.5 * high)
    return signal.butter(2, [low, high], btype="bandpass", fs=sr, output="sos")


def _frication(plan, n_samples, sr, rng):
    """Noise bursts of the stops and fricatives."""
    output = np.zeros(n_samples)
    for start, duration, consonant, amplitude in plan.bursts:
        begin = int(round(start * sr))
        length = min(int(round(duration * sr)), n_samples - begin)
        if length < 4:
            continue
        band_pass = _band_pass(*consonant.noise_band, sr)
        noise = signal.sosfilt(band_pass, rng.standard_normal(length))
        if consonant.kind == "stop":
            envelope = np.exp(-np.arange(length) / (0.008 * sr))
        else:
            envelope = np.hanning(length)
        output[begin : begin + length] += amplitude * _unit_rms(noise) * envelope
    return output


def _background_noise(n_samples, speaker, rng):
    white = rng.standard_normal(n_samples)
    return _unit_rms(signal.lfilter([1.0], [1.0, -speaker.noise_color], white))


def _synthesize(word, speaker, params, *, sr, rng):
    """Waveform of one utterance of ``word`` as float64 in [-1, 1]."""
    plan = _plan_utterance(word, speaker, params, rng)
    voicing, formants, pitch_st = _frame_tracks(plan)
    n_frames = voicing.size
    n_samples = int(round(n_frames * sr / _FRAME_RATE))

    t = np.arange(n_samples) / sr
    frame_times = (np.arange(n_frames) + 0.5) / _FRAME_RATE
    f0 = _pitch_hz(pitch_st, speaker, params, n_samples, sr, rng)
    voicing = np.interp(t, frame_times, voicing)
    source = _glottal_source(f0, voicing, params, sr, rng)
    bandwidths = _FORMANT_BANDWIDTHS + np.array([150.0, 50.0, 0.0, 0.0]) * params["breath"]
    speech = _unit_rms(_vocal_tract(source, formants, bandwidths, sr), voicing > 0.5)
    speech += _frication(plan, n_samples, sr, rng)
    speech = signal.lfilter([1.0, speaker.channel], [1.0 + abs(speaker.channel)], speech)

    level_db = -26.0 + params["level_db"] + speaker.gain_db
    speech = _unit_rms(speech) * 10.0 ** (level_db / 20.0)
    snr_db = speaker.snr_db + rng.normal(0.0, 3.0)
    noise = _background_noise(n_samples, speaker, rng) * 10.0 ** ((level_db - snr_db) / 20.0)
    waveform = speech + noise
    peak = np.max(np.abs(waveform))
    if peak > 0.99:
        waveform *= 0.99 / peak
    return waveform


def _draw_parameters(profile, speaker_offset, rng):
    values = profile + speaker_offset + rng.normal(0.0, _UTTERANCE_SPREAD)
    values = np.clip(values, _PARAMETER_BOUNDS[:, 0], _PARAMETER_BOUNDS[:, 1])
    return dict(zip(_PARAMETERS, values))
