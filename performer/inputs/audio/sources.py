"""Where the band's sound comes from: a WAV file played as if live (in real time, on a thread,
by an injectable clock) or a sound card's input through `sounddevice` (PortAudio). Both write
mono float32 samples into a `Ring`, which one reader (the analysis thread) takes hop by hop.

A source that cannot open raises `AudioUnavailable` with one line that says why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger("stage.audio")

RING_SECONDS = 4.0  # the ring holds this much; a reader further behind loses the oldest
FILE_TICK = 0.005  # seconds between the file source's writes


class AudioUnavailable(RuntimeError):
    """No sound from this source (no PortAudio, no such device, an unreadable file)."""


class Ring:
    """A single-writer, single-reader ring of mono float32 samples. `read(n)` returns the next
    n samples in order, or None until they are there; a reader that falls more than the ring
    behind skips ahead (counted in `dropped`)."""

    def __init__(self, capacity: int) -> None:
        self.data = np.zeros(capacity, np.float32)
        self.capacity = capacity
        self.written = 0  # samples written, all told
        self.read_pos = 0
        self.dropped = 0
        self.lock = threading.Lock()
        self.ready = threading.Condition(self.lock)

    def write(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, np.float32).reshape(-1)
        total = len(samples)
        samples = samples[-self.capacity :]  # more than the ring holds: the newest
        with self.lock:
            start = (self.written + total - len(samples)) % self.capacity
            first = min(len(samples), self.capacity - start)
            self.data[start : start + first] = samples[:first]
            self.data[: len(samples) - first] = samples[first:]
            self.written += total
            self.ready.notify_all()

    def read(self, n: int, timeout: float = 0.0) -> np.ndarray | None:
        with self.lock:
            if self.written - self.read_pos < n and timeout > 0:
                self.ready.wait_for(lambda: self.written - self.read_pos >= n, timeout)
            if self.written - self.read_pos < n:
                return None
            if self.written - self.read_pos > self.capacity:
                skip = self.written - self.capacity - self.read_pos
                self.dropped += skip
                self.read_pos += skip
            start = self.read_pos % self.capacity
            idx = (start + np.arange(n)) % self.capacity
            self.read_pos += n
            return self.data[idx].copy()


def mono(samples: np.ndarray, channel: int = 0) -> np.ndarray:
    """(frames, channels) or (frames,) → float32 mono: channel 1..N, or 0 for the mix."""
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, None]
    if channel > x.shape[1]:
        raise AudioUnavailable(f"channel {channel}: the source has {x.shape[1]} channel(s)")
    x = x[:, channel - 1] if channel else x.mean(axis=1)
    return x.astype(np.float32)


def read_wav(path: Path, channel: int = 0) -> tuple[np.ndarray, int]:
    """A WAV file as (mono float32 -1..1, sample rate)."""
    from scipy.io import wavfile

    try:
        rate, data = wavfile.read(str(path))
    except (OSError, ValueError) as e:
        raise AudioUnavailable(f"cannot read the sound file {path}: {e}") from None
    if data.dtype.kind == "i":
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    elif data.dtype.kind == "u":  # 8-bit WAV
        data = (data.astype(np.float32) - 128.0) / 128.0
    return mono(data, channel), int(rate)


class FileSource:
    """A sound file played as if live: `pump()` writes the samples the clock says are due since
    `start`; `start()` runs it on a thread. `loop` starts the file again at its end."""

    kind = "file"

    def __init__(
        self,
        path: str | Path,
        channel: int = 0,
        clock: Callable[[], float] = time.monotonic,
        loop: bool = False,
    ) -> None:
        self.path = Path(path)
        self.samples, self.sample_rate = read_wav(self.path, channel)
        self.name = self.path.name
        self.clock, self.loop = clock, loop
        self.ring = Ring(int(RING_SECONDS * self.sample_rate))
        self.t0: float | None = None
        self.pos = 0  # samples written
        self.ended = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pump(self) -> int:
        """Write what is due by now; returns how many samples."""
        now = self.clock()
        if self.t0 is None:
            self.t0 = now
        due = int((now - self.t0) * self.sample_rate)
        n = len(self.samples)
        wrote = 0
        while self.pos < due and not self.ended:
            at = self.pos % n if self.loop else self.pos
            if at >= n:
                self.ended = True
                break
            chunk = self.samples[at : min(n, at + due - self.pos)]
            self.ring.write(chunk)
            self.pos += len(chunk)
            wrote += len(chunk)
        return wrote

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audio-file", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(FILE_TICK):
            self.pump()

    @property
    def state(self) -> str:
        return "ended" if self.ended else "playing"

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None


class DeviceSource:
    """A sound card's input through sounddevice: `device` an index or a name substring (None:
    the system's default), `channel` 1..N or 0 for the mix of all."""

    kind = "device"

    def __init__(self, device: int | str | None = None, channel: int = 0) -> None:
        try:
            import sounddevice as sd
        except ImportError:
            raise AudioUnavailable(
                "no sound input: the sounddevice package is not installed"
                " (pip install 'latent-stage[audio]')"
            ) from None
        except OSError as e:  # the package is there, the PortAudio library is not
            raise AudioUnavailable(f"no sound input: {e} (install PortAudio)") from None
        try:
            info = sd.query_devices(_device_index(sd, device), "input")
        except AudioUnavailable:
            raise
        except Exception as e:
            raise AudioUnavailable(f"no sound input device {_said(device)}: {e}") from None
        channels = int(info["max_input_channels"])
        if channels < 1:
            raise AudioUnavailable(f"sound device {info['name']!r} has no input channels")
        if channel > channels:
            raise AudioUnavailable(
                f"sound device {info['name']!r}: no channel {channel} (it has {channels})"
            )
        self.name = str(info["name"])
        self.sample_rate = int(info["default_samplerate"])
        self.channel = channel
        self.ring = Ring(int(RING_SECONDS * self.sample_rate))
        self.overflows = 0
        try:
            self.stream = sd.InputStream(
                device=info["index"],
                channels=channels if channel == 0 else channel,
                samplerate=self.sample_rate,
                blocksize=0,
                dtype="float32",
                callback=self._callback,
            )
        except Exception as e:
            raise AudioUnavailable(f"cannot open sound device {self.name!r}: {e}") from None

    def _callback(self, indata: np.ndarray, frames: int, when: object, status: object) -> None:
        if status:
            self.overflows += 1
        self.ring.write(mono(indata, self.channel))

    def start(self) -> None:
        self.stream.start()

    @property
    def state(self) -> str:
        return "listening" if self.stream.active else "stopped"

    def close(self) -> None:
        try:
            self.stream.stop()
            self.stream.close()
        except Exception as e:  # a card pulled out mid-show
            log.warning("closing sound device %s: %s", self.name, e)


def _said(device: int | str | None) -> str:
    return "(the default)" if device is None else repr(device)


def _device_index(sd: object, device: int | str | None) -> int | None:
    """An index, a name substring (case-insensitive, inputs only) or None for the default."""
    if device is None or isinstance(device, int):
        return device
    want = device.lower()
    for info in sd.query_devices():  # type: ignore[attr-defined]
        if want in str(info["name"]).lower() and info["max_input_channels"] > 0:
            return int(info["index"])
    raise AudioUnavailable(f"no sound input device named like {device!r}")
