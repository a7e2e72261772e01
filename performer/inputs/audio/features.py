"""What the band sounds like, hop by hop: loudness, band energies, spectral centroid, onsets,
tempo and beat phase. numpy only; pure classes over blocks of samples (no threads, no clock).

`Features.push(block)` takes one hop of mono float samples (-1..1) and returns the feature dict
for it; the onsets and beats it found are in `dict["onset"]` / `dict["beat"]` (0 or 1) and in
`Features.onsets` / `Features.beats` (times in seconds of audio, from the first sample).

- loudness: RMS in dBFS (`db`) and `level` 0..1 over -60..0 dB;
- `low` / `mid` / `high`: each band's share of the RMS as a level 0..1 over -60..0 dB
  (edges default 20-250-2000-8000 Hz);
- `centroid_hz` and `centroid` 0..1 (log scale, 100 Hz..10 kHz);
- `flux`: spectral-flux onset strength (positive change of log magnitude), ~0..1;
  an onset when it rises above median + k·MAD of the last ~1 s + a floor, at most one per
  `refractory` seconds;
- `tempo` (bpm, 60..200) and `confidence` 0..1: autocorrelation of the flux envelope over the
  last ~8 s, the faster octave preferred when the envelope is as strong at half the period,
  refined over its multiples; `phase` 0..1 of the beat, anchored on onsets that fall near a
  predicted beat; `beat` 1 on the hop the phase wraps.

Smoothed (one pole, `attack` seconds rising, `release` falling): level, db, bands, centroid;
`FeatureConfig.smoothing` gives a feature its own pair.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

DB_FLOOR = -60.0
TEMPO_MIN, TEMPO_MAX = 60.0, 200.0
CENTROID_RANGE = (100.0, 10_000.0)
SMOOTHED = ("level", "db", "low", "mid", "high", "centroid", "centroid_hz")
FEATURES = (
    "level", "db", "low", "mid", "high", "centroid", "centroid_hz", "flux", "tempo",
    "confidence", "phase",
)  # fmt: skip
TRIGGERS = ("onset", "beat")
SPREAD = np.array([1.0, 2.0, 3.0, 2.0, 1.0]) / 9.0
WARM_UP = 4  # hops before onsets are looked for
OCTAVE_SHARE = 0.8  # the half-period peak, over the full one, that doubles the tempo


@dataclass(frozen=True)
class FeatureConfig:
    """How the features are computed. `frame` samples are analysed every `hop`."""

    sample_rate: int = 44_100
    hop: int = 512
    frame: int = 1024
    bands: tuple[float, ...] = (20.0, 250.0, 2000.0, 8000.0)  # edges: low, mid, high
    attack: float = 0.01  # seconds
    release: float = 0.15
    onset_k: float = 5.0  # threshold: median + k · MAD of recent flux + floor
    onset_floor: float = 0.05  # (silence and steady noise have no onsets)
    onset_window: float = 1.0  # seconds of flux the threshold looks at
    refractory: float = 0.06  # seconds between onsets at least
    tempo_window: float = 8.0  # seconds of flux the tempo looks at
    tempo_every: float = 0.5  # seconds between tempo estimates
    smoothing: tuple[tuple[str, float, float], ...] = ()  # (feature, attack, release) of its own


def db_to_unit(db: float) -> float:
    """-60..0 dBFS → 0..1."""
    return min(max((db - DB_FLOOR) / -DB_FLOOR, 0.0), 1.0)


def to_db(rms: float) -> float:
    return max(20.0 * math.log10(rms), DB_FLOOR) if rms > 1e-12 else DB_FLOOR


def _coefficient(dt: float, seconds: float) -> float:
    """The one-pole step that covers ~63 % of the way in `seconds` (1: no smoothing)."""
    return 1.0 - math.exp(-dt / seconds) if seconds > 0 else 1.0


class Smoother:
    """One-pole smoothing per feature: `attack` seconds rising, `release` falling; `own` gives
    some features their own (attack, release)."""

    def __init__(
        self,
        dt: float,
        attack: float,
        release: float,
        own: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self.up = _coefficient(dt, attack)
        self.down = _coefficient(dt, release)
        self.own = {
            k: (_coefficient(dt, a), _coefficient(dt, r)) for k, (a, r) in (own or {}).items()
        }
        self.state: dict[str, float] = {}

    def __call__(self, key: str, x: float) -> float:
        y = self.state.get(key)
        if y is None:
            y = x
        else:
            up, down = self.own.get(key, (self.up, self.down))
            y += (up if x > y else down) * (x - y)
        self.state[key] = y
        return y


def estimate_tempo(envelope: np.ndarray, rate: float) -> tuple[float, float]:
    """(bpm, confidence) of an onset-strength envelope sampled at `rate` Hz; (0, 0) if none.

    Autocorrelation of the (slightly smoothed) envelope over lags for 60..200 bpm, weighted
    toward 120 bpm (so a pulse at 120 is not read as 60). The octave: when the peak at half the
    lag holds at least `OCTAVE_SHARE` of the candidate's (the envelope is as strong between the
    candidate's beats as on them) and the doubled tempo is within 200 bpm, the doubled one is
    taken (so a pulse at 174 reads 174, not 87). Then the peak is refined by parabolic
    interpolation at its multiples."""
    x = np.asarray(envelope, dtype=np.float64)
    x = np.convolve(x, SPREAD, mode="same")  # a pulse between two hops counts at both
    x = x - x.mean()
    n = len(x)
    lo, hi = int(rate * 60.0 / TEMPO_MAX), int(math.ceil(rate * 60.0 / TEMPO_MIN)) + 1
    if n < 2 * hi or not np.any(x):
        return 0.0, 0.0
    size = 1 << int(math.ceil(math.log2(2 * n)))
    spec = np.fft.rfft(x, size)
    acf = np.fft.irfft(spec * np.conj(spec), size)[:n]
    acf /= np.arange(n, 0, -1)  # unbiased: each lag over its own overlap
    if acf[0] <= 0:
        return 0.0, 0.0
    acf /= acf[0]
    lags = np.arange(lo, hi)
    bpm = 60.0 * rate / lags
    prior = np.exp(-0.5 * (np.log2(bpm / 120.0) / 0.9) ** 2)
    best = int(lags[np.argmax(acf[lo:hi] * prior)])
    half = best // 2
    if half - 1 >= lo and 60.0 * rate / (half - 1) <= TEMPO_MAX + 1e-9:
        i = half - 1 + int(np.argmax(acf[half - 1 : half + 2]))  # the half-period's local peak
        if acf[i] >= OCTAVE_SHARE * acf[best] and 60.0 * rate / i <= TEMPO_MAX:
            best = i
    estimates = []
    for k in range(1, 5):
        centre = best * k
        if centre + 2 >= n // 2:
            break
        i = centre - 1 + int(np.argmax(acf[centre - 1 : centre + 2]))  # the local peak
        a, b, c = acf[i - 1], acf[i], acf[i + 1]
        bend = a - 2 * b + c
        shift = 0.5 * (a - c) / bend if bend < 0 else 0.0
        estimates.append((i + min(max(shift, -0.5), 0.5)) / k)
    lag = float(np.mean(estimates))
    confidence = float(min(max(acf[best], 0.0), 1.0))
    return 60.0 * rate / lag, confidence


class Features:
    """The feature extractor: one `push` per hop (see the module's docstring)."""

    def __init__(self, config: FeatureConfig = FeatureConfig()) -> None:
        c = self.config = config
        self.rate = c.sample_rate / c.hop  # hops a second
        self.window = np.hanning(c.frame).astype(np.float32)
        self.frame = np.zeros(c.frame, np.float32)
        freqs = np.fft.rfftfreq(c.frame, 1.0 / c.sample_rate)
        self.freqs = freqs
        self.bands = [(freqs >= a) & (freqs < b) for a, b in pairwise(c.bands)]
        self.audible = freqs >= 20.0
        self.power_scale = 2.0 / (c.frame * float(np.sum(self.window**2)))  # Parseval → RMS²
        own = {k: (a, r) for k, a, r in c.smoothing}
        self.smooth = Smoother(1.0 / self.rate, c.attack, c.release, own)
        self.prev_mag: np.ndarray | None = None
        self.recent = deque(maxlen=max(int(c.onset_window * self.rate), 8))
        self.envelope = deque(maxlen=int(c.tempo_window * self.rate))
        self.hops = 0
        self.last_onset = -math.inf
        self.onsets: list[float] = []  # seconds, since the first sample
        self.beats: list[float] = []
        self.tempo, self.confidence = 0.0, 0.0
        self.anchor: float | None = None  # a beat's time
        self.phase = 0.0
        self.centroid_hz = CENTROID_RANGE[0]

    @property
    def time(self) -> float:
        """Seconds of audio pushed so far."""
        return self.hops * self.config.hop / self.config.sample_rate

    def push(self, block: np.ndarray) -> dict[str, float]:
        """One hop of mono samples → the features at its end."""
        c = self.config
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if len(block) != c.hop:
            raise ValueError(f"expected a hop of {c.hop} samples, got {len(block)}")
        self.frame[: -c.hop] = self.frame[c.hop :]
        self.frame[-c.hop :] = block
        self.hops += 1
        now = self.time
        rms = float(np.sqrt(np.mean(block.astype(np.float64) ** 2)))
        db = to_db(rms)
        spectrum = np.fft.rfft(self.frame * self.window)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float64)
        mag = np.sqrt(power)
        out: dict[str, float] = {"db": db, "level": db_to_unit(db)}
        for name, band in zip(("low", "mid", "high"), self.bands, strict=True):
            out[name] = db_to_unit(to_db(math.sqrt(float(power[band].sum()) * self.power_scale)))
        weights = mag[self.audible]
        if float(weights.sum()) > 1e-6:
            self.centroid_hz = float((self.freqs[self.audible] * weights).sum() / weights.sum())
        lo, hi = CENTROID_RANGE
        out["centroid_hz"] = self.centroid_hz
        out["centroid"] = min(max(math.log(self.centroid_hz / lo) / math.log(hi / lo), 0.0), 1.0)
        for key in SMOOTHED:
            out[key] = self.smooth(key, out[key])

        flux = self._flux(mag)
        out["flux"] = min(flux, 1.0)
        onset = self._onset(flux, now)
        out["onset"] = float(onset)
        self.envelope.append(flux)
        if self.hops % max(int(c.tempo_every * self.rate), 1) == 0:
            self.tempo, self.confidence = estimate_tempo(np.array(self.envelope), self.rate)
        out["beat"] = float(self._beat(now, onset))
        out["tempo"], out["confidence"], out["phase"] = self.tempo, self.confidence, self.phase
        return out

    def _flux(self, mag: np.ndarray) -> float:
        logmag = np.log1p(100.0 * mag)
        prev, self.prev_mag = self.prev_mag, logmag
        if prev is None:
            return 0.0
        rise = logmag - prev
        return (
            float(np.mean(rise[rise > 0])) * float(np.mean(rise > 0)) if np.any(rise > 0) else 0.0
        )

    def _onset(self, flux: float, now: float) -> bool:
        c = self.config
        recent = np.array(self.recent) if self.recent else np.zeros(1)
        self.recent.append(flux)
        if len(recent) < WARM_UP:  # the first hops: the frame is still filling
            return False
        median = float(np.median(recent))
        mad = float(np.median(np.abs(recent - median)))
        threshold = median + c.onset_k * mad + c.onset_floor
        if flux > threshold and now - self.last_onset >= c.refractory:
            self.last_onset = now
            self.onsets.append(now)
            return True
        return False

    def _beat(self, now: float, onset: bool) -> bool:
        """Advance the beat phase; True when a beat falls in this hop."""
        if self.tempo <= 0 or self.confidence <= 0.1:
            self.phase = 0.0
            if onset:
                self.anchor = now
            return False
        period = 60.0 / self.tempo
        if onset:
            since = 0.0 if self.anchor is None else ((now - self.anchor) / period) % 1.0
            if self.anchor is None or min(since, 1.0 - since) < 0.2:
                self.anchor = now  # an onset near a predicted beat: the grid follows it
        if self.anchor is None:
            return False
        before = self.phase
        self.phase = ((now - self.anchor) / period) % 1.0
        beat = self.phase < before or (onset and self.anchor == now)
        if beat and (not self.beats or now - self.beats[-1] > 0.5 * period):
            self.beats.append(now)
            return True
        return False


def unit_range(feature: str) -> tuple[float, float]:
    """The value range a feature is mapped from unless a mapping says otherwise."""
    return {
        "db": (DB_FLOOR, 0.0),
        "tempo": (TEMPO_MIN, TEMPO_MAX),
        "centroid_hz": (100.0, 10_000.0),
    }.get(feature, (0.0, 1.0))


def config_for(
    sample_rate: int,
    bands: Sequence[float],
    smoothing: Mapping[str, float],
    per_feature: Mapping[str, tuple[float, float]] | None = None,
) -> FeatureConfig:
    """A FeatureConfig for a source's rate (hop ≈ 11 ms: 512 samples at 44.1/48 kHz).
    `smoothing`: the default attack/release; `per_feature`: features' own (attack, release)."""
    hop = 512 if sample_rate <= 64_000 else 1024
    return FeatureConfig(
        sample_rate=int(sample_rate),
        hop=hop,
        frame=2 * hop,
        bands=tuple(float(b) for b in bands),
        attack=float(smoothing.get("attack", FeatureConfig.attack)),
        release=float(smoothing.get("release", FeatureConfig.release)),
        smoothing=tuple((k, float(a), float(r)) for k, (a, r) in (per_feature or {}).items()),
    )
